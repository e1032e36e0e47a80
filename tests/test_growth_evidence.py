"""Branches that saturate, refused registrations that slow, and targets over a span (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg, run_model

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner.targets import parse_entry
from jjj_sim.sim.indicators import year_end
from jjj_sim.sim.model import RelocationModel
from jjj_sim.sim.population import BRANCH, ZGC
from jjj_sim.sim.rules import branching


def test_branching_hazard_falls_with_the_branches_a_parent_has():
    m = RelocationModel(make_cfg("population.scale=0.01", "params.branching.repeat_factor=0.25",
                                 "params.branching.zgc_quarterly_hazard=0.04"), seed=1)
    m._set_policy(0)
    flags = np.array([ZGC, ZGC, ZGC], dtype=np.uint8)
    h = branching.parent_hazard(m, flags, np.array([0, 1, 2]))
    assert h == pytest.approx([0.04, 0.01, 0.0025])


def test_with_no_repeat_a_parent_opens_at_most_one_branch_after_the_start():
    m = run_model("population.scale=0.05", "run.end_year=2020", "params.branching.repeat_factor=0",
                  "params.branching.zgc_quarterly_hazard=0.05", seed=2)
    t = m.firms
    later = ((t.flags & BRANCH) != 0) & (t.born >= 0)
    assert later.sum() > 100
    per_parent = np.bincount(t.parent[later])
    assert per_parent.max() == 1
    # and no later branch has a parent that already had one at the start
    start_parents = np.unique(t.parent[((t.flags & BRANCH) != 0) & (t.born < 0)])
    assert not np.isin(t.parent[later], start_parents).any()


def test_saturation_slows_branching_against_a_constant_hazard():
    common = ("population.scale=0.05", "run.end_year=2023", "params.branching.zgc_quarterly_hazard=0.1")
    const = year_end(run_model(*common, "params.branching.repeat_factor=1", seed=3))["zgc_branches_tjhb"]
    sat = year_end(run_model(*common, "params.branching.repeat_factor=0", seed=3))["zgc_branches_tjhb"]
    growth = lambda s, a, b: s[str(b)] - s[str(a)]  # noqa: E731
    # the later years add less than the early ones under saturation, relative to a constant hazard
    assert growth(sat, 2020, 2023) / growth(sat, 2014, 2017) < growth(const, 2020, 2023) / growth(const, 2014, 2017)


def test_the_negative_list_bars_its_sectors_and_refusals_follow_coverage_and_deterrence():
    common = ("population.scale=0.05", "run.end_year=2019")
    half = run_model(*common, "params.demography.negative_list_coverage=0.2",
                     "params.demography.negative_list_deterrence_half_life_years=2", seed=5)
    none = run_model(*common, "params.demography.negative_list_coverage=0.0", seed=5)
    off = run_model(*common, "policy.negative_list.schedule=[]", seed=5)
    listed = half.sectors.mask(["general_manufacturing", "polluting_heavy"], "test")
    def born_in_beijing_listed(m):
        t = m.firms  # born after the start, not a branch, in Beijing (origin = province at birth)
        return np.sum((t.born >= 0) & (t.parent < 0) & (t.origin == 0) & listed[t.sector])
    assert born_in_beijing_listed(half) == born_in_beijing_listed(none) == 0  # the list's sectors: no births
    assert born_in_beijing_listed(off) > 100
    assert year_end(none)["registrations_refused_cum"]["2019"] == 0  # coverage 0: nobody wants a listed activity
    refused = year_end(half)["registrations_refused_cum"]
    first, later = refused["2015"], refused["2019"] - refused["2017"]
    assert first > 0 and later < first / 2  # half-life 2 years: the 2018-19 refusals are below a quarter of 2014-15's
    # the level: about coverage * the mean share still applying (2014-15: 0.5 ** (t/2)) of Beijing's would-be births
    births_bj = np.sum((half.firms.born >= 0) & (half.firms.born < 8) & (half.firms.parent < 0) & (half.firms.origin == 0))
    expected = 0.2 * np.mean(0.5 ** (np.arange(8) / 4 / 2)) * births_bj / half.scale
    assert 0.8 * expected < first < 1.25 * expected


def test_since_measures_a_span_of_a_cumulative_indicator():
    e = {"id": "X", "indicator": "tech_contract_turnover_bj_to_tjhb_cum_bn_yuan", "year": 2017, "since": 2014,
         "value": 41.84, "kind": "approx", "tolerance": 0.05, "source": "s", "date": "d", "quote": "q"}
    t = parse_entry(e, "f:X")
    result = {"indicators": {"tech_contract_turnover_bj_to_tjhb_cum_bn_yuan": {"2014": 10.0, "2017": 52.0}}}
    assert t.simulated(result) == pytest.approx(42.0)
    with pytest.raises(ConfigError, match="f:X.since"):
        parse_entry({**e, "indicator": "zgc_branches_tjhb"}, "f:X")
    with pytest.raises(ConfigError, match="f:X.since"):
        parse_entry({**e, "since": 2017}, "f:X")


def test_a_weight_zero_target_is_judged_but_not_fitted():
    from jjj_sim.runner.targets import loss

    base = {"indicator": "zgc_branches_tjhb", "kind": "approx", "tolerance": 0.1, "source": "s", "date": "d",
            "quote": "q", "year": 2020}
    fit = parse_entry({**base, "id": "A", "value": 100}, "f:A")
    check = parse_entry({**base, "id": "B", "value": 100, "weight": 0}, "f:B")
    assert loss([fit, check], {"A": 100.0, "B": 1e6}) == 0.0
    assert not check.met(1e6)
    with pytest.raises(ConfigError, match="f:C.weight"):
        parse_entry({**base, "id": "C", "value": 100, "weight": -1}, "f:C")

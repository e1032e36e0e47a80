"""The mechanisms added to match the record: the closure campaign's finite list, Hebei's
de-capacity and own high-tech growth, parks that overflow into their region, and the two
technology-contract mechanisms."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg, run_model

from jjj_sim.sim.events import KINDS
from jjj_sim.sim.indicators import INDICATORS, parks_year_end, year_end
from jjj_sim.sim.model import RelocationModel
from jjj_sim.sim.population import BRANCH, HIGHTECH
from jjj_sim.sim.rules import technology
from jjj_sim.sim.world import BEIJING, HEBEI


def _ev(m):
    return m.events.arrays()


def test_campaign_list_depletes_and_the_campaign_then_stops():
    cfg = make_cfg("population.scale=0.05", "run.end_year=2020", "params.closure.list_size=1000",
                   "params.closure.annual_pace=800")
    m = RelocationModel(cfg, seed=21)
    initial = m.campaign_list.copy()
    assert len(initial) == pytest.approx(1000 * m.scale, abs=1)
    m.run_model()
    ye = year_end(m)
    exits = ye["beijing_campaign_exits_cum"]
    # never more than the list, and it runs out: the last years add nothing
    assert exits["2020"] <= 1000 + 1 / m.scale
    assert ye["beijing_campaign_list_left"]["2020"] == 0
    assert exits["2020"] == exits["2019"]
    # every firm the campaign closed was on the initial list, in Beijing, in a campaign sector
    ev = _ev(m)
    closed = ev["firm"][ev["kind"] == KINDS.index("closure")]
    assert len(closed) > 0 and np.all(np.isin(closed, initial))
    assert np.all(m.places.province[ev["src"][ev["kind"] == KINDS.index("closure")]] == BEIJING)
    # handled = closed + moved out by the campaign, in real units
    moved = np.isin(ev["firm"], initial) & (ev["kind"] == KINDS.index("relocation"))
    assert exits["2020"] >= (len(closed) + 0) / m.scale
    assert exits["2020"] <= (len(closed) + moved.sum()) / m.scale


def test_a_new_list_restarts_an_exhausted_campaign():
    common = ("population.scale=0.05", "run.end_year=2022", "params.closure.list_size=500",
              "params.closure.annual_pace=1000")
    base = year_end(run_model(*common, seed=4))["beijing_campaign_exits_cum"]
    more = year_end(run_model(*common, "policy.closure_campaign.new_list=[{from: 2021-01, value: 600}]",
                              seed=4))["beijing_campaign_exits_cum"]
    assert base["2022"] == base["2020"]  # exhausted by 2020
    assert more["2020"] == base["2020"]  # the same until the new list
    assert more["2022"] - more["2020"] > 300


def test_decapacity_removes_hebei_heavy_industry_and_only_there():
    common = ("population.scale=0.05", "run.end_year=2020")
    m = run_model(*common, seed=6)
    off = run_model(*common, "policy.hebei_decapacity.schedule=[]", seed=6)
    heavy = m.sectors.index("polluting_heavy", "t")
    hebei = m.places.province == HEBEI

    def heavy_size(model):
        t = model.firms
        sel = t.alive & hebei[t.place] & (t.sector == heavy)
        return float(t.size[sel].sum())

    assert heavy_size(m) < 0.9 * heavy_size(off)
    ev = _ev(m)
    d = ev["kind"] == KINDS.index("decapacity")
    assert d.sum() > 0 and off.events.counts["decapacity"] == 0
    assert np.all(m.places.province[ev["src"][d]] == HEBEI) and np.all(ev["sector"][d] == heavy)
    # no new heavy industry in Hebei while the cuts run; capacity follows the reported cuts
    born = (ev["kind"] == KINDS.index("entry")) & (ev["sector"] == heavy) & hebei[np.maximum(ev["dst"], 0)]
    assert born.sum() == 0
    cap = year_end(m)["hebei_steel_capacity_mt"]
    assert cap["2014"] == pytest.approx(286 - 15.0)
    assert cap["2020"] == pytest.approx(286 - 15.0 - 7.51 - 16.24 - 27.54 - 12.3 - 2 * 13.02)
    # with the heavy sector cut, the high-tech share of Hebei's industry is higher
    assert year_end(m)["hebei_hightech_va_share"]["2020"] > year_end(off)["hebei_hightech_va_share"]["2020"]


def test_hebei_upgrading_touches_only_hebei_own_industrial_firms():
    m = run_model("population.scale=0.05", "run.end_year=2019", seed=8)
    off = run_model("population.scale=0.05", "run.end_year=2019", "policy.hebei_hightech.schedule=[]", seed=8)
    ev = _ev(m)
    u = ev["kind"] == KINDS.index("upgrade")
    assert u.sum() > 0 and off.events.counts["upgrade"] == 0
    rows = ev["firm"][u]
    t = m.firms
    assert len(np.unique(rows)) == len(rows)
    assert np.all(m.places.province[ev["src"][u]] == HEBEI) and np.all(ev["src"][u] == ev["dst"][u])
    assert np.all(t.origin[rows] == HEBEI) and np.all((t.flags[rows] & BRANCH) == 0)
    assert np.all(m.sectors.industrial[t.sector[rows]])
    assert np.all((t.flags[rows] & HIGHTECH) != 0)
    assert year_end(m)["hebei_hightech_va_share"]["2019"] > year_end(off)["hebei_hightech_va_share"]["2019"]


def test_full_parks_overflow_into_their_region_and_say_so():
    m = run_model("population.scale=0.05", "run.end_year=2019", "params.parks.capacity_scale=0.05",
                  "params.choice.asc_park_science=10", seed=2)
    parks = parks_year_end(m)
    over = {pid: p["overflow_to_region"]["2019"] for pid, p in parks.items()}
    assert sum(over.values()) > 0
    for park in m.parks:
        assert park.occupancy <= park.slots
    # overflow into a region never exceeds what arrived there by relocation or branching
    ev = _ev(m)
    arrivals = np.isin(ev["kind"], [KINDS.index("relocation"), KINDS.index("branch")])
    for park in m.parks:
        if park.overflow:
            region = m.places.region[park.place]
            assert park.overflow <= np.sum(arrivals & (ev["dst"] == region))
    assert set(parks["binhai_zgc"]) >= {"firms", "firms_from_beijing", "firms_from_bjtj", "overflow_to_region"}


def test_xiongan_constant_draws_beijing_firms_to_xiongan():
    lo = year_end(run_model("population.scale=0.05", "run.end_year=2020", "params.choice.asc_xiongan=0", seed=5))
    hi = year_end(run_model("population.scale=0.05", "run.end_year=2020", "params.choice.asc_xiongan=6", seed=5))
    assert hi["xiongan_firms_from_beijing"]["2020"] > lo["xiongan_firms_from_beijing"]["2020"] + 100
    assert lo["xiongan_firms_from_beijing"]["2016"] == hi["xiongan_firms_from_beijing"]["2016"] == 0  # opens 2017


def test_contract_count_follows_links_and_value_its_own_trend():
    m = RelocationModel(make_cfg("population.scale=0.05", "params.technology.link_elasticity=0.0",
                                 "params.technology.value_growth_annual=0.2"), seed=1)
    m.quarter = 0
    assert technology.expected_per_year(m) == pytest.approx(3176)  # no link effect, no boost in 2014
    m.quarter = 19  # 2018 Q4: five years after 2013
    assert technology.value_per_contract_bn(m) == pytest.approx(7.12 / 3176 * 1.2 ** 5)
    m2 = RelocationModel(make_cfg("population.scale=0.05", "params.technology.link_elasticity=1.0"), seed=1)
    m2.quarter = 0
    links = technology.links_real(m2)
    assert technology.expected_per_year(m2) == pytest.approx(3176 * links / 3500)
    # cumulative indicators add up the flows
    run = run_model("population.scale=0.02", "run.end_year=2020", seed=2)
    ye = year_end(run)
    flows = sum(ye["tech_contracts_bj_to_tjhb"][str(y)] for y in range(2014, 2021))
    assert ye["tech_contracts_bj_to_tjhb_cum"]["2020"] == pytest.approx(flows)
    assert INDICATORS["tech_contract_turnover_bj_to_tjhb_cum_bn_yuan"].kind == "cumulative"


def test_each_rule_draws_from_its_own_stream():
    """Changing the contract parameters changes the contracts and nothing else: the other rules'
    random draws come from their own streams (common random numbers for calibration)."""
    common = ("population.scale=0.02", "run.end_year=2018")
    a = year_end(run_model(*common, "params.technology.link_elasticity=0.1", seed=12))
    b = year_end(run_model(*common, "params.technology.link_elasticity=0.9", seed=12))
    tech = {k for k in a if k.startswith("tech_")}
    assert a["tech_contracts_bj_to_tjhb_cum"]["2018"] != b["tech_contracts_bj_to_tjhb_cum"]["2018"]
    for k in set(a) - tech:
        assert a[k] == b[k], k

"""Named scenarios: each changes only what it says, from when it says."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg, run_model

from jjj_sim.core.errors import ConfigError
from jjj_sim.sim.indicators import quarterly

SCENARIO_START = {  # first quarter in which each scenario's levers differ from the baseline
    "xiongan_acceleration": 44,  # 2025 Q1
    "rail_integration": 48,  # 2026 Q1
    "business_environment": 40,  # 2024 Q1
    "innovation_community": 40,  # 2024 Q1 (the basic-research renewal acts from 2026)
    "strict_closure": 44,  # 2025 Q1
}


@pytest.fixture(scope="module")
def baseline():
    return quarterly(run_model("population.scale=0.01", "run.end_year=2027", seed=21))


@pytest.mark.parametrize("name, start", SCENARIO_START.items())
def test_scenario_matches_baseline_until_its_levers_change(baseline, name, start):
    q = quarterly(run_model(f"scenario={name}", "population.scale=0.01", "run.end_year=2027", seed=21))
    before = q.index < start
    pd_equal = np.array_equal(q[before].to_numpy(), baseline[before].to_numpy())
    assert pd_equal, f"{name} differs from the baseline before its levers change"
    assert not np.array_equal(q[~before].to_numpy(), baseline[~before].to_numpy()), f"{name} changes nothing"


def test_no_strategy_switches_every_lever_off():
    q = quarterly(run_model("scenario=no_strategy", "population.scale=0.01", "run.end_year=2018", seed=2))
    assert q["beijing_closures_cum"].iloc[-1] == 0


def test_rail_speedup_cuts_travel_times_and_is_bounded():
    from jjj_sim.sim.model import RelocationModel

    m = RelocationModel(make_cfg("scenario=rail_integration", "population.scale=0.005", "run.end_year=2030"), seed=1)
    zjk = m.places.index("zhangjiakou", "t")
    assert m.geo.travel_time(60, 0.3)[zjk] < m.geo.travel_time(60, 0.0)[zjk]
    assert m.policy.rail_speedup.at(47) == 0.0 and m.policy.rail_speedup.at(48) == 0.2
    with pytest.raises(ConfigError) as e:
        make_cfg("policy.rail.speedup.schedule=[{from: 2026-01, value: 0.95}]")
    assert e.value.field == "policy.rail.speedup.schedule"

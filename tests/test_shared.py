"""What runs in one process share (jjj_sim/sim/shared.py) and the calibrator's config reuse: the
same config and seed give the same run whatever was built before it in the process."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CONF_DIR, make_cfg
from hydra import compose, initialize_config_dir

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import find
from jjj_sim.runner import config
from jjj_sim.runner.targets import load_targets
from jjj_sim.sim.model import RelocationModel
from jjj_sim.tools.calibration.simulator import Simulator


def _run(cfg, seed):
    m = RelocationModel(cfg, seed=seed)
    m.run_model()
    return m


def _same_run(a, b) -> bool:
    return (all(np.array_equal(x, y) for x, y in zip(a.history.legal + a.history.origin,
                                                       b.history.legal + b.history.origin))
            and a.datacollector.model_vars == b.datacollector.model_vars)


def test_a_run_does_not_depend_on_what_the_process_built_before():
    base = make_cfg("population.scale=0.01", "run.end_year=2018")
    first = _run(base, 5)
    # other levers, another geography and other parameters in between
    _run(make_cfg("population.scale=0.01", "run.end_year=2018", "scenario=rail_integration"), 5)
    slower = _run(make_cfg("population.scale=0.01", "run.end_year=2018", "params.world.rail_speed_kmh=120"), 5)
    again = _run(base, 5)
    assert _same_run(first, again)
    assert again.geo is first.geo and again.policy is first.policy and again.places is first.places
    assert slower.geo is not first.geo
    assert np.any(slower.geo.travel_time(20) != first.geo.travel_time(20))


def test_shared_parts_are_read_only():
    m = RelocationModel(make_cfg("population.scale=0.01", "run.end_year=2015"), seed=1)
    for arr in (m.places.province, m.sectors.share, m.geo.cost, m.geo.travel_time(0), m.policy.state(0).incentive):
        with pytest.raises(ValueError):
            arr[0] = arr[0]
    m.policy_state.push[0] = 1.0  # the quarter's own state stays writable


def _simulator(seeds):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = config.prepare(compose(config_name="calibrate", overrides=["population.scale=0.01"]),
                             ["population.scale=0.01"], tool=True)
    targets = load_targets(find(cfg.calibration.targets, "calibration.targets"))
    return Simulator(cfg, targets, seeds)


def test_the_simulator_puts_back_what_a_run_changed():
    sim = _simulator([11, 12])
    point = {"closure.annual_pace": 600.0, "choice.asc_park_science": 1.0}
    first = sim.evaluate(point)
    sim.values({"world.cost_decay_km": 80.0, "choice.asc_park_science": 4.0}, 3, scale=0.02)
    cfg = sim.config({})
    assert cfg.params.world.cost_decay_km == sim.base["params"]["world"]["cost_decay_km"]
    assert cfg.population.scale == sim.base["population"]["scale"]
    assert sim.evaluate(point) == first
    assert _simulator([11, 12]).evaluate(point) == first  # as a fresh simulator gives


def test_the_simulator_checks_the_values_it_sets():
    sim = _simulator([1])
    with pytest.raises(ConfigError) as e:
        sim.config({"closure.no_such": 1.0})
    assert e.value.field == "params.closure.no_such"
    with pytest.raises(ConfigError) as e:
        sim.config({"relocation.base_quarterly_hazard": 1.5})
    assert e.value.field == "params.relocation.base_quarterly_hazard"
    with pytest.raises(ConfigError):
        sim.config({}, scale=0.0)

"""Every config option composes and passes the checks (Hydra compose API)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONF_DIR, make_cfg

from jjj_sim.core.errors import ConfigError

GROUPS = {g: sorted(p.stem for p in (Path(CONF_DIR) / g).glob("*.yaml"))
          for g in ("population", "params", "policy", "scenario")}


@pytest.mark.parametrize("group, option", [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_group_option_composes(group, option):
    cfg = make_cfg(f"{group}={option}")
    assert cfg.population.scale > 0
    assert cfg.scenario.name


def test_scenarios_select_their_policy():
    assert make_cfg("scenario=no_strategy").policy.closure_campaign.schedule == []
    assert make_cfg("scenario=baseline").policy.closure_campaign.schedule[0]["value"] == 1.0


@pytest.mark.parametrize("override, key, value", [
    ("seed=11", "seed", 11),
    ("population.scale=0.3", "population.scale", 0.3),
    ("run.end_year=2035", "run.end_year", 2035),
    ("run.record_events=false", "run.record_events", False),
    ("run.plots=false", "run.plots", False),
    ("params.choice.sample_size=5", "params.choice.sample_size", 5),
])
def test_scalar_overrides(override, key, value):
    cfg = make_cfg(override)
    node = cfg
    for part in key.split("."):
        node = node[part]
    assert node == value


def test_every_param_is_checked():
    with pytest.raises(ConfigError) as e:
        make_cfg("params.choice.sample_size=0")
    assert e.value.field == "params.choice.sample_size"
    with pytest.raises(ConfigError) as e:
        make_cfg("params.closure.relocate_share=1.5")
    assert e.value.field == "params.closure.relocate_share"
    with pytest.raises(ConfigError) as e:
        make_cfg("params.relocation.origin_provinces=[shanghai]")
    assert e.value.field == "params.relocation.origin_provinces"


def test_command_line_beats_params_file_beats_defaults():
    fitted = make_cfg("population.scale=0.5")  # default params_file: calibration/fitted/baseline.yaml
    from jjj_sim.runner.config import load_params_file

    values = load_params_file("calibration/fitted/baseline.yaml")
    assert fitted.params.closure.annual_pace == values["closure.annual_pace"]
    explicit = make_cfg("params.closure.annual_pace=123.5")
    assert explicit.params.closure.annual_pace == 123.5
    assert explicit.params.branching.zgc_quarterly_hazard == values["branching.zgc_quarterly_hazard"]
    defaults = make_cfg("params_file=null")
    assert defaults.params.closure.annual_pace == 450  # conf/params/default.yaml

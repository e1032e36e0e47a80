"""Experiment files (compare, sensitivity, explore) are read one way: ``runner.files.load_experiment``
(strict YAML, a key given twice refused) with the tool's top-level keys, and each tool refuses an
unknown key of its own sections with ``check_keys``: a ConfigError naming the field, exit 2."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner.compose import scenario_specs
from jjj_sim.runner.files import check_keys, load_experiment
from jjj_sim.tools import compare, sensitivity
from jjj_sim.tools.explore import plan

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KINDS = {"compare": compare.EXPERIMENT_KEYS, "sensitivity": sensitivity.EXPERIMENT_KEYS,
         "explore": plan.EXPERIMENT_KEYS}
SHIPPED = [("compare", "experiments/scenarios.yaml"), ("compare", "experiments/examples/xiongan_rail_compare.yaml"),
           ("sensitivity", "experiments/sensitivity.yaml"), ("explore", "experiments/explore_hebei.yaml")]
SENSITIVITY = {"params": {"closure.annual_pace": [200.0, 800.0]}, "indicators": ["beijing_closures_cum@2016"],
               "morris": {"trajectories": 3, "levels": 4}, "sobol": {"n": 16}}
EXPLORE = {
    "scenario": "baseline", "population_scale": 0.02, "end_year": 2025,
    "levers": [{"name": "xiongan_incentive", "lever": "incentives.xiongan", "kind": "value", "from": "2024-01",
                "range": [1.0, 6.0]}],
    "uncertainties": {"params": {"choice.asc_xiongan": [0.0, 6.0]}},
    "outcomes": ["hebei_firms_attracted_cum[2025]"],
    "design": {"scenarios": 4, "policies": 2},
    "prim": {"condition": "hebei_firms_attracted_cum[2025] < 60000"},
}


def write(tmp_path: Path, exp: dict, name: str = "exp.yaml") -> Path:
    f = tmp_path / name
    f.write_text(yaml.safe_dump(exp, sort_keys=False))
    return f


@pytest.mark.parametrize("kind, path", SHIPPED)
def test_the_shipped_experiment_files_are_read_with_their_tools_keys(kind, path):
    e = load_experiment(ROOT / path, KINDS[kind])
    assert e.data and e.base_dir == (ROOT / path).parent.resolve()


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_top_level_key_is_refused_naming_file_and_key(tmp_path, kind):
    shipped = next(path for k, path in SHIPPED if k == kind)
    exp = {**yaml.safe_load((ROOT / shipped).read_text()), "colour": "red"}
    with pytest.raises(ConfigError) as e:
        load_experiment(write(tmp_path, exp), KINDS[kind])
    assert e.value.field == "exp.yaml:colour"
    assert e.value.message == f"unknown key (known: {', '.join(KINDS[kind])})"


def test_a_key_given_twice_in_an_experiment_file_is_refused(tmp_path):
    f = tmp_path / "twice.yaml"
    f.write_text("seeds: 2\nseed: 1\nseeds: 3\n")
    with pytest.raises(ConfigError) as e:
        load_experiment(f, compare.EXPERIMENT_KEYS)
    assert e.value.field == "twice.yaml:seeds" and "given twice" in e.value.message
    f.write_text("design: {scenarios: 4, scenarios: 8}\n")
    with pytest.raises(ConfigError) as e:
        load_experiment(f, plan.EXPERIMENT_KEYS)
    assert e.value.field == "twice.yaml:scenarios" and "given twice" in e.value.message


def test_check_keys_names_the_first_unknown_key_under_its_prefix():
    check_keys({"a": 1, "b": 2}, ("a", "b", "c"), "x.")
    with pytest.raises(ConfigError) as e:
        check_keys({"a": 1, "z": 2, "y": 3}, ("a", "b"), "design.")
    assert e.value.field == "design.z" and e.value.message == "unknown key (known: a, b)"


@pytest.mark.parametrize("section, field", [
    (("levers", 0), "levers[0].colour"),
    (("uncertainties",), "uncertainties.colour"),
    (("uncertainties", "posterior"), "uncertainties.posterior.colour"),
    (("design",), "design.colour"),
    (("prim",), "prim.colour"),
])
def test_explore_refuses_an_unknown_nested_key(section, field):
    exp = copy.deepcopy(EXPLORE)
    exp["uncertainties"]["posterior"] = {"draws": 2}
    node = exp
    for k in section:
        node = node[k]
    node["colour"] = "red"
    with pytest.raises(ConfigError) as e:
        plan.parse(exp, ROOT)
    assert e.value.field == field and e.value.message.startswith("unknown key (known: ")


@pytest.mark.parametrize("section, field", [("morris", "morris.colour"), ("sobol", "sobol.colour")])
def test_sensitivity_refuses_an_unknown_nested_key(section, field):
    exp = copy.deepcopy(SENSITIVITY)
    exp[section]["colour"] = "red"
    with pytest.raises(ConfigError) as e:
        sensitivity.parse(exp)
    assert e.value.field == field and e.value.message.startswith("unknown key (known: ")


def test_compare_refuses_an_unknown_key_of_an_inline_scenario():
    entries = ["baseline", {"name": "what_if", "overrides": [], "colour": "red"}]
    with pytest.raises(ConfigError) as e:
        scenario_specs(entries, ROOT)
    assert e.value.field == "scenarios[1]:colour" and e.value.message.startswith("unknown key")


@pytest.mark.parametrize("tool, exp, field", [
    ("jjj-sim-compare", {"scenarios": ["baseline", "no_strategy"], "colour": "red"}, "exp.yaml:colour"),
    ("jjj-sim-sensitivity", {**SENSITIVITY, "morris": {"trajectories": 3, "colour": "red"}}, "morris.colour"),
    ("jjj-sim-explore", {**EXPLORE, "design": {"scenarios": 4, "colour": "red"}}, "design.colour"),
])
def test_an_unknown_key_ends_the_tool_with_one_line_and_exit_2(tmp_path, tool, exp, field):
    out = tmp_path / "out"
    r = subprocess.run([str(BIN / tool), str(write(tmp_path, exp)), "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600, check=False)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"{tool}: error: {field}: unknown key (known: "), lines
    assert not out.exists()

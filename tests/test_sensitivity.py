"""Sensitivity analysis: a small Morris and Sobol run, and its input checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from jjj_sim.errors import ConfigError
from jjj_sim.sensitivity import analyse, parse

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "params": {"closure.annual_pace": [200.0, 800.0], "branching.zgc_quarterly_hazard": [0.005, 0.02]},
    "indicators": ["beijing_closures_cum@2016", "zgc_branches_tjhb@2016"],
    "replications": 2, "population_scale": 0.01, "morris": {"trajectories": 3, "levels": 4}, "sobol": {"n": 16},
}


def sens(tmp_path, exp, *args):
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump(exp))
    exe = Path(sys.executable).with_name("jjj-sim-sensitivity")
    return subprocess.run([str(exe), str(f), "--workers", "2", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("method, key", [("morris", "mu_star"), ("sobol", "ST")])
def test_small_sensitivity_finds_the_driving_parameter(tmp_path, method, key):
    out = tmp_path / method
    r = sens(tmp_path, SMALL, "--method", method, "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "sensitivity.json").read_text())
    closures = res["indicators"]["beijing_closures_cum@2016"]
    branches = res["indicators"]["zgc_branches_tjhb@2016"]
    # each indicator is driven by its own hazard
    assert closures["closure.annual_pace"][key] > closures["branching.zgc_quarterly_hazard"][key]
    assert branches["branching.zgc_quarterly_hazard"][key] > branches["closure.annual_pace"][key]
    assert 0 <= closures["noise_share"] < 1
    for name in ("report.md", "indices.csv", "samples.npz", f"plots/{method}.png"):
        assert (out / name).exists(), name


def test_noise_share_measures_seed_variance():
    problem = {"num_vars": 1, "names": ["a"], "bounds": [[0.0, 1.0]]}
    rng = np.random.default_rng(1)
    from SALib.sample import morris as ms

    X = ms.sample(problem, 20, num_levels=4, seed=1)
    Y = rng.normal(0, 1, (len(X), 4, 1))
    res = analyse("morris", problem, X, Y, {"levels": 4}, 1)
    assert res[0]["noise_share"] == pytest.approx(1.0, abs=0.35)
    Y2 = (X[:, :1] * 100)[:, :, None] + rng.normal(0, 1, (len(X), 4, 1))
    assert analyse("morris", problem, X, Y2, {"levels": 4}, 1)[0]["noise_share"] < 0.01


@pytest.mark.parametrize("change, field", [
    ({"params": {"closure.nope": [0, 1]}}, "params.closure.nope"),
    ({"params": {"closure.annual_pace": [800.0, 200.0]}}, "params.closure.annual_pace"),
    ({"indicators": ["nope@2016"]}, "indicators:nope@2016"),
    ({"indicators": ["zgc_branches_tjhb"]}, "indicators:zgc_branches_tjhb"),
])
def test_bad_sensitivity_input(change, field):
    with pytest.raises(ConfigError) as e:
        parse({**SMALL, **change})
    assert e.value.field == field


def test_bad_sensitivity_input_exits_2(tmp_path):
    out = tmp_path / "bad"
    r = sens(tmp_path, {**SMALL, "params": {"closure.annual_pace": [-1, 1]}}, "--out", str(out))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and not out.exists()


def test_sensitivity_runs_a_scenario_file_next_to_the_experiments_file(tmp_path, monkeypatch):
    monkeypatch.setenv("JJJ_SIM_CACHE", str(tmp_path / "cache"))
    (tmp_path / "case.yaml").write_text("scenario: {name: no_push}\npolicy:\n  relocation_push: {schedule: []}\n")
    out = tmp_path / "s"
    exp = {**SMALL, "scenario": "case.yaml", "morris": {"trajectories": 2, "levels": 4}}
    r = sens(tmp_path, exp, "--method", "morris", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((out / "sensitivity.json").read_text())["scenario"] == "no_push"
    assert "scenario no_push" in (out / "report.md").read_text()
    bad = sens(tmp_path, {**SMALL, "scenario": "missing.yaml"}, "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "missing.yaml" in bad.stderr
    assert not (tmp_path / "bad").exists()

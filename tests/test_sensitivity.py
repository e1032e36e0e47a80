"""Sensitivity analysis: a small Morris and Sobol run, and its input checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from jjj_sim.core.errors import ConfigError
from jjj_sim.tools.sensitivity import (
    analyse,
    load_samples,
    parse,
    samples_table,
    write_samples,
)

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
    for name in ("report.md", "indices.csv", "samples.parquet", f"plots/{method}.png"):
        assert (out / name).exists(), name
    assert not (out / "samples.npz").exists()
    # samples.parquet: one labelled row per model run, enough to recompute the indices
    df = pd.read_parquet(out / "samples.parquet")
    names, outcomes = res["problem"]["names"], list(SMALL["indicators"])
    assert sorted(names) == sorted(SMALL["params"])
    assert list(df.columns) == ["sample", "replication", "seed", *names, *outcomes]
    assert len(df) == res["points"] * 2 == res["simulations"]
    assert list(df["sample"]) == [i for i in range(res["points"]) for _ in range(2)]
    assert list(df["seed"]) == res["seeds"] * res["points"]
    for n in names:
        low, high = SMALL["params"][n]
        assert df[n].dtype == "float64" and df[n].between(low, high).all()
        assert (df.groupby("sample")[n].nunique() == 1).all()  # a sample's seeds share its parameters
    assert (df["beijing_closures_cum@2016"] > 0).all()
    again = analyse(*load_samples(out / "samples.parquet"))
    assert again[0] == res["indicators"]["beijing_closures_cum@2016"]
    assert again[1] == res["indicators"]["zgc_branches_tjhb@2016"]


def test_samples_file_is_labelled_and_checked(tmp_path):
    X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    Y = np.arange(3 * 2 * 1, dtype=float).reshape(3, 2, 1)
    df = samples_table(["a.x", "b.y"], X, Y, [7, 9], ["out@2016"])
    assert list(df.columns) == ["sample", "replication", "seed", "a.x", "b.y", "out@2016"]
    assert df.loc[3].to_dict() == {"sample": 1, "replication": 1, "seed": 9, "a.x": 2.0, "b.y": 20.0, "out@2016": 3.0}
    result = {"method": "morris", "settings": {"levels": 4}, "version": "x", "seeds": [7, 9],
              "problem": {"num_vars": 2, "names": ["a.x", "b.y"], "bounds": [[0, 5], [0, 50]]}}
    write_samples(tmp_path / "s.parquet", result, X, Y, ["out@2016"], 11)
    method, problem, X2, Y2, settings, seed = load_samples(tmp_path / "s.parquet")
    assert (method, settings, seed) == ("morris", {"levels": 4}, 11)
    assert np.array_equal(X2, X) and np.array_equal(Y2, Y) and problem == result["problem"]
    pd.read_parquet(tmp_path / "s.parquet").rename(columns={"a.x": "x"}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError):  # pandas keeps no jjj_sim metadata: not a samples file
        load_samples(tmp_path / "bad.parquet")


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

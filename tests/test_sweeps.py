"""Sweeps: Hydra multirun with the joblib and submitit_local launchers, gathered into one table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jjj_sim.sweep import gather

ROOT = Path(__file__).resolve().parents[1]


def jjj(*args):
    exe = Path(sys.executable).with_name("jjj-sim")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_two_by_two_sweep_is_gathered(tmp_path, launcher):
    out = tmp_path / launcher
    r = jjj("-m", f"hydra/launcher={launcher}", "population.scale=0.005", "run.plots=false", "run.record_events=false",
            "seed=1,2", "scenario=baseline,no_strategy", f"hydra.sweep.dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    jobs = pd.read_csv(out / "sweep_summary.csv")
    assert len(jobs) == 4 and set(jobs["status"]) == {"ok"}
    assert set(jobs["override:scenario"]) == {"baseline", "no_strategy"}
    tidy = pd.read_parquet(out / "sweep_results.parquet")
    assert set(tidy["job"].astype(str)) == {"0", "1", "2", "3"}
    assert {"indicator", "year", "value", "seed", "scenario"} <= set(tidy.columns)
    closures = tidy[(tidy["indicator"] == "beijing_closures_cum") & (tidy["year"] == 2023)]
    assert (closures[closures["scenario"] == "no_strategy"]["value"] == 0).all()
    assert (closures[closures["scenario"] == "baseline"]["value"] > 0).all()
    assert not (out / "sweep_failures.csv").exists()


def test_a_failing_job_is_recorded_and_the_rest_gathered(tmp_path):
    out = tmp_path / "sweep"
    r = jjj("-m", "population.scale=0.005", "run.plots=false", "run.record_events=false", "seed=3",
            "params.closure.annual_pace=400,-1", f"hydra.sweep.dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    jobs = pd.read_csv(out / "sweep_summary.csv", dtype={"job": str})
    assert list(jobs["status"]) == ["ok", "failed"]
    failures = pd.read_csv(out / "sweep_failures.csv", dtype={"job": str})
    assert list(failures["job"]) == ["1"] and "params.closure.annual_pace" in failures["error"][0]
    assert (out / "1" / "failure.json").exists() and not (out / "1" / "summary.json").exists()
    assert (out / "0" / "summary.json").exists()


def test_gather_reports_a_killed_job_as_missing(tmp_path):
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text("- seed=1\n")
    tidy, jobs = gather(tmp_path)
    assert len(tidy) == 0 and list(jobs["status"]) == ["missing"]

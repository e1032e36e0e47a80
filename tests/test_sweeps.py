"""Sweeps: Hydra multirun with the joblib and submitit_local launchers, gathered into one table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jjj_sim.runner import posterior
from jjj_sim.runner.targets import load_targets
from jjj_sim.sim.indicators import INDICATORS
from jjj_sim.tools.sweep import Gathered, column_kinds, gather, write

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
    g = gather(tmp_path)
    assert len(g.results) == 0 and list(g.jobs["status"]) == ["missing"]
    assert str(g.jobs["override:seed"].dtype) == "int64" and g.jobs["targets_met"].isna().all()
    assert str(g.jobs["params_draw"].dtype) == "Int64" and g.jobs["params_draw"].isna().all()


def test_a_sweep_gathers_typed_columns_targets_and_quarterly_values(tmp_path):
    post = tmp_path / "posterior.parquet"
    posterior.write(post, pd.DataFrame({"closure.annual_pace": [300.0, 600.0], "weight": [0.5, 0.5]}), {"seed": 3})
    out = tmp_path / "sweep"
    r = jjj("-m", "population.scale=0.02", "run.end_year=2020", "run.plots=false", "run.record_events=false",
            "seed=1,2", "params_draw=null,0", "scenario=baseline", f"posterior_file={post}",
            "++hydra.callbacks.gather.quarterly=true", f"hydra.sweep.dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    # typed override columns, in the tidy table and in the summary
    tidy = pd.read_parquet(out / "sweep_results.parquet")
    assert str(tidy["seed"].dtype) == "int64" and str(tidy["population.scale"].dtype) == "float64"
    assert pd.api.types.is_string_dtype(tidy["scenario"]) and str(tidy["run.plots"].dtype) == "bool"
    assert str(tidy["params_draw"].dtype) == "Int64"  # null is a missing value, 0 an integer
    assert set(tidy.groupby("job")["params_draw"].first().astype("float").fillna(-1)) == {-1.0, 0.0}
    jobs = pd.read_csv(out / "sweep_summary.csv", dtype={"job": str})
    assert str(jobs["override:seed"].dtype) == "int64" and str(jobs["override:population.scale"].dtype) == "float64"
    assert str(jobs["override:run.plots"].dtype) == "bool" and str(jobs["seed"].dtype) == "int64"
    # params_draw: the override as swept, and the run's own (summary.json) in every table
    assert list(jobs["override:params_draw"].fillna(-1)) == [-1, 0, -1, 0]
    assert list(jobs["params_draw"].fillna(-1)) == [-1, 0, -1, 0]
    # targets: one row per job x target, met as Target.met judges the simulated value
    targets = {t.id: t for t in load_targets(ROOT / "calibration" / "targets.yaml")}
    tt = pd.read_parquet(out / "sweep_targets.parquet")
    assert len(tt) == 4 * len(targets) and str(tt["met"].dtype) == "boolean"
    assert {"job", "seed", "params_draw", "target", "indicator", "year", "reported", "kind", "simulated",
            "met"} <= set(tt.columns)
    late = tt["year"] > 2020  # T1, T2 (2023): not evaluable in a run that ends in 2020
    assert late.any() and tt.loc[late, "met"].isna().all() and tt.loc[late, "simulated"].isna().all()
    for _, row in tt[~late].iterrows():
        assert row["met"] == targets[row["target"]].met(row["simulated"]), row["target"]
    t3 = tt[tt["target"] == "T3"].merge(
        tidy[(tidy["indicator"] == "beijing_campaign_exits_cum") & (tidy["year"] == 2016)], on="job")
    assert (t3["simulated"] == t3["value"]).all() and (t3["met"] == (t3["value"] >= 1300)).all()
    assert set(tt[tt["target"] == "P1_2020"]["indicator"]) == {"park.baoding_zgc.firms_from_beijing"}
    met = tt.groupby("job")["met"].sum()
    assert list(jobs["targets_met"]) == [met[j] for j in jobs["job"]]
    assert set(jobs["targets_total"]) == {int((~late).sum() / 4)}
    # quarterly values: year ends agree with the yearly table
    q = pd.read_parquet(out / "sweep_quarterly.parquet")
    assert {"job", "seed", "params_draw", "indicator", "year", "quarter", "value"} <= set(q.columns)
    assert set(q["quarter"]) == {1, 2, 3, 4} and len(q) == len(tidy) * 4
    by_year = q.groupby(["job", "indicator", "year"])["value"]
    kinds = {n: ind.kind for n, ind in INDICATORS.items()}
    yearly = tidy.set_index(["job", "indicator", "year"])["value"]
    for (job, name, year), v in yearly.items():
        expect = by_year.get_group((job, name, year)).sum() if kinds[name] == "flow" else \
            by_year.get_group((job, name, year)).iloc[-1]
        assert expect == pytest.approx(v, abs=1e-3, rel=1e-6), (job, name, year)


def test_override_columns_mixing_types():
    over = [{"a": (1, "1"), "b": (1, "1"), "c": (True, "true"), "d": (None, "null")},
            {"a": (1.5, "1.5"), "b": ("x", "x"), "c": (False, "false"), "d": (2, "2")}]
    assert column_kinds(over) == {"a": "float", "b": "text", "c": "bool", "d": "int"}


def test_gathered_files_are_written_all_or_nothing(tmp_path):
    (tmp_path / "sweep_summary.csv").write_text("old\n")
    jobs = pd.DataFrame({"job": ["0"], "status": ["ok"], "error": [""]})
    bad = pd.DataFrame({"x": [1, "a"]})  # not writable as Parquet
    with pytest.raises(Exception):
        write(tmp_path, Gathered(pd.DataFrame({"v": [1.0]}), jobs, bad, None))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep_summary.csv"]
    assert (tmp_path / "sweep_summary.csv").read_text() == "old\n"
    write(tmp_path, Gathered(pd.DataFrame({"v": [1.0]}), jobs, None, None))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep_results.parquet", "sweep_summary.csv"]

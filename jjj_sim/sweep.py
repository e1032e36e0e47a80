"""Multirun support: recording a job's failure, and gathering every job's results.

Each job of a sweep writes its own directory. Whatever the launcher (joblib, submitit, Ray),
in-memory state does not reach the driver, so ``GatherResults`` (a Hydra callback) reads the
jobs' outputs from disk when the sweep ends and writes into the sweep directory:
- ``sweep_results.parquet``: tidy, one row per job x indicator x year (with the job's
  overrides as columns);
- ``sweep_summary.csv``: one row per job: status, overrides, each indicator in the last year;
- ``sweep_failures.csv``: the jobs that failed and why.
A job that fails records ``failure.json`` in its own directory and returns normally (Hydra
skips ``on_multirun_end`` when a job raises), so the others are still gathered.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("jjj_sim.sweep")
FAILURE = "failure.json"


def record_failure(job_dir: Path, error: BaseException) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    info = {"error": f"{error.__class__.__name__}: {error}",
            "traceback": "".join(traceback.format_exception(error))}
    (job_dir / FAILURE).write_text(json.dumps(info, indent=1), encoding="utf-8")


def _overrides(job_dir: Path) -> dict[str, str]:
    f = job_dir / ".hydra" / "overrides.yaml"
    if not f.is_file():
        return {}
    items = yaml.safe_load(f.read_text(encoding="utf-8")) or []
    return dict(str(o).split("=", 1) for o in items if "=" in str(o))


def gather(sweep_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tidy results, one row per job) from the job directories under ``sweep_dir``."""
    jobs = sorted((d for d in sweep_dir.iterdir() if d.is_dir() and (d / ".hydra").is_dir()),
                  key=lambda d: (len(d.name), d.name))
    tidy, rows = [], []
    for d in jobs:
        over = _overrides(d)
        row = {"job": d.name, **{f"override:{k}": v for k, v in over.items()}}
        summary = d / "summary.json"
        if summary.is_file():
            s = json.loads(summary.read_text(encoding="utf-8"))
            last = str(s["years"][-1])
            row.update(status="ok", scenario=s["scenario"], seed=s["seed"], error="")
            row.update({k: v[last] for k, v in s["indicators"].items()})
            for name, series in s["indicators"].items():
                for year, value in series.items():
                    # the run's own scenario name and seed win over the override text (a scenario
                    # file's override is its cached option name; an override's seed is a string)
                    tidy.append({"job": d.name, **over, "scenario": s["scenario"], "seed": s["seed"],
                                 "indicator": name, "year": int(year), "value": value})
        elif (d / FAILURE).is_file():
            row.update(status="failed", error=json.loads((d / FAILURE).read_text(encoding="utf-8"))["error"])
        else:
            row.update(status="missing", error="no summary.json and no failure.json (killed?)")
        rows.append(row)
    return pd.DataFrame(tidy), pd.DataFrame(rows)


class GatherResults(Callback):
    """Hydra callback: gather the sweep's job outputs at the end of a multirun."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        tidy, jobs = gather(sweep_dir)
        if len(tidy):
            tidy.to_parquet(sweep_dir / "sweep_results.parquet", index=False)
        jobs.to_csv(sweep_dir / "sweep_summary.csv", index=False)
        failed = jobs[jobs["status"] != "ok"] if len(jobs) else jobs
        if len(failed):
            failed[["job", "status", "error"]].to_csv(sweep_dir / "sweep_failures.csv", index=False)
        ok = int((jobs["status"] == "ok").sum()) if len(jobs) else 0
        log.info("gathered %d job(s) into %s: %d ok, %d failed", len(jobs), sweep_dir, ok, len(jobs) - ok)
        for _, r in failed.iterrows():
            log.warning("job %s %s: %s", r["job"], r["status"], r["error"])

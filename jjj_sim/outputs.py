"""Writing a run's outputs, all or nothing.

Everything is written into ``RUN_DIR/.partial-<pid>`` first and moved into ``RUN_DIR`` only
when complete, ``summary.json`` last: a run directory with a ``summary.json`` holds a
finished run; a failed run leaves no output file behind.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from pathlib import Path

import mesa
import numpy as np
from omegaconf import OmegaConf

from jjj_sim import __version__, indicators
from jjj_sim.timeline import quarter_end_date

OUTPUT_FILES = ("indicators.parquet", "events.parquet", "config_resolved.yaml", "run_info.json", "plots")


def _round(x: float) -> float:
    return float(np.round(x, 4))


def summary(model, cfg) -> dict:
    """The run's year-end results; depends only on the config and the seed."""
    ind = indicators.year_end(model)
    return {
        "scenario": cfg.scenario.name,
        "seed": int(cfg.seed),
        "version": __version__,
        "population_scale": float(cfg.population.scale),
        "years": [int(y) for y in next(iter(ind.values()))],
        "units": {k: v[1] for k, v in indicators.INDICATORS.items()},
        "indicators": {k: {y: _round(v) for y, v in s.items()} for k, s in ind.items()},
        "parks": {pid: {**p, "firms_from_bjtj": {y: _round(v) for y, v in p["firms_from_bjtj"].items()}}
                  for pid, p in indicators.parks_year_end(model).items()},
    }


def write_run(run_dir: Path, model, cfg, timings: dict) -> dict:
    run_dir = Path(run_dir)
    staging = run_dir / f".partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        result = summary(model, cfg)
        indicators.long_table(model).to_parquet(staging / "indicators.parquet", index=False)
        if cfg.run.record_events:
            dates = [quarter_end_date(q) for q in range(model.last_quarter + 1)]
            model.events.to_frame(model.places.ids, model.sectors.ids, dates).to_parquet(
                staging / "events.parquet", index=False)
        if cfg.run.plots:
            from jjj_sim.plots import write_plots

            write_plots(staging / "plots", result)
        (staging / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
        info = {
            "seed": int(cfg.seed), "version": __version__, "scenario": cfg.scenario.name,
            "command": sys.argv, "python": platform.python_version(), "mesa": mesa.__version__,
            "numpy": np.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
            "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
            "firm_rows": int(model.firms.n), "events": dict(model.events.counts),
        }
        (staging / "run_info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
        (staging / "summary.json").write_text(json.dumps(result, indent=1, sort_keys=True), encoding="utf-8")
        for name in (*OUTPUT_FILES, "summary.json"):
            src = staging / name
            if src.exists():
                dst = run_dir / name
                if dst.is_dir():
                    shutil.rmtree(dst)
                os.replace(src, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result

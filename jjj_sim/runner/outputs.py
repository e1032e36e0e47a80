"""Writing a run's outputs: ``summary`` (summary.json's content), ``write_run`` (every file
of a finished run: indicators.parquet, events.parquet, plots, config_resolved.yaml,
run_info.json, summary.json last) and the plot drawers (``PlotProcess``, ``InProcessPlots``).

``write_run`` writes into a staging directory it is given; making a run directory all or
nothing, one command at a time (the staging directory, ``summary.json`` moved last, the
directory's lock), is ``runner/rundir.py``'s job (``staged``, ``lock_dir``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from jjj_sim import __version__
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import quarter_end_date
from jjj_sim.sim import indicators


def _round(x: float) -> float:
    return float(np.round(x, 4))


def summary(model, cfg) -> dict:
    """The run's year-end results; depends only on the config and the seed."""
    ind = indicators.year_end(model)
    return {
        "scenario": cfg.scenario.name,
        "seed": int(cfg.seed),
        "params_draw": None if cfg.get("params_draw") is None else int(cfg.params_draw),  # posterior draw, or the fitted point
        "version": __version__,
        "population_scale": float(cfg.population.scale),
        "years": [int(y) for y in next(iter(ind.values()))],
        "units": {k: v.unit for k, v in indicators.INDICATORS.items()},
        "indicators": {k: {y: _round(v) for y, v in s.items()} for k, s in ind.items()},
        "parks": {pid: {k: ({y: _round(v) for y, v in x.items()} if k in indicators.PARK_FIELDS else x)
                        for k, x in p.items()}
                  for pid, p in indicators.parks_year_end(model).items()},
        "regions": {rid: {k: ({y: _round(v) for y, v in x.items()} if k in indicators.REGION_FIELDS else x)
                          for k, x in r.items()}
                    for rid, r in indicators.regions_year_end(model).items()},
        "firm_stock": firm_stock_basis(cfg),
    }


def firm_stock_basis(cfg) -> dict:
    """How the legal units grow after 2018 in this run (rules/demography.py): a scenario
    assumption with a stated range, at its central value, a posterior draw's value, or set."""
    d = cfg.params.demography
    if cfg.get("params_draw") is not None:
        how = f"drawn log-uniform from the stated range (posterior draw {int(cfg.params_draw)})"
    else:
        how = "as configured (central value 2 years unless set)"
    return {"basis": "scenario assumption: no published 2019-2020 count was found to fit it",
            "growth_half_life_years": float(d.growth_half_life_years),
            "range": [float(d.growth_half_life_low), float(d.growth_half_life_high)], "value": how}


class InProcessPlots:
    """The run's plots drawn in this process by ``draw(out, summary)`` (the PlotProcess interface)."""

    def __init__(self, draw):
        self._draw = draw

    def render(self, out: Path, result: dict) -> None:
        """Draw the plots of ``result`` into ``out`` now."""
        self._draw(out, result)

    def wait(self) -> None:
        """Nothing to wait for: ``render`` drew them."""

    def stop(self) -> None:
        """Nothing to stop."""


class PlotProcess:
    """The run's plots drawn by a child process started before the run (``python -m
    jjj_sim.reporting.plots``: a clean interpreter, whatever the caller's main module): it imports
    matplotlib, loads the map and warms up while the model runs on the other core, then draws
    from the summary. ``render`` hands it the summary; ``wait`` returns when the plots are
    written (or raises with the child's last error line)."""

    def __init__(self):
        self._proc = subprocess.Popen([sys.executable, "-m", "jjj_sim.reporting.plots"], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def render(self, out: Path, result: dict) -> None:
        """Send the child ``out`` and the summary ``result`` to draw (a dead child is reported by ``wait``)."""
        try:
            self._proc.stdin.write(json.dumps({"out": str(out), "summary": result}))
            self._proc.stdin.close()
        except BrokenPipeError:  # the child died: wait() reports why
            pass

    def wait(self) -> None:
        """Wait for the child to finish; RuntimeError with its last error line if it failed."""
        err = self._proc.stderr.read()
        if self._proc.wait() != 0:
            lines = [x for x in err.strip().splitlines() if x.strip()]
            raise RuntimeError(f"plots: {lines[-1] if lines else f'exit code {self._proc.returncode}'}")

    def stop(self) -> None:
        """Kill the child if it still runs, and close its pipes."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for f in (self._proc.stdin, self._proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass


def strict_json(result: dict) -> str:
    """summary.json's text: strict JSON. A value that is not a number (NaN, infinite) fails the
    run with the indicator named, rather than writing NaN into the file."""
    try:
        return json.dumps(result, indent=1, sort_keys=True, allow_nan=False)
    except ValueError:
        for name, series in result.get("indicators", {}).items():
            bad = [y for y, v in series.items() if not np.isfinite(v)]
            if bad:
                raise ConfigError("population", f"the run gave no number for {name} in {', '.join(bad[:3])} "
                                                "(too few firms for this indicator?)") from None
        raise ConfigError("population", "the run gave a value that is not a number") from None


def write_run(staging: Path, model, cfg, timings: dict, plotter: PlotProcess | InProcessPlots | None = None) -> dict:
    """Write a finished run's outputs into ``staging`` (the event log, if recorded, is already
    there when it was streamed; else it is written here). ``summary.json`` is the caller's
    ``staged(..., last="summary.json")`` mark of a complete run. Returns the summary."""
    result = summary(model, cfg)
    if cfg.run.plots:
        if plotter is None:
            raise ValueError("run.plots is on: write_run needs a plotter (PlotProcess or InProcessPlots)")
        plotter.render(staging / "plots", result)
    indicators.long_table(model).to_parquet(staging / "indicators.parquet", index=False)
    if cfg.run.record_events and not (staging / "events.parquet").exists():
        dates = [quarter_end_date(q) for q in range(model.last_quarter + 1)]
        model.events.to_frame(model.places.ids, model.sectors.ids, dates).to_parquet(
            staging / "events.parquet", index=False)
    (staging / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    if plotter is not None and cfg.run.plots:
        plotter.wait()
    info = {
        "seed": int(cfg.seed), "version": __version__, "scenario": cfg.scenario.name,
        "command": sys.argv, "python": platform.python_version(), "mesa": version("mesa"),
        "numpy": np.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "firm_rows": int(model.firms.n), "events": dict(model.events.counts),
    }
    (staging / "run_info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    (staging / "summary.json").write_text(strict_json(result), encoding="utf-8")
    return result

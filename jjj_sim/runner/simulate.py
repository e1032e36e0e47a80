"""Running the model: ``simulate(cfg)`` builds and runs one simulation (the one way a run is
made), ``run_to_dir`` writes it into a run directory, all or nothing. (The seeds of an
ensemble come from ``jjj_sim.core.seeds.replication_seeds``.)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from jjj_sim.core.timeline import last_quarter, quarter_end_date, year_of
from jjj_sim.runner.outputs import InProcessPlots, PlotProcess, write_run
from jjj_sim.runner.rundir import staged
from jjj_sim.sim.events import ParquetEventWriter
from jjj_sim.sim.model import RelocationModel
from jjj_sim.sim.world import load_places, load_sectors

log = logging.getLogger("jjj_sim")


def simulate(cfg: DictConfig, progress=False, events_path=None, seed: int | None = None):
    """Build and run the model for a prepared config; return (model, timings: {"build", "run"}
    in seconds). ``seed``: the model's seed, if not the config's own (``cfg.seed``; the
    calibration varies it on one config). ``progress``: True logs a line per simulated year; a
    callable is called with the model after each year.
    ``events_path``: stream the event log to this Parquet file while the model runs (instead
    of keeping it in memory)."""
    t0 = time.perf_counter()
    sink = None
    if events_path is not None and cfg.run.record_events:
        sectors = load_sectors()
        dates = [quarter_end_date(q) for q in range(last_quarter(int(cfg.run.end_year)) + 1)]
        sink = ParquetEventWriter(events_path, load_places(sectors).ids, sectors.ids, dates)
    try:
        model = RelocationModel(cfg, seed=cfg.seed if seed is None else seed, event_sink=sink)
        t1 = time.perf_counter()

        def report(m):
            if progress and m.quarter % 4 == 3:
                if callable(progress):
                    progress(m)
                else:
                    log.info("year %d done (%d firm rows)", year_of(m.quarter), m.firms.n)

        model.run_model(progress=report)
        if sink is not None:
            sink.close()
            sink = None
    finally:
        if sink is not None:
            sink.abort()
    t2 = time.perf_counter()
    return model, {"build": t1 - t0, "run": t2 - t1}


def run_to_dir(run_dir: Path, cfg: DictConfig, progress=True, draw=None):
    """Simulate and write every output into ``run_dir``, all or nothing (rundir.staged): the
    event log streams into the staging directory while the model runs, and the plots are drawn
    by a process started before the run, or by ``draw(out, summary)`` in this process when it
    is given (sweeps, where every core already runs a job; the caller passes
    jjj_sim.reporting.plots.write_plots, so the runner does not import the reporting layer).
    Returns (summary, timings)."""
    plotter = None if not cfg.run.plots else PlotProcess() if draw is None else InProcessPlots(draw)
    try:
        with staged(Path(run_dir), last="summary.json") as staging:
            events = staging / "events.parquet" if cfg.run.record_events else None
            model, timings = simulate(cfg, progress=progress, events_path=events)
            t0 = time.perf_counter()
            result = write_run(staging, model, cfg, timings, plotter)
            timings["write"] = time.perf_counter() - t0
    finally:
        if plotter is not None:
            plotter.stop()
    return result, timings

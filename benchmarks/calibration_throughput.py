"""Calibration throughput: simulations per minute the way ``jjj-sim-calibrate`` runs them.

The calibrator composes its config once (conf/calibrate.yaml: population scale 0.1, the run to
2023, no event log); each simulation then sets the free parameters and a seed on it
(``calibration.simulator.Simulator.values``) and runs the model. Here every simulation is a new
parameter set (drawn uniformly within the free parameters' bounds, as the search's first
trials are) and a new seed. With several workers, processes forked from the one that built the
simulator share the simulations, as the calibrator's Optuna workers and polish pool do. Steady
state: the parent runs one simulation (imports, per-process set-up) before the clock starts.

    .venv/bin/python benchmarks/calibration_throughput.py                  # 1 worker, then all cores
    .venv/bin/python benchmarks/calibration_throughput.py --sims 40 --workers 2

Only the calibrator's public interface is used, so the same script measures an older checkout
(PYTHONPATH=<checkout>) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

_SIM = None  # the simulator, built before the workers fork
_POINTS: list[dict[str, float]] = []


def _setup(n_sims: int, scale: float) -> None:
    global _SIM, _POINTS
    from jjj_sim.core.resources import find
    from jjj_sim.runner.compose import compose
    from jjj_sim.runner.targets import load_targets
    from jjj_sim.tools.calibration.simulator import Simulator, parse_free

    cfg = compose([f"population.scale={scale}"], "calibrate")
    targets = load_targets(find(cfg.calibration.targets, "calibration.targets"))
    free = parse_free(cfg.calibration.free)
    _SIM = Simulator(cfg, targets, [0])
    rng = np.random.default_rng(2024)
    _POINTS = [{p.name: p.from_unit(u) for p, u in zip(free, rng.random(len(free)))} for _ in range(n_sims + 1)]
    _SIM.values(_POINTS[-1], 10**6)  # warm-up, off the clock


def _one(i: int) -> float:
    """Simulation i: its parameter set and seed i; returns its loss (a check that it ran)."""
    from jjj_sim.runner.targets import loss

    return loss(_SIM.targets, _SIM.values(_POINTS[i], i), _SIM.margin)


def calibration_throughput(n_sims: int, workers: int, scale: float = 0.1) -> dict:
    """Simulations per minute of the calibrator at ``scale`` (2014-2023, no event log)."""
    _setup(n_sims, scale)
    t0 = time.perf_counter()
    if workers == 1:
        losses = [_one(i) for i in range(n_sims)]
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            losses = pool.map(_one, range(n_sims), chunksize=1)
    wall = time.perf_counter() - t0
    return {"scale": scale, "end_year": _SIM.base["run"]["end_year"], "sims": n_sims, "workers": workers,
            "wall_s": wall, "sims_per_minute": 60 * n_sims / wall, "mean_loss": float(np.mean(losses))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=30, help="simulations per worker")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    ap.add_argument("--scale", type=float, default=0.1)
    args = ap.parse_args()
    for w in args.workers:
        print(json.dumps(calibration_throughput(args.sims * w, w, args.scale)), flush=True)


if __name__ == "__main__":
    main()

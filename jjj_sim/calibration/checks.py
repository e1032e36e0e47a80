"""Credibility checks of the calibration (results go to calibration/results/*.json).

    python -m jjj_sim.calibration.checks identification   # which targets move which parameters
    python -m jjj_sim.calibration.checks replications     # is the number of seeds enough?
    python -m jjj_sim.calibration.checks recovery         # fit targets made by the model at known parameters

All start from the fitted parameters (``--params``, default calibration/fitted/baseline.yaml)
and the free parameters and bounds of conf/calibrate.yaml.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from jjj_sim import config
from jjj_sim.calibration.simulator import Simulator, parse_free, replication_seeds
from jjj_sim.calibration.targets import load_targets
from jjj_sim.experiment import compose as compose_config
from jjj_sim.config import resolve_path
from jjj_sim.resources import project_root

ROOT = project_root() or Path()  # the checkout; installed from a wheel: the working directory
RESULTS = ROOT / "calibration" / "results"


def _setup(params_file: str, scale: float, seed: int = 2024):
    cfg = compose_config([f"population.scale={scale}"], "calibrate")
    targets = load_targets(resolve_path(cfg.calibration.targets, "calibration.targets"))
    free = parse_free(cfg.calibration.free)
    fitted = config.load_params_file(params_file)
    point = {p.name: float(fitted[p.name]) for p in free}
    return cfg, targets, free, point


def identification(params_file: str, scale: float, reps: int, step: float) -> dict:
    """Elasticities d log(target) / d log(parameter) at the fitted point (for a parameter whose
    bounds reach 0 or below, d log(target) per unit of it), by central finite differences with
    common random numbers (the same seeds at both sides)."""
    cfg, targets, free, point = _setup(params_file, scale)
    seeds = replication_seeds(99, reps)
    sim = Simulator(cfg, targets, seeds)
    rows, kinds = {}, {}
    for p in free:
        up, down = dict(point), dict(point)
        if p.low > 0:  # a positive parameter: elasticity, a relative step
            up[p.name], down[p.name] = point[p.name] * (1 + step), point[p.name] * (1 - step)
            denom = math.log(1 + step) - math.log(1 - step)
            kinds[p.name] = "elasticity"
        else:  # a constant that may be 0 or negative: d log(target) per unit, a step of +-step
            up[p.name], down[p.name] = point[p.name] + step, point[p.name] - step
            denom = 2 * step
            kinds[p.name] = "per unit"
        per_seed = []
        for s in seeds:
            a, b = sim.values(up, s), sim.values(down, s)
            per_seed.append([(math.log(max(a[t.id], 1e-9)) - math.log(max(b[t.id], 1e-9))) / denom
                             for t in targets])
        e = np.array(per_seed)
        rows[p.name] = {t.id: {"elasticity": float(e[:, j].mean()),
                               "se": float(e[:, j].std(ddof=1) / math.sqrt(reps)) if reps > 1 else float("nan")}
                        for j, t in enumerate(targets)}
    names = list(rows)
    mat = np.array([[rows[n][t.id]["elasticity"] for t in targets] for n in names])
    flags = {}
    for i, n in enumerate(names):
        if np.max(np.abs(mat[i])) < 0.05:
            flags[n] = "not identified: no target moves by more than 0.05% per 1% change"
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = mat[i], mat[j]
            if np.linalg.norm(a) > 0 and np.linalg.norm(b) > 0:
                cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
                if abs(cos) > 0.95:
                    flags[f"{names[i]} ~ {names[j]}"] = (f"only jointly identified: their effects on the targets point "
                                                         f"the same way (cosine {cos:+.3f})")
    rank = int(np.linalg.matrix_rank(mat, tol=0.05))
    return {"scale": scale, "replications": reps, "step": step, "point": point, "elasticities": rows, "kinds": kinds,
            "rank": rank, "targets": [t.id for t in targets], "flags": flags}


def replications(params_file: str, scales: list[float], seeds: int) -> dict:
    """Spread of the target indicators over seeds at the fitted point."""
    out = {"point": None, "by_scale": {}}
    for scale in scales:
        cfg, targets, free, point = _setup(params_file, scale)
        out["point"] = point
        ss = replication_seeds(7, seeds)
        sim = Simulator(cfg, targets, ss)
        runs = [sim.values(point, s) for s in ss]
        res = {}
        for t in targets:
            v = np.array([r[t.id] for r in runs])
            sd = float(v.std(ddof=1))
            res[t.id] = {"mean": float(v.mean()), "sd": sd, "cv": sd / float(v.mean()),
                         "se_of_mean_by_replications": {str(r): sd / math.sqrt(r) for r in (1, 2, 5, 10, 20)},
                         "half_width_90_of_mean_10_seeds": 1.645 * sd / math.sqrt(10),
                         "tolerance_abs": t.tolerance * t.value}
        out["by_scale"][str(scale)] = {"seeds": seeds, "targets": res}
    return out


def recovery(params_file: str, scale: float, seeds: int, budget: int, replications_: int, generations: int,
             population: int, out_dir: Path, start: str | None = None) -> dict:
    """Targets made by the model at known parameters (the fitted point, mean over seeds, as
    approx targets with 5% tolerance); the calibrator, started from the default bounds and a
    different seed, should recover the parameters."""
    cfg, targets, free, truth = _setup(params_file, scale)
    sim = Simulator(cfg, targets, replication_seeds(4242, seeds))
    runs = [sim.values(truth, s) for s in sim.seeds]
    synthetic = {"targets": [{
        "id": t.id, **t.measures, "year": t.year,
        "value": float(np.mean([r[t.id] for r in runs])), "kind": "approx", "tolerance": 0.05,
        "source": "synthetic: jjj-sim at the known parameters", "date": "n/a",
        "quote": f"mean of {seeds} seeds at {truth}"} for t in targets]}
    out_dir.mkdir(parents=True, exist_ok=True)
    tfile = out_dir / "synthetic_targets.yaml"
    tfile.write_text(yaml.safe_dump(synthetic, sort_keys=False), encoding="utf-8")
    run_dir = out_dir / "calibration"
    cmd = [str(Path(sys.executable).with_name("jjj-sim-calibrate")), f"calibration.targets={tfile}",
           f"population.scale={scale}", f"calibration.budget={budget}", f"calibration.replications={replications_}",
           f"calibration.abc.generations={generations}", f"calibration.abc.population_size={population}",
           f"calibration.check.scale={scale}", "calibration.check.replications=5", "seed=777",
           f"hydra.run.dir={run_dir}"] + ([f"calibration.start={start}"] if start else [])
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    rep = json.loads((run_dir / "fit_report.json").read_text())
    res = {}
    for p in free:
        est = rep["free"][p.name]["fitted"]
        r = {"truth": truth[p.name], "estimate": est, "relative_error": est / truth[p.name] - 1}
        if "posterior" in rep:
            q = rep["posterior"]["params"][p.name]
            r.update(p05=q["p05"], p95=q["p95"], truth_in_90=q["p05"] <= truth[p.name] <= q["p95"])
        res[p.name] = r
    return {"scale": scale, "target_seeds": seeds, "synthetic_targets": synthetic["targets"], "budget": budget,
            "start": start,
            "replications": replications_, "abc_generations": generations, "abc_population": population,
            "params": res, "best_loss": rep["optuna"]["best_loss"],
            "posterior_correlation": rep.get("posterior", {}).get("correlation")}


def main() -> None:
    ap = argparse.ArgumentParser(description="Credibility checks of the calibration")
    ap.add_argument("check", choices=("identification", "replications", "recovery"))
    ap.add_argument("--params", default="calibration/fitted/baseline.yaml")
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--reps", type=int, default=5, help="identification: seeds per side")
    ap.add_argument("--step", type=float, default=0.2, help="identification: relative step")
    ap.add_argument("--seeds", type=int, default=20, help="replications / recovery: seeds")
    ap.add_argument("--scales", default="0.1,1.0", help="replications: scales")
    ap.add_argument("--budget", type=int, default=1200, help="recovery: calibrator budget")
    ap.add_argument("--replications", type=int, default=2, help="recovery: calibrator replications")
    ap.add_argument("--generations", type=int, default=4, help="recovery: ABC generations")
    ap.add_argument("--population", type=int, default=100, help="recovery: ABC population")
    ap.add_argument("--start", help="recovery: a params file the calibrator starts from (calibration.start)")
    ap.add_argument("--tag", default="", help="suffix of the results file name (results/CHECK_TAG.json)")
    a = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if a.check == "identification":
        res = identification(a.params, a.scale, a.reps, a.step)
    elif a.check == "replications":
        res = replications(a.params, [float(s) for s in a.scales.split(",")], a.seeds)
    else:
        res = recovery(a.params, a.scale, a.seeds, a.budget, a.replications, a.generations, a.population,
                       ROOT / "outputs" / f"recovery{('_' + a.tag) if a.tag else ''}", a.start)
    res["command"] = " ".join(["python -m jjj_sim.calibration.checks", *sys.argv[1:]])
    path = RESULTS / f"{a.check}{('_' + a.tag) if a.tag else ''}.json"
    path.write_text(json.dumps(res, indent=1), encoding="utf-8")
    print(json.dumps(res, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

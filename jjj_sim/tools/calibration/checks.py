"""Credibility checks of the calibration.

    python -m jjj_sim.tools.calibration.checks identification   # which targets move which parameters
    python -m jjj_sim.tools.calibration.checks replications     # is the number of seeds enough?
    python -m jjj_sim.tools.calibration.checks recovery         # fit targets made by the model at known parameters

All start from the fitted parameters (``--params``, default calibration/fitted/baseline.yaml)
and the free parameters and bounds of conf/calibrate.yaml.

Each check writes ``<check>.json`` (``<check>_<tag>.json`` with ``--tag``), with the command
that made it, into ``--out DIR``; by default a new directory
``outputs/checks/<check>/<date>_<time>`` under the working directory, never the repository's
calibration/results/ (reproduce the committed results with ``--out calibration/results``, which
replaces them). The file is written under a temporary name and renamed when complete. The
recovery check's own work (synthetic targets, the calibration run) goes into the default
directory, whatever ``--out`` says. A bad ``--out`` (a file, or a place that cannot be
written) or a bad input is one line on stderr and exit code 2, before anything runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import find
from jjj_sim.core.seeds import replication_seeds
from jjj_sim.runner import config
from jjj_sim.runner.compose import compose as compose_config
from jjj_sim.runner.targets import load_targets
from jjj_sim.tools.calibration.simulator import Simulator, parse_free

PROG = "jjj_sim.tools.calibration.checks"
CHECKS = ("identification", "replications", "recovery")


def setup(params_file: str, scale: float):
    """The calibration's config at ``scale``, its targets, its free parameters and the fitted
    point ({name: value} from ``params_file``)."""
    cfg = compose_config([f"population.scale={scale}"], "calibrate")
    targets = load_targets(find(cfg.calibration.targets, "calibration.targets"))
    free = parse_free(cfg.calibration.free)
    fitted = config.load_params_file(params_file)
    point = {p.name: float(fitted[p.name]) for p in free}
    return cfg, targets, free, point


def identification(params_file: str, scale: float, reps: int, step: float) -> dict:
    """Elasticities d log(target) / d log(parameter) at the fitted point (for a parameter that
    may be negative, a constant of the choice model, d log(target) per unit of it), by central
    finite differences with common random numbers (the same seeds at both sides). A positive
    parameter whose bounds start at 0 takes relative steps too: a step of a fixed size would
    reach 0 (no refusals at a coverage of 0) and give a meaningless one-sided difference."""
    cfg, targets, free, point = setup(params_file, scale)
    seeds = replication_seeds(99, reps)
    sim = Simulator(cfg, targets, seeds)
    rows, kinds = {}, {}
    for p in free:
        up, down = dict(point), dict(point)
        x = point[p.name]
        if p.low >= 0 and x > 0:  # a positive parameter: elasticity, a relative step (inside the bounds)
            up[p.name], down[p.name] = min(x * (1 + step), p.high), max(x * (1 - step), p.low)
            denom = math.log(up[p.name]) - math.log(down[p.name])
            kinds[p.name] = "elasticity"
        else:  # may be 0 or negative: d log(target) per unit, a step of +-step (one-sided at a bound)
            up[p.name], down[p.name] = min(x + step, p.high), max(x - step, p.low)
            denom = up[p.name] - down[p.name]
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
        cfg, targets, free, point = setup(params_file, scale)
        out["point"] = point
        ss = replication_seeds(7, seeds)
        sim = Simulator(cfg, targets, ss)
        runs = [sim.values(point, s) for s in ss]
        res = {}
        for t in targets:
            v = np.array([r[t.id] for r in runs])
            sd = float(v.std(ddof=1))
            res[t.id] = {"mean": float(v.mean()), "sd": sd, "cv": sd / float(v.mean()) if v.mean() else None,
                         "se_of_mean_by_replications": {str(r): sd / math.sqrt(r) for r in (1, 2, 5, 10, 20)},
                         "half_width_90_of_mean_10_seeds": 1.645 * sd / math.sqrt(10),
                         "tolerance_abs": t.tolerance * t.value}
        out["by_scale"][str(scale)] = {"seeds": seeds, "targets": res}
    return out


def recovery(params_file: str, scale: float, seeds: int, budget: int, replications_: int, generations: int,
             population: int, out_dir: Path, start: str | None = None, polish: int | None = None,
             polish_method: str | None = None) -> dict:
    """Targets made by the model at known parameters (the fitted point, mean over seeds, as
    approx targets with each real target's tolerance, at least 5%, its span and weight); the calibrator, started from the default bounds and a
    different seed, should recover the parameters. The synthetic targets and the calibration
    run are written into ``out_dir``."""
    cfg, targets, free, truth = setup(params_file, scale)
    sim = Simulator(cfg, targets, replication_seeds(4242, seeds))
    runs = [sim.values(truth, s) for s in sim.seeds]
    synthetic = {"targets": [{
        "id": t.id, **t.measures, "year": t.year,
        "value": float(np.mean([r[t.id] for r in runs])), "kind": "approx", "tolerance": max(t.tolerance, 0.05),
        **({"since": t.since} if t.since is not None else {}), **({"weight": t.weight} if t.weight != 1 else {}),
        "source": "synthetic: jjj-sim at the known parameters", "date": "n/a",
        "quote": f"mean of {seeds} seeds at {truth}"} for t in targets]}
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    tfile = out_dir / "synthetic_targets.yaml"
    tfile.write_text(yaml.safe_dump(synthetic, sort_keys=False), encoding="utf-8")
    run_dir = out_dir / "calibration"
    cmd = [str(Path(sys.executable).with_name("jjj-sim-calibrate")), f"calibration.targets={tfile}",
           f"population.scale={scale}", f"calibration.budget={budget}", f"calibration.replications={replications_}",
           f"calibration.abc.generations={generations}", f"calibration.abc.population_size={population}",
           f"calibration.check.scale={scale}", "calibration.check.replications=5", "seed=777",
           f"hydra.run.dir={run_dir}"] + ([f"calibration.start={start}"] if start else []) \
        + ([f"calibration.polish={polish}"] if polish is not None else []) \
        + ([f"calibration.polish_method={polish_method}"] if polish_method else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:  # e.g. a synthetic target of 0 at a small scale: the calibrator's own one-line error
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        shutil.rmtree(run_dir, ignore_errors=True)  # the message says it all: leave no half-made work directory
        tfile.unlink(missing_ok=True)
        raise ConfigError("--scale", f"the calibrator failed on the synthetic targets (exit {done.returncode}): {said}")
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
            "polish": {k: v for k, v in (rep.get("polish") or {}).items() if k != "best"} or None,
            "posterior_correlation": rep.get("posterior", {}).get("correlation")}


def default_out(check: str) -> Path:
    """outputs/checks/CHECK/<date>_<time> under the working directory."""
    return Path("outputs") / "checks" / check / time.strftime("%Y-%m-%d_%H-%M-%S")


def make_out(out: Path) -> list[Path]:
    """Make the directory ``out`` (a ConfigError naming ``--out`` if it is a file or cannot be
    made or written); returns the directories it made, outermost first (see ``unmake``)."""
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", f"{out} is a file, not a directory")
    parent = next((p for p in [out, *out.absolute().parents] if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError("--out", f"cannot write into {parent if parent is not None else out}")
    made = [p for p in reversed([out.absolute(), *out.absolute().parents]) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        unmake(made)
        raise ConfigError("--out", f"cannot make {out} ({e.strerror or e})") from None
    return made


def unmake(made: list[Path]) -> None:
    """Remove the directories ``make_out`` made, if they are still empty."""
    for p in reversed(made):
        try:
            p.rmdir()
        except OSError:
            break


@contextmanager
def one_line_errors(prog: str, made: list[Path]):
    """Around a command's work: a ConfigError becomes one line on stderr and exit code 2, and a
    failed or interrupted command leaves behind none of the directories the body adds to ``made``
    (``make_out``'s list) that are still empty."""
    done = False
    try:
        yield
        done = True
    except ConfigError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    finally:
        if not done:
            unmake(made)


def write_result(out: Path, name: str, result: dict) -> Path:
    """Write ``result`` as ``out/name`` (all or nothing: a temporary file renamed into place)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    tmp = out / f".{name}.tmp-{os.getpid()}"
    try:
        tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m jjj_sim.tools.calibration.checks``: the check and its
    settings."""
    ap = argparse.ArgumentParser(prog=PROG, description="Credibility checks of the calibration")
    ap.add_argument("check", choices=CHECKS)
    ap.add_argument("--out", help="directory for CHECK.json (default: a new outputs/checks/CHECK/<date>_<time>; "
                                  "the committed results: --out calibration/results)")
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
    ap.add_argument("--polish", type=int, help="recovery: the calibrator's polish simulations (calibration.polish; "
                    "default conf/calibrate.yaml's)")
    ap.add_argument("--polish-method", help="recovery: nelder-mead or least-squares (calibration.polish_method; "
                    "default conf/calibrate.yaml's)")
    ap.add_argument("--tag", default="", help="suffix of the results file name (CHECK_TAG.json)")
    return ap


def main(argv: list[str] | None = None) -> None:
    """``python -m jjj_sim.tools.calibration.checks CHECK``: run one check (identification, replications
    or recovery), write ``<check>[_<tag>].json`` into ``--out`` (default a new
    outputs/checks/CHECK/<date>_<time>) and print it. A bad input or ``--out`` is one line on stderr and
    exit 2; a failed check leaves no empty directory."""
    argv = sys.argv[1:] if argv is None else list(argv)
    a = parser().parse_args(argv)
    name = f"{a.check}{('_' + a.tag) if a.tag else ''}"
    work = default_out(a.check)
    made: list[Path] = []
    with one_line_errors(PROG, made):
        if "/" in a.tag or a.tag in (".", ".."):
            raise ConfigError("--tag", f"must be a plain name, got {a.tag!r}")
        out = Path(a.out).expanduser() if a.out else work
        made += make_out(out)
        if a.check == "identification":
            res = identification(a.params, a.scale, a.reps, a.step)
        elif a.check == "replications":
            res = replications(a.params, [float(s) for s in a.scales.split(",")], a.seeds)
        else:
            made += [p for p in make_out(work) if p not in made]
            res = recovery(a.params, a.scale, a.seeds, a.budget, a.replications, a.generations, a.population,
                           work, a.start, a.polish, a.polish_method)
        res["command"] = " ".join(["python -m jjj_sim.tools.calibration.checks", *argv])
        try:
            path = write_result(out, f"{name}.json", res)
        except OSError as e:  # the directory was checked before the check ran, but may have changed
            raise ConfigError("--out", f"cannot write {out / (name + '.json')} ({e.strerror or e})") from None
    print(json.dumps(res, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

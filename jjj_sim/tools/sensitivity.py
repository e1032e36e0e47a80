"""``jjj-sim-sensitivity``: Morris screening and Sobol indices (SALib) of chosen parameters on
chosen indicators.

    jjj-sim-sensitivity                                     # experiments/sensitivity.yaml (Morris)
    jjj-sim-sensitivity --method sobol --out out/sobol
    jjj-sim-sensitivity experiments/sensitivity.yaml --method morris --replications 4

Every sample point runs on ``replications`` seeds (the same seeds at every point: common
random numbers) and the indices are computed on the mean over them, so simulation noise does
not pass for sensitivity. The report gives, per indicator, the *noise share*: the variance of
a point's mean that comes from the seeds (within-point variance / replications) over the
variance of the point means across the sample. A noise share near 1 means the indices of that
indicator are noise. Confidence intervals are SALib's bootstrap intervals (95%).
Writes sensitivity.json, indices.csv, samples.parquet, report.md and plots/ into the output
directory.

``samples.parquet`` holds every model run, one row each: ``sample`` (the row of SALib's sample
matrix, 0..points-1, in SALib's order), ``replication`` (0..replications-1) and its ``seed``,
one float column per parameter (its dotted name under ``params``, e.g.
``closure.annual_pace``) and one float column per outcome (``INDICATOR@YEAR``, e.g.
``beijing_closures_cum@2016``). Rows are sorted by sample, then replication. Its Parquet
metadata (key ``jjj_sim``, JSON) records what SALib needs besides: ``method``, ``settings``
(Morris ``levels``, Sobol ``n``; Sobol is sampled and analysed without second-order indices),
``problem`` (names and bounds), ``outcomes``, ``seed`` (of the sample and of the bootstrap) and
``seeds``. The indices are recomputed from the file alone by
``analyse(*load_samples(path))`` or by hand::

    df = pd.read_parquet("samples.parquet")
    X = df.groupby("sample")[names].first().to_numpy()         # SALib's sample matrix
    y = df.groupby("sample")["beijing_closures_cum@2016"].mean().to_numpy()   # mean over seeds
    SALib.analyze.morris.analyze(problem, X, y, num_levels=levels)  # or sobol.analyze(problem, y,
                                                                    #    calc_second_order=False)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from jjj_sim import __version__
from jjj_sim.core.checks import count, whole_number
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.seeds import replication_seeds
from jjj_sim.core.timeline import MAX_END_YEAR, START_YEAR
from jjj_sim.runner.compose import scenario_spec
from jjj_sim.runner.entry import tool_errors
from jjj_sim.runner.files import check_keys, load_experiment
from jjj_sim.runner.jobs import JOBS_DIR, run_jobs
from jjj_sim.runner.params import param_range, param_rule
from jjj_sim.runner.rundir import new_output_dir, staged
from jjj_sim.sim import indicators
from jjj_sim.sim.indicators import INDICATORS


def parse(exp: dict) -> tuple[dict, list[tuple[str, int]]]:
    """Check an experiments file: returns SALib's problem ({num_vars, names, bounds} of ``params``) and
    the outputs [(indicator, year)] of ``indicators``; the other settings are checked too
    (ConfigError)."""
    params = exp.get("params") or {}
    if not params:
        raise ConfigError("params", "name at least one parameter with [low, high] bounds")
    problem = {"num_vars": len(params), "names": [], "bounds": []}
    for name, b in params.items():
        field = f"params.{name}"
        if param_rule(name) is None:
            raise ConfigError(field, "not a real-valued model parameter")
        if not isinstance(b, (list, tuple)) or len(b) != 2:
            raise ConfigError(field, "bounds must be [low, high]")
        r = param_range(name, b[0], b[1], field=field, bounds_field=field)
        problem["names"].append(r.name)
        problem["bounds"].append([r.low, r.high])
    outputs = []
    for item in exp.get("indicators") or []:
        name, _, year = str(item).partition("@")
        if name not in INDICATORS:
            raise ConfigError(f"indicators:{item}", f"unknown indicator '{name}'")
        if not year.isdigit():
            raise ConfigError(f"indicators:{item}", "write INDICATOR@YEAR")
        if not START_YEAR <= int(year) <= MAX_END_YEAR:
            raise ConfigError(f"indicators:{item}", f"the year must be from {START_YEAR} to {MAX_END_YEAR}")
        outputs.append((name, int(year)))
    if not outputs:
        raise ConfigError("indicators", "name at least one INDICATOR@YEAR")
    _check_settings(exp)
    return problem, outputs


METHODS = ("morris", "sobol")



def _check_settings(exp: dict) -> None:
    """The experiment's settings other than params and indicators: types and ranges."""
    method = exp.get("method", "morris")
    if method not in METHODS:
        raise ConfigError("method", f"expected one of {', '.join(METHODS)}, got {method!r}")
    count(exp.get("replications", 2), "replications", "replications")
    whole_number(exp.get("seed", 2014), "seed", 0)
    scale = exp.get("population_scale", 0.05)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise ConfigError("population_scale", f"expected a number, got {scale!r}")
    for key, fields in (("morris", {"trajectories": 2, "levels": 2}), ("sobol", {"n": 2})):
        sub = exp.get(key, {})
        if not isinstance(sub, dict):
            raise ConfigError(key, f"expected a mapping of {', '.join(fields)}")
        check_keys(sub, tuple(fields), f"{key}.")
        for k, minimum in fields.items():
            if k in sub:
                count(sub[k], f"{key}.{k}", "samples", minimum)
    levels = exp.get("morris", {}).get("levels", 4)
    if levels % 2:
        raise ConfigError("morris.levels", f"must be even (SALib's Morris grid), got {levels}")


def _point(job) -> list[list[float]]:
    """One sample point over the replication seeds: [seed][output] values."""
    # lazy: the model (mesa, scipy) is 0.8 s of start-up (benchmarks/startup.py); only the
    # worker processes that simulate need it
    from jjj_sim.runner.simulate import simulate

    x, names, seeds, spec, overrides, outputs = job

    base = spec.compose([*overrides, *[f"params.{n}={v!r}" for n, v in zip(names, x)]])
    res = []
    for seed in seeds:
        cfg = OmegaConf.create(OmegaConf.to_container(base))
        cfg.seed = int(seed)
        model, _ = simulate(cfg)
        ye = indicators.year_end(model)
        res.append([ye[name][str(year)] for name, year in outputs])
    return res


def analyse(method: str, problem: dict, X: np.ndarray, Y: np.ndarray, settings: dict, seed: int) -> dict:
    """Indices per output from Y [points, replications, outputs]."""
    from SALib.analyze import morris as morris_a
    from SALib.analyze import sobol as sobol_a

    means = Y.mean(axis=1)
    out = {}
    for j in range(Y.shape[2]):
        y = means[:, j]
        within = Y[:, :, j].var(axis=1, ddof=1).mean() / Y.shape[1] if Y.shape[1] > 1 else float("nan")
        total = y.var(ddof=1)
        res = {"noise_share": float(within / total) if total > 0 else float("nan"), "mean": float(y.mean())}
        if method == "morris":
            a = morris_a.analyze(problem, X, y, num_levels=settings["levels"], conf_level=0.95, seed=seed,
                                 print_to_console=False)
            for i, n in enumerate(problem["names"]):
                res[n] = {"mu_star": float(a["mu_star"][i]), "mu_star_conf": float(a["mu_star_conf"][i]),
                          "mu": float(a["mu"][i]), "sigma": float(a["sigma"][i])}
        else:
            a = sobol_a.analyze(problem, y, calc_second_order=False, conf_level=0.95, seed=seed,
                                print_to_console=False)
            for i, n in enumerate(problem["names"]):
                res[n] = {"S1": float(a["S1"][i]), "S1_conf": float(a["S1_conf"][i]),
                          "ST": float(a["ST"][i]), "ST_conf": float(a["ST_conf"][i])}
        out[j] = res
    return out


SAMPLES_META_KEY = b"jjj_sim"


def samples_table(names: list[str], X: np.ndarray, Y: np.ndarray, seeds: list[int],
                  outcomes: list[str]) -> pd.DataFrame:
    """One row per model run: sample, replication, seed, the parameters, the outcomes
    (X [points, parameters], Y [points, replications, outcomes])."""
    points, reps = Y.shape[0], Y.shape[1]
    cols = {"sample": np.repeat(np.arange(points, dtype=np.int64), reps),
            "replication": np.tile(np.arange(reps, dtype=np.int64), points),
            "seed": np.tile(np.asarray(seeds, dtype=np.int64), points)}
    for i, n in enumerate(names):
        cols[n] = np.repeat(X[:, i].astype(float), reps)
    for j, o in enumerate(outcomes):
        cols[o] = Y[:, :, j].astype(float).ravel()
    return pd.DataFrame(cols)


def write_samples(path: Path, result: dict, X: np.ndarray, Y: np.ndarray, outcomes: list[str], seed: int) -> None:
    """samples.parquet (module docstring), with what SALib needs in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {"method": result["method"], "settings": result["settings"], "problem": result["problem"],
            "outcomes": outcomes, "seed": seed, "seeds": result["seeds"], "version": result["version"]}
    t = pa.Table.from_pandas(samples_table(result["problem"]["names"], X, Y, result["seeds"], outcomes),
                             preserve_index=False)
    t = t.replace_schema_metadata({**(t.schema.metadata or {}), SAMPLES_META_KEY: json.dumps(meta).encode()})
    pq.write_table(t, path)


def load_samples(path) -> tuple[str, dict, np.ndarray, np.ndarray, dict, int]:
    """(method, problem, X, Y [points, replications, outcomes], settings, seed) from a
    samples.parquet: the arguments of ``analyse``. Raises ValueError if the file is not one."""
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    raw = (t.schema.metadata or {}).get(SAMPLES_META_KEY)
    if not raw:
        raise ValueError(f"{path}: no jjj_sim metadata (not a jjj-sim-sensitivity samples file)")
    meta = json.loads(raw)
    df = t.to_pandas().sort_values(["sample", "replication"], kind="stable")
    names, outcomes = meta["problem"]["names"], meta["outcomes"]
    missing = [c for c in ("sample", "replication", "seed", *names, *outcomes) if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    points, reps = df["sample"].nunique(), df["replication"].nunique()
    if len(df) != points * reps:
        raise ValueError(f"{path}: expected {points} samples x {reps} replications, got {len(df)} rows")
    X = df.groupby("sample")[names].first().to_numpy(dtype=float)
    Y = df[outcomes].to_numpy(dtype=float).reshape(points, reps, len(outcomes))
    return meta["method"], meta["problem"], X, Y, meta["settings"], int(meta["seed"])


EXPERIMENT_KEYS = ("method", "params", "indicators", "replications", "seed", "population_scale", "scenario",
                   "morris", "sobol", "overrides", "description")


def run(exp: dict, method: str, out: Path, workers: int, base_dir: Path | None = None) -> dict:
    """Sample the parameters (Morris or Sobol), run every point on the replication seeds with
    ``run_jobs`` (results saved in ``out/.jobs`` for resuming), compute the indices and write the
    outputs into ``out``, all or nothing. Returns the result written as sensitivity.json."""
    from SALib.sample import morris as morris_s
    from SALib.sample import sobol as sobol_s


    problem, outputs = parse(exp)
    reps = exp.get("replications", 2)
    seed = exp.get("seed", 2014)
    spec = scenario_spec(exp.get("scenario", "baseline"), base_dir, "scenario")
    overrides = [f"population.scale={exp.get('population_scale', 0.05)}",
                 f"run.end_year={max(y for _, y in outputs)}",
                 "run.record_events=false", "run.plots=false", *[str(o) for o in exp.get("overrides") or []]]
    spec.compose(overrides)  # check before running anything
    if method == "morris":
        settings = {"trajectories": int(exp.get("morris", {}).get("trajectories", 10)),
                    "levels": int(exp.get("morris", {}).get("levels", 4))}
        X = morris_s.sample(problem, settings["trajectories"], num_levels=settings["levels"], seed=seed)
    else:
        n = int(exp.get("sobol", {}).get("n", 64))
        if n < 2 or n & (n - 1):
            raise ConfigError("sobol.n", f"must be a power of 2 (Sobol' sequence), got {n}")
        settings = {"n": n}
        X = sobol_s.sample(problem, n, calc_second_order=False, seed=seed)
    seeds = replication_seeds(seed, reps)
    jobs = [(x.tolist(), problem["names"], seeds, spec, overrides, outputs) for x in X]
    t0 = time.perf_counter()
    plan = {"version": __version__, "method": method, "settings": settings, "seed": seed, "seeds": seeds,
            "problem": problem, "outputs": outputs, "scenario": spec.name, "source": spec.source,
            "scenario_overrides": list(spec.overrides), "overrides": overrides}
    Y = run_jobs(_point, jobs, workers, out / JOBS_DIR, plan, lambda i, job: f"sample point {i}")
    Y = np.array(Y)  # [points, replications, outputs]
    seconds = time.perf_counter() - t0
    idx = analyse(method, problem, X, Y, settings, seed)
    result = {"version": __version__, "method": method, "settings": settings, "replications": reps,
              "seeds": seeds, "scenario": spec.name, "overrides": overrides, "problem": problem, "points": len(X),
              "simulations": len(X) * reps, "seconds": seconds,
              "indicators": {f"{n}@{y}": idx[j] for j, (n, y) in enumerate(outputs)}}
    with staged(out, last="report.md") as staging:
        (staging / "sensitivity.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        rows = [{"indicator": ind, "parameter": p, **v, "noise_share": r["noise_share"]}
                for ind, r in result["indicators"].items() for p, v in r.items() if isinstance(v, dict)]
        pd.DataFrame(rows).to_csv(staging / "indices.csv", index=False)
        write_samples(staging / "samples.parquet", result, X, Y, [f"{n}@{y}" for n, y in outputs], seed)
        _plots(staging / "plots", result)
        (staging / "report.md").write_text(_report(result), encoding="utf-8")
    return result


def _report(r: dict) -> str:
    names = r["problem"]["names"]
    key = ("mu_star", "mu_star_conf") if r["method"] == "morris" else ("ST", "ST_conf")
    label = "mu* (95% CI)" if r["method"] == "morris" else "total-order S_T (95% CI)"
    lines = ["# Sensitivity analysis", "",
             f"jjj-sim {r['version']}; {r['method']} ({r['settings']}); {r['points']} sample points x "
             f"{r['replications']} seeds = {r['simulations']} simulations in {r['seconds']:.0f} s; "
             f"scenario {r.get('scenario', 'baseline')}; "
             f"runs: {' '.join(r['overrides'])}.", "",
             f"Cells: {label}. Noise share: the part of the variance of the point means that comes from the seeds.",
             "", "| indicator | noise share | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for ind, v in r["indicators"].items():
        cells = [f"{v[n][key[0]]:.3g} (+-{v[n][key[1]]:.2g})" for n in names]
        lines.append(f"| {ind} | {v['noise_share']:.3f} | " + " | ".join(cells) + " |")
    if r["method"] == "sobol":
        lines += ["", "First-order S_1:", "", "| indicator | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for ind, v in r["indicators"].items():
            lines.append(f"| {ind} | " + " | ".join(f"{v[n]['S1']:.3f} (+-{v[n]['S1_conf']:.2g})" for n in names) + " |")
    return "\n".join(lines) + "\n"


def _plots(out: Path, r: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    names = r["problem"]["names"]
    inds = list(r["indicators"])
    fig, axes = plt.subplots(1, len(inds), figsize=(5 * len(inds), 4), squeeze=False)
    for ax, ind in zip(axes[0], inds):
        v = r["indicators"][ind]
        if r["method"] == "morris":
            for n in names:
                ax.errorbar(v[n]["mu_star"], v[n]["sigma"], xerr=v[n]["mu_star_conf"], fmt="o")
                ax.annotate(n.split(".")[-1], (v[n]["mu_star"], v[n]["sigma"]), fontsize=7)
            ax.set_xlabel("mu*")
            ax.set_ylabel("sigma")
        else:
            xs = np.arange(len(names))
            ax.bar(xs - 0.2, [v[n]["S1"] for n in names], 0.4, yerr=[v[n]["S1_conf"] for n in names], label="S1")
            ax.bar(xs + 0.2, [v[n]["ST"] for n in names], 0.4, yerr=[v[n]["ST_conf"] for n in names], label="ST")
            ax.set_xticks(xs, [n.split(".")[-1] for n in names], rotation=30, fontsize=7)
            ax.legend(fontsize=7)
        ax.set_title(f"{ind} (noise share {v['noise_share']:.2f})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / f"{r['method']}.png", dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    """``jjj-sim-sensitivity``: read the experiments file, apply ``--method``, ``--replications`` and
    ``--scale``, check it before the output directory is made, ``run`` it and print the report (bad
    input: one line, exit 2)."""
    ap = argparse.ArgumentParser(prog="jjj-sim-sensitivity", description="Morris or Sobol sensitivity (SALib).")
    ap.add_argument("experiment", nargs="?", default="experiments/sensitivity.yaml")
    ap.add_argument("--method", choices=("morris", "sobol"), default=None)
    ap.add_argument("--replications", type=int)
    ap.add_argument("--scale", type=float)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    with tool_errors("jjj-sim-sensitivity", a.out):
        e = load_experiment(a.experiment, EXPERIMENT_KEYS)
        exp = e.data
        if a.method is not None:
            exp["method"] = a.method
        if a.replications is not None:
            exp["replications"] = a.replications
        if a.scale is not None:
            exp["population_scale"] = a.scale
        parse(exp)
        count(a.workers, "--workers", "workers")
        method = exp.get("method", "morris")
        with new_output_dir(a.out, "sensitivity") as out:
            res = run(exp, method, out, a.workers, e.base_dir)
    print(_report(res))
    print(f"outputs: {out}")


if __name__ == "__main__":
    main()

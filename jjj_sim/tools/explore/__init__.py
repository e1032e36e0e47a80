"""``jjj-sim-explore``: exploratory modelling with the EMA Workbench (ema-workbench 3.x).

    jjj-sim-explore experiments/explore_hebei.yaml
    jjj-sim-explore experiments/explore_hebei.yaml --evaluator multiprocessing --workers 2 --out out/explore
    mpiexec -n 16 python -m mpi4py.futures -m jjj_sim.tools.explore FILE.yaml --evaluator mpi   (a cluster: docs/explore.md)

The experiments file names levers (a lever's value from a fixed date, or the date it starts
at a fixed value), uncertainties (behavioural parameters over stated ranges, and/or draws of
the calibration's posterior), outcomes (``indicator[year]``), a design (N scenarios x M
policies from EMA's samplers), a PRIM condition and feature scoring. The jjj-sim model is
wrapped as an EMA ``Model`` (``ReplicatorModel`` when every experiment runs on several seeds)
whose function composes the run's overrides and simulates it through the runner (``runner.simulate``).
EMA's ``perform_experiments`` runs the design with its sequential, multiprocessing or MPI
evaluator; PRIM (``ema_workbench.analysis.prim``) and feature scoring
(``feature_scoring.get_feature_scores_all``) analyse it.

Writes into the output directory (all or nothing): results.tar.gz (EMA's ``save_results``),
experiments.parquet (one row per experiment), results.parquet (tidy: one row per experiment,
outcome and seed), prim_box.csv, prim_trajectory.csv, feature_scores.csv, plots/*.png,
explore.json (the resolved experiment, versions, seeds, timings, the PRIM result) and report.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from importlib.metadata import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from jjj_sim import __version__
from jjj_sim.core.checks import count
from jjj_sim.core.errors import ConfigError
from jjj_sim.runner import posterior as post
from jjj_sim.runner.entry import tool_errors
from jjj_sim.runner.files import load_experiment
from jjj_sim.runner.rundir import new_output_dir, staged
from jjj_sim.tools.explore.plan import (
    DRAW,
    EVALUATORS,
    EXPERIMENT_KEYS,
    SAMPLERS,
    TOOL,
    Condition,
    Plan,
    Runner,
    month_of,
    param_name,
    parse,
)


# ---------------------------------------------------------------------------- EMA
def _ema():
    """ema_workbench, imported quietly (it warns at import about optional packages it lacks)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ema_workbench
        import ema_workbench.analysis.feature_scoring  # noqa: F401
        import ema_workbench.analysis.prim  # noqa: F401
    return ema_workbench


def build_model(plan: Plan):
    """The plan as an EMA model whose function is a ``Runner``: a ``Model`` with the seed as a constant
    and scalar outcomes (one seed), or a ``ReplicatorModel`` over the seeds with array outcomes; the
    parameters and the posterior draw as uncertainties, the levers as levers."""
    ema = _ema()
    from ema_workbench.em_framework.outcomes import register

    # EMA keeps one process-wide register of outcome classes by name (save_results reads it):
    # forget this plan's names, so a model built earlier in this process with the other class
    # (scalar for one seed, array for several) does not clash
    for o in plan.outcomes:
        register.outcomes.pop(o.name, None)
    reps = len(plan.seeds)
    if reps == 1:
        model = ema.Model("jjj_sim", function=Runner(plan))
        model.constants = [ema.Constant("seed", plan.seeds[0])]
        model.outcomes = [ema.ScalarOutcome(o.name) for o in plan.outcomes]
    else:
        model = ema.ReplicatorModel("jjj_sim", function=Runner(plan))
        model.replications = [{"seed": s} for s in plan.seeds]
        model.outcomes = [ema.ArrayOutcome(o.name) for o in plan.outcomes]
    model.uncertainties = [ema.RealParameter(param_name(n), lo, hi) for n, (lo, hi) in plan.params.items()] + (
        [ema.IntegerParameter(DRAW, 0, plan.posterior["draws"] - 1)] if plan.posterior else [])
    model.levers = [ema.RealParameter(lv.name, lv.low, lv.high) for lv in plan.levers]
    return model


def check_evaluator(name: str, workers: int | None) -> None:
    """Refuse an unknown ``--evaluator``, a bad ``--workers``, or ``mpi`` without mpi4py
    (ConfigError)."""
    if name not in EVALUATORS:
        raise ConfigError("--evaluator", f"expected one of {', '.join(EVALUATORS)}, got {name!r}")
    if workers is not None:
        count(workers, "--workers", "workers")
    if name == "mpi":
        try:
            import mpi4py  # noqa: F401
        except ImportError:
            raise ConfigError("--evaluator", "mpi needs mpi4py and an MPI library (pip install mpi4py); "
                                             "run under mpiexec, see docs/explore.md") from None


def evaluator(name: str, model, workers: int | None):
    """EMA's evaluator. ``workers``: the pool's processes (multiprocessing: default all cores;
    MPI: default what mpi4py.futures gives, the ranks of ``mpiexec -n N`` but one)."""
    ema = _ema()
    if name == "sequential":
        return ema.SequentialEvaluator(model)
    if name == "multiprocessing":
        return ema.MultiprocessingEvaluator(model, n_processes=workers or os.cpu_count() or 1)
    with warnings.catch_warnings():  # EMA marks its MPIEvaluator experimental (FutureWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return ema.MPIEvaluator(model, n_processes=workers)


def sampler_seeds(seed: int) -> tuple[int, int, int]:
    """Seeds for the uncertainty sampler, the lever sampler and the feature-scoring trees."""
    return tuple(int(s.generate_state(1)[0]) for s in np.random.SeedSequence([seed, 0x45]).spawn(3))


def perform(plan: Plan, evaluator_name: str, workers: int | None):
    """Run the design with EMA; returns (experiments, outcomes) as EMA gives them."""
    ema = _ema()
    model = build_model(plan)
    u_seed, l_seed, _ = sampler_seeds(plan.seed)
    d = plan.design
    levers_only = not d["scenarios"]
    if levers_only:  # EMA 3.0 fails on levers without uncertainties: its uncertainties, labels swapped back below
        model.uncertainties, model.levers = list(model.levers), []
    u_sampler, l_sampler = SAMPLERS[d["lever_sampler" if levers_only else "sampler"]], SAMPLERS[d["lever_sampler"]]
    with evaluator(evaluator_name, model, workers) as ev:
        experiments, outcomes = ema.perform_experiments(
            model, scenarios=d["policies"] if levers_only else d["scenarios"], policies=0 if levers_only else
            d["policies"], evaluator=ev,
            uncertainty_sampling=ema.Samplers[u_sampler], uncertainty_sampling_kwargs={"rng": l_seed if levers_only
                                                                                      else u_seed},
            lever_sampling=ema.Samplers[l_sampler], lever_sampling_kwargs={"rng": l_seed},
            log_progress=True, reporting_frequency=10)
    if levers_only:
        experiments = experiments.rename(columns={"scenario": "policy", "policy": "scenario"})
    return experiments, outcomes


# ---------------------------------------------------------------------------- tables
def input_columns(plan: Plan) -> list[str]:
    """The EMA names of the sampled inputs: the parameters, the posterior draw, then the levers."""
    return [param_name(n) for n in plan.params] + ([DRAW] if plan.posterior else []) + [lv.name for lv in plan.levers]


def experiments_table(plan: Plan, experiments: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment: its ids, the sampled values (typed), the start months of start
    levers and, with posterior draws, the drawn parameter values."""
    x = pd.DataFrame({"experiment": np.arange(len(experiments), dtype=np.int64)})
    x["scenario"] = pd.factorize(experiments["scenario"].astype(str), sort=False)[0].astype(np.int64)
    x["policy"] = pd.factorize(experiments["policy"].astype(str), sort=False)[0].astype(np.int64)
    for c in input_columns(plan):
        x[c] = experiments[c].to_numpy(dtype=np.int64 if c == DRAW else float)
    for lv in plan.levers:
        if lv.kind == "start":
            x[f"{lv.name}_month"] = [month_of(t) for t in x[lv.name]]
    if plan.posterior:
        p = post.load(plan.posterior["file"], "uncertainties.posterior.file")
        draws = [p.draw(int(k)) for k in x[DRAW]]
        for n in p.names:
            if n not in plan.params:  # a stated range wins over the draw
                x[param_name(n)] = np.array([d[n] for d in draws], dtype=float)
    return x


def analysis_columns(plan: Plan, table: pd.DataFrame) -> list[str]:
    """The inputs PRIM and feature scoring look at: the stated parameters, the drawn parameter
    values (not the draw index: it has no order) and the levers."""
    cols = [param_name(n) for n in plan.params]
    if plan.posterior:
        known = set(input_columns(plan)) | {f"{lv.name}_month" for lv in plan.levers} | {"experiment", "scenario", "policy"}
        cols += [c for c in table.columns if c not in known and c != "case_of_interest"]
    return cols + [lv.name for lv in plan.levers]


def outcome_means(plan: Plan, outcomes: dict) -> dict[str, np.ndarray]:
    """Per outcome label: one value per experiment (the mean over seeds)."""
    out = {}
    for o in plan.outcomes:
        v = np.asarray(outcomes[o.name], dtype=float)
        out[o.label] = v.mean(axis=1) if v.ndim == 2 else v
    return out


def tidy_results(plan: Plan, table: pd.DataFrame, outcomes: dict) -> pd.DataFrame:
    """One row per experiment, outcome and seed, with the experiment's inputs as typed columns."""
    parts = []
    n = len(table)
    for o in plan.outcomes:
        v = np.asarray(outcomes[o.name], dtype=float).reshape(n, -1)
        for r, s in enumerate(plan.seeds):
            df = table.copy()
            df["outcome"] = o.label
            df["indicator"] = o.indicator
            df["year"] = np.int64(o.year)
            df["replication"] = np.int64(r)
            df["seed"] = np.int64(s)
            df["value"] = v[:, r]
            parts.append(df)
    res = pd.concat(parts, ignore_index=True)
    return res.sort_values(["experiment", "outcome", "replication"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------- analysis
def run_prim(plan: Plan, x: pd.DataFrame, y: np.ndarray, plots: Path) -> dict:
    """PRIM on the condition: the peeling trajectory, the chosen box (EMA 3 has no density
    threshold of its own: the highest coverage among boxes that restrict at least one input and
    reach density >= threshold, else the last box of the trajectory), its limits, coverage,
    density and quasi-p values, and its plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ema = _ema()
    prim = ema.analysis.prim
    s = plan.prim
    k, n = int(y.sum()), len(y)
    res = {"condition": s["condition"].text, "cases_of_interest": k, "cases": n,
           "settings": {key: s[key] for key in ("threshold", "peel_alpha", "paste_alpha", "mass_min")}}
    if k == 0 or k == n:
        res["note"] = f"{'no' if k == 0 else 'every'} case meets the condition: nothing for PRIM to separate"
        return res
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alg = prim.Prim(x, y, peel_alpha=s["peel_alpha"], paste_alpha=s["paste_alpha"], mass_min=s["mass_min"])
        box = alg.find_box()
    traj = box.peeling_trajectory.copy()
    ok = traj[(traj["density"] >= s["threshold"]) & (traj["res_dim"] > 0)]  # a box that restricts nothing explains nothing
    if len(ok):
        i = int(ok.sort_values(["coverage", "density", "res_dim"], ascending=[False, False, True], kind="stable").index[0])
        rule = f"the highest coverage among restricting boxes of density >= {s['threshold']:g}"
    else:
        i = int(traj.index[-1])
        rule = f"no restricting box reaches density {s['threshold']:g}: the last box of the peeling trajectory"
    box.select(i)
    stats, lims = box.inspect(i, style="data")[0]
    init = alg.box_init
    rows = []
    for var in lims.index:
        lo, hi = box.box_lims[i][var]
        qp = box.p_values[i].get(var, [np.nan, np.nan])
        rows.append({"variable": var, "box_low": float(lo), "box_high": float(hi),
                     "data_low": float(init[var].iloc[0]), "data_high": float(init[var].iloc[1]),
                     "qp_low": float(qp[0]) if qp[0] >= 0 else float("nan"),
                     "qp_high": float(qp[1]) if qp[1] >= 0 else float("nan")})
        rows[-1]["significant"] = bool(np.nanmin([rows[-1]["qp_low"], rows[-1]["qp_high"], np.inf]) < 0.05)
    res |= {"box": i, "rule": rule, "coverage": float(stats["coverage"]), "density": float(stats["density"]),
            "mass": float(stats["mass"]), "res_dim": int(stats["res_dim"]), "n_in_box": int(stats["n"]),
            "coi_in_box": int(stats["k"]), "limits": rows, "trajectory": traj}
    plots.mkdir(parents=True, exist_ok=True)
    fig = box.show_tradeoff(annotated=False)
    ax = fig.axes[0]
    ax.scatter([res["coverage"]], [res["density"]], s=220, facecolors="none", edgecolors="red", linewidths=1.5,
               label=f"chosen box {i}")
    ax.legend(loc="lower left", fontsize=7)
    ax.set_title(f"PRIM peeling trajectory\n{res['condition']}", fontsize=9)
    fig.savefig(plots / "prim_tradeoff.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    if res["res_dim"] > 0:
        fig = box.inspect(i, style="graph", boxlim_formatter="{: .3g}")[0]
        fig = fig if hasattr(fig, "savefig") else fig.figure
        fig.set_size_inches(10, 1.8 + 0.7 * res["res_dim"])
        fig.suptitle(f"PRIM box {i}: {res['condition']}", fontsize=9)
        fig.savefig(plots / "prim_box.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    plt.close("all")
    return res


def feature_scores(x: pd.DataFrame, ys: dict[str, np.ndarray], seed: int, plots: Path) -> pd.DataFrame:
    """Extra-trees feature scores of every input on every outcome (EMA's get_feature_scores_all)
    and their heatmap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ema = _ema()
    fsm = ema.analysis.feature_scoring
    from ema_workbench.analysis.scenario_discovery_util import RuleInductionType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # max_features: EMA's default, a third of the inputs, but at least 1 (0 with one input fails)
        scores = fsm.get_feature_scores_all(x, ys, alg="extra trees", mode=RuleInductionType.REGRESSION,
                                            random_state=seed, max_features=max(1, round(x.shape[1] / 3)))
    scores = scores.reindex(index=x.columns)[list(ys)]
    plots.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(3.5 + 1.6 * len(ys), 1.5 + 0.45 * len(x.columns)))
    im = ax.imshow(scores.to_numpy(dtype=float), cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(len(ys)), list(ys), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(x.columns)), list(x.columns), fontsize=8)
    top = float(np.nanmax(scores.to_numpy(dtype=float))) if scores.size else 1.0
    for (r, c), v in np.ndenumerate(scores.to_numpy(dtype=float)):
        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 * top else "black")
    fig.colorbar(im, ax=ax, label="feature score")
    ax.set_title("Feature scores (extra-trees importances; each column sums to 1)", fontsize=9)
    fig.savefig(plots / "feature_scores.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return scores


# ---------------------------------------------------------------------------- run
def ema_licence() -> str:
    """The EMA Workbench's licence, named from its package metadata."""
    m = metadata("ema_workbench")
    classifiers = [c.split("::")[-1].strip() for c in m.get_all("Classifier") or [] if c.startswith("License ::")]
    name = ", ".join(classifiers) or "see its LICENSE.md"
    if name == "BSD License" and "Neither the name" in (m.get("License") or ""):
        name = "BSD 3-Clause License"
    return name


def run(plan: Plan, out: Path, evaluator_name: str = "sequential", workers: int | None = None) -> dict:
    """Run the plan with EMA, analyse it (PRIM, feature scoring) and write every output into ``out``,
    all or nothing; returns the metadata written as explore.json."""
    ema = _ema()
    ema.ema_logging.log_to_stderr(ema.ema_logging.INFO)
    t0 = time.perf_counter()
    experiments, outcomes = perform(plan, evaluator_name, workers)
    seconds = time.perf_counter() - t0
    table = experiments_table(plan, experiments)
    means = outcome_means(plan, outcomes)
    cond = plan.prim["condition"] if plan.prim else None
    if cond is not None:
        table["case_of_interest"] = cond(means[cond.outcome.label])
    _, _, fs_seed = sampler_seeds(plan.seed)
    cols = analysis_columns(plan, table)
    x = table[cols].copy()
    meta = {"tool": TOOL, "version": __version__, "ema_workbench": ema.__version__, "ema_licence": ema_licence(),
            "seed": plan.seed, "seeds": plan.seeds, "evaluator": evaluator_name,
            "workers": {"sequential": 1, "multiprocessing": workers or os.cpu_count() or 1}.get(evaluator_name, workers),
            "experiments": len(table),
            "scenarios": int(table["scenario"].nunique()), "policies": int(table["policy"].nunique()),
            "simulations": len(table) * len(plan.seeds), "seconds": seconds,
            "experiment": plan.resolved, "analysis_inputs": cols}
    with staged(out, last="report.md") as staging:
        plots = staging / "plots"
        ema.save_results((experiments, outcomes), str(staging / "results.tar.gz"))
        table.to_parquet(staging / "experiments.parquet", index=False)
        tidy_results(plan, table.drop(columns=["case_of_interest"], errors="ignore"), outcomes).to_parquet(
            staging / "results.parquet", index=False)
        prim_res = None
        if cond is not None:
            prim_res = run_prim(plan, x, table["case_of_interest"].to_numpy(dtype=bool), plots)
            if "trajectory" in prim_res:
                prim_res.pop("trajectory").to_csv(staging / "prim_trajectory.csv", index=False)
                pd.DataFrame(prim_res["limits"]).to_csv(staging / "prim_box.csv", index=False)
        scores = None
        if plan.feature_scoring:
            ys = dict(means)
            if cond is not None:
                ys[f"condition: {cond.text}"] = table["case_of_interest"].to_numpy(dtype=float)
            scores = feature_scores(x, ys, fs_seed, plots)
            scores.rename_axis("input").to_csv(staging / "feature_scores.csv")
        meta["prim"] = prim_res
        meta["feature_scores"] = None if scores is None else {c: scores[c].round(4).to_dict() for c in scores}
        meta["outcomes"] = {k: {"min": float(np.min(v)), "median": float(np.median(v)), "max": float(np.max(v))}
                            for k, v in means.items()}
        (staging / "explore.json").write_text(json.dumps(meta, indent=1, default=_json), encoding="utf-8")
        (staging / "report.md").write_text(report(plan, meta), encoding="utf-8")
    return meta


def _json(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Condition):
        return o.text
    raise TypeError(type(o).__name__)


# ---------------------------------------------------------------------------- report
def _describe_inputs(plan: Plan) -> list[str]:
    lines = ["| input | what | sampled over |", "|---|---|---|"]
    for n, (lo, hi) in plan.params.items():
        lines.append(f"| {param_name(n)} | params.{n} (uncertainty) | {lo:g} to {hi:g} |")
    if plan.posterior:
        lines.append(f"| {DRAW} | draw of the calibration's posterior (uncertainty; PRIM and feature scoring see the drawn "
                     f"values) | draws 0 to {plan.posterior['draws'] - 1} of {Path(plan.posterior['file']).name} |")
    for lv in plan.levers:
        if lv.kind == "value":
            what = f"policy.{lv.path}: intensity" + (f" from {lv.fixed}" if lv.fixed else "")
            rng = f"{lv.low:g} to {lv.high:g}"
        else:
            what = f"policy.{lv.path}: start date (decimal year; quarter resolution)" + (
                f" at intensity {lv.fixed:g}" if lv.fixed is not None else "")
            rng = f"{month_of(lv.low)} to before {month_of(lv.high)} ({lv.low:g}-{lv.high:g})"
        lines.append(f"| {lv.name} | {what} (lever) | {rng} |")
    return lines


def report(plan: Plan, meta: dict) -> str:
    """report.md: the design, the inputs, the outcomes' ranges, the PRIM box and the top feature
    scores."""
    d = plan.design
    r = plan.resolved
    lines = [f"# Exploratory modelling{': ' + plan.description if plan.description else ''}", "",
             f"jjj-sim {meta['version']}, EMA Workbench {meta['ema_workbench']} ({meta['ema_licence']}). "
             f"{meta['scenarios']} scenarios (uncertainties, {d['sampler']}) x {meta['policies']} policies "
             f"(levers, {d['lever_sampler']}) = {meta['experiments']} experiments, each on {len(plan.seeds)} "
             f"seed(s) ({meta['simulations']} simulations) in {meta['seconds']:.0f} s with the {meta['evaluator']} "
             f"evaluator ({meta['workers'] or 'MPI'} worker(s)); master seed {plan.seed}.",
             f"Base scenario {plan.spec.name}; population scale {r['population_scale']}, 2014-{r['end_year']}"
             + (f"; overrides: {' '.join(r['overrides'])}" if r["overrides"] else "") + ".", "",
             "## Inputs", "", *_describe_inputs(plan), "",
             "## Outcomes (mean over seeds)", "", "| outcome | min | median | max |", "|---|---|---|---|"]
    for k, v in meta["outcomes"].items():
        lines.append(f"| {k} | {v['min']:.6g} | {v['median']:.6g} | {v['max']:.6g} |")
    p = meta.get("prim")
    if p is not None:
        s = p["settings"]
        lines += ["", "## Scenario discovery (PRIM)", "",
                  f"Condition `{p['condition']}`: {p['cases_of_interest']} of {p['cases']} experiments "
                  f"({100 * p['cases_of_interest'] / p['cases']:.0f}%) are cases of interest.", ""]
        if "note" in p:
            lines.append(p["note"] + ".")
        else:
            lines += [f"PRIM (peel_alpha {s['peel_alpha']:g}, paste_alpha {s['paste_alpha']:g}, mass_min "
                      f"{s['mass_min']:g}); box {p['box']} of the peeling trajectory ({p['rule']}): "
                      f"**coverage {p['coverage']:.3f}, density {p['density']:.3f}**, mass {p['mass']:.3f} "
                      f"({p['n_in_box']} experiments, {p['coi_in_box']} of them cases of interest), "
                      f"{p['res_dim']} restricted dimension(s).", "",
                      "| input | box low | box high | data low | data high | qp low | qp high | qp < 0.05 |",
                      "|---|---|---|---|---|---|---|---|"]
            if not p["limits"]:
                lines.append("| (no restriction) | | | | | | | |")
            for row in p["limits"]:
                lines.append(f"| {row['variable']} | {row['box_low']:.4g} | {row['box_high']:.4g} | "
                             f"{row['data_low']:.4g} | {row['data_high']:.4g} | {row['qp_low']:.2g} | {row['qp_high']:.2g} | "
                             f"{'yes' if row['significant'] else 'no'} |")
            lines += ["", "data low/high: the range of the sampled values; qp: quasi-p value of each side of the "
                          "restriction (one-sided binomial test, Bryant and Lempert 2010; nan: that side is not "
                          "restricted); a restriction with no qp below 0.05 may be chance.", "",
                      "![PRIM peeling trajectory](plots/prim_tradeoff.png)"]
            if p["res_dim"] > 0:
                lines.append("![PRIM box](plots/prim_box.png)")
    fs = meta.get("feature_scores")
    if fs:
        lines += ["", "## Feature scores (extra trees, EMA get_feature_scores_all)", "",
                  "| outcome | top inputs (score) |", "|---|---|"]
        for out, sc in fs.items():
            top = sorted(sc.items(), key=lambda kv: -(kv[1] if kv[1] == kv[1] else -1))[:3]
            lines.append(f"| {out} | " + ", ".join(f"{k} ({v:.2f})" for k, v in top) + " |")
        lines += ["", "![Feature scores](plots/feature_scores.png)"]
    lines += ["", "Files: results.tar.gz (EMA save_results), experiments.parquet, results.parquet (tidy), "
                  "prim_box.csv, prim_trajectory.csv, feature_scores.csv, explore.json."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- main
def main(argv=None) -> None:
    """``jjj-sim-explore``: check the evaluator and the experiments file, then ``run`` into a new output
    directory (bad input: one line, exit 2; a failed simulation: one line, exit 1)."""
    ap = argparse.ArgumentParser(prog=TOOL, description="Exploratory modelling with the EMA Workbench: levers x "
                                                        "uncertainties, PRIM and feature scoring.")
    ap.add_argument("experiment", nargs="?", default="experiments/explore_hebei.yaml")
    ap.add_argument("--out", help="output directory (default outputs/explore/<date>_<time>)")
    ap.add_argument("--evaluator", choices=EVALUATORS, default="sequential")
    ap.add_argument("--workers", type=int, default=None,
                    help="processes of the multiprocessing evaluator (default: all cores) or of the MPI pool "
                         "(default: as mpiexec gives); the sequential evaluator ignores it")
    a = ap.parse_args(argv)
    try:
        with tool_errors(TOOL, a.out):
            check_evaluator(a.evaluator, a.workers)
            e = load_experiment(a.experiment, EXPERIMENT_KEYS)
            plan = parse(e.data, e.base_dir)
            with new_output_dir(a.out, "explore") as out:
                meta = run(plan, out, a.evaluator, a.workers)
    except Exception as err:  # a failed simulation (EMA reports it as EMAError)
        if type(err).__name__ != "EMAError":
            raise
        text = str(err).strip().splitlines()
        print(f"{TOOL}: error: run: {' '.join(text[:2]) if text else 'an experiment failed'}", file=sys.stderr)
        sys.exit(1)
    print(f"report: {out / 'report.md'}")
    print(f"outputs: {out} ({meta['experiments']} experiments, {meta['seconds']:.0f} s)")



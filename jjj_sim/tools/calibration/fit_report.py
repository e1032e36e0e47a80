"""The calibration's report: the fit against each target (fit_report.json and .md), its plots
(loss history, check, posterior) and the fitted parameters file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from jjj_sim import __version__
from jjj_sim.tools.calibration.optimizers import POLISH_METHODS


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``x`` under weights ``w`` (interpolated on the cumulative weights)."""
    order = np.argsort(x)
    cw = np.cumsum(w[order]) / w.sum()
    return float(np.interp(q, cw, x[order]))


def build_report(s, study, post, check: dict, best: dict, timings: dict, cfg: DictConfig) -> dict:
    """fit_report.json's content: the settings, each free parameter's bounds and fitted value (and
    whether it is at a bound), each target with the check's values, the Optuna loss history and timings;
    with ``post`` (the ABC-SMC result) the posterior's weighted quantiles, means and correlations."""
    from optuna.trial import TrialState

    trials = study.get_trials(states=(TrialState.COMPLETE,))
    history = [float(t.value) for t in sorted(trials, key=lambda t: t.number)]
    rep = {
        "version": __version__, "seed": s.seed, "population_scale": float(cfg.population.scale),
        "budget": s.budget, "replications": s.replications, "workers": s.workers, "bound_margin": s.margin,
        "free": {p.name: {"low": p.low, "high": p.high, "log": p.log, "fitted": best[p.name],
                          "at_bound": p.to_unit(best[p.name]) < 0.02 or p.to_unit(best[p.name]) > 0.98}
                 for p in s.free},
        "targets": [{"id": t.id, "indicator": t.series, "year": t.year, "reported": t.value, "kind": t.kind,
                     "low": getattr(t, "low", None), "high": getattr(t, "high", None), "tolerance": t.tolerance, "source": t.source, "date": t.date, **check["targets"][t.id]}
                    for t in s.targets],
        "check": {"scale": check["scale"], "seeds": check["seeds"]},
        "optuna": {"parameter_sets": len(trials), "best_loss": float(study.best_value), "loss_history": history},
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    if post is not None:
        df, w, meta = post
        names = list(df.columns)
        x = df.to_numpy(dtype=float)
        wn = w / w.sum()
        mean = wn @ x
        cov = ((x - mean) * wn[:, None]).T @ (x - mean)
        sd = np.sqrt(np.diag(cov))
        corr = cov / np.outer(sd, sd)
        rep["posterior"] = {
            **meta,
            "params": {n: {"p05": weighted_quantile(x[:, i], w, 0.05), "p50": weighted_quantile(x[:, i], w, 0.5),
                           "p95": weighted_quantile(x[:, i], w, 0.95), "mean": float(mean[i])}
                       for i, n in enumerate(names)},
            "correlation": {n: {m: float(corr[i, j]) for j, m in enumerate(names)} for i, n in enumerate(names)},
        }
    return rep


def report_markdown(rep: dict) -> str:
    """fit_report.md: the targets against the check, the fitted parameters, the best loss (and the
    polish), and the posterior's quantiles and correlations."""
    lines = ["# Calibration report", "",
             f"jjj-sim {rep['version']}; seed {rep['seed']}; fitted at population scale {rep['population_scale']} "
             f"with {rep['optuna']['parameter_sets']} parameter sets x {rep['replications']} replications "
             f"(budget {rep['budget']} simulations); checked at scale {rep['check']['scale']} over "
             f"{len(rep['check']['seeds'])} seeds.", "",
             "## Targets", "",
             "| id | indicator (year) | reported | kind | simulated mean | 90% band | met | seeds meeting | source |",
             "|---|---|---|---|---|---|---|---|---|"]
    for t in rep["targets"]:
        kind = {"approx": f"approx +-{t['tolerance']:.0%}", "at_least": "at least", "at_most": "at most",
                "range": "range"}[t["kind"]]
        reported = (f"{t['low']:,.0f}-{t['high']:,.0f}" if t["kind"] == "range" else f"{t['reported']:,.0f}")
        lines.append(f"| {t['id']} | {t['indicator']} ({t['year']}) | {reported} | {kind} | {t['mean']:,.0f} | "
                     f"{t['p05']:,.0f}-{t['p95']:,.0f} | {'yes' if t['met'] else 'NO'} | "
                     f"{t['share_of_seeds_met']:.0%} | {t['source']} ({t['date']}) |")
    lines += ["", "## Fitted parameters", "", "| parameter | low | high | fitted | at a bound |", "|---|---|---|---|---|"]
    for n, p in rep["free"].items():
        lines.append(f"| {n} | {p['low']:g} | {p['high']:g} | {p['fitted']:.6g} | {'yes' if p['at_bound'] else 'no'} |")
    lines += ["", f"Best loss {rep['optuna']['best_loss']:.4g} after {rep['optuna']['parameter_sets']} parameter sets."]
    if rep.get("polish"):
        pol = rep["polish"]
        method = POLISH_METHODS[pol.get("method", "nelder-mead")]  # polish.json before the methods: Nelder-Mead
        lines += [f"Polished by {method} ({pol['evaluations']} parameter sets, {pol['simulations']} simulations): "
                  f"loss {pol['start_loss']:.4g} -> {pol['loss']:.4g}. The fitted values above are the polished point."]
    post = rep.get("posterior")
    if post:
        lines += ["", "## Posterior (ABC-SMC, last generation)", "",
                  f"{post['generations']} generations of {post['population_size']} particles, "
                  f"{post['simulations']} simulations; epsilon by generation: "
                  + ", ".join(f"{e:.3g}" for e in post["epsilons"]) + ".", "",
                  "| parameter | 5% | median | 95% |", "|---|---|---|---|"]
        for n, q in post["params"].items():
            lines.append(f"| {n} | {q['p05']:.6g} | {q['p50']:.6g} | {q['p95']:.6g} |")
        names = list(post["correlation"])
        lines += ["", "Correlations:", "", "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for n in names:
            lines.append(f"| {n} | " + " | ".join(f"{post['correlation'][n][m]:+.2f}" for m in names) + " |")
    return "\n".join(lines) + "\n"


def _grid(plt, n: int, height: float, cols: int = 4):
    """A grid of n panels, ``cols`` to a row; unused panels hidden."""
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, min(cols, n), figsize=(4 * min(cols, n), height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def write_plots(out: Path, rep: dict, post) -> None:
    """The calibration's plots into ``out``: loss_history.png, check.png (each target's checked values
    against the reported figure) and, with ``post``, posterior.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    h = np.array(rep["optuna"]["loss_history"])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(np.arange(len(h)), np.maximum(h, 1e-6), ".", alpha=0.5, label="parameter set")
    ax.semilogy(np.arange(len(h)), np.maximum(np.minimum.accumulate(h), 1e-6), "-", label="best so far")
    ax.set_xlabel("parameter set (Optuna trial)")
    ax.set_ylabel("loss (floored at 1e-6)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss_history.png", dpi=110)
    plt.close(fig)
    fig, axes = _grid(plt, len(rep["targets"]), 3.2)
    for ax, t in zip(axes, rep["targets"]):
        ax.hist(t["values"], bins=10, color="tab:blue", alpha=0.7)
        ax.axvline(t["reported"], color="k", label="reported")
        if t["kind"] == "approx":
            ax.axvspan(t["reported"] * (1 - t["tolerance"]), t["reported"] * (1 + t["tolerance"]), color="k", alpha=0.1)
        elif t["kind"] == "range":
            ax.axvspan(t["low"], t["high"], color="k", alpha=0.1)
        ax.set_title(f"{t['id']}: {t['indicator']} {t['year']}", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "check.png", dpi=110)
    plt.close(fig)
    if post is not None:
        df, w, _ = post
        fig, axes = _grid(plt, df.shape[1], 3.0)
        for ax, name in zip(axes, df.columns):
            ax.hist(df[name], weights=w, bins=20, color="tab:green", alpha=0.7)
            ax.axvline(rep["free"][name]["fitted"], color="k", label="point estimate")
            ax.set_title(name, fontsize=9)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "posterior.png", dpi=110)
        plt.close(fig)


def write_fitted(path: Path, best: dict, rep: dict) -> None:
    """Write fitted_params.yaml: the fitted point {dotted name under params: value} under a header
    saying how it was fitted and its loss (loadable with ``jjj-sim params_file=...``)."""
    loss = rep["polish"]["loss"] if rep.get("polish") else rep["optuna"]["best_loss"]
    header = [f"# Fitted by jjj-sim-calibrate {rep['version']} (seed {rep['seed']}, population scale "
              f"{rep['population_scale']}, budget {rep['budget']} simulations, {rep['replications']} replications).",
              f"# Loss {loss:.4g}; see fit_report.md beside it. Load with: jjj-sim params_file=THIS"]
    body = {k: float(v) for k, v in best.items()}
    path.write_text("\n".join(header) + "\n" + OmegaConf.to_yaml(OmegaConf.create(body)), encoding="utf-8")

"""The calibration's posterior: a Gaussian (Laplace) approximation around the point fit,
importance-weighted by the model.

    python -m jjj_sim.tools.calibration.laplace [--params calibration/fitted/baseline.yaml]
        [--identification calibration/results/identification.json]
        [--replications calibration/results/replications.json]
        [--particles 200] [--temper STAGES] [--seed 20140226] [--workers 2] [--out DIR]

Why: an ABC-SMC posterior in 17 dimensions needs far more simulations than this model affords
at a scale where the park counts mean something (calibration/README.md). The identification
check already measures how every target moves with every parameter at the fitted point; with a
model of how far the record may be from the model, that gives a local posterior, which the model
itself then corrects.

The model of the record is the calibration's own distance read as a likelihood: a target's
tolerance is one standard deviation (the loss counts a miss in tolerances, squared;
jjj_sim/runner/targets.py), so a parameter set whose run is at distance S = sum_t w_t d_t has
likelihood exp(-S / 2).

Step 1, the Gaussian. On the log scale, log(record_t) = log(model_t(theta)) + e_t with
e_t ~ N(0, s_t^2 + cv_t^2): s_t is an ``approx`` target's tolerance, or for a ``range`` the
standard deviation of a uniform on its log scale, log(high / low) / sqrt(12); cv_t is the model's
seed-to-seed spread of the target in one run (``replications``, at the identification's scale).
One-sided targets (``at_least``, ``at_most``) and checks (weight 0) carry no curvature.
Parameters are taken on the scale the identification measured them on: log for a positive
parameter (its elasticities), the parameter itself for one that may be negative (the choice
model's constants). With J the targets' derivatives there, the Gauss-Newton precision is
H = sum_t w_t J_t J_t' / (s_t^2 + cv_t^2), and the proposal is N(theta_fit, H^-1), truncated to
the calibration's bounds (the prior's support). A range's flat middle and steep walls, and the
one-sided targets, are left to the weights of step 2.

Step 2, the model's say. Each proposed parameter set is run once (its own seed) at the
identification's scale and weighted by likelihood x prior / proposal density (importance
sampling): where the targets are not linear in the parameters over the Gaussian's spread, the
weights move the posterior back toward the sets the record supports. The effective sample size
of the weights says how much is left; runner/posterior.py warns when it is below 10% of the
particles. It stays local: it describes the fit's basin (the recovery check found the loss has
others).

Step 3, with ``--temper STAGES``: where the weights are too uneven to use (the diagnostic below
says why), sequential Monte Carlo carries the draws from the Gaussian to the posterior in
stages (``temper``): each stage raises the likelihood's power as far as keeps half the
particles' worth, resamples, and moves every particle by one Metropolis step with a fresh run.
The posterior file then holds the final particles with equal weights, and ``laplace.json``
the stages' log (``tempering``; ``reached_posterior`` is false if the stages ran out first).

Output (``--out DIR``, default a new outputs/laplace/<date>_<time>): ``posterior.parquet`` in
the format jjj_sim/runner/posterior.py reads (the weights; the metadata records the method,
seed, scale, bounds and sources), and ``laplace.json`` (the Gaussian, each target's sigma, the
weighted parameter ranges, the posterior predictive ranges of the targets and the linearity
diagnostic). ``posterior_file=DIR/posterior.parquet`` lets the tools draw from it. The committed posterior
(calibration/fitted/baseline_posterior.parquet) is ``--temper``'s, written with
``--out calibration/fitted/posterior`` and copied there (calibration/README.md). A bad input is one line on stderr and exit 2, with no directory left behind.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jjj_sim import __version__
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import find
from jjj_sim.core.seeds import replication_seeds
from jjj_sim.runner.jobs import JobPool, die_with_parent
from jjj_sim.runner.posterior import effective_size
from jjj_sim.runner.posterior import write as write_posterior
from jjj_sim.runner.targets import Target
from jjj_sim.tools.calibration.checks import (
    make_out,
    one_line_errors,
    setup,
    write_result,
)
from jjj_sim.tools.calibration.simulator import FreeParam, Simulator

PROG = "jjj_sim.tools.calibration.laplace"
FIT_SEEDS = 8  # runs of the fit itself, for the spread of its own distance (the linearity diagnostic)
MAX_TRIES = 1000  # proposals per particle before the truncation is judged to reject nearly everything


def record_sigma(t: Target) -> float | None:
    """The record's own standard deviation of target ``t`` on the log scale (module docstring);
    None for a one-sided target or a check (no curvature)."""
    if t.weight <= 0 or t.kind in ("at_least", "at_most"):
        return None
    if t.kind == "range":
        return math.log(t.high / t.low) / math.sqrt(12.0)
    return t.tolerance


def _read_json(path, field: str) -> dict:
    p = find(path, field)
    if not p.is_file():
        raise ConfigError(field, f"no such file: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(field, f"{p} is not JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(field, f"{p} must hold a JSON object")
    return data


def _number(value, field: str) -> float:
    """``value`` as a finite float, or a ConfigError naming ``field``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(field, f"holds {value!r} where a number belongs") from None
    if not math.isfinite(x):
        raise ConfigError(field, f"holds {value!r} where a finite number belongs")
    return x


def jacobian(ident: dict, free: list[FreeParam], targets: list[Target], point: dict[str, float]) -> np.ndarray:
    """The identification check's derivatives as a targets x parameters matrix (d log target
    per unit of the parameter on its measured scale); a ConfigError naming ``--identification``
    if they were measured at another point or lack a parameter or target."""
    field = "--identification"
    for key in ("point", "elasticities", "kinds"):
        if not isinstance(ident.get(key), dict):
            raise ConfigError(field, f"has no '{key}': not an identification check's result")
    for p in free:
        if p.name not in ident["elasticities"] or p.name not in ident["kinds"] or p.name not in ident["point"]:
            raise ConfigError(field, f"has no derivatives for {p.name}: re-run the identification check")
        if not math.isclose(_number(ident["point"][p.name], field), point[p.name], rel_tol=1e-9, abs_tol=1e-12):
            raise ConfigError(field, f"was measured at {p.name}={ident['point'][p.name]}, not at the fit's "
                                     f"{point[p.name]}: re-run the identification check")
    out = np.zeros((len(targets), len(free)))
    for j, p in enumerate(free):
        row = ident["elasticities"][p.name]
        for i, t in enumerate(targets):
            cell = row.get(t.id)
            if not isinstance(cell, dict) or not isinstance(cell.get("elasticity"), (int, float)) \
                    or not math.isfinite(cell["elasticity"]):
                raise ConfigError(field, f"has no finite derivative of {t.id} by {p.name}: re-run the check")
            out[i, j] = float(cell["elasticity"])
    return out


def seed_spread(repl: dict, scale: float, targets: list[Target], point: dict[str, float]) -> dict[str, dict]:
    """{target id: {"mean", "cv"}} of the replications check at ``scale`` (the identification's);
    a ConfigError naming ``--replications`` if it has no results there or another point."""
    field = "--replications"
    by = repl.get("by_scale")
    if not isinstance(by, dict):
        raise ConfigError(field, "has no 'by_scale': not a replications check's result")
    rp = repl.get("point") or {}
    for name, x in point.items():
        if name in rp and not math.isclose(_number(rp[name], field), x, rel_tol=1e-9, abs_tol=1e-12):
            raise ConfigError(field, f"was run at {name}={rp[name]}, not at the fit's {x}: re-run the check")
    res = next((v for k, v in by.items() if math.isclose(_number(k, field), scale)), None)
    if res is None:
        raise ConfigError(field, f"has no results at scale {scale}, the identification's")
    out = {}
    for t in targets:
        cell = res.get("targets", {}).get(t.id)
        if not isinstance(cell, dict) or not isinstance(cell.get("mean"), (int, float)):
            raise ConfigError(field, f"has no result for {t.id} at scale {scale}: re-run the check")
        out[t.id] = {"mean": float(cell["mean"]), "cv": _number(cell.get("cv") or 0.0, field)}
    return out


def transforms(ident: dict, free: list[FreeParam]) -> list[str]:
    """Each parameter's scale: "log" where the identification measured elasticities, else "identity"."""
    return ["log" if ident["kinds"][p.name] == "elasticity" else "identity" for p in free]


@dataclass(frozen=True)
class Gaussian:
    """The approximation: the fit on the measured scales (``mu``), covariance and precision
    there, each parameter's scale, and each target's sigma."""

    mu: np.ndarray
    cov: np.ndarray
    precision: np.ndarray
    how: list[str]
    sigma: dict[str, float]


def gaussian(jac: np.ndarray, targets: list[Target], spread: dict[str, dict], mu: np.ndarray,
             how: list[str]) -> Gaussian:
    """The Gauss-Newton precision of the targets at the fit and its inverse; a ConfigError naming
    ``calibration.free`` if the targets leave a direction unidentified."""
    rows, sig = [], {}
    for i, t in enumerate(targets):
        s = record_sigma(t)
        if s is None:
            continue
        sig[t.id] = math.sqrt(s ** 2 + spread[t.id]["cv"] ** 2)
        rows.append(jac[i] * math.sqrt(t.weight) / sig[t.id])
    a = np.array(rows)
    h = a.T @ a
    vals, vecs = np.linalg.eigh(h)
    if vals[0] <= 1e-10 * vals[-1]:
        raise ConfigError("calibration.free", "the targets do not identify every parameter: no curvature along "
                                              f"{np.round(vecs[:, 0], 2).tolist()} (rank-deficient)")
    return Gaussian(mu, np.linalg.inv(h), h, how, sig)


def measured(x: np.ndarray, how: list[str]) -> np.ndarray:
    """Parameter values (rows) on their measured scales."""
    return np.column_stack([np.log(x[:, j]) if h == "log" else x[:, j] for j, h in enumerate(how)])


def values(u: np.ndarray, how: list[str]) -> np.ndarray:
    """The inverse of ``measured``."""
    return np.column_stack([np.exp(u[:, j]) if h == "log" else u[:, j] for j, h in enumerate(how)])


def propose(g: Gaussian, n: int, seed: int, free: list[FreeParam]) -> tuple[np.ndarray, float]:
    """``n`` parameter sets (rows) from the Gaussian, inside the calibration's bounds (the
    prior's support), and the share of proposals that fell inside. A ConfigError naming
    ``--particles`` if almost none do."""
    chol = np.linalg.cholesky(g.cov)
    rng = np.random.default_rng([int(seed), 7])
    out, tried = [], 0
    while len(out) < n:
        if tried >= MAX_TRIES * n:
            raise ConfigError("--particles", f"only {len(out)} of {tried} proposals fell inside the bounds: "
                                             "the Gaussian is far wider than the prior")
        u = g.mu + rng.standard_normal((n, len(free))) @ chol.T
        tried += n
        x = values(u, g.how)
        ok = np.all([(x[:, j] >= p.low) & (x[:, j] <= p.high) for j, p in enumerate(free)], axis=0)
        out.extend(x[ok])
    return np.array(out[:n]), len(out) / tried


def log_prior(u: np.ndarray, free: list[FreeParam], how: list[str]) -> np.ndarray:
    """The prior's log density (up to a constant) at parameter rows ``u`` on their measured scales:
    uniform on the bounds, or log-uniform where ``log``; a parameter sampled on the log scale with
    a uniform prior gains log x (the change of variable)."""
    return np.sum([u[:, j] for j, (p, h) in enumerate(zip(free, how)) if h == "log" and not p.log] or
                  [np.zeros(len(u))], axis=0)


def log_proposal(g: Gaussian, u: np.ndarray) -> np.ndarray:
    """The Gaussian's log density (up to a constant; the truncation to the bounds is one more)."""
    d = u - g.mu
    return -0.5 * np.einsum("ij,jk,ik->i", d, g.precision, d)


def log_likelihood(targets: list[Target], runs: list[dict[str, float]]) -> np.ndarray:
    """-S/2 per run, S = sum_t w_t d_t the calibration's distance."""
    return np.array([-0.5 * sum(t.weight * t.distance(r[t.id]) for t in targets if t.weight > 0) for r in runs])


def importance(g: Gaussian, x: np.ndarray, runs: list[dict[str, float]], targets: list[Target],
               free: list[FreeParam]) -> tuple[np.ndarray, np.ndarray]:
    """Importance weights of the simulated particles (normalised) and their log-likelihoods:
    likelihood exp(-S/2), S = sum_t w_t d_t the calibration's distance of the particle's one
    run, times the prior (uniform, or log-uniform where ``log``), over the Gaussian's density."""
    u = measured(x, g.how)
    log_l = log_likelihood(targets, runs)
    lw = log_l + log_prior(u, free, g.how) - log_proposal(g, u)
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    if not np.isfinite(lw).any():
        raise ConfigError("--particles", "no particle gave finite target values")
    w = np.exp(lw - lw.max())
    return w / w.sum(), log_l


def _next_beta(r: np.ndarray, beta: float) -> float:
    """The next temperature: the largest beta' <= 1 whose incremental weights exp((beta' - beta) r)
    keep an effective sample size of half the particles."""
    def ess(b):
        lw = (b - beta) * r
        w = np.exp(lw - lw.max())
        return effective_size(w)
    if ess(1.0) >= len(r) / 2:
        return 1.0
    lo, hi = beta, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ess(mid) >= len(r) / 2 else (lo, mid)
    return lo


def temper(b: dict, stages: int, seed: int, workers: int, moves: int = 1) -> dict:
    """Sequential Monte Carlo from the Gaussian to the posterior (likelihood tempering): the
    particles' distribution goes from the Gaussian (beta 0) to prior x likelihood (beta 1) through
    pi_beta = Gaussian^(1 - beta) (prior x likelihood)^beta. At each stage: the next beta keeps
    an effective sample size of half the particles; the particles are resampled (systematic) by
    their incremental weights; each then takes ``moves`` random-walk Metropolis steps (scale
    2.38 / sqrt(parameters) times the particles' covariance; a proposal outside the bounds is
    refused without a run), each run once on a fresh seed, the likelihood of a particle kept
    with it (a pseudo-marginal step: its one-run estimate is not re-drawn). Stops at beta 1 or
    after ``stages`` stages; returns the particles (equal weights), their runs and the stages'
    log, with the number of distinct Gaussian draws the particles descend from (``ancestors``)."""
    g, free, targets, names = b["gaussian"], b["free"], b["targets"], b["names"]
    u = measured(b["values"], g.how)
    log_l, runs = b["log_likelihood"].copy(), list(b["runs"])
    lo = np.array([p.low for p in free])
    hi = np.array([p.high for p in free])
    rng = np.random.default_rng([int(seed), 11])
    n, dim, beta, log = len(u), u.shape[1], 0.0, []
    ancestor = np.arange(n)

    def base(v):  # the log ratio of prior to Gaussian (the likelihood is added per particle)
        return log_prior(v, free, g.how) - log_proposal(g, v)

    def log_target(v, ll):
        return (1 - beta) * log_proposal(g, v) + beta * (log_prior(v, free, g.how) + ll)

    for stage in range(stages):
        if beta >= 1.0:
            break
        r = base(u) + log_l
        new = _next_beta(r, beta)
        lw = (new - beta) * r
        w = np.exp(lw - lw.max())
        w /= w.sum()
        ess = effective_size(w)
        idx = np.minimum(np.searchsorted(np.cumsum(w), (rng.random() + np.arange(n)) / n), n - 1)
        u, log_l, runs, ancestor, beta = u[idx], log_l[idx], [runs[i] for i in idx], ancestor[idx], new
        inside_total = moved = 0
        for move in range(moves):
            prop = u + rng.multivariate_normal(np.zeros(dim), np.cov(u.T) * 2.38 ** 2 / dim, n)
            x_prop = values(prop, g.how)
            inside = np.all((x_prop >= lo) & (x_prop <= hi), axis=1)
            inside_total += int(inside.sum())
            if not inside.any():
                continue
            k = np.flatnonzero(inside)
            new_runs = simulate(b["cfg"], targets, b["point"], names, x_prop[k],
                                replication_seeds(int(seed) + 1000 + 100 * stage + move, len(k)), workers)
            new_l = log_likelihood(targets, new_runs)
            ok = np.log(rng.random(len(k))) < log_target(prop[k], new_l) - log_target(u[k], log_l[k])
            for j, i in enumerate(k):
                if ok[j]:
                    u[i], log_l[i], runs[i] = prop[i], new_l[j], new_runs[j]
            moved += int(ok.sum())
        log.append({"stage": stage + 1, "beta": beta, "ess_of_incremental_weights": ess,
                    "proposals_inside_bounds": inside_total, "moves_accepted": moved, "moves_tried": n * moves,
                    "distinct_particles": len(np.unique(u, axis=0)), "ancestors": len(np.unique(ancestor))})
        print(f"{PROG}: stage {stage + 1}: beta {beta:.4g}, {moved} of {n * moves} moves accepted, "
              f"{len(np.unique(ancestor))} ancestors", file=sys.stderr, flush=True)
    return {"values": values(u, g.how), "runs": runs, "log_likelihood": log_l, "beta": beta, "stages": log}


def _run(job):
    sim, params, seed = job
    return sim.values(params, seed)


def simulate(cfg, targets: list[Target], point: dict[str, float], names: list[str], x: np.ndarray, seeds: list[int],
             workers: int) -> list[dict[str, float]]:
    """Row k of ``x`` run through the model once, on ``seeds[k]``: {target id: value} per row."""
    sim = Simulator(cfg, targets, seeds)
    jobs = [(sim, {**point, **dict(zip(names, map(float, x[k])))}, seeds[k]) for k in range(len(x))]
    with JobPool(min(workers, len(jobs)), context="fork", initializer=die_with_parent,
                 initargs=(os.getpid(),)) as pool:
        return pool.map(_run, jobs)


def weighted_quantile(v: np.ndarray, w: np.ndarray, q: float) -> float:
    """The ``q`` quantile of values ``v`` under weights ``w`` (the weighted empirical distribution)."""
    order = np.argsort(v)
    c = np.cumsum(w[order])
    return float(v[order][min(np.searchsorted(c, q * c[-1]), len(v) - 1)])


def predictive(targets: list[Target], runs: list[dict[str, float]], w: np.ndarray) -> dict:
    """Per target: the 5-50-95% of the particles' simulated values and the share meeting it,
    weighted (the posterior) and unweighted (the Gaussian before the model's say)."""
    out = {}
    for t in targets:
        v = np.array([r[t.id] for r in runs])
        met = np.array([t.met(x) for x in v], dtype=float)
        out[t.id] = {"p05": weighted_quantile(v, w, 0.05), "p50": weighted_quantile(v, w, 0.5),
                     "p95": weighted_quantile(v, w, 0.95), "share_met": float(w @ met),
                     "gaussian_p05": float(np.percentile(v, 5)), "gaussian_p95": float(np.percentile(v, 95)),
                     "gaussian_share_met": float(met.mean())}
    return out


def build(params_file: str, ident_file: str, repl_file: str, particles: int, seed: int, workers: int) -> dict:
    """The Gaussian, its particles, their runs and importance weights."""
    ident = _read_json(ident_file, "--identification")
    repl = _read_json(repl_file, "--replications")
    scale = ident.get("scale")
    if not isinstance(scale, (int, float)) or not scale > 0:
        raise ConfigError("--identification", "has no positive 'scale'")
    cfg, targets, free, point = setup(params_file, float(scale))
    jac = jacobian(ident, free, targets, point)
    spread = seed_spread(repl, float(scale), targets, point)
    how = transforms(ident, free)
    names = [p.name for p in free]
    g = gaussian(jac, targets, spread, measured(np.array([[point[n] for n in names]]), how)[0], how)
    x, acceptance = propose(g, particles, seed, free)
    fit = np.array([[point[n] for n in names]] * FIT_SEEDS)
    runs = simulate(cfg, targets, point, names, np.vstack([x, fit]),
                    replication_seeds(int(seed) + 1, particles + FIT_SEEDS), workers)
    runs, fit_runs = runs[:particles], runs[particles:]
    w, log_l = importance(g, x, runs, targets, free)
    fit_distance = (-2.0 * log_likelihood(targets, fit_runs)).tolist()
    return {"targets": targets, "free": free, "names": names, "point": point, "gaussian": g, "values": x,
            "acceptance": acceptance, "runs": runs, "weights": w, "log_likelihood": log_l, "scale": float(scale),
            "fit_distance": fit_distance, "jacobian": jac, "spread": spread, "cfg": cfg}


def summary(b: dict, args: dict) -> dict:
    """The Gaussian, the final particles (``b["final"]``: the importance-weighted ones, or the
    tempered ones) and the predictive check as JSON: per parameter the fit, the Gaussian's
    standard deviation on its measured scale and the particles' weighted 5-50-95%; the Gaussian's
    correlations; each target's sigma; the effective sample sizes; the tempering's log; the
    linearity diagnostic of the Gaussian's draws."""
    g, names = b["gaussian"], b["names"]
    x, w, runs = b["final"]["values"], b["final"]["weights"], b["final"]["runs"]
    sd = np.sqrt(np.diag(g.cov))
    corr = g.cov / np.outer(sd, sd)
    return {
        "method": "laplace-smc" if b.get("tempering") else "laplace", "version": __version__, **args, "population_scale": b["scale"],
        "acceptance": b["acceptance"], "importance_effective_sample_size": effective_size(b["weights"]),
        "effective_sample_size": effective_size(w), "tempering": b.get("tempering"),
        "params": {n: {"fit": b["point"][n], "scale": h, "sd": float(s),
                       "p05": weighted_quantile(x[:, j], w, 0.05), "p50": weighted_quantile(x[:, j], w, 0.5),
                       "p95": weighted_quantile(x[:, j], w, 0.95)}
                   for j, (n, h, s) in enumerate(zip(names, g.how, sd))},
        "correlation": {a: {c: round(float(corr[i, k]), 3) for k, c in enumerate(names)} for i, a in enumerate(names)},
        "sigma": g.sigma,
        "linearity": {"fit_distance_mean": float(np.mean(b["fit_distance"])),
                      "fit_distance_sd": float(np.std(b["fit_distance"], ddof=1)), "fit_seeds": FIT_SEEDS,
                      **linearity(g, b["values"], b["log_likelihood"], b["jacobian"], b["targets"], b["spread"])},
        "predictive": predictive(b["targets"], runs, w),
    }


def linearity(g: Gaussian, x: np.ndarray, log_l: np.ndarray, jac: np.ndarray, targets: list[Target],
              spread: dict[str, dict]) -> dict:
    """Is the posterior locally Gaussian, and if not, why? Per draw: its distance S (from its
    run), the distance S_lin its targets would have if they moved linearly (log target = the
    fit's seed mean + J d, through the calibration's own distance: flat inside a range, one-sided
    where one-sided), and its Mahalanobis distance M = d' H d from the fit. S - S_lin is the
    model's non-linearity (plus seed noise: the fit's own distance varies by seed, reported beside
    it); S_lin - M is the Gaussian's misreading of the distance even for a linear model (ranges
    are flat with steep walls, one-sided targets one-sided, and the fit misses some targets).
    5-50-95% of each."""
    u = measured(x, g.how)
    d = u - g.mu
    m = -2.0 * log_proposal(g, u)
    dist = -2.0 * log_l
    base = np.array([math.log(max(spread[t.id]["mean"], 1e-9)) for t in targets])
    pred = np.exp(base + d @ jac.T)  # draws x targets, the linear prediction
    lin = -2.0 * log_likelihood(targets, [{t.id: float(v) for t, v in zip(targets, row)} for row in pred])
    q = lambda v: [float(np.percentile(v, k)) for k in (5, 50, 95)]
    return {"distance": q(dist), "linear_distance": q(lin), "mahalanobis": q(m),
            "distance_minus_linear": q(dist - lin), "linear_minus_mahalanobis": q(lin - m)}


def parser() -> argparse.ArgumentParser:
    """The command line: the inputs, the number of particles, the seed, the workers, ``--out``."""
    ap = argparse.ArgumentParser(prog=PROG, description="The calibration's posterior: a Gaussian approximation "
                                                        "around the point fit, importance-weighted by the model")
    ap.add_argument("--params", default="calibration/fitted/baseline.yaml")
    ap.add_argument("--identification", default="calibration/results/identification.json")
    ap.add_argument("--replications", default="calibration/results/replications.json")
    ap.add_argument("--particles", type=int, default=200, help="parameter sets drawn and run (one seed each)")
    ap.add_argument("--seed", type=int, default=20140226)
    ap.add_argument("--temper", type=int, default=0, help="stages of sequential Monte Carlo from the weighted "
                                                          "Gaussian draws to the posterior (0: importance weights only)")
    ap.add_argument("--moves", type=int, default=3, help="Metropolis steps per particle and stage (with --temper)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", help="directory for posterior.parquet and laplace.json "
                                  "(default: a new outputs/laplace/<date>_<time>)")
    return ap


def main(argv: list[str] | None = None) -> None:
    """Build the posterior and write posterior.parquet and laplace.json into ``--out`` (both or
    neither). A bad input is one line on stderr and exit 2, with no directory left behind."""
    argv = sys.argv[1:] if argv is None else list(argv)
    a = parser().parse_args(argv)
    made: list[Path] = []
    with one_line_errors(PROG, made):
        for name in ("particles", "workers", "moves"):
            if getattr(a, name) < 1:
                raise ConfigError(f"--{name}", f"must be at least 1, got {getattr(a, name)}")
        if a.temper < 0:
            raise ConfigError("--temper", f"must be 0 or more, got {a.temper}")
        out = Path(a.out).expanduser() if a.out else Path("outputs") / "laplace" / time.strftime("%Y-%m-%d_%H-%M-%S")
        made += make_out(out)
        t0 = time.perf_counter()
        b = build(a.params, a.identification, a.replications, a.particles, a.seed, a.workers)
        b["final"] = {"values": b["values"], "weights": b["weights"], "runs": b["runs"]}
        if a.temper:
            t = temper(b, a.temper, a.seed, a.workers, a.moves)
            b["final"] = {"values": t["values"], "weights": np.full(len(t["values"]), 1.0 / len(t["values"])),
                          "runs": t["runs"]}
            b["tempering"] = {"beta": t["beta"], "reached_posterior": t["beta"] >= 1.0, "stages": t["stages"]}
        args = {"params_file": a.params, "identification": a.identification, "replications": a.replications,
                "particles": a.particles, "seed": a.seed, "temper": a.temper, "moves": a.moves,
                "command": " ".join([f"python -m {PROG}", *argv])}
        res = summary(b, args)
        res["seconds"] = time.perf_counter() - t0
        table = pd.DataFrame(b["final"]["values"], columns=b["names"])
        table["weight"] = b["final"]["weights"]
        meta = {k: res[k] for k in ("method", "version", "seed", "population_scale", "acceptance", "particles",
                                    "effective_sample_size", "params_file", "identification", "replications")}
        meta.update(targets=[t.id for t in b["targets"]],
                    free={p.name: {"low": p.low, "high": p.high, "log": p.log} for p in b["free"]})
        try:
            write_posterior(out / "posterior.parquet", table, meta)
            write_result(out, "laplace.json", res)
        except OSError as e:  # neither file, rather than one without the other
            (out / "posterior.parquet").unlink(missing_ok=True)
            raise ConfigError("--out", f"cannot write into {out} ({e.strerror or e})") from None
    brief = {k: res[k] for k in ("acceptance", "effective_sample_size", "particles", "seconds")}
    print(json.dumps({**brief, "params": res["params"]}, indent=1))
    print(f"written: {out / 'posterior.parquet'}, {out / 'laplace.json'}")


if __name__ == "__main__":
    main()

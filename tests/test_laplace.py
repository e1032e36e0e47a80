"""The Gaussian (Laplace) posterior: its reading of the record, its covariance, its truncation,
its file, and its command line's error paths."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner import posterior
from jjj_sim.runner.targets import Target
from jjj_sim.tools.calibration import laplace as L
from jjj_sim.tools.calibration.checks import setup
from jjj_sim.tools.calibration.simulator import FreeParam

ROOT = Path(__file__).resolve().parents[1]
PARAMS = "calibration/fitted/baseline.yaml"


def target(id_, kind, value, tolerance=0.05, weight=1.0, low=None, high=None):
    return Target(id=id_, indicator="relocations_cum", year=2020, value=value, kind=kind, tolerance=tolerance,
                  source="s", date="d", quote="q", weight=weight, low=low, high=high)


def free(name, low, high):
    return FreeParam(name, low, high, False)


def test_identification_takes_relative_steps_for_positive_parameters_bounded_at_zero(monkeypatch):
    from jjj_sim.tools.calibration import checks

    moved = ("demography.negative_list_coverage", "choice.asc_tianjin")

    class Linear:  # a model whose every target is 100 * exp(coverage + Tianjin's constant)
        def __init__(self, cfg, targets, seeds):
            self.targets = targets

        def values(self, params, seed):
            return {t.id: 100.0 * math.exp(sum(params[n] for n in moved)) for t in self.targets}

    monkeypatch.setattr(checks, "Simulator", Linear)
    res = checks.identification(PARAMS, 0.01, 1, 0.2)
    kinds = res["kinds"]
    assert kinds["demography.negative_list_coverage"] == "elasticity"  # bounds [0, 0.55], value 0.085
    assert kinds["choice.asc_tianjin"] == "per unit" and kinds["closure.list_size"] == "elasticity"
    x = res["point"]["demography.negative_list_coverage"]
    cell = res["elasticities"]["demography.negative_list_coverage"]["T13_2015"]["elasticity"]
    assert cell == pytest.approx(x * 2 * 0.2 / math.log(1.2 / 0.8))  # d log target / d log x over a +-20% step
    assert res["elasticities"]["choice.asc_tianjin"]["T1"]["elasticity"] == pytest.approx(1.0)  # per unit


def test_the_record_is_read_as_the_loss_reads_it():
    assert L.record_sigma(target("a", "approx", 100, tolerance=0.05)) == 0.05
    assert L.record_sigma(target("r", "range", 15, low=10, high=20)) == pytest.approx(math.log(2) / math.sqrt(12))
    assert L.record_sigma(target("l", "at_least", 100)) is None
    assert L.record_sigma(target("c", "approx", 100, weight=0)) is None


def test_the_covariance_is_the_inverse_of_the_gauss_newton_precision():
    targets = [target("a", "approx", 100, tolerance=0.1), target("b", "approx", 100, tolerance=0.2),
               target("l", "at_least", 100)]
    jac = np.array([[2.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    spread = {"a": {"mean": 100, "cv": 0.0}, "b": {"mean": 100, "cv": 0.0}, "l": {"mean": 120, "cv": 0.0}}
    g = L.gaussian(jac, targets, spread, np.zeros(2), ["identity"] * 2)
    h = np.outer(jac[0], jac[0]) / 0.1 ** 2 + np.outer(jac[1], jac[1]) / 0.2 ** 2  # the one-sided target adds nothing
    assert np.allclose(g.precision, h) and np.allclose(g.cov, np.linalg.inv(h)) and set(g.sigma) == {"a", "b"}
    spread["a"]["cv"] = 0.1  # the model's own seed spread widens the target
    assert L.gaussian(jac, targets, spread, np.zeros(2), ["identity"] * 2).sigma["a"] == pytest.approx(math.sqrt(0.02))


def test_a_direction_no_target_moves_is_refused():
    targets = [target("a", "approx", 100), target("b", "approx", 100)]
    jac = np.array([[1.0, 2.0], [2.0, 4.0]])  # the two parameters move the targets only together
    with pytest.raises(ConfigError, match="calibration.free: the targets do not identify every parameter"):
        L.gaussian(jac, targets, {"a": {"mean": 1, "cv": 0}, "b": {"mean": 1, "cv": 0}}, np.zeros(2), ["identity"] * 2)


def test_proposals_keep_the_bounds_and_say_how_many_fell_inside():
    fr = [free("x", 0.0, 10.0), free("y", -1.0, 1.0)]
    g = L.Gaussian(np.array([0.0, 0.0]), np.diag([0.25, 1.0]), np.diag([4.0, 1.0]), ["log", "identity"], {})
    vals, acc = L.propose(g, 4000, 3, fr)
    assert vals.shape == (4000, 2)
    assert (vals[:, 1] >= -1).all() and (vals[:, 1] <= 1).all() and (vals[:, 0] <= 10).all()
    assert acc == pytest.approx(0.683, abs=0.02)  # P(|N(0, 1)| <= 1); x = e^N(0, 0.5^2) is inside (0, 10] nearly always
    assert vals[:, 1].min() < -0.95 and vals[:, 1].max() > 0.95  # truncated, not shifted
    again, _ = L.propose(g, 4000, 3, fr)
    assert np.array_equal(vals, again)  # the same seed, the same particles
    narrow = [free("x", 0.99999, 1.00001), free("y", -5.0, 5.0)]  # about 1 proposal in 60,000 inside
    with pytest.raises(ConfigError, match="--particles: only"):
        L.propose(g, 5, 3, narrow)


def test_the_linearity_diagnostic_finds_a_linear_model_linear():
    targets = [target("a", "approx", 100, tolerance=0.1), target("r", "range", 50, low=40, high=60),
               target("l", "at_least", 100)]
    jac = np.array([[1.0, 0.5], [0.0, 2.0], [1.0, 0.0]])
    spread = {"a": {"mean": 100.0, "cv": 0.0}, "r": {"mean": 55.0, "cv": 0.0}, "l": {"mean": 105.0, "cv": 0.0}}
    g = L.gaussian(jac, targets, spread, np.zeros(2), ["identity"] * 2)
    x = np.array([[0.1, -0.1], [-0.2, 0.3], [0.05, 0.05]])
    runs = [{t.id: float(spread[t.id]["mean"] * np.exp(jac[i] @ row)) for i, t in enumerate(targets)} for row in x]
    fr = [free("x", -5, 5), free("y", -5, 5)]
    _, log_l = L.importance(g, x, runs, targets, fr)
    lin = L.linearity(g, x, log_l, jac, targets, spread)
    assert lin["distance_minus_linear"] == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert lin["linear_distance"][2] > 0  # the draws do move the distance: the test is not vacuous


def test_importance_weights_are_likelihood_times_prior_over_the_proposal():
    targets = [target("a", "approx", 100, tolerance=0.1), target("c", "approx", 1, weight=0)]
    fr = [free("x", 0.0, 10.0), free("y", -5.0, 5.0)]
    logged = [FreeParam("x", 0.01, 10.0, True), fr[1]]  # bounds searched on a log scale: a log-uniform prior
    g = L.Gaussian(np.array([0.0, 0.5]), np.eye(2), np.diag([4.0, 1.0]), ["log", "identity"], {})
    x = np.array([[1.0, 0.5], [2.0, 0.0], [0.5, 1.0]])
    runs = [{"a": 100.0, "c": 9.0}, {"a": 110.0, "c": 9.0}, {"a": 80.0, "c": 9.0}]  # a check (weight 0) counts for nothing
    w, log_l = L.importance(g, x, runs, targets, fr)
    assert np.allclose(log_l, [0.0, -0.5, -2.0])
    u = np.column_stack([np.log(x[:, 0]), x[:, 1]])
    log_q = -0.5 * (4.0 * u[:, 0] ** 2 + (u[:, 1] - 0.5) ** 2)
    expect = np.exp(log_l + u[:, 0] - log_q)  # + log x: a uniform prior in x, sampled in log x
    assert np.allclose(w, expect / expect.sum()) and w.sum() == pytest.approx(1.0)
    w_log, _ = L.importance(g, x, runs, targets, logged)
    expect = np.exp(log_l - log_q)  # no + log x: the prior is already uniform in log x
    assert np.allclose(w_log, expect / expect.sum())
    assert L.weighted_quantile(np.array([3.0, 1.0, 2.0]), np.array([0.2, 0.5, 0.3]), 0.5) == 1.0


def test_the_next_temperature_keeps_half_the_particles():
    r = np.linspace(0.0, 50.0, 100)
    b = L._next_beta(r, 0.0)
    lw = b * r
    w = np.exp(lw - lw.max())
    assert 0 < b < 1 and L.effective_size(w) == pytest.approx(50, abs=0.5)
    assert L._next_beta(np.zeros(10), 0.3) == 1.0  # flat weights: straight to the posterior


def _check_files(tmp_path, scale=0.01, shift=0.0):
    """An identification and a replications result at the committed fit, made up (no simulation):
    each parameter moves its own two-sided, weighted target (the ones with curvature), so every
    direction is identified."""
    _, targets, fr, point = setup(PARAMS, scale)
    curved = [t.id for t in targets if L.record_sigma(t) is not None]
    assert len(curved) >= len(fr)
    ident = {"scale": scale, "point": {**point, fr[0].name: point[fr[0].name] + shift},
             "kinds": {p.name: "elasticity" if p.low >= 0 else "per unit" for p in fr},
             "elasticities": {p.name: {t.id: {"elasticity": 1.0 if t.id == curved[j] else 0.01, "se": 0.0}
                                       for t in targets} for j, p in enumerate(fr)}}
    repl = {"point": point, "by_scale": {str(scale): {"seeds": 2, "targets": {
        t.id: {"mean": t.value * 1.05 if t.kind == "at_least" else t.value, "cv": 0.01} for t in targets}}}}
    (tmp_path / "ident.json").write_text(json.dumps(ident))
    (tmp_path / "repl.json").write_text(json.dumps(repl))
    return fr


def laplace(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "jjj_sim.tools.calibration.laplace", *args], check=False, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_command_writes_a_posterior_the_tools_read(tmp_path):
    fr = _check_files(tmp_path)
    out = tmp_path / "out"
    r = laplace("--identification", str(tmp_path / "ident.json"), "--replications", str(tmp_path / "repl.json"),
                "--particles", "4", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["laplace.json", "posterior.parquet"]
    post = posterior.load(out / "posterior.parquet")
    assert post.names == [p.name for p in fr] and post.size == 4 and post.weights.sum() == pytest.approx(1.0)
    assert post.meta["method"] == "laplace" and post.meta["population_scale"] == 0.01
    assert post.meta["effective_sample_size"] == pytest.approx(post.effective_size)
    for j, p in enumerate(fr):
        assert (post.values[:, j] >= p.low).all() and (post.values[:, j] <= p.high).all()
    res = json.loads((out / "laplace.json").read_text())
    assert res["command"].startswith("python -m jjj_sim.tools.calibration.laplace")
    assert set(res["params"]) == {p.name for p in fr} and set(res["predictive"]) >= {"T1", "P1_2016"}
    tempered = tmp_path / "tempered"
    r = laplace("--identification", str(tmp_path / "ident.json"), "--replications", str(tmp_path / "repl.json"),
                "--particles", "4", "--temper", "2", "--moves", "2", "--out", str(tempered))
    assert r.returncode == 0, r.stderr[-2000:]
    post = posterior.load(tempered / "posterior.parquet")
    assert post.meta["method"] == "laplace-smc" and np.allclose(post.weights, 0.25)
    stages = json.loads((tempered / "laplace.json").read_text())["tempering"]["stages"]
    assert 1 <= len(stages) <= 2 and all(0 < s["beta"] <= 1 and 1 <= s["ancestors"] <= 4 for s in stages)
    assert all(s["moves_tried"] == 8 and 0 <= s["moves_accepted"] <= 8 for s in stages)
    assert [s["beta"] for s in stages] == sorted(s["beta"] for s in stages)


def test_bad_inputs_are_one_line_exit_2_and_write_nothing(tmp_path):
    _check_files(tmp_path, shift=1.0)
    (tmp_path / "junk.json").write_text("{not json")
    files = ["--replications", str(tmp_path / "repl.json")]
    cases = [
        (["--identification", str(tmp_path / "ident.json"), *files], "--identification: was measured at"),
        (["--identification", str(tmp_path / "junk.json"), *files], "--identification: "),
        (["--identification", str(tmp_path / "none.json"), *files], "--identification: no such file"),
        (["--particles", "0"], "--particles: must be at least 1"),
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--temper", "-1"], "--temper: must be 0 or more"),
    ]
    for args, says in cases:
        r = laplace(*args, "--out", str(tmp_path / "out"))
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert says in r.stderr, r.stderr
        assert not (tmp_path / "out").exists()

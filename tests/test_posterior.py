"""The calibration's posterior as a file: reading it, draws (params_draw=K), and compare with
uncertainty: posterior (parameters and seeds together)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_cfg

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner import posterior
from jjj_sim.runner.config import load_params_file
from jjj_sim.runner.ensembles import posterior_differences

ROOT = Path(__file__).resolve().parents[1]
FITTED = load_params_file("calibration/fitted/baseline.yaml")


def _write(path: Path, rows: list[dict], weights: list[float], seed: int = 7) -> Path:
    df = pd.DataFrame(rows)
    df["weight"] = weights
    posterior.write(path, df, {"seed": seed, "generations": 1, "epsilons": [1.0]})
    return path


def test_draws_follow_the_weights_and_are_stable(tmp_path):
    p = posterior.load(_write(tmp_path / "p.parquet", [{"choice.asc_xiongan": float(i)} for i in range(4)],
                              [0.7, 0.1, 0.1, 0.1]))
    picks = [p.index(k) for k in range(4000)]
    assert np.mean(np.array(picks) == 0) == pytest.approx(0.7, abs=0.03)
    assert [p.index(k) for k in range(50)] == [p.index(k) for k in range(50)]  # draw K is always the same particle
    assert p.draw(3) == {"choice.asc_xiongan": float(picks[3])}


def test_a_posterior_whose_weights_sit_on_few_particles_is_loaded_with_a_warning(tmp_path, caplog):
    even = posterior.load(_write(tmp_path / "even.parquet", [{"choice.asc_xiongan": float(i)} for i in range(20)],
                                 [0.05] * 20))
    assert even.effective_size == pytest.approx(20.0)
    assert "effective sample size" not in caplog.text
    thin = _write(tmp_path / "thin.parquet", [{"choice.asc_xiongan": float(i)} for i in range(20)], [0.98] + [0.001] * 19)
    p = posterior.load(thin)
    assert p.effective_size < 1.1
    assert caplog.text.count("thin.parquet: effective sample size 1.0 of 20 particles") == 1
    posterior.load(thin)  # once per file and process
    assert caplog.text.count("effective sample size") == 1


def test_params_draw_sets_the_drawn_parameters_over_the_fitted_point(tmp_path):
    f = _write(tmp_path / "p.parquet", [{"choice.asc_xiongan": 1.5, "choice.asc_park_science": 2.0},
                                        {"choice.asc_xiongan": 9.0, "choice.asc_park_science": -1.0}], [0.5, 0.5])
    p = posterior.load(f)
    for k in range(3):
        cfg = make_cfg(f"params_draw={k}", f"posterior_file={f}")
        assert cfg.params.choice.asc_xiongan == p.draw(k)["choice.asc_xiongan"]
        assert cfg.params.choice.asc_park_science == p.draw(k)["choice.asc_park_science"]
        # parameters the posterior does not hold keep the fitted values
        assert cfg.params.closure.list_size == pytest.approx(FITTED["closure.list_size"])
    # the command line still wins over the draw
    cfg = make_cfg("params_draw=0", f"posterior_file={f}", "params.choice.asc_xiongan=4.25")
    assert cfg.params.choice.asc_xiongan == 4.25


@pytest.mark.parametrize("overrides, field", [
    (["params_draw=-1"], "params_draw"),
    (["params_draw=1.5"], "params_draw"),
    (["params_draw=0", "posterior_file=/nonexistent/p.parquet"], "posterior_file"),
    (["params_draw=0", "posterior_file=null"], "posterior_file"),
])
def test_bad_draws_are_refused(overrides, field):
    with pytest.raises(ConfigError) as e:
        make_cfg(*overrides)
    assert e.value.field == field


def test_malformed_posterior_files_are_refused(tmp_path):
    (tmp_path / "text.parquet").write_text("not parquet")
    pd.DataFrame({"choice.asc_xiongan": [1.0]}).to_parquet(tmp_path / "noweight.parquet")
    pd.DataFrame({"nope": [1.0], "weight": [1.0]}).to_parquet(tmp_path / "unknown.parquet")
    pd.DataFrame({"choice.asc_xiongan": [1.0], "weight": [-1.0]}).to_parquet(tmp_path / "negative.parquet")
    for name in ("text", "noweight", "unknown", "negative"):
        with pytest.raises(ConfigError) as e:
            posterior.load(tmp_path / f"{name}.parquet")
        assert e.value.field == "posterior_file", name


def test_variance_share_separates_parameter_and_seed_spread():
    rng = np.random.default_rng(1)
    rows = []
    for draw in range(30):
        effect = 100.0 * draw  # the scenario effect depends on the parameters only
        for seed in range(6):
            base = rng.normal(1000, 50)
            rows += [{"scenario": "baseline", "draw": draw, "seed": seed, "indicator": "a", "year": 2030, "value": base},
                     {"scenario": "x", "draw": draw, "seed": seed, "indicator": "a", "year": 2030,
                      "value": base + effect + rng.normal(0, 1.0)}]
    r = posterior_differences(pd.DataFrame(rows), "baseline").iloc[0]
    assert r.n_draws == 30 and r.n_seeds == 6
    assert r.param_share > 0.99
    assert r.post_mean_diff == pytest.approx(100.0 * 14.5, rel=0.01)


def compare(*args):
    exe = Path(sys.executable).with_name("jjj-sim-compare")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_posterior_compare_end_to_end(tmp_path):
    # two particles: the fitted point, and one with a much stronger pull of Xiong'an
    strong = dict(FITTED, **{"choice.asc_xiongan": 9.0})
    f = _write(tmp_path / "p.parquet", [FITTED, strong], [0.5, 0.5])
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"scenarios: [baseline, xiongan_acceleration]\nseeds: 2\npopulation_scale: 0.01\n"
                   f"end_year: 2026\nuncertainty: posterior\ndraws: 4\nposterior_file: {f.name}\n"
                   # no prior spread: a draw of the fitted particle is then the fitted point (the prior
                   # draws of parks without a count and of the half-life are tested in test_parks_evidence)
                   "overrides: ['params.parks.prior_sd=0', 'params.demography.growth_half_life_years=2.0']\n")
    out = tmp_path / "cmp"
    r = compare(str(exp), "--workers", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    runs = pd.read_parquet(out / "runs.parquet")
    assert str(runs["draw"].dtype) == "Int64"
    per = runs.groupby(["scenario", runs["draw"].fillna(-1)])["seed"].nunique()
    assert set(per.index.get_level_values(1)) == {-1, 0, 1, 2, 3} and (per == 2).all()
    p = posterior.load(f)
    # a draw that picked the fitted point reproduces the fitted-point runs exactly
    fitted_draws = [k for k in range(4) if p.index(k) == 0]
    fitted_runs = runs[runs["draw"].isna()].drop(columns="draw").reset_index(drop=True)
    for k in fitted_draws:
        same = runs[runs["draw"] == k].drop(columns="draw").reset_index(drop=True)
        pd.testing.assert_frame_equal(same, fitted_runs)
    post = pd.read_csv(out / "posterior_differences.csv")
    assert set(post["n_draws"]) == {4} and set(post["n_seeds"]) == {2}
    assert post["param_share"].dropna().between(0, 1).all()
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Parameter uncertainty" in report and "share of variance from parameters" in report


def test_compare_refuses_draws_without_posterior_uncertainty(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text("scenarios: [baseline, no_strategy]\ndraws: 4\n")
    r = compare(str(exp), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "draws" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    exp.write_text("scenarios: [baseline, no_strategy]\nuncertainty: posteriors\n")
    r = compare(str(exp), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "uncertainty" in r.stderr
    assert not (tmp_path / "o").exists()


def test_calibration_writes_its_last_abc_generation_as_the_posterior_file(tmp_path):
    import pyabc

    exe = Path(sys.executable).with_name("jjj-sim-calibrate")
    run = tmp_path / "cal"
    r = subprocess.run([str(exe), "population.scale=0.02", "calibration.budget=2", "calibration.replications=1",
                        "calibration.polish=0", "calibration.abc.population_size=12", "calibration.abc.generations=2",
                        "calibration.check.scale=0.02", "calibration.check.replications=2", "calibration.workers=1",
                        f"hydra.run.dir={run}"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    p = posterior.load(run / "posterior.parquet")
    h = pyabc.History(f"sqlite:///{run / 'abc.db'}")
    df, w = h.get_distribution(m=0, t=h.max_t)
    assert p.size == 12 == len(df)
    assert p.weights == pytest.approx(w / w.sum())
    # the log-scale parameters are stored on their own scale, inside their bounds
    hz = p.values[:, p.names.index("relocation.base_quarterly_hazard")]
    assert np.allclose(hz, np.exp(df["relocation__base_quarterly_hazard"].to_numpy()))
    assert ((hz >= 5e-4) & (hz <= 3e-2)).all()
    assert p.meta["generations"] == 2 and p.meta["population_scale"] == 0.02 and len(p.meta["epsilons"]) == 2

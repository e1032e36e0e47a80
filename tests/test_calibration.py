"""Calibration: targets file checks, the distance, a small calibration, and resuming one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.seeds import replication_seeds
from jjj_sim.runner.compose import compose as compose_config
from jjj_sim.runner.targets import Target, load_targets, loss
from jjj_sim.tools.calibration.calibrate import check_plan
from jjj_sim.tools.calibration.optimizers import least_squares_polish
from jjj_sim.tools.calibration.simulator import parse_free

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "calibration" / "targets.yaml"
SMALL = ["population.scale=0.01", "calibration.replications=1", "calibration.workers=1", "calibration.polish=0",
         "calibration.abc.population_size=6", "calibration.check.scale=0.01", "calibration.check.replications=2"]


def calibrate(*args, timeout=600):
    exe = Path(sys.executable).with_name("jjj-sim-calibrate")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_committed_targets_carry_provenance():
    targets = load_targets(TARGETS)
    by_id = {t.id: t for t in targets}
    assert list(by_id) == ["T1", "T2", "T3", "T4", "T5", "T6", "T7_tianjin", "T7_hebei", "T8_count",
                           "T8_turnover", "T9", "T10", "T11_2017", "T11_2015_2017", "T13_2015", "T13_2017",
                           "T13_2019", "T14", "P2_2018", "P2_2020", "P2_max", "P1_2015", "P1_2016", "P1_2020",
                           "P3_2015", "P3_2020", "P4_2015"]
    t1, t2, t3 = by_id["T1"], by_id["T2"], by_id["T3"]
    assert (t1.kind, t1.value, t1.year) == ("approx", 43000, 2023)
    assert (t2.kind, t2.low, t2.high, t2.year) == ("range", 10000, 11000, 2023)  # "more than 10,000"
    assert (t3.kind, t3.value, t3.year) == ("at_least", 1300, 2016)
    assert "around 43,000 companies" in t1.quote and "more than 10,000 branches" in t2.quote
    assert "over 1300 enterprises" in t3.quote
    # the record through 2020: closures path, the Tianjin/Hebei split, contracts, Xiong'an, parks
    assert (by_id["T4"].kind, by_id["T4"].low, by_id["T4"].high, by_id["T4"].year) == ("range", 1800, 2000, 2017)
    assert (by_id["T6"].low, by_id["T6"].high, by_id["T6"].year) == (2800, 2900, 2020)
    assert (by_id["T7_tianjin"].value, by_id["T7_hebei"].value) == (4173, 4643)
    assert "4173" in by_id["T7_tianjin"].quote and "1410億元" in by_id["T8_turnover"].quote
    assert (by_id["P1_2020"].park, by_id["P1_2020"].field) == ("baoding_zgc", "firms_from_beijing")
    assert (by_id["T10"].value, by_id["T10"].year) == (6149, 2017) and "3049" in by_id["T10"].quote
    assert (by_id["T11_2015_2017"].since, by_id["T11_2015_2017"].value) == (2014, 41.84)
    assert by_id["T14"].weight == 0  # projects, not firms: a check, not fitted
    # calibration stops at 2020 except T1-T2
    assert all(t.year <= 2020 for t in targets if t.id not in ("T1", "T2"))
    assert all(t.source and t.date for t in targets)


def _write(tmp_path, mutate):
    data = yaml.safe_load(TARGETS.read_text())
    mutate(data["targets"])
    p = tmp_path / "targets.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("mutate, field", [
    (lambda ts: ts[0].update(indicator="no_such_indicator"), "targets.yaml:T1.indicator"),
    (lambda ts: ts[1].pop("quote"), "targets.yaml:T2.quote"),
    (lambda ts: ts[2].update(year=2040), "targets.yaml:T3.year"),
    (lambda ts: ts[0].update(kind="roughly"), "targets.yaml:T1.kind"),
    (lambda ts: ts[0].update(value=-5), "targets.yaml:T1.value"),
    (lambda ts: ts[0].update(tolerance=2), "targets.yaml:T1.tolerance"),
    (lambda ts: ts[1].update(id="T1"), "targets.yaml:T1.id"),
])
def test_malformed_targets_name_entry_and_field(tmp_path, mutate, field):
    with pytest.raises(ConfigError) as e:
        load_targets(_write(tmp_path, mutate))
    assert e.value.field == field


def test_target_year_must_lie_in_the_run(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_targets(TARGETS, end_year=2020)
    assert e.value.field == "targets.yaml:T1.year"


def test_unparsable_targets_file(tmp_path):
    p = tmp_path / "targets.yaml"
    p.write_text("targets: [unclosed")
    with pytest.raises(ConfigError) as e:
        load_targets(p)
    assert e.value.field == "targets.yaml"


def _t(kind, value=100.0, tol=0.1):
    return Target("X", "zgc_branches_tjhb", 2020, value, kind, tol, "s", "d", "q")


def test_distance_is_scale_free_and_one_sided_for_bounds():
    a = _t("approx")
    assert a.distance(100) == 0 and a.distance(110) == pytest.approx(1.0) and a.distance(90) == pytest.approx(1.0)
    assert _t("approx", 1000).distance(1100) == pytest.approx(a.distance(110))  # relative
    lo = _t("at_least")
    assert lo.distance(500) == 0 and lo.distance(90) == pytest.approx(1.0)
    assert lo.distance(100, margin=0.1) == pytest.approx(1.0)
    hi = _t("at_most")
    assert hi.distance(10) == 0 and hi.distance(110) == pytest.approx(1.0)
    assert lo.met(100) and not lo.met(99.9) and hi.met(100) and a.met(109) and not a.met(111)
    both = [_t("approx"), Target("Y", "zgc_branches_tjhb", 2020, 10, "at_least", 0.1, "s", "d", "q", weight=3)]
    assert loss(both, {"X": 110, "Y": 9}) == pytest.approx((1 * 1 + 3 * 1) / 4)


def test_replication_seeds_are_common_and_distinct():
    assert replication_seeds(5, 4) == replication_seeds(5, 4)
    assert len(set(replication_seeds(5, 4))) == 4
    assert replication_seeds(5, 4) != replication_seeds(6, 4)


def test_free_parameter_bounds_are_checked():
    with pytest.raises(ConfigError) as e:
        parse_free({"closure.no_such": {"low": 0, "high": 1}})
    assert e.value.field == "calibration.free.closure.no_such"
    with pytest.raises(ConfigError) as e:
        parse_free({"closure.annual_pace": {"low": 0.5, "high": 0.1}})
    assert e.value.field == "calibration.free.closure.annual_pace"
    with pytest.raises(ConfigError) as e:
        parse_free({"closure.annual_pace": {"low": 0.0, "high": 0.1, "log": True}})
    assert e.value.field == "calibration.free.closure.annual_pace.low"


def test_bad_calibration_input_is_one_line_exit_2(tmp_path):
    bad = _write(tmp_path, lambda ts: ts[0].update(indicator="nope"))
    out = tmp_path / "cal"
    r = calibrate(*SMALL, f"calibration.targets={bad}", f"hydra.run.dir={out}")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["jjj-sim-calibrate: error: targets.yaml:T1.indicator: unknown indicator 'nope'"]
    assert not out.exists()
    r = calibrate(*SMALL, "calibration.budget=0", f"hydra.run.dir={out}")
    assert r.returncode == 2 and "calibration.budget" in r.stderr and not out.exists()
    r = calibrate(*[a for a in SMALL if a != "calibration.polish=0"], "calibration.polish_method=least-squares",
                  "calibration.polish=22", f"hydra.run.dir={out}")
    assert r.returncode == 2 and not out.exists()
    assert r.stderr.strip().splitlines() == ["jjj-sim-calibrate: error: calibration.polish: the least-squares polish "
                                             "of 21 parameters needs at least 23 simulations (a Jacobian and a step, "
                                             "x 1 replications), got 22; 0 skips the polish"]
    r = calibrate(*SMALL, "calibration.polish_method=newton", f"hydra.run.dir={out}")
    assert r.returncode == 2 and not out.exists()
    assert r.stderr.strip().splitlines() == ["jjj-sim-calibrate: error: calibration.polish_method: expected one of "
                                             "nelder-mead, least-squares, got 'newton'"]


def test_a_rerun_into_a_calibration_needs_its_settings(tmp_path):
    """calibration_plan.json keeps a calibration's settings: a rerun with others is refused,
    naming them; a plan written before calibration.polish_method existed ran Nelder-Mead."""
    cfg = compose_config([], "calibrate")
    check_plan(tmp_path, cfg)
    check_plan(tmp_path, cfg)  # the same settings: resumes
    with pytest.raises(ConfigError) as e:
        check_plan(tmp_path, compose_config(["calibration.budget=8"], "calibrate"))
    assert e.value.field == "hydra.run.dir" and "they differ in: calibration.budget)" in e.value.message
    plan = tmp_path / "calibration_plan.json"
    old = json.loads(plan.read_text())
    del old["calibration"]["polish_method"]
    plan.write_text(json.dumps(old))
    check_plan(tmp_path, cfg)
    with pytest.raises(ConfigError) as e:
        check_plan(tmp_path, compose_config(["calibration.polish_method=least-squares"], "calibrate"))
    assert "they differ in: calibration.polish_method)" in e.value.message


def test_least_squares_polish_finds_a_linear_models_truth_within_its_budget():
    """The least-squares polish on a made-up model whose values are linear in the unit-cube
    parameters (two seeds, each with a fixed offset; three approx targets that pin the truth,
    an at_least and a range target that the truth clears): from a corner it reaches the truth,
    and it never runs more points than its budget, the finite-difference Jacobian's included."""
    def target(id_, kind, value, **kw):
        return Target(id_, "beijing_closures_cum", 2016, value, kind, 0.1, "s", "d", "q", **kw)

    targets = [target("A", "approx", 100.0), target("B", "at_least", 40.0, weight=2),
               target("C", "range", 35.0, low=30.0, high=40.0), target("D", "approx", 20.0), target("E", "approx", 60.0)]
    m = np.array([[60.0, 20.0, 10.0], [10.0, 40.0, 0.0], [0.0, 10.0, 30.0], [5.0, 5.0, 20.0], [30.0, -20.0, 40.0]])
    truth = np.array([0.6, 0.7, 0.3])
    base = np.array([100.0, 50.0, 35.0, 20.0, 60.0]) - m @ truth  # B 50 and C 35 at the truth: met
    offsets = [np.array([1.0, -1.0, 0.5, 0.2, -0.3]), np.array([-1.0, 1.0, -0.5, -0.2, 0.3])]  # the seeds
    seen: list[tuple[float, np.ndarray]] = []

    def runs_at(u):
        return [dict(zip("ABCDE", base + m @ u + o)) for o in offsets]

    def mean_loss(u):
        return float(np.mean([loss(targets, r) for r in runs_at(u)]))

    def evaluate(u):
        seen.append((mean_loss(u), np.array(u)))
        return runs_at(u), seen[-1][0]

    least_squares_polish(evaluate, np.zeros(3), targets, 0.0, 80, lambda: len(seen))
    assert 4 < len(seen) <= 80
    best_loss, best = min(seen, key=lambda e: e[0])
    assert best_loss <= mean_loss(truth) + 1e-9 and np.abs(best - truth).max() < 0.01
    seen.clear()
    least_squares_polish(evaluate, np.zeros(3), targets, 0.0, 7, lambda: len(seen))
    assert len(seen) == 7  # stopped by the budget, mid-Jacobian


def test_small_calibration_runs_and_its_fit_loads(tmp_path):
    out = tmp_path / "cal"
    small = [a for a in SMALL if not a.startswith("calibration.polish=")]
    r = calibrate(*small, "calibration.budget=6", "calibration.abc.generations=1", "calibration.polish=6",
                  f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((out / "fit_report.json").read_text())
    assert rep["optuna"]["parameter_sets"] == 6
    # the polish starts from the Optuna point and never ends worse
    assert rep["polish"]["loss"] <= rep["polish"]["start_loss"] == pytest.approx(rep["optuna"]["best_loss"])
    assert rep["polish"]["simulations"] <= 6 and (out / "polish.json").exists()
    assert [t["id"] for t in rep["targets"]] == [t.id for t in load_targets(TARGETS)]
    for t in rep["targets"]:
        assert t["p05"] <= t["mean"] <= t["p95"] and isinstance(t["met"], bool)
    assert set(rep["posterior"]["params"]) == set(rep["free"])
    for q in rep["posterior"]["params"].values():
        assert q["p05"] <= q["p50"] <= q["p95"]
    for name in ("fit_report.md", "plots/loss_history.png", "plots/posterior.png", "plots/check.png"):
        assert (out / name).exists(), name
    fitted = yaml.safe_load((out / "fitted_params.yaml").read_text())
    assert set(fitted) == set(rep["free"])
    for name, bounds in rep["free"].items():
        assert bounds["low"] <= fitted[name] <= bounds["high"]
    # the fitted file drives a run
    run = tmp_path / "run"
    exe = Path(sys.executable).with_name("jjj-sim")
    r = subprocess.run([str(exe), "population.scale=0.01", f"params_file={out / 'fitted_params.yaml'}",
                        f"hydra.run.dir={run}", "run.plots=false"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((run / "config_resolved.yaml").read_text())["params"]["closure"]["annual_pace"] \
        == pytest.approx(fitted["closure.annual_pace"])


def _complete_trials(run_dir: Path) -> int:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="jjj-sim",
                              storage=JournalStorage(JournalFileBackend(str(run_dir / "optuna_journal.log"))))
    return sum(t.state.name == "COMPLETE" for t in study.trials)


def test_interrupted_calibration_resumes(tmp_path):
    out = tmp_path / "cal"
    exe = Path(sys.executable).with_name("jjj-sim-calibrate")
    args = [*SMALL, "calibration.budget=30", "calibration.abc.generations=0", f"hydra.run.dir={out}"]
    proc = subprocess.Popen([str(exe), *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    journal = out / "optuna_journal.log"
    deadline = time.time() + 120
    while time.time() < deadline and (not journal.exists() or _complete_trials(out) < 3):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _complete_trials(out)
    assert 3 <= done_before < 30, "the calibration should have been stopped part-way"
    assert not (out / "fit_report.json").exists()
    r = calibrate(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"optuna: {done_before} of 30 parameter sets done" in r.stderr + r.stdout
    assert _complete_trials(out) == 30
    assert json.loads((out / "fit_report.json").read_text())["optuna"]["parameter_sets"] == 30


def test_a_warm_start_is_tried_first(tmp_path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    start = tmp_path / "start.yaml"
    start.write_text("closure.annual_pace: 444.0\nchoice.asc_tianjin: 9.0\n")  # 9 is clipped to the bound
    out = tmp_path / "cal"
    r = calibrate(*SMALL, "calibration.budget=2", "calibration.abc.generations=0", f"calibration.start={start}",
                  f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    study = optuna.load_study(study_name="jjj-sim",
                              storage=JournalStorage(JournalFileBackend(str(out / "optuna_journal.log"))))
    first = min(study.trials, key=lambda t: t.number).params
    assert first["closure.annual_pace"] == 444.0
    assert first["choice.asc_tianjin"] == 4.0  # the upper bound in conf/calibrate.yaml


# ---------------------------------------------------------------------------------- credibility checks
def checks(*args, cwd):
    return subprocess.run([sys.executable, "-m", "jjj_sim.tools.calibration.checks", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_a_check_writes_outside_the_repository_by_default(tmp_path):
    committed = {p.name: p.read_bytes() for p in (ROOT / "calibration" / "results").glob("*.json")}
    r = checks("replications", "--scales", "0.01", "--seeds", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    (path,) = (tmp_path / "outputs" / "checks" / "replications").glob("*/replications.json")
    res = json.loads(path.read_text())
    assert res["command"] == "python -m jjj_sim.tools.calibration.checks replications --scales 0.01 --seeds 2"
    assert set(res["by_scale"]["0.01"]["targets"]) >= {"T1", "T3"}
    assert {p.name: p.read_bytes() for p in (ROOT / "calibration" / "results").glob("*.json")} == committed
    out = tmp_path / "given" / "dir"
    r = checks("replications", "--scales", "0.01", "--seeds", "2", "--tag", "x", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [p.name for p in out.iterdir()] == ["replications_x.json"]
    assert json.loads((out / "replications_x.json").read_text())["command"].endswith(f"--out {out}")


def test_a_bad_check_out_is_one_line_exit_2_before_running(tmp_path):
    (tmp_path / "file").write_text("x")
    for out, says in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "sub", "cannot write into")):
        r = checks("identification", "--out", str(out), cwd=tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith("jjj_sim.tools.calibration.checks: error: --out: ") and says in r.stderr
    r = checks("replications", "--params", "nope.yaml", "--out", str(tmp_path / "new" / "dir"), cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "nope.yaml" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no directory left behind


def test_check_results_are_written_all_or_nothing(tmp_path, monkeypatch):
    from jjj_sim.tools.calibration import checks as ch

    monkeypatch.setattr(ch, "identification", lambda *a: {"elasticities": {}, "args": list(a)})
    ch.main(["identification", "--reps", "1", "--step", "0.1", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "identification.json").read_text())
    assert res["args"] == ["calibration/fitted/baseline.yaml", 0.1, 1, 0.1]
    assert res["command"] == f"python -m jjj_sim.tools.calibration.checks identification --reps 1 --step 0.1 --out {tmp_path}"
    before = (tmp_path / "identification.json").read_text()
    with pytest.raises(TypeError):
        ch.write_result(tmp_path, "identification.json", {"x": object()})
    assert [p.name for p in tmp_path.iterdir()] == ["identification.json"]  # no partial file, no temporary one
    assert (tmp_path / "identification.json").read_text() == before


def test_recovery_check_runs_the_calibrator_with_the_polish_asked_for(tmp_path):
    """The recovery check makes targets at the fit, calibrates from another start with the
    polish asked for (--polish, --polish-method), and records the polish's losses beside every parameter's error."""
    r = checks("recovery", "--scale", "0.01", "--seeds", "1", "--budget", "1", "--replications", "1",
               "--generations", "0", "--polish", "2", "--out", str(tmp_path / "tiny"), cwd=tmp_path)
    # at scale 0.01 a young park holds no simulated firm: a synthetic target of 0, one line, exit 2
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]
    assert "--scale: the calibrator failed on the synthetic targets" in r.stderr and "must be a number > 0" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither --out nor the work directory is left behind
    out = tmp_path / "rec"
    r = checks("recovery", "--scale", "0.2", "--seeds", "4", "--budget", "1", "--replications", "1",
               "--generations", "0", "--polish", "23", "--polish-method", "least-squares", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out / "recovery.json").read_text())
    free = set(yaml.safe_load((ROOT / "conf" / "calibrate.yaml").read_text())["calibration"]["free"])
    assert set(res["params"]) == free
    assert all({"truth", "estimate", "relative_error"} <= set(v) for v in res["params"].values())
    # the method asked for, within its budget (23 points: the start, 21 Jacobian columns, a step)
    assert res["polish"]["method"] == "least-squares" and 22 <= res["polish"]["simulations"] <= 23
    assert res["polish"]["start_loss"] == pytest.approx(res["best_loss"])  # the polish starts at the Optuna point
    assert res["command"].endswith(f"--polish 23 --polish-method least-squares --out {out}")

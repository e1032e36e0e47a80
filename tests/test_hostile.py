"""Hostile input (issue 14): every way of pointing a command at a finished run is refused
without touching it; bad values are one line naming the field, never a traceback or NaN."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import paused

from jjj_sim.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SMALL = ["population.scale=0.02", "run.end_year=2016", "run.plots=false"]


def jjj(*args, cwd=ROOT, prog="jjj-sim"):
    return subprocess.run([str(BIN / prog), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)


def one_line(r, prog="jjj-sim", field=None, code=2):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code, r.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), r.stderr[-2000:]
    if field is not None:
        assert lines[0].startswith(f"{prog}: error: {field}"), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("finished") / "run"
    r = jjj(*SMALL, f"hydra.run.dir={d}")
    assert r.returncode == 0, r.stderr[-2000:]
    return d


def _snapshot(d: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in d.rglob("*") if p.is_file() and p.suffix != ".log"}


@pytest.mark.parametrize("args", [
    lambda d: ["--config-name=config", *SMALL, f"hydra.run.dir={d}"],
    lambda d: ["--config-name", "config", *SMALL, f"hydra.run.dir={d}"],
    lambda d: ["--run", *SMALL, f"hydra.run.dir={d}"],
    lambda d: [*SMALL, f"++hydra.run.dir={d}"],
    lambda d: [*SMALL, f"hydra.run.dir='{d}'"],
    lambda d: ["scenario=no_strategy", *SMALL, f"hydra.run.dir={d}"],  # another input: still refused
    lambda d: ["population.scale=-1", f"hydra.run.dir={d}"],          # a refused input leaves .hydra/ alone
], ids=["config-name=", "config-name", "run-flag", "++", "quoted", "other-scenario", "bad-input"])
def test_a_finished_run_is_never_overwritten(finished, args):
    before = _snapshot(finished)
    r = jjj(*args(finished))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]
    assert _snapshot(finished) == before


def test_a_finished_run_named_relative_to_the_working_directory_is_refused(finished):
    before = _snapshot(finished)
    r = jjj(*SMALL, "hydra.run.dir=run", cwd=finished.parent)
    one_line(r, field="hydra.run.dir")
    assert _snapshot(finished) == before


def test_another_config_name_is_refused():
    one_line(jjj("-cn", "calibrate", *SMALL), field="--config-name")


def test_an_unknown_scenario_in_a_sweep_is_refused_before_anything_runs(tmp_path):
    sweep = tmp_path / "sweep"
    r = jjj("-m", *SMALL, "scenario=baseline,nope", f"hydra.sweep.dir={sweep}")
    assert "unknown option 'nope'" in one_line(r, field="scenario")
    assert not sweep.exists()


@pytest.mark.parametrize("override, field", [
    ("population.scale=1e-9", "population.scale"),
    ("population.size_median=1e-300", "population.size_median"),
    ("population.size_median=1e300", "population.size_median"),
    ("population.size_sigma=500", "population.size_sigma"),
])
def test_inputs_that_would_give_nan_are_refused(tmp_path, override, field):
    one_line(jjj(*SMALL, override, f"hydra.run.dir={tmp_path / 'r'}"), field=field)
    assert not (tmp_path / "r").exists()


def test_summary_json_is_strict():
    from jjj_sim.runner.outputs import strict_json

    assert "NaN" not in strict_json({"indicators": {"a": {"2014": 1.0}}})
    with pytest.raises(ConfigError) as e:
        strict_json({"indicators": {"hebei_hightech_va_share": {"2014": math.nan}}})
    assert "hebei_hightech_va_share" in str(e.value)


@pytest.mark.parametrize("content, field", [
    ("params: 5\n", "params_file:params"),
    (b"\xfb\x00\x91binary", "params_file"),
    ("choice.asc_park_science: lots\n", "params_file:choice.asc_park_science"),
    ("params: {choice: {asc_park_science: [1, 2]}}\n", "params_file:choice.asc_park_science"),
])
def test_bad_params_files_are_one_line(tmp_path, content, field):
    f = tmp_path / "p.yaml"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    one_line(jjj(*SMALL, f"params_file={f}", f"hydra.run.dir={tmp_path / 'r'}"), field=field)


def test_an_unset_environment_variable_is_one_line(tmp_path):
    line = one_line(jjj(*SMALL, "seed=${oc.env:JJJ_SIM_SURELY_UNSET}", f"hydra.run.dir={tmp_path / 'r'}"))
    assert "seed" in line and "JJJ_SIM_SURELY_UNSET" in line


# ---------------------------------------------------------------------------- jjj-sim-calibrate
CAL = ["population.scale=0.02", "calibration.budget=2", "calibration.replications=1", "calibration.polish=0",
       "calibration.abc.generations=0", "calibration.check.scale=0.02", "calibration.check.replications=2",
       "calibration.workers=1"]


def calibrate(*args):
    return jjj(*CAL, *args, prog="jjj-sim-calibrate")


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cal") / "run"
    r = calibrate(f"hydra.run.dir={d}")
    assert r.returncode == 0, r.stderr[-2000:]
    return d


def test_a_calibration_resumes_only_with_its_own_settings(calibrated):
    before = _snapshot(calibrated)
    r = calibrate("calibration.budget=4", f"hydra.run.dir={calibrated}")
    assert "calibration.budget" in one_line(r, "jjj-sim-calibrate", "hydra.run.dir")
    assert _snapshot(calibrated) == before
    r = calibrate("calibration.workers=2", f"hydra.run.dir={calibrated}")  # parallelism may change
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_torn_journal_line_does_not_block_the_resume(calibrated):
    journal = calibrated / "optuna_journal.log"
    good = journal.read_bytes()
    journal.write_bytes(good + b'{"op_code": 4, "worker_id": "x", "trial_i')  # killed mid-write
    r = calibrate(f"hydra.run.dir={calibrated}")
    assert r.returncode == 0, r.stderr[-2000:]
    after = journal.read_bytes()
    assert after.startswith(good) and b"trial_i" not in after[len(good):].split(b"\n")[0]


def test_calibration_free_names_the_free_parameters(tmp_path):
    import json

    r = calibrate("calibration.free={closure.list_size: {low: 2000, high: 5000}}", f"hydra.run.dir={tmp_path / 'a'}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert list(json.loads((tmp_path / "a" / "fit_report.json").read_text())["free"]) == ["closure.list_size"]
    one_line(calibrate("calibration.free={}", f"hydra.run.dir={tmp_path / 'b'}"), "jjj-sim-calibrate",
             "calibration.free")
    r = calibrate("calibration.free.choice.beta_incentive={low: 0, high: 2}", f"hydra.run.dir={tmp_path / 'c'}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "choice.beta_incentive" in json.loads((tmp_path / "c" / "fit_report.json").read_text())["free"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_killing_the_calibration_ends_its_workers(tmp_path):
    import os
    import signal
    import time

    d = tmp_path / "cal"
    args = [str(BIN / "jjj-sim-calibrate"), "population.scale=0.02", "calibration.budget=400",
            "calibration.replications=1", "calibration.polish=0", "calibration.abc.generations=0",
            "calibration.workers=2", f"hydra.run.dir={d}"]
    p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        children: list[int] = []
        while len(children) < 2:  # the study is created (the journal written) before the workers fork
            assert p.poll() is None and time.monotonic() - t0 < 60, "the calibration never started its 2 workers"
            time.sleep(0.05)
            children = [int(x) for x in Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()]
        assert len(children) == 2
        os.kill(p.pid, signal.SIGKILL)  # the parent only
        p.wait()
        t0 = time.monotonic()
        while any(Path(f"/proc/{c}").exists() and Path(f"/proc/{c}/stat").read_text().split()[2] != "Z"
                  for c in children):
            assert time.monotonic() - t0 < 10, "the workers outlived the calibration"
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.parametrize("override, field", [
    ("calibration.bound_margin=abc", "calibration.bound_margin"),
    ("calibration.check.scale=x", "calibration.check.scale"),
    ("calibration.abc.min_epsilon=y", "calibration.abc.min_epsilon"),
    ("seed=abc", "seed"),
])
def test_non_numeric_calibration_settings_are_one_line(tmp_path, override, field):
    one_line(calibrate(override, f"hydra.run.dir={tmp_path / 'c'}"), "jjj-sim-calibrate", field)
    assert not (tmp_path / "c").exists()


# ---------------------------------------------------------------------------- jjj-sim-sensitivity
@pytest.mark.parametrize("extra, field", [
    ({"method": "morriss"}, "method"),
    ({"replications": 1.5}, "replications"),
    ({"indicators": ["hebei_firms_attracted_cum@2010"]}, "indicators:hebei_firms_attracted_cum@2010"),
    ({"morris": {"trajectories": "x"}}, "morris.trajectories"),
    ({"morris": {"levels": 3}}, "morris.levels"),
    ({"morris": {"trajectory": 4}}, "morris.trajectory"),
    ({"morris": 5}, "morris"),
    ({"seed": "abc"}, "seed"),
    ({"population_scale": "big"}, "population_scale"),
])
def test_bad_sensitivity_settings_are_refused_before_any_run(tmp_path, extra, field):
    import yaml

    exp = {"params": {"choice.asc_park_science": [4.0, 7.0]}, "indicators": ["hebei_firms_attracted_cum@2020"], **extra}
    f = tmp_path / "sa.yaml"
    f.write_text(yaml.safe_dump(exp))
    one_line(jjj(f, "--out", tmp_path / "out", prog="jjj-sim-sensitivity"), "jjj-sim-sensitivity", field)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- the user's own files
def test_a_folder_with_the_users_plots_is_not_overwritten(tmp_path):
    d = tmp_path / "mine"
    (d / "plots").mkdir(parents=True)
    (d / "plots" / "figure.png").write_bytes(b"my figure")
    one_line(jjj(*SMALL, "run.plots=true", f"hydra.run.dir={d}"), field="hydra.run.dir")
    assert (d / "plots" / "figure.png").read_bytes() == b"my figure"
    assert sorted(p.name for p in d.iterdir()) == ["plots"]  # nothing else written there either


def test_compare_never_replaces_the_users_files_and_resumes_once_they_are_moved(tmp_path):
    d = tmp_path / "mine"
    (d / "plots").mkdir(parents=True)
    (d / "plots" / "figure.png").write_bytes(b"my figure")
    args = ["--scenarios", "baseline,no_strategy", "--seeds", "2", "--scale", "0.02", "--end-year", "2016",
            "--workers", "1", "--out", d]
    r = jjj(*args, prog="jjj-sim-compare")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("jjj-sim-compare: error:")
    assert (d / "plots" / "figure.png").read_bytes() == b"my figure" and not (d / "report.md").exists()
    (d / "plots").rename(tmp_path / "my_plots")
    r = jjj(*args, prog="jjj-sim-compare")
    assert r.returncode == 0 and "resuming: 4 of 4 jobs done before" in r.stderr, r.stderr[-2000:]


def test_what_an_interrupted_move_left_is_removed_by_the_next_run(tmp_path):
    from jjj_sim.runner.rundir import INCOMING, existing_outputs, staged

    (tmp_path / "plots").mkdir()
    (tmp_path / "indicators.parquet").write_bytes(b"half a run")
    (tmp_path / INCOMING).write_text("indicators.parquet\nplots\nsummary.json\n")  # killed before summary.json
    assert existing_outputs(tmp_path, ["plots", "indicators.parquet"]) == []
    with staged(tmp_path, last="summary.json") as st:
        (st / "indicators.parquet").write_bytes(b"a whole run")
        (st / "summary.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["indicators.parquet", "summary.json"]
    assert (tmp_path / "indicators.parquet").read_bytes() == b"a whole run"


# ---------------------------------------------------------------------------- round 3 (issue 21)
def compare(*args, cwd=ROOT):
    return jjj(*args, cwd=cwd, prog="jjj-sim-compare")


def test_a_seed_count_past_its_bound_is_refused_at_once(tmp_path):
    out = tmp_path / "o"
    line = one_line(compare("--scenarios", "baseline,no_strategy", "--seeds", "1000000000", "--scale", "0.02",
                            "--end-year", "2015", "--workers", "1", "--out", out), "jjj-sim-compare", "seeds")
    assert "at most 1,000" in line and "1/sqrt(seeds)" in line  # the bound and its reason
    assert not out.exists()


@pytest.mark.parametrize("workers", ["-2", "0", "100000"])
def test_a_worker_count_out_of_bounds_is_refused(tmp_path, workers):
    out = tmp_path / "o"
    one_line(compare("--scenarios", "baseline,no_strategy", "--seeds", "2", "--workers", workers, "--out", out),
             "jjj-sim-compare", "--workers")
    assert not out.exists()


def test_a_terminated_comparison_leaves_no_lock_and_reports_progress_at_once(tmp_path):
    import signal
    import time

    out = tmp_path / "o"
    p = subprocess.Popen([str(BIN / "jjj-sim-compare"), "--scenarios", "baseline,no_strategy", "--seeds", "4",
                          "--scale", "0.05", "--end-year", "2035", "--workers", "1", "--out", str(out)],
                         cwd=ROOT, stderr=subprocess.PIPE, text=True)
    first = p.stderr.readline()  # before any simulation has finished
    assert "8 job(s) to run on 1 worker process(es)" in first, first
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode != 0
    time.sleep(0.1)
    left = {x.name for x in out.iterdir()} if out.exists() else set()
    assert ".lock" not in left and "report.md" not in left and left <= {".jobs"}, left


def test_a_scenario_name_too_long_for_a_file_is_one_line(tmp_path):
    line = one_line(jjj(*SMALL, "scenario=" + "x" * 5000, f"hydra.run.dir={tmp_path / 'r'}"), field="scenario")
    assert len(line) < 400
    one_line(jjj(*SMALL, "scenario=" + "x/" * 2500 + "a.yaml", f"hydra.run.dir={tmp_path / 'r'}"), field="scenario")
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_a_run_directory_that_cannot_be_made_is_one_line_exit_1():
    line = one_line(jjj(*SMALL, "hydra.run.dir=/proc/jjj_out"), field="hydra.run.dir", code=1)
    assert "/proc/jjj_out" in line


def test_an_empty_scenario_file_is_refused(tmp_path):
    f = tmp_path / "empty.yaml"
    f.write_text("")
    line = one_line(jjj(*SMALL, f"scenario={f}", f"hydra.run.dir={tmp_path / 'r'}"), field="scenario")
    assert "empty" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("content, field", [
    ("closure.annual_pace: 400\nclosure.annual_pace: 500\n", "p.yaml:closure.annual_pace"),
    ("closure:\n  annual_pace: 400\n  annual_pace: 500\n", "p.yaml:annual_pace"),
    ("params:\n  choice: {beta_cost: -1}\n  choice: {beta_cost: -2}\n", "p.yaml:choice"),
])
def test_a_key_given_twice_in_a_params_file_is_refused(tmp_path, content, field):
    f = tmp_path / "p.yaml"
    f.write_text(content)
    line = one_line(jjj(*SMALL, f"params_file={f}", f"hydra.run.dir={tmp_path / 'r'}"), field=field)
    assert "given twice" in line
    assert not (tmp_path / "r").exists()


def test_a_key_given_twice_in_a_scenario_or_targets_file_is_refused(tmp_path):
    from jjj_sim.runner.targets import load_targets

    f = tmp_path / "twice.yaml"
    f.write_text("policy:\n  incentives: {}\npolicy:\n  incentives: {}\n")
    one_line(jjj(*SMALL, f"scenario={f}", f"hydra.run.dir={tmp_path / 'r'}"), field="twice.yaml:policy")
    t = tmp_path / "targets.yaml"
    t.write_text("targets:\n  - id: A\n    id: B\n    indicator: zgc_branches_tjhb\n    year: 2020\n    value: 1\n")
    with pytest.raises(ConfigError) as e:
        load_targets(t)
    assert e.value.field == "targets.yaml:id" and "given twice" in e.value.message


def test_duplicate_ids_in_a_figures_file_are_refused(tmp_path):
    import yaml

    f = tmp_path / "figs.yaml"
    entry = yaml.safe_load((ROOT / "calibration" / "targets.yaml").read_text(encoding="utf-8"))["targets"][0]
    entry["id"] = "X"
    f.write_text(yaml.safe_dump({"targets": [entry, entry]}, allow_unicode=True), encoding="utf-8")
    one_line(jjj(f"figures={f}", "seeds=1", "population.scale=0.02", f"hydra.run.dir={tmp_path / 'v'}",
                 prog="jjj-sim-validate"), "jjj-sim-validate", "figs.yaml:X.id")
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("args, field", [
    (["params.closure.annual_pace=1e308"], "params.closure.annual_pace"),
    (["params.relocation.push_effect=1e6"], "params.relocation.push_effect"),
    (["params.world.circuity=0.5"], "params.world.circuity"),
    (["params.choice.sample_size=100000"], "params.choice.sample_size"),
    (["policy.incentives.xiongan.from=[{from: 2026-01, value: 1e4}]"], "policy.incentives.xiongan.schedule[1].value"),
    (["policy.hebei_decapacity.schedule=[{from: 2014-01, value: 1000}]"], "policy.hebei_decapacity.schedule[0].value"),
])
def test_rates_and_levers_past_their_bounds_are_refused_with_the_reason(tmp_path, args, field):
    line = one_line(jjj(*SMALL, *args, f"hydra.run.dir={tmp_path / 'r'}"), field=field)
    assert ("bounds: " in line) or ("from 0 to" in line), line
    assert not (tmp_path / "r").exists()


def test_exponent_numbers_in_a_params_file_are_numbers(tmp_path):
    from jjj_sim.runner.config import load_params_file

    f = tmp_path / "p.yaml"
    f.write_text("closure.annual_pace: 4e2\nchoice.beta_cost: -15E-1\n")
    assert load_params_file(f) == {"closure.annual_pace": 400.0, "choice.beta_cost": -1.5}
    f.write_text("closure.annual_pace: 1e308\n")
    line = one_line(jjj(*SMALL, f"params_file={f}", f"hydra.run.dir={tmp_path / 'r'}"),
                    field="params_file:closure.annual_pace")
    assert "expected a number" not in line and "at" not in line.split("1e+308")[0][-3:]


@pytest.mark.parametrize("entry, field", [
    ("policy.incentives.xiongan.from=[{from: 1999-01, value: 4.0}]", "policy.incentives.xiongan.from[0].from"),
    ("policy.matching.schedule=[{from: 2013-12, value: 1.0}]", "policy.matching.schedule[0].from"),
    ("policy.rail.extra_links=[{region: cangzhou, opens: 2010-01, hours: 1.0}]", "policy.rail.extra_links[0].opens"),
])
def test_a_lever_dated_before_the_model_starts_is_refused(tmp_path, entry, field):
    line = one_line(jjj(*SMALL, entry, f"hydra.run.dir={tmp_path / 'r'}"), field=field)
    assert "before the model starts" in line


def test_one_run_leaves_one_directory_and_no_lock(tmp_path):
    r = jjj(*SMALL, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    runs = list((tmp_path / "outputs" / "baseline").iterdir())
    assert len(runs) == 1 and (runs[0] / "summary.json").is_file()
    assert not list(tmp_path.rglob(".lock"))


def test_a_symlinked_scenario_and_params_file_are_read_through_the_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "case.yaml").write_text("scenario: {name: linked_case}\npolicy:\n  incentives:\n    xiongan:\n"
                                    "      from: [{from: 2015-01, value: 4.0}]\n")
    (real / "p.yaml").write_text("choice.beta_incentive: 1.1\n")
    (tmp_path / "case.yaml").symlink_to(real / "case.yaml")
    (tmp_path / "p.yaml").symlink_to(real / "p.yaml")
    r = jjj(*SMALL, "scenario=case.yaml", "params_file=p.yaml", "hydra.run.dir=r", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    import yaml

    cfg = yaml.safe_load((tmp_path / "r" / "config_resolved.yaml").read_text())
    assert cfg["scenario"]["name"] == "linked_case" and cfg["params"]["choice"]["beta_incentive"] == 1.1
    (tmp_path / "gone.yaml").symlink_to(real / "missing.yaml")  # a dangling link: one line
    one_line(jjj(*SMALL, "scenario=gone.yaml", "hydra.run.dir=r2", cwd=tmp_path), field="scenario")


def test_unicode_in_scenario_files(tmp_path):
    named = tmp_path / "雄安.yaml"
    named.write_text("scenario:\n  name: xiongan_x2\n  description: 雄安新区激励加倍\npolicy:\n  incentives:\n"
                     "    xiongan:\n      from: [{from: 2015-01, value: 4.0}]\n", encoding="utf-8")
    r = jjj(*SMALL, f"scenario={named}", f"hydra.run.dir={tmp_path / 'r'}")
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    assert json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))["scenario"] == "xiongan_x2"
    unnamed = tmp_path / "雄安2.yaml"
    unnamed.write_text("policy:\n  incentives: {}\n", encoding="utf-8")
    line = one_line(jjj(*SMALL, f"scenario={unnamed}", f"hydra.run.dir={tmp_path / 'r2'}"),
                    field="雄安2.yaml:scenario.name")
    assert "name it in the file" in line
    one_line(jjj(*SMALL, "scenario.name=雄安", f"hydra.run.dir={tmp_path / 'r3'}"), field="overrides")  # Hydra's lexer
    one_line(jjj(*SMALL, "scenario.name='雄安'", f"hydra.run.dir={tmp_path / 'r3'}"), field="scenario.name")


def test_a_killed_exploration_leaves_nothing_complete_and_the_rerun_finishes(tmp_path):
    import signal
    import time

    import yaml

    exp = {"scenario": "baseline", "population_scale": 0.02, "end_year": 2017, "seed": 7,  # levers only
           "levers": [{"name": "xiongan_incentive", "lever": "incentives.xiongan", "kind": "value",
                       "from": "2016-01", "range": [1.0, 6.0]}],
           "outcomes": ["xiongan_firms_from_beijing[2017]"], "design": {"policies": 10}, "feature_scoring": False}
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump(exp))
    out = tmp_path / "out"
    args = [str(BIN / "jjj-sim-explore"), str(f), "--out", str(out)]
    p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while "experiments completed" not in p.stderr.readline():
        assert p.poll() is None and time.monotonic() - t0 < 120
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (out / "report.md").exists() and not (out / "explore.json").exists()
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "report.md").exists() and not (out / ".lock").exists()


def test_two_sweeps_into_one_directory_one_is_refused(tmp_path):
    import time

    d = tmp_path / "sweep"
    first = subprocess.Popen([str(BIN / "jjj-sim"), "-m", "seed=1,2", "population.scale=0.1", "run.end_year=2030",
                              "run.plots=false", f"hydra.sweep.dir={d}"], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    t0 = time.monotonic()
    while not (d / ".lock").exists():  # the first sweep holds the directory
        assert first.poll() is None and time.monotonic() - t0 < 60
        time.sleep(0.02)
    with paused(first):  # ... and keeps holding it, however slowly the second starts
        line = one_line(jjj("-m", "seed=3,4", *SMALL, f"hydra.sweep.dir={d}"), field="hydra.sweep.dir")
    assert "in use by another command" in line
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert sorted(p.name for p in d.glob("*/summary.json") if p) == ["summary.json"] * 2
    assert not list(d.rglob(".lock"))

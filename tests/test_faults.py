"""Faults: kill anything at any point, run it again, and it continues; two commands never
write into one directory; a full disk fails in one line and leaves nothing half-written."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_cfg, paused

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SMALL = ["population.scale=0.02", "run.end_year=2018", "seed=5"]


def start(*args, cwd=ROOT) -> subprocess.Popen:
    """A command in its own process group (so a kill reaches its workers too)."""
    return subprocess.Popen([str(a) for a in args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def run(*args, cwd=ROOT, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    """SIGKILL the process group as soon as ``ready()`` holds (polled every 5 ms); also when the
    wait fails, so a failed test leaves no run using the cores the next tests time."""
    t0 = time.monotonic()
    try:
        while not ready():
            assert proc.poll() is None, f"finished before the kill: {proc.communicate()[1][-2000:]}"
            assert time.monotonic() - t0 < timeout, "never reached the point to kill at"
            time.sleep(0.005)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it finished (the assertion above says so)
            pass
        proc.wait()


def staging_dirs(d: Path) -> list[Path]:
    return sorted(d.glob(".partial-*"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The reference: the run used below, never interrupted."""
    d = tmp_path_factory.mktemp("ref") / "run"
    r = run(BIN / "jjj-sim", "population.scale=0.3", "run.end_year=2026", f"hydra.run.dir={d}")
    assert r.returncode == 0, r.stderr[-2000:]
    return d


@pytest.mark.parametrize("when", ["run", "write"])
def test_sigkill_then_rerun_continues_with_the_same_result(tmp_path, uninterrupted, when):
    d = tmp_path / "run"
    args = [BIN / "jjj-sim", "population.scale=0.3", "run.end_year=2026", f"hydra.run.dir={d}"]
    if when == "run":  # while the model runs: the event log streams into the staging directory
        ready = lambda: any((s / "events.parquet").exists() for s in staging_dirs(d))  # noqa: E731
    else:  # while the outputs are written: the indicator table is there, summary.json not yet
        ready = lambda: any((s / "indicators.parquet").exists() for s in staging_dirs(d))  # noqa: E731
    kill_when(start(*args), ready)
    assert staging_dirs(d) and not (d / "summary.json").exists()  # killed: a stale staging directory
    r = run(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert staging_dirs(d) == []  # removed by the rerun
    assert (d / "summary.json").read_bytes() == (uninterrupted / "summary.json").read_bytes()
    for name in ("indicators.parquet", "events.parquet", "config_resolved.yaml"):
        assert (d / name).read_bytes() == (uninterrupted / name).read_bytes(), name


def test_two_commands_never_write_into_one_directory(tmp_path):
    d = tmp_path / "run"
    first = start(BIN / "jjj-sim", "population.scale=0.3", "run.end_year=2030", f"hydra.run.dir={d}")
    kill_after = time.monotonic() + 120
    while not staging_dirs(d):  # the first one is writing
        assert first.poll() is None and time.monotonic() < kill_after
        time.sleep(0.01)
    with paused(first):  # the first holds the directory, however slowly the second starts
        second = run(BIN / "jjj-sim", *SMALL, f"hydra.run.dir={d}")
    in_use = (f"jjj-sim: error: hydra.run.dir: {d} is in use by another command; wait for it to finish or choose "
              "another directory")
    assert second.returncode == 2 and second.stderr.strip().splitlines() == [in_use]
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert (d / "summary.json").exists() and staging_dirs(d) == []
    # the same for a tool's --out
    out_dir = tmp_path / "cmp"
    first = start(BIN / "jjj-sim-compare", "--scenarios", "baseline,no_strategy", "--seeds", "2", "--scale", "0.1",
                  "--end-year", "2030", "--workers", "1", "--out", out_dir)
    while not (out_dir / ".jobs" / "plan.json").exists():
        assert first.poll() is None and time.monotonic() < kill_after + 120
        time.sleep(0.01)
    with paused(first):
        second = run(BIN / "jjj-sim-compare", "--scenarios", "baseline,no_strategy", "--seeds", "2", "--out", out_dir)
    assert second.returncode == 2 and second.stderr.startswith("jjj-sim-compare: error: --out:") \
        and "in use by another command" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    first.communicate(timeout=300)
    assert first.returncode == 0 and (out_dir / "report.md").exists()


def _mtimes(paths) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in paths}


def test_a_killed_multirun_resumes_without_recomputing_finished_jobs(tmp_path):
    args = [BIN / "jjj-sim", "-m", "seed=1,2,3,4", "population.scale=0.05", "run.end_year=2024", "run.plots=false",
            "run.record_events=false", "hydra.launcher.n_jobs=1"]
    d = tmp_path / "sweep"
    kill_when(start(*args, f"hydra.sweep.dir={d}"), lambda: len(list(d.glob("*/summary.json"))) >= 2)
    finished = sorted(d.glob("*/summary.json"))
    assert 2 <= len(finished) < 4 and not (d / "sweep_results.parquet").exists()
    before = _mtimes([f for s in finished for f in (s, s.with_name("indicators.parquet"))])
    r = run(*args, f"hydra.sweep.dir={d}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert _mtimes(before) == before  # the finished jobs were not run again
    assert len(list(d.glob("*/summary.json"))) == 4 and not list(d.glob("*/.partial-*"))
    assert r.stdout.count("already complete") + r.stderr.count("already complete") == len(finished)
    ref = tmp_path / "ref"
    r = run(*args, f"hydra.sweep.dir={ref}")
    assert r.returncode == 0, r.stderr[-2000:]
    for name in ("sweep_results.parquet", "sweep_summary.csv", "sweep_targets.parquet"):
        assert (d / name).read_bytes() == (ref / name).read_bytes(), name
    # another sweep into the same directory is refused, and nothing in it changes
    snapshot = _mtimes(p for p in d.rglob("*") if p.is_file() and p.suffix != ".log")
    r = run(BIN / "jjj-sim", "-m", "seed=1,9", "population.scale=0.05", "run.end_year=2024", f"hydra.sweep.dir={d}")
    assert r.returncode == 2 and r.stderr.strip().startswith("jjj-sim: error: hydra.sweep.dir:")
    assert len(r.stderr.strip().splitlines()) == 1
    assert _mtimes(snapshot) == snapshot


def test_a_killed_comparison_resumes_without_recomputing_finished_runs(tmp_path):
    args = [BIN / "jjj-sim-compare", "--scenarios", "baseline,no_strategy", "--seeds", "3", "--scale", "0.05",
            "--end-year", "2024", "--workers", "1"]
    d = tmp_path / "cmp"
    kill_when(start(*args, "--out", d), lambda: len(list((d / ".jobs").glob("[0-9]*.pkl"))) >= 2)
    done = sorted((d / ".jobs").glob("[0-9]*.pkl"))
    assert 2 <= len(done) < 6 and not (d / "report.md").exists()
    before = _mtimes(done)
    r = run(*args, "--out", d)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"resuming: {len(done)} of 6 jobs done before" in r.stderr
    assert _mtimes(before) == before
    ref = tmp_path / "ref"
    r = run(*args, "--out", ref)
    assert r.returncode == 0, r.stderr[-2000:]
    for name in ("runs.parquet", "differences.csv", "levels.csv"):
        assert (d / name).read_bytes() == (ref / name).read_bytes(), name
    assert not list(d.glob(".partial-*"))


def test_a_killed_sensitivity_analysis_resumes(tmp_path):
    exp = tmp_path / "sa.yaml"
    exp.write_text("method: morris\nparams:\n  choice.asc_park_science: [4.0, 7.0]\n  choice.asc_xiongan: [1.0, 4.0]\n"
                   "indicators: [hebei_firms_attracted_cum@2022]\nreplications: 1\npopulation_scale: 0.05\n"
                   "morris: {trajectories: 3, levels: 4}\n")
    args = [BIN / "jjj-sim-sensitivity", exp, "--workers", "1"]
    d = tmp_path / "sa"
    kill_when(start(*args, "--out", d), lambda: len(list((d / ".jobs").glob("[0-9]*.pkl"))) >= 3)
    done = sorted((d / ".jobs").glob("[0-9]*.pkl"))
    before = _mtimes(done)
    r = run(*args, "--out", d)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _mtimes(before) == before and f"resuming: {len(done)} of 9 jobs done before" in r.stderr
    ref = tmp_path / "ref"
    assert run(*args, "--out", ref).returncode == 0
    assert (d / "samples.parquet").read_bytes() == (ref / "samples.parquet").read_bytes()
    assert (d / "indices.csv").read_bytes() == (ref / "indices.csv").read_bytes()


def test_a_resumed_output_directory_must_hold_the_same_experiment(tmp_path):
    d = tmp_path / "cmp"
    args = ["--seeds", "2", "--scale", "0.02", "--end-year", "2016", "--workers", "1", "--out", d]
    kill_when(start(BIN / "jjj-sim-compare", "--scenarios", "baseline,no_strategy", *args),
              lambda: len(list((d / ".jobs").glob("[0-9]*.pkl"))) >= 1)
    r = run(BIN / "jjj-sim-compare", "--scenarios", "baseline,strict_closure", *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "holds an unfinished run of another experiment" in r.stderr


ENOSPC_RUN = """
import errno, sys
import pandas as pd
def full(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")
pd.DataFrame.to_parquet = full
pd.DataFrame.to_csv = full
from {module} import main
sys.argv = [{prog!r}] + sys.argv[1:]
main()
"""


@pytest.mark.parametrize("module, prog, args, field", [
    ("jjj_sim.tools.cli", "jjj-sim", [*SMALL, "run.plots=false"], "hydra.run.dir"),
    ("jjj_sim.tools.compare", "jjj-sim-compare", ["--scenarios", "baseline,no_strategy", "--seeds", "2", "--scale", "0.02",
                                           "--end-year", "2016", "--workers", "1"], "--out"),
])
def test_a_full_disk_is_one_line_and_leaves_no_half_written_run(tmp_path, module, prog, args, field):
    d = tmp_path / "out"
    where = [f"hydra.run.dir={d}"] if prog == "jjj-sim" else ["--out", d]
    r = run(sys.executable, "-c", ENOSPC_RUN.format(module=module, prog=prog), *args, *where)
    assert r.returncode == 1, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()  # compare's progress lines, then the error
    assert [x for x in lines if "error" in x.lower()] == lines[-1:], r.stderr[-2000:]
    assert lines[-1].startswith(f"{prog}: error: {field}: cannot write into") \
        and "No space left on device" in lines[-1], r.stderr[-2000:]
    assert not (d / "summary.json").exists() and not (d / "report.md").exists()
    assert staging_dirs(d) == []


def test_staging_is_removed_when_writing_fails(tmp_path, monkeypatch):
    import pandas as pd

    from jjj_sim.runner.simulate import run_to_dir

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    cfg = make_cfg(*SMALL, "run.plots=false")
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    with pytest.raises(OSError):
        run_to_dir(tmp_path, cfg, progress=False)
    assert list(tmp_path.iterdir()) == []  # no summary.json, no staging, no partial file


def test_a_dead_worker_does_not_lose_the_sweep(tmp_path):
    """A joblib worker killed (as the OOM killer would): the jobs that finished are gathered
    anyway, and the same command runs the rest."""
    d = tmp_path / "sweep"
    args = [BIN / "jjj-sim", "-m", "seed=1,2,3,4", "population.scale=0.3", "run.end_year=2035", "run.plots=false",
            "run.record_events=false", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={d}"]
    p = subprocess.Popen([str(a) for a in args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not list(d.glob("*/.partial-*")):
        assert p.poll() is None and time.monotonic() - t0 < 120
        time.sleep(0.02)
    workers = [int(x) for x in Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()]
    os.kill(workers[-1], signal.SIGKILL)
    p.communicate(timeout=300)
    assert p.returncode != 0
    summary = (d / "sweep_summary.csv").read_text()  # gathered at exit
    assert "status" in summary and (d / "sweep_failures.csv").exists()
    r = run(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(list(d.glob("*/summary.json"))) == 4 and "4 ok" in r.stdout + r.stderr

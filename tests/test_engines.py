"""Engines that scale out, exercised on this machine (docs/cluster.md):

- SLURM: the ``slurm`` launcher preset as shipped, on stand-ins for sbatch, srun and sacct that
  run the job array on this machine (the sbatch script submitit writes from the preset, SLURM's
  job environment, the results gathered), and the same protocol through ``submitit_local`` (each
  job pickled, run in its own process, its result pickled back);
- Ray: the ``ray_cluster`` preset against a Ray head that the test starts on 127.0.0.1 and
  stops. hydra-ray-launcher needs cloudpickle<3, so it lives in its own environment,
  ``.venv-ray`` (scripts/ray_env.sh; ``JJJ_RAY_VENV`` elsewhere). Without it the test is
  skipped, except under CI (``CI`` set), where it fails;
- Dask: the calibration's ABC-SMC stage on a ``distributed.LocalCluster`` of two worker
  processes (``calibration.sampler=dask``), and a scheduler that does not answer.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RAY_VENV = Path(os.environ.get("JJJ_RAY_VENV") or ROOT / ".venv-ray")
# a 2x2 sweep (seed x scenario), small and short
SWEEP = ("population.scale=0.02", "run.end_year=2016", "run.plots=false", "run.record_events=false",
         "seed=1,2", "scenario=baseline,no_strategy")
# a calibration of a few seconds: 2 Optuna sets, ABC-SMC of 2 generations of 10 particles, a 2-seed check
TINY_CALIBRATION = ("population.scale=0.02", "calibration.budget=2", "calibration.replications=1",
                    "calibration.polish=0", "calibration.abc.population_size=10", "calibration.abc.generations=2",
                    "calibration.check.scale=0.02", "calibration.check.replications=2")
DASK_BATCH = 4  # simulations per Dask task (calibrate.posterior: DaskDistributedSampler(batch_size=4))


def run(exe: Path, *args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)


def free_ports(n: int = 1) -> list[int]:
    """n distinct ports on 127.0.0.1 that nothing listens on (held open together while chosen)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def check_gathered(out: Path) -> None:
    """The 2x2 sweep's jobs all ran and GatherResults collected them into one table."""
    jobs = pd.read_csv(out / "sweep_summary.csv")
    assert len(jobs) == 4 and set(jobs["status"]) == {"ok"}, jobs[["job", "status", "error"]]
    assert set(zip(jobs["scenario"], jobs["seed"])) == {(s, n) for s in ("baseline", "no_strategy") for n in (1, 2)}
    tidy = pd.read_parquet(out / "sweep_results.parquet")
    assert set(tidy["job"].astype(str)) == {"0", "1", "2", "3"}
    closures = tidy[(tidy["indicator"] == "beijing_closures_cum") & (tidy["year"] == 2016)]
    assert len(closures) == 4
    assert (closures[closures["scenario"] == "no_strategy"]["value"] == 0).all()
    assert (closures[closures["scenario"] == "baseline"]["value"] > 0).all()
    assert not (out / "sweep_failures.csv").exists()


# ---------------------------------------------------------------------------- SLURM's protocol
def test_submitit_local_sweep(tmp_path):
    out = tmp_path / "sweep"
    r = run(BIN / "jjj-sim", "-m", "hydra/launcher=submitit_local", *SWEEP, f"hydra.sweep.dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    check_gathered(out)
    # each job went through submitit: submitted as a pickle, its result pickled back by the job
    assert len(list((out / ".submitit").glob("*/*_submitted.pkl"))) == 4
    assert len(list((out / ".submitit").glob("*/*_result.pkl"))) == 4


FAKE_SLURM = r'''
"""A stand-in for SLURM's sbatch, srun, sacct and scancel on one machine (the tool is the name it
is called by). sbatch runs each array task of the script at once, in the background, with the
SLURM_* variables a job sees; the state of each task is a file in $FAKE_SLURM_DIR."""
import os
import re
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_SLURM_DIR"])
tool = Path(sys.argv[0]).name
args = sys.argv[1:]


RUN = """for i in $(seq 600); do [ -d "$4" ] && break; sleep 0.1; done
bash "$0" >>"$2" 2>>"$3" && echo COMPLETED > "$1" || echo FAILED > "$1"
"""


def sbatch():
    script = Path(args[-1])
    text = script.read_text()
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", text, re.M))
    counter = STATE / "next_id"
    jid = int(counter.read_text()) if counter.exists() else 5000
    counter.write_text(str(jid + 100))
    tasks = [None]
    if "array" in flags:
        lo, hi = map(int, flags["array"].split("%")[0].split("-"))
        tasks = list(range(lo, hi + 1))
    for t in tasks:
        key = str(jid) if t is None else f"{jid}_{t}"
        env = {**os.environ, "SLURM_JOB_ID": str(jid + 1 + (t or 0)), "SLURM_NTASKS": "1",
               "SLURM_JOB_NUM_NODES": "1", "SLURM_NODEID": "0", "SLURM_JOB_NODELIST": "localhost",
               "SLURM_SUBMIT_DIR": os.getcwd()}
        if t is not None:
            env.update(SLURM_ARRAY_JOB_ID=str(jid), SLURM_ARRAY_TASK_ID=str(t))
        sub = lambda p: p.replace("%A", str(jid)).replace("%a", str(t)).replace("%j", env["SLURM_JOB_ID"])
        state = STATE / f"{key}.state"
        state.write_text("RUNNING")
        out, err = sub(flags["output"]), sub(flags.get("error", flags["output"]))
        # like slurmstepd, open the logs when the task starts: here once their folder exists
        # (submitit makes an array task's folder just after sbatch returns)
        p = subprocess.Popen(["bash", "-c", RUN, str(script), str(state), out, err, os.path.dirname(out)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                             start_new_session=True)
        (STATE / f"{key}.pid").write_text(str(p.pid))
    (STATE / f"{jid}.sbatch").write_text(text)
    print(f"Submitted batch job {jid}")


def srun():
    out = err = None
    rest = list(args)
    while rest and rest[0].startswith("-"):
        a = rest.pop(0)
        if a == "--output":
            out = rest.pop(0)
        elif a == "--error":
            err = rest.pop(0)
    e = os.environ
    sub = lambda p: (p.replace("%A", e.get("SLURM_ARRAY_JOB_ID", "")).replace("%a", e.get("SLURM_ARRAY_TASK_ID", ""))
                      .replace("%j", e["SLURM_JOB_ID"]).replace("%t", "0"))
    env = {**e, "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_STEP_ID": "0"}
    with open(sub(out), "a") if out else sys.stdout as o, open(sub(err), "a") if err else sys.stderr as r:
        sys.exit(subprocess.call(rest, stdout=o, stderr=r, env=env))


def sacct():
    ids = [args[i + 1] for i, a in enumerate(args) if a == "-j"]
    print("JobID|State|NodeList")
    for f in sorted(STATE.glob("*.state")):
        key = f.name[: -len(".state")]
        if key.split("_")[0] in ids:
            print(f"{key}|{f.read_text().strip()}|localhost")


def scancel():
    (STATE / "scancel").open("a").write(" ".join(args) + "\n")


{"sbatch": sbatch, "srun": srun, "sacct": sacct, "scancel": scancel}[tool]()
'''


@pytest.fixture
def fake_slurm(tmp_path):
    """sbatch, srun, sacct and scancel stand-ins on PATH (FAKE_SLURM above); afterwards, any task
    still running is killed (each runs in its own process group)."""
    bin_dir, state = tmp_path / "slurm_bin", tmp_path / "slurm_state"
    bin_dir.mkdir()
    state.mkdir()
    tool = bin_dir / "fake_slurm.py"
    tool.write_text(f"#!{sys.executable}\n{FAKE_SLURM}")
    tool.chmod(0o755)
    for name in ("sbatch", "srun", "sacct", "scancel"):
        (bin_dir / name).symlink_to(tool)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM_DIR": str(state)}
    try:
        yield {"env": env, "state": state}
    finally:
        for f in state.glob("*.pid"):
            try:
                os.killpg(int(f.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def final_states(state_dir: Path, timeout: float = 60.0) -> list[str]:
    """The fake SLURM tasks' states once each is final (COMPLETED or FAILED), or as they are after
    ``timeout`` s. A state file being rewritten reads empty for a moment; that is not final."""
    deadline = time.monotonic() + timeout
    while True:
        states = [f.read_text().strip() for f in sorted(state_dir.glob("*.state"))]
        if (states and set(states) <= {"COMPLETED", "FAILED"}) or time.monotonic() > deadline:
            return states
        time.sleep(0.1)


def test_slurm_preset_sweep(tmp_path, fake_slurm):
    """The slurm preset as shipped, on a stand-in for SLURM: its sbatch script (one job array
    with the preset's resources and setup), srun, submitit's job environment and the gathering."""
    out = tmp_path / "sweep"
    r = run(BIN / "jjj-sim", "-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug", *SWEEP,
            f"hydra.sweep.dir={out}", env=fake_slurm["env"])
    assert r.returncode == 0, r.stderr[-3000:]
    check_gathered(out)
    (script,) = fake_slurm["state"].glob("*.sbatch")  # one sbatch call: the four jobs as one array
    text = script.read_text()
    for line in ("#SBATCH --array=0-3%4", "#SBATCH --partition=debug", "#SBATCH --cpus-per-task=1",
                 "#SBATCH --mem=4GB", "#SBATCH --time=30",
                 "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"):
        assert line in text.splitlines(), (line, text)
    # submitit returns once each result pickle is there; the task's shell writes its final state
    # only after the job's Python exits, a moment later (sacct lags the same way on real SLURM)
    assert final_states(fake_slurm["state"]) == ["COMPLETED"] * 4
    jid = script.stem
    for t in range(4):  # each task ran in submitit's SLURM job environment, as array task jid_t
        log = (out / ".submitit" / f"{jid}_{t}" / f"{jid}_{t}_0_log.out").read_text()
        assert f"JobEnvironment(job_id={jid}_{t}," in log
        assert (out / ".submitit" / f"{jid}_{t}" / f"{jid}_{t}_0_result.pkl").exists()


# ---------------------------------------------------------------------------- Ray
@pytest.fixture
def ray_head(tmp_path):
    """A Ray head on 127.0.0.1 (``ray start --head --block``, from .venv-ray), stopped afterwards
    (also when the test fails): SIGTERM to ``ray start``, which drains the node and stops what it
    started; whatever is left of its process group after 60 s is killed."""
    ray, jjj = RAY_VENV / "bin" / "ray", RAY_VENV / "bin" / "jjj-sim"
    if not (ray.exists() and jjj.exists()):
        reason = f"no Ray environment at {RAY_VENV} (bash scripts/ray_env.sh makes it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI: .ci/run makes it; the Ray test must run)")
        pytest.skip(reason)
    port, client_port, agent_port = free_ports(3)
    # Ray's own directory: short (its socket paths must stay under 108 bytes), removed afterwards
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    # Ray replaces 127.0.0.1 by the machine's outward address unless told it is not a cluster
    # (ray._private.services.resolve_ip_for_localhost); this keeps every Ray process on loopback
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    log = tmp_path / "ray_head.log"
    with open(log, "w") as f:
        head = subprocess.Popen([str(ray), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                                 f"--port={port}", f"--ray-client-server-port={client_port}",
                                 f"--dashboard-agent-listen-port={agent_port}", "--num-cpus=2", "--include-dashboard=false",
                                 "--disable-usage-stats", f"--temp-dir={temp}"],
                                stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None, f"ray start exited with {head.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no Ray head after 180 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield {"address": f"127.0.0.1:{port}", "env": env, "jjj": jjj, "log": log}
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # the group start_new_session made: only Ray's processes
        except ProcessLookupError:
            pass
        head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_cluster_sweep(tmp_path, ray_head):
    out = tmp_path / "sweep"
    # the preset as shipped (ray.init address=auto): RAY_ADDRESS names the head
    # RAY_DEDUP_LOGS=0: Ray would fold the jobs' like lines into one "[repeated Nx]" line
    env = {**ray_head["env"], "RAY_ADDRESS": ray_head["address"], "RAY_DEDUP_LOGS": "0"}
    r = run(ray_head["jjj"], "-m", "hydra/launcher=ray_cluster", *SWEEP, f"hydra.sweep.dir={out}", env=env)
    assert r.returncode == 0, r.stderr[-3000:] + "\n--- ray head ---\n" + ray_head["log"].read_text()[-2000:]
    assert f"Connecting to existing Ray cluster at address: {ray_head['address']}" in r.stderr
    assert r.stdout.count("(_run_job pid=") >= 4  # the jobs' output, forwarded from Ray's workers
    check_gathered(out)


# ---------------------------------------------------------------------------- Dask (the calibration's ABC)
def test_abc_on_a_dask_cluster(tmp_path):
    from distributed import Client, LocalCluster

    out = tmp_path / "calibrate"
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        r = run(BIN / "jjj-sim-calibrate", *TINY_CALIBRATION, "calibration.sampler=dask",
                f"calibration.dask_address={cluster.scheduler_address}", f"hydra.run.dir={out}")
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)  # tasks per worker
        prefixes = set(cluster.scheduler.task_prefixes)
    assert r.returncode == 0, r.stderr[-3000:]
    post = pd.read_parquet(out / "posterior.parquet")
    assert len(post) == 10 and abs(post["weight"].sum() - 1) < 1e-9
    rep = json.loads((out / "fit_report.json").read_text())["posterior"]
    assert rep["sampler"] == "dask" and rep["generations"] == 2
    # the particles were simulated by the two worker processes, in pyabc's batches of 4: with the
    # multicore or single sampler the workers would have run nothing
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
    assert sum(executed.values()) * DASK_BATCH >= rep["simulations"] >= 2 * 10, (executed, rep["simulations"])
    assert any("submit_function" in p for p in prefixes), prefixes  # pyabc's task function


@pytest.mark.parametrize("address", ["unreachable", "tcp://127.0.0.1"])
def test_a_dask_scheduler_that_does_not_answer_is_a_one_line_error(tmp_path, address):
    if address == "unreachable":
        address = f"tcp://127.0.0.1:{free_ports()[0]}"  # nothing listens there
    out = tmp_path / "calibrate"
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}  # Dask's wait, 30 s by default
    r = run(BIN / "jjj-sim-calibrate", *TINY_CALIBRATION, "calibration.sampler=dask",
            f"calibration.dask_address={address}", f"hydra.run.dir={out}", env=env, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("jjj-sim-calibrate: error: calibration.dask_address") \
        and address in lines[0], r.stderr
    assert not (out / "optuna_journal.log").exists()  # before the point estimate, not after it

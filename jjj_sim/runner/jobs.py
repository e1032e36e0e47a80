"""Running many simulations: ``JobPool``, the one pool of worker processes the tools use, and
``run_jobs``, a batch of jobs on it with saved results, so a killed tool resumes where it
stopped.

compare and sensitivity run their batches with ``run_jobs``; the calibration's polish and
check stages and the dashboard keep a ``JobPool`` open across many small batches. Each job
calls the runner's ``simulate`` (directly or through ``ensembles.run_rows``). The engines the
tools hand work to keep their own workers: Optuna's study workers, pyabc's samplers (and a
Dask cluster), EMA Workbench's evaluators and Hydra's launchers.
"""

from __future__ import annotations

import ctypes
import json
import os
import pickle
import signal
import sys
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path

from jjj_sim.core.errors import ConfigError

JOBS_DIR = ".jobs"  # in a tool's output directory: each finished job's result, for resuming


def die_with_parent(parent: int | None = None) -> None:
    """In a worker (as an initializer): on Linux, end when the process that started the pool is
    killed (PR_SET_PDEATHSIG). ``parent``: that process's id, taken before the fork; if it died
    before this call (the signal would then never come), the worker ends now. Only for pools
    started from the main thread: the signal follows the thread that forked, not the process."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent is not None and os.getppid() != parent:
        os._exit(1)


class JobPool:
    """A pool of ``workers`` processes (``context``: "fork", "spawn" or None for Python's
    default), or, with one worker, the caller's own process (``in_thread=True``: one thread
    instead, for a server that must not block). ``submit`` returns a Future, ``map`` the
    results in order; ``shutdown(terminate=True)`` stops the workers at once rather than after
    their jobs (a failed job, Ctrl-C, SIGTERM). A context manager: leaving the block on an
    exception terminates the workers."""

    def __init__(self, workers: int, *, context: str | None = None, initializer=None, initargs=(),
                 in_thread: bool = False):
        self.workers = max(1, int(workers))
        if self.workers > 1:
            import multiprocessing as mp  # here: the process machinery, for the pools that have processes
            from concurrent.futures import ProcessPoolExecutor

            ctx = mp.get_context(context) if context else None
            self._ex = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=initializer, initargs=initargs)
            self.kind = f"{self.workers} worker processes"
        elif in_thread:
            self._ex = ThreadPoolExecutor(1, thread_name_prefix="jjj-run")
            self.kind = "a worker thread"
        else:
            self._ex = None
            self.kind = "this process"

    def submit(self, fn, *args) -> Future:
        """Run ``fn(*args)`` in the pool (in one-process mode: now, returning a done Future)."""
        if self._ex is not None:
            return self._ex.submit(fn, *args)
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except Exception as e:  # as a pool would: the error comes out of ``result()``
            fut.set_exception(e)
        return fut

    def map(self, fn, jobs) -> list:
        """``[fn(job) for job in jobs]`` over the pool, in order."""
        futures = [self.submit(fn, job) for job in jobs]
        return [f.result() for f in futures]

    def shutdown(self, terminate: bool = False, wait: bool = True) -> None:
        """Stop the pool: after the jobs submitted (``wait``), or without waiting and cancelling
        what has not started (``wait=False``); ``terminate``: kill the workers now as well."""
        if self._ex is None:
            return
        if terminate:
            procs = list((getattr(self._ex, "_processes", None) or {}).values())
            self._ex.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()
        else:
            self._ex.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> JobPool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.shutdown(terminate=exc_type is not None)


def run_jobs(fn, jobs: list, workers: int, store: Path | None = None, plan: dict | None = None,
             label=None) -> list:
    """``[fn(job) for job in jobs]``, on a ``JobPool`` of ``workers`` processes when more than
    one. With ``store`` (a directory, e.g. ``OUT/.jobs``), each result is saved there as job
    ``i`` finishes (``i.pkl``, written whole or not at all), and a rerun with the same ``plan``
    (a JSON-able description of every job, kept in ``plan.json``) loads the saved results
    instead of running those jobs again: a killed comparison or sensitivity analysis continues
    where it stopped. Every result, computed now or loaded, goes through its saved file, so a
    resumed run's tables are the same as an uninterrupted one's. A store that holds another
    plan is refused (ConfigError). ``label(i, job)`` names a job in the progress lines
    (stderr)."""
    label = label or (lambda i, job: f"job {i}")
    results = _load_store(store, plan, len(jobs)) if store is not None else {}

    def done(i, r, n_done):
        if store is not None:
            _write_atomic(store / f"{i}.pkl", pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL))
        results[i] = r
        print(f"{n_done}/{len(jobs)}: {label(i, jobs[i])}", file=sys.stderr, flush=True)

    todo = [i for i in range(len(jobs)) if i not in results]
    n = len(jobs) - len(todo)
    if todo:  # from the first second: how much there is to do
        print(f"{len(todo)} job(s) to run on {max(1, min(workers, len(todo)))} worker process(es); a line as each "
              "finishes", file=sys.stderr, flush=True)
    if workers <= 1 or len(todo) <= 1:
        for i in todo:
            n += 1
            done(i, fn(jobs[i]), n)
    else:
        with JobPool(min(workers, len(todo))) as pool:
            futures = {pool.submit(fn, jobs[i]): i for i in todo}
            for fut in as_completed(futures):
                n += 1
                done(futures[fut], fut.result(), n)
    if store is not None:  # what the tables are made of: the saved results
        for i in todo:
            with open(store / f"{i}.pkl", "rb") as fh:
                results[i] = pickle.load(fh)
    return [results[i] for i in range(len(jobs))]


def _load_store(store: Path, plan: dict | None, n_jobs: int) -> dict[int, object]:
    """The results a killed run of the same ``plan`` saved in ``store`` (ConfigError if the
    store holds another plan)."""
    store.mkdir(parents=True, exist_ok=True)
    f = store / "plan.json"
    text = json.dumps(plan, indent=1, sort_keys=True, default=str)
    if f.is_file() and f.read_text(encoding="utf-8") != text:
        raise ConfigError("--out", f"{store.parent} holds an unfinished run of another experiment; choose "
                                   "another directory, or rerun that experiment's command to resume it")
    if not f.is_file():
        _write_atomic(f, text.encode())
    results: dict[int, object] = {}
    for i in range(n_jobs):
        p = store / f"{i}.pkl"
        if p.is_file():
            with open(p, "rb") as fh:
                results[i] = pickle.load(fh)
    for p in store.glob(".*.tmp"):  # a save cut short by a kill
        p.unlink(missing_ok=True)
    if results:
        print(f"resuming: {len(results)} of {n_jobs} jobs done before", file=sys.stderr, flush=True)
    return results


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)

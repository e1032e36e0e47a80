"""Running many simulations: ``run_jobs``, the one job pool of the tools, with saved results
so a killed tool resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jjj_sim.core.errors import ConfigError

JOBS_DIR = ".jobs"  # in a tool's output directory: each finished job's result, for resuming



def run_jobs(fn, jobs: list, workers: int, store: Path | None = None, plan: dict | None = None,
             label=None) -> list:
    """``[fn(job) for job in jobs]``, in ``workers`` processes when more than one: the one way
    the tools run many simulations. With ``store`` (a directory, e.g. ``OUT/.jobs``), each
    result is saved there as job ``i`` finishes (``i.pkl``, written whole or not at all), and
    a rerun with the same ``plan`` (a JSON-able description of every job, kept in
    ``plan.json``) loads the saved results instead of running those jobs again: a killed
    comparison or sensitivity analysis continues where it stopped. Every result, computed now
    or loaded, goes through its saved file, so a resumed run's tables are the same as an
    uninterrupted one's. A store that holds another plan is refused (ConfigError).
    ``label(i, job)`` names a job in the progress lines (stderr)."""
    import pickle
    from concurrent.futures import ProcessPoolExecutor, as_completed

    label = label or (lambda i, job: f"job {i}")
    results: dict[int, object] = {}
    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
        f = store / "plan.json"
        text = json.dumps(plan, indent=1, sort_keys=True, default=str)
        if f.is_file() and f.read_text(encoding="utf-8") != text:
            raise ConfigError("--out", f"{store.parent} holds an unfinished run of another experiment; choose "
                                       "another directory, or rerun that experiment's command to resume it")
        if not f.is_file():
            _write_atomic(f, text.encode())
        for i in range(len(jobs)):
            p = store / f"{i}.pkl"
            if p.is_file():
                with open(p, "rb") as fh:
                    results[i] = pickle.load(fh)
        for p in store.glob(".*.tmp"):  # a save cut short by a kill
            p.unlink(missing_ok=True)
        if results:
            print(f"resuming: {len(results)} of {len(jobs)} jobs done before", file=sys.stderr, flush=True)

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
        ex = ProcessPoolExecutor(min(workers, len(todo)))
        try:
            futures = {ex.submit(fn, jobs[i]): i for i in todo}
            for fut in as_completed(futures):
                n += 1
                done(futures[fut], fut.result(), n)
        except BaseException:  # a failed job, Ctrl-C or SIGTERM: stop the workers now, not after their jobs
            for proc in list(getattr(ex, "_processes", {}).values()):
                proc.terminate()
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        ex.shutdown()
    if store is not None:  # what the tables are made of: the saved results
        for i in todo:
            with open(store / f"{i}.pkl", "rb") as fh:
                results[i] = pickle.load(fh)
    return [results[i] for i in range(len(jobs))]



def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)

"""Running a what-if against the baseline for the dashboard, off the server's event loop.

``run_whatif`` runs the what-if and the baseline on the same seeds (``replication_seeds``:
common random numbers), in a pool of worker processes (the runner's ``JobPool``, spawned;
``default_workers``: min(2, cores) or ``--workers``; with one, a thread), while it reports progress (runs done,
and the simulated year of each run in progress: the workers send it through a queue after every
simulated year). Every finished run is cached (its overrides, scale, end year and seed), so the
baseline of a second what-if with the same scale, seeds and end year is not simulated again.
The paired differences and the figures are computed in the pool too.

The pool and the cache are shared by every browser session (they hold no session state).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import pandas as pd

from jjj_sim.core.seeds import replication_seeds
from jjj_sim.core.timeline import START_YEAR
from jjj_sim.reporting.words import HEADLINE
from jjj_sim.runner.compose import ScenarioSpec, scenario_spec
from jjj_sim.runner.ensembles import paired_differences, run_rows, summarise
from jjj_sim.runner.jobs import JobPool
from jjj_sim.runner.labels import run_label
from jjj_sim.tools.dashboard import figures

log = logging.getLogger("jjj_sim.tools.dashboard")


SERIES_ALL_YEARS = tuple(dict.fromkeys((*HEADLINE, *figures.PANELS)))  # the views show them in every year
MASTER_SEED = 2014  # as jjj-sim-compare: seeds = replication_seeds(2014, n)
REFERENCE = "baseline"
CACHE_RUNS = 400  # finished runs kept (each a few thousand rows)
WORKERS_ENV = "JJJ_SIM_DASHBOARD_WORKERS"


def default_workers() -> int:
    """The pool's size: ``--workers`` (passed in JJJ_SIM_DASHBOARD_WORKERS), else min(2, cores)."""
    env = os.environ.get(WORKERS_ENV)
    if env:
        return max(1, int(env))
    return max(1, min(2, os.cpu_count() or 1))


# ---------------------------------------------------------------------------- workers
_WORKER_QUEUE = None  # in a worker process: where progress goes
_YEARS: dict[str, int] = {}  # job id -> last simulated year (filled by the listener or in-thread)
_LOCK = threading.Lock()
_EXEC = None
_QUEUE = None
_JOB_IDS = itertools.count()


def _init_worker(q, parent: int) -> None:
    global _WORKER_QUEUE
    _WORKER_QUEUE = q
    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    import jjj_sim.runner.compose  # noqa: F401  (warm the imports)
    import jjj_sim.sim.model  # noqa: F401


def _orphan_watch(parent: int) -> None:
    """End this worker when the server that started it is gone (killed without a clean stop)."""
    while True:
        time.sleep(2.0)
        if os.getppid() != parent:
            os._exit(0)


def _report(job_id: str, year: int) -> None:
    if _WORKER_QUEUE is not None:
        _WORKER_QUEUE.put((job_id, year))
    else:
        _YEARS[job_id] = year


def _run_job(job_id: str, spec: ScenarioSpec, seed: int, common: list[str]) -> pd.DataFrame:
    rows = run_rows(spec, seed, common, progress=lambda m: _report(job_id, m.quarter // 4 + START_YEAR))
    return pd.DataFrame(rows)


def _warm(_=None) -> int:
    """Do once what a worker's first run, difference and figure would do the first time
    (Hydra's first compose, the world's caches, scipy and matplotlib imports, the map's
    boundaries), so the user's first what-if is as quick as the next."""
    t = time.perf_counter()
    spec = scenario_spec(REFERENCE)
    common = ["population.scale=0.005", "run.end_year=2015", "run.record_events=false", "run.plots=false"]
    rows = pd.DataFrame(run_rows(spec, 1, common) + run_rows(spec, 2, common))
    other = rows.assign(scenario="warm")
    runs = pd.concat([rows, other], ignore_index=True)
    levels = summarise(runs)
    diffs = paired_differences(runs[runs.year == 2015], reference=REFERENCE)
    figures.render("map_diff", levels[levels.scenario == "warm"], diffs, "warm", REFERENCE, 2015)
    time.sleep(max(0.0, 0.5 - (time.perf_counter() - t)))  # so that each worker takes one
    return os.getpid()


def _diff_chunk(runs: pd.DataFrame) -> pd.DataFrame:
    return paired_differences(runs, reference=REFERENCE)


def _paired(runs: pd.DataFrame) -> pd.DataFrame:
    """``paired_differences`` of ``runs`` split by indicator over the pool (each indicator and
    year is independent)."""
    ex = executor()
    inds = sorted(runs.indicator.unique())
    n = ex.workers
    chunks = [set(inds[i::n]) for i in range(n)]
    futs = [ex.submit(_diff_chunk, runs[runs.indicator.isin(c)]) for c in chunks if c]
    parts = [f.result() for f in futs]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _listen(q) -> None:
    while True:
        try:
            job_id, year = q.get()
        except (EOFError, OSError):
            return
        _YEARS[job_id] = year


def executor() -> JobPool:
    """The shared pool (created on first use): ``default_workers()`` spawned processes (never
    fork a threaded server) that report each simulated year through a queue, or one thread."""
    global _EXEC, _QUEUE
    with _LOCK:
        if _EXEC is None:
            n = default_workers()
            if n >= 2:
                ctx = mp.get_context("spawn")
                _QUEUE = ctx.Queue()
                threading.Thread(target=_listen, args=(_QUEUE,), daemon=True, name="jjj-progress").start()
                _EXEC = JobPool(n, context="spawn", initializer=_init_worker, initargs=(_QUEUE, os.getpid()))
            else:
                _EXEC = JobPool(1, in_thread=True)
        return _EXEC


def workers_text() -> str:
    """What runs the simulations, in words ("2 worker processes")."""
    return executor().kind


def warm_up() -> None:
    """Start the workers and warm each up (a tiny run, its differences and a map: ``_warm``), in
    the background: call at start-up."""
    ex = executor()
    for _ in range(ex.workers):
        ex.submit(_warm)


def _reset_executor(terminate: bool = False) -> None:
    global _EXEC
    with _LOCK:
        if _EXEC is not None:
            _EXEC.shutdown(terminate=terminate, wait=False)  # terminate: runs in progress are of no use
        _EXEC = None


# ---------------------------------------------------------------------------- cache
_CACHE: OrderedDict = OrderedDict()


def _cache_key(spec: ScenarioSpec, common: list[str], seed: int) -> tuple:
    return (tuple(spec.overrides), tuple(common), int(seed))


def _cached(key) -> pd.DataFrame | None:
    with _LOCK:
        df = _CACHE.get(key)
        if df is not None:
            _CACHE.move_to_end(key)
        return df


def _store(key, df: pd.DataFrame) -> None:
    with _LOCK:
        _CACHE[key] = df
        while len(_CACHE) > CACHE_RUNS:
            _CACHE.popitem(last=False)


def cache_size() -> int:
    """The number of runs in the cache."""
    return len(_CACHE)


# ---------------------------------------------------------------------------- a run
class Cancelled(Exception):
    """Raised by ``run_whatif`` when the page cancelled the run."""
    pass


@dataclass
class Progress:
    """A what-if's progress: runs done of the total (and how many came from the cache), the runs in
    progress with their simulated year, the phase, and the years each run simulates."""

    done: int = 0
    total: int = 0
    running: list[tuple[str, int]] = field(default_factory=list)  # (label, year)
    phase: str = ""
    cached: int = 0
    years: int = 22  # simulated years per run

    @property
    def fraction(self) -> float:
        """The share done (0 to 1), counting the simulated years of the runs in progress."""
        if not self.total:
            return 0.0
        part = sum(max(0, y - START_YEAR + 1) for _, y in self.running) / max(1, self.years)
        return min(1.0, (self.done + part) / self.total)

    def text(self) -> str:
        """The progress in words: runs done, from the cache, the runs in progress and their year, the
        phase."""
        s = f"runs done {self.done}/{self.total}"
        if self.cached:
            s += f" ({self.cached} from the cache)"
        if self.running:
            s += "; simulating " + ", ".join(f"{lab}: year {y}" for lab, y in self.running)
        if self.phase:
            s += f"; {self.phase}"
        return s


@dataclass
class Results:
    """A finished what-if: its names, edits and settings, every run's rows, the levels and paired
    differences, the figures (PNG bytes by kind), timings and the numbers of runs simulated and taken
    from the cache."""

    scenario: str  # the chosen scenario's name
    whatif: str  # its name in the tables (whatif_name: scenario, scenario+edited or baseline-whatif)
    description: str
    changed: list[str]
    lever_overrides: list[str]
    common: list[str]
    seeds: list[int]
    scale: float
    end_year: int
    runs: pd.DataFrame
    levels: pd.DataFrame
    diffs: pd.DataFrame
    images: dict[str, bytes]
    seconds: float
    simulated: int
    cached: int
    number: int = 0
    reference: str = REFERENCE
    timings: dict = field(default_factory=dict)
    full_years: set = field(default_factory=set)  # years whose differences cover every indicator
    _full_diffs: pd.DataFrame | None = None

    @property
    def n_seeds(self) -> int:
        """The number of seeds each scenario ran on."""
        return len(self.seeds)

    def differences(self, years=(), series=()) -> pd.DataFrame:
        """Paired differences (``paired_differences``) of every indicator in ``years`` and of
        ``series`` in every year, computed in the pool (split by indicator)."""
        runs = self.runs
        sel = runs[runs.year.isin(list(years)) | runs.indicator.isin(list(series))]
        return _paired(sel)

    def diffs_for_year(self, year: int) -> pd.DataFrame:
        """The differences with every indicator in ``year`` (computed once per year)."""
        if year not in self.full_years:
            have = self.diffs[self.diffs.year != year]
            self.diffs = pd.concat([have, self.differences(years=[year])], ignore_index=True)
            self.full_years.add(year)
        return self.diffs

    def full_differences(self) -> pd.DataFrame:
        """Every indicator in every year (for the download)."""
        if self._full_diffs is None:
            self._full_diffs = _paired(self.runs)
        return self._full_diffs


def whatif_name(spec: ScenarioSpec, lever_overrides: list[str]) -> str:
    """The what-if's name in the tables: the scenario's run label (``NAME+edited`` when the lever
    overrides edit it), or ``baseline-whatif`` when that would be the baseline's own name."""
    name = run_label(spec.name, lever_overrides)
    return f"{name}-whatif" if name == REFERENCE else name


def run_whatif(base: ScenarioSpec, lever_overrides: list[str], changed: list[str], *, scale: float, n_seeds: int,
               end_year: int, on_progress: Callable[[Progress], None] = lambda p: None,
               cancelled: Callable[[], bool] = lambda: False, master_seed: int = MASTER_SEED,
               reference: ScenarioSpec | None = None) -> Results:
    """Simulate the what-if (``base`` with ``lever_overrides``) and the baseline on the same
    seeds; return levels, paired differences and figures. Raises ConfigError (bad input; the
    what-if's config is checked before anything runs) or Cancelled."""
    t0 = time.perf_counter()
    name = whatif_name(base, lever_overrides)
    whatif = ScenarioSpec(name, base.description, (*base.overrides, *lever_overrides), base.source)
    ref = reference or scenario_spec(REFERENCE)
    common = [f"population.scale={scale!r}", f"run.end_year={int(end_year)}", "run.record_events=false",
              "run.plots=false"]
    seeds = replication_seeds(master_seed, n_seeds)
    prog = Progress(total=2 * len(seeds), years=end_year - START_YEAR + 1, phase="checking the configs")
    on_progress(prog)
    frames, todo = _from_cache(seeds, ref, whatif, common)
    prog.cached = prog.done = len(frames)
    # check the what-if's config before anything runs (ConfigError names the field); the baseline
    # shares its scale and end year, and its levers are the reported ones
    whatif.compose(common)
    if cancelled():
        raise Cancelled()
    timings = {"check": time.perf_counter() - t0}
    prog.phase = ""
    frames.update(_simulate(todo, seeds, common, prog, on_progress, cancelled))
    timings["runs"] = time.perf_counter() - t0 - timings["check"]

    prog.running, prog.phase = [], "differences and figures"
    on_progress(prog)
    runs = _label_runs(frames, name)
    res = Results(scenario=base.name, whatif=name, description=base.description, changed=list(changed),
                  lever_overrides=list(lever_overrides), common=common, seeds=seeds, scale=scale, end_year=end_year,
                  runs=runs, levels=summarise(runs), diffs=pd.DataFrame(), images={}, seconds=0.0,
                  simulated=len(todo), cached=len(frames) - len(todo), timings=timings)
    _differences_and_figures(res)
    prog.phase = ""
    on_progress(prog)
    res.seconds = time.perf_counter() - t0
    log.info("what-if %s: %s", name, ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return res


def _from_cache(seeds: list[int], ref: ScenarioSpec, whatif: ScenarioSpec, common: list[str]):
    """({(label, seed): rows} of the runs in the cache, [(label, spec, seed)] of those to run)."""
    frames: dict[tuple[str, int], pd.DataFrame] = {}
    todo = []
    for sd in seeds:
        for label, spec in (("baseline", ref), ("what-if", whatif)):
            df = _cached(_cache_key(spec, common, sd))
            if df is not None:
                frames[(label, sd)] = df
            else:
                todo.append((label, spec, sd))
    return frames, todo


def _simulate(todo: list, seeds: list[int], common: list[str], prog: Progress,
              on_progress: Callable[[Progress], None], cancelled: Callable[[], bool]) -> dict:
    """Run ``todo`` in the pool, caching each run and reporting progress every quarter second;
    {(label, seed): rows}. Raises Cancelled, or RuntimeError if a worker died."""
    ex = executor()
    futures: dict[Future, tuple] = {}
    for label, spec, sd in todo:
        job_id = f"{os.getpid()}-{next(_JOB_IDS)}"
        futures[ex.submit(_run_job, job_id, spec, sd, common)] = (label, spec, sd, job_id)
    seed_no = {sd: i + 1 for i, sd in enumerate(seeds)}
    frames = {}
    try:
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for fut in finished:
                label, spec, sd, job_id = futures[fut]
                df = fut.result()
                _store(_cache_key(spec, common, sd), df)
                frames[(label, sd)] = df
                prog.done += 1
                _YEARS.pop(job_id, None)
            prog.running = [(f"{futures[f][0]} seed {seed_no[futures[f][2]]}", _YEARS[futures[f][3]])
                            for f in pending if futures[f][3] in _YEARS]
            on_progress(prog)
            if cancelled():
                for f in pending:
                    f.cancel()
                raise Cancelled()
    except BrokenProcessPool:
        _reset_executor()
        raise RuntimeError("a simulation worker stopped (out of memory?); the pool was restarted, run again") from None
    return frames


def _label_runs(frames: dict, name: str) -> pd.DataFrame:
    """Every run's rows in one table, the scenario column naming the baseline or the what-if."""
    parts = []
    for (label, sd), df in frames.items():
        df = df.copy()
        df["scenario"] = REFERENCE if label == "baseline" else name
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def _differences_and_figures(res: Results) -> None:
    """Fill ``res.diffs`` (the series the views show: every year of the panels, every indicator at
    the end year) and ``res.images``: the figures that need only the levels start at once, the
    paired differences are computed alongside, then the figures of the differences."""
    t1 = time.perf_counter()
    ex, name, end_year = executor(), res.whatif, res.end_year
    levels = res.levels
    lv_w = levels[levels.scenario == name]
    img_futs = {ex.submit(figures.render, "map_whatif", lv_w, None, name, REFERENCE, end_year): "map_whatif",
                ex.submit(figures.render, "levels", levels[levels.indicator.isin(figures.PANELS)], None, name,
                          REFERENCE, end_year): "levels"}
    res.diffs = res.differences(years=[end_year], series=SERIES_ALL_YEARS)
    res.full_years.add(end_year)
    res.timings["differences"] = time.perf_counter() - t1
    img_futs[ex.submit(figures.render, "map_diff", lv_w, res.diffs[res.diffs.year == end_year], name, REFERENCE,
                       end_year)] = "map_diff"
    img_futs[ex.submit(figures.render, "diffs", None, res.diffs[res.diffs.indicator.isin(figures.PANELS)], name,
                       REFERENCE, end_year)] = "diffs"
    for f, kind in img_futs.items():
        res.images[kind] = f.result()
    res.timings["figures"] = time.perf_counter() - t1 - res.timings["differences"]


def map_images(res: Results, year: int) -> dict[str, bytes]:
    """The two maps for another year (in the pool)."""
    ex = executor()
    lv = res.levels[res.levels.scenario == res.whatif]
    diffs = res.diffs_for_year(year)
    a = ex.submit(figures.render, "map_whatif", lv, None, res.whatif, res.reference, year)
    b = ex.submit(figures.render, "map_diff", lv, diffs[diffs.year == year], res.whatif, res.reference, year)
    return {"map_whatif": a.result(), "map_diff": b.result()}


def shutdown() -> None:
    """Stop the workers (at server exit)."""
    _reset_executor(terminate=True)

"""``jjj-sim-calibrate``: fit the free parameters to calibration/targets.yaml.

    jjj-sim-calibrate                                   # conf/calibrate.yaml defaults
    jjj-sim-calibrate calibration.budget=400 calibration.replications=2 population.scale=0.1
    jjj-sim-calibrate hydra.run.dir=out/cal             # run it again to resume an interrupted one

Three stages, each resumable from what it left in the run directory:
1. Point estimate: Optuna (TPE sampler; ``calibration.start``, a params file, is tried
   first when given: a warm start from an earlier fit) minimises the loss
   (jjj_sim/runner/targets.py) averaged over ``calibration.replications`` seeds spawned from
   one SeedSequence (the same seeds for every parameter set: common random numbers).
   ``calibration.budget`` simulations in all, i.e. budget / replications parameter sets, over
   ``calibration.workers`` processes sharing an Optuna journal file (``optuna_journal.log``):
   a killed calibration continues from the trials it completed.
1b. Polish: Nelder-Mead or trust-region least squares (scipy; ``calibration.polish_method``)
   from the Optuna point, on the same seeds, for ``calibration.polish`` simulations (0 skips
   it); kept in ``polish.json``.
2. Posterior: ABC-SMC with pyabc (uniform priors on the bounds, log-uniform where ``log``;
   one seed per simulation), stored in ``abc.db``; a rerun continues from the last complete
   generation. ``calibration.abc.generations: 0`` skips it.
3. Check: the fitted point at ``calibration.check.scale`` over ``calibration.check.replications``
   seeds: each target's mean and 90% band, and whether it is met.
Writes fitted_params.yaml (loadable with ``jjj-sim params_file=...``), fit_report.md,
fit_report.json, plots/ and, when the ABC-SMC stage ran, posterior.parquet. The polish and the
check run their simulations on the runner's ``JobPool``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from jjj_sim import __version__
from jjj_sim.core.checks import count
from jjj_sim.core.errors import ConfigError, OutputError, write_error
from jjj_sim.core.resources import CONF_SEARCH, find
from jjj_sim.core.seeds import replication_seeds
from jjj_sim.runner import config
from jjj_sim.runner.compose import precheck
from jjj_sim.runner.config import leaves, load_params_file
from jjj_sim.runner.entry import EXIT_WRITE, fail
from jjj_sim.runner.jobs import JobPool, die_with_parent
from jjj_sim.runner.posterior import effective_size, write
from jjj_sim.runner.rundir import staged
from jjj_sim.runner.targets import Target, load_targets, loss
from jjj_sim.tools.calibration.fit_report import (
    build_report,
    report_markdown,
    write_fitted,
    write_plots,
)
from jjj_sim.tools.calibration.optimizers import (
    POLISH_METHODS,
    least_squares_minimum,
    least_squares_polish,
    nelder_mead_polish,
)
from jjj_sim.tools.calibration.simulator import FreeParam, Simulator, parse_free

log = logging.getLogger("jjj_sim.calibrate")
STUDY = "jjj-sim"
PROG = "jjj-sim-calibrate"  # the command, in its error messages
SAMPLERS = ("multicore", "single", "dask")  # how the ABC-SMC stage evaluates its particles
POSTERIOR_FILE = "posterior.parquet"


# ---------------------------------------------------------------------------- settings
class Settings:
    """The checked ``calibration`` section."""

    def __init__(self, cfg: DictConfig):
        c = cfg.calibration
        self.targets: list[Target] = load_targets(find(c.targets, "calibration.targets"))
        self.free: list[FreeParam] = parse_free(c.free)
        self.budget = count(c.budget, "calibration.budget", "samples")
        self.replications = count(c.replications, "calibration.replications", "replications")
        self.workers = count(c.workers or os.cpu_count() or 1, "calibration.workers", "workers")
        self.margin = _real(c.bound_margin, "calibration.bound_margin")
        if not 0 <= self.margin < 1:
            raise ConfigError("calibration.bound_margin", f"must be in [0, 1), got {c.bound_margin}")
        self.trials = self.budget // self.replications
        if self.trials < 1:
            raise ConfigError("calibration.budget", "must be at least calibration.replications")
        self.polish = count(c.get("polish", 0), "calibration.polish", "samples", 0)
        self.polish_method = str(c.get("polish_method") or "nelder-mead")
        if self.polish_method not in POLISH_METHODS:
            raise ConfigError("calibration.polish_method",
                              f"expected one of {', '.join(POLISH_METHODS)}, got {self.polish_method!r}")
        need = least_squares_minimum(len(self.free)) * self.replications
        if self.polish_method == "least-squares" and 0 < self.polish < need:
            raise ConfigError("calibration.polish", f"the least-squares polish of {len(self.free)} parameters needs at "
                              f"least {need} simulations (a Jacobian and a step, x {self.replications} replications), "
                              f"got {self.polish}; 0 skips the polish")
        self.start: dict[str, float] = {}
        if c.get("start"):  # a params file whose values of the free parameters are tried first
            given = load_params_file(c.start)
            for p in self.free:
                if p.name in given:
                    self.start[p.name] = min(p.high, max(p.low, float(given[p.name])))
        self.abc_population = count(c.abc.population_size, "calibration.abc.population_size", "samples", 2)
        self.abc_generations = count(c.abc.generations, "calibration.abc.generations", "samples", 0)
        self.abc_min_epsilon = _real(c.abc.get("min_epsilon") or 0.0, "calibration.abc.min_epsilon")
        if self.abc_min_epsilon < 0:
            raise ConfigError("calibration.abc.min_epsilon", f"must be a number >= 0, got {c.abc.min_epsilon!r}")
        ms = c.abc.get("max_simulations")
        self.abc_max_simulations = math.inf if ms is None else count(ms, "calibration.abc.max_simulations", "samples")
        self.sampler = str(c.get("sampler") or "multicore")
        if self.sampler not in SAMPLERS:
            raise ConfigError("calibration.sampler", f"expected one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        self.dask_address = c.get("dask_address")
        if self.sampler == "dask" and not self.dask_address:
            raise ConfigError("calibration.dask_address", "the dask sampler needs the scheduler's address "
                              "(e.g. tcp://10.0.0.5:8786)")
        self.check_scale = _real(c.check.scale, "calibration.check.scale")
        if not 0 < self.check_scale <= 10:
            raise ConfigError("calibration.check.scale", f"must be in (0, 10], got {c.check.scale}")
        self.check_replications = count(c.check.replications, "calibration.check.replications", "replications")
        self.seed = int(cfg.seed)


def _real(v, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(field, f"expected a number, got {v!r}")
    return float(v)


def with_free_override(cfg: DictConfig, overrides) -> DictConfig:
    """``calibration.free={...}`` on the command line names the free parameters: it replaces
    the default set (Hydra would merge the two dicts, so the defaults would still be fitted)."""
    # here: hydra's override parser (ANTLR), only with overrides
    from hydra.core.override_parser.overrides_parser import OverridesParser

    given = [str(o) for o in overrides or () if str(o).split("=", 1)[0].lstrip("+~") == "calibration.free"]
    if given:
        try:
            value = OverridesParser.create().parse_override(given[-1].lstrip("+~")).value()
        except Exception as e:  # Hydra's OverrideParseException
            raise ConfigError("calibration.free", (str(e).strip().splitlines() or ["cannot parse"])[0]) from None
        with open_dict(cfg):
            OmegaConf.update(cfg, "calibration.free", value if value else {}, merge=False)
    return cfg


def normalise_args(argv: list[str]) -> list[str]:
    """``calibration.free.NAME={low: .., high: ..}`` adds or changes one free parameter (any
    parameter of conf/params, not only the default set): passed to Hydra as ``++``."""
    return [f"++{a}" if a.startswith("calibration.free.") and "=" in a else a for a in argv]


PLAN_FILE = "calibration_plan.json"
RESUMABLE = ("calibration.workers", "calibration.sampler", "calibration.dask_address")  # may change on resume
# settings added after plans were written: a plan without one ran with this value
ADDED_SINCE = {"calibration.polish_method": "nelder-mead"}


def check_plan(run_dir: Path, cfg: DictConfig, write: bool = True) -> None:
    """A calibration resumes only with the settings it started with: its config (all but
    RESUMABLE) and its targets file's content are kept in calibration_plan.json; a rerun into
    the same directory with others is refused, naming the settings that differ."""
    plan = OmegaConf.to_container(cfg, resolve=True)
    for key in RESUMABLE:
        section, name = key.split(".")
        plan.get(section, {}).pop(name, None)
    plan["targets_sha256"] = hashlib.sha256(find(cfg.calibration.targets, "calibration.targets")
                                            .read_bytes()).hexdigest()
    f = run_dir / PLAN_FILE
    if f.is_file():
        try:
            before = json.loads(f.read_text(encoding="utf-8"))
        except ValueError:
            before = {}
        now_flat, was_flat = dict(leaves(json.loads(json.dumps(plan)))), dict(leaves(before))
        if before:
            was_flat = {**ADDED_SINCE, **was_flat}
        if now_flat != was_flat:
            differ = sorted(k for k in set(now_flat) | set(was_flat) if now_flat.get(k) != was_flat.get(k)) or ["..."]
            differ = differ[:6] + (["..."] if len(differ) > 6 else [])
            raise ConfigError("hydra.run.dir", f"{run_dir} holds a calibration with other settings (they differ in: "
                                               f"{', '.join(differ)}); choose another directory to start a new one")
        return
    if not write:
        return
    tmp = f.with_name(f".{f.name}.tmp")
    tmp.write_text(json.dumps(plan, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, f)


def repair_journal(path: Path) -> None:
    """Drop a last line that a kill tore (no newline, or not JSON) from Optuna's journal, so
    the calibration resumes from the trials before it instead of failing on every resume."""
    if not path.is_file():
        return
    data = path.read_bytes()
    lines = data.split(b"\n")
    keep = lines[:-1]  # complete lines; lines[-1] is what follows the last newline
    while keep:
        try:
            json.loads(keep[-1])
            break
        except ValueError:
            keep.pop()
    fixed = b"".join(line + b"\n" for line in keep)
    if fixed != data:
        log.warning("optuna journal: dropped a torn last record (%d bytes)", len(data) - len(fixed))
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(fixed)
        os.replace(tmp, path)


# ---------------------------------------------------------------------------- stage 1: Optuna
def _storage(run_dir: Path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(run_dir / "optuna_journal.log")))


def _objective(sim: Simulator, free: list[FreeParam]):
    def objective(trial) -> float:
        params = {p.name: trial.suggest_float(p.name, p.low, p.high, log=p.log) for p in free}
        value, runs = sim.evaluate(params)
        trial.set_user_attr("replications", runs)
        return value if math.isfinite(value) else 1e12

    return objective


def _optuna_worker(run_dir: str, sim: Simulator, free: list[FreeParam], trials: int, sampler_seed: int,
                   parent: int | None = None) -> None:
    die_with_parent(parent)  # first: the calibration may be killed while this worker starts
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True, n_startup_trials=min(10, trials))
    study = optuna.load_study(study_name=STUDY, storage=_storage(Path(run_dir)), sampler=sampler)
    study.optimize(_objective(sim, free), n_trials=trials,
                   callbacks=[MaxTrialsCallback(trials, states=(TrialState.COMPLETE,))])


def point_estimate(run_dir: Path, sim: Simulator, s: Settings):
    """Stage 1: the Optuna study kept in ``optuna_journal.log`` (a torn last record dropped), run to
    ``s.trials`` complete parameter sets on ``s.workers`` forked processes (in this process when
    one), a new study trying the warm start (``calibration.start``) first; returns the study. A
    rerun resumes it."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    repair_journal(run_dir / "optuna_journal.log")
    study = optuna.create_study(study_name=STUDY, storage=_storage(run_dir), direction="minimize",
                                load_if_exists=True)
    done = len(study.get_trials(states=(TrialState.COMPLETE,)))
    if s.start and not study.trials:  # warm start: the given point is the first parameter set tried
        study.enqueue_trial(s.start)
    if done < s.trials:
        log.info("optuna: %d of %d parameter sets done; running the rest on %d worker(s)", done, s.trials, s.workers)
        if s.workers == 1:
            _optuna_worker(str(run_dir), sim, s.free, s.trials, s.seed + done)
        else:
            ctx = mp.get_context("fork")
            procs = [ctx.Process(target=_optuna_worker,
                                 args=(str(run_dir), sim, s.free, s.trials, s.seed + done + i, os.getpid()))
                     for i in range(s.workers)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            if any(p.exitcode != 0 for p in procs):
                raise RuntimeError("an Optuna worker failed; rerun the same command to resume")
        study = optuna.load_study(study_name=STUDY, storage=_storage(run_dir))
    return study


# ---------------------------------------------------------------------------- stage 1b: polish
_SIM: Simulator | None = None  # set before a pool's worker processes fork (polish, check): they read it


def _sim_values(job: tuple[dict[str, float], int, float | None]) -> dict[str, float]:
    """``_SIM.values`` of (params, seed, scale): a job of the polish's or the check's pool."""
    params, seed, scale = job
    return _SIM.values(params, seed, scale=scale)


def polish(run_dir: Path, sim: Simulator, s: Settings, start: dict[str, float], start_loss: float):
    """Polish the Optuna point on the unit cube of the bounds, with the same replication seeds
    (common random numbers, so the loss is a deterministic function of the parameters), for
    ``calibration.polish`` simulations, by ``calibration.polish_method`` (optimizers.py:
    ``nelder-mead`` or ``least-squares``). TPE finds the basin; the
    polish walks down it, which matters when one-sided and range targets meet at a corner (the
    closure path, T3-T6). Returns (best point of all evaluated, summary); the result is kept
    in polish.json, so a rerun reuses it."""
    path = run_dir / "polish.json"
    if s.polish < s.replications:
        return start, None
    if path.exists():
        saved = json.loads(path.read_text(encoding="utf-8"))
        return {k: float(v) for k, v in saved["best"].items()}, saved
    free = s.free
    evals: list[tuple[float, dict]] = [(start_loss, dict(start))]
    workers = min(s.workers, s.replications)
    global _SIM
    _SIM = sim
    # a point's seeds, in parallel
    pool = JobPool(workers, context="fork", initializer=die_with_parent, initargs=(os.getpid(),))

    def evaluate(u) -> tuple[list[dict[str, float]], float]:
        """The point's runs (a seed each) and their mean loss (1e12 if not finite); recorded."""
        params = {p.name: p.from_unit(x) for p, x in zip(free, u)}
        runs = pool.map(_sim_values, [(params, seed, None) for seed in sim.seeds])
        value = float(np.mean([loss(sim.targets, r, sim.margin) for r in runs]))
        value = value if math.isfinite(value) else 1e12
        evals.append((value, params))
        return runs, value

    x0 = np.array([p.to_unit(start[p.name]) for p in free])
    max_evals = max(1, s.polish // s.replications)
    log.info("polish: %s from loss %.4g, %d simulations", s.polish_method, start_loss, s.polish)
    try:
        if s.polish_method == "least-squares":
            least_squares_polish(evaluate, x0, sim.targets, sim.margin, max_evals, lambda: len(evals) - 1)
        else:
            nelder_mead_polish(lambda u: evaluate(u)[1], x0, max_evals)
    finally:
        pool.shutdown()
    best_loss, best = min(evals, key=lambda e: e[0])
    saved = {"method": s.polish_method, "start_loss": start_loss, "loss": best_loss, "evaluations": len(evals) - 1,
             "simulations": (len(evals) - 1) * s.replications, "best": best}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(saved, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return best, saved


# ---------------------------------------------------------------------------- stage 2: ABC-SMC
def _key(name: str) -> str:
    return name.replace(".", "__")


def connect_dask(address: str):
    """A client of the Dask scheduler at ``address`` (calibration.dask_address), or a ConfigError
    naming that field. It waits for Dask's connect timeout (distributed.comm.timeouts.connect,
    30 s by default; e.g. DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s)."""
    import dask
    from distributed import Client

    try:
        return Client(address, timeout=dask.config.get("distributed.comm.timeouts.connect"))
    except (OSError, ValueError, TypeError) as e:
        why = (str(e).strip().splitlines() or [e.__class__.__name__])[0]
        raise ConfigError("calibration.dask_address", f"cannot reach the Dask scheduler at {address}: {why}") from None


def posterior(run_dir: Path, sim: Simulator, s: Settings):
    """The last ABC-SMC generation as (DataFrame of the free parameters, weights, metadata:
    sampler, generations, epsilons, simulations, population size, why it stopped early, effective
    sample size), or None when ``calibration.abc.generations`` is 0."""
    if s.abc_generations == 0:
        return None
    import pyabc

    logging.getLogger("ABC").setLevel(logging.WARNING)
    priors = {}
    for p in s.free:
        lo, hi = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
        priors[_key(p.name)] = pyabc.RV("uniform", lo, hi - lo)
    free = {_key(p.name): p for p in s.free}

    def model(theta):
        params = {free[k].name: (math.exp(v) if free[k].log else v) for k, v in theta.items()}
        # one fresh seed per simulation from numpy's global generator, which pyabc seeds
        return sim.values(params, int(np.random.randint(0, 2**31 - 1)))

    def distance(x, x0):
        return loss(s.targets, x, s.margin)

    client = None
    if s.sampler == "dask":  # the particles on a Dask cluster (e.g. dask-jobqueue on SLURM)
        client = connect_dask(s.dask_address)
        sampler = pyabc.sampler.DaskDistributedSampler(dask_client=client, batch_size=4)
    elif s.sampler == "single" or s.workers == 1:
        sampler = pyabc.sampler.SingleCoreSampler()
    else:
        sampler = pyabc.sampler.MulticoreEvalParallelSampler(n_procs=s.workers)
    abc = pyabc.ABCSMC(model, pyabc.Distribution(**priors), distance, population_size=s.abc_population,
                       sampler=sampler)
    db = run_dir / "abc.db"
    url = f"sqlite:///{db}"
    np.random.seed(s.seed % 2**32)
    done = 0
    if db.exists():
        history = pyabc.History(url)
        if history.n_populations > 0:
            done = history.max_t + 1
            abc.load(url, 1)
    if done == 0:
        db.unlink(missing_ok=True)
        abc.new(url, {t.id: t.value for t in s.targets})
    stopped = None
    try:
        if done < s.abc_generations:
            log.info("abc-smc: %d of %d generations done", done, s.abc_generations)
            abc.run(max_nr_populations=s.abc_generations - done, minimum_epsilon=s.abc_min_epsilon,
                    max_total_nr_simulations=s.abc_max_simulations)
    except ValueError as e:  # pyabc cannot fit the next proposal: the importance weights degenerated
        stopped = f"stopped after the last complete generation: {str(e).splitlines()[0]}"
        log.warning("abc-smc: %s", stopped)
    finally:
        if client is not None:
            client.close()
    history = pyabc.History(url)
    if history.max_t < 0:
        raise ConfigError("calibration.abc", stopped or "no ABC generation completed")
    df, w = history.get_distribution(m=0, t=history.max_t)
    df = df.rename(columns={_key(p.name): p.name for p in s.free})
    for p in s.free:
        if p.log:
            df[p.name] = np.exp(df[p.name])
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    return df[[p.name for p in s.free]], np.asarray(w), {
        "sampler": s.sampler,
        "generations": int(history.max_t + 1),
        "epsilons": [float(e) for e in pops["epsilon"]],
        "simulations": int(history.total_nr_simulations),
        "population_size": s.abc_population,
        "stopped": stopped,
        "effective_sample_size": effective_size(w),
    }


def write_posterior(path: Path, post, s: Settings, cfg: DictConfig) -> None:
    """The last ABC-SMC generation as a portable table: one row per particle, a column per
    free parameter (its dotted name under params) and ``weight`` (normalised to sum to 1); the
    file's metadata (key ``jjj_sim``) records how it was made. jjj_sim/runner/posterior.py reads it."""
    df, w, meta = post
    table = df.copy()
    table["weight"] = w / w.sum()
    write(path, table, {**meta, "version": __version__, "seed": s.seed,
                        "population_scale": float(cfg.population.scale),
                        "targets": [t.id for t in s.targets], "margin": s.margin,
                        "free": {p.name: {"low": p.low, "high": p.high, "log": p.log} for p in s.free}})


# ---------------------------------------------------------------------------- stage 3: check
def check_fit(sim: Simulator, s: Settings, best: dict[str, float]) -> dict:
    """The fitted point run at the check's scale on fresh seeds: each target's mean, 90% range,
    spread and whether it is met (overall and seed by seed)."""
    seeds = replication_seeds(s.seed + 1, s.check_replications)
    global _SIM
    _SIM = sim
    with JobPool(min(s.workers, len(seeds)), context="fork", initializer=die_with_parent,
                 initargs=(os.getpid(),)) as pool:
        runs = pool.map(_sim_values, [(best, seed, s.check_scale) for seed in seeds])
    out = {}
    for t in s.targets:
        v = np.array([r[t.id] for r in runs])
        out[t.id] = {"mean": float(v.mean()), "p05": float(np.percentile(v, 5)), "p95": float(np.percentile(v, 95)),
                     "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "met": bool(t.met(float(v.mean()))),
                     "share_of_seeds_met": float(np.mean([t.met(x) for x in v])), "values": v.tolist()}
    return {"scale": s.check_scale, "seeds": seeds, "targets": out}


# ---------------------------------------------------------------------------- report: fit_report.py


# ---------------------------------------------------------------------------- app
@hydra.main(version_base="1.3", config_path=CONF_SEARCH, config_name="calibrate")
def _app(cfg: DictConfig) -> None:
    logging.getLogger("MESA").setLevel(logging.WARNING)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        overrides = HydraConfig.get().overrides.task
        cfg = config.prepare(with_free_override(cfg, overrides), overrides, tool=True)
        s = Settings(cfg)
        check_plan(run_dir, cfg)
        if s.sampler == "dask":  # the scheduler must answer now, not after the point estimate
            connect_dask(s.dask_address).close()
    except ConfigError as e:
        fail(str(e), PROG)
    sim = Simulator(cfg, s.targets, replication_seeds(s.seed, s.replications), s.margin)
    timings = {}
    t0 = time.perf_counter()
    study = point_estimate(run_dir, sim, s)
    best = {p.name: float(study.best_params[p.name]) for p in s.free}
    timings["point_estimate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    best, polished = polish(run_dir, sim, s, best, float(study.best_value))
    timings["polish"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        post = posterior(run_dir, sim, s)
    except ConfigError as e:  # the Dask scheduler went away during the point estimate
        fail(str(e), PROG)
    timings["posterior"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    check = check_fit(sim, s, best)
    timings["check"] = time.perf_counter() - t0
    rep = build_report(s, study, post, check, best, timings, cfg)
    rep["polish"] = polished
    try:
        with staged(run_dir, last="fit_report.json", replace=True) as st:  # all or nothing, the report last
            write_plots(st / "plots", rep, post)
            if post is not None:
                write_posterior(st / POSTERIOR_FILE, post, s, cfg)
            write_fitted(st / "fitted_params.yaml", best, rep)
            (st / "fit_report.md").write_text(report_markdown(rep), encoding="utf-8")
            (st / "fit_report.json").write_text(json.dumps(rep, indent=1, allow_nan=False), encoding="utf-8")
    except OSError as e:
        print(f"{PROG}: error: hydra.run.dir: {write_error(e, run_dir)}", file=sys.stderr)
        sys.exit(1)
    print(report_markdown(rep))
    print(f"outputs: {run_dir}")


def main() -> None:
    """``jjj-sim-calibrate``: pass ``calibration.free.NAME=...`` to Hydra as ``++``, check the config
    and a resumed run directory's plan before Hydra writes anything (one line: exit 2 for bad input, 1
    when the directory cannot be made), then run the Hydra app (point estimate, polish, posterior,
    check, report). Flags go straight to Hydra."""
    argv = normalise_args(sys.argv[1:])
    sys.argv[1:] = argv
    if not any(a.startswith("-") for a in argv):
        try:
            cfg, run_dir = precheck(argv, "calibrate", extra_check=lambda cfg: Settings(with_free_override(cfg, argv)))
            check_plan(run_dir, cfg, write=False)  # before Hydra rewrites anything in a resumed directory
        except ConfigError as e:
            fail(str(e), PROG)
        except OutputError as e:  # the run directory cannot be made
            fail(str(e), PROG, EXIT_WRITE)
    _app()


if __name__ == "__main__":
    main()

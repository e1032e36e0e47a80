"""Multirun support: recording a job's failure, and gathering every job's results.

Each job of a sweep writes its own directory. Whatever the launcher (joblib, submitit, Ray),
in-memory state does not reach the driver, so ``GatherResults`` (a Hydra callback) reads the
jobs' outputs from disk when the sweep ends and writes into the sweep directory:
- ``sweep_results.parquet``: tidy, one row per job x indicator x year (with the job's
  overrides as columns);
- ``sweep_summary.csv``: one row per job: status, overrides (``override:KEY``), each indicator
  in the last year, and ``targets_met`` / ``targets_total``: how many of the calibration
  targets the run met, out of those it can be judged on (a target dated after the run's last
  year is not counted);
- ``sweep_targets.parquet``: one row per job x calibration target: the overrides, ``target``
  (its id), ``indicator`` (the measured series: an indicator, ``park.ID.FIELD`` or
  ``ratio.NUM.DEN``), ``year``, ``reported``, ``kind``, ``tolerance``, ``low``/``high`` (kind
  range), ``simulated`` and ``met`` (true/false; null, with ``simulated`` null, when the
  target's year is after the run's last year: not evaluable, not missed). Targets are read from
  ``calibration/targets.yaml`` (``targets`` below) and judged by ``Target.met``, as
  ``jjj-sim-validate`` judges them;
- ``sweep_quarterly.parquet`` (only with ``quarterly=true``): one row per job x indicator x
  quarter (``year``, ``quarter`` 1-4, ``value``) from each job's ``indicators.parquet``; a flow
  indicator's quarterly value is that quarter's flow, the others are the value at the quarter's
  end;
- ``sweep_failures.csv``: the jobs that failed or left no result (``missing``), and why.
Every file is written under a temporary name and renamed into place once all are written;
files of an earlier gather into the same directory that this one does not produce are removed.

Override columns are typed: each override's value is parsed as Hydra parses it (``seed=1`` an
int64 column, ``population.scale=0.02`` float64, ``run.plots=false`` bool,
``scenario=baseline`` string; ``null`` is a missing value, so ``params_draw=null,0,1`` is a
nullable integer column). A column whose values are ints in some jobs and floats in others is
float64; one whose values mix any other types across jobs (``x=1,abc``, lists, mappings) falls
back to the override text as a string column. In the tidy tables (results, targets,
quarterly), ``scenario`` and ``seed`` are the run's own (summary.json: a scenario file's
override is its cached option name), and so is ``params_draw``: the posterior draw the run
used (summary.json; missing at the fitted point). The summary has them as ``scenario``,
``seed`` and ``params_draw`` beside the ``override:`` columns.

A job that fails records ``failure.json`` in its own directory and returns normally (Hydra
skips ``on_multirun_end`` when a job raises), so the others are still gathered.

Options of the callback (conf/config.yaml, ``hydra.callbacks.gather``):
``quarterly`` (``jjj-sim -m ... hydra.callbacks.gather.quarterly=true``) and ``targets`` (a
targets file; null: no target columns).
"""

from __future__ import annotations

import json
import logging
import math
import os
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import find
from jjj_sim.runner.entry import fail
from jjj_sim.runner.rundir import lock_dir, release_dir
from jjj_sim.runner.targets import load_targets

log = logging.getLogger("jjj_sim.tools.sweep")
FAILURE = "failure.json"
SWEEP_PLAN = ".sweep.json"  # the sweep's command (config name and overrides), for resuming it
DEFAULT_TARGETS = "calibration/targets.yaml"
FILES = ("sweep_results.parquet", "sweep_summary.csv", "sweep_targets.parquet", "sweep_quarterly.parquet",
         "sweep_failures.csv")


def record_failure(job_dir: Path, error: BaseException) -> None:
    """Write ``failure.json`` (the error and its traceback) into a failed job's directory."""
    job_dir.mkdir(parents=True, exist_ok=True)
    info = {"error": f"{error.__class__.__name__}: {error}",
            "traceback": "".join(traceback.format_exception(error))}
    (job_dir / FAILURE).write_text(json.dumps(info, indent=1), encoding="utf-8")


# ---------------------------------------------------------------------------------- overrides
def _parse_value(text: str):
    """An override's value as Hydra parses it: int, float, bool, None, str; anything else
    (lists, mappings, sweeps, unparsable text) is returned as the text itself, marked by the
    type ``_Text``."""
    try:
        value = _parser().parse_override(f"k={text}").value()
    except Exception:  # noqa: BLE001 - any grammar error: keep the text
        return _Text(text)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return _Text(text)


@lru_cache(maxsize=1)
def _parser():
    # here: hydra's override parser (ANTLR), only when gathering
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


class _Text(str):
    """An override value kept as text (not a scalar Hydra value)."""


def _overrides(job_dir: Path) -> dict[str, tuple[object, str]]:
    """{key: (typed value, text)} of the job's overrides (the key as written, e.g. ``+x``)."""
    f = job_dir / ".hydra" / "overrides.yaml"
    if not f.is_file():
        return {}
    items = yaml.safe_load(f.read_text(encoding="utf-8")) or []
    out = {}
    for o in items:
        if "=" in str(o):
            key, text = str(o).split("=", 1)
            out[key] = (_parse_value(text), text)
    return out


def _kind(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, _Text):
        return "text"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "str"


def column_kinds(jobs_overrides: list[dict[str, tuple[object, str]]]) -> dict[str, str]:
    """{override key: int | float | bool | str | text | null} over all jobs: ints and floats make a
    float column; any other mix, or a value that is not a scalar, ``text`` (a string column of the
    override as written); ``null`` when no job gives a value."""
    kinds: dict[str, set] = {}
    for over in jobs_overrides:
        for key, (value, _) in over.items():
            kinds.setdefault(key, set())
            k = _kind(value)
            if k is not None:
                kinds[key].add(k)
    out = {}
    for key, ks in kinds.items():
        if not ks:
            out[key] = "null"
        elif len(ks) == 1 and ks != {"text"}:
            out[key] = ks.pop()
        elif ks == {"int", "float"}:
            out[key] = "float"
        else:
            out[key] = "text"
    return out


_DTYPES = {"int": ("int64", "Int64"), "float": ("float64", "float64"), "bool": ("bool", "boolean"),
           "str": ("str", "str"), "text": ("str", "str"), "null": ("str", "str")}


def _cell(entry, kind: str):
    """One job's override (``entry`` = (value, text), or absent) as a cell of a ``kind`` column."""
    if entry is None:
        return None
    value, text = entry
    if value is None:
        return None
    if kind == "float":
        return float(value)
    if kind == "text":
        return str(value) if isinstance(value, str) else text
    return value


def _typed(values: list, kind: str):
    """A column of ``kind`` (None: missing): numpy int64/bool where nothing is missing, else
    pandas' nullable Int64/boolean; float64 (NaN); string."""
    exact, nullable = _DTYPES[kind]
    if kind == "float":
        return pd.array([math.nan if v is None else v for v in values], dtype="float64")
    return pd.array(values, dtype=nullable if any(v is None for v in values) else exact)


def _override_columns(per_row_overrides: list[dict], kinds: dict[str, str], prefix: str = "") -> dict:
    """{column: typed array} of the overrides of each row (a row: a job's {key: (value, text)})."""
    return {f"{prefix}{key}": _typed([_cell(over.get(key), kind) for over in per_row_overrides], kind)
            for key, kind in kinds.items()}


# ---------------------------------------------------------------------------------- targets
def _load_targets(path):
    if path is None:
        return None

    return load_targets(find(str(path), "hydra.callbacks.gather.targets"))


def target_rows(s: dict, targets) -> list[dict]:
    """One row per target for a run's summary ``s`` (summary.json): simulated value and met;
    both missing when the target's year is not among the run's years or the run lacks what it
    measures (e.g. a park; logged)."""
    years = {str(y) for y in s["years"]}
    rows = []
    for t in targets:
        simulated, met = None, None
        if str(t.year) in years:
            try:
                simulated = t.simulated(s)
            except KeyError as e:  # e.g. a park the run does not have: not evaluable
                log.warning("target %s: %s", t.id, e)
            else:
                met = bool(t.met(simulated))
        rows.append({"target": t.id, "indicator": t.series, "year": int(t.year), "reported": float(t.value),
                     "kind": t.kind, "tolerance": float(t.tolerance), "low": t.low, "high": t.high,
                     "simulated": simulated, "met": met})
    return rows


# ---------------------------------------------------------------------------------- quarterly
def quarterly_rows(job_dir: Path, names) -> pd.DataFrame:
    """The headline indicators ``names`` by quarter from the job's ``indicators.parquet``:
    indicator, year, quarter (1-4), value."""
    import pyarrow.parquet as pq  # 0.17 s, only when the quarterly table is asked for

    t = pq.read_table(job_dir / "indicators.parquet", columns=["date", "indicator", "value"],
                      filters=[("indicator", "in", list(names))])
    df = t.to_pandas()
    date = pd.to_datetime(df["date"].astype(str))
    out = pd.DataFrame({"indicator": df["indicator"].astype(str).to_numpy(), "year": date.dt.year.astype("int64"),
                        "quarter": date.dt.quarter.astype("int64"), "value": df["value"].astype(float).to_numpy()})
    order = {n: i for i, n in enumerate(names)}
    return out.sort_values(["indicator", "year", "quarter"], key=lambda c: c.map(order) if c.name == "indicator" else c,
                           kind="stable", ignore_index=True)


# ---------------------------------------------------------------------------------- gathering
@dataclass
class Gathered:
    """A sweep's gathered tables, as ``write`` writes them (sweep_failures.csv comes from ``jobs``)."""

    results: pd.DataFrame  # sweep_results.parquet
    jobs: pd.DataFrame  # sweep_summary.csv
    targets: pd.DataFrame | None  # sweep_targets.parquet (None: no targets file)
    quarterly: pd.DataFrame | None  # sweep_quarterly.parquet (None: not asked for)


def _tidy(parts: list[tuple[dict, dict, pd.DataFrame]], kinds: dict[str, str]) -> pd.DataFrame:
    """Concatenate per-job frames, with the job, its typed overrides, and the run's own scenario,
    seed and params_draw in front. ``parts``: (job info {job, scenario, seed, params_draw},
    overrides, frame)."""
    if not parts:
        return pd.DataFrame()
    cols = {"job": pd.array([info["job"] for info, _, _ in parts], dtype="str")}
    cols.update(_override_columns([over for _, over, _ in parts], kinds))
    cols["scenario"] = pd.array([info["scenario"] for info, _, _ in parts], dtype="str")
    cols["seed"] = pd.array([info["seed"] for info, _, _ in parts], dtype="int64")
    cols["params_draw"] = pd.array([info["params_draw"] for info, _, _ in parts], dtype="Int64")
    rows = np.repeat(np.arange(len(parts)), [len(f) for _, _, f in parts])
    front = pd.DataFrame({k: v.take(rows) for k, v in cols.items()})
    body = pd.concat([f for _, _, f in parts], ignore_index=True)
    body = body.drop(columns=[c for c in body.columns if c in front.columns])
    return pd.concat([front, body], axis=1)


def gather(sweep_dir: Path, targets=DEFAULT_TARGETS, quarterly: bool = False) -> Gathered:
    """The gathered tables of the job directories under ``sweep_dir`` (see the module
    docstring); ``targets``: a targets file or None."""
    sweep_dir = Path(sweep_dir)
    jobs = sorted((d for d in sweep_dir.iterdir() if d.is_dir() and (d / ".hydra").is_dir()),
                  key=lambda d: (len(d.name), d.name))
    target_list = _load_targets(targets)
    overs = [_overrides(d) for d in jobs]
    kinds = column_kinds(overs)
    results, target_parts, quarter_parts, rows = [], [], [], []
    for d, over in zip(jobs, overs):
        row = {"job": d.name}
        summary = d / "summary.json"
        if summary.is_file():
            s = json.loads(summary.read_text(encoding="utf-8"))
            draw = s.get("params_draw")  # absent in runs made before summary.json recorded it
            info = {"job": d.name, "scenario": s["scenario"], "seed": int(s["seed"]),
                    "params_draw": None if draw is None else int(draw)}
            last = str(s["years"][-1])
            row.update(status="ok", scenario=s["scenario"], seed=info["seed"], params_draw=info["params_draw"],
                       error="")
            if target_list is not None:
                t = target_rows(s, target_list)
                judged = [r["met"] for r in t if r["met"] is not None]
                row.update(targets_met=sum(judged), targets_total=len(judged))
                target_parts.append((info, over, pd.DataFrame(t)))
            row.update({k: v[last] for k, v in s["indicators"].items()})
            results.append((info, over, pd.DataFrame(
                [{"indicator": name, "year": int(year), "value": float(value)}
                 for name, series in s["indicators"].items() for year, value in series.items()])))
            if quarterly:
                if (d / "indicators.parquet").is_file():
                    quarter_parts.append((info, over, quarterly_rows(d, s["indicators"])))
                else:
                    log.warning("job %s has no indicators.parquet: no quarterly values", d.name)
        elif (d / FAILURE).is_file():
            row.update(status="failed", error=json.loads((d / FAILURE).read_text(encoding="utf-8"))["error"])
        else:
            row.update(status="missing", error="no summary.json and no failure.json (killed?)")
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        typed = pd.DataFrame(_override_columns(overs, kinds, "override:"))
        table = pd.concat([table[["job"]], typed, table.drop(columns=["job"])], axis=1)
        table["job"] = table["job"].astype("str")
        extra = ("targets_met", "targets_total") if target_list is not None else ()
        for col in ("scenario", "seed", "params_draw", *extra):
            if col not in table:  # no job finished
                table[col] = None
        for col in ("seed", "params_draw", "targets_met", "targets_total"):
            if col in table:
                table[col] = table[col].astype("Int64")
        for col in ("status", "scenario", "error"):
            if col in table:
                table[col] = table[col].astype("str")
    tt = None
    if target_list is not None:
        tt = _tidy(target_parts, kinds)
        if len(tt):
            tt["met"] = tt["met"].astype("boolean")
            for col in ("simulated", "low", "high"):
                tt[col] = tt[col].astype("float64")
    return Gathered(_tidy(results, kinds), table, tt, _tidy(quarter_parts, kinds) if quarterly else None)


def write(sweep_dir: Path, g: Gathered) -> list[str]:
    """Write the gathered tables into ``sweep_dir``, all or nothing: each under a temporary
    name first, then renamed into place; files an earlier gather wrote that this one does not
    are removed. Returns the names written."""
    sweep_dir = Path(sweep_dir)
    failed = g.jobs[g.jobs["status"] != "ok"] if len(g.jobs) else g.jobs
    writers = {}
    if len(g.results):
        writers["sweep_results.parquet"] = lambda p: g.results.to_parquet(p, index=False)
    writers["sweep_summary.csv"] = lambda p: g.jobs.to_csv(p, index=False)
    if g.targets is not None and len(g.targets):
        writers["sweep_targets.parquet"] = lambda p: g.targets.to_parquet(p, index=False)
    if g.quarterly is not None and len(g.quarterly):
        writers["sweep_quarterly.parquet"] = lambda p: g.quarterly.to_parquet(p, index=False)
    if len(failed):
        writers["sweep_failures.csv"] = lambda p: failed[["job", "status", "error"]].to_csv(p, index=False)
    temps = {}
    try:
        for name, fn in writers.items():
            tmp = sweep_dir / f".{name}.tmp-{os.getpid()}"
            temps[name] = tmp
            fn(tmp)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    for name, tmp in temps.items():
        os.replace(tmp, sweep_dir / name)
    for name in FILES:
        if name not in writers:
            (sweep_dir / name).unlink(missing_ok=True)
    return list(writers)


class GatherResults(Callback):
    """Hydra callback: gather the sweep's job outputs at the end of a multirun.

    ``quarterly``: also write sweep_quarterly.parquet; ``targets``: the targets file each job
    is judged against (None: no sweep_targets.parquet, no targets_met column)."""

    def __init__(self, quarterly: bool = False, targets: str | None = DEFAULT_TARGETS) -> None:
        self.quarterly = quarterly if isinstance(quarterly, bool) else str(quarterly).lower() in ("1", "true", "yes")
        self.targets = targets

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        """Lock the sweep directory for this multirun, and refuse one that holds another sweep:
        the same command again resumes (jobs already complete are not run again, cli._app)."""
        sweep_dir = Path(config.hydra.sweep.dir)
        plan = {"config_name": config.hydra.job.config_name, "overrides": [str(o) for o in config.hydra.overrides.task]}
        try:
            lock_dir(sweep_dir, "hydra.sweep.dir")
            f = sweep_dir / SWEEP_PLAN
            if f.is_file():
                try:
                    before = json.loads(f.read_text(encoding="utf-8"))
                except ValueError:
                    before = None
                if before != plan:
                    release_dir(sweep_dir)
                    raise ConfigError("hydra.sweep.dir", f"{sweep_dir} holds another sweep "
                                      f"({' '.join((before or {}).get('overrides', [])) or 'unreadable'}); "
                                      "choose another directory, or rerun that sweep's command to resume it")
            else:
                tmp = sweep_dir / f".{SWEEP_PLAN}.tmp"
                tmp.write_text(json.dumps(plan, indent=1), encoding="utf-8")
                os.replace(tmp, f)
        except ConfigError as e:  # one line, and Hydra launches nothing
            fail(str(e))
        # Hydra skips on_multirun_end when the launcher raises (e.g. joblib's TerminatedWorkerError
        # when a worker process dies): gather what finished anyway, at exit
        import atexit

        self._ended = False
        atexit.register(self._gather_at_exit, sweep_dir)

    def _gather_at_exit(self, sweep_dir: Path) -> None:
        if self._ended or not sweep_dir.is_dir():
            return
        log.warning("the sweep stopped before its end (a worker process died?): gathering the jobs that "
                    "finished; run the same command again to run the rest")
        try:
            self._gather(sweep_dir)
        except Exception as e:  # at exit: say it, do not raise
            log.error("gathering failed: %s", e)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Gather the sweep's jobs into the sweep directory, then release its lock."""
        sweep_dir = Path(config.hydra.sweep.dir)
        self._ended = True
        try:
            if sweep_dir.is_dir():
                self._gather(sweep_dir)
        finally:
            release_dir(sweep_dir)

    def _gather(self, sweep_dir: Path) -> None:
        try:
            g = gather(sweep_dir, self.targets, self.quarterly)
        except ConfigError as e:  # a bad targets file: gather the rest without target columns
            log.warning("targets not judged: %s", e)
            g = gather(sweep_dir, None, self.quarterly)
        written = write(sweep_dir, g)
        jobs = g.jobs
        failed = jobs[jobs["status"] != "ok"] if len(jobs) else jobs
        ok = len(jobs) - len(failed)
        log.info("gathered %d job(s) into %s: %d ok, %d failed (%s)", len(jobs), sweep_dir, ok, len(failed),
                 ", ".join(written))
        for _, r in failed.iterrows():
            log.warning("job %s %s: %s", r["job"], r["status"], r["error"])

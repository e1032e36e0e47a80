"""Writing a run's outputs, all or nothing, one command per directory.

Everything is written into ``RUN_DIR/.partial-<pid>`` first and moved into ``RUN_DIR`` only
when complete, ``summary.json`` last: a run directory with a ``summary.json`` holds a
finished run; a failed run leaves no output file behind. A command holds the directory's
lock (``lock_dir``: ``RUN_DIR/.lock``, an OS file lock through ``filelock``, released when the
process ends however it ends) while it writes there, so a second command pointed at the same
directory is refused, and a staging directory left by a killed process is removed by the
next command that takes the lock.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import mesa
import numpy as np
from omegaconf import OmegaConf

from jjj_sim import __version__
from jjj_sim.core.errors import ConfigError, OutputError
from jjj_sim.core.timeline import quarter_end_date
from jjj_sim.sim import indicators

LOCK_FILE = ".lock"
STAGING_PREFIX = ".partial-"
INCOMING = ".incoming"  # the names being moved into place (removed when the move is done)
RUN_OUTPUTS = ("summary.json", "indicators.parquet", "events.parquet", "plots", "config_resolved.yaml", "run_info.json")
_HELD: dict[Path, object] = {}  # directory -> this process's lock on it (held until exit or release)


def lock_dir(path: Path, field: str):
    """Take ``path``'s lock for this process (creating the directory), or raise ConfigError
    naming ``field`` if another process holds it. Taking it again in the same process is a
    no-op. The lock lasts until ``release_dir`` or the end of the process (also when killed:
    the OS drops it)."""
    from filelock import FileLock, Timeout

    path = Path(path)
    key = path.resolve()
    if key in _HELD:
        return _HELD[key]
    lock = FileLock(str(path / LOCK_FILE), timeout=0)
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise ConfigError(field, f"{path} is in use by another command; wait for it to finish or choose "
                                 "another directory") from None
    except OSError as e:  # /proc/x, a read-only file system, ...
        raise OutputError(field, write_error(e, path)) from None
    _HELD[key] = lock
    return lock


def release_dir(path: Path) -> None:
    """Release ``path``'s lock and remove its lock file, so a finished run's directory holds only
    its outputs. The file goes while the lock is still held: a command that opened it just
    before then takes a lock nobody else can see, and so each command checks after taking the
    lock whether a finished run is already there (``precheck``, ``new_output_dir``)."""
    lock = _HELD.pop(Path(path).resolve(), None)
    if lock is not None:
        Path(lock.lock_file).unlink(missing_ok=True)
        lock.release()


def remove_stale_staging(out: Path, keep: Path | None = None) -> list[Path]:
    """Remove staging directories (``.partial-*``) other than ``keep`` from ``out``: left by a
    killed process (the caller holds ``out``'s lock, so no other process is writing them)."""
    removed = []
    if out.is_dir():
        for p in out.iterdir():
            if p.name.startswith(STAGING_PREFIX) and p != keep:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


def write_error(e: OSError, where: Path) -> str:
    """One line for an OSError met while writing into ``where`` (disk full, read-only, ...)."""
    return f"cannot write into {where}: {e.strerror or e.__class__.__name__}" + \
        (f" ({e.filename})" if e.filename else "")


@contextmanager
def new_output_dir(given: str | None, tool: str, marker: str = "report.md"):
    """The output directory of a tool run: ``given`` or outputs/TOOL/<date>_<time>. Refuses one
    that already holds a finished run (``marker``); removes it again if the run fails empty."""
    out = Path(given).expanduser() if given else Path("outputs") / tool / time.strftime("%Y-%m-%d_%H-%M-%S")
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", f"{out} is a file, not a directory")
    if (out / marker).exists():
        raise ConfigError("--out", f"{out} already holds a finished run; choose another directory")
    parent = next((p for p in [out, *out.resolve().parents] if p.exists()), None)
    if parent is not None and (not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK)):
        raise ConfigError("--out", f"cannot write into {parent}")
    existed = out.exists()
    lock_dir(out, "--out")
    if (out / marker).exists():  # finished by another command between the check and the lock
        release_dir(out)
        raise ConfigError("--out", f"{out} already holds a finished run; choose another directory")
    try:
        yield out
    except BaseException:
        release_dir(out)
        if out.is_dir() and {p.name for p in out.iterdir()} <= {LOCK_FILE}:  # nothing but the lock
            if existed:
                (out / LOCK_FILE).unlink(missing_ok=True)
            else:
                shutil.rmtree(out, ignore_errors=True)
        raise
    release_dir(out)


@contextmanager
def staged(out: Path, last: str | None = None, replace: bool = False):
    """Write into a hidden staging directory; on success move everything into ``out`` (``last``
    moved last, as the mark of a complete run); on failure leave nothing behind. Staging
    directories of killed processes are removed first (the caller holds ``out``'s lock). An
    entry of ``out`` with the name of an output is never replaced (ConfigError, nothing moved),
    unless ``replace`` (the caller's own earlier outputs) or left by an interrupted move."""
    staging = out / f"{STAGING_PREFIX}{os.getpid()}"
    remove_stale_staging(out)
    remove_interrupted_move(out)
    staging.mkdir(parents=True)
    try:
        yield staging
        names = sorted(p.name for p in staging.iterdir())
        if last in names:
            names.remove(last)
            names.append(last)
        clash = [n for n in names if (out / n).exists() or (out / n).is_symlink()]
        if clash and replace:  # the caller's own earlier outputs (a calibration finishing again)
            for n in clash:
                p = out / n
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        elif clash:  # the user's own files: never replaced
            raise ConfigError("output directory", f"{out / clash[0]} exists and was not written by this run; "
                                                  "move it away or choose another directory")
        marker = out / INCOMING
        marker.write_text("\n".join(names) + "\n", encoding="utf-8")  # ours, if a kill cuts the move short
        for name in names:
            os.replace(staging / name, out / name)
        marker.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_interrupted_move(out: Path) -> None:
    """Remove what a move into ``out`` that a kill cut short had moved (listed in .incoming):
    a run without its summary.json is not a run (the caller holds ``out``'s lock)."""
    marker = out / INCOMING
    if not marker.is_file():
        return
    for name in marker.read_text(encoding="utf-8").split():
        p = out / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    marker.unlink()


def existing_outputs(out: Path, names) -> list[str]:
    """Which of ``names`` already exist in ``out`` other than as the leftovers of an
    interrupted move (those are removed by the next run)."""
    if not out.is_dir():
        return []
    ours = set((out / INCOMING).read_text(encoding="utf-8").split()) if (out / INCOMING).is_file() else set()
    return [n for n in names if (out / n).exists() and n not in ours]


def _round(x: float) -> float:
    return float(np.round(x, 4))


def summary(model, cfg) -> dict:
    """The run's year-end results; depends only on the config and the seed."""
    ind = indicators.year_end(model)
    return {
        "scenario": cfg.scenario.name,
        "seed": int(cfg.seed),
        "params_draw": None if cfg.get("params_draw") is None else int(cfg.params_draw),  # posterior draw, or the fitted point
        "version": __version__,
        "population_scale": float(cfg.population.scale),
        "years": [int(y) for y in next(iter(ind.values()))],
        "units": {k: v[1] for k, v in indicators.INDICATORS.items()},
        "indicators": {k: {y: _round(v) for y, v in s.items()} for k, s in ind.items()},
        "parks": {pid: {k: ({y: _round(v) for y, v in x.items()} if k in indicators.PARK_FIELDS else x)
                        for k, x in p.items()}
                  for pid, p in indicators.parks_year_end(model).items()},
        "regions": {rid: {k: ({y: _round(v) for y, v in x.items()} if k in indicators.REGION_FIELDS else x)
                          for k, x in r.items()}
                    for rid, r in indicators.regions_year_end(model).items()},
        "firm_stock": firm_stock_basis(cfg),
    }


def firm_stock_basis(cfg) -> dict:
    """How the legal units grow after 2018 in this run (rules/demography.py): a scenario
    assumption with a stated range, at its central value, a posterior draw's value, or set."""
    d = cfg.params.demography
    if cfg.get("params_draw") is not None:
        how = f"drawn log-uniform from the stated range (posterior draw {int(cfg.params_draw)})"
    else:
        how = "as configured (central value 2 years unless set)"
    return {"basis": "scenario assumption: no published 2019-2020 count was found to fit it",
            "growth_half_life_years": float(d.growth_half_life_years),
            "range": [float(d.growth_half_life_low), float(d.growth_half_life_high)], "value": how}


class InProcessPlots:
    """The run's plots drawn in this process by ``draw(out, summary)`` (the PlotProcess interface)."""

    def __init__(self, draw):
        self._draw = draw

    def render(self, out: Path, result: dict) -> None:
        """Draw the plots of ``result`` into ``out`` now."""
        self._draw(out, result)

    def wait(self) -> None:
        """Nothing to wait for: ``render`` drew them."""

    def stop(self) -> None:
        """Nothing to stop."""


class PlotProcess:
    """The run's plots drawn by a child process started before the run (``python -m
    jjj_sim.reporting.plots``: a clean interpreter, whatever the caller's main module): it imports
    matplotlib, loads the map and warms up while the model runs on the other core, then draws
    from the summary. ``render`` hands it the summary; ``wait`` returns when the plots are
    written (or raises with the child's last error line)."""

    def __init__(self):
        import subprocess

        self._proc = subprocess.Popen([sys.executable, "-m", "jjj_sim.reporting.plots"], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def render(self, out: Path, result: dict) -> None:
        try:
            self._proc.stdin.write(json.dumps({"out": str(out), "summary": result}))
            self._proc.stdin.close()
        except BrokenPipeError:  # the child died: wait() reports why
            pass

    def wait(self) -> None:
        err = self._proc.stderr.read()
        if self._proc.wait() != 0:
            lines = [x for x in err.strip().splitlines() if x.strip()]
            raise RuntimeError(f"plots: {lines[-1] if lines else f'exit code {self._proc.returncode}'}")

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for f in (self._proc.stdin, self._proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass


def strict_json(result: dict) -> str:
    """summary.json's text: strict JSON. A value that is not a number (NaN, infinite) fails the
    run with the indicator named, rather than writing NaN into the file."""
    try:
        return json.dumps(result, indent=1, sort_keys=True, allow_nan=False)
    except ValueError:
        for name, series in result.get("indicators", {}).items():
            bad = [y for y, v in series.items() if not np.isfinite(v)]
            if bad:
                raise ConfigError("population", f"the run gave no number for {name} in {', '.join(bad[:3])} "
                                                "(too few firms for this indicator?)") from None
        raise ConfigError("population", "the run gave a value that is not a number") from None


def write_run(staging: Path, model, cfg, timings: dict, plotter: PlotProcess | InProcessPlots | None = None) -> dict:
    """Write a finished run's outputs into ``staging`` (the event log, if recorded, is already
    there when it was streamed; else it is written here). ``summary.json`` is the caller's
    ``staged(..., last="summary.json")`` mark of a complete run."""
    result = summary(model, cfg)
    if cfg.run.plots:
        if plotter is None:
            raise ValueError("run.plots is on: write_run needs a plotter (PlotProcess or InProcessPlots)")
        plotter.render(staging / "plots", result)
    indicators.long_table(model).to_parquet(staging / "indicators.parquet", index=False)
    if cfg.run.record_events and not (staging / "events.parquet").exists():
        dates = [quarter_end_date(q) for q in range(model.last_quarter + 1)]
        model.events.to_frame(model.places.ids, model.sectors.ids, dates).to_parquet(
            staging / "events.parquet", index=False)
    (staging / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    if plotter is not None and cfg.run.plots:
        plotter.wait()
    info = {
        "seed": int(cfg.seed), "version": __version__, "scenario": cfg.scenario.name,
        "command": sys.argv, "python": platform.python_version(), "mesa": mesa.__version__,
        "numpy": np.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "firm_rows": int(model.firms.n), "events": dict(model.events.counts),
    }
    (staging / "run_info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    (staging / "summary.json").write_text(strict_json(result), encoding="utf-8")
    return result

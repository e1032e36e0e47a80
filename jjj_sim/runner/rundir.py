"""Output directories, one command at a time and all or nothing: the directory's lock
(``lock_dir``), staging (``staged``: written into .partial-<pid>, moved into place whole),
the leftovers of killed commands removed, and a tool's new output directory (``new_output_dir``).
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from jjj_sim.core.errors import ConfigError, OutputError, write_error

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
    # here: filelock loads 21 modules (asyncio), 0.06 s, that a refused input does not need
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
        release_dir(out)  # removes the lock file too
        if not existed and out.is_dir() and not any(out.iterdir()):  # made by this run and left empty
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


def discard_if_empty(run_dir: Path, keep_names) -> None:
    """Remove ``run_dir`` if it holds nothing but ``keep_names`` (what Hydra wrote for a run that
    was then refused: ``.hydra``, the log, the lock): a refused run leaves no directory."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= set(keep_names):
        shutil.rmtree(run_dir, ignore_errors=True)

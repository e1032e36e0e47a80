"""Where the files the package ships are: configs, experiments, calibration targets and fits.

Developers edit them at the top of the repository (``conf/``, ``experiments/``,
``calibration/``). pyproject.toml maps those directories to data-only packages
(``[tool.setuptools.package-dir]``), so a wheel carries copies and an editable install reads the
checkout's own files, under the same names in both cases:

    conf/         -> jjj_sim.conf              (Hydra: pkg://jjj_sim.conf)
    experiments/  -> jjj_sim.experiments
    calibration/  -> jjj_sim.calibration_data  (targets, record after 2020, fitted/)

This module is the one place that knows it:

- ``CONF_SEARCH``: the ``config_path`` of every ``@hydra.main``; ``initialize_conf()`` the
  matching compose-API context (``with initialize_conf(): cfg = compose(...)``);
- ``conf_path()``: the configs as a real directory (to list a group's options);
- ``find(path, field)``: a file named in a config or on the command line;
- ``project_root()``: the repository checkout, for tools that write into it (None when
  installed from a wheel).
"""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path, PurePath

CONF_MODULE = "jjj_sim.conf"
# project-relative directory -> the package it is shipped as (pyproject.toml: package-dir)
SHIPPED = {"conf": CONF_MODULE, "experiments": "jjj_sim.experiments", "calibration": "jjj_sim.calibration_data"}
_SOURCE_ROOT = Path(__file__).resolve().parents[2]  # jjj_sim/core/resources.py -> the checkout


def project_root() -> Path | None:
    """The repository checkout this package runs from (an editable install, or the source tree
    on sys.path); None when installed from a wheel."""
    root = _SOURCE_ROOT
    return root if (root / "pyproject.toml").is_file() and (root / "conf").is_dir() else None


def _shipped_dir(name: str) -> Path:
    """The directory holding the shipped copy of project directory ``name`` (conf, ...)."""
    package = SHIPPED[name]
    if importlib.util.find_spec(package) is None:
        # the source tree on sys.path without installing it, or an editable install made before
        # pyproject.toml mapped the package: the checkout's directory itself
        root = project_root()
        if root is None:
            raise ModuleNotFoundError(f"jjj-sim is installed without its package data ({package})")
        return root / name
    files = resources.files(package)
    if not isinstance(files, Path):
        raise RuntimeError(f"jjj-sim needs an unpacked installation ({package} is at {files})")
    return files


def conf_path() -> Path:
    """The configs (config.yaml, scenario/*.yaml, ...) as a directory."""
    return _shipped_dir("conf")


CONF_SEARCH: str = f"pkg://{CONF_MODULE}" if importlib.util.find_spec(CONF_MODULE) else str(conf_path())


def initialize_conf(version_base: str = "1.3"):
    """The compose-API twin of CONF_SEARCH: ``with initialize_conf(): cfg = compose(...)``."""
    from hydra import initialize_config_dir, initialize_config_module  # here: 0.24 s a command that composes nothing does not pay

    if CONF_SEARCH.startswith("pkg://"):
        return initialize_config_module(config_module=CONF_MODULE, version_base=version_base)
    return initialize_config_dir(config_dir=CONF_SEARCH, version_base=version_base)


def shipped(relpath: str | PurePath) -> Path | None:
    """Where the package has a project-relative path (``calibration/fitted/baseline.yaml``,
    ``experiments/scenarios.yaml``, ``conf/scenario/baseline.yaml``); None when the path is not
    under a shipped directory. The file need not exist."""
    parts = PurePath(relpath).parts
    if len(parts) < 2 or parts[0] not in SHIPPED or ".." in parts:
        return None
    return _shipped_dir(parts[0]).joinpath(*parts[1:])


def find(relpath: str | PurePath, field: str) -> Path:
    """A file named in a config or on the command line (``field`` names it in the caller's
    messages): as given (absolute, or relative to the working directory) if it exists, else the
    shipped copy of a project-relative path, else the path as given (the caller reports that
    there is no such file)."""
    p = Path(str(relpath)).expanduser()
    if p.exists() or p.is_absolute():
        return p
    q = shipped(p)
    return q if q is not None and q.exists() else p

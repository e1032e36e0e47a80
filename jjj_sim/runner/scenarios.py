"""Scenario files and the command line: reading and checking a scenario file (the
``conf/scenario/`` format), turning ``scenario=path.yaml`` into a Hydra config-group option (a
checked copy in the user cache, found through ``hydra.searchpath``), and lever-edit overrides.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import yaml

from jjj_sim.core.checks import NAME_PATTERN, NAME_RULE
from jjj_sim.core.checks import check_name as _check_name
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import conf_path
from jjj_sim.core.yaml_input import read_yaml

CONFIG_GROUPS = ("population", "params", "policy", "scenario")


SCENARIO_FILE_KEYS = ("defaults", "scenario", "policy")  # what a scenario file may set


def conf_dir() -> Path:
    """The configs directory (``core.resources.conf_path``)."""
    return conf_path()


def cache_dir() -> Path:
    """Where checked copies of scenario files go (``JJJ_SIM_CACHE``, else the user cache)."""
    root = os.environ.get("JJJ_SIM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "jjj-sim")
    return Path(root)


def is_scenario_file(value: str) -> bool:
    """Whether a scenario given by the user is a file path (ends in .yaml/.yml or holds a path
    separator) rather than a known scenario's name."""
    value = str(value)
    return value.endswith((".yaml", ".yml")) or "/" in value or os.sep in value


def read_scenario_file(path: Path, field: str = "scenario") -> dict:
    """A scenario file's content, checked: a mapping with only ``defaults``, ``scenario`` and
    ``policy``; ``scenario.name`` a word (the file's stem if absent)."""
    try:
        found = path.is_file()
    except OSError as e:  # a name too long for the file system, ...
        raise ConfigError(field, f"cannot read the scenario file: {e.strerror}") from None
    if not found:
        raise ConfigError(field, f"no such scenario file: {path}")
    data = read_yaml(path, field)
    if data is None or data == {}:
        raise ConfigError(field, f"{path} is empty: a scenario file sets policy levers (policy:), a policy "
                                 "(defaults:) or its name (scenario:)")
    if not isinstance(data, dict):
        raise ConfigError(field, f"{path} must hold a mapping (scenario:, policy:, defaults:)")
    for key in data:
        if key not in SCENARIO_FILE_KEYS:
            raise ConfigError(f"{path.name}:{key}", f"not allowed in a scenario file (allowed: {', '.join(SCENARIO_FILE_KEYS)})")
    scen = data.get("scenario") or {}
    if not isinstance(scen, dict):
        raise ConfigError(f"{path.name}:scenario", "expected a mapping {name, description}")
    name = str(scen.get("name") or path.stem)
    if not scen.get("name") and not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(f"{path.name}:scenario.name", f"the file's name gives the scenario name {name!r}; name it in "
                                                        f"the file (scenario: {{name: ...}}) in {NAME_RULE}")
    _check_name(name, f"{path.name}:scenario.name")
    data["scenario"] = {**scen, "name": name, "description": str(scen.get("description", ""))}
    defaults = data.get("defaults") or []
    if not isinstance(defaults, list):
        raise ConfigError(f"{path.name}:defaults", "expected a list such as [{override /policy: reported}]")
    for d in defaults:
        ok = isinstance(d, dict) and len(d) == 1 and next(iter(d)) in ("override /policy", "override /population")
        if not ok:
            raise ConfigError(f"{path.name}:defaults", f"only '- override /policy: NAME' is allowed, got {d!r}")
        group = next(iter(d)).split("/")[1]
        option = str(next(iter(d.values())))
        if not (conf_dir() / group / f"{option}.yaml").is_file():
            raise ConfigError(f"{path.name}:defaults", f"unknown {group} '{option}'")
    if data.get("policy") is not None and not isinstance(data["policy"], dict):
        raise ConfigError(f"{path.name}:policy", "expected a mapping of levers")
    return data


def scenario_file_option(path, field: str = "scenario") -> str:
    """Check a scenario file and make it a Hydra option of the ``scenario`` group: a copy (with
    ``# @package _global_``) in ``cache_dir()/scenario/<stem>-<hash>.yaml``; returns the option
    name. The copy is content-addressed, so runs and sweep jobs never overwrite each other's."""
    p = Path(str(path)).expanduser()
    data = read_scenario_file(p, field)
    text = "# @package _global_\n# copy of " + str(p.resolve()) + "\n" + yaml.safe_dump(data, sort_keys=False)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    option = f"{re.sub(r'[^A-Za-z0-9_]', '_', p.stem)}-{digest}"
    target = cache_dir() / "scenario" / f"{option}.yaml"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return option


def normalise_overrides(args) -> list[str]:
    """``policy.LEVER.from=[...]`` (a lever edit that keeps history, config.apply_lever_edits)
    needs no ``+``: the key is new to the config, so it becomes ``++policy.LEVER.from=...``."""
    out = []
    for a in args:
        a = str(a)
        key = a.split("=", 1)[0]
        if "=" in a and key.startswith("policy.") and key.endswith(".from"):
            a = "++" + a
        out.append(a)
    return out


def searchpath_arg() -> str:
    """The Hydra override that adds the scenario-file cache (``cache_dir()``) to the search path."""
    return f"hydra.searchpath=[file://{cache_dir()}]"


def expand_args(args: list[str], base_dir: Path | None = None) -> list[str]:
    """Command-line arguments with every scenario file (``scenario=path.yaml``, also in a
    comma-separated sweep) replaced by its option name, and the cache added to Hydra's search
    path. A path is relative to ``base_dir`` (the working directory if None)."""
    out, used = [], False
    for a in normalise_overrides(args):
        key, eq, value = a.partition("=")
        if eq and key.lstrip("+") == "scenario" and value:
            parts = value.split(",")
            if any(is_scenario_file(v) for v in parts):
                new = []
                for v in parts:
                    if is_scenario_file(v):
                        p = Path(v).expanduser()
                        if base_dir is not None and not p.is_absolute():
                            p = base_dir / p
                        new.append(scenario_file_option(p))
                        used = True
                    else:
                        new.append(v)
                a = f"{key}={','.join(new)}"
        out.append(a)
    if used:
        sp = next((i for i, a in enumerate(out) if a.startswith("hydra.searchpath=")), None)
        if sp is None:
            out.append(searchpath_arg())
        else:
            inner = out[sp].split("=", 1)[1].strip()
            if not (inner.startswith("[") and inner.endswith("]")):
                raise ConfigError("hydra.searchpath", "expected a list [file://DIR, ...]")
            body = inner[1:-1].strip()
            out[sp] = f"hydra.searchpath=[{body + ', ' if body else ''}file://{cache_dir()}]"
    return out



"""Composing a checked config: Hydra's compose API over ``conf/`` (``compose``), the run
directory a single run will write (``compose_run``, ``precheck``), the lever schedules a command
line replaced whole (``dropped_entries``), and scenarios as a user names them (``scenario_spec``:
a known name, a file anywhere, or inline ``{name, description, base, overrides}``).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from jjj_sim.core.checks import check_name as _check_name
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import initialize_conf
from jjj_sim.runner import config
from jjj_sim.runner.entry import first_line
from jjj_sim.runner.files import check_keys
from jjj_sim.runner.labels import override_key
from jjj_sim.runner.rundir import RUN_OUTPUTS, existing_outputs, lock_dir, release_dir
from jjj_sim.runner.scenarios import (
    CONFIG_GROUPS,
    cache_dir,
    conf_dir,
    is_scenario_file,
    normalise_overrides,
    read_scenario_file,
    scenario_file_option,
    searchpath_arg,
)


def _is_option(group: str, option: str) -> bool:
    """Whether ``option`` names a file of config group ``group`` (or a cached scenario file)."""
    if len(option) > 200 or not re.fullmatch(r"[A-Za-z0-9_.+-]+", option):  # not a file name the group holds
        return False
    return (conf_dir() / group / f"{option}.yaml").is_file() or (
        group == "scenario" and (cache_dir() / "scenario" / f"{option}.yaml").is_file())



def _compose_raw(overrides: list[str], config_name: str, with_hydra: bool = False) -> DictConfig:
    # hydra's compose machinery (about 0.2 s) only when a config is composed, not for --help or a refused file
    from hydra import compose as hydra_compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException


    for a in overrides:
        group, _, option = a.partition("=")
        if group in CONFIG_GROUPS and option and "," not in option:
            if not _is_option(group, option):
                known = sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))
                shown = option if len(option) <= 60 else option[:57] + "..."
                raise ConfigError(group, f"unknown option '{shown}' (available: {', '.join(known)}"
                                  + ("; or a path to a scenario file)" if group == "scenario" else ")"))
    try:
        gh = GlobalHydra.instance()
        if gh.is_initialized():  # inside a running Hydra app: use its loader
            cfg = gh.hydra.compose_config(config_name=config_name, overrides=list(overrides),
                                          run_mode=RunMode.RUN, with_log_configuration=False)
            with open_dict(cfg):
                cfg.pop("hydra", None)
            return cfg
        with initialize_conf():
            return hydra_compose(config_name=config_name, overrides=list(overrides), return_hydra_config=with_hydra)
    except (HydraException, OmegaConfBaseException) as e:
        m = re.search(r"Could not override '([^']+)'", str(e))
        if m:
            raise ConfigError(m.group(1), "not a config key (see jjj-sim --cfg job for the keys)") from None
        m = re.search(r"Could not append to config. An item is already at '([^']+)'", str(e))
        if m:
            raise ConfigError(m.group(1), "already a config key: set it without '+'") from None
        raise ConfigError("overrides", first_line(e)) from None



def _replaced_schedules(overrides) -> list[str]:
    """Overrides that replace a lever's schedule (or a whole lever) rather than append to it."""
    out = []
    for o in overrides or ():
        k = override_key(o)
        if k.startswith("policy.") and not k.endswith(".from") and "=" in str(o) and not str(o).startswith("~"):
            out.append(str(o))
    return out



def dropped_entries(cfg: DictConfig, overrides, config_name: str = "config") -> list[str]:
    """Notes on schedule entries that command-line overrides dropped (a schedule replaced whole):
    compares with the config composed without those overrides."""
    replaced = _replaced_schedules(overrides)
    if not replaced:
        return []
    rest = [o for o in overrides if str(o) not in replaced]
    try:
        before = _compose_raw(rest, config_name)
    except ConfigError:
        return []
    notes = []
    for o in replaced:
        key = override_key(o)
        old = OmegaConf.select(before, key, default=None)
        new = OmegaConf.select(cfg, key, default=None)
        old_entries = _schedule_entries(old)
        new_entries = _schedule_entries(new)
        gone = [e for e in old_entries if e not in new_entries]
        if gone:
            shown = ", ".join(f"{e[0]}: {e[1]:g}" for e in gone)
            notes.append(f"{key} replaced whole on the command line: dropped {shown} "
                         f"(to keep earlier entries write {key.rsplit('.schedule', 1)[0]}.from=[...])")
    return notes



def _schedule_entries(node) -> list[tuple[str, float]]:
    """(from, value) pairs of every schedule under ``node`` (a schedule list or a lever)."""
    if node is None:
        return []
    data = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    out = []

    def walk(x):
        if isinstance(x, list):
            for e in x:
                if isinstance(e, dict) and "from" in e and "value" in e:
                    out.append((str(e["from"]), float(e["value"])))
                else:
                    walk(e)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)

    walk(data)
    return out



def compose(overrides=(), config_name: str = "config", *, name: str | None = None,
            description: str | None = None, run_dir: bool = False) -> DictConfig:
    """Compose a config from conf/ with overrides and check it (``config.prepare``): the one
    way every tool builds a config. ``name``/``description`` label the scenario (inline and
    file scenarios). ``run_dir``: the overrides are a command line (hydra.* included) and the
    run directory it resolves to is checked too (``_checked_run_dir``), from the same composition.
    Bad input raises ConfigError naming the field."""
    return _compose(overrides, config_name, name, description, run_dir)[0]



def compose_run(argv, config_name: str = "config") -> tuple[DictConfig, Path]:
    """``compose(argv, config_name, run_dir=True)`` and the checked run directory."""
    return _compose(argv, config_name, None, None, True)



def _compose(overrides, config_name, name, description, run_dir) -> tuple[DictConfig, Path | None]:
    overrides = normalise_overrides(overrides)
    cfg = _compose_raw(overrides, config_name, with_hydra=run_dir)
    checked = None
    if run_dir:
        checked = _checked_run_dir(cfg, config_name)
        with open_dict(cfg):
            cfg.pop("hydra", None)
    notes = dropped_entries(cfg, overrides, config_name) if config_name == "config" else []
    if config_name != "config":
        return config.prepare(cfg, overrides, tool=True), checked
    if name is not None:
        cfg.scenario.name = name
        if description is not None:
            cfg.scenario.description = description
    return config.prepare(cfg, overrides, named=name is not None, notes=notes), checked



def _checked_run_dir(cfg: DictConfig, config_name: str) -> Path:
    """The run directory Hydra will write to (``hydra.run.dir`` of a composition with the
    hydra node, however the command line gave it: ``++hydra.run.dir=``, quoted, relative to
    the working directory), checked: not a file, not a finished run (``summary.json``, for
    ``jjj-sim``), writable."""
    try:
        raw = OmegaConf.select(cfg, "hydra.run.dir")
    except Exception as e:  # an unresolvable interpolation in the directory
        raise ConfigError("hydra.run.dir", first_line(e)) from None
    run_dir = Path(str(raw)).expanduser()
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError("hydra.run.dir", f"{run_dir} is a file, not a directory")
    if config_name == "config" and (run_dir / "summary.json").exists():
        raise ConfigError("hydra.run.dir", f"{run_dir} already holds a finished run; choose another directory")
    if config_name == "config":
        clash = existing_outputs(run_dir, RUN_OUTPUTS)
        if clash:
            raise ConfigError("hydra.run.dir", f"{run_dir / clash[0]} exists and was not written by jjj-sim; "
                                               "move it away or choose another directory")
    parent = next((p for p in [run_dir, *run_dir.resolve().parents] if p.exists()), None)
    if parent is not None and (not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK)):
        raise ConfigError("hydra.run.dir", f"cannot write into {parent}")
    return run_dir



def precheck(argv: list[str], config_name: str = "config", extra_check=None) -> tuple[DictConfig, Path]:
    """Compose and check the config of a single run before Hydra makes its directory: the
    resolved run directory (however it was given) must not be a file, hold a finished run
    or be unwritable; then the job's config is checked (``compose``), and the run
    directory is locked for this process (rundir.lock_dir), so a second command pointed at
    it is refused before Hydra writes anything there. Returns the checked config and the run
    directory."""

    cfg, run_dir = compose_run(argv, config_name)
    if extra_check is not None:
        extra_check(cfg)
    existed = run_dir.exists()
    lock_dir(run_dir, "hydra.run.dir")
    if config_name == "config" and (run_dir / "summary.json").exists():  # finished while we checked
        release_dir(run_dir)
        if not existed:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise ConfigError("hydra.run.dir", f"{run_dir} already holds a finished run; choose another directory")
    return cfg, run_dir


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario to run: its name, description and the overrides that make it."""

    name: str
    description: str
    overrides: tuple[str, ...] = ()
    source: str = ""  # where it came from: a known name, a file, or 'inline'

    def compose(self, common=()) -> DictConfig:
        """Checked config of this scenario with ``common`` overrides (seed, scale, ...)."""
        return compose([*self.overrides, *common], name=self.name, description=self.description)



def known_scenarios() -> list[str]:
    """Names of the shipped scenarios (conf/scenario/*.yaml), sorted."""
    return sorted(p.stem for p in (conf_dir() / "scenario").glob("*.yaml"))



def scenario_spec(entry, base_dir: Path | None = None, field: str = "scenarios") -> ScenarioSpec:
    """A scenario from an experiments file or the command line: a known name, a file path
    (relative to ``base_dir``), or an inline mapping {name, description, base, overrides}."""
    if isinstance(entry, str):
        if is_scenario_file(entry):
            p = Path(entry).expanduser()
            if base_dir is not None and not p.is_absolute():
                p = base_dir / p
            data = read_scenario_file(p, field)
            option = scenario_file_option(p, field)
            return ScenarioSpec(data["scenario"]["name"], data["scenario"]["description"],
                                (f"scenario={option}", searchpath_arg()), str(p))
        if entry not in known_scenarios():
            raise ConfigError(field, f"unknown scenario '{entry}' (known: {', '.join(known_scenarios())}; "
                                     "or give a path to a scenario file)")
        desc = str(yaml.safe_load((conf_dir() / "scenario" / f"{entry}.yaml").read_text(encoding="utf-8"))
                   .get("scenario", {}).get("description", ""))
        return ScenarioSpec(entry, desc, (f"scenario={entry}",), entry)
    if isinstance(entry, dict):
        check_keys(entry, ("name", "description", "base", "overrides"), f"{field}:")
        if not entry.get("name"):
            raise ConfigError(f"{field}:name", "an inline scenario needs a name")
        name = str(entry["name"])
        _check_name(name, f"{field}:{name}.name")
        base = scenario_spec(str(entry.get("base", "baseline")), base_dir, f"{field}:{name}.base")
        ov = entry.get("overrides") or []
        if isinstance(ov, str) or not isinstance(ov, list):
            raise ConfigError(f"{field}:{name}.overrides", "expected a list of overrides such as ['policy.x=1']")
        for o in ov:
            if override_key(o) in ("scenario", "seed", "population.scale", "run.end_year") or override_key(o).startswith("hydra"):
                raise ConfigError(f"{field}:{name}.overrides", f"'{o}' is set by the experiment, not by a scenario")
        return ScenarioSpec(name, str(entry.get("description", "")), (*base.overrides, *map(str, ov)), "inline")
    raise ConfigError(field, f"a scenario is a name, a file path or {{name, overrides}}, got {entry!r}")



def scenario_specs(entries, base_dir: Path | None = None, field: str = "scenarios") -> list[ScenarioSpec]:
    """Checked list of scenarios (at least one; names unique)."""
    if isinstance(entries, str) or not isinstance(entries, list) or not entries:
        raise ConfigError(field, "expected a list of scenarios (names, files or {name, overrides})")
    specs = [scenario_spec(e, base_dir, f"{field}[{i}]") for i, e in enumerate(entries)]
    seen = set()
    for s in specs:
        if s.name in seen:
            raise ConfigError(field, f"two scenarios are named '{s.name}'")
        seen.add(s.name)
    return specs

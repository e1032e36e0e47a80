"""The experiment layer: from what a user names to checked configs and simulations.

Every tool (``jjj-sim``, compare, sensitivity, calibration, validation) stands on these
functions rather than on each other:

- ``scenario_spec(entry)``: a scenario given as a known name (``conf/scenario/NAME.yaml``),
  a path to a scenario file anywhere (the ``conf/scenario/`` format), or inline
  ``{name, description, base, overrides}`` -> ``ScenarioSpec``;
- ``expand_args(args)``: command-line arguments with ``scenario=path/to/file.yaml`` turned
  into a Hydra config-group option (a checked copy of the file in the user cache, found
  through ``hydra.searchpath``), so single runs and multiruns take scenario files;
- ``compose(overrides)``: compose the config from ``conf/`` and check it
  (``config.prepare``); notes which lever schedules a command line replaced whole;
- ``simulate(cfg)``: build and run the model;
- ``load_experiment(path, allowed)``: an experiments file, unknown keys refused.

A run whose levers (``policy...``) were changed by overrides, without a name of its own, is
labelled ``<scenario>+edited`` (``run_label``), never plain ``baseline``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from jjj_sim.runner.config import NAME_PATTERN, NAME_RULE, check_name as _check_name
from jjj_sim.core.errors import ConfigError, OutputError
from jjj_sim.core.yaml_input import read_yaml

log = logging.getLogger("jjj_sim")

CONFIG_GROUPS = ("population", "params", "policy", "scenario")
SCENARIO_FILE_KEYS = ("defaults", "scenario", "policy")  # what a scenario file may set
EDITED = "+edited"


def conf_dir() -> Path:
    from jjj_sim.core.resources import conf_path

    return conf_path()


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else e.__class__.__name__


# ---------------------------------------------------------------------------- labels
def _key(override: str) -> str:
    return str(override).split("=", 1)[0].lstrip("+~")


def edits_levers(overrides) -> bool:
    """Do these overrides change the levers (anything under ``policy``)?"""
    return any(_key(o) == "policy" or _key(o).startswith("policy.") for o in overrides or ())


def names_itself(overrides) -> bool:
    return any(_key(o) == "scenario.name" for o in overrides or ())


def run_label(name: str, overrides=()) -> str:
    """The scenario name a run is reported under: ``name``, or ``name+edited`` when overrides
    changed its levers without renaming it."""
    name = str(name)
    if edits_levers(overrides) and not names_itself(overrides) and not name.endswith(EDITED):
        return name + EDITED
    return name


def _label_resolver(name, overrides) -> str:
    return run_label(name, list(overrides or ()))


_STARTED = time.localtime()  # when this command started


def _started_resolver(fmt: str) -> str:
    """The command's start time (``time.strftime`` format): the same however often it is read.
    Hydra's ``${now:}`` is read again when Hydra makes the run directory, a second or more after
    the command checked and locked the one it computed, and left that one behind as a stray."""
    return time.strftime(fmt, _STARTED)


if not OmegaConf.has_resolver("jjj_run_label"):  # conf/config.yaml names run directories with it
    OmegaConf.register_new_resolver("jjj_run_label", _label_resolver)
if not OmegaConf.has_resolver("jjj_started"):  # the conf files' run and sweep directories
    OmegaConf.register_new_resolver("jjj_started", _started_resolver, use_cache=True)  # as Hydra's now:


# ---------------------------------------------------------------------------- scenarios
def cache_dir() -> Path:
    """Where checked copies of scenario files go (``JJJ_SIM_CACHE``, else the user cache)."""
    root = os.environ.get("JJJ_SIM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "jjj-sim")
    return Path(root)


def is_scenario_file(value: str) -> bool:
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


def _searchpath_arg() -> str:
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
            out.append(_searchpath_arg())
        else:
            inner = out[sp].split("=", 1)[1].strip()
            if not (inner.startswith("[") and inner.endswith("]")):
                raise ConfigError("hydra.searchpath", "expected a list [file://DIR, ...]")
            body = inner[1:-1].strip()
            out[sp] = f"hydra.searchpath=[{body + ', ' if body else ''}file://{cache_dir()}]"
    return out


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
                                (f"scenario={option}", _searchpath_arg()), str(p))
        if entry not in known_scenarios():
            raise ConfigError(field, f"unknown scenario '{entry}' (known: {', '.join(known_scenarios())}; "
                                     "or give a path to a scenario file)")
        desc = str(yaml.safe_load((conf_dir() / "scenario" / f"{entry}.yaml").read_text(encoding="utf-8"))
                   .get("scenario", {}).get("description", ""))
        return ScenarioSpec(entry, desc, (f"scenario={entry}",), entry)
    if isinstance(entry, dict):
        unknown = set(entry) - {"name", "description", "base", "overrides"}
        if unknown:
            raise ConfigError(f"{field}:{sorted(unknown)[0]}", "unknown key of an inline scenario "
                                                                "(keys: name, description, base, overrides)")
        if not entry.get("name"):
            raise ConfigError(f"{field}:name", "an inline scenario needs a name")
        name = str(entry["name"])
        _check_name(name, f"{field}:{name}.name")
        base = scenario_spec(str(entry.get("base", "baseline")), base_dir, f"{field}:{name}.base")
        ov = entry.get("overrides") or []
        if isinstance(ov, str) or not isinstance(ov, list):
            raise ConfigError(f"{field}:{name}.overrides", "expected a list of overrides such as ['policy.x=1']")
        for o in ov:
            if _key(o) in ("scenario", "seed", "population.scale", "run.end_year") or _key(o).startswith("hydra"):
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


# ---------------------------------------------------------------------------- compose
def _is_option(group: str, option: str) -> bool:
    """Whether ``option`` names a file of config group ``group`` (or a cached scenario file)."""
    if len(option) > 200 or not re.fullmatch(r"[A-Za-z0-9_.+-]+", option):  # not a file name the group holds
        return False
    return (conf_dir() / group / f"{option}.yaml").is_file() or (
        group == "scenario" and (cache_dir() / "scenario" / f"{option}.yaml").is_file())


def _compose_raw(overrides: list[str], config_name: str, with_hydra: bool = False) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    from jjj_sim.core.resources import initialize_conf

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
        raise ConfigError("overrides", _one_line(e)) from None


def _replaced_schedules(overrides) -> list[str]:
    """Overrides that replace a lever's schedule (or a whole lever) rather than append to it."""
    out = []
    for o in overrides or ():
        k = _key(o)
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
        key = _key(o)
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
    from jjj_sim.runner import config

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
        raise ConfigError("hydra.run.dir", _one_line(e)) from None
    run_dir = Path(str(raw)).expanduser()
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError("hydra.run.dir", f"{run_dir} is a file, not a directory")
    if config_name == "config" and (run_dir / "summary.json").exists():
        raise ConfigError("hydra.run.dir", f"{run_dir} already holds a finished run; choose another directory")
    if config_name == "config":
        from jjj_sim.runner.outputs import RUN_OUTPUTS, existing_outputs

        clash = existing_outputs(run_dir, RUN_OUTPUTS)
        if clash:
            raise ConfigError("hydra.run.dir", f"{run_dir / clash[0]} exists and was not written by jjj-sim; "
                                               "move it away or choose another directory")
    parent = next((p for p in [run_dir, *run_dir.resolve().parents] if p.exists()), None)
    if parent is not None and (not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK)):
        raise ConfigError("hydra.run.dir", f"cannot write into {parent}")
    return run_dir


# ---------------------------------------------------------------------------- parameter ranges
@dataclass(frozen=True)
class ParamRange:
    """A model parameter's range: calibration.free entries and sensitivity params (one type)."""

    name: str  # dotted name under params
    low: float
    high: float
    log: bool

    def from_unit(self, u: float) -> float:
        """The value at position u in [0, 1] between the bounds (clipped to them)."""
        u = min(1.0, max(0.0, float(u)))
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def to_unit(self, x: float) -> float:
        """Position in [0, 1] of x between the bounds (log scale where ``log``)."""
        if self.log:
            return (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (x - self.low) / (self.high - self.low)


def param_range(name: str, low, high, log: bool = False, field: str | None = None,
                bounds_field: str | None = None) -> ParamRange:
    """A checked ParamRange of a real-valued parameter (dotted name under params): known,
    real-valued, low and high valid values of it, low < high, low > 0 on a log scale.
    ``field`` names the entry in errors; ``bounds_field`` the bounds (default field.low/.high)."""
    import math

    from jjj_sim.runner.config import check_value, param_rule

    field = field or f"params.{name}"
    rule = param_rule(name)
    if rule is None or rule in ("posint", "provinces"):
        raise ConfigError(field, "not a real-valued model parameter")
    check_value(low, rule, bounds_field or f"{field}.low")
    check_value(high, rule, bounds_field or f"{field}.high")
    low, high = float(low), float(high)
    if not low < high:
        raise ConfigError(field, f"low ({low:g}) must be below high ({high:g})")
    if log and low <= 0:
        raise ConfigError(bounds_field or f"{field}.low", "must be > 0 on a log scale")
    return ParamRange(name, low, high, log)


# ---------------------------------------------------------------------------- entry points
EXIT_BAD_INPUT = 2
EXIT_WRITE = 1  # an output that cannot be written (the input was fine)


def fail(message: str, prog: str = "jjj-sim", code: int = EXIT_BAD_INPUT) -> None:
    """Print ``prog: error: message`` (one line) and exit with ``code`` (2: bad input)."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(code)


def exit_on_sigterm() -> None:
    """Make SIGTERM (``kill``, ``timeout``, a scheduler's stop) end this process as Ctrl-C does,
    through its cleanup: an output directory it made and left empty is removed, its lock
    released. Only in this process: worker processes keep the default."""
    main_pid = os.getpid()

    def handler(signum, frame):
        if os.getpid() != main_pid:  # a forked worker: die as before
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


@contextmanager
def tool_errors(prog: str, out: str | None = None):
    """Around a tool's work (compare, sensitivity, explore): bad input is one line naming the
    field, exit 2; a write that fails (disk full, read-only) one line naming ``--out``, exit 1
    (the staging directory is gone by then and nothing was moved into place). SIGTERM ends the
    tool through the same cleanup (``exit_on_sigterm``)."""
    exit_on_sigterm()
    try:
        yield
    except ConfigError as e:
        fail(str(e), prog)
    except OutputError as e:
        fail(str(e), prog, EXIT_WRITE)
    except OSError as e:
        from jjj_sim.runner.outputs import write_error

        print(f"{prog}: error: --out: {write_error(e, Path(out or 'outputs'))}", file=sys.stderr)
        sys.exit(1)


def precheck(argv: list[str], config_name: str = "config", extra_check=None) -> tuple[DictConfig, Path]:
    """Compose and check the config of a single run before Hydra makes its directory: the
    resolved run directory (however it was given) must not be a file, hold a finished run
    or be unwritable; then the job's config is checked (experiment.compose), and the run
    directory is locked for this process (outputs.lock_dir), so a second command pointed at
    it is refused before Hydra writes anything there. Returns the checked config and the run
    directory."""
    import shutil

    from jjj_sim.runner.outputs import lock_dir, release_dir

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


def replication_seeds(seed: int, n: int) -> list[int]:
    """n seeds spawned from one SeedSequence: the same for every parameter set and scenario
    (common random numbers)."""
    import numpy as np

    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


# ---------------------------------------------------------------------------- run
def simulate(cfg: DictConfig, progress=False, events_path=None):
    """Build and run the model for a prepared config; return (model, timings). ``progress``:
    True logs a line per simulated year; a callable is called with the model after each year.
    ``events_path``: stream the event log to this Parquet file while the model runs (instead
    of keeping it in memory)."""
    from jjj_sim.sim.events import ParquetEventWriter
    from jjj_sim.sim.model import RelocationModel
    from jjj_sim.core.timeline import last_quarter, quarter_end_date

    t0 = time.perf_counter()
    sink = None
    if events_path is not None and cfg.run.record_events:
        from jjj_sim.sim.world import load_places, load_sectors

        sectors = load_sectors()
        dates = [quarter_end_date(q) for q in range(last_quarter(int(cfg.run.end_year)) + 1)]
        sink = ParquetEventWriter(events_path, load_places(sectors).ids, sectors.ids, dates)
    try:
        model = RelocationModel(cfg, seed=cfg.seed, event_sink=sink)
        t1 = time.perf_counter()

        def report(m):
            if progress and m.quarter % 4 == 3:
                if callable(progress):
                    progress(m)
                else:
                    log.info("year %d done (%d firm rows)", 2014 + m.quarter // 4, m.firms.n)

        model.run_model(progress=report)
        if sink is not None:
            sink.close()
            sink = None
    finally:
        if sink is not None:
            sink.abort()
    t2 = time.perf_counter()
    return model, {"build": t1 - t0, "run": t2 - t1}


def run_to_dir(run_dir: Path, cfg: DictConfig, progress=True, parallel_plots: bool = True):
    """Simulate and write every output into ``run_dir``, all or nothing (outputs.staged): the
    event log streams into the staging directory while the model runs, and the plots are drawn
    by a process started before the run (``parallel_plots``; off in sweeps, where every core
    already runs a job, else in this process). Returns (summary, timings)."""
    from jjj_sim.runner.outputs import PlotProcess, staged, write_run

    plotter = PlotProcess() if cfg.run.plots and parallel_plots else None
    try:
        with staged(Path(run_dir), last="summary.json") as staging:
            events = staging / "events.parquet" if cfg.run.record_events else None
            model, timings = simulate(cfg, progress=progress, events_path=events)
            t0 = time.perf_counter()
            result = write_run(staging, model, cfg, timings, plotter)
            timings["write"] = time.perf_counter() - t0
    finally:
        if plotter is not None:
            plotter.stop()
    return result, timings


# ---------------------------------------------------------------------------- ensembles
# place families in run rows: indicator ids "<family>:<place id>" (report.label names them)
PARK_FAMILIES = {"firms": "park_firms", "firms_from_beijing": "park_firms_from_beijing",
                 "firms_from_bjtj": "park_firms_from_bjtj", "overflow_to_region": "park_overflow_to_region"}
REGION_FAMILIES = {"firms": "region_firms", "firms_from_outside": "region_firms_from_outside"}


def result_rows(model, name: str, seed: int) -> list[dict]:
    """A finished model's year-end results as tidy rows (scenario, seed, indicator, year,
    value): every indicator, and per park and region its fields (``PARK_FAMILIES``,
    ``REGION_FAMILIES``), and for a park with a hard capacity its capacity and its fill in
    percent (a park without a physical limit, capacity None, has neither row)."""
    from jjj_sim.sim import indicators

    rows = [{"scenario": name, "seed": seed, "indicator": ind, "year": int(y), "value": v}
            for ind, series in indicators.year_end(model).items() for y, v in series.items()]
    for pid, park in indicators.parks_year_end(model).items():
        for fld, family in PARK_FAMILIES.items():
            rows += [{"scenario": name, "seed": seed, "indicator": f"{family}:{pid}", "year": int(y), "value": v}
                     for y, v in park[fld].items()]
        cap = park["capacity"]
        if cap is None or not math.isfinite(cap):  # no physical limit: no capacity, never full
            continue
        rows += [{"scenario": name, "seed": seed, "indicator": f"park_fill_pct:{pid}", "year": int(y),
                  "value": 100.0 * v / cap if cap > 0 else float("nan")} for y, v in park["firms"].items()]
        rows += [{"scenario": name, "seed": seed, "indicator": f"park_capacity:{pid}", "year": int(y), "value": cap}
                 for y in park["firms"]]
    for rid, region in indicators.regions_year_end(model).items():
        for fld, family in REGION_FAMILIES.items():
            rows += [{"scenario": name, "seed": seed, "indicator": f"{family}:{rid}", "year": int(y), "value": v}
                     for y, v in region[fld].items()]
    return rows


def run_rows(spec: ScenarioSpec, seed: int, common=(), progress=None) -> list[dict]:
    """One scenario x seed: compose, simulate, and the tidy rows (``result_rows``).
    ``progress(model)`` is called after every simulated year."""
    cfg = spec.compose([*common, f"seed={seed}"])
    model, _ = simulate(cfg, progress=progress)
    return result_rows(model, spec.name, seed)


def summarise(runs):
    """Mean and 5-95% range over seeds, per scenario, indicator and year."""
    import pandas as pd

    g = runs.groupby(["scenario", "indicator", "year"], sort=False)["value"]
    return pd.DataFrame({"mean": g.mean(), "p05": g.quantile(0.05), "p95": g.quantile(0.95)}).reset_index()


def paired_differences(runs, reference: str = "baseline"):
    """Per scenario, indicator and year: mean paired difference from the reference (same seed),
    its 90% confidence interval (mean +- t(0.95, n-1) sd / sqrt(n)), and the 5-95% range of
    the per-seed differences."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    base = runs[runs["scenario"] == reference].set_index(["seed", "indicator", "year"])["value"]
    out = []
    for scen, df in runs[runs["scenario"] != reference].groupby("scenario", sort=False):
        d = df.set_index(["seed", "indicator", "year"])["value"] - base
        d = d.dropna().rename("diff").reset_index()
        for (ind, year), g in d.groupby(["indicator", "year"], sort=False):
            x = g["diff"].to_numpy(dtype=float)
            n = len(x)
            mean = float(x.mean())
            half = float(stats.t.ppf(0.95, n - 1) * x.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
            out.append({"scenario": scen, "indicator": ind, "year": int(year), "n_seeds": n, "mean_diff": mean,
                        "ci90_low": mean - half, "ci90_high": mean + half,
                        "seed_p05": float(np.percentile(x, 5)), "seed_p95": float(np.percentile(x, 95))})
    return pd.DataFrame(out)


def posterior_differences(runs, reference: str = "baseline"):
    """Parameter uncertainty: from runs made at posterior draws (a ``draw`` column; every
    scenario runs each draw on the same seeds), per scenario, indicator and year, the paired
    differences from the reference (same draw, same seed) pooled over draws and seeds:
    n_draws, n_seeds, post_mean_diff, post_p05 and post_p95 (the 5-95% range of the
    differences: parameters and seeds together), and param_share, the share of the
    differences' variance that comes from the parameters. param_share is the law of total
    variance with the between-draw part corrected for seed noise: between = var over draws of
    the draw means - within / n_seeds (floored at 0), within = mean over draws of the variance
    over seeds; param_share = between / (between + within)."""
    import numpy as np
    import pandas as pd

    keys = ["draw", "seed", "indicator", "year"]
    base = runs[runs["scenario"] == reference].set_index(keys)["value"]
    others = runs[runs["scenario"] != reference]
    if not len(others):
        return pd.DataFrame()
    d = others.set_index(["scenario", *keys])["value"].sub(base, fill_value=np.nan).dropna().rename("diff")
    d = d.reset_index()
    by = ["scenario", "indicator", "year"]
    g = d.groupby(by, sort=False)["diff"]
    out = pd.DataFrame({"post_mean_diff": g.mean(), "post_p05": g.quantile(0.05), "post_p95": g.quantile(0.95)})
    per_draw = d.groupby([*by, "draw"], sort=False)["diff"].agg(["mean", "var", "count"]).reset_index()
    gd = per_draw.groupby(by, sort=False)
    n_seeds = gd["count"].min()
    within = gd["var"].mean().fillna(0.0)
    between = (gd["mean"].var() - within / n_seeds).clip(lower=0.0).fillna(0.0)
    total = between + within
    out["n_draws"] = gd["draw"].nunique()
    out["n_seeds"] = n_seeds
    out["param_share"] = (between / total).where(total > 0)
    out = out.reset_index()
    out["year"] = out["year"].astype(int)
    return out[["scenario", "indicator", "year", "n_draws", "n_seeds", "post_mean_diff", "post_p05", "post_p95",
                "param_share"]]


def mean_summary(levels, scenario: str, stat: str = "mean") -> dict:
    """A summary.json-like mapping of one scenario's means over seeds ({"indicators": {name:
    {year: v}}, "parks": {id: {field: {year: v}}}, "regions": ...}), for targets (Target.simulated);
    ``stat``: another column of the levels instead of the mean ("p05", "p95": the 5-95% range
    over seeds)."""
    out = {"scenario": scenario, "indicators": {}, "parks": {}, "regions": {}}
    fams = {f: ("parks", fld) for fld, f in PARK_FAMILIES.items()}
    fams |= {f: ("regions", fld) for fld, f in REGION_FAMILIES.items()}
    for ind, year, v in levels.loc[levels.scenario == scenario, ["indicator", "year", stat]].itertuples(index=False):
        family, sep, pid = str(ind).partition(":")
        if not sep:
            out["indicators"].setdefault(ind, {})[str(year)] = float(v)
        elif family in fams:
            group, fld = fams[family]
            out[group].setdefault(pid, {}).setdefault(fld, {})[str(year)] = float(v)
    return out


# ---------------------------------------------------------------------------- many jobs
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


# ---------------------------------------------------------------------------- files
@dataclass
class Experiment:
    """An experiments file: its checked mapping and the folder its relative paths start from."""

    data: dict
    path: Path | None = None
    base_dir: Path | None = field(default=None)


def load_experiment(path, allowed: tuple[str, ...] | None = None) -> Experiment:
    """Read an experiments file (YAML mapping); with ``allowed``, unknown keys are refused."""
    from jjj_sim.runner.config import resolve_path

    p = resolve_path(path, "experiment")
    exp = read_yaml(p, "experiment", bad_field=p.name) or {}
    if not isinstance(exp, dict):
        raise ConfigError(p.name, "expected a mapping")
    if allowed is not None:
        for key in exp:
            if key not in allowed:
                raise ConfigError(f"{p.name}:{key}", f"unknown key (known: {', '.join(allowed)})")
    return Experiment(exp, p, p.parent.resolve())

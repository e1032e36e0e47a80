"""Checking and completing a composed config before anything runs.

``prepare(cfg)`` merges ``params_file`` (and a posterior draw, ``params_draw``) over ``params``
and checks every field a user can set: numbers in range, known places and sectors in the levers,
dates inside the horizon.
Bad input raises ConfigError naming the field; nothing has been written by then.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from jjj_sim.core.checks import check_name, check_value, check_year, whole_number
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import find
from jjj_sim.core.timeline import horizon_quarter
from jjj_sim.core.yaml_input import read_yaml
from jjj_sim.runner.entry import first_line
from jjj_sim.runner.labels import run_label
from jjj_sim.runner.params import (
    MAX_SCALE,
    MAX_SIZE_MEDIAN,
    MAX_SIZE_SIGMA,
    MIN_SCALE,
    PARAM_RULES,
    POPULATION_RULES,
    param_rule,
)
from jjj_sim.sim.policy import Policy
from jjj_sim.sim.world import load_places, load_sectors


def leaves(d, prefix=""):
    """(dotted key, value) of every non-mapping value in nested dict ``d``, keys prefixed by ``prefix``."""
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from leaves(v, key + ".")
        else:
            yield key, v


def load_params_file(path) -> dict:
    """A fitted-parameters file: {dotted.param.name: value} (or nested), under params."""
    p = find(path, "params_file")
    data = read_yaml(p, "params_file")
    if not isinstance(data, dict):
        raise ConfigError("params_file", f"{p} must hold a mapping of parameter names to values")
    data = data.get("params", data)
    if not isinstance(data, dict):
        raise ConfigError("params_file:params", f"{p}: 'params' must be a mapping of parameter names to values")
    flat = dict(leaves(data))
    for key, value in flat.items():
        rule = param_rule(key)
        if rule is None:
            raise ConfigError(f"params_file:{key}", "unknown parameter")
        check_value(value, rule, f"params_file:{key}")
    return flat


def explicit_params(overrides) -> set[str]:
    """Parameter names (under params) that command-line overrides set."""
    out = set()
    for o in overrides or ():
        key = str(o).split("=", 1)[0].lstrip("+~")
        if key.startswith("params."):
            out.add(key[len("params."):])
    return out


TOP_KEYS = ("population", "params", "policy", "scenario", "seed", "params_file", "params_draw", "posterior_file",
            "run")
RUN_KEYS = {"end_year": "year", "record_events": "bool", "plots": "bool"}


def _schedule_quarter(entry, field: str) -> int:
    if not isinstance(entry, dict) or "from" not in entry or "value" not in entry:
        raise ConfigError(field, "each schedule entry needs 'from' (YYYY-MM) and 'value'")
    return horizon_quarter(entry["from"], f"{field}.from")


def apply_lever_edits(policy: dict, prefix: str = "policy") -> list[str]:
    """Lever edits that keep history: wherever a lever has ``from: [entries]`` next to (or
    instead of) its ``schedule``, the entries replace the schedule from the first entry's
    quarter on and the earlier entries stay. Edits ``policy`` in place; returns notes."""
    notes = []
    for key, lever in list(policy.items()):
        field = f"{prefix}.{key}"
        if not isinstance(lever, dict):
            continue
        if "from" in lever:
            new = lever.pop("from")
            if isinstance(new, dict):  # a single entry
                new = [new]
            if not isinstance(new, list) or not new:
                raise ConfigError(f"{field}.from", "expected a list of {from: YYYY-MM, value: number}")
            first = min(_schedule_quarter(e, f"{field}.from[{i}]") for i, e in enumerate(new))
            old = lever.get("schedule") or []
            if not isinstance(old, list):
                raise ConfigError(f"{field}.schedule", "a schedule is a list of {from: YYYY-MM, value: number}")
            kept = [e for i, e in enumerate(old) if _schedule_quarter(e, f"{field}.schedule[{i}]") < first]
            replaced = old[len(kept):]  # schedules are increasing: the kept entries are a prefix
            lever["schedule"] = kept + list(new)
            shown = ", ".join(f"{e['from']}: {e['value']}" for e in new)
            msg = f"{field}: set from {new[0]['from']} on ({shown}), keeping {len(kept)} earlier entr" \
                  f"{'y' if len(kept) == 1 else 'ies'}"
            if replaced:
                msg += "; replaces " + ", ".join(f"{e['from']}: {e['value']}" for e in replaced)
            notes.append(msg)
        notes += apply_lever_edits(lever, field)
    return notes


def prepare(cfg: DictConfig, overrides=(), named: bool = False, notes=(), tool: bool = False) -> DictConfig:
    """Merged and checked copy of ``cfg`` (raises ConfigError).

    ``params_file`` values are merged over the defaults, then the posterior draw
    ``params_draw`` (with the prior draws of the quantities the record does not fit) over
    those, except for parameters set on the command line (``overrides``): precedence is
    command line > params_draw > params_file > defaults.
    Lever edits (``from:``) are applied; a run whose levers the overrides changed is labelled
    ``<scenario>+edited`` unless ``named`` (or ``scenario.name`` is overridden); the notes
    (``notes`` and the lever edits) go to ``scenario.edits``. ``tool``: the config of a tool
    (calibrate, validate) whose own top-level keys its settings check.
    """
    cfg = _resolved(cfg)
    _check_keys(cfg, tool)
    _label(cfg, overrides, named, notes)
    explicit = explicit_params(overrides)
    _merge_params_file(cfg, explicit)
    _merge_posterior_draw(cfg, explicit)
    whole_number(cfg.get("seed"), "seed", 0)
    check_year(cfg.run.get("end_year"), "run.end_year")
    _check_params(cfg)
    _check_population(cfg.population)
    sectors = load_sectors()
    Policy(cfg.policy, load_places(sectors), sectors)  # compiling the levers checks places, sectors and dates
    return cfg


def _resolved(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` with every interpolation resolved (one line naming the key if one fails)."""
    try:
        return OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    except OmegaConfBaseException as e:  # e.g. an unset ${oc.env:VAR}
        key = getattr(e, "full_key", None) or "config"
        raise ConfigError(str(key), f"cannot resolve: {first_line(e)}") from None


def _check_keys(cfg: DictConfig, tool: bool) -> None:
    """No key the model does not know at the top, under run and under scenario."""
    for key in cfg:
        if key not in TOP_KEYS and not tool:
            raise ConfigError(str(key), f"not a config key (keys: {', '.join(TOP_KEYS)})")
    for key in cfg.run:
        if key not in RUN_KEYS:
            raise ConfigError(f"run.{key}", f"not a config key (keys: {', '.join(RUN_KEYS)})")
        if RUN_KEYS[key] == "bool" and not isinstance(cfg.run[key], bool):
            raise ConfigError(f"run.{key}", f"expected true or false, got {cfg.run[key]!r}")
    for key in cfg.scenario:
        if key not in ("name", "description", "edits"):
            raise ConfigError(f"scenario.{key}", "not a config key (keys: name, description)")


def _label(cfg: DictConfig, overrides, named: bool, notes) -> None:
    """Apply the lever edits, check the scenario's name and label the run (``run_label``)."""
    policy = OmegaConf.to_container(cfg.policy)
    edits = [*notes, *apply_lever_edits(policy)]
    cfg.policy = policy
    check_name(str(cfg.scenario.name), "scenario.name")
    if not named:
        cfg.scenario.name = run_label(cfg.scenario.name, overrides)
    cfg.scenario.edits = list(cfg.scenario.get("edits") or []) + edits


def _merge_params_file(cfg: DictConfig, explicit: set[str]) -> None:
    """The params_file's values over the defaults, except those the command line set."""
    if cfg.get("params_file"):
        for key, value in load_params_file(cfg.params_file).items():
            if key not in explicit:
                OmegaConf.update(cfg, f"params.{key}", value, merge=False)


def _merge_posterior_draw(cfg: DictConfig, explicit: set[str]) -> None:
    """With ``params_draw``: that draw of the posterior (and of the priors of the parks without a
    fitted offset) over the params_file's values, except those the command line set."""
    if cfg.get("params_draw") is None:
        return
    from jjj_sim.runner import (
        posterior,  # lazy: it imports pandas (0.4 s of start-up), only draws need it
    )

    k = posterior.check_draw(cfg.params_draw)
    if not cfg.get("posterior_file"):
        raise ConfigError("posterior_file", "params_draw needs a posterior file")
    post = posterior.load(cfg.posterior_file)
    drawn = {**posterior.prior_draw(k, cfg.params, post.meta.get("seed", 0)), **post.draw(k)}
    for key, value in drawn.items():
        if key not in explicit:
            OmegaConf.update(cfg, f"params.{key}", value, merge=False)


def _check_params(cfg: DictConfig) -> None:
    """Every parameter present, known and within its bounds; the firm-stock half-life in its range."""
    seen = dict(leaves(OmegaConf.to_container(cfg.params)))
    for key, rule in PARAM_RULES.items():
        if key not in seen:
            raise ConfigError(f"params.{key}", "missing")
        check_value(seen[key], rule, f"params.{key}")
    for key in seen:
        rule = param_rule(key)
        if rule is None:
            raise ConfigError(f"params.{key}", "unknown parameter")
        check_value(seen[key], rule, f"params.{key}")
    d = cfg.params.demography
    if not d.growth_half_life_low <= d.growth_half_life_years <= d.growth_half_life_high:
        raise ConfigError("params.demography.growth_half_life_years",
                          f"must lie in its stated range {d.growth_half_life_low}-{d.growth_half_life_high}, "
                          f"got {d.growth_half_life_years}")


def _check_population(pop) -> None:
    """The population's settings within their bounds (runner/params.py gives the reasons)."""
    for key, rule in POPULATION_RULES.items():
        if key not in pop:
            raise ConfigError(f"population.{key}", "missing")
        check_value(pop[key], rule, f"population.{key}")
    if not 1 <= pop.size_median <= MAX_SIZE_MEDIAN:
        raise ConfigError("population.size_median", f"must be from 1 to {MAX_SIZE_MEDIAN:,} employees, "
                                                    f"got {pop.size_median}")
    if pop.size_sigma > MAX_SIZE_SIGMA:
        raise ConfigError("population.size_sigma", f"must be at most {MAX_SIZE_SIGMA}, got {pop.size_sigma}")
    if not MIN_SCALE <= pop.scale <= MAX_SCALE:
        raise ConfigError("population.scale", f"must be from {MIN_SCALE} to {MAX_SCALE}, got {pop.scale}")

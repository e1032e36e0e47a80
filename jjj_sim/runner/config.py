"""Checking and completing a composed config before anything runs.

``prepare(cfg)`` merges ``params_file`` over ``params`` and checks every field a user can
set: numbers in range, known places and sectors in the levers, dates inside the horizon.
Bad input raises ConfigError naming the field; nothing has been written by then.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import MAX_END_YEAR, START_YEAR, horizon_quarter
from jjj_sim.core.yaml_input import read_yaml
from jjj_sim.sim.world import PROVINCES, park_ids


def resolve_path(path, field: str) -> Path:
    """A file named in the config: as given (absolute, or relative to the working directory),
    else the copy shipped with the package (so the defaults work from any directory)."""
    from jjj_sim.core.resources import find

    return find(path, field)


@dataclass(frozen=True)
class Range:
    """The values a parameter may take: a number from ``low`` to ``high`` (``low`` itself
    excluded if ``open_low``; whole numbers only if ``whole``), with the reason for the bounds.
    Every rate and count a user can set has one: a typo such as ``1e308`` is refused, not run."""

    low: float
    high: float
    reason: str
    open_low: bool = False
    whole: bool = False

    def check(self, value, field: str) -> None:
        """Raise ConfigError naming ``field`` unless ``value`` lies in the range."""
        if self.whole:
            whole_number(value, field, int(self.low))
        x = _number(value, field)
        if x < self.low or (self.open_low and x == self.low) or x > self.high:
            lo = f"({self.low:g}" if self.open_low else f"[{self.low:g}"
            raise ConfigError(field, f"must lie in {lo}, {self.high:g}], got {value}; bounds: {self.reason}")


PROB = Range(0, 1, "a probability or a share")
COEF = Range(-50, 50, "a utility term of 50 multiplies the odds by e^50 = 5e21: the choice is already certain, and "
                      "larger terms overflow")
BOOST = Range(0, 100, "a 100-fold rise puts the largest base hazard (0.011 a quarter) past its cap of 1")
LIST = Range(0, 100_000, "34 times the 2,900 firms the campaign had handled by 2020 (target T6): a guard against typos")
HALF_LIFE = Range(0, 1000, "years; beyond the 22-year horizon a longer half-life is no decline", open_low=True)

# The bounds of each parameter (dotted, under params). The reasons are in the Range.
PARAM_RULES: dict[str, Range | str] = {
    "closure.list_size": LIST,
    "closure.annual_pace": Range(0, 100_000, "firms handled a year: a pace above the list's own bound clears any "
                                             "list in its first quarter (the record: 300-650 a year)"),
    "closure.polluting_multiplier": Range(0, 100, "100 times as likely puts every listed polluting firm first",
                                          open_low=True),
    "closure.relocate_share": PROB,
    "relocation.origin_provinces": "provinces", "relocation.base_quarterly_hazard": PROB,
    "relocation.cost_elasticity": Range(-20, 20, "the hazard scales with cost level (0.2-1) to this power: 20 "
                                                 "divides it by 10^14 at 0.2"),
    "relocation.push_effect": BOOST,
    "branching.zgc_quarterly_hazard": PROB, "branching.hightech_quarterly_hazard": PROB,
    "branching.other_quarterly_hazard": PROB, "branching.innovation_community_boost": BOOST,
    "branching.repeat_factor": PROB,
    "choice.sample_size": Range(1, 1000, "alternatives sampled of 35 places: a larger sample takes them all",
                                whole=True),
    "choice.asc_tianjin": COEF, "choice.asc_hebei": COEF, "choice.asc_xiongan": COEF,
    "choice.size_coefficient": Range(0, 10, "1 keeps the shares unchanged when a place is split; 10 already gives "
                                            "the largest place every firm"),
    "choice.beta_travel_time": COEF, "choice.beta_cost": COEF, "choice.beta_agglomeration": COEF,
    "choice.beta_specialisation": COEF, "choice.beta_incentive": COEF,
    "choice.asc_park_science": COEF, "choice.asc_park_industrial": COEF,
    "choice.beta_border": COEF, "choice.beta_stay": COEF,
    "choice.friction_reduction": PROB, "choice.matching_reduction": PROB,
    "demography.exit_annual_rate": PROB, "demography.growth_half_life_years": HALF_LIFE,
    "demography.growth_half_life_low": HALF_LIFE, "demography.growth_half_life_high": HALF_LIFE,
    "demography.negative_list_coverage": PROB, "demography.negative_list_deterrence_half_life_years": HALF_LIFE,
    "technology.link_elasticity": Range(0, 10, "contracts scale with (ZGC branches / 3,500) to this power and the "
                                               "branches triple by 2023: 10 is a 59,000-fold rise"),
    "technology.basic_research_boost": BOOST, "technology.innovation_community_boost": BOOST,
    "technology.value_growth_annual": Range(-1, 10, "growth a year of turnover per contract: -100% (none left) to "
                                                    "+1,000% (the fitted rate is near 15%)"),
    "structure.hightech_excess_growth_annual": Range(0, 1, "100% a year above Hebei's other firms (the record: "
                                                           "8.85%)"),
    "parks.capacity_scale": Range(0, 100, "100 times a park's physical capacity (Xiong'an ZGC's phase one)"),
    "parks.prior_sd": Range(0, 10, "a spread of e^10 = 22,000-fold among parks of one type, beyond any reported"),
    "world.circuity": Range(1, 5, "a route is never shorter than the great circle (1); road circuity factors are "
                                  "1.1-1.6 (Ballou et al. 2002)"),
    "world.road_speed_kmh": Range(0, 200, "door to door, above any road's speed limit (120 km/h in China)",
                                  open_low=True),
    "world.rail_speed_kmh": Range(0, 600, "average in-train speed; the fastest trains in service run 350 km/h",
                                  open_low=True),
    "world.rail_access_hours": Range(0, 24, "hours to reach, wait at and leave stations: at most a day"),
    "world.cost_decay_km": Range(0, 10_000, "the region spans about 800 km: beyond 10,000 km cost levels are flat",
                                 open_low=True),
    "world.tianjin_cost_ratio": Range(0, 10, "Tianjin's cost level against Beijing's (the fitted value is below 1)"),
}
# Parameters named by a park: PREFIX + park id (parks.csv), each checked by its rule.
PARK_PARAM_RULES = {"parks.asc_offset.": COEF}


def param_rule(name: str) -> Range | str | None:
    """The check rule of parameter ``name`` (dotted, under params), or None if it is not one."""
    if name in PARAM_RULES:
        return PARAM_RULES[name]
    for prefix, rule in PARK_PARAM_RULES.items():
        if name.startswith(prefix) and name[len(prefix):] in park_ids():
            return rule
    return None

POPULATION_RULES = {"scale": "positive", "size_median": "positive", "size_sigma": "nonneg",
                    "zgc_share_of_beijing_hightech": "prob"}
MAX_SCALE = 10.0  # 10x the real region (about 50 M rows by 2035): beyond a 24 GiB machine
MIN_SCALE = 0.001  # about 1,300 simulated firms in 2014; below it parks and sectors are empty and shares 0/0
# firm sizes (employees, lognormal): a median firm of 1 to 100,000 employees, and a log-sd of at
# most 4 (a factor e^4 = 55 per sd; measured firm-size distributions are near 1-2.5, Axtell 2001):
# beyond these the size weights overflow or vanish and the share indicators become 0/0
MAX_SIZE_MEDIAN = 100_000
MAX_SIZE_SIGMA = 4.0


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(field, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(field, f"must be finite, got {value}")
    return float(value)


def whole_number(value, field: str, minimum: int = 1) -> int:
    """``value`` if it is a whole number >= ``minimum`` (not a bool), else a ConfigError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(field, f"expected a whole number >= {minimum}, got {value!r}")
    return value


# Upper bounds on the counts a user asks for (workers, seeds, draws, samples), with the reason:
# a typo such as --seeds 1000000000 is refused at once instead of running for days. A full-scale
# run to 2035 takes about 7 s on one core (README, Performance).
COUNT_BOUNDS = {
    "workers": (256, "processes on one machine, more than any laptop or cluster node has cores; beyond one machine "
                     "use the Hydra launchers (submitit, Ray)"),
    "seeds": (1000, "the sampling error of a 90% band falls as 1/sqrt(seeds): 1,000 seeds pin it to about 3% of "
                    "the spread, and already take hours per scenario at full scale"),
    "draws": (1000, "posterior draws: as for seeds, 1,000 pin the parameter band to about 3% of its spread"),
    "replications": (1000, "replications of one point: as for seeds"),
    "samples": (100_000, "sample points, trajectories or scenarios: 100,000 runs take about a week on one core at "
                         "full scale"),
}


def count(value, field: str, kind: str, minimum: int = 1) -> int:
    """``value`` if it is a whole number from ``minimum`` to the bound of ``kind`` (COUNT_BOUNDS),
    else a ConfigError naming ``field`` (and the reason for the bound)."""
    whole_number(value, field, minimum)
    high, reason = COUNT_BOUNDS[kind]
    if value > high:
        raise ConfigError(field, f"at most {high:,}, got {value:,}: {reason}")
    return value


def check_value(value, rule: Range | str, field: str) -> None:
    """Raise ConfigError naming ``field`` unless ``value`` obeys ``rule``: a Range, or one of
    prob (a number in [0, 1]), nonneg (>= 0), positive (> 0), real (finite), posint (a whole
    number >= 1) and provinces (a list of province names)."""
    if isinstance(rule, Range):
        rule.check(value, field)
        return
    if rule == "provinces":
        if isinstance(value, str) or not all(str(v) in PROVINCES for v in value):
            raise ConfigError(field, f"expected a list of provinces from {list(PROVINCES)}, got {value!r}")
        return
    if rule == "posint":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(field, f"expected a whole number >= 1, got {value!r}")
        return
    x = _number(value, field)
    if rule in ("prob", "nonneg") and x < 0:
        raise ConfigError(field, f"must be >= 0, got {value}")
    if rule == "prob" and x > 1:
        raise ConfigError(field, f"must be between 0 and 1, got {value}")
    if rule == "positive" and x <= 0:
        raise ConfigError(field, f"must be > 0, got {value}")


def leaves(d, prefix=""):
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from leaves(v, key + ".")
        else:
            yield key, v


def load_params_file(path) -> dict:
    """A fitted-parameters file: {dotted.param.name: value} (or nested), under params."""
    p = resolve_path(path, "params_file")
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


# A scenario name becomes part of directory names, Hydra overrides and plot titles (whose font has
# Latin letters only): ASCII letters, digits and a few signs
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}"
NAME_RULE = "ASCII letters, digits, '_', '-', '.', '+' (no spaces, at most 80)"


def check_name(name: str, field: str) -> None:
    """Raise ConfigError naming ``field`` unless ``name`` is a valid scenario name."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(field, f"a scenario name is {NAME_RULE}, got {name!r}")


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

    ``params_file`` values are merged over the defaults, except for parameters set on the
    command line (``overrides``): precedence is command line > params_file > defaults.
    Lever edits (``from:``) are applied; a run whose levers the overrides changed is labelled
    ``<scenario>+edited`` unless ``named`` (or ``scenario.name`` is overridden); the notes
    (``notes`` and the lever edits) go to ``scenario.edits``. ``tool``: the config of a tool
    (calibrate, validate) whose own top-level keys its settings check.
    """
    from omegaconf.errors import OmegaConfBaseException

    from jjj_sim.runner.labels import run_label

    try:
        cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    except OmegaConfBaseException as e:  # e.g. an unset ${oc.env:VAR}
        key = getattr(e, "full_key", None) or "config"
        msg = (str(e).strip().splitlines() or [e.__class__.__name__])[0]
        raise ConfigError(str(key), f"cannot resolve: {msg}") from None
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
    policy = OmegaConf.to_container(cfg.policy)
    edits = [*notes, *apply_lever_edits(policy)]
    cfg.policy = policy
    check_name(str(cfg.scenario.name), "scenario.name")
    if not named:
        cfg.scenario.name = run_label(cfg.scenario.name, overrides)
    cfg.scenario.edits = list(cfg.scenario.get("edits") or []) + edits
    explicit = explicit_params(overrides)
    if cfg.get("params_file"):
        for key, value in load_params_file(cfg.params_file).items():
            if key not in explicit:
                OmegaConf.update(cfg, f"params.{key}", value, merge=False)
    if cfg.get("params_draw") is not None:  # a draw from the posterior over the params_file values
        from jjj_sim.runner import posterior

        k = posterior.check_draw(cfg.params_draw)
        if not cfg.get("posterior_file"):
            raise ConfigError("posterior_file", "params_draw needs a posterior file")
        post = posterior.load(cfg.posterior_file)
        drawn = {**posterior.prior_draw(k, cfg.params, post.meta.get("seed", 0)), **post.draw(k)}
        for key, value in drawn.items():
            if key not in explicit:
                OmegaConf.update(cfg, f"params.{key}", value, merge=False)
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", f"expected a whole number >= 0, got {seed!r}")
    end = cfg.run.get("end_year")
    if isinstance(end, bool) or not isinstance(end, int) or not START_YEAR <= end <= MAX_END_YEAR:
        raise ConfigError("run.end_year", f"must be a year from {START_YEAR} to {MAX_END_YEAR}, got {end!r}")
    params = OmegaConf.to_container(cfg.params)
    seen = dict(leaves(params))
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
    for key, rule in POPULATION_RULES.items():
        if key not in cfg.population:
            raise ConfigError(f"population.{key}", "missing")
        check_value(cfg.population[key], rule, f"population.{key}")
    if not 1 <= cfg.population.size_median <= MAX_SIZE_MEDIAN:
        raise ConfigError("population.size_median", f"must be from 1 to {MAX_SIZE_MEDIAN:,} employees, "
                                                    f"got {cfg.population.size_median}")
    if cfg.population.size_sigma > MAX_SIZE_SIGMA:
        raise ConfigError("population.size_sigma", f"must be at most {MAX_SIZE_SIGMA}, got {cfg.population.size_sigma}")
    if not MIN_SCALE <= cfg.population.scale <= MAX_SCALE:
        raise ConfigError("population.scale", f"must be from {MIN_SCALE} to {MAX_SCALE}, got {cfg.population.scale}")
    # levers: compiling them checks places, sectors and dates
    from jjj_sim.sim.policy import Policy
    from jjj_sim.sim.world import load_places, load_sectors

    sectors = load_sectors()
    Policy(cfg.policy, load_places(sectors), sectors)
    return cfg

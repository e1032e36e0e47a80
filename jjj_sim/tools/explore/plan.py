"""An exploration's plan: the experiments file of jjj-sim-explore read and checked (levers,
uncertainties, outcomes, design, PRIM condition) into a ``Plan``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from jjj_sim.core.checks import FINITE, POSITIVE, Range, check_value, check_year, count, whole_number
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import find
from jjj_sim.core.seeds import replication_seeds
from jjj_sim.core.timeline import MAX_END_YEAR, START_YEAR, quarter_of
from jjj_sim.runner import posterior as post
from jjj_sim.runner.compose import ScenarioSpec, compose, scenario_spec
from jjj_sim.runner.files import check_keys
from jjj_sim.runner.params import param_rule
from jjj_sim.sim import indicators
from jjj_sim.sim.indicators import INDICATORS

TOOL = "jjj-sim-explore"
EXPERIMENT_KEYS = ("description", "scenario", "population_scale", "end_year", "seed", "replications", "overrides",
                   "levers", "uncertainties", "outcomes", "design", "prim", "feature_scoring")
LEVER_KEYS = ("name", "lever", "kind", "range", "from", "value", "description")
UNCERTAINTY_KEYS = ("params", "posterior")
POSTERIOR_KEYS = ("draws", "file")
DESIGN_KEYS = ("scenarios", "policies", "sampler", "lever_sampler")
PRIM_KEYS = ("condition", "threshold", "peel_alpha", "paste_alpha", "mass_min")
SAMPLERS = {"lhs": "LHS", "mc": "MC", "ff": "FF", "sobol": "SOBOL", "morris": "MORRIS", "fast": "FAST"}
EVALUATORS = ("sequential", "multiprocessing", "mpi")
DRAW = "params_draw"  # the EMA parameter of the posterior draw index
SET_BY_EXPERIMENT = ("scenario", "seed", "population.scale", "run.end_year", "run.record_events", "run.plots",
                     "params_draw", "posterior_file")
_OUTCOME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\[\s*(\d{4})\s*\]\s*$")
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*\s*\[\s*\d{4}\s*\])\s*(<=|>=|<|>)\s*(\S+)\s*$")
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


# ---------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Lever:
    """A sampled lever: its EMA name, the lever under ``policy``, ``value`` (the intensity from
    a fixed date) or ``start`` (the date it starts, a decimal year, at a fixed intensity)."""

    name: str
    path: str
    kind: str
    low: float
    high: float
    fixed: str | float | None  # value lever: its start date; start lever: its intensity
    description: str = ""


@dataclass(frozen=True)
class Outcome:
    """An outcome: the year-end value of ``indicator`` in ``year``."""

    indicator: str
    year: int

    @property
    def label(self) -> str:
        """``INDICATOR[YEAR]``, as the experiments file writes it."""
        return f"{self.indicator}[{self.year}]"

    @property
    def name(self) -> str:  # EMA names are Python identifiers
        """``INDICATOR_YEAR``, its EMA name."""
        return f"{self.indicator}_{self.year}"


@dataclass(frozen=True)
class Condition:
    """PRIM's condition of the cases of interest: an outcome compared with ``op`` to a threshold; called
    on the outcome's values it gives the boolean mask."""

    outcome: Outcome
    op: str
    threshold: float

    @property
    def text(self) -> str:
        """The condition as written: ``INDICATOR[YEAR] < NUMBER``."""
        return f"{self.outcome.label} {self.op} {self.threshold:g}"

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return _OPS[self.op](np.asarray(values, dtype=float), self.threshold)


@dataclass
class Plan:
    """A checked experiments file."""

    spec: ScenarioSpec
    common: list[str]
    seed: int
    seeds: list[int]
    levers: list[Lever]
    params: dict[str, tuple[float, float]]  # dotted name under params -> (low, high)
    posterior: dict | None  # {"draws": K, "file": absolute path}
    outcomes: list[Outcome]
    design: dict
    prim: dict | None
    feature_scoring: bool
    description: str = ""
    resolved: dict = field(default_factory=dict)

    @property
    def param_names(self) -> dict[str, str]:
        """EMA name -> dotted parameter name."""
        return {param_name(p): p for p in self.params}


def param_name(dotted: str) -> str:
    """The EMA name of a dotted parameter name (dots become underscores)."""
    return dotted.replace(".", "_")


def decimal_year(date, field: str) -> float:
    """A ``YYYY-MM`` date (or a year) as the decimal year of its quarter's start: 2026-04 -> 2026.25."""
    return START_YEAR + quarter_of(date, field) / 4


def month_of(t: float) -> str:
    """The ``YYYY-MM`` a sampled decimal year stands for: the first month of its quarter."""
    q = int(math.floor(round((float(t) - START_YEAR) * 4, 9)))
    return f"{START_YEAR + q // 4}-{1 + 3 * (q % 4):02d}"



def _fraction(value, field: str, low: float, high: float, closed_high: bool = False) -> float:
    check_value(value, FINITE, field)
    ok = low < value <= high if closed_high else low < value < high
    if not ok:
        raise ConfigError(field, f"must be in ({low:g}, {high:g}{']' if closed_high else ')'}, got {value!r}")
    return float(value)


def _mapping(value, field: str, keys: tuple[str, ...]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(field, f"expected a mapping with keys {', '.join(keys)}")
    check_keys(value, keys, f"{field}.")
    return value


def _pair(value, field: str) -> tuple:
    if isinstance(value, dict) and set(value) == {"low", "high"}:
        value = [value["low"], value["high"]]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(field, "expected [low, high] (or {low: .., high: ..})")
    return tuple(value)


def parse_outcome(text, field: str) -> Outcome:
    """An ``INDICATOR[YEAR]`` text as an Outcome (ConfigError naming ``field`` when malformed, unknown
    or outside the model's years)."""
    m = _OUTCOME.match(str(text))
    if not m:
        raise ConfigError(field, f"write INDICATOR[YEAR], e.g. hebei_firms_attracted_cum[2035], got {text!r}")
    name, year = m.group(1), int(m.group(2))
    if name not in INDICATORS:
        raise ConfigError(field, f"unknown indicator '{name}' (see jjj_sim/sim/indicators.py)")
    if not START_YEAR <= year <= MAX_END_YEAR:
        raise ConfigError(field, f"year {year} is outside {START_YEAR}-{MAX_END_YEAR}")
    return Outcome(name, year)


def parse_condition(text, outcomes: list[Outcome], field: str = "prim.condition") -> Condition:
    """``prim.condition`` (``INDICATOR[YEAR] < NUMBER``, or <=, >, >=) as a Condition on one of
    ``outcomes``."""
    m = _CONDITION.match(str(text or ""))
    if not m:
        raise ConfigError(field, f"write 'INDICATOR[YEAR] < NUMBER' (or <=, >, >=), got {text!r}")
    target = parse_outcome(m.group(1), field)
    if target not in outcomes:
        raise ConfigError(field, f"{target.label} is not among the outcomes "
                                 f"({', '.join(o.label for o in outcomes)})")
    try:
        threshold = float(m.group(3))
    except ValueError:
        raise ConfigError(field, f"'{m.group(3)}' is not a number") from None
    if not math.isfinite(threshold):
        raise ConfigError(field, f"the threshold must be finite, got {m.group(3)}")
    return Condition(target, m.group(2), threshold)


def _parse_levers(entries, end_year: int) -> list[Lever]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigError("levers", "expected a list of {name, lever, kind, range, ...}")
    levers = [_parse_lever(e, f"levers[{i}]", end_year) for i, e in enumerate(entries)]
    _check_lever_pairs(levers)
    return levers


def _parse_lever(e, f: str, end_year: int) -> Lever:
    """One entry of ``levers`` (``f``: its field, ``levers[i]``)."""
    e = _mapping(e, f, LEVER_KEYS)
    for k in ("name", "lever", "kind", "range"):
        if k not in e:
            raise ConfigError(f"{f}.{k}", "missing")
    name = str(e["name"])
    if not name.isidentifier():
        raise ConfigError(f"{f}.name", f"a lever name is a Python identifier (letters, digits, '_'), got {name!r}")
    path = str(e["lever"]).removeprefix("policy.")
    if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", path):
        raise ConfigError(f"{f}.lever", f"a lever path such as incentives.xiongan, got {e['lever']!r}")
    kind = str(e["kind"])
    if kind not in ("value", "start"):
        raise ConfigError(f"{f}.kind", f"expected 'value' (its intensity) or 'start' (its start date), got {kind!r}")
    lo, hi = _pair(e["range"], f"{f}.range")
    bounds = _value_lever_bounds if kind == "value" else _start_lever_bounds
    low, high, fixed = bounds(e, f, lo, hi, end_year)
    return Lever(name, path, kind, low, high, fixed, str(e.get("description", "")))


def _value_lever_bounds(e: dict, f: str, lo, hi, end_year: int) -> tuple[float, float, str | None]:
    """A value lever: (low, high) intensities and the date ``from`` which they apply (or None)."""
    check_value(lo, FINITE, f"{f}.range")
    check_value(hi, FINITE, f"{f}.range")
    low, high = float(lo), float(hi)
    if not low < high:
        raise ConfigError(f"{f}.range", f"low ({lo}) must be below high ({hi})")
    fixed = None
    if e.get("value") is not None:
        raise ConfigError(f"{f}.value", "a value lever samples the value: give its start date as 'from'")
    if e.get("from") is not None:
        fixed = str(e["from"])
        if decimal_year(fixed, f"{f}.from") >= end_year + 1:
            raise ConfigError(f"{f}.from", f"'{fixed}' is after the run's end ({end_year})")
    return low, high, fixed


def _start_lever_bounds(e: dict, f: str, lo, hi, end_year: int) -> tuple[float, float, float | None]:
    """A start lever: (first, last) start dates as decimal years and its fixed ``value`` (or None)."""
    low, high = decimal_year(lo, f"{f}.range"), decimal_year(hi, f"{f}.range")
    if not low < high:
        raise ConfigError(f"{f}.range", f"the first date ({lo}) must be before the second ({hi})")
    if low >= end_year + 1:
        raise ConfigError(f"{f}.range", f"'{lo}' is after the run's end ({end_year})")
    if e.get("from") is not None:
        raise ConfigError(f"{f}.from", "a start lever samples the date: give its intensity as 'value'")
    fixed = None
    if e.get("value") is not None:
        check_value(e["value"], FINITE, f"{f}.value")
        fixed = float(e["value"])
    return low, high, fixed


def _check_lever_pairs(levers: list[Lever]) -> None:
    """Names unique; per lever path one lever with its other half fixed, or a value and a start
    lever that set both."""
    names = [lv.name for lv in levers]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError("levers", f"two levers are named '{n}'")
    for path in {lv.path for lv in levers}:
        same = [lv for lv in levers if lv.path == path]
        kinds = [lv.kind for lv in same]
        if len(same) > 2 or len(set(kinds)) < len(kinds):
            raise ConfigError("levers", f"policy.{path}: at most one 'value' and one 'start' lever per lever")
        for lv in same:
            i = names.index(lv.name)
            if len(same) == 1 and lv.fixed is None:
                what = "from (the date its value applies from)" if lv.kind == "value" else "value (its intensity)"
                raise ConfigError(f"levers[{i}].{what.split()[0]}", f"missing: give {what}, or pair it with a "
                                                                   f"{'start' if lv.kind == 'value' else 'value'} lever on policy.{path}")
            if len(same) == 2 and lv.fixed is not None:
                raise ConfigError(f"levers[{i}]", f"policy.{path} has a value and a start lever: "
                                                  "the pair sets both, give neither 'from' nor 'value'")


def _parse_uncertainties(data) -> tuple[dict, dict | None]:
    data = _mapping(data, "uncertainties", UNCERTAINTY_KEYS)
    params = {}
    raw = data.get("params") or {}
    if not isinstance(raw, dict):
        raise ConfigError("uncertainties.params", "expected a mapping PARAM: [low, high]")
    for name, b in raw.items():
        f = f"uncertainties.params.{name}"
        name = str(name).removeprefix("params.")
        rule = param_rule(name)
        if not isinstance(rule, Range) or rule.whole:  # not a ListOf (provinces) nor a count
            raise ConfigError(f, "not a real-valued model parameter (see conf/params/default.yaml)")
        lo, hi = _pair(b, f)
        for v in (lo, hi):
            check_value(v, rule, f)
        if not lo < hi:
            raise ConfigError(f, f"low ({lo}) must be below high ({hi})")
        params[name] = (float(lo), float(hi))
    posterior = None
    if data.get("posterior") is not None:
        p = _mapping(data["posterior"], "uncertainties.posterior", POSTERIOR_KEYS)
        draws = count(p.get("draws"), "uncertainties.posterior.draws", "draws")
        posterior = {"draws": draws, "file": p.get("file")}
    if not params and posterior is None and data:
        raise ConfigError("uncertainties", "name params with [low, high] or posterior: {draws: K}")
    return params, posterior


def parse(exp: dict, base_dir: Path | None = None) -> Plan:
    """Check an experiments file and compose the configs it implies (raises ConfigError)."""
    outcomes, end_year = _parse_outcomes(exp)
    scale, seed, reps, extra = _parse_settings(exp)
    levers = _parse_levers(exp.get("levers"), end_year)
    params, posterior = _parse_uncertainties(exp.get("uncertainties"))
    _check_explored(levers, params, posterior, extra)
    design = _parse_design(exp.get("design"), levers, params, posterior)
    prim = _parse_prim(exp.get("prim"), outcomes)
    fs = exp.get("feature_scoring", True)
    if not isinstance(fs, bool):
        raise ConfigError("feature_scoring", f"expected true or false, got {fs!r}")

    spec = scenario_spec(exp.get("scenario", "baseline"), base_dir, "scenario")
    common = [f"population.scale={scale}", f"run.end_year={end_year}", "run.record_events=false",
              "run.plots=false", *extra]
    base = spec.compose(common)
    _check_lever_nodes(base, levers)
    if posterior is not None:
        posterior["file"] = _posterior_file(posterior["file"], base, base_dir)
    seeds = replication_seeds(seed, reps)
    plan = Plan(spec, common, seed, seeds, levers, params, posterior, outcomes, design, prim, fs,
                str(exp.get("description", "")))
    _check_bounds(plan)
    plan.resolved = _resolved(plan, scale, end_year, reps, extra)
    return plan


def _parse_outcomes(exp: dict) -> tuple[list[Outcome], int]:
    """The outcomes and the run's end year (default: the latest outcome's)."""
    outcomes_raw = exp.get("outcomes")
    if isinstance(outcomes_raw, str) or not isinstance(outcomes_raw, list) or not outcomes_raw:
        raise ConfigError("outcomes", "name at least one INDICATOR[YEAR]")
    outcomes = [parse_outcome(o, f"outcomes[{i}]") for i, o in enumerate(outcomes_raw)]
    if len(set(outcomes)) < len(outcomes):
        raise ConfigError("outcomes", "an outcome is listed twice")
    end_year = exp.get("end_year", max(o.year for o in outcomes))
    check_year(end_year, "end_year")
    for i, o in enumerate(outcomes):
        if o.year > end_year:
            raise ConfigError(f"outcomes[{i}]", f"{o.label} is after end_year ({end_year})")
    return outcomes, end_year


def _parse_settings(exp: dict) -> tuple[float, int, int, list[str]]:
    """(population scale, master seed, replications, the common overrides as given)."""
    scale = exp.get("population_scale", 0.1)
    check_value(scale, POSITIVE, "population_scale")
    seed = whole_number(exp.get("seed", 2014), "seed", 0)
    reps = count(exp.get("replications", 1), "replications", "replications")
    extra = exp.get("overrides") or []
    if isinstance(extra, str) or not isinstance(extra, list):
        raise ConfigError("overrides", "expected a list of overrides such as ['params.choice.beta_incentive=1.0']")
    return scale, seed, reps, [str(o) for o in extra]


def _check_explored(levers: list[Lever], params: dict, posterior: dict | None, extra: list[str]) -> None:
    """Something is explored, under names of its own, and the overrides do not set it."""
    if not levers and not params and posterior is None:
        raise ConfigError("levers", "name at least one lever or one uncertainty to explore")
    for n in params:
        if param_name(n) in {lv.name for lv in levers} or param_name(n) == DRAW:
            raise ConfigError(f"uncertainties.params.{n}", f"its name '{param_name(n)}' is also a lever's")
    explored = {f"params.{n}" for n in params} | {f"policy.{lv.path}" for lv in levers}
    for o in extra:
        key = o.split("=", 1)[0].lstrip("+~")
        if key in SET_BY_EXPERIMENT or key.startswith("hydra"):
            raise ConfigError("overrides", f"'{o}' is set by the experiment, not in overrides")
        if any(key == x or key.startswith(x + ".") for x in explored):
            raise ConfigError("overrides", f"'{o}' sets what the exploration samples")


def _parse_design(data, levers: list[Lever], params: dict, posterior: dict | None) -> dict:
    """``design``: the numbers of scenarios and policies and their samplers."""
    d = _mapping(data, "design", DESIGN_KEYS)
    sampler = str(d.get("sampler", "lhs")).lower()
    lever_sampler = str(d.get("lever_sampler", sampler)).lower()
    for key, s in (("sampler", sampler), ("lever_sampler", lever_sampler)):
        if s not in SAMPLERS:
            raise ConfigError(f"design.{key}", f"unknown sampler '{s}' (known: {', '.join(SAMPLERS)})")
    n_scen = count(d.get("scenarios"), "design.scenarios", "samples") if (params or posterior) else 0
    n_pol = count(d.get("policies"), "design.policies", "samples") if levers else 0
    if not (params or posterior) and d.get("scenarios"):
        raise ConfigError("design.scenarios", "no uncertainties to sample: name some under uncertainties")
    if not levers and d.get("policies"):
        raise ConfigError("design.policies", "no levers to sample: name some under levers")
    return {"scenarios": n_scen, "policies": n_pol, "sampler": sampler, "lever_sampler": lever_sampler}


def _parse_prim(data, outcomes: list[Outcome]) -> dict | None:
    """``prim``: the condition of the cases of interest and PRIM's settings (None: no PRIM)."""
    if data is None:
        return None
    pr = _mapping(data, "prim", PRIM_KEYS)
    cond = parse_condition(pr.get("condition"), outcomes)
    return {"condition": cond,
            "threshold": _fraction(pr.get("threshold", 0.8), "prim.threshold", 0.0, 1.0, closed_high=True),
            "peel_alpha": _fraction(pr.get("peel_alpha", 0.05), "prim.peel_alpha", 0.0, 1.0),
            "paste_alpha": _fraction(pr.get("paste_alpha", 0.05), "prim.paste_alpha", 0.0, 1.0),
            "mass_min": _fraction(pr.get("mass_min", 0.05), "prim.mass_min", 0.0, 1.0)}


def _check_lever_nodes(base, levers: list[Lever]) -> None:
    """Every lever names a policy lever with a schedule in the composed base config."""
    for i, lv in enumerate(levers):
        node = OmegaConf.select(base.policy, lv.path, default=None)
        if node is None or not OmegaConf.is_dict(node) or not OmegaConf.is_list(node.get("schedule")):
            raise ConfigError(f"levers[{i}].lever", f"policy.{lv.path} is not a lever with a schedule "
                                                    "(see conf/policy/reported.yaml)")


def _posterior_file(given, base, base_dir: Path | None) -> str:
    """The absolute path of the posterior file the draws come from (given, relative to the
    experiments file, or the config's posterior_file), checked by loading it."""
    file = given if given is not None else base.get("posterior_file")
    if not file:
        raise ConfigError("uncertainties.posterior.file", "no posterior file (the config's posterior_file is null)")
    p = Path(str(file)).expanduser()
    if given is not None and base_dir is not None and not p.is_absolute() and not p.exists():
        p = base_dir / p
    post.load(find(p, "uncertainties.posterior.file"), "uncertainties.posterior.file")
    return str(find(p, "uncertainties.posterior.file").resolve())


def _check_bounds(plan: Plan) -> None:
    """Every sampled value at its bounds composes and checks; an error names the entry of the
    experiments file whose bound is at fault."""
    runner = Runner(plan)
    for corner in ("low", "high"):
        values = {lv.name: (lv.low if corner == "low" else lv.high - (0.25 if lv.kind == "start" else 0.0))
                  for lv in plan.levers}
        values |= {param_name(n): b[0 if corner == "low" else 1] for n, b in plan.params.items()}
        if plan.posterior is not None:
            values[DRAW] = 0 if corner == "low" else plan.posterior["draws"] - 1
        try:
            runner.config(values, plan.seeds[0])
        except ConfigError as err:
            for i, lv in enumerate(plan.levers):
                if err.field.startswith(f"policy.{lv.path}."):
                    raise ConfigError(f"levers[{i}].range", f"at its {corner} end: {err}") from None
            for n in plan.params:
                if err.field == f"params.{n}":
                    raise ConfigError(f"uncertainties.params.{n}", f"at its {corner} end: {err.message}") from None
            raise


def _resolved(plan: Plan, scale: float, end_year: int, reps: int, extra: list[str]) -> dict:
    """The plan as explore.json records it."""
    spec, prim = plan.spec, plan.prim
    return {
        "description": plan.description, "scenario": {"name": spec.name, "description": spec.description,
                                                      "source": spec.source, "overrides": list(spec.overrides)},
        "population_scale": scale, "end_year": end_year, "seed": plan.seed, "replications": reps,
        "seeds": plan.seeds, "overrides": list(extra), "common_overrides": plan.common,
        "levers": [{"name": lv.name, "lever": f"policy.{lv.path}", "kind": lv.kind,
                    "range": [lv.low, lv.high] if lv.kind == "value" else [month_of(lv.low), month_of(lv.high)],
                    "ema_range": [lv.low, lv.high],
                    **({"from": lv.fixed} if lv.kind == "value" and lv.fixed is not None else {}),
                    **({"value": lv.fixed} if lv.kind == "start" and lv.fixed is not None else {}),
                    "description": lv.description} for lv in plan.levers],
        "uncertainties": {"params": {n: {"ema_name": param_name(n), "low": b[0], "high": b[1]}
                                     for n, b in plan.params.items()},
                          "posterior": plan.posterior},
        "outcomes": [{"label": o.label, "ema_name": o.name} for o in plan.outcomes],
        "design": plan.design,
        "prim": None if prim is None else {**prim, "condition": prim["condition"].text},
        "feature_scoring": plan.feature_scoring,
    }


# ---------------------------------------------------------------------------- the model function
class Runner:
    """The function EMA calls for one experiment (one seed): keyword arguments are the sampled
    lever and uncertainty values (EMA names) and ``seed``; returns {outcome name: value}.
    A module-level class holding only plain data, so it pickles for the multiprocessing and
    MPI evaluators."""

    def __init__(self, plan: Plan):
        self.scenario = (plan.spec.name, plan.spec.description, tuple(plan.spec.overrides))
        self.common = tuple(plan.common)
        self.levers = tuple(plan.levers)
        self.params = dict(plan.param_names)
        self.posterior_file = plan.posterior["file"] if plan.posterior else None
        self.outcomes = tuple(plan.outcomes)

    def overrides(self, values: dict, seed: int) -> list[str]:
        """One experiment's overrides: the scenario's, the common ones, the seed, the sampled
        parameters, the posterior draw, and each sampled lever as a
        ``policy.LEVER.from=[{from: DATE, value: X}]`` edit."""
        out = [*self.scenario[2], *self.common, f"seed={int(seed)}"]
        for ema, dotted in self.params.items():
            out.append(f"params.{dotted}={float(values[ema])!r}")
        if self.posterior_file is not None:
            out += [f"params_draw={int(round(float(values[DRAW])))}", f"posterior_file={self.posterior_file}"]
        edits: dict[str, dict] = {}
        for lv in self.levers:
            e = edits.setdefault(lv.path, {})
            if lv.kind == "value":
                e["value"] = float(values[lv.name])
                if lv.fixed is not None:
                    e["from"] = lv.fixed
            else:
                e["from"] = month_of(values[lv.name])
                if lv.fixed is not None:
                    e["value"] = float(lv.fixed)
        out += [f"policy.{path}.from=[{{from: {e['from']}, value: {e['value']!r}}}]" for path, e in edits.items()]
        return out

    def config(self, values: dict, seed: int):
        """One experiment's composed and checked config."""
        return compose(self.overrides(values, seed), name=self.scenario[0], description=self.scenario[1])

    def __call__(self, seed: int = 0, **values) -> dict[str, float]:
        # lazy: the model (mesa, scipy) is 0.8 s of start-up (benchmarks/startup.py); only the
        # worker processes that simulate need it
        from jjj_sim.runner.simulate import simulate

        model, _ = simulate(self.config(values, seed))
        ye = indicators.year_end(model)
        return {o.name: float(ye[o.indicator][str(o.year)]) for o in self.outcomes}

"""Running the model at a parameter set and reading off the targets' values (Target.simulated)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig, OmegaConf

from jjj_sim import indicators
from jjj_sim.calibration.targets import Target, loss
from jjj_sim.config import PARAM_RULES, POPULATION_RULES, check_value
from jjj_sim.errors import ConfigError
from jjj_sim.experiment import replication_seeds  # noqa: F401 (the layer spawns seeds; re-exported for the calibration)


@dataclass(frozen=True)
class FreeParam:
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


def parse_free(spec) -> list[FreeParam]:
    """``calibration.free``: {dotted.param: {low, high, log}} -> checked FreeParams."""
    if not spec:
        raise ConfigError("calibration.free", "name at least one free parameter with its bounds")
    out = []
    for name, b in _flat_free(dict(spec)).items():
        field = f"calibration.free.{name}"
        rule = PARAM_RULES.get(name)
        if rule is None:
            raise ConfigError(field, "unknown parameter")
        if rule in ("posint", "provinces"):
            raise ConfigError(field, "only real-valued parameters can be calibrated")
        if not hasattr(b, "get") or "low" not in b or "high" not in b:
            raise ConfigError(field, "needs 'low' and 'high'")
        check_value(b["low"], rule, f"{field}.low")
        check_value(b["high"], rule, f"{field}.high")
        low, high, log = float(b["low"]), float(b["high"]), bool(b.get("log", False))
        if not low < high:
            raise ConfigError(field, f"low ({low}) must be below high ({high})")
        if log and low <= 0:
            raise ConfigError(f"{field}.low", "must be > 0 on a log scale")
        out.append(FreeParam(name, low, high, log))
    return out


def _flat_free(spec: dict, prefix: str = "") -> dict:
    """{dotted.name: bounds}: a name may be one key ("closure.list_size", as in
    conf/calibrate.yaml) or nested keys ({closure: {list_size: ...}}, as a command-line
    ``calibration.free.closure.list_size={low: .., high: ..}`` makes)."""
    out = {}
    for k, v in spec.items():
        name = f"{prefix}{k}"
        if hasattr(v, "get") and "low" not in v and "high" not in v and all(hasattr(x, "get") for x in v.values()) and v:
            out.update(_flat_free(dict(v), name + "."))
        else:
            out[name] = v
    return out




class Simulator:
    """Evaluates parameter sets on a fixed base config (scale, levers, other parameters).

    The base is composed once; each run sets only the free parameters (and the scale) on the
    simulator's own copy of it, checks those values, and builds the model, whose parts that
    depend on neither the parameters nor the seed are built once per process
    (jjj_sim/shared.py). Not for use from several threads at once.
    """

    def __init__(self, base_cfg: DictConfig, targets: list[Target], seeds: list[int], margin: float = 0.0):
        self.base = OmegaConf.to_container(base_cfg, resolve=True)
        self.base["run"].update(end_year=max(t.year for t in targets), record_events=False, plots=False)
        self.targets = targets
        self.seeds = list(seeds)
        self.margin = margin
        self._cfg = OmegaConf.create(self.base)  # the config runs are built from (``config``)
        self._set: dict[str, object] = {}  # dotted key -> its base value, for the keys ``config`` changed

    def config(self, params: dict[str, float], scale: float | None = None) -> DictConfig:
        """The base config with ``params`` (dotted names under params) and ``scale`` set: the
        simulator's own config object, valid until the next call (which puts back the base
        values of the keys this one set)."""
        cfg = self._cfg
        for key, value in self._set.items():
            OmegaConf.update(cfg, key, value, merge=False)
        self._set = {}
        changes = {}
        for name, value in params.items():
            if name not in PARAM_RULES:
                raise ConfigError(f"params.{name}", "unknown parameter")
            changes[f"params.{name}"] = float(value)
            check_value(changes[f"params.{name}"], PARAM_RULES[name], f"params.{name}")
        if scale is not None:
            changes["population.scale"] = float(scale)
            check_value(float(scale), POPULATION_RULES["scale"], "population.scale")
        for key, value in changes.items():
            self._set[key] = OmegaConf.select(cfg, key)
            OmegaConf.update(cfg, key, value, merge=False)
        return cfg

    def values(self, params: dict[str, float], seed: int, scale: float | None = None) -> dict[str, float]:
        """{target id: simulated value} of one run."""
        from jjj_sim.model import RelocationModel

        model = RelocationModel(self.config(params, scale), seed=seed)
        model.run_model()
        parks = indicators.parks_year_end(model) if any(t.park is not None for t in self.targets) else {}
        result = {"indicators": indicators.year_end(model), "parks": parks}
        return {t.id: t.simulated(result) for t in self.targets}

    def evaluate(self, params: dict[str, float]) -> tuple[float, list[dict[str, float]]]:
        """Loss averaged over the replication seeds, and each replication's values."""
        runs = [self.values(params, s) for s in self.seeds]
        return float(np.mean([loss(self.targets, r, self.margin) for r in runs])), runs

"""Running the model at a parameter set and reading off the targets' values (Target.simulated)."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig, OmegaConf

from jjj_sim.core.checks import ParamRange, check_value
from jjj_sim.core.errors import ConfigError
from jjj_sim.runner.params import POPULATION_RULES, param_range, param_rule
from jjj_sim.runner.simulate import simulate
from jjj_sim.runner.targets import Target, loss
from jjj_sim.sim import indicators

FreeParam = ParamRange  # a free parameter of the calibration is a parameter range




def parse_free(spec) -> list[FreeParam]:
    """``calibration.free``: {dotted.param: {low, high, log}} -> checked FreeParams."""
    if not spec:
        raise ConfigError("calibration.free", "name at least one free parameter with its bounds")
    out = []
    for name, b in _flat_free(dict(spec)).items():
        field = f"calibration.free.{name}"
        if param_rule(name) is None:
            raise ConfigError(field, "unknown parameter")
        if not hasattr(b, "get") or "low" not in b or "high" not in b:
            raise ConfigError(field, "needs 'low' and 'high'")
        out.append(param_range(name, b["low"], b["high"], bool(b.get("log", False)), field))
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
    simulator's own copy of it, checks those values, and runs it with the runner's ``simulate``
    (the model's parts that depend on neither the parameters nor the seed are built once per
    process: jjj_sim/sim/shared.py). Not for use from several threads at once.
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
            if param_rule(name) is None:
                raise ConfigError(f"params.{name}", "unknown parameter")
            changes[f"params.{name}"] = float(value)
            check_value(changes[f"params.{name}"], param_rule(name), f"params.{name}")
        if scale is not None:
            changes["population.scale"] = float(scale)
            check_value(float(scale), POPULATION_RULES["scale"], "population.scale")
        for key, value in changes.items():
            self._set[key] = OmegaConf.select(cfg, key)
            OmegaConf.update(cfg, key, value, merge=False)
        return cfg

    def values(self, params: dict[str, float], seed: int, scale: float | None = None) -> dict[str, float]:
        """{target id: simulated value} of one run."""
        model, _ = simulate(self.config(params, scale), seed=seed)
        parks = indicators.parks_year_end(model) if any(t.park is not None for t in self.targets) else {}
        result = {"indicators": indicators.year_end(model), "parks": parks}
        return {t.id: t.simulated(result) for t in self.targets}

    def evaluate(self, params: dict[str, float]) -> tuple[float, list[dict[str, float]]]:
        """Loss averaged over the replication seeds, and each replication's values."""
        runs = [self.values(params, s) for s in self.seeds]
        return float(np.mean([loss(self.targets, r, self.margin) for r in runs])), runs

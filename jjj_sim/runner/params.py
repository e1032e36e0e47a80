"""Ranges of parameters a tool samples or fits (sensitivity, calibration): ``param_range``
checks a [low, high] against the parameter's own bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jjj_sim.core.errors import ConfigError


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

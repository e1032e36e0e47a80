"""The leaf of the package: checks of what a user gives, each a one-line ConfigError naming the
field, and the bounds of every rate and count with their reasons (``Range``, ``COUNT_BOUNDS``).
Imports nothing of jjj_sim but the errors and model time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import MAX_END_YEAR, START_YEAR


@dataclass(frozen=True)
class ListOf:
    """A list whose items are all among ``values`` (e.g. province names)."""

    values: tuple[str, ...]
    what: str

    def check(self, value, field: str) -> None:
        """Raise ConfigError naming ``field`` unless ``value`` is a list of known items."""
        if isinstance(value, str) or not hasattr(value, "__iter__") or not all(str(v) in self.values for v in value):
            raise ConfigError(field, f"expected a list of {self.what} from {list(self.values)}, got {value!r}")


def check_year(value, field: str, low: int = START_YEAR, high: int = MAX_END_YEAR) -> int:
    """``value`` if it is a whole year from ``low`` to ``high`` (the model's horizon by default),
    else a ConfigError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(field, f"must be a year from {low} to {high}, got {value!r}")
    return value


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
        x = number(value, field)
        if x < self.low or (self.open_low and x == self.low) or x > self.high:
            raise ConfigError(field, f"{self._bounds()}, got {value}" + (f"; bounds: {self.reason}" if self.reason else ""))

    def _bounds(self) -> str:
        if self.high == math.inf:
            return f"must be {'>' if self.open_low else '>='} {self.low:g}"
        lo = f"({self.low:g}" if self.open_low else f"[{self.low:g}"
        return f"must lie in {lo}, {self.high:g}]"


PROB = Range(0, 1, "a probability or a share")


NONNEG = Range(0, math.inf, "")  # a spread or a size: any number >= 0


POSITIVE = Range(0, math.inf, "", open_low=True)  # a scale or a median: any number > 0


FINITE = Range(-math.inf, math.inf, "")  # a lever value or a bound of a range: any finite number


COEF = Range(-50, 50, "a utility term of 50 multiplies the odds by e^50 = 5e21: the choice is already certain, and "
                      "larger terms overflow")


BOOST = Range(0, 100, "a 100-fold rise puts the largest base hazard (0.011 a quarter) past its cap of 1")


LIST = Range(0, 100_000, "34 times the 2,900 firms the campaign had handled by 2020 (target T6): a guard against typos")


HALF_LIFE = Range(0, 1000, "years; beyond the 22-year horizon a longer half-life is no decline", open_low=True)


def number(value, field: str) -> float:
    """``value`` as a float if it is a finite number (not a bool), else a ConfigError naming ``field``."""
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


def check_value(value, rule: Range | ListOf, field: str) -> None:
    """Raise ConfigError naming ``field`` unless ``value`` obeys ``rule`` (a Range or a ListOf)."""
    rule.check(value, field)


# A scenario name becomes part of directory names, Hydra overrides and plot titles (whose font has
# Latin letters only): ASCII letters, digits and a few signs
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}"


NAME_RULE = "ASCII letters, digits, '_', '-', '.', '+' (no spaces, at most 80)"


def check_name(name: str, field: str) -> None:
    """Raise ConfigError naming ``field`` unless ``name`` is a valid scenario name."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(field, f"a scenario name is {NAME_RULE}, got {name!r}")


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



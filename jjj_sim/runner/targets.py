"""Calibration targets and reported figures: loading, checking, and the distance between model
and record.

A targets file (``calibration/targets.yaml``; ``jjj-sim-validate`` reads the same schema) is a
list under ``targets:``. Each entry has ``id``, ``year``, ``kind``, ``tolerance``, ``source``,
``date``, ``quote`` (and optionally ``weight``, ``what``), a reported ``value`` (or ``low`` and
``high`` for kind ``range``), and says what it measures with exactly one of:
    indicator: NAME                              a model indicator (jjj_sim.sim.indicators.INDICATORS)
    park: PARK_ID  +  field: firms | firms_from_beijing | firms_from_bjtj
                                                 a park's firms (summary.json["parks"])
    ratio: [NUMERATOR, DENOMINATOR]              a share: one indicator over another, same year
Optional ``since: YEAR`` (a cumulative indicator only): the value at ``year`` minus the value at
``since``, e.g. the 2015-2017 total is ``year: 2017, since: 2014``. ``weight: 0`` makes a target
a check: reported and judged met or not, but not fitted.

Distance of one simulated value s to a target with reported value r, kind and tolerance t
(scale-free: relative to r, in units of the tolerance):
    approx:    d = ((s - r) / (t r))^2
    at_least:  d = (max(0, r (1 + margin) - s) / (t r))^2
    at_most:   d = (max(0, s - r (1 - margin)) / (t r))^2
    range:     d = 0 inside [low, high]; outside, (gap to the nearer bound b / (t b))^2, where the
               interval is narrowed by margin * low and margin * high, each at most a quarter of
               its width
The loss of a parameter set is the weighted mean of d over targets, averaged over
replications: a sum of squares of the targets' signed residuals (``residuals``), which the
calibration's least-squares polish reads. ``margin`` (config ``calibration.bound_margin``) asks the fit to clear a bound
by a little, so that the mean over seeds still clears it; whether a target is *met* is judged
without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from jjj_sim.core.checks import check_year
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import MAX_END_YEAR
from jjj_sim.core.yaml_input import read_yaml
from jjj_sim.sim.indicators import INDICATORS
from jjj_sim.sim.world import park_ids

KINDS = ("approx", "at_least", "at_most", "range")
PARK_FIELDS = ("firms", "firms_from_beijing", "firms_from_bjtj")
MEASURES = ("indicator", "park", "ratio")
REQUIRED = ("id", "year", "kind", "tolerance", "source", "date", "quote")
KNOWN_KEYS = frozenset(REQUIRED + MEASURES + ("field", "value", "low", "high", "weight", "what", "since"))


@dataclass(frozen=True)
class Target:
    """One checked target (see the module docstring): what it measures, the reported value or
    range, and how the distance to it is formed."""

    id: str
    indicator: str | None  # None for park and ratio targets
    year: int
    value: float  # the reported value; for a range without one, (low + high) / 2 (display only)
    kind: str
    tolerance: float
    source: str
    date: str
    quote: str
    weight: float = 1.0
    what: str = ""
    low: float | None = None  # kind range only
    high: float | None = None
    park: str | None = None  # with field
    field: str | None = None
    ratio: tuple[str, str] | None = None  # (numerator, denominator) indicators
    since: int | None = None  # cumulative indicators: the value at year minus the value at since

    # ------------------------------------------------------------------ what it measures
    @property
    def series(self) -> str:
        """Name of the measured series (also the file name of its validation plot)."""
        if self.park is not None:
            return f"park.{self.park}.{self.field}"
        if self.ratio is not None:
            return f"ratio.{self.ratio[0]}.{self.ratio[1]}"
        return str(self.indicator)

    @property
    def measures(self) -> dict:
        """What the target measures, as written in the file."""
        if self.park is not None:
            return {"park": self.park, "field": self.field}
        if self.ratio is not None:
            return {"ratio": list(self.ratio)}
        return {"indicator": self.indicator}

    @property
    def unit(self) -> str:
        """Unit of the measured series: "firms" for a park, "share" for a ratio, else the indicator's."""
        if self.park is not None:
            return "firms"
        if self.ratio is not None:
            return "share"
        return INDICATORS[self.indicator].unit

    def series_values(self, result: dict) -> dict[str, float]:
        """{year: value} of the measured series in ``result``, shaped like a run's summary.json:
        {"indicators": {NAME: {"2014": v, ...}}, "parks": {PARK_ID: {FIELD: {"2014": v, ...}}}}.
        Raises KeyError naming what is missing."""
        if self.park is not None:
            park = _lookup(result, ("parks", self.park), f"park '{self.park}'")
            return {str(y): float(v) for y, v in _lookup(park, (self.field,), f"'{self.field}' of park '{self.park}'").items()}
        if self.ratio is not None:
            num, den = (self._indicator(result, n) for n in self.ratio)
            return {y: (num[y] / den[y] if den[y] != 0 else math.nan) for y in num if y in den}
        return self._indicator(result, self.indicator)

    @staticmethod
    def _indicator(result: dict, name: str) -> dict[str, float]:
        s = _lookup(result, ("indicators", name), f"indicator '{name}'")
        return {str(y): float(v) for y, v in s.items()}

    def simulated(self, result: dict) -> float:
        """The simulated value of this target in a summary-shaped ``result`` (see series_values);
        a ratio whose denominator is 0 is nan."""
        values = self.series_values(result)
        year = str(self.year)
        for y in (year, str(self.since)) if self.since is not None else (year,):
            if y not in values:
                raise KeyError(f"no value of {self.series} for {y}")
        return float(values[year]) - (float(values[str(self.since)]) if self.since is not None else 0.0)

    # ------------------------------------------------------------------ distance
    def distance(self, simulated: float, margin: float = 0.0) -> float:
        """The distance d of ``simulated`` to this target (module docstring); inf if not finite."""
        return self.residual(simulated, margin) ** 2

    def residual(self, simulated: float, margin: float = 0.0) -> float:
        """The signed root of the distance: negative below the target (or its range), positive
        above, 0 inside a range or past a one-sided bound; ``distance == residual ** 2``. It rises
        with ``simulated``, so a least-squares solver can read its slope; inf if not finite."""
        r, s, t = self.value, simulated, self.tolerance
        if not math.isfinite(s):
            return math.inf
        if self.kind == "approx":
            return (s - r) / (t * r)
        if self.kind == "at_least":
            return -max(0.0, r * (1 + margin) - s) / (t * r)
        if self.kind == "at_most":
            return max(0.0, s - r * (1 - margin)) / (t * r)
        # narrowed inward by the margin, but by at most a quarter of the width at each end, so a
        # narrow range (2,800-2,900) keeps a middle half to aim at instead of losing its margin
        quarter = (self.high - self.low) / 4.0
        lo = self.low + min(margin * self.low, quarter)
        hi = self.high - min(margin * self.high, quarter)
        if s < lo:
            return (s - lo) / (t * self.low)
        if s > hi:
            return (s - hi) / (t * self.high)
        return 0.0

    def met(self, simulated: float) -> bool:
        """Whether ``simulated`` meets the target, without the margin (False if not finite)."""
        if not math.isfinite(simulated):
            return False
        if self.kind == "approx":
            return abs(simulated - self.value) <= self.tolerance * self.value
        if self.kind == "at_least":
            return simulated >= self.value
        if self.kind == "at_most":
            return simulated <= self.value
        return self.low <= simulated <= self.high


def _lookup(d, keys, what: str):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            raise KeyError(f"no {what} in the result")
        d = d[k]
    if not isinstance(d, dict):
        raise KeyError(f"{what} in the result is not a series by year")
    return d


def _positive(e: dict, f: str, where: str, default=None) -> float:
    v = e.get(f, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{where}.{f}", f"must be a number > 0, got {v!r}")
    return float(v)


def parse_entry(e: dict, where: str, end_year: int = MAX_END_YEAR) -> Target:
    """One checked entry (``where`` = FILE:ID; errors name ``where.FIELD``)."""
    for key in e:
        if key not in KNOWN_KEYS:
            raise ConfigError(f"{where}.{key}", f"unknown field (known: {', '.join(sorted(KNOWN_KEYS))})")
    for f in REQUIRED:
        if e.get(f) in (None, ""):
            raise ConfigError(f"{where}.{f}", "missing")
    # what it measures: exactly one of indicator, park (+ field), ratio
    given = [m for m in MEASURES if e.get(m) is not None]
    if not given:
        raise ConfigError(f"{where}.indicator", "missing: give exactly one of indicator, park (with field) or ratio")
    if len(given) > 1:
        raise ConfigError(f"{where}.{given[1]}", f"give exactly one of indicator, park or ratio, got {' and '.join(given)}")
    indicator = park = field = ratio = None
    if given[0] == "indicator":
        indicator = e["indicator"]
        if not isinstance(indicator, str) or indicator not in INDICATORS:
            raise ConfigError(f"{where}.indicator", f"unknown indicator {indicator!r}")
    elif given[0] == "park":
        park = e["park"]
        if not isinstance(park, str) or park not in park_ids():
            raise ConfigError(f"{where}.park", f"unknown park {park!r} (known: {', '.join(park_ids())})")
        field = e.get("field")
        if field not in PARK_FIELDS:
            raise ConfigError(f"{where}.field", f"must be one of {', '.join(PARK_FIELDS)}, got {field!r}")
    else:
        r = e["ratio"]
        if not isinstance(r, list) or len(r) != 2 or not all(isinstance(n, str) and n in INDICATORS for n in r):
            raise ConfigError(f"{where}.ratio", f"must be [NUMERATOR, DENOMINATOR], two known indicators, got {r!r}")
        if r[0] == r[1]:
            raise ConfigError(f"{where}.ratio", f"numerator and denominator are the same indicator ({r[0]})")
        ratio = (r[0], r[1])
    if park is None and e.get("field") is not None:
        raise ConfigError(f"{where}.field", "only with park")
    year = e["year"]
    check_year(year, f"{where}.year", high=min(end_year, MAX_END_YEAR))
    kind = e["kind"]
    if kind not in KINDS:
        raise ConfigError(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    tolerance = _positive(e, "tolerance", where)
    if tolerance >= 1:
        raise ConfigError(f"{where}.tolerance", f"is relative and must be below 1, got {e['tolerance']}")
    weight = e.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise ConfigError(f"{where}.weight", f"must be a number >= 0 (0: a check, not fitted), got {weight!r}")
    since = e.get("since")
    if since is not None:
        if indicator is None or INDICATORS[indicator].kind != "cumulative":
            raise ConfigError(f"{where}.since", "only with a cumulative indicator")
        check_year(since, f"{where}.since", high=year - 1)
    low = high = None
    if kind == "range":
        for f in ("low", "high"):
            if e.get(f) is None:
                raise ConfigError(f"{where}.{f}", "missing (kind range needs low and high)")
        low, high = _positive(e, "low", where), _positive(e, "high", where)
        if not low < high:
            raise ConfigError(f"{where}.high", f"must be above low ({low:g}), got {high:g}")
        if e.get("value") is None:
            value = (low + high) / 2
        else:
            value = _positive(e, "value", where)
            if not low <= value <= high:
                raise ConfigError(f"{where}.value", f"must lie in [low, high] = [{low:g}, {high:g}], got {value:g}")
    else:
        for f in ("low", "high"):
            if e.get(f) is not None:
                raise ConfigError(f"{where}.{f}", f"only for kind range (this target is {kind})")
        if e.get("value") is None:
            raise ConfigError(f"{where}.value", "missing")
        value = _positive(e, "value", where)
    return Target(id=str(e["id"]), indicator=indicator, year=year, value=value, kind=kind, tolerance=tolerance,
                  source=str(e["source"]), date=str(e["date"]), quote=str(e["quote"]), weight=float(weight),
                  what=str(e.get("what") or ""), low=low, high=high, park=park, field=field, ratio=ratio,
                  since=since)


def read_entries(path, key: str, field: str) -> tuple[str, list]:
    """(file name, the non-empty list under ``key``) of a YAML file; ``field`` names the config
    key that gave the path (for a missing file). Bad files raise one-line ConfigErrors."""
    name = Path(str(path)).name
    data = read_yaml(path, field, bad_field=name)
    entries = data.get(key) if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(name, f"expected a non-empty list under '{key}'")
    return name, entries


def load_targets(path, end_year: int = MAX_END_YEAR, field: str = "calibration.targets") -> list[Target]:
    """Read and check a targets file; a bad entry raises ConfigError("FILE:ID.FIELD", message).
    ``field`` names the config key that gave the path (for a missing file)."""
    name, entries = read_entries(path, "targets", field)
    out, seen = [], set()
    for i, e in enumerate(entries):
        where = f"{name}:targets[{i}]"
        if not isinstance(e, dict):
            raise ConfigError(where, "each target is a mapping")
        tid = e.get("id")
        if tid is not None:
            if isinstance(tid, bool) or not isinstance(tid, (str, int, float)):
                raise ConfigError(f"{where}.id", f"must be a name or a number, got {tid!r}")
            tid = str(tid)
            if not tid.strip():
                raise ConfigError(f"{where}.id", "missing")
            where = f"{name}:{tid}"
        t = parse_entry(e, where, end_year)
        if t.id in seen:
            raise ConfigError(f"{where}.id", "duplicate id")
        seen.add(t.id)
        out.append(t)
    if not any(t.weight > 0 for t in out):
        raise ConfigError(f"{name}:targets", "every target has weight 0: nothing to fit or judge against")
    return out


def loss(targets: list[Target], simulated: dict[str, float], margin: float = 0.0) -> float:
    """Weighted mean distance of one replication's values {target id: value}."""
    w = sum(t.weight for t in targets)
    return sum(t.weight * t.distance(simulated[t.id], margin) for t in targets) / w


def residuals(targets: list[Target], simulated: dict[str, float], margin: float = 0.0) -> list[float]:
    """One replication's residuals, each target's scaled by the root of its share of the weight:
    their squares sum to ``loss(targets, simulated, margin)``."""
    w = sum(t.weight for t in targets)
    return [math.sqrt(t.weight / w) * t.residual(simulated[t.id], margin) for t in targets]

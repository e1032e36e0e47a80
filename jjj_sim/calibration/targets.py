"""Calibration targets: loading, checking, and the distance between model and record.

Distance of one simulated value s to a target with reported value r, kind and tolerance t
(scale-free: relative to r, in units of the tolerance):
    approx:    d = ((s - r) / (t r))^2
    at_least:  d = (max(0, r (1 + margin) - s) / (t r))^2
    at_most:   d = (max(0, s - r (1 - margin)) / (t r))^2
The loss of a parameter set is the weighted mean of d over targets, averaged over
replications. ``margin`` (config ``calibration.bound_margin``) asks the fit to clear a
one-sided bound by a little, so that the mean over seeds still clears it; whether a target is
*met* is judged without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from jjj_sim.errors import ConfigError
from jjj_sim.indicators import INDICATORS
from jjj_sim.timeline import MAX_END_YEAR, START_YEAR

KINDS = ("approx", "at_least", "at_most")
REQUIRED = ("id", "indicator", "year", "value", "kind", "tolerance", "source", "date", "quote")


@dataclass(frozen=True)
class Target:
    id: str
    indicator: str
    year: int
    value: float
    kind: str
    tolerance: float
    source: str
    date: str
    quote: str
    weight: float = 1.0
    what: str = ""

    def distance(self, simulated: float, margin: float = 0.0) -> float:
        r, s, t = self.value, simulated, self.tolerance
        if not math.isfinite(s):
            return math.inf
        if self.kind == "approx":
            gap = s - r
        elif self.kind == "at_least":
            gap = max(0.0, r * (1 + margin) - s)
        else:
            gap = max(0.0, s - r * (1 - margin))
        return (gap / (t * r)) ** 2

    def met(self, simulated: float) -> bool:
        if self.kind == "approx":
            return abs(simulated - self.value) <= self.tolerance * self.value
        if self.kind == "at_least":
            return simulated >= self.value
        return simulated <= self.value


def load_targets(path, end_year: int = MAX_END_YEAR) -> list[Target]:
    """Read and check a targets file; a bad entry raises ConfigError naming entry and field."""
    p = Path(str(path))
    name = p.name
    if not p.is_file():
        raise ConfigError("calibration.targets", f"no such file: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(name, f"not valid YAML ({e.__class__.__name__})") from None
    entries = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(name, "expected a non-empty list under 'targets'")
    out, seen = [], set()
    for i, e in enumerate(entries):
        where = f"{name}:targets[{i}]"
        if not isinstance(e, dict):
            raise ConfigError(where, "each target is a mapping")
        if isinstance(e.get("id"), str):
            where = f"{name}:{e['id']}"
        for f in REQUIRED:
            if e.get(f) in (None, ""):
                raise ConfigError(f"{where}.{f}", "missing")
        if e["id"] in seen:
            raise ConfigError(f"{where}.id", "duplicate id")
        seen.add(e["id"])
        if e["indicator"] not in INDICATORS:
            raise ConfigError(f"{where}.indicator", f"unknown indicator '{e['indicator']}'")
        year = e["year"]
        if isinstance(year, bool) or not isinstance(year, int) or not START_YEAR <= year <= min(end_year, MAX_END_YEAR):
            raise ConfigError(f"{where}.year", f"must be a year of the run ({START_YEAR}-{end_year}), got {year!r}")
        for f in ("value", "tolerance", "weight"):
            v = e.get(f, 1.0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"{where}.{f}", f"must be a number > 0, got {v!r}")
        if e["kind"] not in KINDS:
            raise ConfigError(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {e['kind']!r}")
        if e["tolerance"] >= 1:
            raise ConfigError(f"{where}.tolerance", f"is relative and must be below 1, got {e['tolerance']}")
        out.append(Target(id=str(e["id"]), indicator=e["indicator"], year=year, value=float(e["value"]),
                          kind=e["kind"], tolerance=float(e["tolerance"]), source=str(e["source"]),
                          date=str(e["date"]), quote=str(e["quote"]), weight=float(e.get("weight", 1.0)),
                          what=str(e.get("what", ""))))
    return out


def loss(targets: list[Target], simulated: dict[str, float], margin: float = 0.0) -> float:
    """Weighted mean distance of one replication's values {target id: value}."""
    w = sum(t.weight for t in targets)
    return sum(t.weight * t.distance(simulated[t.id], margin) for t in targets) / w

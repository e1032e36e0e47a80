"""The record of the named parks beside the model: every reported park figure, its definition
and date, and how it maps to the model's park rows (``jjj_sim/data/park_record.csv``).

A park's rows in the model are the firms and branches that moved or branched in since 2014; a
reported figure counts something else (registered firms with local founders, projects, firms
signed), so each row of the file says which model field it is compared with (``firms``,
``firms_from_beijing`` or ``firms_from_bjtj`` at the end of ``year``) and the range ``low``-
``high`` of that field the figure supports. ``use`` says what the figure is for: ``target ID``
(fitted: calibration/targets.yaml holds the same range), ``reference`` (before 2021, not
fitted), or ``check after 2020`` (released, kept out of the fit).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner.targets import (
    PARK_FIELDS as FIELDS,  # the park fields a figure can measure
)
from jjj_sim.sim.world import read_csv


@dataclass(frozen=True)
class ParkFigure:
    """One reported park figure and its mapping to the model."""

    park: str
    id: str
    as_of: str  # YYYY-MM of the report
    year: int  # the model's year end it is compared at
    reported: str
    definition: str
    field: str
    low: float
    high: float
    mapping: str
    use: str
    source: str
    quote: str

    def simulated(self, park: dict) -> float | None:
        """The model's value in a summary.json park entry, or None if the run ends before ``year``."""
        v = park.get(self.field, {}).get(str(self.year))
        return None if v is None else float(v)

    def within(self, value: float | None) -> bool | None:
        """Whether a simulated value lies in the range the figure supports (None: not simulated)."""
        return None if value is None else self.low <= value <= self.high


@functools.cache
def load() -> tuple[ParkFigure, ...]:
    """Every row of park_record.csv, checked (a bad row is a ConfigError naming it)."""
    out = []
    for i, r in enumerate(read_csv("park_record.csv")):
        where = f"park_record.csv:{r.get('id') or i}"
        if r["field"] not in FIELDS:
            raise ConfigError(f"{where}.field", f"must be one of {', '.join(FIELDS)}, got {r['field']!r}")
        try:
            year, low, high = int(r["year"]), float(r["low"]), float(r["high"])
        except ValueError:
            raise ConfigError(where, "year, low and high must be numbers") from None
        if not 0 <= low <= high:
            raise ConfigError(f"{where}.high", f"needs 0 <= low <= high, got {low:g}-{high:g}")
        out.append(ParkFigure(park=r["park"], id=r["id"], as_of=r["as_of"], year=year, reported=r["reported"],
                              definition=r["definition"], field=r["field"], low=low, high=high,
                              mapping=r["mapping"], use=r["use"], source=r["source"], quote=r["quote"]))
    return tuple(out)


def rows(parks: dict) -> list[dict]:
    """The record beside the model for a summary.json-shaped ``parks`` mapping (one run, or the
    mean over runs): one dict per reported figure with the figure, its definition and date, the
    model field and range it maps to, the simulated value (None past the run's end) and whether
    it lies in the range."""
    table = []
    for f in load():
        value = f.simulated(parks.get(f.park, {}))
        table.append({"park": f.park, "name": parks.get(f.park, {}).get("name", f.park), "id": f.id,
                      "as_of": f.as_of, "year": f.year, "reported": f.reported, "definition": f.definition,
                      "field": f.field, "low": f.low, "high": f.high, "use": f.use, "source": f.source,
                      "simulated": value, "within": f.within(value)})
    return table

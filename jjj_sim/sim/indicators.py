"""Indicators: what the model reports, in real-firm units at any population scale.

Each indicator has a kind that says how its year-end value is formed:
- ``stock``: the value at the end of the year's fourth quarter;
- ``cumulative``: the running total since the start of 2014 at the end of the year;
- ``flow``: the sum of the year's four quarterly values;
- ``ratio``: the value at the end of the year (a percentage).
Values are collected each quarter by Mesa's DataCollector (model-level reporters only: no
per-firm collection) and, by place and sector, by ``History``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jjj_sim.core.timeline import quarter_end_date, year_of
from jjj_sim.sim.world import BEIJING, HEBEI, PROVINCES, TIANJIN

CUMULATIVE_COUNTERS = ("hebei_attracted", "hebei_attracted_from_beijing", "beijing_closures", "beijing_campaign_exits",
                       "closures", "registrations_refused",
                       "relocations", "relocations_out_of_beijing", "branches_opened")


def _real(m, x) -> float:
    return float(x) / m.scale


def _zgc(m, provinces) -> float:
    sel = m.places.province_masks[provinces].any(axis=0)
    return _real(m, m.tally.zgc_branches[sel].sum())


def _legal(m, province) -> float:
    return _real(m, m.tally.legal[m.places.province_masks[province]].sum())


def _hightech_share(m) -> float:
    other, high = m.tally.industrial_size[m.places.province_masks[HEBEI]].sum(axis=0)
    high = high * m.hightech_productivity
    return 100.0 * high / (high + other) if high + other > 0 else float("nan")


KINDS = ("stock", "cumulative", "flow", "ratio")  # how a year-end value is formed (module docstring)


@dataclass(frozen=True)
class Indicator:
    """One reported indicator: its ``kind`` (one of KINDS), ``unit``, ``label`` (a sentence
    for tables and plots) and ``reader`` (model -> value this quarter, in real-firm units)."""

    kind: str
    unit: str
    label: str
    reader: Callable

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"indicator kind must be one of {KINDS}, got {self.kind!r}")


INDICATORS: dict[str, Indicator] = {
    "hebei_firms_attracted_cum": Indicator(
        "cumulative", "firms", "Firms from Beijing and Tianjin that settled in Hebei since 2014 (relocations plus new branches)",
        lambda m: _real(m, m.cumulative["hebei_attracted"])),
    "hebei_firms_attracted_from_beijing_cum": Indicator(
        "cumulative", "firms", "Of which from Beijing",
        lambda m: _real(m, m.cumulative["hebei_attracted_from_beijing"])),
    "zgc_branches_tjhb": Indicator("stock", "branches", "Branches of Zhongguancun firms in Tianjin and Hebei",
                          lambda m: _zgc(m, [TIANJIN, HEBEI])),
    "zgc_branches_tianjin": Indicator("stock", "branches", "Branches of Zhongguancun firms in Tianjin", lambda m: _zgc(m, [TIANJIN])),
    "zgc_branches_hebei": Indicator("stock", "branches", "Branches of Zhongguancun firms in Hebei", lambda m: _zgc(m, [HEBEI])),
    "beijing_closures_cum": Indicator("cumulative", "firms", "Beijing firms closed by the closure campaign since 2014",
                             lambda m: _real(m, m.cumulative["beijing_closures"])),
    "beijing_campaign_exits_cum": Indicator(
        "cumulative", "firms", "Beijing firms the closure campaign shut down or moved out since 2014 (关停退出)",
        lambda m: _real(m, m.cumulative["beijing_campaign_exits"])),
    "beijing_campaign_list_left": Indicator("stock", "firms", "Firms left on the closure campaign's list",
                                   lambda m: _real(m, len(m.campaign_list))),
    "hebei_hightech_va_share": Indicator("ratio", "percent", "High-tech share of Hebei's industrial value added", _hightech_share),
    "tech_contracts_bj_to_tjhb": Indicator("flow", "contracts", "Technology contracts from Beijing to Tianjin and Hebei",
                                  lambda m: float(m.tech_contracts)),
    "tech_contract_turnover_bj_to_tjhb_bn_yuan": Indicator("flow", "bn yuan", "Turnover of those contracts",
                                                  lambda m: float(m.tech_turnover_bn)),
    "tech_contracts_bj_to_tjhb_cum": Indicator("cumulative", "contracts", "Technology contracts from Beijing to Tianjin and Hebei since 2014",
                                      lambda m: float(m.tech_contracts_cum)),
    "tech_contract_turnover_bj_to_tjhb_cum_bn_yuan": Indicator("cumulative", "bn yuan", "Turnover of those contracts since 2014",
                                                      lambda m: float(m.tech_turnover_cum_bn)),
    "xiongan_firms_from_beijing": Indicator("stock", "firms", "Firms and branches from Beijing in Xiong'an New Area (its parks included)",
                                   lambda m: _real(m, m.tally.origin[m.places.region == m.xiongan, BEIJING].sum())),
    "hebei_steel_capacity_mt": Indicator("stock", "Mt", "Hebei's steelmaking capacity after the de-capacity cuts",
                                lambda m: float(m.hebei_steel_capacity_mt)),
    "hebei_decapacity_closures_cum": Indicator("cumulative", "firms", "Hebei heavy-industry firms closed by de-capacity since 2014",
                                      lambda m: _real(m, m.events.counts["decapacity"])),
    "hebei_hightech_upgrades_cum": Indicator("cumulative", "firms", "Hebei's own industrial firms that became high-tech since 2014",
                                    lambda m: _real(m, m.events.counts["upgrade"])),
    "firms_by_province_beijing": Indicator("stock", "legal units", "Legal units in Beijing", lambda m: _legal(m, BEIJING)),
    "firms_by_province_tianjin": Indicator("stock", "legal units", "Legal units in Tianjin", lambda m: _legal(m, TIANJIN)),
    "firms_by_province_hebei": Indicator("stock", "legal units", "Legal units in Hebei", lambda m: _legal(m, HEBEI)),
    "relocations_cum": Indicator("cumulative", "firms", "Relocations (any change of place) since 2014",
                        lambda m: _real(m, m.cumulative["relocations"])),
    "relocations_out_of_beijing_cum": Indicator("cumulative", "firms", "Relocations from Beijing to Tianjin or Hebei since 2014",
                                       lambda m: _real(m, m.cumulative["relocations_out_of_beijing"])),
    "closures_cum": Indicator("cumulative", "firms", "Closures by the closure campaign, all places, since 2014",
                     lambda m: _real(m, m.cumulative["closures"])),
    "branches_opened_cum": Indicator("cumulative", "branches", "Branches opened since 2014",
                            lambda m: _real(m, m.cumulative["branches_opened"])),
    "registrations_refused_cum": Indicator(
        "cumulative", "registrations", "Registrations refused under the negative list since 2014 (不予办理登记)",
        lambda m: _real(m, m.cumulative["registrations_refused"])),
    "entries_cum": Indicator("cumulative", "firms", "Births of legal units since 2014", lambda m: _real(m, m.events.counts["entry"])),
    "exits_cum": Indicator("cumulative", "firms", "Ordinary exits since 2014", lambda m: _real(m, m.events.counts["exit"])),
}


def model_reporters() -> dict[str, Callable]:
    """{indicator: reader}, for Mesa's DataCollector."""
    return {name: ind.reader for name, ind in INDICATORS.items()}


class History:
    """Per-quarter breakdowns by place and sector (arrays, not per-firm records)."""

    def __init__(self, model):
        self.quarters: list[int] = []
        self.legal: list[np.ndarray] = []  # [P, S]
        self.branches: list[np.ndarray] = []  # [P, S]
        self.park_fields: list[np.ndarray] = []  # [fields, parks] in PARK_FIELDS order (simulated units)
        self.origin: list[np.ndarray] = []  # [P, 3]: rows by origin province (simulated units)

    def record(self, m) -> None:
        """Append the model's quarter: legal units, branches and origins by place, and the park fields."""
        self.quarters.append(m.quarter)
        self.legal.append(m.tally.legal.copy())
        self.branches.append(m.tally.branches.copy())
        self.origin.append(m.tally.origin.copy())
        parks = m.places.parks
        origin = m.tally.origin[parks]
        self.park_fields.append(np.stack([
            origin.sum(axis=1), origin[:, BEIJING], origin[:, BEIJING] + origin[:, TIANJIN],
            np.array([p.overflow for p in m.parks], dtype=np.int64)]))


# Per-park year-end fields (summary.json "parks"): all rows in the park (legal units and
# branches, whatever their origin), those from Beijing, those from Beijing or Tianjin (origin =
# the province a firm was in at the start or at birth; a branch: its parent's), and choosers
# sent to the park's region because it was full (cumulative since 2014).
PARK_FIELDS = ("firms", "firms_from_beijing", "firms_from_bjtj", "overflow_to_region")


def quarterly(model) -> pd.DataFrame:
    """Headline indicators, one row per quarter (index: quarter number)."""
    df = model.datacollector.get_model_vars_dataframe()
    df.index = model.history.quarters
    return df


def year_end(model) -> dict[str, dict[str, float]]:
    """{indicator: {year: value}} formed by each indicator's kind."""
    years = np.array([year_of(k) for k in model.history.quarters])
    collected = model.datacollector.model_vars  # {indicator: [value each quarter]}, as quarterly() tabulates it
    out = {}
    for name, ind in INDICATORS.items():
        by_year = {}
        column = np.asarray(collected[name], dtype=float)
        for y in sorted(set(years.tolist())):
            vals = column[years == y]
            by_year[str(y)] = float(vals.sum()) if ind.kind == "flow" else float(vals[-1])
        out[name] = by_year
    return out


def _year_ends(model) -> dict[int, int]:
    """{year: index of its last recorded quarter in model.history}."""
    return {year_of(k): i for i, k in enumerate(model.history.quarters)}


def parks_year_end(model) -> dict:
    """{park id: {"name", "region", "type", "capacity" (None: no physical limit), "pull_constant",
    FIELD: {year: value} for FIELD in PARK_FIELDS}}."""
    last = _year_ends(model)
    out = {}
    for j, p in enumerate(model.places.parks):
        pid = model.places.ids[p]
        out[pid] = {
            "name": model.places.names[p],
            "region": model.places.ids[model.places.region[p]],
            "type": model.places.park_type[p],
            "capacity": (model.parks[j].capacity_real if np.isfinite(model.parks[j].capacity_real)
                         else None),  # None: no physical limit in the record
            "pull_constant": float(model.place_asc[p]),  # its constant in the location choice (type + offset)
            **{f: {str(y): _real(model, model.history.park_fields[i][k, j]) for y, i in last.items()}
               for k, f in enumerate(PARK_FIELDS)},
        }
    return out


# Per-region year-end fields (summary.json "regions"): all rows in the region, its parks
# included (legal units and branches), and of which those whose origin is another province
# ("firms attracted": from Beijing or Tianjin for a Hebei region).
REGION_FIELDS = ("firms", "firms_from_outside")


def regions_year_end(model) -> dict:
    """{region id: {"name", "province", FIELD: {year: value} for FIELD in REGION_FIELDS}}."""
    places = model.places
    last = _year_ends(model)
    out = {}
    for r in range(places.n_regions):
        inside = places.region == r
        prov = int(places.province[r])
        series = {f: {} for f in REGION_FIELDS}
        for y, i in last.items():
            o = model.history.origin[i][inside].sum(axis=0)
            series["firms"][str(y)] = _real(model, o.sum())
            series["firms_from_outside"][str(y)] = _real(model, o.sum() - o[prov])
        out[places.ids[r]] = {"name": places.names[r], "province": PROVINCES[prov], **series}
    return out


def long_table(model) -> pd.DataFrame:
    """Long format: date, indicator, region, park, sector, value (real-firm units)."""
    places, sectors = model.places, model.sectors
    q = quarterly(model)
    dates = [quarter_end_date(k) for k in q.index]
    frames = [pd.DataFrame({"date": np.repeat(dates, q.shape[1]), "indicator": np.tile(q.columns, len(q)),
                            "region": None, "park": None, "sector": None,
                            "value": q.to_numpy(dtype=float).ravel()})]
    region_of = np.array([places.ids[r] for r in places.region], dtype=object)
    park_of = np.array([pid if park else None for pid, park in zip(places.ids, places.is_park)], dtype=object)
    n_p, n_s = len(places.ids), len(sectors.ids)
    for name, hist in (("firms_by_place_sector", model.history.legal), ("branches_by_place_sector", model.history.branches)):
        arr = np.stack(hist).astype(float) / model.scale  # [Q, P, S]
        frames.append(pd.DataFrame({
            "date": np.repeat(dates, n_p * n_s), "indicator": name,
            "region": np.tile(np.repeat(region_of, n_s), len(dates)),
            "park": np.tile(np.repeat(park_of, n_s), len(dates)),
            "sector": np.tile(np.array(sectors.ids, dtype=object), len(dates) * n_p),
            "value": arr.ravel()}))
    parks = places.parks
    fields = np.stack(model.history.park_fields).astype(float) / model.scale  # [Q, F, parks]
    for k, f in enumerate(PARK_FIELDS):
        frames.append(pd.DataFrame({
            "date": np.repeat(dates, len(parks)), "indicator": f"park_{f}",
            "region": np.tile(region_of[parks], len(dates)), "park": np.tile(park_of[parks], len(dates)),
            "sector": None, "value": fields[:, k, :].ravel()}))
    df = pd.concat(frames, ignore_index=True)
    for col in ("date", "indicator", "region", "park", "sector"):
        df[col] = df[col].astype("category")
    return df

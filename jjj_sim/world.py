"""The world: places (regions and parks), sectors, travel times to Beijing and cost levels.

A *place* is where a firm sits: either a region (the part of a city or district outside the
named parks) or a named park inside a region. Places are numbered regions first, then parks;
most per-place arrays in the model are indexed by that number.

Data files (``jjj_sim/data/``), each row with its source:
- ``regions.csv``, ``parks.csv``: shared/reference/places.md (coordinates approximate, to
  about 0.05 degrees, good enough for distances and travel times).
- ``region_weights.csv``: how a province's firms split among its regions.
- ``sectors.csv``: sector list, flags and sector mix by province.
- ``rail_links.csv``: opening dates of fast rail links to Beijing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

from jjj_sim.errors import ConfigError
from jjj_sim.timeline import quarter_of

PROVINCES = ("beijing", "tianjin", "hebei")
BEIJING, TIANJIN, HEBEI = 0, 1, 2
NEVER = 10**6  # quarter index meaning "never" (for places that do not open)

# Reference points for distances: Beijing core and Tianjin central (regions.csv).
_BEIJING_REF = "beijing_core"
_TIANJIN_REF = "tianjin_central"
_EARTH_RADIUS_KM = 6371.0


def _read_csv(name: str) -> list[dict[str, str]]:
    with resources.files("jjj_sim.data").joinpath(name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km (numpy-broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


@dataclass(frozen=True)
class Sectors:
    ids: tuple[str, ...]
    industrial: np.ndarray  # bool [S]
    hightech_prob: np.ndarray  # float [S]
    polluting_prob: np.ndarray  # float [S]
    share: np.ndarray  # float [3 provinces, S], rows sum to 1

    def index(self, sector: str, field: str) -> int:
        try:
            return self.ids.index(sector)
        except ValueError:
            raise ConfigError(field, f"unknown sector '{sector}' (known: {', '.join(self.ids)})") from None

    def mask(self, sectors, field: str) -> np.ndarray:
        """Boolean [S] mask of a sector list; the string 'all' selects every sector."""
        m = np.zeros(len(self.ids), dtype=bool)
        if sectors == "all":
            m[:] = True
            return m
        if isinstance(sectors, str) or sectors is None:
            raise ConfigError(field, f"expected a list of sectors or 'all', got {sectors!r}")
        for s in sectors:
            m[self.index(str(s), field)] = True
        return m


def load_sectors() -> Sectors:
    rows = _read_csv("sectors.csv")
    share = np.array([[float(r[f"share_{p}"]) for r in rows] for p in PROVINCES])
    if not np.allclose(share.sum(axis=1), 1.0, atol=1e-9):
        raise ConfigError("sectors.csv", "sector shares of a province do not sum to 1")
    return Sectors(
        ids=tuple(r["id"] for r in rows),
        industrial=np.array([r["industrial"] == "1" for r in rows]),
        hightech_prob=np.array([float(r["hightech_prob"]) for r in rows]),
        polluting_prob=np.array([float(r["polluting_prob"]) for r in rows]),
        share=share,
    )


@dataclass(frozen=True)
class Places:
    """All places (regions, then parks) as parallel arrays."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    is_park: np.ndarray  # bool [P]
    region: np.ndarray  # int [P]: the region a place lies in (itself for regions)
    province: np.ndarray  # int [P]: 0 Beijing, 1 Tianjin, 2 Hebei
    lat: np.ndarray
    lon: np.ndarray
    opens: np.ndarray  # int [P]: first quarter the place takes firms (negative: before 2014)
    capacity: np.ndarray  # float [P]: firm slots in real firms (inf for regions)
    specialised: np.ndarray  # bool [P, S]: park specialisation
    region_weight: np.ndarray  # float [P]: share of its province's firms (regions only)
    n_regions: int

    def index(self, place: str, field: str) -> int:
        try:
            return self.ids.index(place)
        except ValueError:
            raise ConfigError(field, f"unknown place '{place}' (known: {', '.join(self.ids)})") from None

    @property
    def parks(self) -> np.ndarray:
        return np.flatnonzero(self.is_park)

    def select(self, spec, field: str) -> np.ndarray:
        """Boolean [P] mask from a list of place ids or group tokens.

        Tokens: ``all``, ``parks``, ``regions``, ``PROVINCE`` (its regions and parks),
        ``parks:PROVINCE``.
        """
        m = np.zeros(len(self.ids), dtype=bool)
        items = [spec] if isinstance(spec, str) else list(spec or [])
        for item in items:
            item = str(item)
            if item == "all":
                m[:] = True
            elif item == "parks":
                m |= self.is_park
            elif item == "regions":
                m |= ~self.is_park
            elif item in PROVINCES:
                m |= self.province == PROVINCES.index(item)
            elif item.startswith("parks:") and item[6:] in PROVINCES:
                m |= self.is_park & (self.province == PROVINCES.index(item[6:]))
            else:
                m[self.index(item, field)] = True
        return m


def load_places(sectors: Sectors) -> Places:
    regions = _read_csv("regions.csv")
    parks = _read_csv("parks.csv")
    weights = {r["region"]: float(r["weight"]) for r in _read_csv("region_weights.csv")}
    region_ids = [r["id"] for r in regions]
    ids, names, is_park, region, province, lat, lon, opens, capacity = ([] for _ in range(9))
    spec = []
    for i, r in enumerate(regions):
        ids.append(r["id"])
        names.append(r["name"])
        is_park.append(False)
        region.append(i)
        province.append(PROVINCES.index(r["province"]))
        lat.append(float(r["lat"]))
        lon.append(float(r["lon"]))
        opens.append(quarter_of(r["opens"], f"regions.csv:{r['id']}.opens") if r["opens"] else -1)
        capacity.append(np.inf)
        spec.append(np.zeros(len(sectors.ids), dtype=bool))
    for p in parks:
        field = f"parks.csv:{p['id']}"
        if p["region"] not in region_ids:
            raise ConfigError(f"{field}.region", f"unknown region '{p['region']}'")
        ri = region_ids.index(p["region"])
        ids.append(p["id"])
        names.append(p["name"])
        is_park.append(True)
        region.append(ri)
        province.append(province[ri])
        lat.append(float(p["lat"]))
        lon.append(float(p["lon"]))
        own = quarter_of(p["opens"], f"{field}.opens") if p["opens"] else -1
        opens.append(max(own, opens[ri]))  # a park cannot open before its region exists
        capacity.append(float(p["capacity"]))
        spec.append(sectors.mask(p["sectors"].split(";"), f"{field}.sectors"))
    province_arr = np.array(province)
    w = np.array([weights.get(i, 0.0) if k < len(regions) else 0.0 for k, i in enumerate(ids)])
    for prov in range(len(PROVINCES)):
        sel = (province_arr == prov) & ~np.array(is_park)
        w[sel] = w[sel] / w[sel].sum()
    return Places(
        ids=tuple(ids),
        names=tuple(names),
        is_park=np.array(is_park),
        region=np.array(region),
        province=province_arr,
        lat=np.array(lat),
        lon=np.array(lon),
        opens=np.array(opens),
        capacity=np.array(capacity),
        specialised=np.array(spec),
        region_weight=w,
        n_regions=len(regions),
    )


def load_rail_links() -> list[tuple[str, str]]:
    """(region id, opening date) of each fast rail link to Beijing."""
    return [(r["region"], r["opens"]) for r in _read_csv("rail_links.csv")]


class Geography:
    """Distances, travel times to Beijing (dated by rail openings) and cost levels.

    Travel time to Beijing core, hours, of place p in quarter q:
        road:  circuity * d_p / road_speed
        rail:  rail_access + circuity * d_r / rail_speed + circuity * d(r, p) / road_speed
    where d_p is the great-circle distance of p to Beijing core, r the place's region and the
    rail term applies from the quarter its region's fast link opened; the ``rail.speedup``
    lever shortens the in-train part (the middle term) by the share it gives. The time is the smaller
    of the two. Cost level (1 in Beijing core) falls with distance from the two cores, as in a
    bid-rent gradient: max(exp(-d_BJ / decay), tianjin_ratio * exp(-d_TJ / decay)).
    """

    def __init__(self, places: Places, world_params, rail_links, horizon_quarters: int):
        p = world_params
        bj = places.index(_BEIJING_REF, "world")
        tj = places.index(_TIANJIN_REF, "world")
        d_bj = haversine_km(places.lat, places.lon, places.lat[bj], places.lon[bj])
        d_tj = haversine_km(places.lat, places.lon, places.lat[tj], places.lon[tj])
        d_region = d_bj[places.region]
        d_to_region = haversine_km(places.lat, places.lon, places.lat[places.region], places.lon[places.region])
        road = p.circuity * d_bj / p.road_speed_kmh
        self._rail_access = p.rail_access_hours + p.circuity * d_to_region / p.road_speed_kmh
        self._rail_ride = p.circuity * d_region / p.rail_speed_kmh
        rail_from = np.full(len(places.ids), NEVER)
        for region_id, opens in rail_links:
            ri = places.index(region_id, "rail_links")
            q = quarter_of(opens, f"rail_links:{region_id}.opens")
            sel = places.region == ri
            rail_from[sel] = np.minimum(rail_from[sel], q)
        self.distance_km = d_bj
        self.rail_from = rail_from
        self._road = road
        self.cost = np.maximum(np.exp(-d_bj / p.cost_decay_km), p.tianjin_cost_ratio * np.exp(-d_tj / p.cost_decay_km))
        self.horizon_quarters = horizon_quarters

    def travel_time(self, quarter: int, rail_speedup: float = 0.0) -> np.ndarray:
        """Hours to Beijing core from every place in ``quarter``; ``rail_speedup`` is the share
        of in-train time saved by faster services (the ``rail.speedup`` lever)."""
        has_rail = self.rail_from <= quarter
        rail = self._rail_access + (1.0 - rail_speedup) * self._rail_ride
        return np.where(has_rail, np.minimum(self._road, rail), self._road)

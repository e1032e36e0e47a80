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
import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import quarter_of

PROVINCES = ("beijing", "tianjin", "hebei")
# Park types (parks.csv ``type``), each with its own constant in the location choice
# (choice.asc_park_science, choice.asc_park_industrial): science and technology parks built
# with Zhongguancun or as high-tech parks, and industrial or sector parks.
PARK_TYPES = ("science", "industrial")
BEIJING, TIANJIN, HEBEI = 0, 1, 2
NEVER = 10**6  # quarter index meaning "never" (for places that do not open)

# Reference points for distances: Beijing core and Tianjin central (regions.csv).
_BEIJING_REF = "beijing_core"
_TIANJIN_REF = "tianjin_central"
_EARTH_RADIUS_KM = 6371.0


def read_csv(name: str) -> list[dict[str, str]]:
    """The rows of package data file ``name`` (in jjj_sim/data/) as dicts of strings."""
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
    """All sectors (sectors.csv) as parallel arrays."""

    ids: tuple[str, ...]
    industrial: np.ndarray  # bool [S]
    hightech_prob: np.ndarray  # float [S]
    polluting_prob: np.ndarray  # float [S]
    share: np.ndarray  # float [3 provinces, S], rows sum to 1

    def index(self, sector: str, field: str) -> int:
        """Index of sector id ``sector``; ConfigError naming ``field`` if unknown."""
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
    """The sectors from sectors.csv; ConfigError if a province's shares do not sum to 1."""
    rows = read_csv("sectors.csv")
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
    capacity: np.ndarray  # float [P]: firm slots in real firms (inf for regions and for parks with no physical limit)
    park_type: tuple[str, ...]  # a park's type (PARK_TYPES; "" for regions): the constant of its pull
    specialised: np.ndarray  # bool [P, S]: park specialisation
    region_weight: np.ndarray  # float [P]: share of its province's firms (regions only)
    n_regions: int

    @functools.cached_property
    def province_masks(self) -> np.ndarray:
        """bool [3, P]: the places (regions and parks) of each province."""
        masks = self.province[None, :] == np.arange(len(PROVINCES))[:, None]
        masks.flags.writeable = False
        return masks

    def index(self, place: str, field: str) -> int:
        """Index of place id ``place``; ConfigError naming ``field`` if unknown."""
        try:
            return self.ids.index(place)
        except ValueError:
            raise ConfigError(field, f"unknown place '{place}' (known: {', '.join(self.ids)})") from None

    @property
    def parks(self) -> np.ndarray:
        """Indices of the named parks, in order."""
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


@functools.cache
def park_ids() -> tuple[str, ...]:
    """The named parks' ids, in parks.csv order."""
    return tuple(r["id"] for r in read_csv("parks.csv"))


def _park_capacity(text: str, field: str) -> float:
    """A park's hard capacity in real firms: blank (no physical limit is reported) is infinite."""
    if not text.strip():
        return np.inf
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(field, f"expected a number of firms or blank, got {text!r}") from None
    if not value > 0:
        raise ConfigError(field, f"must be > 0 or blank, got {text!r}")
    return value


def load_places(sectors: Sectors) -> Places:
    """The places from regions.csv, parks.csv and region_weights.csv (a bad park entry or date is
    a ConfigError naming the file and row); a park opens no earlier than its region."""
    regions = read_csv("regions.csv")
    parks = read_csv("parks.csv")
    weights = {r["region"]: float(r["weight"]) for r in read_csv("region_weights.csv")}
    region_ids = [r["id"] for r in regions]
    ids, names, is_park, region, province, lat, lon, opens, capacity, ptype = ([] for _ in range(10))
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
        ptype.append("")
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
        capacity.append(_park_capacity(p["capacity"], f"{field}.capacity"))
        if p["type"] not in PARK_TYPES:
            raise ConfigError(f"{field}.type", f"unknown park type '{p['type']}' (known: {', '.join(PARK_TYPES)})")
        ptype.append(p["type"])
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
        park_type=tuple(ptype),
        specialised=np.array(spec),
        region_weight=w,
        n_regions=len(regions),
    )


@dataclass(frozen=True)
class RailLink:
    """A fast rail link from Beijing to a region, open from a date (rail_links.csv)."""

    region: str
    opens: str
    via: str = ""  # route through another region (e.g. Tangshan via Tianjin before 2022)
    hours: float | None = None  # reported fastest in-train time from Beijing, where a source gives one
    speed_kmh: float | None = None  # scenario links: average in-train speed instead of hours


def rail_hours(value, field: str) -> float | None:
    """A link's in-train hours (None where not given), checked: a finite number > 0."""
    if value is None or value == "":
        return None
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise ConfigError(field, f"'{value}' is not a number") from None
    if not np.isfinite(hours) or hours <= 0:
        raise ConfigError(field, f"must be a number > 0, got {value}")
    return hours


def load_rail_links() -> list[RailLink]:
    """Every dated fast rail link to Beijing (a region may have several)."""
    out = []
    for r in read_csv("rail_links.csv"):
        field = f"rail_links.csv:{r['region']}.{r['opens']}"
        out.append(RailLink(r["region"], r["opens"], r.get("via", "") or "", rail_hours(r.get("hours"), f"{field}.hours")))
    return out


class Geography:
    """Distances, travel times to Beijing (dated by rail openings) and cost levels.

    Travel time to Beijing core, hours, of place p in quarter q:
        road:  circuity * d_p / road_speed
        rail:  min over the links of p's region open in q of
               rail_access + (1 - speedup) * ride(link) + circuity * d(r, p) / road_speed
        ride(link) = the link's reported fastest in-train time where rail_links.csv gives one,
                     else circuity * (route length) / speed (a scenario link's ``speed_kmh``,
                     else ``rail_speed_kmh``), the route running through
                     the link's ``via`` region where it has one (d(BJ, via) + d(via, r)),
                     else straight (d(BJ, r))
    where d_p is the great-circle distance of p to Beijing core and r the place's region;
    the ``rail.speedup`` lever shortens the in-train part by the share it gives (and
    ``rail.speedups`` that of one region's links, multiplicatively). Every dated
    link counts: a later, faster link (the Dec 2022 Beijing-Tangshan line) shortens the time
    from its opening quarter. The time is the smaller of road and rail. Cost level (1 in
    Beijing core) falls with distance from the two cores, as in a bid-rent gradient:
    max(exp(-d_BJ / decay), tianjin_ratio * exp(-d_TJ / decay)).
    """

    def __init__(self, places: Places, world_params, rail_links, horizon_quarters: int):
        p = world_params
        bj = places.index(_BEIJING_REF, "world")
        tj = places.index(_TIANJIN_REF, "world")
        d_bj = haversine_km(places.lat, places.lon, places.lat[bj], places.lon[bj])
        d_tj = haversine_km(places.lat, places.lon, places.lat[tj], places.lon[tj])
        d_to_region = haversine_km(places.lat, places.lon, places.lat[places.region], places.lon[places.region])
        self._road = p.circuity * d_bj / p.road_speed_kmh
        self._rail_access = p.rail_access_hours + p.circuity * d_to_region / p.road_speed_kmh
        # links as (opening quarter, in-train hours, region id, opening month) per place
        links: list[list[tuple[int, float, str, str]]] = [[] for _ in places.ids]
        for link in rail_links:
            if not isinstance(link, RailLink):  # scenario additions: (region, opens)
                link = RailLink(*link)
            field = f"rail_links:{link.region}"
            ri = places.index(link.region, f"{field}.region")
            q = quarter_of(link.opens, f"{field}.opens")
            speed = link.speed_kmh or p.rail_speed_kmh
            if link.hours is not None:
                ride = float(link.hours)
            elif link.via:
                vi = places.index(link.via, f"{field}.via")
                route = d_bj[vi] + haversine_km(places.lat[vi], places.lon[vi], places.lat[ri], places.lon[ri])
                ride = p.circuity * route / speed
            else:
                ride = p.circuity * d_bj[ri] / speed
            for k in np.flatnonzero(places.region == ri):
                links[k].append((q, ride, link.region, link.opens))
        self.links = links
        self.rail_from = np.array([min((ln[0] for ln in ls), default=NEVER) for ls in links])
        self._changes = sorted({ln[0] for ls in links for ln in ls})
        self.distance_km = d_bj
        self.cost = np.maximum(np.exp(-d_bj / p.cost_decay_km), p.tianjin_cost_ratio * np.exp(-d_tj / p.cost_decay_km))
        self.horizon_quarters = horizon_quarters
        self._cache: dict[tuple[int, float, tuple], np.ndarray] = {}  # (last link opened, speed-up, link speed-ups)

    def ride_hours(self, quarter: int, link_speedups=()) -> np.ndarray:
        """Fastest in-train hours from Beijing of every place in ``quarter`` (inf: no link yet);
        ``link_speedups``: ((region id, opening month or '' for all its links, share saved), ...)."""

        def factor(region, opens):
            f = 1.0
            for r, o, s in link_speedups:
                if r == region and (not o or o == opens):
                    f *= 1.0 - s
            return f

        return np.array([min((h * factor(r, o) for q, h, r, o in ls if q <= quarter), default=np.inf)
                         for ls in self.links])

    def travel_time(self, quarter: int, rail_speedup: float = 0.0, link_speedups=()) -> np.ndarray:
        """Hours to Beijing core from every place in ``quarter``; ``rail_speedup`` is the share
        of in-train time saved on every link (the ``rail.speedup`` lever), ``link_speedups``
        the shares saved on single regions' links (``rail.speedups``)."""
        # the network changes only when a link opens: key the cache on the last opening so far
        last = max((q for q in self._changes if q <= quarter), default=-(10**9))
        key = (last, float(rail_speedup), tuple(link_speedups))
        t = self._cache.get(key)
        if t is None:
            rail = self._rail_access + (1.0 - rail_speedup) * self.ride_hours(quarter, link_speedups)
            t = np.minimum(self._road, rail)
            t.flags.writeable = False  # handed to every caller (and, shared, to every run in the process)
            self._cache[key] = t
        return t

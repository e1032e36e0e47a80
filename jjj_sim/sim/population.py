"""The firm table: one row per firm (legal unit) or branch, as numpy columns.

A row is never reused or deleted: a firm that closes or exits is marked dead, so the row
number is a stable firm id and "no firm lost or duplicated" is checkable. Columns grow
geometrically (by half their capacity) as firms are born, so appending is amortised O(1).

Also builds the synthetic 2014 population from the documented aggregates
(``jjj_sim/data/``): end-2013 legal units by province, split among regions by
``region_weights.csv`` and among sectors by ``sectors.csv``.
"""

from __future__ import annotations

import numpy as np

from jjj_sim.sim.world import BEIJING, PROVINCES, Places, Sectors

# Flag bits
ZGC = np.uint8(1)  # Zhongguancun enterprise (Beijing high-tech zone)
HIGHTECH = np.uint8(2)  # high-tech enterprise
POLLUTING = np.uint8(4)  # polluting
BRANCH = np.uint8(8)  # a branch (not a legal unit): opened by a parent firm

NO_PARENT = -1
NEVER = np.iinfo(np.int32).max

COLUMNS = {
    "place": np.int16,  # current place (world.Places index)
    "sector": np.int8,
    "flags": np.uint8,
    "size": np.float32,  # employees (value added is proportional to it)
    "origin": np.int8,  # province where the firm was at the start (or birth); a branch: its parent's at opening
    "parent": np.int32,  # row of the parent firm for branches, else -1
    "born": np.int32,  # quarter of birth (-1 for the initial stock)
    "exit_at": np.int32,  # quarter of the scheduled ordinary exit
    "alive": np.bool_,
    "branches": np.int16,  # branches this firm has opened (the branching hazard falls with it)
}


class FirmTable:
    """Columnar firm table. ``t.place`` etc. are views of the first ``t.n`` rows."""

    def __init__(self, capacity: int = 1024):
        self._cols = {k: np.empty(max(capacity, 16), dtype=d) for k, d in COLUMNS.items()}
        self._resize(0)

    def _resize(self, n: int) -> None:
        """Set the number of rows and the column views (plain attributes: read in every rule)."""
        self.n = n
        for name, arr in self._cols.items():
            setattr(self, name, arr[:n])

    def append(self, **values) -> np.ndarray:
        """Append rows given as equal-length arrays (every column); return their row ids."""
        if set(values) != set(COLUMNS):
            missing = set(COLUMNS) - set(values)
            raise ValueError(f"append needs every column; missing {sorted(missing)}")
        k = len(values["place"])
        need = self.n + k
        cap = len(self._cols["place"])
        if need > cap:
            new_cap = max(need, int(cap * 1.5) + 16)
            for name, arr in self._cols.items():
                grown = np.empty(new_cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._cols[name] = grown
        for name, v in values.items():
            self._cols[name][self.n : need] = v
        rows = np.arange(self.n, need)
        self._resize(need)
        return rows

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns, allocated capacity included."""
        return sum(a.nbytes for a in self._cols.values())


def draw_attributes(rng: np.random.Generator, sector: np.ndarray, province: np.ndarray,
                    sectors: Sectors, pop_cfg) -> tuple[np.ndarray, np.ndarray]:
    """Flags and sizes for new firms of given sectors and provinces."""
    k = len(sector)
    u = rng.random((3, k))
    hightech = u[0] < sectors.hightech_prob[sector]
    polluting = u[1] < sectors.polluting_prob[sector]
    zgc = hightech & (province == BEIJING) & (u[2] < pop_cfg.zgc_share_of_beijing_hightech)
    flags = (hightech * HIGHTECH) | (polluting * POLLUTING) | (zgc * ZGC)
    size = rng.lognormal(np.log(pop_cfg.size_median), pop_cfg.size_sigma, k).astype(np.float32)
    return flags, size


def draw_lifetimes(rng: np.random.Generator, k: int, born: int, exit_q: float) -> np.ndarray:
    """Quarter of ordinary exit: a geometric lifetime with quarterly hazard ``exit_q``."""
    if exit_q <= 0:
        return np.full(k, NEVER, dtype=np.int32)
    life = rng.geometric(exit_q, k)
    return np.minimum(born + life, NEVER).astype(np.int32)


def synthesise(rng: np.random.Generator, places: Places, sectors: Sectors, counts_2013: dict,
               pop_cfg, scale: float, exit_q: float, expected_rows: int = 0) -> FirmTable:
    """The end-2013 stock: legal units by province -> region -> sector, with attributes.

    ``expected_rows``: rows the whole run is expected to create, to size the table once.
    """
    place_parts, sector_parts = [], []
    for prov, name in enumerate(PROVINCES):
        n = int(round(counts_2013[name] * scale))
        regions = np.flatnonzero((places.province == prov) & ~places.is_park)
        w = places.region_weight[regions]
        per_region = rng.multinomial(n, w / w.sum())
        for r, nr in zip(regions, per_region):
            per_sector = rng.multinomial(nr, sectors.share[prov])
            place_parts.append(np.full(nr, r, dtype=np.int16))
            sector_parts.append(np.repeat(np.arange(len(sectors.ids), dtype=np.int8), per_sector))
    place = np.concatenate(place_parts)
    sector = np.concatenate(sector_parts)
    province = places.province[place]
    flags, size = draw_attributes(rng, sector, province, sectors, pop_cfg)
    k = len(place)
    table = FirmTable(capacity=max(k, int(expected_rows)))
    table.append(
        place=place, sector=sector, flags=flags, size=size, origin=province.astype(np.int8),
        parent=np.full(k, NO_PARENT, dtype=np.int32), born=np.full(k, -1, dtype=np.int32),
        exit_at=draw_lifetimes(rng, k, -1, exit_q), alive=np.ones(k, dtype=bool),
        branches=np.zeros(k, dtype=np.int16),
    )
    return table

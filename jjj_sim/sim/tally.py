"""The per-place tallies of alive rows (``Tally``), kept in step with the firm table by the
model's ``add_firms``, ``move_firms`` and ``remove_firms``: indicators and rules read counts by
place and sector here in O(places x sectors) instead of scanning the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jjj_sim.sim.population import BRANCH, HIGHTECH, ZGC


@dataclass
class Tally:
    """Alive rows by place, kept in step with the firm table."""

    legal: np.ndarray  # int [P, S]: legal units
    branches: np.ndarray  # int [P, S]
    zgc_branches: np.ndarray  # int [P]
    origin: np.ndarray  # int [P, 3]: legal units and branches by origin province
    industrial_size: np.ndarray  # float [P, 2]: employees of industrial rows, [not high-tech, high-tech]
    hightech_own: np.ndarray  # int [P, S]: high-tech legal units whose origin is the place's province
    province: np.ndarray  # int [P]: province of each place (fixed)

    @classmethod
    def empty(cls, province: np.ndarray, n_sectors: int) -> Tally:
        """All-zero tallies for the places of ``province`` (a province index per place) and ``n_sectors`` sectors."""
        n_places = len(province)
        return cls(np.zeros((n_places, n_sectors), np.int64), np.zeros((n_places, n_sectors), np.int64),
                   np.zeros(n_places, np.int64), np.zeros((n_places, 3), np.int64), np.zeros((n_places, 2)),
                   np.zeros((n_places, n_sectors), np.int64), np.asarray(province))

    def update(self, place, sector, flags, origin, size, industrial, sign: int) -> None:
        """Count the rows in (``sign`` +1) or out (-1)."""
        n_places, n_sectors = self.legal.shape

        def count(total, counts):
            (np.add if sign > 0 else np.subtract)(total, counts.reshape(total.shape), out=total)

        place = place.astype(np.int64)
        branch = (flags & BRANCH) != 0
        hightech = (flags & HIGHTECH) != 0
        cell = place * n_sectors + sector
        # legal units [..., 0] and branches [..., 1] by place and sector, in one count
        by_kind = np.bincount(cell * 2 + branch, minlength=n_places * n_sectors * 2).reshape(n_places, n_sectors, 2)
        count(self.legal, by_kind[..., 0])
        count(self.branches, by_kind[..., 1])
        count(self.zgc_branches, np.bincount(place[branch & ((flags & ZGC) != 0)], minlength=n_places))
        count(self.origin, np.bincount(place * 3 + origin, minlength=n_places * 3))
        own_ht = ~branch & hightech & (origin == self.province[place])
        count(self.hightech_own, np.bincount(cell[own_ht], minlength=n_places * n_sectors))
        ind = np.flatnonzero(industrial[sector])  # row numbers: indexing with them is faster than with a mask
        count(self.industrial_size,
              np.bincount(place[ind] * 2 + hightech[ind], weights=size[ind], minlength=n_places * 2))

    @property
    def occupancy(self) -> np.ndarray:
        """Rows (legal units and branches) per place."""
        return self.legal.sum(axis=1) + self.branches.sum(axis=1)

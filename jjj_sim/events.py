"""The event log: one row per closure, relocation, branch, entry, exit, de-capacity closure
and high-tech upgrade (a firm of Hebei that becomes high-tech where it is).

Stored as compact numpy chunks while the model runs and turned into a table at the end.
``src``/``dst`` are place indices (-1: none); ``parent`` is the parent's row for branches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = ("closure", "relocation", "branch", "entry", "exit", "decapacity", "upgrade")


class EventLog:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._chunks: list[tuple] = []
        self.counts = dict.fromkeys(KINDS, 0)

    def add(self, kind: str, quarter: int, firm, src, dst, sector, parent=None) -> None:
        k = len(firm)
        self.counts[kind] += k
        if not self.enabled or k == 0:
            return
        self._chunks.append((
            np.full(k, KINDS.index(kind), np.int8), np.full(k, quarter, np.int16),
            np.asarray(firm, np.int32), np.asarray(src, np.int16), np.asarray(dst, np.int16),
            np.asarray(sector, np.int8), np.full(k, -1, np.int32) if parent is None else np.asarray(parent, np.int32),
        ))

    def arrays(self) -> dict[str, np.ndarray]:
        names = ("kind", "quarter", "firm", "src", "dst", "sector", "parent")
        if not self._chunks:
            return {n: np.empty(0, dtype=np.int64) for n in names}
        return {n: np.concatenate([c[i] for c in self._chunks]) for i, n in enumerate(names)}

    def to_frame(self, place_ids, sector_ids, quarter_dates) -> pd.DataFrame:
        a = self.arrays()
        place_cat = pd.Categorical.from_codes(np.asarray(a["src"], np.int64), categories=list(place_ids)) \
            if len(a["src"]) else pd.Categorical([], categories=list(place_ids))
        dst_cat = pd.Categorical.from_codes(np.asarray(a["dst"], np.int64), categories=list(place_ids)) \
            if len(a["dst"]) else pd.Categorical([], categories=list(place_ids))
        return pd.DataFrame({
            "date": pd.Categorical.from_codes(np.asarray(a["quarter"], np.int64), categories=list(quarter_dates)),
            "event": pd.Categorical.from_codes(np.asarray(a["kind"], np.int64), categories=list(KINDS)),
            "firm": a["firm"],
            "from_place": place_cat,
            "to_place": dst_cat,
            "sector": pd.Categorical.from_codes(np.asarray(a["sector"], np.int64), categories=list(sector_ids)),
            "parent": a["parent"],
        })

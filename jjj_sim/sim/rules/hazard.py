"""Who acts this quarter: Bernoulli hazards drawn without touching every firm.

``draw(rng, n, p_max)`` returns the rows of 0..n-1 that each pass an independent
Bernoulli(p_max) draw, by jumping between hits with geometric gaps: its cost grows with the
number of hits (n * p_max), not with n. ``thin`` then keeps each candidate row with
probability p_row / p_max, so a row is selected with exactly probability p_row (thinning,
Lewis and Shedler 1979). Rows that are not eligible get p_row = 0.
"""

from __future__ import annotations

import numpy as np

_EMPTY = np.empty(0, dtype=np.int64)


def draw(rng: np.random.Generator, n: int, p_max: float) -> np.ndarray:
    """Rows of 0..n-1, each included independently with probability ``p_max``."""
    if n <= 0 or p_max <= 0:
        return _EMPTY
    if p_max >= 1:
        return np.arange(n, dtype=np.int64)
    expected = n * p_max
    chunk = int(expected + 5 * np.sqrt(expected) + 32)
    parts, last = [], -1
    while True:
        pos = last + np.cumsum(rng.geometric(p_max, chunk))
        parts.append(pos)
        last = int(pos[-1])
        if last >= n:
            break
    rows = np.concatenate(parts)
    return rows[rows < n]


def thin(rng: np.random.Generator, rows: np.ndarray, p_rows: np.ndarray, p_max: float) -> np.ndarray:
    """Keep each of ``rows`` (drawn with ``draw(..., p_max)``) with probability p_rows / p_max,
    so each row is selected with probability min(p_row, 1). Hazards above 1 count as 1."""
    if len(rows) == 0:
        return rows
    return rows[rng.random(len(rows)) * min(p_max, 1.0) < p_rows]

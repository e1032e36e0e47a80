"""Random seeds: the seeds of an ensemble, spawned from one master seed (common random numbers).
"""

from __future__ import annotations

import numpy as np


def replication_seeds(seed: int, n: int) -> list[int]:
    """n seeds spawned from one SeedSequence: the same for every parameter set and scenario
    (common random numbers)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]

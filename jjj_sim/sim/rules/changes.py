"""How a rule changes the firm table: the ``FirmChanges`` interface every rule's context holds.

A rule reads the state in its context and applies its changes only through these methods.
``RelocationModel`` implements them (``add_firms``, ``move_firms``, ``remove_firms`` keep the
per-place tallies, the cumulative counters and the event log in step with the table); a test
can pass a fake that records the calls or applies them to a small table.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class FirmChanges(Protocol):
    """The firm-table changes a rule may make (implemented by ``RelocationModel``)."""

    def add_firms(self, place, sector, flags, origin, parent, kind: str, rng=None,
                  initial: bool = False) -> np.ndarray:
        """Append firms (``flags`` None: drawn from ``rng``); return their rows."""

    def move_firms(self, rows, dest, kind: str) -> None:
        """Move ``rows`` to the places ``dest``."""

    def remove_firms(self, rows, kind: str) -> None:
        """Mark ``rows`` dead (closure, exit, de-capacity)."""

    def upgrade_firms(self, rows) -> None:
        """Make ``rows`` high-tech where they are."""

    def count_campaign(self, rows) -> None:
        """Count ``rows`` as handled by the closure campaign (before they move or close)."""

"""Branching: firms in Beijing and Tianjin open branches in another province of the region.

"Beijing R&D + Tianjin-Hebei manufacturing": the parent stays, the branch is a new row
(flag BRANCH, parent = the parent's row, sector and ZGC/high-tech flags copied, origin = the
parent's province). Hazard per quarter of a parent (a legal unit in an origin province) that has already opened
n branches:
    h = h0 * branching.repeat_factor ** n * (1 + branching.innovation_community_boost * innovation_community(t))
    h0: zgc: branching.zgc_quarterly_hazard; other high-tech: branching.hightech_quarterly_hazard;
        others: branching.other_quarterly_hazard.
The mechanism is saturation: a parent's need for production or sales sites in Tianjin and Hebei
is met by its first branches, so each branch it already has multiplies its hazard by
``repeat_factor`` (in [0, 1]; 1: no saturation, a constant hazard; 0: at most one branch each).
Branching then grows with the parents that have not yet branched (new ZGC firms in Beijing)
and slows when they are used up and Beijing's firm growth slows, as the record does (3,500+ in
2013, 6,149 in 2017, 8,816 in 2020, more than 10,000 in 2023; targets T2, T7, T10).
Destinations: open places of Tianjin and Hebei outside the parent's province, chosen with
the location-choice model (no stay option).

Reads (``BranchingContext``): the firm table (place, sector, flags, alive, branches), the
places' provinces (and which are parks, for the starting stock), which places are in an origin
province, the innovation-community lever in force, ``params.branching`` and
``params.choice.sample_size``, the quarter's choice context and the ``branching`` stream.
Changes: the new branches, through ``changes.add_firms`` (kind ``branch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from jjj_sim.sim.policy import PolicyState
from jjj_sim.sim.population import BRANCH, HIGHTECH, ZGC, FirmTable
from jjj_sim.sim.rules import hazard
from jjj_sim.sim.rules.changes import FirmChanges
from jjj_sim.sim.rules.choice import NONE, ChoiceContext, choose
from jjj_sim.sim.world import BEIJING, Places


@dataclass(frozen=True)
class BranchingContext:
    """What branching reads, and where it applies its changes."""

    firms: FirmTable
    places: Places  # reads province, is_park
    origin_place_mask: np.ndarray  # bool [P]: places in relocation.origin_provinces
    policy_state: PolicyState  # reads innovation_community
    params: SimpleNamespace  # reads branching.*, choice.sample_size
    choice_context: ChoiceContext
    stream: np.random.Generator
    changes: FirmChanges


def parent_hazard(ctx, flags: np.ndarray, branches: np.ndarray | int = 0) -> np.ndarray:
    """Quarterly branching hazard of parents with ``flags`` that have opened ``branches``
    (``ctx``: anything with ``params.branching`` and ``policy_state``, e.g. the model)."""
    p = ctx.params.branching
    boost = 1.0 + p.innovation_community_boost * ctx.policy_state.innovation_community
    h = np.where((flags & ZGC) != 0, p.zgc_quarterly_hazard,
                 np.where((flags & HIGHTECH) != 0, p.hightech_quarterly_hazard, p.other_quarterly_hazard))
    return h * boost * np.power(p.repeat_factor, branches)


def open_branches(ctx: BranchingContext, parents: np.ndarray, initial: bool = False) -> np.ndarray:
    """Choose places for branches of ``parents`` and add them; return the new rows.
    ``initial``: the starting stock, placed in the cities only (no park is counted before 2014)."""
    t, places = ctx.firms, ctx.places
    origin = places.province[t.place[parents]]
    # a branch goes to Tianjin or Hebei, to another province than its parent's
    allowed = (places.province[None, :] != BEIJING) & (places.province[None, :] != origin[:, None])
    if initial:
        allowed &= ~places.is_park[None, :]
    rng = ctx.stream
    dest = choose(rng, ctx.choice_context, t.sector[parents], origin, allowed=allowed, stay=None,
                  sample_size=ctx.params.choice.sample_size)
    ok = dest != NONE
    parents, dest = parents[ok], dest[ok]
    flags = (t.flags[parents] & (ZGC | HIGHTECH)) | BRANCH
    return ctx.changes.add_firms(place=dest, sector=t.sector[parents], flags=flags,
                                 origin=places.province[t.place[parents]], parent=parents, kind="branch",
                                 rng=rng, initial=initial)


def apply(ctx: BranchingContext) -> None:
    """One quarter of branching: parents drawn by their hazard open a branch each."""
    t, rng = ctx.firms, ctx.stream
    h_max = float(parent_hazard(ctx, np.array([ZGC, HIGHTECH, 0], dtype=np.uint8)).max())
    rows = hazard.draw(rng, t.n, h_max)
    flags = t.flags[rows]
    eligible = t.alive[rows] & ((flags & BRANCH) == 0) & ctx.origin_place_mask[t.place[rows]]
    parents = hazard.thin(rng, rows, np.where(eligible, parent_hazard(ctx, flags, t.branches[rows]), 0.0), h_max)
    if len(parents):
        open_branches(ctx, parents)

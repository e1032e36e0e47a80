"""Branching: firms in Beijing and Tianjin open branches in another province of the region.

"Beijing R&D + Tianjin-Hebei manufacturing": the parent stays, the branch is a new row
(flag BRANCH, parent = the parent's row, sector and ZGC/high-tech flags copied, origin = the
parent's province). Hazard per quarter of a parent (a legal unit in an origin province):
    zgc: branching.zgc_quarterly_hazard; other high-tech: branching.hightech_quarterly_hazard;
    others: branching.other_quarterly_hazard;
    all times (1 + branching.innovation_community_boost * innovation_community(t)).
Destinations: open places of Tianjin and Hebei outside the parent's province, chosen with
the location-choice model (no stay option).
"""

from __future__ import annotations

import numpy as np

from jjj_sim.population import BRANCH, HIGHTECH, ZGC
from jjj_sim.rules import hazard
from jjj_sim.rules.choice import NONE, choose
from jjj_sim.world import BEIJING


def parent_hazard(model, flags: np.ndarray) -> np.ndarray:
    p = model.params.branching
    boost = 1.0 + p.innovation_community_boost * model.policy_state.innovation_community
    h = np.where((flags & ZGC) != 0, p.zgc_quarterly_hazard,
                 np.where((flags & HIGHTECH) != 0, p.hightech_quarterly_hazard, p.other_quarterly_hazard))
    return h * boost


def open_branches(model, parents: np.ndarray) -> np.ndarray:
    """Choose places for branches of ``parents`` and add them; return the new rows."""
    t, places = model.firms, model.places
    origin = places.province[t.place[parents]]
    # a branch goes to Tianjin or Hebei, to another province than its parent's
    allowed = (places.province[None, :] != BEIJING) & (places.province[None, :] != origin[:, None])
    rng = model.streams["branching"]
    dest = choose(rng, model.choice_context, t.sector[parents], origin, allowed=allowed, stay=None,
                  sample_size=model.params.choice.sample_size)
    ok = dest != NONE
    parents, dest = parents[ok], dest[ok]
    flags = (t.flags[parents] & (ZGC | HIGHTECH)) | BRANCH
    return model.add_firms(place=dest, sector=t.sector[parents], flags=flags,
                           origin=places.province[t.place[parents]], parent=parents, kind="branch", rng=rng)


def apply(model) -> None:
    t, rng = model.firms, model.streams["branching"]
    h_max = float(parent_hazard(model, np.array([ZGC, HIGHTECH, 0], dtype=np.uint8)).max())
    rows = hazard.draw(rng, t.n, h_max)
    flags = t.flags[rows]
    eligible = t.alive[rows] & ((flags & BRANCH) == 0) & model.origin_place_mask[t.place[rows]]
    parents = hazard.thin(rng, rows, np.where(eligible, parent_hazard(model, flags), 0.0), h_max)
    if len(parents):
        open_branches(model, parents)

"""Closure campaign: Beijing works through a finite list of targeted firms.

The campaign (``closure_campaign`` lever) names places and sectors. When the model starts it
draws the *campaign list*: ``closure.list_size`` real firms (times the population scale)
among the legal units of those sectors in those places, polluting firms
``closure.polluting_multiplier`` times as likely to be listed ("polluting firms first").
Each quarter the campaign handles its quota
    k = closure.annual_pace * intensity(t) * scale / 4, rounded down or up at random (to its mean)
firms of the list that are still there (alive, in a campaign place, a campaign sector),
capped at what is left, drawn from it with the same polluting weight. Of the firms handled,
a share ``closure.relocate_share`` relocate instead, to a place the campaign does not cover
(Tianjin and Hebei under the reported lever), chosen with the location-choice model; the
others, and relocators that find no place, close. Handled firms leave the list; so do listed
firms that exit or move on their own. When the list is used up the campaign stops, whatever
its intensity: the record's "slowed to a trickle" after 2018 (targets T3-T6).

Intensity is the lever's value: 1.0 = the 2014-2016 plan (300 polluting firms a year, Xinhua,
12 Feb 2014), 500/300 from the 2017-2020 "relief, rectification and promotion" special
action (500 firms a year planned for 2017 and 2018), and so on (conf/policy/reported.yaml).
``closure_campaign.new_list`` adds firms to the list at a date (a scenario's second campaign).

Reads (``ClosureContext``): the firm table (place, sector, flags, alive), the places'
provinces, the levers in force (closure intensity, new list, campaign places and sectors),
``params.closure`` and ``params.choice.sample_size``, the population scale, the quarter's
choice context and the ``closure`` stream. Changes: the campaign list, passed in and returned;
the firms it handles, through ``changes`` (``count_campaign``, then ``move_firms`` for the
relocators placed, ``remove_firms`` for the others).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from jjj_sim.sim.policy import PolicyState
from jjj_sim.sim.population import BRANCH, POLLUTING, FirmTable
from jjj_sim.sim.rules.changes import FirmChanges
from jjj_sim.sim.rules.choice import NONE, ChoiceContext, choose
from jjj_sim.sim.world import Places


@dataclass(frozen=True)
class ClosureContext:
    """What the closure campaign reads, and where it applies its changes."""

    firms: FirmTable
    places: Places  # reads province
    policy_state: PolicyState  # reads closure, closure_new_list, closure_places, closure_sectors
    params: SimpleNamespace  # reads closure.*, choice.sample_size
    scale: float
    choice_context: ChoiceContext
    stream: np.random.Generator
    changes: FirmChanges


def _eligible(ctx: ClosureContext, rows: np.ndarray) -> np.ndarray:
    """Legal units still alive in a campaign place and sector."""
    t, st = ctx.firms, ctx.policy_state
    return (t.alive[rows] & ((t.flags[rows] & BRANCH) == 0) & st.closure_places[t.place[rows]]
            & st.closure_sectors[t.sector[rows]])


def _weights(ctx: ClosureContext, rows: np.ndarray) -> np.ndarray:
    return np.where((ctx.firms.flags[rows] & POLLUTING) != 0, ctx.params.closure.polluting_multiplier, 1.0)


def _pick(rng, rows: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """k of ``rows`` without replacement, with probability proportional to ``w``
    (Efraimidis-Spirakis keys: the k largest u ** (1 / w))."""
    if k >= len(rows):
        return rows
    keys = np.log(rng.random(len(rows))) / np.maximum(w, 1e-12)
    return rows[np.argpartition(-keys, k - 1)[:k]]


def add_to_list(ctx: ClosureContext, listed: np.ndarray, real_firms: float) -> np.ndarray:
    """The campaign list ``listed`` (sorted rows) with ``real_firms`` (times the scale) eligible
    firms not yet on it added."""
    k = int(round(real_firms * ctx.scale))
    if k <= 0:
        return listed
    cand = np.flatnonzero(_eligible(ctx, np.arange(ctx.firms.n)))
    cand = cand[~np.isin(cand, listed)]
    chosen = np.sort(_pick(ctx.stream, cand, _weights(ctx, cand), k))
    return np.union1d(listed, chosen)


def apply(ctx: ClosureContext, listed: np.ndarray) -> np.ndarray:
    """One quarter of the campaign; returns the campaign list left (``listed`` before)."""
    st, p, t, rng = ctx.policy_state, ctx.params.closure, ctx.firms, ctx.stream
    if st.closure_new_list > 0:
        listed = add_to_list(ctx, listed, st.closure_new_list)
    if st.closure <= 0 or len(listed) == 0:
        return listed
    listed = listed[_eligible(ctx, listed)]
    # an administrative campaign works to a plan: its quarter's quota, rounded at random
    quota = p.annual_pace * st.closure * ctx.scale / 4.0
    k = int(np.floor(quota) + (rng.random() < quota - np.floor(quota)))
    if k == 0 or len(listed) == 0:
        return listed
    hit = np.sort(_pick(rng, listed, _weights(ctx, listed), k))
    listed = np.setdiff1d(listed, hit, assume_unique=True)
    relocate = rng.random(len(hit)) < p.relocate_share
    movers = hit[relocate]
    dest = choose(rng, ctx.choice_context, t.sector[movers], ctx.places.province[t.place[movers]],
                  allowed=~st.closure_places, stay=None, sample_size=ctx.params.choice.sample_size)
    placed = dest != NONE
    ctx.changes.count_campaign(hit)
    ctx.changes.move_firms(movers[placed], dest[placed], kind="relocation")
    ctx.changes.remove_firms(np.concatenate([hit[~relocate], movers[~placed]]), kind="closure")
    return listed

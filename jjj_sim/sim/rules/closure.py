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
"""

from __future__ import annotations

import numpy as np

from jjj_sim.sim.population import BRANCH, POLLUTING
from jjj_sim.sim.rules.choice import NONE, choose


def _eligible(model, rows: np.ndarray) -> np.ndarray:
    t, full = model.firms, model._full_policy
    return (t.alive[rows] & ((t.flags[rows] & BRANCH) == 0) & full.closure_places[t.place[rows]]
            & full.closure_sectors[t.sector[rows]])


def _weights(model, rows: np.ndarray) -> np.ndarray:
    return np.where((model.firms.flags[rows] & POLLUTING) != 0, model.params.closure.polluting_multiplier, 1.0)


def _pick(rng, rows: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """k of ``rows`` without replacement, with probability proportional to ``w``
    (Efraimidis-Spirakis keys: the k largest u ** (1 / w))."""
    if k >= len(rows):
        return rows
    keys = np.log(rng.random(len(rows))) / np.maximum(w, 1e-12)
    return rows[np.argpartition(-keys, k - 1)[:k]]


def add_to_list(model, real_firms: float) -> None:
    """Add ``real_firms`` (times the scale) eligible firms not yet listed to the campaign list."""
    k = int(round(real_firms * model.scale))
    if k <= 0:
        return
    t = model.firms
    cand = np.flatnonzero(_eligible(model, np.arange(t.n)))
    cand = cand[~np.isin(cand, model.campaign_list)]
    chosen = np.sort(_pick(model.streams["closure"], cand, _weights(model, cand), k))
    model.campaign_list = np.union1d(model.campaign_list, chosen)


def apply(model) -> None:
    st, p, t, rng = model.policy_state, model.params.closure, model.firms, model.streams["closure"]
    if st.closure_new_list > 0:
        add_to_list(model, st.closure_new_list)
    if st.closure <= 0 or len(model.campaign_list) == 0:
        return
    listed = model.campaign_list
    model.campaign_list = listed = listed[_eligible(model, listed)]
    # an administrative campaign works to a plan: its quarter's quota, rounded at random
    quota = p.annual_pace * st.closure * model.scale / 4.0
    k = int(np.floor(quota) + (rng.random() < quota - np.floor(quota)))
    if k == 0 or len(listed) == 0:
        return
    hit = np.sort(_pick(rng, listed, _weights(model, listed), k))
    model.campaign_list = np.setdiff1d(listed, hit, assume_unique=True)
    relocate = rng.random(len(hit)) < p.relocate_share
    movers = hit[relocate]
    dest = choose(rng, model.choice_context, t.sector[movers], model.places.province[t.place[movers]],
                  allowed=~st.closure_places, stay=None, sample_size=model.params.choice.sample_size)
    placed = dest != NONE
    model.count_campaign(hit)
    model.move_firms(movers[placed], dest[placed], kind="relocation")
    model.remove_firms(np.concatenate([hit[~relocate], movers[~placed]]), kind="closure")

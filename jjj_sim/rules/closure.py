"""Closure campaign: firms of targeted sectors in targeted places shut down.

Hazard per quarter for an eligible firm (a legal unit in a place and sector the
``closure_campaign`` lever names):
    h = closure.quarterly_hazard * campaign(t) * (closure.polluting_multiplier if polluting)
A share ``closure.relocate_share`` of the firms hit relocate instead, to a place the
campaign does not cover (Tianjin and Hebei under the reported lever), chosen with the
location-choice model; those that find no place close.
"""

from __future__ import annotations

import numpy as np

from jjj_sim.population import BRANCH, POLLUTING
from jjj_sim.rules import hazard
from jjj_sim.rules.choice import NONE, choose


def apply(model) -> None:
    st, p, t, rng = model.policy_state, model.params.closure, model.firms, model.rng
    if st.closure <= 0:
        return
    h = p.quarterly_hazard * st.closure
    h_max = h * max(1.0, p.polluting_multiplier)
    rows = hazard.draw(rng, t.n, h_max)
    place, sector, flags = t.place[rows], t.sector[rows], t.flags[rows]
    eligible = t.alive[rows] & ((flags & BRANCH) == 0) & st.closure_places[place] & st.closure_sectors[sector]
    h_rows = np.where(eligible, h * np.where((flags & POLLUTING) != 0, p.polluting_multiplier, 1.0), 0.0)
    hit = hazard.thin(rng, rows, h_rows, h_max)
    if len(hit) == 0:
        return
    relocate = rng.random(len(hit)) < p.relocate_share
    movers = hit[relocate]
    dest = choose(rng, model.choice_context, t.sector[movers], model.places.province[t.place[movers]],
                  allowed=~st.closure_places, stay=None, sample_size=model.params.choice.sample_size,
                  max_rounds=model.params.choice.max_rounds)
    placed = dest != NONE
    model.move_firms(movers[placed], dest[placed], kind="relocation")
    model.remove_firms(np.concatenate([hit[~relocate], movers[~placed]]), kind="closure")

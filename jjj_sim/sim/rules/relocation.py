"""Relocation: who considers moving (a hazard), then where to (the location-choice model).

Eligible: legal units located in ``relocation.origin_provinces`` (Beijing and Tianjin: the
model follows firms leaving them). Hazard per quarter:
    h = relocation.base_quarterly_hazard * cost[place] ** relocation.cost_elasticity
        * (1 + relocation.push_effect * push[place](t))
(cost is 1 in Beijing core and falls with distance: the Beijing cost pressure). A firm that
considers moving chooses among the open places, its own place included with the stay bonus;
choosing its own place means it stays.
"""

from __future__ import annotations

import numpy as np

from jjj_sim.sim.population import BRANCH
from jjj_sim.sim.rules import hazard
from jjj_sim.sim.rules.choice import NONE, choose


def apply(model) -> None:
    st, p, t, rng = model.policy_state, model.params.relocation, model.firms, model.streams["relocation"]
    places = model.places
    h_place = (p.base_quarterly_hazard * model.geo.cost ** p.cost_elasticity
               * (1.0 + p.push_effect * st.push))
    h_place = np.where(model.origin_place_mask, h_place, 0.0)
    h_max = float(h_place.max())
    rows = hazard.draw(rng, t.n, h_max)
    eligible = t.alive[rows] & ((t.flags[rows] & BRANCH) == 0)
    movers = hazard.thin(rng, rows, np.where(eligible, h_place[t.place[rows]], 0.0), h_max)
    if len(movers) == 0:
        return
    here = t.place[movers].astype(np.int64)
    dest = choose(rng, model.choice_context, t.sector[movers], places.province[here],
                  allowed=np.ones(len(places.ids), dtype=bool), stay=here,
                  sample_size=model.params.choice.sample_size)
    moved = (dest != NONE) & (dest != here)
    model.move_firms(movers[moved], dest[moved], kind="relocation")

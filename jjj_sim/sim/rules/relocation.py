"""Relocation: who considers moving (a hazard), then where to (the location-choice model).

Eligible: legal units located in ``relocation.origin_provinces`` (Beijing and Tianjin: the
model follows firms leaving them). Hazard per quarter:
    h = relocation.base_quarterly_hazard * cost[place] ** relocation.cost_elasticity
        * (1 + relocation.push_effect * push[place](t))
(cost is 1 in Beijing core and falls with distance: the Beijing cost pressure). A firm that
considers moving chooses among the open places, its own place included with the stay bonus;
choosing its own place means it stays.

Reads (``RelocationContext``): the firm table (place, sector, flags, alive), the places'
provinces, the cost level of each place, which places are in an origin province, the push
lever in force, ``params.relocation`` and ``params.choice.sample_size``, the quarter's choice
context and the ``relocation`` stream. Changes: the movers, through ``changes.move_firms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from jjj_sim.sim.policy import PolicyState
from jjj_sim.sim.population import BRANCH, FirmTable
from jjj_sim.sim.rules import hazard
from jjj_sim.sim.rules.changes import FirmChanges
from jjj_sim.sim.rules.choice import NONE, ChoiceContext, choose
from jjj_sim.sim.world import Places


@dataclass(frozen=True)
class RelocationContext:
    """What relocation reads, and where it applies its changes."""

    firms: FirmTable
    places: Places  # reads province
    cost: np.ndarray  # float [P]: cost level (1 in Beijing core)
    origin_place_mask: np.ndarray  # bool [P]: places in relocation.origin_provinces
    policy_state: PolicyState  # reads push
    params: SimpleNamespace  # reads relocation.*, choice.sample_size
    choice_context: ChoiceContext
    stream: np.random.Generator
    changes: FirmChanges


def apply(ctx: RelocationContext) -> None:
    """One quarter of relocation: movers drawn by their hazard choose a place; those that pick
    another place move."""
    st, p, t, rng = ctx.policy_state, ctx.params.relocation, ctx.firms, ctx.stream
    h_place = (p.base_quarterly_hazard * ctx.cost ** p.cost_elasticity
               * (1.0 + p.push_effect * st.push))
    h_place = np.where(ctx.origin_place_mask, h_place, 0.0)
    h_max = float(h_place.max())
    rows = hazard.draw(rng, t.n, h_max)
    eligible = t.alive[rows] & ((t.flags[rows] & BRANCH) == 0)
    movers = hazard.thin(rng, rows, np.where(eligible, h_place[t.place[rows]], 0.0), h_max)
    if len(movers) == 0:
        return
    here = t.place[movers].astype(np.int64)
    province = ctx.places.province
    dest = choose(rng, ctx.choice_context, t.sector[movers], province[here],
                  allowed=np.ones(len(province), dtype=bool), stay=here,
                  sample_size=ctx.params.choice.sample_size)
    moved = (dest != NONE) & (dest != here)
    ctx.changes.move_firms(movers[moved], dest[moved], kind="relocation")

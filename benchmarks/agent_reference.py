"""The relocation rule written the plain Mesa way: one ``mesa.Agent`` per firm.

Used by the benchmark to compare the vectorised engine with a per-agent implementation of
the same rule (hazard of considering a move, then the sampled-alternative logit choice with
the same utilities), on the same population in the same process.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from jjj_sim.sim.rules import hazard
from jjj_sim.sim.rules.choice import choose


class FirmAgent(mesa.Agent):
    def __init__(self, model, place: int, sector: int, province: int, h: float):
        super().__init__(model)
        self.place, self.sector, self.province, self.h = place, sector, province, h
        self.dest = -1

    def step(self) -> None:
        m = self.model
        rnd = m.random
        self.dest = -1
        if rnd.random() >= self.h:
            return
        base, friction, prov, avail = m.base, m.friction, m.prov, m.avail
        others = [p for p in avail if p != self.place]
        sample = rnd.sample(others, min(m.sample_size - 1, len(others))) + [self.place]
        best, best_u = -1, -math.inf
        for p in sample:
            u = base[p][self.sector]
            if prov[p] != self.province:
                u -= friction[p]
            if p == self.place:
                u += m.stay_bonus
            u += -math.log(-math.log(rnd.random() or 5e-324))
            if u > best_u:
                best, best_u = p, u
        if best != self.place:
            self.dest = best


class AgentReference(mesa.Model):
    """Firms of the origin provinces of a RelocationModel, one agent each, quarter 0 utilities."""

    def __init__(self, source, seed: int):
        super().__init__(rng=seed)
        ctx = source.choice_context
        self.base = ctx.base.tolist()
        self.friction = ctx.friction.tolist()
        self.prov = source.places.province.tolist()
        self.avail = [int(p) for p in np.flatnonzero(ctx.open)]
        self.sample_size = int(source.params.choice.sample_size)
        self.stay_bonus = float(ctx.stay_bonus)
        t = source.firms
        h_place = vector_hazard(source)
        for r in np.flatnonzero(t.alive & source.origin_place_mask[t.place]):
            p = int(t.place[r])
            FirmAgent(self, p, int(t.sector[r]), int(source.places.province[p]), float(h_place[p]))

    def step(self) -> None:
        self.agents.shuffle_do("step")

    def destinations(self) -> np.ndarray:
        d = np.array([a.dest for a in self.agents], dtype=np.int64)
        return d[d >= 0]


def vector_hazard(source) -> np.ndarray:
    p = source.params.relocation
    h = p.base_quarterly_hazard * source.geo.cost ** p.cost_elasticity * (1 + p.push_effect * source.policy_state.push)
    return np.where(source.origin_place_mask, h, 0.0)


def vector_step(source, rng) -> np.ndarray:
    """The same rule on the firm table: hazard draw, thinning, vectorised choice."""
    t = source.firms
    h_place = vector_hazard(source)
    h_max = float(h_place.max())
    rows = hazard.draw(rng, t.n, h_max)
    movers = hazard.thin(rng, rows, np.where(t.alive[rows], h_place[t.place[rows]], 0.0), h_max)
    here = t.place[movers].astype(np.int64)
    ctx = source.choice_context
    ctx.free_slots[:] = np.inf  # no capacity in the comparison: the reference has none
    dest = choose(rng, ctx, t.sector[movers], source.places.province[here], np.ones(len(ctx.open), bool),
                  here, int(source.params.choice.sample_size))
    return dest[dest != here]

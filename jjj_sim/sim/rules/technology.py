"""Technology contracts from Beijing to Tianjin and Hebei: how many, and what each is worth.

Two mechanisms with their own parameters (``technology``):

Number. Contracts run through links between Beijing's R&D and production in Tianjin and
Hebei ("Beijing R&D + Tianjin-Hebei manufacturing"); the links the model follows are the
branches of Zhongguancun firms there, Z(t) (real units). Expected contracts per year:
    C(t) = C0 * (Z(t) / Z0) ** link_elasticity
             * (1 + basic_research_boost * basic_research(t) + innovation_community_boost * innovation_community(t))
with C0 = 3,176 contracts in 2013 (People's Daily Online, 23 Apr 2024) and Z0 = the 3,500
ZGC branches reported for 2013 (the links at the start; reported_inputs.yaml). ``link_elasticity`` below 1 says
that new links add contracts less than proportionally (most new branches are production,
not R&D, sites); it is fitted to the 2014-2020 count (target T8). Contracts in a quarter are
Poisson(C(t) / 4).

Value. Turnover per contract starts at its 2013 level (7.12 bn yuan / 3,176) and grows at
``value_growth_annual`` a year (fitted to the 2014-2020 turnover, T8: the record's
cumulative turnover over cumulative count is about three times the 2013 value per contract).

Reads (``TechnologyContext``): the quarter, the ZGC branches per place (``tally``), the
places' provinces, the basic-research and innovation-community levers in force,
``params.technology``, the reported 2013 contracts and branches (``inputs``), the population
scale and the ``technology`` stream. Changes nothing: ``apply`` returns the quarter's
``Contracts``, which the model records. The helpers (``links_real``, ``expected_per_year``,
``value_per_contract_bn``) read only fields the model has under the same names, so they take
the model too.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from jjj_sim.sim.policy import PolicyState
from jjj_sim.sim.tally import Tally
from jjj_sim.sim.world import HEBEI, TIANJIN, Places


@dataclass(frozen=True)
class TechnologyContext:
    """What the technology contracts read."""

    quarter: int
    tally: Tally  # reads zgc_branches
    places: Places  # reads province
    policy_state: PolicyState  # reads basic_research, innovation_community
    params: SimpleNamespace  # reads technology.*
    inputs: dict  # reads tech_contracts_bj_to_tjhb_2013, zgc_branches_tjhb_2013
    scale: float
    stream: np.random.Generator


class Contracts(NamedTuple):
    """A quarter's technology contracts from Beijing to Tianjin and Hebei."""

    count: int
    turnover_bn: float  # bn yuan


def links_real(ctx) -> float:
    """ZGC branches in Tianjin and Hebei, in real-firm units."""
    sel = (ctx.places.province == TIANJIN) | (ctx.places.province == HEBEI)
    return float(ctx.tally.zgc_branches[sel].sum()) / ctx.scale


def expected_per_year(ctx) -> float:
    """C(t): expected contracts a year at this quarter's links and levers."""
    p, st = ctx.params.technology, ctx.policy_state
    c0 = ctx.inputs["tech_contracts_bj_to_tjhb_2013"]["value"]["count"]
    z0 = ctx.inputs["zgc_branches_tjhb_2013"]["value"]
    boost = 1.0 + p.basic_research_boost * st.basic_research + p.innovation_community_boost * st.innovation_community
    return c0 * (max(links_real(ctx), 0.0) / z0) ** p.link_elasticity * boost


def value_per_contract_bn(ctx) -> float:
    """Turnover per contract this quarter, bn yuan: the 2013 value grown at ``value_growth_annual``."""
    inp = ctx.inputs["tech_contracts_bj_to_tjhb_2013"]["value"]
    years_since_2013 = (ctx.quarter + 1) / 4.0
    return inp["turnover_bn_yuan"] / inp["count"] * (1.0 + ctx.params.technology.value_growth_annual) ** years_since_2013


def apply(ctx: TechnologyContext) -> Contracts:
    """This quarter's contracts: Poisson(C(t) / 4), each worth this quarter's value."""
    count = int(ctx.stream.poisson(expected_per_year(ctx) / 4.0))
    return Contracts(count, count * value_per_contract_bn(ctx))

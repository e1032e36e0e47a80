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
"""

from __future__ import annotations

from jjj_sim.sim.world import HEBEI, TIANJIN


def links_real(model) -> float:
    """ZGC branches in Tianjin and Hebei, in real-firm units."""
    sel = (model.places.province == TIANJIN) | (model.places.province == HEBEI)
    return float(model.tally.zgc_branches[sel].sum()) / model.scale


def expected_per_year(model) -> float:
    p, st = model.params.technology, model.policy_state
    c0 = model.inputs["tech_contracts_bj_to_tjhb_2013"]["value"]["count"]
    z0 = model.inputs["zgc_branches_tjhb_2013"]["value"]
    boost = 1.0 + p.basic_research_boost * st.basic_research + p.innovation_community_boost * st.innovation_community
    return c0 * (max(links_real(model), 0.0) / z0) ** p.link_elasticity * boost


def value_per_contract_bn(model) -> float:
    inp = model.inputs["tech_contracts_bj_to_tjhb_2013"]["value"]
    years_since_2013 = (model.quarter + 1) / 4.0
    return inp["turnover_bn_yuan"] / inp["count"] * (1.0 + model.params.technology.value_growth_annual) ** years_since_2013


def apply(model) -> None:
    contracts = int(model.streams["technology"].poisson(expected_per_year(model) / 4.0))
    model.tech_contracts = contracts
    model.tech_turnover_bn = contracts * value_per_contract_bn(model)
    model.tech_contracts_cum += contracts
    model.tech_turnover_cum_bn += model.tech_turnover_bn

"""Technology contracts from Beijing to Tianjin and Hebei, driven by firm links.

A link is a firm or branch located in Tianjin or Hebei whose origin is Beijing (a branch of
a Beijing parent, or a Beijing firm that relocated there since 2014). Expected contracts
per year:
    C(t) = C0 * [(1 - s) + s * L(t) / L0] * (1 + basic_research_boost * basic_research(t)
                                              + innovation_community_boost * innovation_community(t))
with C0 = 3,176 contracts in 2013 (People's Daily Online, 23 Apr 2024), L0 = the 1,532
reported initial ZGC branches (the links at the start, up to rounding at scales below 1), and s = ``technology.linked_share`` the share
of the 2013 contracts that ran through links (an assumption). Contracts in a quarter are
Poisson(C(t) / 4); turnover = contracts * the 2013 turnover per contract (7.12 bn yuan /
3,176), grown at ``technology.value_growth_annual``.
"""

from __future__ import annotations

from jjj_sim.world import BEIJING


def links_real(model) -> float:
    """Beijing-origin firms and branches in Tianjin and Hebei, in real-firm units."""
    tjhb = model.places.province != BEIJING
    return float(model.tally.origin[tjhb, BEIJING].sum()) / model.scale


def apply(model) -> None:
    p = model.params.technology
    st = model.policy_state
    c0 = model.inputs["tech_contracts_bj_to_tjhb_2013"]["value"]["count"]
    turnover0 = model.inputs["tech_contracts_bj_to_tjhb_2013"]["value"]["turnover_bn_yuan"]
    l0 = model.inputs["zgc_branches_tjhb_2014"]["value"]
    s = p.linked_share
    boost = 1.0 + p.basic_research_boost * st.basic_research + p.innovation_community_boost * st.innovation_community
    expected = c0 * ((1 - s) + s * links_real(model) / l0) * boost
    contracts = int(model.rng.poisson(expected / 4.0))
    value = turnover0 / c0 * (1.0 + p.value_growth_annual) ** (model.quarter / 4.0)
    model.tech_contracts = contracts
    model.tech_turnover_bn = contracts * value

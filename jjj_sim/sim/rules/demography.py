"""Entry and exit of legal units.

Exit: every firm gets a geometric lifetime at birth with quarterly hazard
``demography.exit_annual_rate`` (converted to a quarter), so the exits of a quarter are
looked up, not drawn over the whole table.

Entry: births per province follow the census trajectory of legal units. The count of
legal units N_p grows at the constant log rate g_p that takes the end-2013 stock to the
end-2018 census count (Fourth Economic Census), and after 2018 that rate halves every
``demography.growth_half_life_years``. No published count of legal units for 2019 or 2020 was
found to fit it to, so it is an explicit scenario assumption with a stated range
(``growth_half_life_low`` to ``growth_half_life_high``, 1 to 4 years; central 2): the 2014-2018
boom followed the March 2014 registration reform and was fading by 2018 (Beijing's registered
enterprises grew 6.5% in 2018, Xinhua 23 Feb 2019, against 9.5% a year for its legal units
over 2013-2018). Posterior draws sample it from the range (log-uniform), so every comparison
with parameter uncertainty carries it; summary.json ``firm_stock`` records the value and basis. Births in a quarter ~ Poisson(scale * N_p(t) *
(quarterly growth + quarterly exit hazard)), so that without migration and closures the
stock follows the trajectory (births are set from the target, not the simulated stock). Births are split among a province's regions in proportion to the legal
units there (parks included) and among sectors by the province's sector mix.

Negative list: where it is in force, no births of its sectors (the reference's lever: "no new
firms of listed sectors in Beijing"; the model lists general manufacturing and polluting heavy
industry); the other sectors take their place, so the stock keeps its trajectory. The list also
names activities inside the other sectors (regional wholesale markets and logistics centres,
some services): the 2014 edition covered 32% of all industry classes, the 2015 edition 55%
("占全部国民经济行业分类的比例由32%提高到了55%", the Beijing Development and Reform Commission
on the 2015 edition, Beijing press of 25 Aug 2015, reprint m.fjcbsl.com/n/2015/0825/c1004-27511392.html). Its founders pick another activity of the same coarse sector, so the mix
is kept. Of all would-be founders in the list's places, a share ``demography.negative_list_coverage``
(at most 0.55, the 2015 share of classes) want a listed activity; those who still apply are
refused registration: a share that halves every
``demography.negative_list_deterrence_half_life_years`` since 2014 as founders learn the list
(deterrence). Refusals are counted (``registrations_refused_cum``; target T13: 12,300 by late
2015, 18,600 by end 2017, 22,800 by end 2019, slowing as the list became known).
Sectors barred by Hebei's de-capacity get no births at all.

Reads (``DemographyContext``): the quarter, the firm table (alive), the places (province,
region, is_park, opens), the sectors' mix by province, the legal units per place (``tally``),
the end-2013 stock and growth rate of each province, the negative list and de-capacity levers
in force, ``params.demography``, the population scale, the rows whose scheduled exit falls in
this quarter and the ``demography`` stream. Changes: births through ``changes.add_firms``
(kind ``entry``), exits through ``changes.remove_firms``; ``apply`` returns the refused
registrations (simulated firms), which the model counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from jjj_sim.sim.policy import PolicyState
from jjj_sim.sim.population import NO_PARENT, FirmTable
from jjj_sim.sim.rules.changes import FirmChanges
from jjj_sim.sim.tally import Tally
from jjj_sim.sim.world import PROVINCES, Places, Sectors


@dataclass(frozen=True)
class DemographyContext:
    """What entry and exit read, and where they apply their changes."""

    quarter: int
    firms: FirmTable  # reads alive
    places: Places  # reads province, region, is_park, opens
    sectors: Sectors  # reads share, ids
    tally: Tally  # reads legal
    counts_2013: dict  # province name -> legal units at end 2013 (real firms)
    growth_2013_2018: dict  # province name -> log growth rate a year, 2013-2018
    policy_state: PolicyState  # reads negative_list_places, blocked()
    params: SimpleNamespace  # reads demography.*
    scale: float
    exits_due: np.ndarray  # rows scheduled to exit this quarter (alive or not)
    stream: np.random.Generator
    changes: FirmChanges


def quarterly_exit_hazard(params) -> float:
    """The quarterly exit hazard equivalent to ``params.demography.exit_annual_rate``."""
    return 1.0 - (1.0 - params.demography.exit_annual_rate) ** 0.25


def log_growth(g0: float, years: float, half_life: float) -> float:
    """Integral of the growth rate from end-2013 to ``years`` later (log units)."""
    census = 5.0
    if years <= census:
        return g0 * years
    k = np.log(2) / half_life
    return g0 * census + g0 * (1 - np.exp(-k * (years - census))) / k


def target_count(counts_2013: float, g0: float, years: float, half_life: float) -> float:
    """Legal units on the census trajectory ``years`` after end 2013 (real firms)."""
    return counts_2013 * np.exp(log_growth(g0, years, half_life))


def sector_weights(ctx: DemographyContext, regions: np.ndarray, prov: int) -> tuple[np.ndarray, np.ndarray]:
    """[regions, S] birth weights by sector in ``regions`` of province ``prov``, and [regions]
    the probability that a would-be founder there is refused registration (negative list)."""
    d, st = ctx.params.demography, ctx.policy_state
    share = ctx.sectors.share[prov]
    weights = share * ~st.blocked()[regions]  # the list's sectors and de-capacity: no births
    applying = 0.5 ** (max(ctx.quarter, 0) / 4.0 / d.negative_list_deterrence_half_life_years)
    refused = st.negative_list_places[regions] * (applying * d.negative_list_coverage)
    return weights, refused


def births(ctx: DemographyContext) -> int:
    """Add this quarter's births; return the registrations refused (simulated firms)."""
    q, rng, places, sectors = ctx.quarter, ctx.stream, ctx.places, ctx.sectors
    exit_q = quarterly_exit_hazard(ctx.params)
    half_life = ctx.params.demography.growth_half_life_years
    legal = ctx.tally.legal.sum(axis=1)
    region_stock = np.bincount(places.region, weights=legal, minlength=len(places.ids))
    born_in, per_sector = [], []  # regions with births, and their births by sector
    refused_total = 0
    for prov, name in enumerate(PROVINCES):
        n0, g0 = ctx.counts_2013[name], ctx.growth_2013_2018[name]
        years = q / 4.0
        stock = target_count(n0, g0, years, half_life)
        growth = np.exp(log_growth(g0, years + 0.25, half_life) - log_growth(g0, years, half_life)) - 1.0
        k = rng.poisson(ctx.scale * stock * (growth + exit_q))
        regions = np.flatnonzero((places.province == prov) & ~places.is_park & (places.opens <= q))
        w = region_stock[regions]
        if k == 0 or w.sum() <= 0:
            continue
        share, refused = sector_weights(ctx, regions, prov)  # [regions, S], [regions]
        total = share.sum(axis=1)
        per_region = rng.multinomial(k, w / w.sum())
        if refused.any():
            refused_total += int(rng.binomial(per_region, refused).sum())
        for r, kr, s, t in zip(regions.tolist(), per_region.tolist(), share, total):
            if t <= 0:  # every sector on the negative list here: no births
                continue
            born_in.append(r)
            per_sector.append(rng.multinomial(kr, s / t))
    if born_in:
        counts = np.array(per_sector)  # [regions with births, S]
        place = np.repeat(np.array(born_in, dtype=np.int64), counts.sum(axis=1))
        sector = np.tile(np.arange(len(sectors.ids)), len(born_in)).repeat(counts.ravel())
        ctx.changes.add_firms(place=place, sector=sector, flags=None, origin=places.province[place],
                              parent=np.full(len(place), NO_PARENT), kind="entry", rng=rng)
    return refused_total


def exits(ctx: DemographyContext) -> None:
    """Remove the firms whose scheduled exit is this quarter and that are still alive."""
    rows = ctx.exits_due
    if len(rows):
        ctx.changes.remove_firms(rows[ctx.firms.alive[rows]], kind="exit")


def apply(ctx: DemographyContext) -> int:
    """Births, then exits; returns the registrations refused (simulated firms)."""
    refused = births(ctx)
    exits(ctx)
    return refused

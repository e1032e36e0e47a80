"""Entry and exit of legal units.

Exit: every firm gets a geometric lifetime at birth with quarterly hazard
``demography.exit_annual_rate`` (converted to a quarter), so the exits of a quarter are
looked up, not drawn over the whole table.

Entry: births per province follow the census trajectory of legal units. The count of
legal units N_p grows at the constant log rate g_p that takes the end-2013 stock to the
end-2018 census count (Fourth Economic Census), and after 2018 that rate halves every
``demography.growth_half_life_years`` (an assumption: the 2014-2018 boom followed the
March 2014 registration reform). Births in a quarter ~ Poisson(scale * N_p(t) *
(quarterly growth + quarterly exit hazard)), so that without migration and closures the
stock follows the trajectory (births are set from the target, not the simulated stock). Births are split among a province's regions in proportion to the legal
units there (parks included) and among sectors by the province's sector mix; where the
negative list is in force, its sectors get no births and the others share them.
"""

from __future__ import annotations

import numpy as np

from jjj_sim.population import NO_PARENT
from jjj_sim.world import PROVINCES


def quarterly_exit_hazard(params) -> float:
    return 1.0 - (1.0 - params.demography.exit_annual_rate) ** 0.25


def log_growth(g0: float, years: float, half_life: float) -> float:
    """Integral of the growth rate from end-2013 to ``years`` later (log units)."""
    census = 5.0
    if years <= census:
        return g0 * years
    k = np.log(2) / half_life
    return g0 * census + g0 * (1 - np.exp(-k * (years - census))) / k


def target_count(counts_2013: float, g0: float, years: float, half_life: float) -> float:
    return counts_2013 * np.exp(log_growth(g0, years, half_life))


def births(model) -> None:
    q, rng, places, sectors = model.quarter, model.streams["demography"], model.places, model.sectors
    exit_q = quarterly_exit_hazard(model.params)
    half_life = model.params.demography.growth_half_life_years
    blocked = model.policy_state.blocked()
    legal = model.tally.legal.sum(axis=1)
    region_stock = np.bincount(places.region, weights=legal, minlength=len(places.ids))
    born_in, per_sector = [], []  # regions with births, and their births by sector
    for prov, name in enumerate(PROVINCES):
        n0, g0 = model.counts_2013[name], model.growth_2013_2018[name]
        years = q / 4.0
        stock = target_count(n0, g0, years, half_life)
        growth = np.exp(log_growth(g0, years + 0.25, half_life) - log_growth(g0, years, half_life)) - 1.0
        k = rng.poisson(model.scale * stock * (growth + exit_q))
        regions = np.flatnonzero((places.province == prov) & ~places.is_park & (places.opens <= q))
        w = region_stock[regions]
        if k == 0 or w.sum() <= 0:
            continue
        share = np.where(blocked[regions], 0.0, sectors.share[prov])  # [regions, S]
        total = share.sum(axis=1)
        for r, kr, s, t in zip(regions.tolist(), rng.multinomial(k, w / w.sum()).tolist(), share, total):
            if t <= 0:  # every sector on the negative list here: no births
                continue
            born_in.append(r)
            per_sector.append(rng.multinomial(kr, s / t))
    if born_in:
        counts = np.array(per_sector)  # [regions with births, S]
        place = np.repeat(np.array(born_in, dtype=np.int64), counts.sum(axis=1))
        sector = np.tile(np.arange(len(sectors.ids)), len(born_in)).repeat(counts.ravel())
        model.add_firms(place=place, sector=sector, flags=None,
                        origin=places.province[place], parent=np.full(len(place), NO_PARENT), kind="entry", rng=rng)


def exits(model) -> None:
    rows = model.exits_due(model.quarter)
    if len(rows):
        model.remove_firms(rows[model.firms.alive[rows]], kind="exit")

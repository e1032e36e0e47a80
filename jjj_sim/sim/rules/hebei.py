"""Hebei's own structural change: de-capacity in heavy industry and its own high-tech growth.

The high-tech share of Hebei's industrial value added (indicator ``hebei_hightech_va_share``)
is read off all of Hebei's industrial firms, so it moves with three things: the firms that
arrive from Beijing and Tianjin (relocation, branching), the two rules here, and ordinary
entry and exit.

De-capacity (``hebei_decapacity`` lever: places, sectors, schedule of steel capacity cut per
year in Mt, from the provincial reports in conf/policy/reported.yaml). Hebei's steel capacity
starts at the 286 Mt reported for 2014 (jjj_sim/data/reported_inputs.yaml) and falls by each
quarter's cut (a quarter of the year's). Each quarter every legal unit of the lever's sectors
in its places closes with probability cut_q / capacity_before_the_cut (event ``decapacity``),
so the sector's firms fall in proportion to the capacity cut. Assumption: steel stands for all
of the heavy polluting sectors (coal, cement and glass were cut in the same campaign; the
reports give them in other units). While the lever is in force no new firm of those sectors
may settle there (PolicyState.blocked: the ban on new capacity that came with the cuts).

Own high-tech growth (``hebei_hightech`` lever, intensity). Hebei's certified high-tech
enterprises grew from 685 (H1 2012) to 3,174 (end 2017), 32.1% a year, while all its legal
units grew 21.4% a year (2013-2018, Fourth Economic Census): high-tech firms outgrew the rest
by ``structure.hightech_excess_growth_annual`` = 1.321 / 1.214 - 1 = 8.8% a year
(conf/params/default.yaml gives the sources). Births already give Hebei its census growth, so
this rule adds only the excess: each quarter Poisson(N * ((1 + g * intensity) ** 0.25 - 1))
of Hebei's own (origin Hebei) industrial legal units outside the de-capacity sectors that are
not high-tech become high-tech where they are (event ``upgrade``), N being the number of
Hebei's own high-tech industrial legal units. Assumption: the certified count's excess growth
carries over to the high-tech industries' firms.

Reads (``HebeiContext``): the firm table (place, sector, flags, origin, alive), the places'
provinces, which sectors are industrial, Hebei's own high-tech legal units per place and sector
(``tally``), the de-capacity and high-tech levers in force, ``params.structure`` and the
``hebei`` stream. Changes: Hebei's steel capacity, passed in and returned; the closed firms
through ``changes.remove_firms`` (kind ``decapacity``), the upgraded ones through
``changes.upgrade_firms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from jjj_sim.sim.policy import PolicyState
from jjj_sim.sim.population import BRANCH, HIGHTECH, FirmTable
from jjj_sim.sim.rules import hazard
from jjj_sim.sim.rules.changes import FirmChanges
from jjj_sim.sim.tally import Tally
from jjj_sim.sim.world import HEBEI, Places, Sectors


@dataclass(frozen=True)
class HebeiContext:
    """What Hebei's structural change reads, and where it applies its changes."""

    firms: FirmTable
    places: Places  # reads province
    sectors: Sectors  # reads industrial
    tally: Tally  # reads hightech_own
    policy_state: PolicyState  # reads decapacity_mt, decapacity_places, decapacity_sectors, hightech_drive
    params: SimpleNamespace  # reads structure.hightech_excess_growth_annual
    stream: np.random.Generator
    changes: FirmChanges


def decapacity(ctx: HebeiContext, capacity_mt: float) -> float:
    """Close firms in proportion to this quarter's cut of ``capacity_mt`` (Mt); return the
    capacity left."""
    st, t, rng = ctx.policy_state, ctx.firms, ctx.stream
    if st.decapacity_mt <= 0 or capacity_mt <= 0:
        return capacity_mt
    cut = min(st.decapacity_mt / 4.0, capacity_mt)
    h = cut / capacity_mt
    capacity_mt -= cut
    rows = hazard.draw(rng, t.n, h)
    ok = (t.alive[rows] & ((t.flags[rows] & BRANCH) == 0) & st.decapacity_places[t.place[rows]]
          & st.decapacity_sectors[t.sector[rows]])
    ctx.changes.remove_firms(rows[ok], kind="decapacity")
    return capacity_mt


def _own_candidates(ctx: HebeiContext, rows: np.ndarray, decap_sectors: np.ndarray) -> np.ndarray:
    t = ctx.firms
    return (t.alive[rows] & ((t.flags[rows] & (BRANCH | HIGHTECH)) == 0) & (t.origin[rows] == HEBEI)
            & (ctx.places.province[t.place[rows]] == HEBEI) & ctx.sectors.industrial[t.sector[rows]]
            & ~decap_sectors[t.sector[rows]])


def upgrade(ctx: HebeiContext) -> None:
    """Hebei's own upgrading this quarter: Poisson-many of its own non-high-tech industrial legal
    units (outside the de-capacity sectors) become high-tech, through ``changes.upgrade_firms``."""
    st, t, rng = ctx.policy_state, ctx.firms, ctx.stream
    g = ctx.params.structure.hightech_excess_growth_annual * st.hightech_drive
    if g <= 0:
        return
    hebei = ctx.places.province == HEBEI
    ind = ctx.sectors.industrial & ~st.decapacity_sectors
    n_high = int(ctx.tally.hightech_own[hebei][:, ind].sum())
    k = int(rng.poisson(n_high * ((1.0 + g) ** 0.25 - 1.0)))
    if k <= 0:
        return
    # uniform draws among the eligible rows by rejection (no scan of the whole table)
    chosen = np.empty(0, dtype=np.int64)
    for _ in range(50):
        draw = rng.integers(0, t.n, size=max(64, 20 * (k - len(chosen))))
        chosen = np.union1d(chosen, draw[_own_candidates(ctx, draw, st.decapacity_sectors)])
        if len(chosen) >= k:
            break
    if len(chosen) > k:
        chosen = np.sort(rng.choice(chosen, size=k, replace=False))
    ctx.changes.upgrade_firms(chosen)


def apply(ctx: HebeiContext, capacity_mt: float) -> float:
    """De-capacity, then own upgrading; returns Hebei's steel capacity left (Mt)."""
    capacity_mt = decapacity(ctx, capacity_mt)
    upgrade(ctx)
    return capacity_mt

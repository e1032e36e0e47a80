"""Each rule on its own, on a small hand-built firm table: closure, relocation, branching,
Hebei's structural change, demography and technology contracts.

A rule gets its narrow context (rules/*.py) built here from a handful of firms in two to five
places, a ``params`` holding only the sections the rule should read, and a fake ``changes``
(``Recorder``) that applies the changes to the table and records them.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import make_cfg

from jjj_sim.sim.model import RelocationModel
from jjj_sim.sim.policy import PolicyState
from jjj_sim.sim.population import (
    BRANCH,
    HIGHTECH,
    NEVER,
    NO_PARENT,
    POLLUTING,
    ZGC,
    FirmTable,
)
from jjj_sim.sim.rules import (
    branching,
    closure,
    demography,
    hebei,
    relocation,
    technology,
)
from jjj_sim.sim.rules.choice import ChoiceContext
from jjj_sim.sim.tally import Tally
from jjj_sim.sim.world import BEIJING, HEBEI, TIANJIN, Places, Sectors

# ------------------------------------------------------------------ small worlds by hand


def make_places(province, is_park=None, region=None, opens=None, n_sectors=2) -> Places:
    province = np.asarray(province)
    n = len(province)
    is_park = np.zeros(n, bool) if is_park is None else np.asarray(is_park, bool)
    return Places(ids=tuple(f"p{i}" for i in range(n)), names=tuple(f"place {i}" for i in range(n)),
                  is_park=is_park, region=np.arange(n) if region is None else np.asarray(region),
                  province=province, lat=np.zeros(n), lon=np.zeros(n),
                  opens=np.full(n, -1) if opens is None else np.asarray(opens),
                  capacity=np.full(n, np.inf), park_type=tuple("science" if p else "" for p in is_park),
                  specialised=np.zeros((n, n_sectors), bool),
                  region_weight=np.ones(n), n_regions=int((~is_park).sum()))


def make_sectors(industrial=(True, False), share=None) -> Sectors:
    n = len(industrial)
    return Sectors(ids=tuple(f"s{i}" for i in range(n)), industrial=np.array(industrial, bool),
                   hightech_prob=np.zeros(n), polluting_prob=np.zeros(n),
                   share=np.full((3, n), 1.0 / n) if share is None else np.asarray(share, float))


def make_table(places: Places, groups) -> FirmTable:
    """Firms from ``groups``: (count, place, sector, flags[, origin province[, alive]]) each,
    rows numbered in that order."""
    cols = {k: [] for k in ("place", "sector", "flags", "origin", "alive")}
    for g in groups:
        k, place, sector, flags = g[:4]
        origin = g[4] if len(g) > 4 else places.province[place]
        alive = g[5] if len(g) > 5 else True
        for name, v in zip(cols, (place, sector, flags, origin, alive)):
            cols[name].append(np.full(k, v))
    c = {k: np.concatenate(v) for k, v in cols.items()}
    n = len(c["place"])
    t = FirmTable(capacity=n)
    t.append(place=c["place"], sector=c["sector"], flags=c["flags"], size=np.ones(n), origin=c["origin"],
             parent=np.full(n, NO_PARENT), born=np.full(n, -1), exit_at=np.full(n, NEVER),
             alive=c["alive"], branches=np.zeros(n))
    return t


def levers(n_places: int, n_sectors: int, **values) -> PolicyState:
    """Lever values in force: every lever off, except ``values``."""
    places, sectors = np.zeros(n_places, bool), np.zeros(n_sectors, bool)
    state = {"closure": 0.0, "closure_new_list": 0.0, "closure_places": places, "closure_sectors": sectors,
             "negative_list_places": places, "negative_list_sectors": sectors, "push": np.zeros(n_places),
             "matching": np.zeros(n_places), "incentive": np.zeros((n_places, n_sectors)), "decapacity_mt": 0.0,
             "decapacity_places": places, "decapacity_sectors": sectors, "hightech_drive": 0.0,
             "business_environment": 0.0, "rail_speedup": 0.0, "rail_link_speedups": (), "basic_research": 0.0,
             "innovation_community": 0.0}
    state.update({k: np.asarray(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()})
    return PolicyState(**state)


def choices(base, province, region=None, free=None, blocked=None) -> ChoiceContext:
    """A choice context: utility ``base`` [P, S], no border friction, every place open."""
    base = np.asarray(base, float)
    n = len(province)
    return ChoiceContext(base=base, province=np.asarray(province),
                         region=np.arange(n) if region is None else np.asarray(region), friction=np.zeros(n),
                         open=np.ones(n, bool), blocked=np.zeros(base.shape, bool) if blocked is None else blocked,
                         free_slots=np.full(n, np.inf) if free is None else np.asarray(free, float),
                         stay_bonus=0.0, overflow=np.zeros(n, np.int64))


class Recorder:
    """``changes`` for a test: applies each change to the table and records (method, kind, rows, ...)."""

    def __init__(self, table: FirmTable):
        self.t = table
        self.calls = []

    def add_firms(self, place, sector, flags, origin, parent, kind, rng=None, initial=False):
        k = len(place)
        flags = np.zeros(k, np.uint8) if flags is None else flags
        rows = self.t.append(place=place, sector=sector, flags=flags, size=np.ones(k), origin=origin, parent=parent,
                             born=np.zeros(k), exit_at=np.full(k, NEVER), alive=np.ones(k, bool),
                             branches=np.zeros(k))
        if kind == "branch":
            np.add.at(self.t.branches, np.asarray(parent, np.int64), 1)
        self.calls.append(("add", kind, rows))
        return rows

    def move_firms(self, rows, dest, kind):
        self.calls.append(("move", kind, np.array(rows), np.array(dest)))
        self.t.place[rows] = dest

    def remove_firms(self, rows, kind):
        self.calls.append(("remove", kind, np.array(rows)))
        self.t.alive[rows] = False

    def upgrade_firms(self, rows):
        self.calls.append(("upgrade", None, np.array(rows)))
        self.t.flags[rows] |= HIGHTECH

    def count_campaign(self, rows):
        self.calls.append(("campaign", None, np.array(rows)))

    def rows(self, method, kind=None) -> np.ndarray:
        """Rows of every call of ``method`` (and ``kind``), concatenated."""
        parts = [c[2] for c in self.calls if c[0] == method and (kind is None or c[1] == kind)]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)


def tally_of(t: FirmTable, places: Places, sectors: Sectors) -> Tally:
    tally = Tally.empty(places.province, len(sectors.ids))
    tally.update(t.place, t.sector, t.flags, t.origin, t.size, sectors.industrial, +1)
    return tally


# ------------------------------------------------------------------ closure

# place 0: a Beijing place on the campaign, 1: a Beijing place off it, 2: Tianjin, 3: Hebei
CLOSURE_PLACES = make_places([BEIJING, BEIJING, TIANJIN, HEBEI])
CLOSURE_FIRMS = [(10, 0, 0, POLLUTING), (20, 0, 0, 0),  # rows 0-29: listable, the first 10 polluting
                 (5, 0, 1, 0),  # 30-34: another sector
                 (5, 1, 0, 0),  # 35-39: off the campaign's places
                 (2, 0, 0, BRANCH),  # 40-41: branches
                 (1, 0, 0, 0, BEIJING, False)]  # 42: dead


def closure_ctx(t, seed=0, relocate_share=0.5, annual_pace=16.0, blocked=None, **lever_values):
    st = levers(4, 2, closure_places=[True, False, False, False], closure_sectors=[True, False], **lever_values)
    # the campaign's own place is by far the most attractive: it is barred to its relocators
    base = [[50.0, 50.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    params = SimpleNamespace(closure=SimpleNamespace(annual_pace=annual_pace, relocate_share=relocate_share,
                                                     polluting_multiplier=1e6),
                             choice=SimpleNamespace(sample_size=10))
    return closure.ClosureContext(firms=t, places=CLOSURE_PLACES, policy_state=st, params=params, scale=1.0,
                                  choice_context=choices(base, CLOSURE_PLACES.province, blocked=blocked),
                                  stream=np.random.default_rng(seed), changes=Recorder(t))


def test_closure_lists_legal_units_of_campaign_places_and_sectors_polluting_first():
    t = make_table(CLOSURE_PLACES, CLOSURE_FIRMS)
    ctx = closure_ctx(t)
    listed = closure.add_to_list(ctx, np.empty(0, np.int64), 10)
    assert np.array_equal(listed, np.arange(10))  # the 10 polluting firms (weight 1e6)
    more = closure.add_to_list(ctx, listed, 5)
    assert len(more) == 15 and np.isin(listed, more).all()
    assert set(np.setdiff1d(more, listed)) <= set(range(10, 30))  # only listable rows, none twice
    assert ctx.changes.calls == []  # listing changes no firm


def test_closure_handles_its_quota_of_the_list_and_never_relocates_into_a_campaign_place():
    t = make_table(CLOSURE_PLACES, CLOSURE_FIRMS)
    ctx = closure_ctx(t, closure=1.0)  # quota: 16 * 1 * 1 / 4 = 4 a quarter
    listed, handled = np.arange(10), []
    for expected_hit, expected_left in ((4, 6), (4, 2), (2, 0), (0, 0)):
        before = len(ctx.changes.calls)
        listed = closure.apply(ctx, listed)
        assert len(listed) == expected_left
        new = ctx.changes.calls[before:]
        if expected_hit == 0:  # the list is used up: the campaign stops
            assert new == []
            continue
        (_, _, hit), (_, _, moved, dest), (_, _, closed) = new
        assert len(hit) == expected_hit and not np.isin(hit, listed).any()
        assert np.array_equal(np.sort(np.concatenate([moved, closed])), hit)
        assert not np.isin(dest, [0]).any()
        handled.append(hit)
    handled = np.concatenate(handled)
    assert np.array_equal(np.sort(handled), np.arange(10))  # each listed firm handled once
    assert 0 < len(ctx.changes.rows("move", "relocation")) < 10  # relocate_share 0.5: some of each
    assert np.array_equal(np.sort(ctx.changes.rows("remove", "closure")),
                          np.setdiff1d(handled, ctx.changes.rows("move")))
    assert t.alive[10:42].all() and (t.place[10:35] == 0).all()  # nothing off the list touched


def test_closure_rounds_a_fractional_quota_at_random_and_relocators_without_a_place_close():
    t = make_table(CLOSURE_PLACES, CLOSURE_FIRMS)
    blocked = np.zeros((4, 2), bool)
    blocked[1:, 0] = True  # no place outside the campaign takes sector 0
    ctx = closure_ctx(t, relocate_share=1.0, annual_pace=10.0, blocked=blocked, closure=1.0)  # quota 2.5
    listed, per_quarter = np.arange(30), []
    for _ in range(8):
        before = len(ctx.changes.rows("campaign"))
        listed = closure.apply(ctx, listed)
        per_quarter.append(len(ctx.changes.rows("campaign")) - before)
    assert set(per_quarter) == {2, 3}
    assert len(listed) == 30 - sum(per_quarter)
    assert len(ctx.changes.rows("move")) == 0  # every relocator found no place ...
    assert np.array_equal(np.sort(ctx.changes.rows("remove", "closure")), np.sort(ctx.changes.rows("campaign")))


def test_closure_drops_listed_firms_that_left_on_their_own():
    t = make_table(CLOSURE_PLACES, CLOSURE_FIRMS)
    t.alive[0] = False  # exited
    t.place[1] = 1  # moved off the campaign's places
    ctx = closure_ctx(t, annual_pace=400.0, closure=1.0)  # quota 100: the whole list
    assert len(closure.apply(ctx, np.arange(10))) == 0
    assert np.array_equal(np.sort(ctx.changes.rows("campaign")), np.arange(2, 10))
    # off (intensity 0), the campaign handles nothing, but a new list is drawn
    ctx = closure_ctx(make_table(CLOSURE_PLACES, CLOSURE_FIRMS), closure_new_list=3.0)
    assert len(closure.apply(ctx, np.arange(10))) == 13 and ctx.changes.calls == []


# ------------------------------------------------------------------ relocation


def relocation_ctx(t, places, cost, base, blocked=None, push=None, hazard=1.0, seed=1):
    n = len(places.province)
    params = SimpleNamespace(relocation=SimpleNamespace(base_quarterly_hazard=hazard, cost_elasticity=1.0,
                                                        push_effect=1.0),
                             choice=SimpleNamespace(sample_size=10))
    return relocation.RelocationContext(
        firms=t, places=places, cost=np.asarray(cost, float), origin_place_mask=places.province != HEBEI,
        policy_state=levers(n, 2, push=np.zeros(n) if push is None else np.asarray(push, float)), params=params,
        choice_context=choices(base, places.province, blocked=blocked), stream=np.random.default_rng(seed),
        changes=Recorder(t))


def test_relocation_moves_only_eligible_firms_and_never_to_a_barred_place():
    places = make_places([BEIJING, TIANJIN, HEBEI, HEBEI])
    t = make_table(places, [(20, 0, 0, 0), (10, 1, 1, 0),  # rows 0-29: legal units in origin places
                            (5, 0, 0, BRANCH), (5, 0, 0, 0, BEIJING, False),  # 30-39: branches, dead
                            (5, 2, 1, 0)])  # 40-44: in Hebei (not an origin province)
    blocked = np.zeros((4, 2), bool)
    blocked[3, 0] = True  # place 3, the most attractive, is closed to sector 0 (negative list)
    ctx = relocation_ctx(t, places, np.ones(4), [[0, 0], [0, 0], [50, 50], [100, 100]], blocked)
    relocation.apply(ctx)  # hazard 1: every eligible firm considers a move
    [(method, kind, rows, dest)] = ctx.changes.calls
    assert (method, kind) == ("move", "relocation")
    assert np.array_equal(rows, np.arange(30))
    assert (dest[:20] == 2).all() and (dest[20:] == 3).all()
    assert (t.place[30:40] == 0).all() and (t.place[40:] == 2).all()


def test_relocation_hazard_follows_cost_and_push():
    places = make_places([BEIJING, BEIJING, HEBEI])
    t = make_table(places, [(4000, 0, 0, 0), (4000, 1, 0, 0)])
    # h = 0.2 * cost ** 1 * (1 + push): 0.2 in place 0; 0.2 * 0.25 * 2 = 0.1 in place 1
    ctx = relocation_ctx(t, places, [1.0, 0.25, 1.0], [[0, 0], [0, 0], [50, 50]], push=[0, 1, 0], hazard=0.2)
    relocation.apply(ctx)
    moved = ctx.changes.rows("move")
    from_0, from_1 = np.sum(moved < 4000), np.sum(moved >= 4000)
    assert abs(from_0 - 800) < 5 * np.sqrt(4000 * 0.2 * 0.8)
    assert abs(from_1 - 400) < 5 * np.sqrt(4000 * 0.1 * 0.9)
    assert (t.place[moved] == 2).all()


# ------------------------------------------------------------------ branching

# place 0: Beijing, 1: Tianjin, 2: a Hebei region, 3: a park in it
BRANCH_PLACES = make_places([BEIJING, TIANJIN, HEBEI, HEBEI], is_park=[False, False, False, True],
                            region=[0, 1, 2, 2])
BRANCH_FIRMS = [(30, 0, 0, ZGC | HIGHTECH),  # rows 0-29: ZGC parents in Beijing
                (5, 1, 1, HIGHTECH),  # 30-34: high-tech parents in Tianjin
                (1, 0, 0, ZGC | BRANCH), (1, 0, 0, ZGC, BEIJING, False),  # 35: a branch, 36: dead
                (3, 2, 0, HIGHTECH)]  # 37-39: in Hebei (not an origin province)


def branching_ctx(t, repeat_factor=1.0, seed=2, free_park=3.0):
    params = SimpleNamespace(branching=SimpleNamespace(zgc_quarterly_hazard=1.0, hightech_quarterly_hazard=1.0,
                                                       other_quarterly_hazard=0.0, repeat_factor=repeat_factor,
                                                       innovation_community_boost=0.0),
                             choice=SimpleNamespace(sample_size=10))
    # Beijing most attractive (never allowed), then Tianjin, the park (3 free slots), the region
    base = [[200, 200], [100, 100], [0, 0], [60, 60]]
    return branching.BranchingContext(
        firms=t, places=BRANCH_PLACES, origin_place_mask=BRANCH_PLACES.province != HEBEI,
        policy_state=levers(4, 2), params=params,
        choice_context=choices(base, BRANCH_PLACES.province, region=BRANCH_PLACES.region,
                               free=[np.inf, np.inf, np.inf, free_park]),
        stream=np.random.default_rng(seed), changes=Recorder(t))


def test_branching_opens_branches_of_eligible_parents_in_another_province_within_capacity():
    t = make_table(BRANCH_PLACES, BRANCH_FIRMS)
    ctx = branching_ctx(t)
    branching.apply(ctx)  # hazard 1: every eligible parent branches
    [(method, kind, new)] = ctx.changes.calls
    assert (method, kind) == ("add", "branch") and np.array_equal(new, np.arange(40, 75))
    parent = t.parent[new]
    assert np.array_equal(np.sort(parent), np.arange(35))
    assert ((t.flags[new] & BRANCH) != 0).all()
    assert np.array_equal(t.flags[new] & (ZGC | HIGHTECH), t.flags[parent] & (ZGC | HIGHTECH))
    assert np.array_equal(t.origin[new], BRANCH_PLACES.province[t.place[parent]])
    assert np.array_equal(t.sector[new], t.sector[parent])
    from_bj = t.place[parent] == 0
    assert (t.place[new][from_bj] == 1).all()  # Beijing's parents: to Tianjin, the best allowed
    # Tianjin's parents: not in Tianjin; the park takes 3 (its slots), the 2 others its region
    assert np.bincount(t.place[new][~from_bj], minlength=4).tolist() == [0, 0, 2, 3]
    assert ctx.choice_context.overflow.tolist() == [0, 0, 0, 2]
    assert (t.branches[:35] == 1).all()


def test_branching_saturates_and_the_starting_stock_avoids_parks():
    t = make_table(BRANCH_PLACES, BRANCH_FIRMS)
    branching.apply(branching_ctx(t, repeat_factor=0.0))
    ctx = branching_ctx(t, repeat_factor=0.0)
    branching.apply(ctx)  # each parent has a branch: hazard 0 ** 1 = 0
    assert ctx.changes.calls == []
    t = make_table(BRANCH_PLACES, BRANCH_FIRMS)
    rows = branching.open_branches(branching_ctx(t), np.arange(30, 35), initial=True)
    assert len(rows) == 5 and (t.place[rows] == 2).all()  # the park is not open to the starting stock
    p = SimpleNamespace(branching=SimpleNamespace(zgc_quarterly_hazard=0.04, hightech_quarterly_hazard=0.02,
                                                  other_quarterly_hazard=0.001, repeat_factor=0.5,
                                                  innovation_community_boost=0.5))
    h = branching.parent_hazard(SimpleNamespace(params=p, policy_state=levers(1, 1, innovation_community=1.0)),
                                np.array([ZGC, ZGC, HIGHTECH, 0], np.uint8), np.array([0, 2, 0, 1]))
    assert h == pytest.approx([0.06, 0.015, 0.03, 0.00075])


# ------------------------------------------------------------------ Hebei


def hebei_ctx(t, places, sectors, seed=3, g=0.0, **lever_values):
    st = levers(len(places.province), len(sectors.ids), **lever_values)
    return hebei.HebeiContext(firms=t, places=places, sectors=sectors, tally=tally_of(t, places, sectors),
                              policy_state=st, params=SimpleNamespace(structure=SimpleNamespace(
                                  hightech_excess_growth_annual=g)),
                              stream=np.random.default_rng(seed), changes=Recorder(t))


def test_decapacity_closes_firms_in_proportion_to_the_capacity_cut():
    places, sectors = make_places([HEBEI, HEBEI, TIANJIN]), make_sectors()
    firms = [(2000, 0, 0, 0), (100, 0, 1, 0), (100, 1, 0, 0), (50, 0, 0, BRANCH)]  # 0-1999 in the cut
    decap = {"decapacity_mt": 400.0, "decapacity_places": [True, False, False], "decapacity_sectors": [True, False]}
    t = make_table(places, firms)
    ctx = hebei_ctx(t, places, sectors, **decap)
    assert hebei.apply(ctx, 200.0) == 100.0  # a quarter of 400 Mt cut from 200: half the capacity
    closed = ctx.changes.rows("remove", "decapacity")
    assert closed.max() < 2000 and abs(len(closed) - 1000) < 5 * np.sqrt(2000 * 0.25)
    t = make_table(places, firms)
    ctx = hebei_ctx(t, places, sectors, **decap)
    assert hebei.apply(ctx, 100.0) == 0.0  # the whole capacity: every firm in the cut closes
    assert np.array_equal(ctx.changes.rows("remove", "decapacity"), np.arange(2000)) and t.alive[2000:].all()
    ctx = hebei_ctx(t, places, sectors, **{**decap, "decapacity_mt": 0.0})
    assert hebei.apply(ctx, 100.0) == 100.0 and ctx.changes.calls == []


def test_hebei_upgrades_its_own_industrial_firms_at_the_excess_growth_rate():
    places, sectors = make_places([HEBEI, HEBEI, TIANJIN], n_sectors=3), make_sectors((True, True, False))
    t = make_table(places, [(100, 0, 0, HIGHTECH),  # rows 0-99: Hebei's own high-tech (N = 100)
                            (150, 0, 0, 0), (150, 1, 0, 0),  # 100-399: candidates
                            (50, 0, 0, 0, TIANJIN),  # 400-449: from Tianjin
                            (50, 0, 1, 0),  # 450-499: a de-capacity sector
                            (50, 0, 2, 0),  # 500-549: not industrial
                            (50, 2, 0, 0, HEBEI),  # 550-599: outside Hebei
                            (20, 0, 0, BRANCH), (20, 0, 0, 0, HEBEI, False)])  # 600-639: branches, dead
    g = 1.2 ** 4 - 1  # a fifth more a quarter
    ctx = hebei_ctx(t, places, sectors, seed=4, g=g, hightech_drive=1.0, decapacity_sectors=[False, True, False])
    hebei.upgrade(ctx)
    k = int(np.random.default_rng(4).poisson(100 * ((1.0 + g) ** 0.25 - 1.0)))  # the rule's first draw
    up = ctx.changes.rows("upgrade")
    assert k > 0 and len(up) == k == len(np.unique(up))
    assert ((up >= 100) & (up < 400)).all() and ((t.flags[up] & HIGHTECH) != 0).all()
    ctx = hebei_ctx(t, places, sectors, g=g, hightech_drive=0.0)
    hebei.upgrade(ctx)  # lever off
    assert ctx.changes.calls == []


# ------------------------------------------------------------------ demography

# a region in each province, a park in Hebei's region, and a Hebei region not open yet
DEMO_PLACES = make_places([BEIJING, TIANJIN, HEBEI, HEBEI, HEBEI], is_park=[False, False, False, True, False],
                          region=[0, 1, 2, 2, 4], opens=[-1, -1, -1, -1, 100])
DEMO_FIRMS = [(10, 0, 0, 0), (10, 1, 0, 0), (10, 2, 0, 0), (10, 3, 0, 0), (10, 4, 0, 0)]


def demography_ctx(t, quarter=0, growth=None, exits_due=(), seed=5, **lever_values):
    sectors = make_sectors()
    params = SimpleNamespace(demography=SimpleNamespace(exit_annual_rate=1 - 0.9 ** 4, growth_half_life_years=2.0,
                                                        negative_list_coverage=0.4,
                                                        negative_list_deterrence_half_life_years=1.0))
    names = ("beijing", "tianjin", "hebei")
    return demography.DemographyContext(
        quarter=quarter, firms=t, places=DEMO_PLACES, sectors=sectors, tally=tally_of(t, DEMO_PLACES, sectors),
        counts_2013=dict.fromkeys(names, 10_000.0), growth_2013_2018=growth or dict.fromkeys(names, 0.0),
        policy_state=levers(5, 2, **lever_values), params=params, scale=1.0,
        exits_due=np.asarray(exits_due, np.int64), stream=np.random.default_rng(seed), changes=Recorder(t))


def test_births_follow_the_target_growth_plus_exits_in_open_regions():
    t = make_table(DEMO_PLACES, DEMO_FIRMS)
    ctx = demography_ctx(t, growth={"beijing": 0.0, "tianjin": np.log(1.2), "hebei": 0.0})
    assert demography.apply(ctx) == 0
    [(method, kind, born)] = ctx.changes.calls
    assert (method, kind) == ("add", "entry") and np.array_equal(born, np.arange(50, t.n))
    per_place = np.bincount(t.place[born], minlength=5)
    assert per_place[3] == per_place[4] == 0  # no births in a park or in a place not open yet
    # expected: 10,000 * (quarterly growth + quarterly exit hazard 0.1)
    for place, mean in ((0, 1000.0), (1, 10_000 * (1.2 ** 0.25 - 1 + 0.1)), (2, 1000.0)):
        assert abs(per_place[place] - mean) < 5 * np.sqrt(mean), place
    assert np.array_equal(t.origin[born], DEMO_PLACES.province[t.place[born]])
    assert (t.parent[born] == NO_PARENT).all()
    assert abs(np.mean(t.sector[born]) - 0.5) < 0.05  # the sector mix: half and half


def test_the_negative_list_refuses_registrations_and_de_capacity_bars_births():
    t = make_table(DEMO_PLACES, DEMO_FIRMS)
    ctx = demography_ctx(t, quarter=4, negative_list_places=[True, False, False, False, False],
                         negative_list_sectors=[False, True], decapacity_mt=10.0,
                         decapacity_places=[False, False, True, False, False], decapacity_sectors=[True, False])
    refused = demography.births(ctx)
    born = ctx.changes.rows("add", "entry")
    place, sector = t.place[born], t.sector[born]
    assert (sector[place == 0] == 0).all() and (sector[place == 2] == 1).all()  # listed, barred
    assert 0 < np.mean(sector[place == 1]) < 1  # Tianjin: both sectors
    # a year on, half the founders who want a listed activity still apply: 0.5 * coverage 0.4 of all
    # Beijing's would-be founders (all of them born, in the unlisted sector)
    n_bj = np.sum(place == 0)
    assert abs(refused - 0.2 * n_bj) < 5 * np.sqrt(n_bj * 0.2 * 0.8)


def test_exits_remove_the_scheduled_firms_still_alive_once():
    t = make_table(DEMO_PLACES, DEMO_FIRMS)
    t.alive[3] = False  # closed earlier
    ctx = demography_ctx(t, exits_due=[1, 3, 7, 22])
    n0, alive0 = t.n, int(t.alive.sum())
    demography.apply(ctx)
    assert np.array_equal(ctx.changes.rows("remove", "exit"), [1, 7, 22])
    born = ctx.changes.rows("add", "entry")
    assert np.array_equal(born, np.arange(n0, t.n))  # births are new rows, none reused
    assert int(t.alive.sum()) == alive0 - 3 + len(born)


# ------------------------------------------------------------------ technology

INPUTS = {"tech_contracts_bj_to_tjhb_2013": {"value": {"count": 3176, "turnover_bn_yuan": 7.12}},
          "zgc_branches_tjhb_2013": {"value": 3500}}


def technology_ctx(quarter=3, seed=6):
    places = make_places([BEIJING, TIANJIN, HEBEI, HEBEI])
    tally = SimpleNamespace(zgc_branches=np.array([10, 100, 50, 25]))  # Beijing's are not links
    params = SimpleNamespace(technology=SimpleNamespace(link_elasticity=1.0, basic_research_boost=0.5,
                                                        innovation_community_boost=2.0, value_growth_annual=0.1))
    return technology.TechnologyContext(quarter=quarter, tally=tally, places=places,
                                        policy_state=levers(4, 2, basic_research=1.0), params=params, inputs=INPUTS,
                                        scale=0.5, stream=np.random.default_rng(seed))


def test_technology_contracts_follow_the_links_and_each_is_worth_the_years_value():
    ctx = technology_ctx()
    assert technology.links_real(ctx) == pytest.approx(350.0)  # 175 simulated branches / scale 0.5
    assert technology.expected_per_year(ctx) == pytest.approx(3176 * 0.1 * 1.5)
    assert technology.value_per_contract_bn(ctx) == pytest.approx(7.12 / 3176 * 1.1)  # a year after 2013
    c = technology.apply(ctx)
    assert c.count == np.random.default_rng(6).poisson(3176 * 0.1 * 1.5 / 4)
    assert c.turnover_bn == c.count * technology.value_per_contract_bn(ctx)


def test_the_model_accumulates_the_contracts_of_each_quarter():
    rec = SimpleNamespace(tech_contracts=0, tech_turnover_bn=0.0, tech_contracts_cum=0, tech_turnover_cum_bn=0.0)
    quarters = [technology.apply(technology_ctx(quarter=q, seed=q)) for q in range(4)]
    for c in quarters:
        RelocationModel._record_contracts(rec, c)
    assert (rec.tech_contracts, rec.tech_turnover_bn) == tuple(quarters[-1])
    assert rec.tech_contracts_cum == sum(c.count for c in quarters)
    assert rec.tech_turnover_cum_bn == pytest.approx(sum(c.turnover_bn for c in quarters))


# ------------------------------------------------------------------ the model's contexts


def test_the_model_gives_each_rule_references_to_its_state_not_copies():
    m = RelocationModel(make_cfg("population.scale=0.01", "run.end_year=2015"), seed=1)
    ctx = m._closure_context()
    assert ctx.firms is m.firms and ctx.policy_state is m.policy_state and ctx.choice_context is m.choice_context
    assert ctx.stream is m.streams["closure"] and ctx.changes is m
    assert m._relocation_context().cost is m.geo.cost
    assert m._technology_context().stream is m.streams["technology"]
    with pytest.raises(FrozenInstanceError):
        ctx.firms = None

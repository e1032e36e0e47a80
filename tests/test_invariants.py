"""Invariants of a run: the firm table, the tallies and the event log agree; capacities hold;
closures, births and branches happen only where the levers allow them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_model

from jjj_sim.sim.events import KINDS
from jjj_sim.sim.population import BRANCH, HIGHTECH, ZGC
from jjj_sim.sim.rules import demography
from jjj_sim.sim.world import BEIJING, HEBEI, PROVINCES, TIANJIN


def events(model):
    return model.events.arrays()


def test_no_firm_lost_or_duplicated(small_run):
    m = small_run
    t = m.firms
    ev = events(m)
    kind = ev["kind"]
    terminal = np.isin(kind, [KINDS.index("closure"), KINDS.index("exit"), KINDS.index("decapacity")])
    # a firm ends at most once, and a dead firm has exactly one terminal event
    ended, counts = np.unique(ev["firm"][terminal], return_counts=True)
    assert counts.max() == 1
    dead = np.flatnonzero(~t.alive)
    assert np.array_equal(np.sort(ended), dead)
    # every row was created once: initial stock, or exactly one entry/branch event
    created = ev["firm"][np.isin(kind, [KINDS.index("entry"), KINDS.index("branch")])]
    assert len(np.unique(created)) == len(created)
    born = np.flatnonzero(t.born >= 0)
    assert np.array_equal(np.sort(created), born)
    # book-keeping: alive = start + created - ended
    start = int(np.sum(t.born < 0))
    assert int(t.alive.sum()) == start + len(created) - len(ended)


def test_tallies_match_the_table(small_run):
    m = small_run
    t = m.firms
    a = t.alive
    n_p, n_s = m.tally.legal.shape
    branch = (t.flags & BRANCH) != 0
    legal = np.zeros((n_p, n_s), np.int64)
    np.add.at(legal, (t.place[a & ~branch], t.sector[a & ~branch]), 1)
    assert np.array_equal(legal, m.tally.legal)
    zgc = np.bincount(t.place[a & branch & ((t.flags & ZGC) != 0)], minlength=n_p)
    assert np.array_equal(zgc, m.tally.zgc_branches)
    origin = np.zeros((n_p, 3), np.int64)
    np.add.at(origin, (t.place[a], t.origin[a]), 1)
    assert np.array_equal(origin, m.tally.origin)
    ind = a & m.sectors.industrial[t.sector]
    size = np.zeros((n_p, 2))
    np.add.at(size, (t.place[ind], ((t.flags[ind] & HIGHTECH) != 0).astype(int)), t.size[ind].astype(float))
    assert np.allclose(size, m.tally.industrial_size, rtol=1e-6, atol=1e-3)
    own = a & ~branch & ((t.flags & HIGHTECH) != 0) & (t.origin == m.places.province[t.place])
    ht_own = np.zeros((n_p, n_s), np.int64)
    np.add.at(ht_own, (t.place[own], t.sector[own]), 1)
    assert np.array_equal(ht_own, m.tally.hightech_own)


def test_park_capacities_hold_every_quarter():
    """With slots scarce (Xiong'an ZGC's 56 at twice its pull) the park fills up but never
    overflows; parks without a physical limit in the record have no slots limit."""
    cfg_over = ("population.scale=0.05", "params.choice.asc_park_science=10", "run.end_year=2020")
    from conftest import make_cfg

    from jjj_sim.sim.model import RelocationModel

    m = RelocationModel(make_cfg(*cfg_over), seed=11)
    slots = np.array([p.slots for p in m.parks])
    limited = {m.places.ids[p.place] for p in m.parks if np.isfinite(p.slots)}
    assert limited == {"xiongan_zgc"}
    full_seen = False
    while m.running and m.quarter < m.last_quarter:
        m.step()
        occ = np.array([p.occupancy for p in m.parks])
        assert np.all(occ <= slots), "a park holds more firms than its slots"
        full_seen |= bool(np.any(occ == slots))
    assert full_seen, "the test should make at least one park bind"


def test_closures_only_where_the_lever_allows():
    m = run_model("population.scale=0.05", "run.end_year=2018",
                  "policy.closure_campaign.places=[beijing_core]",
                  "policy.closure_campaign.sectors=[polluting_heavy]",
                  "policy.closure_campaign.schedule=[{from: 2015-01, value: 1.0}, {from: 2017-01, value: 0}]",
                  "params.closure.list_size=2000", "params.closure.annual_pace=4000")
    ev = events(m)
    c = ev["kind"] == KINDS.index("closure")
    assert c.sum() > 0
    core = m.places.index("beijing_core", "t")
    assert np.all(ev["src"][c] == core)
    assert np.all(ev["sector"][c] == m.sectors.index("polluting_heavy", "t"))
    assert np.all((ev["quarter"][c] >= 4) & (ev["quarter"][c] < 12))
    # the campaign's relocators leave the campaign's places
    r = (ev["kind"] == KINDS.index("relocation")) & (ev["sector"] == m.sectors.index("polluting_heavy", "t")) \
        & (ev["src"] == core)
    assert np.all(ev["dst"][r] != core)


def test_no_closure_without_campaign():
    m = run_model("population.scale=0.02", "run.end_year=2016", "scenario=no_strategy")
    assert m.events.counts["closure"] == 0


def test_negative_list_blocks_births_and_arrivals(small_run):
    m = small_run
    ev = events(m)
    blocked_sectors = [m.sectors.index(s, "t") for s in ("general_manufacturing", "polluting_heavy")]
    moves = np.isin(ev["kind"], [KINDS.index(k) for k in ("relocation", "branch")])
    dst_prov = m.places.province[np.maximum(ev["dst"], 0)]
    listed = np.isin(ev["sector"], blocked_sectors)
    assert np.sum(moves & (dst_prov == BEIJING) & listed) == 0  # no listed firm moves or branches in
    # births: no births of the listed sectors in Beijing (their founders take other sectors)
    entries_bj = (ev["kind"] == KINDS.index("entry")) & (dst_prov == BEIJING)
    assert entries_bj.sum() > 100 and np.sum(entries_bj & listed) == 0
    # ...while those sectors are still born elsewhere
    ok = (ev["kind"] == KINDS.index("entry")) & (dst_prov == HEBEI) & np.isin(ev["sector"], blocked_sectors)
    assert ok.sum() > 0


def test_branches_go_to_tianjin_or_hebei_outside_the_parent_province(small_run):
    m = small_run
    t = m.firms
    br = np.flatnonzero((t.flags & BRANCH) != 0)
    assert len(br) > 0
    parents = t.parent[br]
    assert np.all(parents >= 0)
    assert np.all((t.flags[parents] & BRANCH) == 0), "a branch's parent is a legal unit"
    ev = events(m)
    b = ev["kind"] == KINDS.index("branch")
    src_prov = m.places.province[ev["src"][b]]
    dst_prov = m.places.province[ev["dst"][b]]
    assert np.all(dst_prov != BEIJING)
    assert np.all(dst_prov != src_prov)
    assert np.all(np.isin(src_prov, [BEIJING, TIANJIN]))


def test_relocations_start_in_beijing_or_tianjin(small_run):
    ev = events(small_run)
    r = ev["kind"] == KINDS.index("relocation")
    assert r.sum() > 0
    assert np.all(np.isin(small_run.places.province[ev["src"][r]], [BEIJING, TIANJIN]))
    assert np.all(ev["src"][r] != ev["dst"][r])


def test_places_take_firms_only_once_open(small_run):
    m = small_run
    ev = events(m)
    into = np.isin(ev["kind"], [KINDS.index(k) for k in ("entry", "relocation", "branch")])
    assert np.all(m.places.opens[ev["dst"][into]] <= ev["quarter"][into])
    xa = m.places.index("xiongan", "t")
    assert m.places.opens[xa] == 13  # April 2017 = 2017 Q2
    assert np.any(ev["dst"][into] == xa), "Xiong'an attracts firms once open"


def test_census_trajectory_is_followed():
    """Legal units track the Fourth Economic Census counts of end-2018 (within 3%)."""
    m = run_model("population.scale=0.05", "run.end_year=2018")
    counts = m.inputs["enterprise_counts_2018"]["value"]
    for prov, name in enumerate(PROVINCES):
        sim = m.tally.legal[m.places.province == prov].sum() / m.scale
        assert sim == pytest.approx(counts[name], rel=0.03), name


def test_growth_trajectory_halves_after_census():
    g0, hl = 0.1, 4.0
    assert demography.log_growth(g0, 5.0, hl) == pytest.approx(0.5)
    rate_2018 = demography.log_growth(g0, 5.01, hl) - demography.log_growth(g0, 5.0, hl)
    rate_2022 = demography.log_growth(g0, 9.01, hl) - demography.log_growth(g0, 9.0, hl)
    assert rate_2022 == pytest.approx(rate_2018 / 2, rel=1e-2)


def test_initial_conditions(small_run):
    m = small_run
    # ZGC branches start from the reported 3,500 of 2013 (in real units, rounded at this scale),
    # in the cities: no park is counted before 2014
    start = ((m.firms.flags & BRANCH) != 0) & (m.firms.born < 0)
    assert np.sum(start) / m.scale == pytest.approx(3500, abs=1 / m.scale)
    assert not m.places.is_park[m.firms.place[start]].any()
    # every starting branch counts on its parent (the branching hazard falls with it)
    parents = m.firms.parent[start]
    assert np.all(m.firms.branches[np.unique(parents)] >= np.bincount(parents)[np.unique(parents)])
    assert m.hightech_productivity > 0


def test_hightech_share_starts_at_reported_value():
    from conftest import make_cfg

    from jjj_sim.sim.indicators import INDICATORS
    from jjj_sim.sim.model import RelocationModel

    m = RelocationModel(make_cfg("population.scale=0.05"), seed=5)
    assert INDICATORS["hebei_hightech_va_share"].reader(m) == pytest.approx(13.1, abs=1e-9)

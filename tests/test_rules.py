"""The building blocks: hazard draws, the logit choice with capacity, schedules, time, geography."""

from __future__ import annotations

import numpy as np
import pytest

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import last_quarter, quarter_end_date, quarter_of
from jjj_sim.sim.policy import Schedule
from jjj_sim.sim.rules import hazard
from jjj_sim.sim.rules.choice import NONE, ChoiceContext, choose


def test_draw_has_the_right_rate_and_no_repeats():
    rng = np.random.default_rng(0)
    n, p = 200_000, 0.01
    rows = hazard.draw(rng, n, p)
    assert len(np.unique(rows)) == len(rows)
    assert rows.min() >= 0 and rows.max() < n
    # binomial: mean n p = 2000, sd about 44.5; 5 sd
    assert abs(len(rows) - n * p) < 5 * np.sqrt(n * p * (1 - p))
    # uniform over rows: first and second half get similar shares
    assert abs(np.sum(rows < n // 2) - np.sum(rows >= n // 2)) < 5 * np.sqrt(n * p)


def test_draw_edges():
    rng = np.random.default_rng(1)
    assert len(hazard.draw(rng, 0, 0.5)) == 0
    assert len(hazard.draw(rng, 10, 0.0)) == 0
    assert np.array_equal(hazard.draw(rng, 10, 1.0), np.arange(10))


def test_thinning_gives_per_row_probabilities():
    rng = np.random.default_rng(2)
    n = 400_000
    p_row = np.where(np.arange(n) % 2 == 0, 0.02, 0.005)
    rows = hazard.draw(rng, n, 0.02)
    kept = hazard.thin(rng, rows, p_row[rows], 0.02)
    even = np.sum(kept % 2 == 0)
    odd = np.sum(kept % 2 == 1)
    assert even == pytest.approx(n / 2 * 0.02, rel=0.08)
    assert odd == pytest.approx(n / 2 * 0.005, rel=0.15)


def _ctx(base, province, free, stay_bonus=0.0, region=None):
    """A choice context by hand; a place with finite free slots is a park of ``region``."""
    base = np.asarray(base, float)
    n = len(province)
    return ChoiceContext(base=base, province=np.asarray(province),
                         region=np.arange(n) if region is None else np.asarray(region),
                         friction=np.zeros(n), open=np.ones(n, bool), blocked=np.zeros(base.shape, bool),
                         free_slots=np.asarray(free, float), stay_bonus=stay_bonus, overflow=np.zeros(n, np.int64))


def test_choice_follows_logit_shares():
    rng = np.random.default_rng(3)
    ctx = _ctx([[0.0], [np.log(3.0)]], [1, 2], [np.inf, np.inf])
    m = 40_000
    dest = choose(rng, ctx, np.zeros(m, int), np.zeros(m, int), np.ones(2, bool), None, 10)
    share = np.mean(dest == 1)
    assert share == pytest.approx(0.75, abs=0.01)  # exp(log 3) / (1 + exp(log 3))


def test_a_full_park_sends_its_choosers_to_its_region():
    rng = np.random.default_rng(4)
    # place 0: a very attractive park with 25 slots in region 1; place 2: another region
    ctx = _ctx([[10.0], [0.0], [0.0]], [1, 1, 2], [25, np.inf, np.inf], region=[1, 1, 2])
    dest = choose(rng, ctx, np.zeros(100, int), np.zeros(100, int), np.ones(3, bool), None, 10)
    assert np.sum(dest == 0) == 25
    assert ctx.free_slots[0] == 0
    assert np.sum(dest == 1) >= 75 - 5 and np.sum(dest == 2) <= 5  # the overflow lands in the park's region
    assert ctx.overflow[0] >= 70 and ctx.overflow[0] <= np.sum(dest == 1) and ctx.overflow[1:].sum() == 0


def test_no_place_means_no_move():
    rng = np.random.default_rng(5)
    # two full parks whose regions this mover may not enter
    ctx = _ctx([[1.0], [1.0], [0.0]], [1, 1, 1], [0, 0, np.inf], region=[2, 2, 2])
    dest = choose(rng, ctx, np.zeros(5, int), np.zeros(5, int), np.array([True, True, False]), None, 10)
    assert np.all(dest == NONE)
    assert ctx.overflow.sum() == 0


def test_staying_needs_no_slot_and_sampling_keeps_own_place():
    rng = np.random.default_rng(6)
    n_places = 30
    # own place 7 is a full park; a sample of 3 places always holds it, and it wins
    ctx = _ctx(np.zeros((n_places, 1)), np.ones(n_places, int), np.zeros(n_places), stay_bonus=50.0)
    stay = np.full(50, 7)
    dest = choose(rng, ctx, np.zeros(50, int), np.ones(50, int), np.ones(n_places, bool), stay, 3)
    assert np.all(dest == 7)


def test_size_term_makes_shares_invariant_to_splitting_a_place():
    """A region split into two halves with the same firms per sector: the halves together
    draw what the whole drew, and every other place keeps its share (size coefficient 1)."""
    from types import SimpleNamespace

    from jjj_sim.sim.rules.choice import build_context

    c = SimpleNamespace(asc_tianjin=0.5, asc_hebei=-0.2, size_coefficient=1.0, beta_travel_time=-0.8,
                        beta_cost=-1.5, beta_agglomeration=0.4, beta_specialisation=1.0, beta_incentive=0.8,
                        beta_border=0.0, beta_stay=0.0)
    counts = np.array([[60_000.0, 40_000.0], [20_000.0, 80_000.0], [50_000.0, 50_000.0]])
    prov = np.array([0, 1, 2])

    def ctx_of(counts, prov):
        n = len(prov)
        z = np.zeros(n)
        return build_context(c, travel_time=np.ones(n), cost=np.full(n, 0.5), counts_real=counts,
                             specialised=np.zeros(counts.shape), incentive=np.zeros(counts.shape),
                             is_park=np.zeros(n, bool), province=prov, region=np.arange(n),
                             friction_scale=np.ones(n), open_mask=np.ones(n, bool),
                             blocked=np.zeros(counts.shape, bool), free_slots=np.full(n, np.inf),
                             asc=np.array([0.0, 0.5, -0.2])[prov])

    whole = ctx_of(counts, prov)
    split = ctx_of(np.vstack([counts[:2], counts[2:] / 2, counts[2:] / 2]), np.array([0, 1, 2, 2]))
    for s in range(2):
        pw = np.exp(whole.base[:, s]) / np.exp(whole.base[:, s]).sum()
        ps = np.exp(split.base[:, s]) / np.exp(split.base[:, s]).sum()
        assert ps[:2] == pytest.approx(pw[:2], rel=1e-4)
        assert ps[2] + ps[3] == pytest.approx(pw[2], rel=1e-4)
    # and the simulated choices agree (all places sampled)
    rng = np.random.default_rng(9)
    m = 60_000
    d_whole = choose(rng, whole, np.zeros(m, int), np.zeros(m, int), np.ones(3, bool), None, 10)
    d_split = choose(rng, split, np.zeros(m, int), np.zeros(m, int), np.ones(4, bool), None, 10)
    assert np.mean(d_split >= 2) == pytest.approx(np.mean(d_whole == 2), abs=0.01)
    assert np.mean(d_split == 1) == pytest.approx(np.mean(d_whole == 1), abs=0.01)


def test_schedule_is_a_step_function():
    s = Schedule([{"from": "2015-06", "value": 1.0}, {"from": "2017-01", "value": 0.5}], "x")
    assert s.at(0) == 0.0
    assert s.at(quarter_of("2015-04", "t")) == 1.0  # June is in Q2
    assert s.at(quarter_of("2016-12", "t")) == 1.0
    assert s.at(quarter_of("2030-01", "t")) == 0.5


@pytest.mark.parametrize("entries, field", [
    ([{"from": "2016-01", "value": 1}, {"from": "2015-01", "value": 1}], "lever"),
    ([{"from": "2016-01", "value": -1}], "lever[0].value"),
    ([{"from": "2016-01"}], "lever[0]"),
    ([{"from": "2040-01", "value": 1}], "lever[0].from"),
    ([{"from": "yesterday", "value": 1}], "lever[0].from"),
    ("2016", "lever"),
])
def test_bad_schedules_name_the_field(entries, field):
    with pytest.raises(ConfigError) as e:
        Schedule(entries, "lever")
    assert e.value.field == field


def test_timeline():
    assert quarter_of("2014-01", "t") == 0
    assert quarter_of("2014-03", "t") == 0
    assert quarter_of("2014-04", "t") == 1
    assert quarter_of("2013-12", "t") == -1
    assert quarter_of(2020, "t") == 24
    assert last_quarter(2023) == 39
    assert quarter_end_date(39) == "2023-12-31"


def test_rail_openings_cut_travel_times():
    from jjj_sim.sim.model import load_rail_links
    from jjj_sim.sim.world import Geography, load_places, load_sectors

    class W:
        circuity, road_speed_kmh, rail_speed_kmh, rail_access_hours = 1.3, 60, 200, 0.75
        cost_decay_km, tianjin_cost_ratio = 150, 0.7

    places = load_places(load_sectors())
    geo = Geography(places, W, load_rail_links(), 88)
    zjk = places.index("zhangjiakou", "t")
    before = geo.travel_time(quarter_of("2019-07", "t"))[zjk]
    after = geo.travel_time(quarter_of("2020-01", "t"))[zjk]
    assert after < before
    core = places.index("beijing_core", "t")
    assert geo.travel_time(0)[core] == 0.0
    assert geo.cost[core] == pytest.approx(1.0)
    assert np.all(geo.cost <= 1.0 + 1e-12)


def test_a_later_rail_link_shortens_travel_time():
    """Every dated link counts: Tangshan's Dec 2022 direct line (1 h 03 min) beats its 2013
    route via Tianjin, and the scenario's extra link with hours beats both."""
    from jjj_sim.sim.world import (
        Geography,
        RailLink,
        load_places,
        load_rail_links,
        load_sectors,
    )

    class W:
        circuity, road_speed_kmh, rail_speed_kmh, rail_access_hours = 1.3, 60, 200, 0.75
        cost_decay_km, tianjin_cost_ratio = 150, 0.7

    places = load_places(load_sectors())
    ts = places.index("tangshan", "t")
    ts_park = places.index("tangshan_zgc", "t")
    geo = Geography(places, W, load_rail_links(), 88)
    before = geo.travel_time(quarter_of("2022-07", "t"))
    after = geo.travel_time(quarter_of("2023-01", "t"))
    assert after[ts] < before[ts] and after[ts_park] < before[ts_park]
    assert after[ts] == pytest.approx(0.75 + 1.05)
    # regions without a Dec 2022 link are unaffected (Qinhuangdao's service also changed then)
    qhd = places.index("qinhuangdao", "t")
    other = ~np.isin(places.region, [ts, qhd])
    assert np.array_equal(after[other & (geo.rail_from <= quarter_of("2022-07", "t"))],
                          before[other & (geo.rail_from <= quarter_of("2022-07", "t"))])
    extra = Geography(places, W, load_rail_links() + [RailLink("tangshan", "2026-01", "", 0.6)], 88)
    assert extra.travel_time(quarter_of("2026-01", "t"))[ts] < after[ts]
    assert extra.travel_time(quarter_of("2025-10", "t"))[ts] == pytest.approx(after[ts])


def test_hazards_above_one_select_every_eligible_row():
    rng = np.random.default_rng(8)
    n = 1000
    p_rows = np.where(np.arange(n) < 500, 3.0, 0.5)  # 3.0 counts as 1
    rows = hazard.draw(rng, n, 3.0)
    kept = hazard.thin(rng, rows, p_rows[rows], 3.0)
    assert np.sum(kept < 500) == 500
    assert np.sum(kept >= 500) == pytest.approx(250, abs=5 * np.sqrt(125))

"""Parks from the record: no hand-set sizes, the park record and the targets agree, and what
the record cannot fit is carried by posterior draws (issue 19)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_cfg, run_model

from jjj_sim.runner import park_record, posterior
from jjj_sim.runner.targets import load_targets
from jjj_sim.sim.indicators import parks_year_end
from jjj_sim.sim.model import RelocationModel

ROOT = Path(__file__).resolve().parents[1]


def _parks_csv():
    with open(ROOT / "jjj_sim" / "data" / "parks.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_no_park_size_without_a_reported_basis():
    rows = _parks_csv()
    for r in rows:
        if r["capacity"].strip():
            assert r["capacity_basis"].strip().startswith("reported"), r["id"]
            assert "physical limit" in r["capacity_basis"], r["id"]
        else:
            assert not r["capacity_basis"].strip(), r["id"]
        assert r["type"] in ("science", "industrial")
        assert "default" not in r["capacity_basis"]
    assert {r["id"] for r in rows if r["capacity"].strip()} == {"xiongan_zgc"}


def test_park_targets_are_the_record_rows_marked_target():
    targets = {t.id: t for t in load_targets(ROOT / "calibration" / "targets.yaml")}
    marked = [f for f in park_record.load() if f.use.startswith("target")]
    assert len(marked) == 9
    for f in marked:
        t = targets[f.use.split()[1]]
        assert (t.park, t.field, t.year) == (f.park, f.field, f.year)
        if f.low == 0:
            assert t.kind == "at_most" and t.value == f.high
        else:
            assert (t.kind, t.low, t.high) == ("range", f.low, f.high)
    park_targets = {t.id for t in targets.values() if t.park is not None}
    assert park_targets == {f.use.split()[1] for f in marked}
    # every counted park has a figure in the record, and no uncounted park has one it is fitted to
    counted = {r["id"] for r in _parks_csv() if not r["record"].startswith("none")}
    assert {f.park for f in park_record.load()} == counted


def test_record_rows_map_to_a_model_field_and_say_what_they_count():
    for f in park_record.load():
        assert f.definition and f.mapping and f.source
        if f.use.startswith("target"):
            assert f.year <= 2020, f.id  # the fit uses the record through 2020 only
        assert f.low <= f.high


def test_record_beside_the_model_reads_a_summary():
    parks = {"binhai_zgc": {"name": "Binhai", "firms_from_beijing": {"2018": 150.0, "2020": 100.0}, "firms": {}}}
    rows = {r["id"]: r for r in park_record.rows(parks)}
    assert rows["P2_2018"]["simulated"] == 150.0 and rows["P2_2018"]["within"] is True
    assert rows["P2_2020"]["within"] is False
    assert rows["binhai_2025"]["simulated"] is None and rows["binhai_2025"]["within"] is None


def test_park_pull_is_its_type_constant_plus_offset():
    cfg = make_cfg("population.scale=0.01", "params.choice.asc_park_science=3.0",
                   "params.choice.asc_park_industrial=-1.0", "++params.parks.asc_offset.tangshan_zgc=0.5")
    m = RelocationModel(cfg, seed=1)
    ids = m.places.ids
    for p in m.places.parks:
        region = m.places.region[p]
        extra = m.place_asc[p] - m.place_asc[region]  # the park's own constant over its region's
        offset = {**cfg.params.parks.asc_offset}.get(ids[p], 0.0)  # the fit's four, tangshan_zgc's 0.5, else 0
        want = {"science": 3.0, "industrial": -1.0}[m.places.park_type[p]] + offset
        assert extra == pytest.approx(want), ids[p]
    assert {**cfg.params.parks.asc_offset}["tangshan_zgc"] == 0.5


def test_a_higher_type_constant_draws_more_firms_into_parks_of_that_type_only():
    common = ("population.scale=0.05", "run.end_year=2018")
    lo = parks_year_end(run_model(*common, "params.choice.asc_park_industrial=4", seed=4))
    hi = parks_year_end(run_model(*common, "params.choice.asc_park_industrial=8", seed=4))
    def total(parks, kind):
        return sum(p["firms"]["2018"] for p in parks.values() if p["type"] == kind)
    assert total(hi, "industrial") > 5 * max(total(lo, "industrial"), 1)
    assert total(hi, "science") == pytest.approx(total(lo, "science"), rel=0.35)


def test_unknown_park_offset_is_refused():
    from jjj_sim.core.errors import ConfigError

    with pytest.raises(ConfigError, match="params.parks.asc_offset.nowhere"):
        make_cfg("++params.parks.asc_offset.nowhere=1.0")


def test_prior_draws_give_parks_without_a_fitted_offset_one_and_the_stock_a_half_life():
    cfg = make_cfg("population.scale=0.01")
    fitted = {"baoding_zgc", "binhai_zgc", "caofeidian", "cangzhou_biomed"}  # the parks counted before 2021
    assert set(cfg.params.parks.asc_offset) == fitted  # set by calibration/fitted/baseline.yaml
    draws = [posterior.prior_draw(k, cfg.params, seed=7) for k in range(200)]
    assert draws[3] == posterior.prior_draw(3, cfg.params, seed=7)  # draw K is the same everywhere
    for d in draws:
        offsets = {k.rsplit(".", 1)[1] for k in d if k.startswith("parks.asc_offset.")}
        assert offsets == {r["id"] for r in _parks_csv()} - fitted  # Baodi and Xiong'an ZGC included
        assert 1.0 <= d["demography.growth_half_life_years"] <= 4.0
    x = np.array([d["parks.asc_offset.tangshan_zgc"] for d in draws])
    assert abs(x.mean()) < 0.25 and x.std() == pytest.approx(1.0, rel=0.2)  # N(0, prior_sd = 1)
    half = np.log([d["demography.growth_half_life_years"] for d in draws])
    assert half.min() < np.log(1.3) and half.max() > np.log(3.0)  # spans the stated range


def test_summary_records_the_firm_stock_basis(tmp_path):
    from jjj_sim.runner.outputs import firm_stock_basis

    cfg = make_cfg("population.scale=0.01")
    b = firm_stock_basis(cfg)
    assert b["growth_half_life_years"] == 2.0 and b["range"] == [1.0, 4.0]
    assert "scenario assumption" in b["basis"]


def test_half_life_outside_its_stated_range_is_refused():
    from jjj_sim.core.errors import ConfigError

    with pytest.raises(ConfigError, match="growth_half_life_years"):
        make_cfg("params.demography.growth_half_life_years=9")


def test_the_committed_posterior_matches_the_free_parameters():
    """The shipped posterior is one of the current model: its columns are the free parameters of
    conf/calibrate.yaml, and a draw runs (stale columns would make every params_draw fail)."""
    free = set(yaml.safe_load((ROOT / "conf" / "calibrate.yaml").read_text())["calibration"]["free"])
    p = posterior.load(ROOT / "calibration" / "fitted" / "baseline_posterior.parquet")
    assert set(p.names) == free
    assert p.meta["method"] == "laplace-smc" and p.effective_size == pytest.approx(p.size)  # equal weights
    cfg = make_cfg("population.scale=0.01", "params_draw=3", "run.end_year=2015")
    RelocationModel(cfg, seed=1).run_model()

"""The targets / figures schema: range targets, park and ratio targets, and every malformed entry."""

from __future__ import annotations

import math

import pytest
import yaml

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner.targets import Target, load_targets, loss, residuals

BASE = {"year": 2016, "kind": "approx", "tolerance": 0.1, "source": "s", "date": "2016-12-29", "quote": "q"}


def entry(id_="A", **kw) -> dict:
    e = {"id": id_, "indicator": "beijing_closures_cum", "value": 1300, **BASE}
    for k, v in kw.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def write(tmp_path, entries, name="figs.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"targets": entries}, sort_keys=False))
    return p


def load(tmp_path, entries, **kw):
    return load_targets(write(tmp_path, entries), **kw)


RESULT = {
    "indicators": {"firms_by_province_beijing": {"2015": 800.0, "2016": 750.0},
                   "firms_by_province_hebei": {"2015": 1000.0, "2016": 0.0},
                   "beijing_closures_cum": {"2015": 900.0, "2016": 1500.0}},
    "parks": {"binhai_zgc": {"name": "Binhai", "capacity": 4000.0,
                             "firms": {"2015": 120.0, "2016": 180.0},
                             "firms_from_beijing": {"2015": 40.0, "2016": 70.0},
                             "firms_from_bjtj": {"2015": 60.0, "2016": 95.0}}},
}


# ---------------------------------------------------------------------------- range
def _range(low=100.0, high=200.0, tol=0.1, value=None):
    return Target("R", "beijing_closures_cum", 2016, value or (low + high) / 2, "range", tol, "s", "d", "q", low=low, high=high)


def test_range_distance_and_met():
    r = _range()
    assert r.distance(100) == r.distance(150) == r.distance(200) == 0.0
    assert r.distance(90) == pytest.approx(1.0)  # 10 below low = one tolerance of low
    assert r.distance(220) == pytest.approx(1.0)  # 20 above high = one tolerance of high
    assert r.distance(80) == pytest.approx(4.0)
    assert r.met(100) and r.met(200) and r.met(150) and not r.met(99.9) and not r.met(200.1)
    assert not r.met(math.nan) and r.distance(math.nan) == math.inf
    # the margin narrows the interval inward: [110, 180]
    assert r.distance(150, margin=0.1) == 0.0
    assert r.distance(100, margin=0.1) == pytest.approx(1.0)
    assert r.distance(200, margin=0.1) == pytest.approx(1.0)
    # ... by at most a quarter of the width at each end: a narrow range keeps its middle half
    narrow = _range(100.0, 101.0)
    assert narrow.distance(100.5, margin=0.1) == 0.0 and narrow.distance(99, margin=0.1) > 0
    assert narrow.distance(100.2, margin=0.1) > 0 and narrow.distance(100.8, margin=0.1) > 0
    assert loss([r], {"R": 90}) == pytest.approx(1.0)


def test_range_loads_with_midpoint_value(tmp_path):
    (t,) = load(tmp_path, [entry(kind="range", value=None, low=1000, high=3000)])
    assert (t.kind, t.low, t.high, t.value) == ("range", 1000.0, 3000.0, 2000.0)
    (t,) = load(tmp_path, [entry(kind="range", value=1300, low=1000, high=3000)])
    assert t.value == 1300.0
    assert t.met(1000) and not t.met(3001)


def test_one_sided_and_approx_unchanged(tmp_path):
    a, lo, hi = load(tmp_path, [entry("a"), entry("b", kind="at_least"), entry("c", kind="at_most")])
    assert a.distance(1430) == pytest.approx(1.0) and a.met(1430) and not a.met(1431)
    assert lo.distance(1170) == pytest.approx(1.0) and lo.distance(1300, margin=0.1) == pytest.approx(1.0)
    assert hi.distance(1430) == pytest.approx(1.0) and hi.met(1300) and not hi.met(1301)



def test_residual_is_the_signed_root_of_the_distance_and_rises_with_the_value(tmp_path):
    """What the least-squares polish reads: below the target negative, above positive, in units
    of the tolerance, never falling as the simulated value rises (with and without the margin);
    the weighted residuals' squares sum to the loss."""
    a, lo, hi = load(tmp_path, [entry("a"), entry("b", kind="at_least", weight=2), entry("c", kind="at_most")])
    r = _range()
    for t in (a, lo, hi, r, _range(100.0, 101.0)):
        for margin in (0.0, 0.1):
            values = [50.0 * i for i in range(60)]
            res = [t.residual(v, margin) for v in values]
            assert all(x <= y for x, y in zip(res, res[1:])), (t.id, margin)
    assert a.residual(1170) == pytest.approx(-1.0) and a.residual(1430) == pytest.approx(1.0)
    assert lo.residual(1170) == pytest.approx(-1.0) and lo.residual(5000) == 0.0
    assert hi.residual(1430) == pytest.approx(1.0) and hi.residual(0) == 0.0
    assert r.residual(90) == pytest.approx(-1.0) and r.residual(220) == pytest.approx(1.0) and r.residual(150) == 0.0
    assert a.residual(math.nan) == math.inf
    # the margin: aim 10% past a bound (1430), and into [110, 180] for a range of [100, 200]
    assert lo.residual(1300, margin=0.1) == pytest.approx(-1.0) and lo.residual(1431, margin=0.1) == 0.0
    assert r.residual(100, margin=0.1) == pytest.approx(-1.0) and r.residual(200, margin=0.1) == pytest.approx(1.0)
    sim = {"a": 1500.0, "b": 1000.0, "c": 1400.0}
    assert sum(x ** 2 for x in residuals([a, lo, hi], sim, 0.02)) == pytest.approx(loss([a, lo, hi], sim, 0.02))

# ---------------------------------------------------------------------------- measures
def test_indicator_park_and_ratio_simulated(tmp_path):
    ind, park, share, bj = load(tmp_path, [
        entry("ind"),
        entry("park", indicator=None, park="binhai_zgc", field="firms_from_bjtj", year=2015, value=50),
        entry("share", indicator=None, ratio=["firms_by_province_beijing", "firms_by_province_hebei"],
              year=2015, value=0.8),
        entry("bj", indicator=None, park="binhai_zgc", field="firms_from_beijing", value=50)])
    assert ind.simulated(RESULT) == 1500.0
    assert park.simulated(RESULT) == 60.0 and bj.simulated(RESULT) == 70.0
    assert share.simulated(RESULT) == pytest.approx(0.8) and share.met(0.8)
    assert (park.series, park.unit, park.measures) == (
        "park.binhai_zgc.firms_from_bjtj", "firms", {"park": "binhai_zgc", "field": "firms_from_bjtj"})
    assert (share.series, share.unit) == ("ratio.firms_by_province_beijing.firms_by_province_hebei", "share")
    assert (ind.series, ind.unit, ind.indicator, park.indicator) == ("beijing_closures_cum", "firms",
                                                                     "beijing_closures_cum", None)
    assert share.series_values(RESULT)["2015"] == pytest.approx(0.8)


def test_ratio_with_zero_denominator_is_nan(tmp_path):
    (share,) = load(tmp_path, [entry(indicator=None, ratio=["firms_by_province_beijing", "firms_by_province_hebei"],
                                     value=0.5)])
    assert math.isnan(share.simulated(RESULT)) and not share.met(share.simulated(RESULT))


def test_missing_series_or_year_in_result_is_a_key_error(tmp_path):
    park, late = load(tmp_path, [entry("p", indicator=None, park="baoding_zgc", field="firms"),
                                 entry("late", year=2020)])
    with pytest.raises(KeyError, match="baoding_zgc"):
        park.simulated(RESULT)
    with pytest.raises(KeyError, match="2020"):
        late.simulated(RESULT)


# ---------------------------------------------------------------------------- ids
def test_ids_are_strings_and_1_collides_with_quoted_1(tmp_path):
    (t,) = load(tmp_path, [entry(7)])
    assert t.id == "7"
    with pytest.raises(ConfigError) as e:
        load(tmp_path, [entry(1), entry("1")])
    assert e.value.field == "figs.yaml:1.id" and "duplicate" in e.value.message


# ---------------------------------------------------------------------------- malformed files
P = dict(indicator=None, park="binhai_zgc", field="firms")
RATIO = ["firms_by_province_beijing", "firms_by_province_hebei"]


@pytest.mark.parametrize("e, field", [
    # what the target measures
    (entry(indicator=None), "figs.yaml:A.indicator"),
    (entry(park="binhai_zgc", field="firms"), "figs.yaml:A.park"),
    (entry(ratio=RATIO), "figs.yaml:A.ratio"),
    (entry(indicator="no_such"), "figs.yaml:A.indicator"),
    (entry(**{**P, "park": "atlantis"}), "figs.yaml:A.park"),
    (entry(**{**P, "park": "beijing_core"}), "figs.yaml:A.park"),  # a region, not a park
    (entry(**{**P, "field": "branches"}), "figs.yaml:A.field"),
    (entry(**{**P, "field": None}), "figs.yaml:A.field"),
    (entry(field="firms"), "figs.yaml:A.field"),  # field without park
    (entry(indicator=None, ratio=["firms_by_province_beijing"]), "figs.yaml:A.ratio"),
    (entry(indicator=None, ratio=["firms_by_province_beijing", "nope"]), "figs.yaml:A.ratio"),
    (entry(indicator=None, ratio="firms_by_province_beijing"), "figs.yaml:A.ratio"),
    (entry(indicator=None, ratio=RATIO + RATIO[:1]), "figs.yaml:A.ratio"),
    # kind, values and bounds
    (entry(kind="roughly"), "figs.yaml:A.kind"),
    (entry(value="many"), "figs.yaml:A.value"),
    (entry(value=None), "figs.yaml:A.value"),
    (entry(value=-5), "figs.yaml:A.value"),
    (entry(value=True), "figs.yaml:A.value"),
    (entry(tolerance="ten"), "figs.yaml:A.tolerance"),
    (entry(tolerance=2), "figs.yaml:A.tolerance"),
    (entry(weight=-1), "figs.yaml:A.weight"),
    (entry(weight=0), "figs.yaml:targets"),
    (entry(kind="range", value=None, high=3000), "figs.yaml:A.low"),
    (entry(kind="range", value=None, low=1000), "figs.yaml:A.high"),
    (entry(kind="range", value=None, low=3000, high=1000), "figs.yaml:A.high"),
    (entry(kind="range", value=None, low=1000, high=1000), "figs.yaml:A.high"),
    (entry(kind="range", value=None, low=0, high=1000), "figs.yaml:A.low"),
    (entry(kind="range", value=None, low="1k", high=3000), "figs.yaml:A.low"),
    (entry(kind="range", value=5000, low=1000, high=3000), "figs.yaml:A.value"),
    (entry(low=1000), "figs.yaml:A.low"),  # low/high only for ranges
    # provenance, year, unknown keys, ids
    (entry(quote=None), "figs.yaml:A.quote"),
    (entry(source=""), "figs.yaml:A.source"),
    (entry(year=2040), "figs.yaml:A.year"),
    (entry(year=2013), "figs.yaml:A.year"),
    (entry(year="2016"), "figs.yaml:A.year"),
    (entry(feild="firms"), "figs.yaml:A.feild"),
    (entry(id_=None), "figs.yaml:targets[0].id"),
    (entry(id_=["x"]), "figs.yaml:targets[0].id"),
    (entry(id_=True), "figs.yaml:targets[0].id"),
    ("just a string", "figs.yaml:targets[0]"),
])
def test_malformed_entry_names_entry_and_field(tmp_path, e, field):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, [e])
    assert err.value.field == field
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["targets: [unclosed", "targets: []", "- a list", "other: 1", "", "\tbad: [tab"])
def test_malformed_file_names_the_file(tmp_path, text):
    p = tmp_path / "figs.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_targets(p)
    assert err.value.field == "figs.yaml" and "\n" not in str(err.value)


def test_missing_file_names_the_config_key(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_targets(tmp_path / "nope.yaml")
    assert err.value.field == "calibration.targets"
    with pytest.raises(ConfigError) as err:
        load_targets(tmp_path / "nope.yaml", field="figures")
    assert err.value.field == "figures"


def test_year_after_the_run(tmp_path):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, [entry(year=2020)], end_year=2018)
    assert err.value.field == "figs.yaml:A.year"


def test_target_positional_constructor_still_works():
    t = Target("X", "zgc_branches_tjhb", 2020, 100.0, "approx", 0.1, "s", "d", "q", weight=2)
    assert t.series == "zgc_branches_tjhb" and t.low is None and t.weight == 2

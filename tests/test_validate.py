"""jjj-sim-validate: the model (or given runs) against a figures file, end to end, and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner.targets import Target, load_targets
from jjj_sim.sim.indicators import INDICATORS
from jjj_sim.tools.validate import write_plots

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["population.scale=0.01", "seeds=2", "run.end_year=2016"]
PROV = {"source": "test", "date": "2016-12-29", "quote": "q", "tolerance": 0.1}
FIGURES = [
    {"id": "F1", "indicator": "beijing_closures_cum", "year": 2016, "kind": "range", "low": 1000, "high": 3000,
     "what": "closures 2014-2016", **PROV},
    {"id": "F2", "park": "binhai_zgc", "field": "firms_from_bjtj", "year": 2015, "kind": "at_least", "value": 50, **PROV},
    {"id": 3, "ratio": ["firms_by_province_beijing", "firms_by_province_hebei"], "year": 2016, "kind": "approx",
     "value": 0.8, **PROV},
]
SERIES = ["beijing_closures_cum", "park.binhai_zgc.firms_from_bjtj",
          "ratio.firms_by_province_beijing.firms_by_province_hebei"]


def validate(*args, timeout=300):
    exe = Path(sys.executable).with_name("jjj-sim-validate")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def write_figures(path: Path, figures=FIGURES) -> Path:
    path.write_text(yaml.safe_dump({"targets": figures}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def figures_file(tmp_path_factory) -> Path:
    return write_figures(tmp_path_factory.mktemp("figs") / "figs.yaml")


@pytest.fixture(scope="module")
def validated(figures_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("val") / "out"
    r = validate(f"figures={figures_file}", *SMALL, f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


def test_validation_report(validated):
    out, r = validated
    rep = json.loads((out / "validation.json").read_text())
    assert (rep["scenario"], rep["population_scale"], rep["end_year"], rep["runs"]) == ("baseline", 0.01, 2016, None)
    assert len(rep["seeds"]) == 2 and rep["total"] == 3
    assert [f["id"] for f in rep["figures"]] == ["F1", "F2", "3"]
    keys = {"id", "what", "measures", "series", "unit", "year", "kind", "reported", "low", "high", "mean", "p05",
            "p95", "min", "max", "met", "in_band", "source", "date", "values"}
    for f, series in zip(rep["figures"], SERIES):
        assert keys <= set(f), keys - set(f)
        assert f["series"] == series
        assert isinstance(f["met"], bool) and isinstance(f["in_band"], bool)
        assert f["min"] <= f["p05"] <= f["mean"] <= f["p95"] <= f["max"]
        assert len(f["values"]) == 2
    f1, f2, f3 = rep["figures"]
    assert (f1["kind"], f1["low"], f1["high"], f1["reported"], f1["what"]) == ("range", 1000, 3000, 2000, "closures 2014-2016")
    assert f1["met"] == (1000 <= f1["mean"] <= 3000)
    assert f1["in_band"] == (f1["p05"] <= 3000 and f1["p95"] >= 1000)
    assert f2["measures"] == {"park": "binhai_zgc", "field": "firms_from_bjtj"} and f2["unit"] == "firms"
    assert f2["met"] == (f2["mean"] >= 50) and f2["low"] is None
    assert f3["measures"] == {"ratio": ["firms_by_province_beijing", "firms_by_province_hebei"]}
    assert f3["unit"] == "share" and 0 < f3["mean"] < 10
    assert rep["met"] == sum(f["met"] for f in rep["figures"])
    # the parks' record beside the model: every figure of park_record.csv; the run ends in 2016
    from jjj_sim.runner.park_record import load

    rec = {r["id"]: r for r in rep["park_record"]}
    assert list(rec) == [f.id for f in load()]
    assert rec["P1_2015"]["mean"] is not None and rec["P1_2015"]["within"] == (20 <= rec["P1_2015"]["mean"] <= 60)
    assert rec["P2_2020"]["mean"] is None and rec["P2_2020"]["within_text"] == "run ends before 2020"


def test_validation_markdown_plots_and_stdout(validated):
    out, r = validated
    rep = json.loads((out / "validation.json").read_text())
    md = (out / "validation.md").read_text()
    assert f"{rep['met']} of 3 figures met" in md
    assert "| F1 | beijing_closures_cum (2016) | 1,000 to 3,000 |" in md
    assert "park binhai_zgc: firms_from_bjtj (2015)" in md and "at least 50" in md
    assert "## Parks: the record beside the model" in md and "36 firms and institutions" in md
    for s in SERIES:
        assert (out / "plots" / f"{s}.png").stat().st_size > 1000, s
    assert f"{rep['met']} of 3 figures met" in r.stdout and f"outputs: {out}" in r.stdout
    assert not list(out.glob(".partial-*"))
    assert yaml.safe_load((out / "config_resolved.yaml").read_text())["run"]["end_year"] == 2016
    # a finished validation is never written over
    again = validate(f"figures={rep['figures_file']}", *SMALL, f"hydra.run.dir={out}")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[0].startswith("jjj-sim-validate: error: hydra.run.dir:")


def _summary(scale: float, park_firms: float) -> dict:
    years = ("2014", "2015", "2016")
    return {
        "scenario": "baseline", "seed": 1, "population_scale": 1.0,
        "indicators": {"beijing_closures_cum": {y: scale * 1000 * (i + 1) for i, y in enumerate(years)},
                       "firms_by_province_beijing": {y: 800.0 * scale for y in years},
                       "firms_by_province_hebei": {y: 1000.0 for y in years}},
        # "firms": the field the model is adding to summary.json; built by hand here
        "parks": {"binhai_zgc": {"firms": {y: park_firms for y in years},
                                 "firms_from_bjtj": {y: park_firms / 2 for y in years}}},
    }


def test_given_runs_are_scored_instead_of_running(tmp_path):
    dirs = []
    for i, (scale, firms) in enumerate(((1.0, 100.0), (1.5, 300.0))):
        d = tmp_path / f"run{i}"
        d.mkdir()
        (d / "summary.json").write_text(json.dumps(_summary(scale, firms)))
        dirs.append(d)
    figs = [FIGURES[0], {**FIGURES[1], "field": "firms", "value": 250}, {**FIGURES[2], "value": 1.0}]
    fig_file = write_figures(tmp_path / "figs.yaml", figs)
    out = tmp_path / "out"
    r = validate(f"figures={fig_file}", f"runs=[{dirs[0]},{dirs[1]}]", f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((out / "validation.json").read_text())
    assert rep["seeds"] is None and [x["dir"] for x in rep["runs"]] == [str(d) for d in dirs]
    f1, f2, f3 = rep["figures"]
    # range [1000, 3000] against 3000 and 4500: mean above it, band 3075-4425 clear of it
    assert f1["values"] == [3000, 4500] and f1["mean"] == 3750 and f1["met"] is False
    assert (f1["p05"], f1["p95"], f1["min"], f1["max"]) == (pytest.approx(3075), pytest.approx(4425), 3000, 4500)
    assert f1["in_band"] is False and f1["share_of_runs_met"] == 0.5
    # park firms at least 250 against 100 and 300 (in 2015): mean short, 250 inside the band
    assert f2["values"] == [100, 300] and f2["met"] is False and f2["in_band"] is True
    # share about 1.0 against 0.8 and 1.2
    assert f3["mean"] == pytest.approx(1.0) and f3["met"] is True and f3["in_band"] is True
    assert rep["met"] == 1 and "1 of 3 figures met" in (out / "validation.md").read_text()
    for s in ("beijing_closures_cum", "park.binhai_zgc.firms", SERIES[2]):
        assert (out / "plots" / f"{s}.png").exists()
    # a run that lacks a figure's year or series is refused, naming it
    (dirs[1] / "summary.json").write_text(json.dumps({**_summary(1.0, 1.0), "parks": {}}))
    r = validate(f"figures={fig_file}", f"runs=[{dirs[0]},{dirs[1]}]", f"hydra.run.dir={tmp_path / 'out2'}")
    assert r.returncode == 2 and not (tmp_path / "out2").exists()
    assert r.stderr.strip().splitlines() == [
        f"jjj-sim-validate: error: runs[1]: {dirs[1] / 'summary.json'}: no park 'binhai_zgc' in the result "
        "(needed by figure F2)"]


def test_given_real_run_is_scored(tmp_path, figures_file):
    run = tmp_path / "run"
    exe = Path(sys.executable).with_name("jjj-sim")
    r = subprocess.run([str(exe), *SMALL[:1], "run.end_year=2016", "run.plots=false", "run.record_events=false",
                        f"hydra.run.dir={run}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "out"
    r = validate(f"figures={figures_file}", f"runs=[{run}]", f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((out / "validation.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    f1, f2, f3 = rep["figures"]
    assert f1["mean"] == f1["p05"] == f1["p95"] == summary["indicators"]["beijing_closures_cum"]["2016"]
    assert f2["mean"] == summary["parks"]["binhai_zgc"]["firms_from_bjtj"]["2015"]
    ind = summary["indicators"]
    assert f3["mean"] == pytest.approx(ind["firms_by_province_beijing"]["2016"] / ind["firms_by_province_hebei"]["2016"])


def test_end_year_is_raised_to_the_latest_figure(figures_file):
    from jjj_sim.runner.compose import compose as compose_config
    from jjj_sim.tools.validate import Settings

    s = Settings(compose_config([f"figures={figures_file}", "run.end_year=2014"], "validate"))
    assert s.end_year == 2016 and s.seeds == 10 and s.given == []
    s = Settings(compose_config([f"figures={figures_file}", "run.end_year=2030"], "validate"))
    assert s.end_year == 2030
    with pytest.raises(ConfigError) as e:
        Settings(compose_config([f"figures={figures_file}", "seeds=true"], "validate"))
    assert e.value.field == "seeds"


def test_default_figures_are_the_calibration_targets():
    from jjj_sim.runner.compose import compose as compose_config
    from jjj_sim.tools.validate import Settings

    s = Settings(compose_config([], "validate"))
    assert [t.id for t in s.figures] == [t.id for t in load_targets(ROOT / "calibration" / "targets.yaml")]


def _bad_figures(tmp_path):
    return write_figures(tmp_path / "bad.yaml", [{**FIGURES[0], "indicator": "nope"}])


def _late_figures(tmp_path):
    return write_figures(tmp_path / "late.yaml", [FIGURES[0], {**FIGURES[1], "year": 2040}])


def _unparsable(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("targets: [unclosed")
    return p


@pytest.mark.parametrize("make_args, field", [
    (lambda tmp, figs: [f"figures={_unparsable(tmp)}"], "broken.yaml"),
    (lambda tmp, figs: [f"figures={_bad_figures(tmp)}"], "bad.yaml:F1.indicator"),
    (lambda tmp, figs: [f"figures={_late_figures(tmp)}"], "late.yaml:F2.year"),
    (lambda tmp, figs: [f"figures={tmp / 'missing.yaml'}"], "figures"),
    (lambda tmp, figs: [f"figures={figs}", "seeds=0"], "seeds"),
    (lambda tmp, figs: [f"figures={figs}", f"runs=[{tmp}]"], "runs[0]"),
    (lambda tmp, figs: [f"figures={figs}", "scenario=nope"], "scenario"),
])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, figures_file, make_args, field):
    out = tmp_path / "out"
    r = validate(*SMALL, *make_args(tmp_path, figures_file), f"hydra.run.dir={out}")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jjj-sim-validate: error: {field}: "), lines
    assert not out.exists()


def test_forecast_of_the_out_of_sample_series(figures_file, tmp_path):
    """forecast=FILE adds forecast.json/.md: each series' mean and 90% band in each year asked
    (the run is extended to the latest forecast year)."""
    fc = tmp_path / "fc.yaml"
    fc.write_text(yaml.safe_dump({"series": [
        {"id": "A", "what": "contracts in the year", "indicator": "tech_contracts_bj_to_tjhb", "years": [2017, 2018]},
        {"id": "B", "park": "luquan_edz", "field": "firms_from_bjtj", "years": [2018]},
        {"id": "C", "ratio": ["hebei_firms_attracted_from_beijing_cum", "hebei_firms_attracted_cum"], "years": [2018]},
    ]}))
    out = tmp_path / "out"
    r = validate(f"figures={figures_file}", f"forecast={fc}", *SMALL, f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads((out / "forecast.json").read_text())
    assert [(x["id"], x["year"]) for x in rows] == [("A", 2017), ("A", 2018), ("B", 2018), ("C", 2018)]
    for x in rows:
        assert x["p05"] <= x["mean"] <= x["p95"]
    assert 0 < rows[3]["mean"] <= 1  # a share
    assert json.loads((out / "validation.json").read_text())["end_year"] == 2018
    assert "| A | contracts in the year | 2017 |" in (out / "forecast.md").read_text()


@pytest.mark.parametrize("series, field", [
    ([{"id": "A", "indicator": "nope", "years": [2018]}], "fc.yaml:A.indicator"),
    ([{"id": "A", "indicator": "zgc_branches_tjhb", "years": [2040]}], "fc.yaml:A.years"),
    ([{"id": "A", "park": "atlantis", "field": "firms", "years": [2018]}], "fc.yaml:A.park"),
])
def test_bad_forecast_files_are_refused(tmp_path, figures_file, series, field):
    fc = tmp_path / "fc.yaml"
    fc.write_text(yaml.safe_dump({"series": series}))
    out = tmp_path / "out"
    r = validate(f"figures={figures_file}", f"forecast={fc}", *SMALL, f"hydra.run.dir={out}")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jjj-sim-validate: error: {field}"), r.stderr
    assert not out.exists()


def test_plot_titles_drop_the_chinese_terms_the_font_cannot_draw(tmp_path):
    """Two indicators' words carry the record's Chinese terms (关停退出, 不予办理登记): the reports
    keep them, the plots' titles drop them (matplotlib's default font has no CJK glyphs, which
    drew as empty boxes with a warning per glyph)."""
    assert "不予办理登记" in INDICATORS["registrations_refused_cum"].label
    figure = Target("T13", "registrations_refused_cum", 2017, 18600, "approx", 0.05, "s", "d", "q")
    runs = [{"indicators": {"registrations_refused_cum": {"2016": 15000.0 + i, "2017": 18000.0 + i}}} for i in range(3)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (path,) = write_plots(tmp_path, [figure], runs)
    assert path.stat().st_size > 1000
    assert not [w for w in caught if "missing from font" in str(w.message)], [str(w.message) for w in caught]

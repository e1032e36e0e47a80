"""Parks without a physical limit, the full/overflow note, and the record beside the model
(jjj_sim/data/park_record.csv) in compare's report, jjj-sim-validate and the dashboard."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import make_cfg

from jjj_sim.reporting import report, words
from jjj_sim.runner import park_record
from jjj_sim.runner.ensembles import result_rows, summarise
from jjj_sim.runner.outputs import summary

END = 2020  # the runs end here: figures of 2015-2020 are simulated, those of 2023 and 2025 are not
SEEDS = (3, 4)
RUN = ("population.scale=0.02", f"run.end_year={END}", "params_file=null", "run.record_events=false",
       "run.plots=false")
META = {"seeds": len(SEEDS), "seed_values": list(SEEDS), "scale": 0.02, "start": 2014, "end_year": END,
        "runs": 2 * len(SEEDS), "seconds": 1.0, "version": "test", "overrides": list(RUN)}


def _n_figures() -> int:
    with open(Path(park_record.__file__).parents[1] / "data" / "park_record.csv", newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


@pytest.fixture(scope="module")
def runs():
    """Two seeds of the baseline at 2% scale to 2020: their summaries and tidy rows."""
    from jjj_sim.sim.model import RelocationModel

    summaries, rows = [], []
    for seed in SEEDS:
        cfg = make_cfg(*RUN, f"seed={seed}")
        model = RelocationModel(cfg, seed=seed)
        model.run_model()
        summaries.append(summary(model, cfg))
        rows += result_rows(model, "baseline", seed)
    return summaries, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def levels(runs):
    _summaries, rows = runs
    whatif = rows.assign(scenario="whatif")
    return summarise(pd.concat([rows, whatif], ignore_index=True))


def _write(tmp_path, levels, names=("baseline",)):
    scen = [{"name": n, "description": ""} for n in names]
    diffs = pd.DataFrame(columns=["scenario", "indicator", "year", "n_seeds", "mean_diff", "ci90_low", "ci90_high",
                                  "seed_p05", "seed_p95"])
    report.write_report(tmp_path, levels=levels, diffs=diffs, scenarios=scen, images={}, meta=META)
    return (tmp_path / "report.md").read_text(encoding="utf-8"), (tmp_path / "report.html").read_text(encoding="utf-8")


def _md_row(md: str, name: str, after: str = "### Parks, end of") -> list[str]:
    part = md[md.index(after):]
    line = next(ln for ln in part.splitlines() if ln.startswith(f"| {name} |"))
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


# ---------------------------------------------------------------------------- runs and their rows
def test_parks_without_limit_have_no_capacity_or_fill_and_summary_is_strict_json(runs):
    summaries, rows = runs
    parks = summaries[0]["parks"]
    assert parks["xiongan_zgc"]["capacity"] == pytest.approx(56.0)
    assert parks["caofeidian"]["capacity"] is None and parks["binhai_zgc"]["capacity"] is None
    json.dumps(summaries[0], allow_nan=False)  # no inf or NaN anywhere
    ids = set(rows.indicator)
    assert {"park_capacity:xiongan_zgc", "park_fill_pct:xiongan_zgc"} <= ids
    limited = {pid for pid, p in parks.items() if p["capacity"] is not None}
    assert limited == {"xiongan_zgc"}
    for pid in parks:
        has = f"park_capacity:{pid}" in ids and f"park_fill_pct:{pid}" in ids
        assert has == (pid in limited), pid
    assert np.isfinite(rows.value.to_numpy(dtype=float)).all()


# ---------------------------------------------------------------------------- compare's report
def test_park_without_limit_shows_no_fill_and_is_never_full(tmp_path, levels):
    md, html = _write(tmp_path, levels)
    cells = _md_row(md, "Beijing (Caofeidian) Modern Industry Development Pilot Area")
    assert cells[2] == words.NO_LIMIT and cells[4] == words.NO_FILL
    assert report.md_escape(words.NO_LIMIT) in md and "Tianjin Binhai-Zhongguancun" in md
    full_line = next((ln for ln in md.splitlines() if ln.startswith("Full (")), "")
    assert "Caofeidian" not in full_line and "Binhai" not in full_line
    # Xiong'an: named as full exactly when it sent firms to its region or reached its capacity
    x = _md_row(md, "Xiong'an Zhongguancun Science and Technology Park")
    overflow = levels.query("scenario == 'baseline' and indicator == 'park_overflow_to_region:xiongan_zgc' "
                            "and year == @END")["mean"].iloc[0]
    fill = levels.query("scenario == 'baseline' and indicator == 'park_fill_pct:xiongan_zgc' and year == @END")
    full = overflow > 0 or fill["mean"].iloc[0] >= 100
    assert x[2] == "56"
    assert ("(full)" in x[4]) == full and ("Xiong'an" in full_line) == full
    if not full:
        assert "No park is full in any scenario." in md


def _levels(pid_values: dict, scenario="baseline", year=END) -> pd.DataFrame:
    return pd.DataFrame([{"scenario": scenario, "indicator": k, "year": year, "mean": v, "p05": v, "p95": v}
                         for k, v in pid_values.items()])


def test_xiongan_with_overflow_is_named_full_even_under_100_percent(tmp_path):
    # at 2% scale Xiong'an holds floor(56 x 0.02) = 1 simulated firm = 50 real firms: 89% of 56, and full
    lv = _levels({"park_firms:xiongan_zgc": 50.0, "park_fill_pct:xiongan_zgc": 100 * 50 / 56,
                  "park_capacity:xiongan_zgc": 56.0, "park_overflow_to_region:xiongan_zgc": 800.0,
                  "park_firms:caofeidian": 50_000.0, "park_overflow_to_region:caofeidian": 0.0})
    md, html = _write(tmp_path, lv)
    assert "Full (at capacity by the end of 2020) in at least one scenario: Xiong'an Zhongguancun" in md
    assert "No park is full" not in md and "No park is full" not in html
    x = _md_row(md, "Xiong'an Zhongguancun Science and Technology Park")
    assert x[4] == "89.3% (full)" and x[6] == "800"
    assert re.search(r'<td class="num full">89\.3% \(full\)</td>', html)
    c = _md_row(md, "Beijing (Caofeidian) Modern Industry Development Pilot Area")
    assert c[2:5] == ["no limit", "50,000", words.NO_FILL]


def test_no_overflow_and_room_left_is_not_full(tmp_path):
    lv = _levels({"park_firms:xiongan_zgc": 28.0, "park_fill_pct:xiongan_zgc": 50.0,
                  "park_capacity:xiongan_zgc": 56.0, "park_overflow_to_region:xiongan_zgc": 0.0,
                  "park_firms:caofeidian": 50_000.0, "park_overflow_to_region:caofeidian": 0.0})
    md, _html = _write(tmp_path, lv)
    assert "No park is full in any scenario." in md and "Full (" not in md
    assert _md_row(md, "Xiong'an Zhongguancun Science and Technology Park")[4] == "50.0%"


def test_record_table_in_compare_report(tmp_path, levels):
    md, html = _write(tmp_path, levels)
    assert "### Parks: the record beside the model" in md and "<h3>Parks: the record beside the model</h3>" in html
    part = md[md.index("### Parks: the record beside the model"):]
    table = [ln for ln in part.splitlines() if ln.startswith("| ") and not ln.startswith("| Park |")]
    assert len(table) == _n_figures() == len(park_record.load())
    # a 2020 figure, within the run: its reported text and the simulated mean (firms from Beijing in 2020)
    mean = levels.query("scenario == 'baseline' and indicator == 'park_firms_from_beijing:binhai_zgc' "
                        "and year == 2020")["mean"].iloc[0]
    row = _md_row(md, "Tianjin Binhai-Zhongguancun Science and Technology Park",
                  "### Parks: the record beside the model")  # the first Binhai row: 2017
    assert row[1] == "more than 300 registered firms" and row[3] == "2017-12"
    p2 = next(ln for ln in table if "1,884 registered firms (Q1-Q3 2020)" in ln)
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", p2)[1:-1]]
    assert cells[4] == "firms from Beijing, end of 2020" and cells[5] == "280\u2013500"
    assert cells[6] == words.fmt_value(mean, "firms")
    assert cells[8] == ("yes" if 280 <= mean <= 500 else "no") and cells[9] == "target P2_2020"
    # a 2023 figure, beyond the run's end
    late = next(ln for ln in table if "4,990 registered firms" in ln)
    assert "run ends before 2023" in late
    # sources are cited by their text, not by notes outside the project
    assert "Xinhua, 14 Sep 2019 and reprints" in part and "shared/reference" not in md


def test_record_rows_within_and_past_the_end(runs):
    summaries, _rows = runs
    rows = report.park_record(summaries[0]["parks"], END)
    assert len(rows) == _n_figures()
    by_id = {r["id"]: r for r in rows}
    p1 = by_id["P1_2020"]
    assert p1["simulated"] == summaries[0]["parks"]["baoding_zgc"]["firms_from_beijing"]["2020"]
    assert p1["within"] == (200 <= p1["simulated"] <= 400)
    assert p1["text"]["within"] == ("yes" if p1["within"] else "no")
    x = by_id["xiongan_zgc_2023"]
    assert x["simulated"] is None and x["within"] is None and x["text"]["within"] == "run ends before 2023"


# ---------------------------------------------------------------------------- jjj-sim-validate
def test_validate_has_the_record_table(runs):
    from jjj_sim.tools.validate import park_record_markdown, park_record_table

    summaries, _rows = runs
    rows = park_record_table(summaries)
    assert len(rows) == _n_figures()
    json.dumps(rows, allow_nan=False)
    by_id = {r["id"]: r for r in rows}
    vals = [s["parks"]["binhai_zgc"]["firms_from_beijing"]["2020"] for s in summaries]
    p2 = by_id["P2_2020"]
    assert p2["mean"] == pytest.approx(np.mean(vals)) and p2["p05"] <= p2["mean"] <= p2["p95"]
    assert p2["within"] == (280 <= p2["mean"] <= 500)
    assert by_id["binhai_2025"]["mean"] is None and by_id["binhai_2025"]["within_text"] == "run ends before 2025"
    md = "\n".join(park_record_markdown(rows, len(summaries)))
    assert "## Parks: the record beside the model" in md
    assert "1,884 registered firms (Q1-Q3 2020)" in md and "run ends before 2023" in md


# ---------------------------------------------------------------------------- dashboard
def test_dashboard_parks_and_record_tables(levels):
    from jjj_sim.tools.dashboard import views

    res = SimpleNamespace(levels=levels, diffs=pd.DataFrame(columns=["scenario", "indicator", "year", "mean_diff",
                                                                     "ci90_low", "ci90_high"]),
                          reference="baseline", whatif="whatif", end_year=END, n_seeds=len(SEEDS))
    parks = views.parks_table(res, END)
    row = re.search(r'<tr data-park="caofeidian"[^>]*>(.*?)</tr>', parks).group(1)
    assert '<td class="num capacity">no limit</td>' in row and f'<td class="num fill">{words.NO_FILL}</td>' in row
    assert "(full)" not in row
    x = re.search(r'<tr data-park="xiongan_zgc"[^>]*>(.*?)</tr>', parks).group(1)
    assert '<td class="num capacity">56</td>' in x
    rec = views.park_record_table(res)
    assert rec.count("<tr data-figure=") == _n_figures()
    late = re.search(r'<tr data-figure="binhai_2023">(.*?)</tr>', rec).group(1)
    assert "run ends before 2023" in late and "4,990 registered firms" in late
    p2 = re.search(r'<tr data-figure="P2_2020">(.*?)</tr>', rec).group(1)
    mean = levels.query("scenario == 'baseline' and indicator == 'park_firms_from_beijing:binhai_zgc' "
                        "and year == 2020")["mean"].iloc[0]
    assert f'<td class="num sim-base">{words.fmt_value(mean, "firms")} (' in p2


# ---------------------------------------------------------------------------- plots
def test_run_plots_and_compare_parks_plot_cope_without_capacity(tmp_path, runs, levels):
    from jjj_sim.reporting import maps
    from jjj_sim.reporting.plots import write_plots
    from jjj_sim.tools.compare import make_plots

    summaries, _rows = runs
    paths = write_plots(tmp_path / "run", summaries[0])
    assert (tmp_path / "run" / "parks.png").stat().st_size > 1000 and len(paths) == 4
    diffs = pd.DataFrame(columns=["scenario", "indicator", "year", "mean_diff", "ci90_low", "ci90_high",
                                  "seed_p05", "seed_p95"])
    images = make_plots(tmp_path / "cmp", levels[levels.scenario == "baseline"], diffs, ["baseline"], END)
    assert all(p.stat().st_size > 1000 for p in images.values())
    # the map: a park without a physical limit is white ("no capacity limit"), not grey (no data)
    fig = maps.map_figure({}, {"caofeidian": 10.0, "xiongan_zgc": 50.0}, park_fill={"xiongan_zgc": 0.95})
    ax = fig.axes[0]
    (sc,) = [c for c in ax.get_children() if c.get_gid() == "parks"]
    places = maps._default_places()
    faces = sc.get_facecolors()
    assert len({tuple(np.round(f, 3)) for f in faces}) == 2  # Xiong'an's bin, and white for the others
    texts = []
    stack = [next(c for c in ax.get_children() if c.get_gid() == "key")]
    while stack:
        a = stack.pop()
        texts += [a.get_text()] if hasattr(a, "get_text") else []
        stack.extend(a.get_children())
    assert maps.NO_LIMIT_LABEL in texts
    assert int(places.is_park.sum()) == len(faces)


def test_map_fill_marks_an_overflowing_park_full():
    fill = words.map_fill({"xiongan_zgc": 100 * 50 / 56, "other": 50.0}, {"xiongan_zgc": 800.0, "other": 0.0})
    assert fill == {"xiongan_zgc": 1.0, "other": 0.5}
    assert words.map_fill({"xiongan_zgc": 120.0}, {"xiongan_zgc": 10.0}) == {"xiongan_zgc": 1.2}

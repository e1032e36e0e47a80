"""Scenario comparison: paired-difference arithmetic and the command end to end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from jjj_sim.runner.ensembles import paired_differences

ROOT = Path(__file__).resolve().parents[1]


def _runs(base, other):
    rows = []
    for scen, vals in (("baseline", base), ("x", other)):
        for seed, v in enumerate(vals):
            rows.append({"scenario": scen, "seed": seed, "indicator": "a", "year": 2030, "value": v})
    return pd.DataFrame(rows)


def test_differences_are_paired_by_seed():
    # big seed-to-seed spread, constant scenario effect: the paired interval has zero width
    base = [100.0, 300.0, 1000.0, 50.0]
    d = paired_differences(_runs(base, [b + 7 for b in base]))
    r = d.iloc[0]
    assert r.mean_diff == pytest.approx(7) and r.ci90_low == pytest.approx(7) and r.ci90_high == pytest.approx(7)
    assert r.n_seeds == 4


def test_difference_interval_is_the_t_interval_of_the_mean():
    rng = np.random.default_rng(0)
    base = rng.normal(100, 10, 8)
    diff = rng.normal(5, 2, 8)
    r = paired_differences(_runs(base, base + diff)).iloc[0]
    half = stats.t.ppf(0.95, 7) * diff.std(ddof=1) / np.sqrt(8)
    assert r.mean_diff == pytest.approx(diff.mean())
    assert (r.ci90_low, r.ci90_high) == pytest.approx((diff.mean() - half, diff.mean() + half))
    assert r.seed_p05 == pytest.approx(np.percentile(diff, 5))


def compare(*args):
    exe = Path(sys.executable).with_name("jjj-sim-compare")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_compare_end_to_end(tmp_path):
    out = tmp_path / "cmp"
    r = compare("--scenarios", "baseline,no_strategy", "--seeds", "2", "--scale", "0.005", "--end-year", "2018",
                "--workers", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("report.md", "report.html", "differences.csv", "runs.parquet", "compare_info.json",
                 "plots/timeseries.png", "plots/parks.png", "plots/map.png"):
        assert (out / name).exists(), name
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(runs.scenario) == {"baseline", "no_strategy"}
    assert runs.groupby("scenario").seed.nunique().tolist() == [2, 2]
    # common random numbers: the same seeds in both scenarios
    assert set(runs[runs.scenario == "baseline"].seed) == set(runs[runs.scenario == "no_strategy"].seed)
    d = pd.read_csv(out / "differences.csv")
    closures = d[(d.indicator == "beijing_closures_cum") & (d.year == 2018)].iloc[0]
    base = runs[(runs.scenario == "baseline") & (runs.indicator == "beijing_closures_cum") & (runs.year == 2018)]
    assert closures.mean_diff == pytest.approx(-base.value.mean())  # no closures without the strategy
    assert "Headline indicators, end of 2018" in (out / "report.md").read_text()
    # regions and parks with capacity and fill, for every run
    ids = set(runs.indicator)
    assert {"region_firms:xiongan", "region_firms_from_outside:xiongan", "park_firms:xiongan_zgc",
            "park_fill_pct:xiongan_zgc", "park_capacity:xiongan_zgc", "park_overflow_to_region:caofeidian"} <= ids
    assert not {"park_fill_pct:caofeidian", "park_capacity:caofeidian"} & ids  # no physical limit: no capacity
    md = (out / "report.md").read_text()
    assert "### Parks: the record beside the model" in md and "run ends before 2020" in md
    html = (out / "report.html").read_text()
    assert not re.search(r"<img[^>]+src=[\"'](?!data:)", html), "an image is linked by file, not embedded"
    assert html.count("data:image/png;base64,") == len(list((out / "plots").glob("*.png")))
    assert "Xiong&#39;an New Area" in html or "Xiong'an New Area" in html


def test_compare_takes_files_and_inline_scenarios_from_an_experiments_file(tmp_path, monkeypatch):
    monkeypatch.setenv("JJJ_SIM_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "planner"
    folder.mkdir()
    (folder / "my_case.yaml").write_text(
        "scenario: {name: my_case, description: Xiong'an incentive x2 from 2016}\n"
        "policy:\n  incentives:\n    xiongan:\n      from: [{from: 2016-01, value: 4.0}]\n")
    (folder / "exp.yaml").write_text(
        "scenarios:\n  - baseline\n  - my_case.yaml\n"
        "  - {name: no_push, description: no push, overrides: ['policy.relocation_push.schedule=[]']}\n"
        "seeds: 2\npopulation_scale: 0.005\nend_year: 2018\n")
    out = tmp_path / "cmp"
    r = compare(str(folder / "exp.yaml"), "--workers", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(dict.fromkeys(runs.scenario)) == ["baseline", "my_case", "no_push"]
    # my_case keeps the 2017 Xiong'an entry: identical to the baseline until 2016
    b = runs[(runs.scenario == "baseline") & (runs.year == 2015)].set_index(["seed", "indicator"]).value
    m = runs[(runs.scenario == "my_case") & (runs.year == 2015)].set_index(["seed", "indicator"]).value
    assert (b == m).all()
    assert "my_case" in (out / "report.md").read_text()


@pytest.mark.parametrize("body, field", [
    ("scenarios: [baseline]\nseeds: 2\n", "scenarios"),
    ("scenarios: [baseline, baseline]\nseeds: 2\n", "scenarios"),
    ("scenarios: [baseline, {description: x}]\nseeds: 2\n", "scenarios[1]:name"),
    ("scenarios: [baseline, no_strategy]\npopulaton_scale: 0.1\n", "exp.yaml:populaton_scale"),
    ("scenarios: [baseline, no_strategy]\noverrides: [scenario=no_strategy]\n", "overrides"),
])
def test_compare_refuses_bad_experiment_files(tmp_path, body, field):
    (tmp_path / "exp.yaml").write_text(body)
    out = tmp_path / "cmp"
    r = compare(str(tmp_path / "exp.yaml"), "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [f"jjj-sim-compare: error: {field}: " + r.stderr.split(f"{field}: ", 1)[1].strip()]
    assert not out.exists()


def test_compare_refuses_an_unknown_scenario(tmp_path):
    out = tmp_path / "cmp"
    r = compare("--scenarios", "baseline,atlantis", "--seeds", "2", "--scale", "0.005", "--out", str(out))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "atlantis" in r.stderr
    assert not out.exists()


def test_compare_refuses_an_output_that_is_a_file_and_keeps_an_existing_empty_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = compare("--scenarios", "baseline,no_strategy", "--seeds", "2", "--out", str(f))
    assert r.returncode == 2 and r.stderr.strip() == f"jjj-sim-compare: error: --out: {f} is a file, not a directory"
    empty = tmp_path / "empty"
    empty.mkdir()
    r = compare("--scenarios", "baseline,atlantis", "--seeds", "2", "--out", str(empty))
    assert r.returncode == 2 and empty.is_dir()  # a refused compare leaves the user's folder alone

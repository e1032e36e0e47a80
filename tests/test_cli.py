"""The jjj-sim command end to end on a small population, and its bad-input paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jjj_sim.sim.indicators import INDICATORS

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = ["hebei_firms_attracted_cum", "hebei_firms_attracted_from_beijing_cum", "zgc_branches_tjhb",
            "zgc_branches_tianjin", "zgc_branches_hebei", "beijing_closures_cum", "hebei_hightech_va_share",
            "tech_contracts_bj_to_tjhb", "tech_contract_turnover_bj_to_tjhb_bn_yuan",
            "firms_by_province_beijing", "firms_by_province_tianjin", "firms_by_province_hebei",
            "beijing_campaign_exits_cum", "tech_contracts_bj_to_tjhb_cum",
            "tech_contract_turnover_bj_to_tjhb_cum_bn_yuan", "xiongan_firms_from_beijing"]


def jjj(*args, cwd=ROOT):
    exe = Path(sys.executable).with_name("jjj-sim")
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    r = jjj("population.scale=0.01", "seed=5", f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr
    return out


def test_run_writes_every_output(run_dir):
    for name in ("summary.json", "indicators.parquet", "events.parquet", "config_resolved.yaml", "run_info.json",
                 "plots/headline.png", "plots/parks.png", "plots/firms_by_province.png", ".hydra/config.yaml"):
        assert (run_dir / name).exists(), name
    assert not list(run_dir.glob(".partial*"))


def test_summary_schema(run_dir):
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["seed"] == 5 and s["version"]
    assert set(REQUIRED) <= set(s["indicators"])
    years = [str(y) for y in range(2014, 2024)]
    for name in REQUIRED:
        assert list(s["indicators"][name]) == years
    assert "xiongan_zgc" in s["parks"]
    park = s["parks"]["luquan_edz"]
    assert park["name"].startswith("Luquan") and list(park["firms_from_bjtj"]) == years
    for field in ("firms", "firms_from_beijing", "firms_from_bjtj", "overflow_to_region"):
        assert list(park[field]) == years, field
        assert all(v >= 0 for v in park[field].values())
    for pid, p in s["parks"].items():  # Beijing's firms are among Beijing's or Tianjin's, which are among all
        for y in years:
            assert p["firms_from_beijing"][y] <= p["firms_from_bjtj"][y] <= p["firms"][y], pid
    # cumulative indicators never fall
    for name, ind in INDICATORS.items():
        if ind.kind == "cumulative":
            v = list(s["indicators"][name].values())
            assert v == sorted(v), name


def test_parquet_tables(run_dir):
    ind = pd.read_parquet(run_dir / "indicators.parquet")
    assert list(ind.columns) == ["date", "indicator", "region", "park", "sector", "value"]
    assert set(REQUIRED) <= set(ind["indicator"].astype(str))
    ev = pd.read_parquet(run_dir / "events.parquet")
    assert set(ev["event"].astype(str)) == {"closure", "relocation", "branch", "entry", "exit", "decapacity", "upgrade"}
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["seed"] == 5 and "timings_seconds" in info


def test_same_seed_gives_byte_identical_summary(run_dir, tmp_path):
    r = jjj("population.scale=0.01", "seed=5", f"hydra.run.dir={tmp_path / 'again'}", "run.plots=false")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again" / "summary.json").read_bytes() == (run_dir / "summary.json").read_bytes()
    r = jjj("population.scale=0.01", "seed=6", f"hydra.run.dir={tmp_path / 'other'}", "run.plots=false",
            "run.record_events=false")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "other" / "summary.json").read_bytes() != (run_dir / "summary.json").read_bytes()
    assert not (tmp_path / "other" / "events.parquet").exists()


@pytest.mark.parametrize("override, field", [
    ("scenario=atlantis", "scenario"),
    ("policy.incentives.xiongan.places=[atlantis_park]", "policy.incentives.xiongan.places"),
    ("params.relocation.base_quarterly_hazard=-0.1", "params.relocation.base_quarterly_hazard"),
    ("run.end_year=2036", "run.end_year"),
    ("run.end_year=2013", "run.end_year"),
    ("policy.matching.schedule=[{from: 2040-01, value: 1}]", "policy.matching.schedule[0].from"),
    ("params.closure.hazard=1", "params.closure.hazard"),
    ("population.scale=0", "population.scale"),
    ("params_file=/no/such/file.yaml", "params_file"),
])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path, override, field):
    out = tmp_path / "bad"
    r = jjj("population.scale=0.01", override, f"hydra.run.dir={out}")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"jjj-sim: error: {field}:")
    assert not out.exists()


def test_a_finished_run_is_never_overwritten(run_dir):
    before = (run_dir / "summary.json").read_bytes()
    r = jjj("population.scale=0.01", "seed=9", f"hydra.run.dir={run_dir}")
    assert r.returncode == 2 and "hydra.run.dir" in r.stderr
    assert (run_dir / "summary.json").read_bytes() == before


def test_params_file_is_applied(tmp_path):
    pf = tmp_path / "fitted.yaml"
    pf.write_text("closure.annual_pace: 0.0\nbranching:\n  zgc_quarterly_hazard: 0.0\n")
    out = tmp_path / "run"
    r = jjj("population.scale=0.01", f"params_file={pf}", f"hydra.run.dir={out}", "run.plots=false")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["indicators"]["beijing_closures_cum"]["2023"] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("closure.no_such_param: 1\n")
    r = jjj("population.scale=0.01", f"params_file={bad}", f"hydra.run.dir={tmp_path / 'x'}")
    assert r.returncode == 2 and "params_file:closure.no_such_param" in r.stderr

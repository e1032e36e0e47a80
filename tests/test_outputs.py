"""Writing a run: the event log streamed to Parquet while the model runs equals the in-memory
log; the same config and seed give byte-identical files."""

from __future__ import annotations

import pandas as pd
from conftest import make_cfg

from jjj_sim.core.timeline import quarter_end_date
from jjj_sim.runner.simulate import run_to_dir, simulate
from jjj_sim.sim import events as ev


def test_streamed_event_log_equals_the_in_memory_one(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "FLUSH_ROWS", 5000)  # many row groups even in a small run
    cfg = make_cfg("population.scale=0.01", "run.end_year=2018")
    path = tmp_path / "events.parquet"
    streamed, _ = simulate(cfg, events_path=path)
    in_memory, _ = simulate(cfg)
    dates = [quarter_end_date(q) for q in range(in_memory.last_quarter + 1)]
    expected = in_memory.events.to_frame(in_memory.places.ids, in_memory.sectors.ids, dates)
    got = pd.read_parquet(path)
    assert len(got) == len(expected) == sum(streamed.events.counts.values()) > 5000
    for col in expected.columns:
        assert got[col].astype(object).equals(expected[col].astype(object)), col
    assert str(got["event"].dtype) == "category" and str(got["from_place"].dtype) == "category"
    assert got["to_place"].isna().sum() == (expected["to_place"].isna()).sum() > 0  # exits go nowhere


def test_same_config_and_seed_give_identical_files(tmp_path):
    cfg = make_cfg("population.scale=0.01", "run.end_year=2016")
    for d in ("a", "b"):
        run_to_dir(tmp_path / d, cfg, progress=False)
    for name in ("summary.json", "events.parquet", "indicators.parquet", "config_resolved.yaml",
                 "plots/map.png", "plots/headline.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not list(tmp_path.glob("*/.partial-*"))


def test_a_joblib_sweep_writes_every_jobs_plots(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("jjj-sim")
    r = subprocess.run([str(exe), "-m", "seed=1,2", "population.scale=0.005", "run.end_year=2014",
                        "run.record_events=false", f"hydra.sweep.dir={tmp_path / 'sw'}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    for job in ("0", "1"):
        assert (tmp_path / "sw" / job / "plots" / "map.png").is_file()
        assert (tmp_path / "sw" / job / "summary.json").is_file()


def test_the_plotting_process_reports_its_error(tmp_path):
    import pytest

    from jjj_sim.runner.outputs import PlotProcess

    p = PlotProcess()
    try:
        p.render(tmp_path / "plots", {"indicators": {}})  # no headline series: the child fails
        with pytest.raises(RuntimeError, match=r"^plots: KeyError"):
            p.wait()
    finally:
        p.stop()

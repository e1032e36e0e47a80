"""Scenarios anywhere (files, inline), lever edits that keep history, rail levers per link,
labels of edited runs, and the one-line refusals of bad scenario input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner.compose import compose, scenario_spec, scenario_specs
from jjj_sim.sim.indicators import quarterly

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "experiments" / "examples" / "xiongan_rail.yaml"
SMALL = ["population.scale=0.01", "run.plots=false", "run.record_events=false"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("JJJ_SIM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def cli(*args, cwd=None):
    exe = Path(sys.executable).with_name("jjj-sim")
    return subprocess.run([str(exe), *args], cwd=cwd or ROOT, capture_output=True, text=True, timeout=300)


def _schedule(cfg, path):
    node = cfg.policy
    for k in path.split("."):
        node = node[k]
    return [(str(e["from"]), float(e["value"])) for e in node.schedule]


# ---------------------------------------------------------------------------- lever edits
def test_from_appends_to_the_schedule_and_keeps_earlier_entries():
    cfg = compose(["policy.incentives.xiongan.from=[{from: 2026-01, value: 4}]"])
    assert _schedule(cfg, "incentives.xiongan") == [("2017-04", 2.0), ("2026-01", 4.0)]
    assert cfg.scenario.name == "baseline+edited"
    assert any("keeping 1 earlier entry" in n for n in cfg.scenario.edits)


def test_from_replaces_only_entries_from_its_date_on():
    cfg = compose(["policy.closure_campaign.from=[{from: 2019-01, value: 2.0}]"])
    assert _schedule(cfg, "closure_campaign") == [("2014-02", 1.0), ("2017-04", 1.667), ("2019-01", 2.0)]
    assert any("replaces 2019-01: 1.03, 2020-01: 0.637" in n for n in cfg.scenario.edits)


def test_replacing_a_schedule_whole_says_what_was_dropped():
    cfg = compose(["policy.incentives.xiongan.schedule=[{from: 2026-01, value: 4}]"])
    assert _schedule(cfg, "incentives.xiongan") == [("2026-01", 4.0)]
    notes = " ".join(cfg.scenario.edits)
    assert "replaced whole" in notes and "dropped 2017-04: 2" in notes


def test_an_edited_run_is_not_called_baseline_unless_renamed():
    assert compose(["policy.rail.speedup.schedule=[{from: 2026-01, value: 0.1}]"]).scenario.name \
        == "baseline+edited"
    assert compose(["params.choice.asc_park_science=5"]).scenario.name == "baseline"
    named = compose(["policy.rail.speedup.schedule=[{from: 2026-01, value: 0.1}]", "scenario.name=fast"])
    assert named.scenario.name == "fast"


def test_bad_from_entries_are_refused_naming_the_field():
    with pytest.raises(ConfigError) as e:
        compose(["policy.incentives.xiongan.from=[{from: 2040-01, value: 4}]"])
    assert e.value.field.startswith("policy.incentives.xiongan.from")
    with pytest.raises(ConfigError) as e:
        compose(["policy.incentives.xiongan.from=[]"])
    assert e.value.field == "policy.incentives.xiongan.from"


# ---------------------------------------------------------------------------- rail per link
def test_a_speedup_of_one_link_shortens_only_that_regions_time():
    from jjj_sim.sim.model import RelocationModel

    cfg = compose([*SMALL, "run.end_year=2027",
                              "+policy.rail.speedups.bt={region: tangshan, opens: 2022-12, "
                              "schedule: [{from: 2026-01, value: 0.3}]}"])
    m = RelocationModel(cfg, seed=1)
    st = m.policy.state(48)
    assert st.rail_link_speedups == (("tangshan", "2022-12", 0.3),)
    assert m.policy.state(47).rail_link_speedups == ()
    fast = m.geo.travel_time(48, st.rail_speedup, st.rail_link_speedups)
    base = m.geo.travel_time(48, st.rail_speedup)
    changed = np.flatnonzero(~np.isclose(fast, base))
    assert {m.places.ids[m.places.region[i]] for i in changed} == {"tangshan"}
    ts = m.places.index("tangshan", "t")
    assert fast[ts] < base[ts]
    # in-train part 30% shorter: 1.05 h reported, so 0.315 h saved
    assert base[ts] - fast[ts] == pytest.approx(0.3 * 1.05)


def test_rail_lever_errors_name_their_field():
    bad = {
        "+policy.rail.speedups.x={region: tangshan, opens: 2019-12, schedule: []}": "policy.rail.speedups.x.opens",
        "+policy.rail.speedups.x={region: caofeidian, schedule: []}": "policy.rail.speedups.x.region",
        "+policy.rail.speedups.x={region: tangshan, schedule: [{from: 2026-01, value: 0.95}]}":
            "policy.rail.speedups.x.schedule",
        "policy.rail.extra_links=[{region: hengshui, opens: 2026-09, hours: 1, speed_kmh: 300}]":
            "policy.rail.extra_links[0]",
        "policy.rail.extra_links=[{region: hengshui, opens: 2026-09, speed_kmh: -3}]":
            "policy.rail.extra_links[0].speed_kmh",
    }
    for override, field in bad.items():
        with pytest.raises(ConfigError) as e:
            compose([override])
        assert e.value.field == field, override


def test_a_new_link_with_a_speed_opens_on_its_date():
    from jjj_sim.sim.model import RelocationModel

    cfg = compose([*SMALL, "run.end_year=2030",
                              "policy.rail.extra_links=[{region: hengshui, opens: 2026-09, speed_kmh: 350}]"])
    m = RelocationModel(cfg, seed=1)
    hs = m.places.index("hengshui", "t")
    assert m.geo.travel_time(50, 0.0)[hs] < m.geo.travel_time(49, 0.0)[hs]  # Sep 2026 is in 2026 Q3 (quarter 50)


# ---------------------------------------------------------------------------- scenario files
def test_the_example_scenario_file_matches_the_baseline_until_2026():
    from conftest import run_model

    base = quarterly(run_model(*SMALL, "run.end_year=2027", seed=21))
    spec = scenario_spec(str(EXAMPLE))
    from jjj_sim.sim.model import RelocationModel

    m = RelocationModel(spec.compose([*SMALL, "run.end_year=2027", "seed=21"]), seed=21)
    m.run_model()
    q = quarterly(m)
    before = q.index < 48
    assert np.array_equal(q[before].to_numpy(), base[before].to_numpy())
    assert not np.array_equal(q[~before].to_numpy(), base[~before].to_numpy())
    assert spec.name == "xiongan_rail"


def test_scenario_file_from_another_folder_runs_end_to_end(tmp_path):
    case = tmp_path / "cases" / "my_case.yaml"
    case.parent.mkdir()
    case.write_text("scenario: {name: my_case, description: faster rail}\n"
                    "policy:\n  rail:\n    speedup: {schedule: [{from: 2015-01, value: 0.5}]}\n")
    run_dir = tmp_path / "run"
    r = cli("scenario=cases/my_case.yaml", *SMALL, "run.end_year=2016", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["scenario"] == "my_case"
    assert "speedup" in (run_dir / "config_resolved.yaml").read_text()
    assert "regions" in summary and set(summary["regions"]["xiongan"]) >= {"firms", "firms_from_outside"}


@pytest.mark.parametrize("content, field", [
    (None, "scenario"),  # missing file
    ("policy: [1, 2\n", "scenario"),  # malformed YAML
    ("params:\n  choice: {asc_park_science: 3}\n", "bad.yaml:params"),  # not a scenario key
    ("scenario: {name: 'two words'}\n", "bad.yaml:scenario.name"),
    ("defaults:\n  - override /policy: nothing\n", "bad.yaml:defaults"),
    ("policy:\n  incentives:\n    xiongan: {places: [atlantis]}\n", "policy.incentives.xiongan.places"),
])
def test_bad_scenario_files_are_refused_in_one_line(tmp_path, content, field):
    f = tmp_path / "bad.yaml"
    if content is not None:
        f.write_text(content)
    run_dir = tmp_path / "run"
    r = cli(f"scenario={f}", *SMALL, "run.end_year=2015", f"hydra.run.dir={run_dir}")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jjj-sim: error: {field}"), lines
    assert not run_dir.exists()


@pytest.mark.parametrize("args, field", [
    (["+foo=1"], "foo"),
    (["run.record_events=nope"], "run.record_events"),
    (["+run.extra=1"], "run.extra"),
])
def test_unknown_or_mistyped_keys_are_refused(tmp_path, args, field):
    r = cli(*args, "population.scale=0.01", f"hydra.run.dir={tmp_path / 'run'}")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and f"error: {field}:" in r.stderr
    assert not (tmp_path / "run").exists()


def test_output_directory_that_is_a_file_or_unwritable(tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    r = cli(*SMALL, "run.end_year=2014", f"hydra.run.dir={f}")
    assert r.returncode == 2 and "is a file" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        r = cli(*SMALL, "run.end_year=2014", f"hydra.run.dir={ro / 'run'}")
        import os

        if os.geteuid() != 0:  # root writes anywhere
            assert r.returncode == 2 and "cannot write" in r.stderr
    finally:
        ro.chmod(0o700)


# ---------------------------------------------------------------------------- experiments files
def test_scenario_specs_take_names_files_and_inline_entries(tmp_path):
    (tmp_path / "case.yaml").write_text("scenario: {name: from_file}\n")
    specs = scenario_specs(
        ["baseline", "case.yaml", {"name": "inline_case", "description": "d",
                                   "overrides": ["policy.incentives.xiongan.from=[{from: 2026-01, value: 4}]"]}],
        base_dir=tmp_path)
    assert [s.name for s in specs] == ["baseline", "from_file", "inline_case"]
    cfg = specs[2].compose(["population.scale=0.01"])
    assert cfg.scenario.name == "inline_case" and cfg.scenario.description == "d"
    assert _schedule(cfg, "incentives.xiongan") == [("2017-04", 2.0), ("2026-01", 4.0)]
    assert specs[1].compose([]).scenario.name == "from_file"


@pytest.mark.parametrize("entries, field", [
    ([{"description": "no name"}], "scenarios[0]:name"),
    (["baseline", "baseline"], "scenarios"),
    (["baseline", {"name": "baseline", "overrides": []}], "scenarios"),
    ([{"name": "x", "overides": []}], "scenarios[0]:overides"),
    ([{"name": "x", "overrides": ["seed=3"]}], "scenarios[0]:x.overrides"),
    (["atlantis"], "scenarios[0]"),
    (["missing.yaml"], "scenarios[0]"),
    ([], "scenarios"),
])
def test_bad_scenario_lists_are_refused(tmp_path, entries, field):
    with pytest.raises(ConfigError) as e:
        scenario_specs(entries, base_dir=tmp_path)
    assert e.value.field == field


def test_multirun_takes_a_scenario_file(tmp_path):
    sweep = tmp_path / "sweep"
    r = cli("-m", f"scenario=baseline,{EXAMPLE}", *SMALL, "run.end_year=2014", f"hydra.sweep.dir={sweep}",
            "hydra/launcher=basic")
    assert r.returncode == 0, r.stderr[-2000:]
    names = sorted(json.loads(p.read_text())["scenario"] for p in sweep.glob("*/summary.json"))
    assert names == ["baseline", "xiongan_rail"]
    import pandas as pd

    tidy = pd.read_parquet(sweep / "sweep_results.parquet")
    assert sorted(set(tidy.scenario)) == ["baseline", "xiongan_rail"]  # names, not cached option names

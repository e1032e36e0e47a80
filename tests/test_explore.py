"""jjj-sim-explore: a tiny EMA design end to end (sequential and multiprocessing), PRIM and
feature scoring, determinism, posterior draws with replications, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from jjj_sim.core.errors import ConfigError
from jjj_sim.tools.explore import main
from jjj_sim.tools.explore.plan import Runner, decimal_year, month_of, parse

ROOT = Path(__file__).resolve().parents[1]
N, M = 8, 2
TINY = {
    "scenario": "baseline", "population_scale": 0.02, "end_year": 2025, "seed": 7,
    "levers": [
        {"name": "xiongan_incentive", "lever": "incentives.xiongan", "kind": "value", "from": "2024-01",
         "range": [1.0, 6.0]},
        {"name": "hebei_incentive", "lever": "incentives.hebei_transformation", "kind": "value", "range": [0.5, 3.0]},
        {"name": "hebei_start", "lever": "incentives.hebei_transformation", "kind": "start",
         "range": ["2020-01", "2025-01"]},
    ],
    "uncertainties": {"params": {"relocation.base_quarterly_hazard": [0.0008, 0.003], "choice.asc_xiongan": [0.0, 6.0]}},
    "outcomes": ["hebei_firms_attracted_cum[2025]", "xiongan_firms_from_beijing[2025]"],
    "design": {"scenarios": N, "policies": M, "sampler": "lhs"},
    "prim": {"condition": "hebei_firms_attracted_cum[2025] < 60000", "threshold": 0.8},
    "feature_scoring": True,
}
RANGES = {"relocation_base_quarterly_hazard": (0.0008, 0.003), "choice_asc_xiongan": (0.0, 6.0),
          "xiongan_incentive": (1.0, 6.0), "hebei_incentive": (0.5, 3.0), "hebei_start": (2020.0, 2025.0)}


def explore(tmp_path: Path, exp: dict, *args: str, name: str = "exp.yaml"):
    f = tmp_path / name
    f.write_text(yaml.safe_dump(exp, sort_keys=False))
    exe = Path(sys.executable).with_name("jjj-sim-explore")
    return subprocess.run([str(exe), str(f), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explore")
    out = tmp / "seq"
    r = explore(tmp, TINY, "--out", str(out), "--evaluator", "sequential")
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_tiny_design_end_to_end_with_prim(sequential):
    out = sequential
    for name in ("results.tar.gz", "experiments.parquet", "results.parquet", "explore.json", "report.md",
                 "prim_box.csv", "prim_trajectory.csv", "feature_scores.csv", "plots/prim_tradeoff.png",
                 "plots/prim_box.png", "plots/feature_scores.png"):
        assert (out / name).is_file(), name
    assert not any(p.name.startswith(".partial") for p in out.iterdir())

    ex = pd.read_parquet(out / "experiments.parquet")
    assert len(ex) == N * M and ex["scenario"].nunique() == N and ex["policy"].nunique() == M
    for col, (lo, hi) in RANGES.items():
        assert ex[col].dtype == np.float64 and ex[col].between(lo, hi).all(), col
    assert ex["experiment"].dtype == np.int64 and ex["case_of_interest"].dtype == bool
    assert set(ex["hebei_start_month"]) <= {f"{y}-{m:02d}" for y in range(2020, 2025) for m in (1, 4, 7, 10)}

    res = pd.read_parquet(out / "results.parquet")
    assert len(res) == N * M * 2
    assert res["value"].dtype == np.float64 and res["year"].dtype == np.int64 and res["seed"].dtype == np.int64
    assert set(res["outcome"]) == set(TINY["outcomes"])
    assert res.groupby("experiment").size().eq(2).all()
    assert (res["value"] >= 0).all()

    from jjj_sim.tools.explore import _ema  # EMA's own format reads back

    x, y = _ema().load_results(str(out / "results.tar.gz"))
    assert len(x) == N * M and set(y) == {"hebei_firms_attracted_cum_2025", "xiongan_firms_from_beijing_2025"}

    meta = json.loads((out / "explore.json").read_text())
    assert meta["seed"] == 7 and meta["version"] and meta["ema_workbench"].startswith("3.")
    p = meta["prim"]
    assert 0 < p["cases_of_interest"] < N * M
    assert p["cases_of_interest"] == int(ex["case_of_interest"].sum())
    assert 0 < p["coverage"] <= 1 and 0 < p["density"] <= 1 and p["res_dim"] >= 1
    box = pd.read_csv(out / "prim_box.csv")
    assert len(box) == p["res_dim"]
    for row in box.itertuples():
        lo, hi = RANGES[row.variable]
        assert lo <= row.box_low <= row.box_high <= hi, row
    report = (out / "report.md").read_text()
    assert "coverage" in report and "density" in report and TINY["prim"]["condition"] in report
    scores = pd.read_csv(out / "feature_scores.csv", index_col=0)
    assert set(scores.index) == set(RANGES) and np.allclose(scores.sum(), 1.0)


def test_same_seed_same_tables_with_the_multiprocessing_evaluator(sequential, tmp_path):
    out = tmp_path / "mp"
    r = explore(tmp_path, TINY, "--out", str(out), "--evaluator", "multiprocessing", "--workers", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((out / "explore.json").read_text())["evaluator"] == "multiprocessing"
    for name in ("results.parquet", "experiments.parquet"):
        assert (out / name).read_bytes() == (sequential / name).read_bytes(), name
    # a finished output directory is not overwritten
    again = explore(tmp_path, TINY, "--out", str(out), name="again.yaml")
    assert again.returncode == 2 and "already holds a finished run" in again.stderr


def test_posterior_draws_and_replications(tmp_path):
    """Uncertainty as draws of a (tiny) posterior file plus a stated range; two seeds per experiment."""
    from jjj_sim.runner import posterior

    table = pd.DataFrame({"choice.asc_xiongan": [0.5, 2.0, 4.0], "relocation.base_quarterly_hazard": [0.001, 0.0015, 0.002],
                          "weight": [0.2, 0.3, 0.5]})
    posterior.write(tmp_path / "post.parquet", table, {"seed": 3})
    exp = {**TINY, "replications": 2, "design": {"scenarios": 2, "policies": 2},
           "uncertainties": {"params": {"choice.asc_park_science": [4.0, 8.0]}, "posterior": {"draws": 3, "file": "post.parquet"}},
           "prim": None}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    out = tmp_path / "out"
    main([str(tmp_path / "exp.yaml"), "--out", str(out)])
    ex = pd.read_parquet(out / "experiments.parquet")
    assert len(ex) == 4 and ex["params_draw"].dtype == np.int64 and ex["params_draw"].between(0, 2).all()
    p = posterior.load(tmp_path / "post.parquet")
    for k, v in zip(ex["params_draw"], ex["choice_asc_xiongan"]):
        assert v == p.draw(int(k))["choice.asc_xiongan"]
    res = pd.read_parquet(out / "results.parquet")
    assert len(res) == 4 * 2 * 2 and res["seed"].nunique() == 2
    assert "choice_asc_xiongan" in pd.read_csv(out / "feature_scores.csv", index_col=0).index
    assert not (out / "prim_box.csv").exists()


def test_lever_edits_and_dates():
    assert decimal_year("2026-04", "f") == 2026.25 and decimal_year("2026-06", "f") == 2026.25
    assert month_of(2026.0) == "2026-01" and month_of(2026.26) == "2026-04" and month_of(2030.99) == "2030-10"
    plan = parse(TINY, ROOT)
    ov = Runner(plan).overrides({"xiongan_incentive": 3.5, "hebei_incentive": np.float64(2.0), "hebei_start": 2021.6,
                                 "relocation_base_quarterly_hazard": 0.001, "choice_asc_xiongan": 1.5}, 11)
    assert "policy.incentives.xiongan.from=[{from: 2024-01, value: 3.5}]" in ov
    assert "policy.incentives.hebei_transformation.from=[{from: 2021-07, value: 2.0}]" in ov
    assert "params.choice.asc_xiongan=1.5" in ov and "seed=11" in ov


def _set(path, value):
    def change(e):
        node = e
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return e
    return change


@pytest.mark.parametrize("change, field", [
    (_set(("levers", 0, "lever"), "incentives.nope"), "levers[0].lever"),
    (_set(("levers", 0, "kind"), "end"), "levers[0].kind"),
    (_set(("levers", 0, "range"), [-1.0, 2.0]), "levers[0].range"),
    (_set(("uncertainties", "params", "choice.nope"), [0, 1]), "uncertainties.params.choice.nope"),
    (_set(("outcomes",), ["nope[2025]"]), "outcomes[0]"),
    (_set(("outcomes",), ["zgc_branches_tjhb[2030]"]), "outcomes[0]"),
    (_set(("prim", "condition"), "hebei_firms_attracted_cum < 5"), "prim.condition"),
    (_set(("prim", "condition"), "zgc_branches_tjhb[2025] < 5"), "prim.condition"),
    (_set(("design", "scenarios"), -3), "design.scenarios"),
    (_set(("design", "policies"), 0), "design.policies"),
    (_set(("design", "sampler"), "halton"), "design.sampler"),
    (_set(("uncertainties", "posterior"), {"draws": 2, "file": "/no/such/posterior.parquet"}),
     "uncertainties.posterior.file"),
])
def test_bad_input_names_the_field(change, field):
    import copy

    with pytest.raises(ConfigError) as e:
        parse(change(copy.deepcopy(TINY)), ROOT)
    assert e.value.field == field


@pytest.mark.parametrize("exp", [
    {**TINY, "design": {"scenarios": -4, "policies": 2}},
    {**TINY, "prim": {"condition": "xiongan_firms_from_beijing[2031] > 5"}},
    {**TINY, "unknown": 1},
])
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, exp):
    out = tmp_path / "bad"
    r = explore(tmp_path, exp, "--out", str(out))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jjj-sim-explore: error: ")
    assert not out.exists()

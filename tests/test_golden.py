"""Behaviour kept through restructuring: two small runs must reproduce, byte for byte, the
summary.json, indicators.parquet and events.parquet committed in tests/golden/ (written by
scripts/golden.sh before the layers of issue 20 were moved). A change that means to alter the
model's results rewrites them with that script and says so in its commit.

Parquet files carry the writing pyarrow's version: under another pyarrow than the one that
wrote them (tests/golden/pyarrow_version.txt) the tables are compared value for value instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow
import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
BIN = Path(sys.executable).parent
SAME_PYARROW = (GOLDEN / "pyarrow_version.txt").read_text().strip() == pyarrow.__version__


@pytest.mark.parametrize("case", ["baseline", "xiongan_acceleration"])
def test_outputs_are_byte_identical_to_the_golden_run(tmp_path, case):
    run = tmp_path / "run"
    r = subprocess.run([str(BIN / "jjj-sim"), f"scenario={case}", "seed=7", "population.scale=0.02",
                        "run.end_year=2030", "run.plots=false", f"hydra.run.dir={run}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (run / "summary.json").read_bytes() == (GOLDEN / case / "summary.json").read_bytes()
    for name in ("indicators.parquet", "events.parquet"):
        new, old = run / name, GOLDEN / case / name
        if SAME_PYARROW:
            assert new.read_bytes() == old.read_bytes(), name
        else:
            pd.testing.assert_frame_equal(pd.read_parquet(new), pd.read_parquet(old), check_exact=True)

#!/usr/bin/env bash
# Write the golden outputs of tests/test_golden.py: two small runs (baseline and a what-if) whose
# summary.json, indicators.parquet and events.parquet a behaviour-preserving change must
# reproduce byte for byte. Run it only for a change that means to alter the model's results,
# and say so in the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
for case in baseline xiongan_acceleration; do
  rm -rf "tests/golden/$case"
  tmp=$(mktemp -d)
  .venv/bin/jjj-sim "scenario=$case" seed=7 population.scale=0.02 run.end_year=2030 run.plots=false \
    "hydra.run.dir=$tmp/run" > /dev/null
  mkdir -p "tests/golden/$case"
  cp "$tmp/run/summary.json" "$tmp/run/indicators.parquet" "$tmp/run/events.parquet" "tests/golden/$case/"
  rm -rf "$tmp"
done
.venv/bin/python -c "import pyarrow; print(pyarrow.__version__)" > tests/golden/pyarrow_version.txt
du -sh tests/golden

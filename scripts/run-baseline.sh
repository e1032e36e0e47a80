#!/usr/bin/env bash
# Install (if needed) and run the baseline scenario at full scale, 2014-2023.
# Extra arguments are Hydra overrides, e.g. scripts/run-baseline.sh run.end_year=2035 seed=7
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/jjj-sim scenario=baseline "$@"
echo "The commands (jjj-sim, jjj-sim-compare, ...) are in $(pwd)/.venv/bin: 'source $(pwd)/.venv/bin/activate' puts them on the PATH."

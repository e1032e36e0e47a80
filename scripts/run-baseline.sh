#!/usr/bin/env bash
# Install (if needed) and run the baseline scenario at full scale, 2014-2023.
# Extra arguments are Hydra overrides, e.g. scripts/run-baseline.sh run.end_year=2035 seed=7
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/jjj-sim scenario=baseline "$@"

"""The tools: the command-line entry points (jjj-sim, compare, sensitivity, explore, validate,
calibrate, dashboard, and the calibration's checks) and the sweep gatherer, on top of the runner.
No lower layer imports them and they do not import each other (pyproject.toml's import-linter
contracts); only cli uses sweep's ``record_failure``, and Hydra loads ``sweep.GatherResults``
from conf/config.yaml.
"""

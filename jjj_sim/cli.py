"""``jjj-sim``: run one scenario (a Hydra app; ``jjj-sim --help`` lists the options).

    jjj-sim                                   # baseline 2014-2023, full population
    jjj-sim scenario=no_strategy seed=7 run.end_year=2035 population.scale=0.1
    jjj-sim hydra.run.dir=out/my_run
    jjj-sim scenario=path/to/my_case.yaml      # a scenario file anywhere (conf/scenario/ format)
    jjj-sim policy.incentives.xiongan.from=[{from: 2026-01, value: 4}]   # a lever from a date on

Bad input (unknown scenario, park or sector, negative rate, end year outside 2014-2035, a
run directory that already holds a finished run) is refused with a one-line error naming
the field and exit code 2, before any output directory is made.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from jjj_sim.errors import ConfigError
from jjj_sim.resources import CONF_SEARCH
from jjj_sim.sweep import record_failure

EXIT_BAD_INPUT = 2
log = logging.getLogger("jjj_sim")
_HYDRA_FILES = {".hydra", "cli.log", "jjj-sim.log"}


def fail(message: str, prog: str = "jjj-sim") -> None:
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else e.__class__.__name__


def _headline(result: dict) -> str:
    names = ("hebei_firms_attracted_cum", "zgc_branches_tianjin", "zgc_branches_hebei", "beijing_campaign_exits_cum",
             "xiongan_firms_from_beijing", "hebei_hightech_va_share", "tech_contracts_bj_to_tjhb_cum",
             "tech_contract_turnover_bj_to_tjhb_cum_bn_yuan", "firms_by_province_beijing", "firms_by_province_hebei")
    years = result["years"]
    shown = [y for y in years if y in (2014, 2016, 2018, 2020, 2023, 2025, 2030, 2035)] or years
    lines = [f"scenario {result['scenario']}", f"{'indicator':46s}" + "".join(f"{y:>13d}" for y in shown)]
    for n in names:
        s = result["indicators"][n]
        lines.append(f"{n:46s}" + "".join(f"{s[str(y)]:>13,.1f}" for y in shown))
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=CONF_SEARCH, config_name="config")
def _app(cfg: DictConfig) -> None:
    from jjj_sim import config, experiment

    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    in_sweep = hc.mode == RunMode.MULTIRUN
    try:
        overrides = list(hc.overrides.task)
        cfg = config.prepare(cfg, overrides, notes=experiment.dropped_entries(cfg, overrides))
        for note in cfg.scenario.edits:
            log.warning("lever edit: %s", note)
        result, timings = experiment.run_to_dir(run_dir, cfg, progress=True, parallel_plots=not in_sweep)
    except Exception as e:
        if in_sweep:  # record it in the job's directory and let the sweep go on
            record_failure(run_dir, e)
            log.error("job %s failed: %s", hc.job.num, _one_line(e))
            return
        if isinstance(e, ConfigError):
            _discard_if_empty(run_dir)
            fail(str(e))
        raise
    print(_headline(result))
    print(f"outputs: {run_dir}  (build {timings['build']:.1f} s, run {timings['run']:.1f} s, "
          f"write {timings['write']:.1f} s)")


def _discard_if_empty(run_dir: Path) -> None:
    """Remove a run directory that holds only what Hydra wrote for this failed run."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= _HYDRA_FILES:
        shutil.rmtree(run_dir, ignore_errors=True)


def precheck(argv: list[str], config_name: str = "config", extra_check=None) -> None:
    """Compose and check the config of a single run before Hydra makes its directory: the
    resolved run directory (however it was given) must not be a file, hold a finished run
    or be unwritable; then the job's config is checked (experiment.compose)."""
    from jjj_sim import experiment

    cfg = experiment.compose(argv, config_name, run_dir=True)
    if extra_check is not None:
        extra_check(cfg)


def pin_threads() -> None:
    """One BLAS/OpenMP thread per process: sweeps run one job per core (set before workers start)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def main() -> None:
    from jjj_sim import experiment

    argv = sys.argv[1:]
    if "-m" in argv or "--multirun" in argv:
        pin_threads()
    try:
        argv = experiment.expand_args(argv)  # scenario=path/to/file.yaml -> a config-group option
        sys.argv[1:] = argv
        # Flags (--help, --cfg, -m/--multirun, ...) go straight to Hydra: each job checks its own config.
        if not any(a.startswith("-") for a in argv):
            precheck(argv)
    except ConfigError as e:
        fail(str(e))
    _app()


if __name__ == "__main__":
    main()

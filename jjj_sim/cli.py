"""``jjj-sim``: run one scenario (a Hydra app; ``jjj-sim --help`` lists the options).

    jjj-sim                                   # baseline 2014-2023, full population
    jjj-sim scenario=no_strategy seed=7 run.end_year=2035 population.scale=0.1
    jjj-sim hydra.run.dir=out/my_run

Bad input (unknown scenario, park or sector, negative rate, end year outside 2014-2035, a
run directory that already holds a finished run) is refused with a one-line error naming
the field and exit code 2, before any output directory is made.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from hydra.types import RunMode

from jjj_sim.errors import ConfigError
from jjj_sim.sweep import record_failure

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
EXIT_BAD_INPUT = 2
log = logging.getLogger("jjj_sim")
_HYDRA_FILES = {".hydra", "cli.log", "jjj-sim.log"}
CONFIG_GROUPS = ("population", "params", "policy", "scenario")


def fail(message: str) -> None:
    print(f"jjj-sim: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else e.__class__.__name__


def simulate(cfg: DictConfig, progress: bool = False):
    """Build and run the model for a prepared config; return (model, timings)."""
    from jjj_sim.model import RelocationModel

    t0 = time.perf_counter()
    model = RelocationModel(cfg, seed=cfg.seed)
    t1 = time.perf_counter()

    def report(m):
        if progress and m.quarter % 4 == 3:
            log.info("year %d done (%d firm rows)", 2014 + m.quarter // 4, m.firms.n)

    model.run_model(progress=report)
    t2 = time.perf_counter()
    return model, {"build": t1 - t0, "run": t2 - t1}


def _headline(result: dict) -> str:
    names = ("hebei_firms_attracted_cum", "zgc_branches_tianjin", "zgc_branches_hebei", "beijing_campaign_exits_cum",
             "xiongan_firms_from_beijing", "hebei_hightech_va_share", "tech_contracts_bj_to_tjhb_cum",
             "tech_contract_turnover_bj_to_tjhb_cum_bn_yuan", "firms_by_province_beijing", "firms_by_province_hebei")
    years = result["years"]
    shown = [y for y in years if y in (2014, 2016, 2018, 2020, 2023, 2025, 2030, 2035)] or years
    lines = [f"{'indicator':46s}" + "".join(f"{y:>13d}" for y in shown)]
    for n in names:
        s = result["indicators"][n]
        lines.append(f"{n:46s}" + "".join(f"{s[str(y)]:>13,.1f}" for y in shown))
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _app(cfg: DictConfig) -> None:
    from jjj_sim import config
    from jjj_sim.outputs import write_run

    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    in_sweep = hc.mode == RunMode.MULTIRUN
    try:
        cfg = config.prepare(cfg, hc.overrides.task)
        model, timings = simulate(cfg, progress=True)
        t0 = time.perf_counter()
        result = write_run(run_dir, model, cfg, timings)
        timings["write"] = time.perf_counter() - t0
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


def compose_config(overrides: list[str], config_name: str = "config") -> DictConfig:
    """Compose a config from conf/ with overrides and prepare it (config.prepare): the one way
    every tool builds a config outside a Hydra app. Bad input raises ConfigError naming the field."""
    from hydra import compose, initialize_config_dir

    from jjj_sim import config

    for a in overrides:
        group, _, option = a.partition("=")
        if group in CONFIG_GROUPS and not (CONF_DIR / group / f"{option}.yaml").is_file():
            known = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
            raise ConfigError(group, f"unknown option '{option}' (available: {', '.join(known)})")
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as e:
        m = re.search(r"Could not override '([^']+)'", str(e))
        if m:
            raise ConfigError(m.group(1), "not a config key (see jjj-sim --cfg job for the keys)") from None
        raise ConfigError("overrides", _one_line(e)) from None
    return config.prepare(cfg, overrides)


def precheck(argv: list[str], config_name: str = "config", extra_check=None) -> None:
    """Compose and check the config of a single run before Hydra makes its directory."""
    run_dir = next((a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")), None)
    if config_name == "config" and run_dir and (Path(run_dir) / "summary.json").exists():
        raise ConfigError("hydra.run.dir", f"{run_dir} already holds a finished run; choose another directory")
    overrides = [a for a in argv if not a.startswith(("hydra.", "hydra/", "+hydra", "~hydra"))]
    cfg = compose_config(overrides, config_name)
    if extra_check is not None:
        extra_check(cfg)


def pin_threads() -> None:
    """One BLAS/OpenMP thread per process: sweeps run one job per core (set before workers start)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def main() -> None:
    argv = sys.argv[1:]
    if "-m" in argv or "--multirun" in argv:
        pin_threads()
    # Flags (--help, --cfg, -m/--multirun, ...) go straight to Hydra: each job checks its own config.
    if not any(a.startswith("-") for a in argv):
        try:
            precheck(argv)
        except ConfigError as e:
            fail(str(e))
    _app()


if __name__ == "__main__":
    main()

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
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from jjj_sim.core.errors import ConfigError, OutputError, write_error
from jjj_sim.core.resources import CONF_SEARCH
from jjj_sim.runner import config
from jjj_sim.runner.compose import compose, dropped_entries, precheck
from jjj_sim.runner.entry import EXIT_WRITE, fail, first_line
from jjj_sim.runner.rundir import discard_if_empty, lock_dir, release_dir
from jjj_sim.runner.scenarios import expand_args
from jjj_sim.tools.sweep import record_failure

log = logging.getLogger("jjj_sim")
_HYDRA_FILES = {".hydra", "cli.log", "jjj-sim.log"}


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
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    in_sweep = hc.mode == RunMode.MULTIRUN
    try:
        lock_dir(run_dir, "hydra.run.dir")  # taken already by main() for a single run
        if not in_sweep and (run_dir / "summary.json").exists():  # (main() refuses it before Hydra writes)
            raise ConfigError("hydra.run.dir", f"{run_dir} already holds a finished run; choose another directory")
    except ConfigError as e:
        if in_sweep:  # another command is writing this job's directory: leave it alone
            log.error("job %s not run: %s", hc.job.num, e)
            return
        fail(str(e))
    try:
        overrides = list(hc.overrides.task)
        cfg = config.prepare(cfg, overrides, notes=dropped_entries(cfg, overrides))
        for note in cfg.scenario.edits:
            log.warning("lever edit: %s", note)
        if in_sweep and _finished_same(run_dir, cfg):  # a rerun of the same sweep: keep the finished job
            log.info("job %s already complete in %s: not run again", hc.job.num, run_dir)
            return
        # lazy: the model (mesa, scipy) and its outputs take about 1 s of start-up (benchmarks/startup.py);
        # a refused input, --help and --cfg do not need them
        from jjj_sim.runner.simulate import run_to_dir

        if in_sweep:  # lazy: matplotlib and the map take 0.6-0.8 s of a 0.8-1.0 s start-up (measured)
            from jjj_sim.reporting.plots import write_plots
        result, timings = run_to_dir(run_dir, cfg, progress=True, draw=write_plots if in_sweep else None)
    except Exception as e:
        if in_sweep:  # record it in the job's directory (not over a finished run) and let the sweep go on
            if not (run_dir / "summary.json").exists():
                try:
                    record_failure(run_dir, e)
                except OSError:
                    pass
            log.error("job %s failed: %s", hc.job.num, first_line(e))
            return
        if isinstance(e, ConfigError):
            discard_if_empty(run_dir, _HYDRA_FILES | {".lock"})
            fail(str(e))
        if isinstance(e, OSError):  # disk full, read-only, ...: nothing was moved into place
            print(f"jjj-sim: error: hydra.run.dir: {write_error(e, run_dir)}", file=sys.stderr)
            sys.exit(1)
        raise
    finally:
        release_dir(run_dir)
    print(_headline(result))
    print(f"outputs: {run_dir}  (build {timings['build']:.1f} s, run {timings['run']:.1f} s, "
          f"write {timings['write']:.1f} s)")


def _finished_same(run_dir: Path, cfg: DictConfig) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly this config (its resolved config
    written beside its summary.json)."""
    done = run_dir / "config_resolved.yaml"
    if not (run_dir / "summary.json").is_file() or not done.is_file():
        return False
    if done.read_text(encoding="utf-8") == OmegaConf.to_yaml(cfg, resolve=True):
        return True
    raise ConfigError("hydra.sweep.dir", f"{run_dir} holds a finished run of another config; "
                                         "choose another hydra.sweep.dir")


def pin_threads() -> None:
    """One BLAS/OpenMP thread per process: sweeps run one job per core (set before workers start)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


# Hydra's flags: those that only print (the command runs nothing), and those that take a value
_INFO_FLAGS = {"--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--resolve", "--package", "-p",
               "--info", "-i", "--shell-completion", "-sc", "--experimental-rerun"}
_VALUE_FLAGS = {"--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd", "--cfg", "-c",
                "--package", "-p", "--info", "-i", "--experimental-rerun"}


def split_flags(argv: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """Hydra's flags ({flag: value or None}) and the overrides of a command line."""
    flags, rest, i = {}, [], 0
    while i < len(argv):
        a = argv[i]
        name, eq, value = a.partition("=")
        if a.startswith("-") and (name in _VALUE_FLAGS or name in _INFO_FLAGS or a in ("-m", "--multirun", "-r", "--run")):
            if eq:
                flags[name] = value
            elif name in _VALUE_FLAGS and name not in _INFO_FLAGS and i + 1 < len(argv):
                flags[name] = argv[i + 1]
                i += 1
            else:
                flags[name] = None
        else:
            rest.append(a)
        i += 1
    return flags, rest


def precheck_sweep(overrides: list[str], config_name: str = "config") -> None:
    """Before a multirun launches anything: each swept scenario, with the sweep's other fixed
    overrides, must compose and check (an unknown scenario would otherwise abort the sweep
    part way)."""
    # here: hydra's override parser (ANTLR), only for multiruns
    from hydra.core.override_parser.overrides_parser import OverridesParser


    try:
        parsed = OverridesParser.create().parse_overrides([o for o in overrides])
    except Exception as e:  # Hydra's OverrideParseException: a malformed override
        raise ConfigError("overrides", first_line(e)) from None
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    scenarios = [None]
    for o in parsed:
        if o.key_or_group == "scenario" and o.is_sweep_override():
            scenarios = [str(v) for v in o.sweep_string_iterator()]
    for sc in scenarios:
        compose(fixed + ([f"scenario={sc}"] if sc is not None else []), config_name)


def main() -> None:
    """``jjj-sim``: expand scenario files into config options and, before Hydra writes anything, check
    the overrides and lock the run directory (a multirun: check each swept scenario); bad input is one
    line and exit 2, a run directory that cannot be made exit 1. Then run the Hydra app. Flags that only
    print, and a command with its own config path or directory, skip the checks."""

    argv = sys.argv[1:]
    flags, overrides = split_flags(argv)
    multirun = "-m" in flags or "--multirun" in flags
    if multirun:
        pin_threads()
    try:
        argv = expand_args(argv)  # scenario=path/to/file.yaml -> a config-group option
        sys.argv[1:] = argv
        flags, overrides = split_flags(argv)
        name = flags.get("--config-name", flags.get("-cn")) or "config"
        if name != "config":
            raise ConfigError("--config-name", f"jjj-sim runs the config 'config', got {name!r}")
        own_conf = any(f in flags for f in ("--config-path", "-cp", "--config-dir", "-cd"))
        # Flags that only print go straight to Hydra; a run is checked (and its directory locked)
        # before Hydra writes anything; a multirun's scenarios are checked before it launches.
        if not own_conf and not _INFO_FLAGS & set(flags):
            if multirun:
                precheck_sweep(overrides)
            else:
                precheck(overrides)
    except ConfigError as e:
        fail(str(e))
    except OutputError as e:  # the run directory cannot be made
        fail(str(e), code=EXIT_WRITE)
    _app()


if __name__ == "__main__":
    main()

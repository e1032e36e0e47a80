"""Run labels: ``<scenario>+edited`` for a run whose levers the command line changed without
naming it (``run_label``), and the OmegaConf resolvers conf/ uses to name run directories
(``jjj_run_label``, ``jjj_started``), registered when this module is imported.
"""

from __future__ import annotations

import time

from omegaconf import OmegaConf

EDITED = "+edited"



def override_key(override: str) -> str:
    """The key an override sets: the part before '=', without leading '+' or '~'."""
    return str(override).split("=", 1)[0].lstrip("+~")



def edits_levers(overrides) -> bool:
    """Do these overrides change the levers (anything under ``policy``)?"""
    return any(override_key(o) == "policy" or override_key(o).startswith("policy.") for o in overrides or ())



def names_itself(overrides) -> bool:
    """Do these overrides set ``scenario.name``?"""
    return any(override_key(o) == "scenario.name" for o in overrides or ())



def run_label(name: str, overrides=()) -> str:
    """The scenario name a run is reported under: ``name``, or ``name+edited`` when overrides
    changed its levers without renaming it."""
    name = str(name)
    if edits_levers(overrides) and not names_itself(overrides) and not name.endswith(EDITED):
        return name + EDITED
    return name



def _label_resolver(name, overrides) -> str:
    return run_label(name, list(overrides or ()))



_STARTED = time.localtime()  # when this command started



def _started_resolver(fmt: str) -> str:
    """The command's start time (``time.strftime`` format): the same however often it is read.
    Hydra's ``${now:}`` is read again when Hydra makes the run directory, a second or more after
    the command checked and locked the one it computed, and left that one behind as a stray."""
    return time.strftime(fmt, _STARTED)



if not OmegaConf.has_resolver("jjj_run_label"):  # conf/config.yaml names run directories with it
    OmegaConf.register_new_resolver("jjj_run_label", _label_resolver)



if not OmegaConf.has_resolver("jjj_started"):  # the conf files' run and sweep directories
    OmegaConf.register_new_resolver("jjj_started", _started_resolver, use_cache=True)  # as Hydra's now:

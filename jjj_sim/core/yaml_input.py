"""Reading the YAML files a user gives (scenario, params, targets, figures, experiment and
sweep files), strictly:

- a key given twice in one mapping is refused (PyYAML keeps the last value without a word,
  so a params file that set ``closure.annual_pace`` twice ran with the second);
- a number written with an exponent and no decimal point (``1e308``, ``5E-3``) is read as a
  number, as YAML 1.2 and Hydra's command line read it (PyYAML follows YAML 1.1, where it is
  the string "1e308").

Hydra's own config files are read by OmegaConf, which already refuses duplicate keys.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from jjj_sim.core.errors import ConfigError


class _DuplicateKey(yaml.constructor.ConstructorError):
    def __init__(self, key, line: int):
        super().__init__(None, None, f"duplicate key {key!r}")
        self.key, self.line = key, line


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads YAML 1.2 exponent floats."""

    def construct_mapping(self, node, deep=False):
        """The mapping of ``node``, as SafeLoader builds it; raises on a key given twice."""
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.2's float with an exponent and no '.', which YAML 1.1 (PyYAML) reads as a string
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                   re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789"))


def parse_yaml(text: str, name: str, field: str | None = None):
    """The content of YAML ``text`` from the file ``name``. Text that is not valid YAML raises
    ConfigError naming ``field`` (default: the file); a repeated key names the file and key."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader)
    except _DuplicateKey as e:
        raise ConfigError(f"{name}:{e.key}", f"given twice (line {e.line}); a key may appear once") from None
    except yaml.YAMLError as e:
        raise ConfigError(field or name, f"{name} is not valid YAML ({e.__class__.__name__})") from None


def read_yaml(path, field: str, bad_field: str | None = None):
    """The content of the YAML file ``path``. ``field`` names the setting that gave the path: a
    missing file is an error of ``field``; a file that is not UTF-8 text or not YAML an error of
    ``bad_field`` (default ``field``)."""
    p = Path(str(path))
    if not p.is_file():
        raise ConfigError(field, f"no such file: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(bad_field or field, f"{p.name} is not a UTF-8 text file") from None
    return parse_yaml(text, p.name, bad_field or field)

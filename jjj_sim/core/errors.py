"""The errors a user sees: ConfigError (bad input, naming the field), OutputError (an output
that cannot be written), and the one-line text of a failed write."""

from pathlib import Path


class ConfigError(ValueError):
    """Bad user input. ``field`` is the config key or file entry at fault."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class OutputError(OSError):
    """An output directory that cannot be made or written (exit code 1, not 2: the input was
    fine). ``field`` is the setting that named the directory."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def write_error(e: OSError, where: Path) -> str:
    """One line for an OSError met while writing into ``where`` (disk full, read-only, ...)."""
    return f"cannot write into {where}: {e.strerror or e.__class__.__name__}" + \
        (f" ({e.filename})" if e.filename else "")

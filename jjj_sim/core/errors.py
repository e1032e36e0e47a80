"""The one error type bad input raises: it names the offending field."""


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

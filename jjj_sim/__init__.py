"""jjj-sim: agent-based scenario model of industrial relocation in Beijing-Tianjin-Hebei."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jjj-sim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

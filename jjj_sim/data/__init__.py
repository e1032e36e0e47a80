"""The package's data files (regions, parks, sectors, rail links, reported inputs, map
boundaries); README.md lists each file with its sources. Read with ``importlib.resources``."""

"""Solara's browser files (its Vue app, RequireJS, Font Awesome) on a machine without the CDN.

The page Solara serves loads these from ``/_solara/cdn/NAME@VERSION/...``; Solara's server
fetches each file from a public CDN on first use and keeps it in its cache
(``solara.server.settings.assets.proxy_cache_dir``, by default ``<prefix>/share/solara/cdn``).
Where that CDN cannot be reached the page stays blank. The CDN serves the files of npm
packages, so ``ensure()`` fetches the same packages with npm (``npm pack``, the ordinary npm
client) and unpacks each into the cache as ``NAME@VERSION/``: the server then finds every file
there. The package list is read from Solara's own page template, so it follows Solara upgrades.
Nothing is fetched when the files are already there (from an earlier start, or the
``solara-assets`` package).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

_PKG = re.compile(r"\{\{\s*cdn\s*\}\}/((?:@[\w.-]+/)?[\w.-]+)@(\d[\w.-]*)/")
_FA = re.compile(r"^/?((?:@[\w.-]+/)?[\w.-]+)@(\d[\w.-]*)/")


def cache_dir() -> Path:
    """Solara's CDN cache directory (``solara.server.settings.assets.proxy_cache_dir``)."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def needed() -> list[tuple[str, str]]:
    """(npm name, version) of every package Solara's page template loads from the CDN (for the
    Vue version installed)."""
    import solara.server
    from solara.server import settings
    from solara.server.server import vue3

    text = (Path(solara.server.__file__).parent / "templates" / "solara.html.j2").read_text(encoding="utf-8")
    found = dict.fromkeys(_PKG.findall(text))
    other_app = "@widgetti/solara-vuetify-app" if vue3 else "@widgetti/solara-vuetify3-app"
    out = [(n, v) for n, v in found if n != other_app]
    if settings.assets.fontawesome_enabled:
        m = _FA.match(settings.assets.fontawesome_path)
        if m and (m.group(1), m.group(2)) not in out:
            out.append((m.group(1), m.group(2)))
    return out


def missing(cache: Path | None = None) -> list[tuple[str, str]]:
    """The (npm name, version) of the needed packages not yet unpacked in ``cache`` (default Solara's
    cache)."""
    cache = cache or cache_dir()
    return [(n, v) for n, v in needed() if not (cache / f"{n}@{v}" / "package.json").is_file()]


def _safe_members(tar: tarfile.TarFile):
    for m in tar.getmembers():
        if not m.name.startswith("package/") or ".." in Path(m.name).parts or not (m.isfile() or m.isdir()):
            continue
        m.name = m.name[len("package/"):]
        if m.name:
            yield m


def ensure(log=print) -> bool:
    """Fetch the missing packages with npm into Solara's cache. True when nothing is missing
    afterwards; False (after a note through ``log``) when they could not be fetched."""
    cache = cache_dir()
    todo = missing(cache)
    if not todo:
        return True
    npm = shutil.which("npm")
    if npm is None:
        log("jjj-sim-dashboard: note: Solara's browser files are not cached and npm is not installed; "
            "the server will try Solara's CDN (a blank page means it cannot be reached: install npm, or "
            "the solara-assets package)")
        return False
    specs = [f"{n}@{v}" for n, v in todo]
    log(f"jjj-sim-dashboard: fetching Solara's browser files with npm: {', '.join(specs)}")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="jjj-npm-") as tmp:
            r = subprocess.run([npm, "pack", *specs, "--json", "--pack-destination", tmp], cwd=tmp,
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                log(f"jjj-sim-dashboard: note: npm pack failed: {(r.stderr or r.stdout).strip()[-500:]}")
                return False
            for info in json.loads(r.stdout):
                target = cache / f"{info['name']}@{info['version']}"
                staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
                with tarfile.open(Path(tmp) / info["filename"]) as tar:
                    tar.extractall(staging, members=list(_safe_members(tar)), filter="data")
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():
                    shutil.rmtree(target)
                os.replace(staging, target)
    except (OSError, ValueError, KeyError, subprocess.SubprocessError, tarfile.TarError) as e:
        log(f"jjj-sim-dashboard: note: could not fetch Solara's browser files ({e.__class__.__name__}: {e})")
        return False
    left = missing(cache)
    if left:
        log(f"jjj-sim-dashboard: note: still missing: {', '.join(f'{n}@{v}' for n, v in left)}")
    return not left

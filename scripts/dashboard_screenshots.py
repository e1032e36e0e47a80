"""Screenshots of jjj-sim-dashboard for the docs, taken in headless Chromium with Playwright.

    .venv/bin/python scripts/dashboard_screenshots.py              # starts a server on a free port
    .venv/bin/python scripts/dashboard_screenshots.py --url http://127.0.0.1:8765/

Sets the what-if of the docs (scale 0.1, 3 seeds, to 2035; Xiong'an incentive 4 from 2026-01;
Tangshan rail speed-up 0.3 from 2026-01), runs it, prints the time from the click on Run to the
results, and writes docs/img/dashboard_controls.png, dashboard_results.png and dashboard_map.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("jjj-sim-dashboard")
    proc = subprocess.Popen([str(exe), "--port", str(port)], cwd=tempfile.gettempdir(), start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while not _answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the dashboard did not start")
        time.sleep(0.3)
    time.sleep(8)  # let the workers warm up, as they would while a planner sets the levers
    return proc, url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running dashboard (default: start one)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    proc = None
    url = a.url
    if not url:
        proc, url = start_server()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000}, device_scale_factor=1)
            page.set_default_timeout(120_000)
            page.goto(url)
            page.get_by_role("button", name="Run").wait_for()

            def fill(selector: str, text: str) -> None:
                box = page.locator(f"{selector} input").first
                box.fill(text)
                box.press("Enter")

            fill(".input-scale", "0.1")
            fill(".input-seeds", "3")
            fill(".input-end-year", "2035")
            fill(".lever-incentives-xiongan .lever-value", "4")
            fill(".lever-incentives-xiongan .lever-from", "2026-01")
            page.get_by_role("button", name="Add a regional rail speed-up").click()
            fill(".rail-row-0 .rail-value", "0.3")
            fill(".rail-row-0 .rail-from", "2026-01")
            page.locator(".jjj-edits li", has_text="tangshan").wait_for()
            t0 = time.perf_counter()
            page.get_by_role("button", name="Run").click()
            page.locator("#headline-table").wait_for()
            t_table = time.perf_counter() - t0
            page.locator(".map-diff img").wait_for()
            t_all = time.perf_counter() - t0
            print(f"click to results: {t_table:.1f} s (maps shown after {t_all:.1f} s); "
                  f"{page.locator('.results-meta').inner_text()}")
            time.sleep(1.5)

            # the page scrolls inside Solara's layout: make the window as tall as the content
            height = page.evaluate("() => document.querySelector('.jjj-page').scrollHeight")
            page.set_viewport_size({"width": 1500, "height": int(height) + 40})
            time.sleep(1.0)

            def shot(selector: str, path: Path, max_height: int | None = None) -> None:
                box = page.locator(selector).first.bounding_box()
                clip = {"x": max(0, box["x"] - 8), "y": max(0, box["y"] - 8), "width": box["width"] + 16,
                        "height": min(box["height"], max_height or box["height"]) + 16}
                page.screenshot(path=str(path), clip=clip)
                print(f"wrote {path} ({int(clip['width'])} x {int(clip['height'])})")

            # the controls: from the scenario down to the Xiong'an lever (the edits and the progress show)
            top = page.locator(".jjj-controls").bounding_box()
            xiongan = page.locator(".lever-incentives-xiongan").bounding_box()
            shot(".jjj-controls", out / "dashboard_controls.png", xiongan["y"] + xiongan["height"] - top["y"] + 4)
            # the results: the headline table and the time series
            panels = page.locator(".img-diffs").bounding_box()
            res = page.locator(".jjj-results").bounding_box()
            shot(".jjj-results", out / "dashboard_results.png", panels["y"] + panels["height"] - res["y"])
            # the maps side by side: a wider window
            page.set_viewport_size({"width": 1900, "height": int(height) + 40})
            time.sleep(1.0)
            shot(".maps", out / "dashboard_map.png")
            browser.close()
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()

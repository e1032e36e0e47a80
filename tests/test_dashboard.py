"""``jjj-sim-dashboard`` in a real browser: headless Chromium (Debian's) driven by Playwright.

The server is the installed command, started from a temporary directory on a free port of
127.0.0.1 and stopped with Ctrl-C (SIGINT) at the end. The tests change a lever, run a small
what-if and read the page as a user would; bad input shows a message next to its control and
the server keeps answering; a second tab has its own state.

Without chromium (or Playwright) the tests are skipped, except under CI (``CI`` set), where
they fail.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000


# ---------------------------------------------------------------------------- controls (no browser)
def _baseline():
    from omegaconf import OmegaConf

    from jjj_sim.runner.compose import scenario_spec
    from jjj_sim.tools.dashboard import levers as lv

    spec = scenario_spec("baseline")
    levers = lv.levers_of(OmegaConf.to_container(spec.compose([]).policy))
    return spec, levers, lv.initial_controls(levers)


def test_every_lever_is_a_control_and_unchanged_controls_add_nothing():
    from jjj_sim.tools.dashboard import levers as lv

    _spec, levers, init = _baseline()
    keys = [x.key for x in levers]
    for key in ("closure_campaign", "relocation_push", "matching", "incentives.xiongan", "incentives.tianjin_parks",
                "business_environment", "basic_research", "innovation_community", "hebei_hightech",
                "hebei_decapacity", "rail.speedup"):
        assert key in keys
    assert init["incentives.xiongan"] == {"value": "2", "from": lv.DEFAULT_FROM, "places": ["xiongan", "xiongan_zgc"]}
    ed = lv.build_edits(levers, init, dict(init), [], lv.RunSettings())
    assert ed.ok and ed.overrides == [] and (ed.scale, ed.seeds, ed.end_year) == (0.1, 3, 2035)


def test_changed_controls_become_lever_edits_that_keep_history():
    from jjj_sim.tools.dashboard import levers as lv

    spec, levers, init = _baseline()
    c = dict(init)
    c["incentives.xiongan"] = {**init["incentives.xiongan"], "value": "4", "from": "2025-01",
                               "places": ["xiongan", "xiongan_zgc", "baoding"]}
    ed = lv.build_edits(levers, init, c, [{"region": "tangshan", "value": "0.3", "from": "2026-01"}], lv.RunSettings())
    assert ed.ok, ed.errors
    cfg = spec.compose([*ed.overrides])
    x = cfg.policy.incentives.xiongan
    assert [(str(e["from"]), float(e["value"])) for e in x.schedule] == [("2017-04", 2.0), ("2025-01", 4.0)]
    assert list(x.places) == ["xiongan", "xiongan_zgc", "baoding"]
    (sp,) = cfg.policy.rail.speedups.values()
    assert sp.region == "tangshan" and float(sp.schedule[0]["value"]) == 0.3


def test_bad_input_is_placed_on_its_control():
    from jjj_sim.core.errors import ConfigError
    from jjj_sim.tools.dashboard import levers as lv

    spec, levers, init = _baseline()
    c = dict(init)
    c["incentives.xiongan"] = {**init["incentives.xiongan"], "from": "2025-13"}
    c["rail.speedup"] = {**init["rail.speedup"], "value": "0.95"}
    ed = lv.build_edits(levers, init, c, [{"region": "tangshan", "value": "x", "from": "2013-12"}],
                        lv.RunSettings(seeds="0", end_year="2040"))
    assert set(ed.errors) == {"incentives.xiongan", "rail.speedup", "rail_rows[0]", lv.SEEDS, lv.END_YEAR}
    assert ed.overrides == []
    # errors from composing the config are placed by their field
    for field, control in (("policy.incentives.xiongan.schedule[1].value", "incentives.xiongan"),
                           ("policy.rail.speedup.schedule", "rail.speedup"),
                           ("policy.rail.speedups.dash2_tangshan.schedule", "rail_rows[1]"),
                           ("policy.closure_campaign.from[0].from", "closure_campaign"),
                           ("population.scale", lv.SCALE), ("run.end_year", lv.END_YEAR), ("params.x", lv.GENERAL)):
        assert lv.control_for_field(field, levers) == control, field
    c = dict(init)
    c["matching"] = {**init["matching"], "value": "1", "from": "2030-01"}
    ed = lv.build_edits(levers, init, c, [], lv.RunSettings(scale="-1"))
    with pytest.raises(ConfigError) as e:
        spec.compose([*ed.overrides, f"population.scale={ed.scale}"])
    assert lv.place_error(e.value, levers)[0] == lv.SCALE


# ---------------------------------------------------------------------------- in the browser
def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI: the browser test must run)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    exe = Path(sys.executable).with_name("jjj-sim-dashboard")
    if not exe.exists():
        pytest.fail(f"{exe} is missing: install the package (pip install -e .)")
    where = tmp_path_factory.mktemp("dashboard")  # not the checkout: it must work from anywhere
    log = open(where / "server.log", "w+")
    info: dict = {"log": where / "server.log"}
    try:
        deadline = time.monotonic() + 90
        for attempt in range(3):  # a free port can be taken before the server binds it: then another
            port = _free_port()
            said_before = len(info["log"].read_text())  # the log is shared by the attempts
            info["url"] = url = f"http://127.0.0.1:{port}/"
            info["proc"] = proc = subprocess.Popen([str(exe), "--port", str(port)], cwd=where, stdout=log,
                                                   stderr=subprocess.STDOUT, start_new_session=True)
            while not _answers(url) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.3)
            if proc.poll() is None or "--port: could not serve on" not in info["log"].read_text()[said_before:]:
                break
        while not _answers(url):
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}): {info['log'].read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within 90 s: {info['log'].read_text()[-3000:]}")
            time.sleep(0.3)
        yield info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if CHROMIUM is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.get_by_role("button", name="Run").wait_for()
    return page


def _fill(page, selector: str, text: str) -> None:
    box = page.locator(f"{selector} input").first
    box.fill(text)
    box.press("Enter")


def _click_until_shown(page, button: str, shown, tries: int = 3, each_ms: float = 20_000) -> None:
    """Click the button named ``button`` until the locator ``shown`` is visible, at most ``tries``
    times, ``each_ms`` apart. Only for a click that is idempotent (a load or a check that fails
    the same way each time): on a loaded machine a click can land while the page re-renders its
    controls, and be lost. If ``shown`` never shows, the error says what the page shows instead."""
    # here, as in the browser fixture: without playwright this module's tests skip, not fail to import
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for _ in range(tries):
        page.get_by_role("button", name=button).click()
        try:
            shown.wait_for(timeout=each_ms)
            return
        except PlaywrightTimeoutError:
            pass
    messages = [m.inner_text() for m in page.locator(".control-error").all()]
    raise AssertionError(f"after {tries} clicks on {button!r}, not shown: {shown}; the page's messages: {messages}")


def _number(text: str) -> float:
    m = re.match(r"\s*([+-]?[\d,]+(?:\.\d+)?)", text)
    assert m, f"no number at the start of {text!r}"
    return float(m.group(1).replace(",", ""))


def _image_spread(png: bytes) -> float:
    """Standard deviation of the pixel values of a screenshot (a blank area has ~0)."""
    from matplotlib import image

    return float(image.imread(io.BytesIO(png), format="png")[..., :3].std())


def test_whatif_differs_from_the_baseline_and_the_map_renders(server, browser):
    page = _open(browser, server["url"])
    _fill(page, ".input-scale", "0.03")
    _fill(page, ".input-seeds", "2")
    _fill(page, ".input-end-year", "2026")
    _fill(page, ".lever-incentives-xiongan .lever-value", "4")
    _fill(page, ".lever-incentives-xiongan .lever-from", "2025-01")
    page.locator(".jjj-edits li", has_text="Xiong'an: 4 from 2025-01").wait_for()
    page.get_by_role("button", name="Run").click()

    row = page.locator('#headline-table tr[data-indicator="xiongan_firms_from_beijing"]')
    row.wait_for()
    base = _number(row.locator("td.level-base").inner_text())
    whatif = _number(row.locator("td.level-whatif").inner_text())
    diff = row.locator("td.diff").inner_text()
    assert _number(diff) > 0, f"Xiong'an firms: the what-if should add firms, got {diff!r}"
    assert whatif > base, (base, whatif)
    assert "2 seeds" in page.locator(".results-meta").inner_text()
    assert "end of 2026" in page.locator("#headline-table caption").inner_text()

    # both maps render: images of real size with something drawn on them
    for cls in ("map-whatif", "map-diff"):
        img = page.locator(f".{cls} img")
        img.wait_for()
        page.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle())
        natural = img.evaluate("(el) => [el.naturalWidth, el.naturalHeight]")
        assert natural[0] >= 500 and natural[1] >= 500, natural
        img.scroll_into_view_if_needed()
        box = img.bounding_box()
        assert box and box["width"] > 250 and box["height"] > 250, box
        assert _image_spread(img.screenshot()) > 0.05, f"{cls} looks blank"
    # the tables of parks, regions and targets are there
    assert page.locator("#parks-table tr[data-park]").count() >= 15
    assert page.locator("#regions-table tr[data-region]").count() == 18
    t1 = page.locator('#targets-table tr[data-target="T1"]').inner_text()
    assert re.search(r"\b(yes|no)\b", t1), t1  # T1 is a 2023 figure: a run to 2026 has it
    page.close()


def test_bad_input_shows_a_message_and_tabs_are_independent(server, browser):
    a = _open(browser, server["url"])
    # a malformed date: a message next to the lever at once, and Run is disabled
    _fill(a, ".lever-incentives-xiongan .lever-from", "2040-13")
    msg = a.locator(".error-incentives-xiongan")
    msg.wait_for()
    assert "YYYY-MM" in msg.inner_text()
    assert a.get_by_role("button", name="Run").is_disabled()
    # a date past the horizon
    _fill(a, ".lever-incentives-xiongan .lever-from", "2036-01")
    a.locator(".error-incentives-xiongan", has_text="2035").wait_for()
    # an out-of-range scale passes the form but not the config check: the message goes next to
    # the scale control (ConfigError.field = population.scale)
    _fill(a, ".lever-incentives-xiongan .lever-from", "2025-01")
    a.locator(".error-incentives-xiongan").wait_for(state="detached")
    _fill(a, ".input-scale", "-1")
    scale_msg = a.locator(".error-population-scale")
    _click_until_shown(a, "Run", scale_msg)
    assert "population.scale" in scale_msg.inner_text() and "> 0" in scale_msg.inner_text()
    # an unknown scenario file
    _fill(a, ".scenario-file", "no/such/scenario.yaml")
    _click_until_shown(a, "Load file", a.locator(".error-scenario-file", has_text="no such scenario file"))
    assert _answers(server["url"]), "the server stopped answering after bad input"

    # a second tab starts from the defaults: none of the first tab's edits or messages
    b = _open(browser, server["url"])
    assert b.locator(".input-scale input").input_value() == "0.1"
    assert b.locator(".lever-incentives-xiongan .lever-value input").input_value() == "2"
    assert b.locator(".control-error").count() == 0
    assert b.locator("#headline-table").count() == 0
    # and changing it leaves the first tab as it was
    _fill(b, ".input-seeds", "4")
    b.locator(".input-seeds input").blur()
    time.sleep(0.5)
    assert a.locator(".input-seeds input").input_value() == "3"
    assert a.locator(".input-scale input").input_value() == "-1"
    assert a.locator(".error-population-scale").count() == 1
    a.close()
    b.close()


def test_a_server_that_cannot_start_names_the_option_at_fault():
    from jjj_sim.tools.dashboard import cannot_serve

    in_use = OSError(errno.EADDRINUSE, "error while attempting to bind on address: address already in use")
    assert cannot_serve("127.0.0.1", 80, in_use) == \
        f"jjj-sim-dashboard: error: --port: could not serve on 127.0.0.1:80 ({os.strerror(errno.EADDRINUSE)})"
    assert cannot_serve("10.9.9.9", 8765, OSError(errno.EADDRNOTAVAIL, "x")).startswith(
        "jjj-sim-dashboard: error: --host: could not serve on 10.9.9.9:8765")
    assert cannot_serve("nosuch", 8765, socket.gaierror(-2, "Name or service not known")) == \
        "jjj-sim-dashboard: error: --host: could not serve on nosuch:8765 (Name or service not known)"
    assert "--" not in cannot_serve("127.0.0.1", 8765, None)


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    """Another program holds the port: the dashboard says so in one line naming --port, and has
    not claimed to be serving."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        r = subprocess.run([str(Path(sys.executable).with_name("jjj-sim-dashboard")), "--port", str(port)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert r.returncode == 1 and "serving on" not in r.stdout
    assert r.stderr.strip().splitlines() == [
        f"jjj-sim-dashboard: error: --port: could not serve on 127.0.0.1:{port} ({os.strerror(errno.EADDRINUSE)})"]


def test_ctrl_c_stops_the_server(server):
    proc = server["proc"]
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    out = server["log"].read_text()
    assert f"serving on {server['url'].rstrip('/')}" in out
    assert "stopped" in out

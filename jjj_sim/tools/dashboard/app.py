"""The what-if page (Solara): levers on the left, the what-if against the baseline on the right.

State lives in module-level ``solara.reactive`` variables and a module-level ``task``: Solara
keeps one copy of each per browser page (kernel), so two tabs never share controls, runs or
results. The pool of simulation workers and the run cache (``runner``) are shared; they hold
no session state.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import ipyvuetify
import solara
import solara.lab
from omegaconf import OmegaConf

from jjj_sim.core.errors import ConfigError
from jjj_sim.runner.compose import known_scenarios, scenario_spec
from jjj_sim.tools.dashboard import levers as lv
from jjj_sim.tools.dashboard import runner, views

VUE3 = ipyvuetify.__version__.startswith("3")
SELECT_KW = {"density": "compact", "closable_chips": True} if VUE3 else {"dense": True, "deletable_chips": True,
                                                                         "small_chips": True}
CSS = views.CSS + """
.jjj-page { align-items: flex-start !important; }
.jjj-page { flex-wrap: nowrap !important; }
.jjj-controls { width: 470px; flex: 0 0 470px; max-width: 470px; }
.jjj-results { flex: 1 1 0; min-width: 0; max-width: calc(100vw - 530px); overflow-x: auto; }
.jjj-controls .lever { border-top: 1px solid #e6e6e6; padding: 4px 2px 2px 2px; }
.jjj-controls .lever-title { font-weight: 600; font-size: 14px; }
.jjj-controls .lever-unit { font-weight: 400; font-size: 12px; color: #666; margin-left: 4px; }
.jjj-controls .lever-places .v-chip { font-size: 11px; }
.jjj-edits ul { margin: 2px 0 4px 18px; list-style: disc; }
.jjj-controls .lever-help { font-size: 12px; color: #555; }
.jjj-controls .lever-schedule { font-size: 12px; color: #333; font-family: monospace; }
.jjj-controls .lever.changed { background: #fff6e5; }
.jjj-controls h3 { margin: 10px 0 2px 0; font-size: 16px; }
.jjj-results h3 { margin: 14px 0 4px 0; }
.jjj-img img { max-width: 100%; height: auto; }
.control-error { font-size: 13px; }
.jjj-edits { font-size: 13px; }
"""


# ---------------------------------------------------------------------------- loading a scenario
def _load(entry: str, field: str = lv.SCENARIO) -> dict:
    """A scenario's spec, levers and initial control state (raises ConfigError naming ``field``)."""
    spec = scenario_spec(entry, base_dir=Path.cwd(), field=field)
    cfg = spec.compose([])
    levers = lv.levers_of(OmegaConf.to_container(cfg.policy, resolve=True))
    return {"spec": spec, "levers": levers, "initial": lv.initial_controls(levers)}


_DEFAULT = _load(runner.REFERENCE)

scenario_name = solara.reactive(runner.REFERENCE)
scenario_file = solara.reactive("")
loaded = solara.reactive(_DEFAULT)  # {"spec", "levers", "initial"}
controls = solara.reactive(dict(_DEFAULT["initial"]))  # lever key -> {"value", "from", "places"}
rail_rows = solara.reactive([])  # [{"region", "value", "from"}]
settings = solara.reactive(lv.RunSettings())
run_errors = solara.reactive({})  # control key -> message, from the last Run (ConfigError)
load_errors = solara.reactive({})  # scenario / scenario_file -> message
progress = solara.reactive(None)  # {"fraction", "text"}
results = solara.reactive(None)  # runner.Results
shown_year = solara.reactive(None)
run_number = solara.reactive(0)


def set_scenario(state: dict) -> None:
    """Make ``state`` (from ``_load``) the page's scenario: its levers' controls as the scenario has
    them, no rail rows, no errors."""
    loaded.value = state
    controls.value = dict(state["initial"])
    rail_rows.value = []
    run_errors.value = {}
    load_errors.value = {}


def choose_scenario(name: str) -> None:
    """Load the known scenario ``name`` chosen in the list (an error is shown under the list)."""
    scenario_name.value = name
    try:
        set_scenario(_load(name))
        scenario_file.value = ""
    except ConfigError as e:
        load_errors.value = {lv.SCENARIO: str(e)}


def load_file() -> None:
    """Load the scenario file whose path is typed in the box (an error is shown under the box)."""
    path = scenario_file.value.strip()
    if not path:
        load_errors.value = {lv.SCENARIO_FILE: "type the path of a scenario file (YAML)"}
        return
    try:
        set_scenario(_load(path, field=lv.SCENARIO_FILE))
        scenario_name.value = None  # the scenario is the file's, not one of the list
    except ConfigError as e:
        load_errors.value = {lv.SCENARIO_FILE: e.message}


def reset() -> None:
    """Put every control back as the loaded scenario has it."""
    set_scenario(loaded.value)


def current_edits() -> lv.Edits:
    """The controls checked and turned into overrides (``levers.build_edits``)."""
    st = loaded.value
    return lv.build_edits(st["levers"], st["initial"], controls.value, rail_rows.value, settings.value)


# ---------------------------------------------------------------------------- the run
@solara.lab.task
def run_task(edits: lv.Edits, state: dict) -> None:
    """The run, a Solara task (off the event loop): ``runner.run_whatif`` with ``edits``, updating
    ``progress``; sets ``results``. A ConfigError is shown at its control; a cancelled run keeps the
    last results."""
    def on_progress(p: runner.Progress) -> None:
        progress.value = {"fraction": p.fraction, "text": p.text()}

    try:
        res = runner.run_whatif(state["spec"], edits.overrides, edits.changed, scale=edits.scale,
                                n_seeds=edits.seeds, end_year=edits.end_year, on_progress=on_progress,
                                cancelled=lambda: not run_task.is_current())
    except ConfigError as e:
        key, msg = lv.place_error(e, state["levers"])
        run_errors.value = {key: msg}
        progress.value = None
        return
    except runner.Cancelled:
        progress.value = {"fraction": 0.0, "text": "cancelled"}
        return
    run_number.value = run_number.value + 1
    res.number = run_number.value
    shown_year.value = res.end_year
    results.value = res
    progress.value = {"fraction": 1.0, "text": f"done in {res.seconds:.1f} s ({res.simulated} runs simulated, "
                                               f"{res.cached} from the cache)"}


def start_run() -> None:
    """The Run button: start ``run_task`` with the current edits, unless a control has an error."""
    edits = current_edits()
    run_errors.value = {}
    if not edits.ok:
        return
    progress.value = {"fraction": 0.0, "text": "starting"}
    run_task(edits, loaded.value)


# ---------------------------------------------------------------------------- controls
def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


def _set_control(key: str, **kw) -> None:
    c = dict(controls.value)
    new = {**c[key], **kw}
    if new == c[key]:
        return
    c[key] = new
    controls.value = c
    run_errors.value = {}  # a message from the last Run may no longer hold


def _set_setting(name: str, value: str) -> None:
    new = lv.RunSettings(**{**asdict(settings.value), name: value})
    if new != settings.value:
        settings.value = new
        run_errors.value = {}


@solara.component
def Message(text: str | None, key: str = "general"):
    """An error next to the control ``key`` (classes ``control-error error-<key>``)."""
    if text:
        solara.Error(text, dense=True, outlined=False, classes=["control-error", f"error-{_slug(key)}"])


@solara.component
def LeverControl(lever: lv.Lever, errors: dict):
    """One lever's control: its title, unit and schedule in the scenario, inputs for the value and the
    month it applies from, its places (levers that have them) and its error."""
    state = controls.value.get(lever.key) or loaded.value["initial"][lever.key]
    initial = loaded.value["initial"][lever.key]
    changed = state != initial
    err = errors.get(lever.key)
    with solara.Column(gap="0px", classes=["lever", f"lever-{_slug(lever.key)}", *(["changed"] if changed else [])]):
        solara.HTML(tag="div", classes=["lever-title"], attributes={"title": lever.help},
                    unsafe_innerHTML=f"{views._e(lever.title)} <span class='lever-unit'>{views._e(lever.unit)}</span>")
        solara.HTML(tag="div", unsafe_innerHTML="scenario: " + views._e(lever.schedule_text()),
                    classes=["lever-schedule"])
        with solara.Row(gap="6px", style={"align-items": "flex-start", "flex-wrap": "nowrap"}):
            solara.InputText("value", value=state["value"], error=bool(err), dense=True,
                             on_value=lambda v: _set_control(lever.key, value=v), classes=["lever-value"],
                             style={"flex": "0 0 80px", "max-width": "80px"})
            solara.InputText("from YYYY-MM", value=state["from"], error=bool(err), dense=True,
                             on_value=lambda v: _set_control(lever.key, **{"from": v}), classes=["lever-from"],
                             style={"flex": "0 0 118px", "max-width": "118px"})
            if lever.places is not None:
                solara.v.Select(label="places", items=lv.place_options(state.get("places") or ()),
                                v_model=state.get("places") or [], multiple=True, chips=True, hide_details=True,
                                on_v_model=lambda v: _set_control(lever.key, places=list(v or [])),
                                class_="lever-places", style_="flex: 1 1 0; min-width: 0", **SELECT_KW)
        Message(err, lever.key)


def _set_row(i: int, **kw) -> None:
    rows = [dict(r) for r in rail_rows.value]
    if {**rows[i], **kw} == rows[i]:
        return
    rows[i].update(kw)
    rail_rows.value = rows
    run_errors.value = {}


def _remove_row(i: int) -> None:
    rail_rows.value = [r for k, r in enumerate(rail_rows.value) if k != i]


def _add_row() -> None:
    rail_rows.value = [*rail_rows.value, {"region": "tangshan", "value": "0.3", "from": lv.DEFAULT_FROM}]


@solara.component
def RailRows(errors: dict):
    """The regional rail speed-ups: a row per region (region, share of in-train time saved, start month,
    delete) and a button that adds one."""
    regions = [lv.select_item(f"{name} [{rid}]", rid) for rid, name in lv.rail_regions()]
    with solara.Column(gap="2px", classes=["lever", "rail-rows"]):
        solara.HTML(tag="div", unsafe_innerHTML="Rail speed-up for one region", classes=["lever-title"])
        solara.HTML(tag="div", classes=["lever-help"], unsafe_innerHTML=views._e(
            "Share of in-train time saved on that region's links to Beijing (below 0.9), from a date; "
            "combines with the national speed-up."))
        for i, row in enumerate(rail_rows.value):
            with solara.Row(gap="6px", classes=[f"rail-row-{i}"], style={"align-items": "center"}):
                solara.v.Select(label="region", items=regions, v_model=row["region"], hide_details=True, **SELECT_KW,
                                on_v_model=lambda v, i=i: _set_row(i, region=v), style_="max-width: 190px",
                                class_="rail-region")
                solara.InputText("share saved", value=row["value"], dense=True, classes=["rail-value"],
                                 on_value=lambda v, i=i: _set_row(i, value=v), style={"max-width": "90px"})
                solara.InputText("from YYYY-MM", value=row["from"], dense=True, classes=["rail-from"],
                                 on_value=lambda v, i=i: _set_row(i, **{"from": v}), style={"max-width": "110px"})
                solara.Button(icon_name="mdi-delete", icon=True, on_click=lambda i=i: _remove_row(i),
                              classes=["rail-remove"])
            Message(errors.get(f"{lv.RAIL_ROWS}[{i}]"), f"{lv.RAIL_ROWS}-{i}")
        solara.Button("Add a regional rail speed-up", on_click=_add_row, text=True, classes=["rail-add"],
                      style={"align-self": "flex-start"})


@solara.component
def RunProgress():
    """The progress bar (its own component: a progress update re-renders only this)."""
    p = progress.value
    if p is not None:
        solara.ProgressLinear(value=100.0 * p["fraction"], classes=["run-progress"])
        solara.HTML(tag="div", unsafe_innerHTML=views._e(p["text"]), classes=["lever-help", "progress-text"])
    if run_task.error:
        Message(f"the run failed: {run_task.exception}", "run")


@solara.component
def Controls():
    """The left column: the scenario (list or file), the run settings (scale, seeds, end year), Run,
    Cancel and Reset, the progress, the edits so far, and every lever by group with the rail rows."""
    edits = current_edits()
    errors = {**edits.errors, **run_errors.value, **load_errors.value}
    st = loaded.value
    s = settings.value
    pending = run_task.pending
    with solara.Column(gap="4px", classes=["jjj-controls"]):
        solara.HTML(tag="h2", unsafe_innerHTML="What-if", style="margin: 0")
        solara.HTML(tag="div", classes=["lever-help"], unsafe_innerHTML=views._e(
            "Start from a scenario, change levers from a date, and run: the what-if and the baseline run on "
            "the same seeds."))
        solara.Select("Scenario", values=known_scenarios(), value=scenario_name.value, on_value=choose_scenario,
                      classes=["scenario-select"])
        Message(errors.get(lv.SCENARIO), lv.SCENARIO)
        with solara.Row(gap="6px", style={"align-items": "center"}):
            solara.InputText("or a scenario file (path to YAML)", value=scenario_file, dense=True,
                             classes=["scenario-file"], style={"flex": "1 1 auto"})
            solara.Button("Load file", on_click=load_file, outlined=True, classes=["load-file"])
        Message(errors.get(lv.SCENARIO_FILE), lv.SCENARIO_FILE)
        solara.HTML(tag="div", classes=["lever-help", "scenario-description"], unsafe_innerHTML=views._e(
            f"{st['spec'].name} ({st['spec'].source}): {st['spec'].description}"))

        solara.HTML(tag="h3", unsafe_innerHTML="Run")
        with solara.Row(gap="8px"):
            solara.InputText("Population scale", value=s.scale, dense=True, classes=["input-scale"],
                             error=bool(errors.get(lv.SCALE)), style={"max-width": "130px"},
                             on_value=lambda v: _set_setting("scale", v))
            solara.InputText("Seeds", value=s.seeds, dense=True, classes=["input-seeds"],
                             error=bool(errors.get(lv.SEEDS)), style={"max-width": "90px"},
                             on_value=lambda v: _set_setting("seeds", v))
            solara.InputText("End year (2014-2035)", value=s.end_year, dense=True, classes=["input-end-year"],
                             error=bool(errors.get(lv.END_YEAR)), style={"max-width": "150px"},
                             on_value=lambda v: _set_setting("end_year", v))
        for key in (lv.SCALE, lv.SEEDS, lv.END_YEAR):
            Message(errors.get(key), key)
        with solara.Row(gap="8px"):
            solara.Button("Run", on_click=start_run, color="primary", disabled=pending or not edits.ok,
                          classes=["run-button"])
            if pending:
                solara.Button("Cancel", on_click=lambda: run_task.cancel(), outlined=True, classes=["cancel-button"])
            solara.Button("Reset to the scenario", on_click=reset, outlined=True, classes=["reset-button"])
        RunProgress()
        Message(errors.get(lv.GENERAL), lv.GENERAL)
        if edits.changed:
            solara.HTML(tag="div", classes=["jjj-edits"], unsafe_innerHTML="<b>Edits</b> (what-if = scenario + these):"
                        "<ul>" + "".join(f"<li>{views._e(c)}</li>" for c in edits.changed) + "</ul>")
        else:
            solara.HTML(tag="div", classes=["jjj-edits"],
                        unsafe_innerHTML="No edits: the what-if is the scenario as it is.")
        if not edits.ok:
            solara.HTML(tag="div", classes=["lever-help"], unsafe_innerHTML="Fix the marked controls to run.")

        for title, group in lv.grouped(st["levers"]):
            solara.HTML(tag="h3", unsafe_innerHTML=views._e(title))
            for lever in group:
                LeverControl(lever, errors)
            if title == "Rail":
                RailRows(errors)
        if not any(t == "Rail" for t, _ in lv.grouped(st["levers"])):
            solara.HTML(tag="h3", unsafe_innerHTML="Rail")
            RailRows(errors)


# ---------------------------------------------------------------------------- results
@solara.component
def Img(data: bytes | None, cls: str, alt: str):
    """The PNG ``data`` in a div of class ``cls`` (nothing while it is None; ``alt`` is not used)."""
    if data:
        with solara.Div(classes=["jjj-img", cls]):
            solara.Image(data, width="100%")


@solara.component
def Results(res: runner.Results):
    """The right column for a finished run: what ran, the year shown and the downloads, the headline
    table, the panels over time, the two maps of that year, the parks and regions tables, the targets
    and the park record."""
    years = sorted({int(y) for y in res.levels.year})
    year = shown_year.value if shown_year.value in years else res.end_year

    def maps():
        if year == res.end_year:
            return {k: res.images[k] for k in ("map_whatif", "map_diff") if k in res.images}
        return runner.map_images(res, year)

    map_task = solara.lab.use_task(maps, dependencies=[res.number, year], raise_error=False)  # and differences
    imgs = map_task.value if map_task.finished and map_task.value else {}
    ready = year in res.full_years

    with solara.Column(gap="4px", classes=["jjj-results"]):
        solara.HTML(tag="h2", unsafe_innerHTML=views._e(f"What-if ({res.whatif}) against the baseline"),
                    style="margin: 0", classes=["results-title"])
        edits = "; ".join(res.changed) if res.changed else "no edits (the scenario as it is)"
        solara.HTML(tag="div", classes=["lever-help", "results-meta"], unsafe_innerHTML=views._e(
            f"Run {res.number}: scenario {res.scenario} with {edits}. {res.n_seeds} seeds "
            f"(replication_seeds({runner.MASTER_SEED}, {res.n_seeds}), the same for both), population scale "
            f"{res.scale:g}, 2014-{res.end_year}; {res.seconds:.1f} s ({res.simulated} runs simulated, "
            f"{res.cached} from the cache; " + ", ".join(f"{k} {v:.1f} s" for k, v in res.timings.items()) + ")."))
        with solara.Row(gap="8px", style={"align-items": "center"}):
            solara.Select("Year shown in tables and maps", values=[str(y) for y in years], value=str(year),
                          on_value=lambda v: shown_year.set(int(v)), classes=["year-select"],
                          style={"max-width": "260px"})
            solara.FileDownload(lambda: views.summary_json(res), filename="summary.json", label="summary.json",
                                mime_type="application/json")
            solara.FileDownload(lambda: views.levels_csv(res), filename="levels.csv", label="levels.csv",
                                mime_type="text/csv")
            solara.FileDownload(lambda: views.diffs_csv(res), filename="differences.csv", label="differences.csv",
                                mime_type="text/csv")
            solara.FileDownload(lambda: views.report_html(res), filename="report.html", label="report.html",
                                mime_type="text/html")
        if ready:
            solara.HTML(tag="div", unsafe_innerHTML=views.headline_table(res, year), classes=["headline"])
        else:
            solara.HTML(tag="div", unsafe_innerHTML=views._e(f"Computing the differences for {year} ..."))
            solara.ProgressLinear(True)
        solara.HTML(tag="h3", unsafe_innerHTML="Over time")
        Img(res.images.get("levels"), "img-levels", "levels over time")
        Img(res.images.get("diffs"), "img-diffs", "differences over time")
        solara.HTML(tag="h3", unsafe_innerHTML=views._e(f"Maps, end of {year}"))
        if map_task.error:
            Message(f"could not draw the maps: {map_task.exception}", "maps")
        elif not imgs:
            solara.ProgressLinear(True)
        with solara.Row(gap="8px", classes=["maps"], style={"flex-wrap": "wrap"}):
            # side by side in a wide window, one above the other in a narrow one
            with solara.Column(style={"flex": "1 1 560px", "min-width": "0", "max-width": "820px"}):
                Img(imgs.get("map_whatif"), "map-whatif", "map of the what-if")
            with solara.Column(style={"flex": "1 1 560px", "min-width": "0", "max-width": "820px"}):
                Img(imgs.get("map_diff"), "map-diff", "map of the difference")
        solara.HTML(tag="h3", unsafe_innerHTML="Parks and regions")
        if ready:
            solara.HTML(tag="div", unsafe_innerHTML=views.parks_table(res, year))
            solara.HTML(tag="div", unsafe_innerHTML=views.regions_table(res, year))
        solara.HTML(tag="h3", unsafe_innerHTML="Reported figures")
        solara.HTML(tag="div", unsafe_innerHTML=views.targets_table(res))
        solara.HTML(tag="div", unsafe_innerHTML=views.park_record_table(res))


@solara.component
def Page():
    """The page: the controls beside the results (an introduction until the first run)."""
    solara.Title("jjj-sim what-if")
    solara.Style(CSS)
    with solara.Row(gap="20px", classes=["jjj-page"], style={"padding": "10px 14px"}):
        Controls()
        res = results.value
        if res is None:
            with solara.Column(classes=["jjj-results", "no-results"]):
                solara.HTML(tag="h2", unsafe_innerHTML="Beijing-Tianjin-Hebei: what if?", style="margin: 0")
                solara.HTML(tag="div", classes=["intro"], unsafe_innerHTML=(
                    "<p>Choose a scenario, change levers on the left (a value and the month it applies from; "
                    "unchanged controls keep the scenario), set the population scale, seeds and end year, and "
                    "press <b>Run</b>. The what-if and the baseline run on the same seeds; the results show the "
                    "headline indicators with the difference and its 90% confidence interval, time series, "
                    "maps, parks and regions, and the reported figures.</p>"
                    f"<p>Simulations run in {views._e(runner.workers_text())}; a scale of 0.1 with 3 seeds to 2035 "
                    "takes a few seconds, the full population (scale 1) about ten times as long per run.</p>"))
        else:
            Results(res)

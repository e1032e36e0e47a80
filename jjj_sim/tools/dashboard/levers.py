"""The dashboard's controls as data: the levers of a scenario, the state of their controls, and
the overrides a changed control makes (no Solara here, so it is testable on its own).

A lever control is "intensity ``value`` from ``date``" (and, for levers that have them, the
places it applies to). Its initial state is the scenario's own: the value in force at
``DEFAULT_FROM`` and that date. A control left as it started adds no override, so the what-if
equals the chosen scenario until something changes. A changed control becomes a lever edit
that keeps history, ``policy.LEVER.from=[{from: DATE, value: X}]`` (jjj_sim.runner.config.
apply_lever_edits), and changed places ``policy.LEVER.places=[...]``. A rail speed-up for one
region is a new ``+policy.rail.speedups.NAME={region, schedule}`` entry.

Errors come back as {control key: message}; a ConfigError from composing the config is placed
with ``control_for_field`` (its ``field`` names the lever, e.g. ``policy.incentives.xiongan.
schedule[1].value``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import MAX_END_YEAR, START_YEAR, quarter_of
from jjj_sim.sim.world import PROVINCES, load_places, load_rail_links, load_sectors

DEFAULT_FROM = "2026-01"  # the first month the controls change a lever from, unless edited
RAIL_SHARE_MAX = 0.9

# Control keys that are not levers (placing errors from compose by the config field).
SCALE, SEEDS, END_YEAR, SCENARIO, SCENARIO_FILE, RAIL_ROWS, GENERAL = (
    "population.scale", "seeds", "run.end_year", "scenario", "scenario_file", "rail_rows", "general")
FIELD_CONTROLS = {"population.scale": SCALE, "population": SCALE, "run.end_year": END_YEAR, "seeds": SEEDS,
                  "scenario": SCENARIO, "scenarios": SCENARIO}

# Order, titles and help of the levers (conf/policy/reported.yaml); any other lever a scenario
# has is shown after these with its key as title.
LEVER_INFO = {
    "closure_campaign": ("Beijing closure campaign", "intensity (1 = the 2014 plan's pace)",
                         "Beijing shuts general-manufacturing and polluting firms on its list."),
    "negative_list": ("Negative list for new firms", "on (> 0) or off (0)",
                      "No births or arrivals of the listed sectors in these places."),
    "relocation_push": ("Relocation push", "intensity (1 = as reported)",
                        "Extra pressure on firms in these places to move out."),
    "matching": ("Industry matching", "intensity (1 = as reported)",
                 "Matching activities lower cross-border friction toward these places."),
    "incentives.hebei_transformation": ("Incentive: Hebei transformation parks", "intensity (1 = standard package)",
                                        "Incentives for specialised sectors in Hebei's parks."),
    "incentives.tianjin_parks": ("Incentive: Tianjin parks", "intensity (1 = standard package)",
                                 "Incentives for specialised sectors in Tianjin's parks."),
    "incentives.tongzhou_subcentre": ("Incentive: Tongzhou sub-centre", "intensity (1 = standard package)",
                                      "Incentives for every sector in Tongzhou."),
    "incentives.xiongan": ("Incentive: Xiong'an", "intensity (1 = standard package; 2 as reported)",
                           "Incentives for every sector in Xiong'an and its ZGC park."),
    "business_environment": ("Business environment reforms", "share of the programme done (1 = all; 2 removes friction)",
                             "Lower cross-border friction between the three provinces."),
    "basic_research": ("Basic research cooperation", "intensity (1 = the 2021 agreement)",
                       "More technology transfer from Beijing."),
    "innovation_community": ("Coordinated innovation community", "intensity (1 = the 2023 decision)",
                             "More branching and technology transfer."),
    "hebei_hightech": ("Hebei's own high-tech upgrading", "intensity (1 = as reported)",
                       "Hebei firms becoming high-tech."),
    "hebei_decapacity": ("Hebei steel de-capacity", "Mt of steel capacity cut per year",
                         "Closures of heavy industry in Hebei, no new capacity while in force."),
    "rail.speedup": ("Rail speed-up, every link", "share of in-train time saved (below 0.9)",
                     "Faster services on every fast rail link to Beijing."),
}
GROUPS = (
    ("Beijing", ("closure_campaign", "negative_list", "relocation_push")),
    ("Matching and incentives", ("matching", "incentives.")),
    ("Reforms and innovation", ("business_environment", "basic_research", "innovation_community")),
    ("Hebei's industrial policy", ("hebei_hightech", "hebei_decapacity")),
    ("Rail", ("rail.",)),
)
PLACE_TOKENS = {"all": "everywhere", "parks": "every park", "regions": "every region",
                "beijing": "all Beijing", "tianjin": "all Tianjin", "hebei": "all Hebei",
                "parks:beijing": "Beijing's parks", "parks:tianjin": "Tianjin's parks", "parks:hebei": "Hebei's parks"}


@dataclass(frozen=True)
class Lever:
    """A lever of the scenario as a control: its key under ``policy``, title, unit, help, the scenario's
    schedule, its places (None: it has none) and whether it is a rail share."""

    key: str  # dotted path under policy: "incentives.xiongan", "rail.speedup"
    title: str
    unit: str
    help: str
    schedule: tuple[tuple[str, float], ...]  # (from, value) as the scenario has it
    places: tuple[str, ...] | None  # None: the lever has no places
    share: bool = False  # a rail share (below 0.9)

    @property
    def control(self) -> str:
        """The control's key, ``policy.<key>`` (the prefix of the lever's config fields)."""
        return f"policy.{self.key}"

    def value_at(self, date: str) -> float:
        """The scenario's value in force in the quarter of ``date`` (0 before the first entry)."""
        q = quarter_of(date, self.control)
        v = 0.0
        for d, x in self.schedule:
            if quarter_of(d, self.control) <= q:
                v = x
        return v

    def schedule_text(self) -> str:
        """The scenario's schedule in words (``2014-01: 1, 2026-01: 2``), or ``off (no schedule)``."""
        if not self.schedule:
            return "off (no schedule)"
        return ", ".join(f"{d}: {fmt_number(v)}" for d, v in self.schedule)


def fmt_number(x: float) -> str:
    """``x`` as short text (``%g``; inf and nan as Python writes them)."""
    return f"{x:g}" if math.isfinite(x) else str(x)


def _schedule(node) -> tuple[tuple[str, float], ...]:
    out = []
    for e in node or []:
        try:
            out.append((str(e["from"]), float(e["value"])))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(out)


def _places(node) -> tuple[str, ...] | None:
    if node is None or "places" not in node:
        return None
    p = node["places"]
    return (str(p),) if isinstance(p, str) else tuple(str(x) for x in p or [])


def levers_of(policy: dict) -> list[Lever]:
    """Every lever of a composed ``cfg.policy`` (as a plain dict), in LEVER_INFO order."""
    found: list[Lever] = []

    def add(key, node, share=False):
        title, unit, help_ = LEVER_INFO.get(key, (key.replace("_", " ").replace(".", ": "), "intensity", ""))
        if key.startswith("rail.speedups."):
            title = f"Rail speed-up: {key.split('.', 2)[2]} ({node.get('region')})"
            unit, help_ = "share of in-train time saved (below 0.9)", "Faster services on this region's links."
        found.append(Lever(key, title, unit, help_, _schedule(node.get("schedule")), _places(node), share))

    for name, node in policy.items():
        if name == "incentives":
            for inc, entry in (node or {}).items():
                if isinstance(entry, dict):
                    add(f"incentives.{inc}", entry)
        elif name == "rail":
            node = node or {}
            if isinstance(node.get("speedup"), dict):
                add("rail.speedup", node["speedup"], share=True)
            for sp, entry in (node.get("speedups") or {}).items():
                if isinstance(entry, dict):
                    add(f"rail.speedups.{sp}", entry, share=True)
        elif isinstance(node, dict) and "schedule" in node:
            add(name, node)
    order = list(LEVER_INFO)
    found.sort(key=lambda lv: (order.index(lv.key) if lv.key in order else len(order), lv.key))
    return found


def grouped(levers: list[Lever]) -> list[tuple[str, list[Lever]]]:
    """The levers under the titles of GROUPS, in that order (a group only when it has levers), then the
    rest as "Other levers"."""
    out, used = [], set()
    for title, prefixes in GROUPS:
        mine = [lv for lv in levers if lv.key not in used and any(
            lv.key == p or (p.endswith(".") and lv.key.startswith(p)) for p in prefixes)]
        used |= {lv.key for lv in mine}
        if mine:
            out.append((title, mine))
    rest = [lv for lv in levers if lv.key not in used]
    if rest:
        out.append(("Other levers", rest))
    return out


# ---------------------------------------------------------------------------- places
@lru_cache(maxsize=1)
def place_table() -> tuple[tuple[str, str, bool, str], ...]:
    """(id, name, is_park, province) of every region and park."""
    p = load_places(load_sectors())
    return tuple((pid, p.names[i], bool(p.is_park[i]), PROVINCES[int(p.province[i])]) for i, pid in enumerate(p.ids))


def place_options(extra=()) -> list[dict]:
    """Items for a place multi-select: {"text"/"title": shown, "value": id or group token}."""
    items = [select_item(f"{label} [{tok}]", tok) for tok, label in PLACE_TOKENS.items()]
    for pid, name, _is_park, _prov in place_table():
        items.append(select_item(f"{name} [{pid}]", pid))
    known = {i["value"] for i in items}
    items += [select_item(str(x), str(x)) for x in extra if str(x) not in known]
    return items


def select_item(text: str, value: str) -> dict:
    """A select item for Vuetify 2 ("text") and 3 ("title")."""
    return {"text": text, "title": text, "value": value}


@lru_cache(maxsize=1)
def rail_regions() -> tuple[tuple[str, str], ...]:
    """(id, name) of the regions with a fast rail link to Beijing (those a speed-up can apply to)."""
    with_links = {lk.region for lk in load_rail_links()}
    return tuple((pid, name) for pid, name, is_park, _ in place_table() if not is_park and pid in with_links)


# ---------------------------------------------------------------------------- control state
def initial_controls(levers: list[Lever], date: str = DEFAULT_FROM) -> dict[str, dict]:
    """{lever key: {"value": text, "from": text, "places": [..] or None}}: the scenario's own."""
    return {lv.key: {"value": fmt_number(lv.value_at(date)), "from": date,
                     "places": list(lv.places) if lv.places is not None else None} for lv in levers}


@dataclass(frozen=True)
class RunSettings:
    """The run settings as typed in their boxes (text): population scale, seeds, end year."""

    scale: str = "0.1"
    seeds: str = "3"
    end_year: str = "2035"


_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def check_date(text: str) -> tuple[str | None, str | None]:
    """(normalised YYYY-MM, None) or (None, message)."""
    m = _DATE.match(str(text or ""))
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None, f"'{text}' is not a date of the form YYYY-MM"
    y, mo = int(m.group(1)), int(m.group(2))
    if not START_YEAR <= y <= MAX_END_YEAR:
        return None, f"{text}: the model runs from {START_YEAR}-01 to {MAX_END_YEAR}-12"
    return f"{y:04d}-{mo:02d}", None


def check_number(text: str) -> tuple[float | None, str | None]:
    """(number, None) for a text that is a finite number, else (None, message)."""
    try:
        x = float(str(text).strip())
    except ValueError:
        return None, f"'{text}' is not a number"
    if not math.isfinite(x):
        return None, f"must be finite, got {text}"
    return x, None


def _quote(s: str) -> str:
    return "'" + str(s).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _entry(date: str, value: float) -> str:
    return f"{{from: {_quote(date)}, value: {value!r}}}"


@dataclass
class Edits:
    """What the controls ask for: overrides (empty when nothing changed), the settings, and
    errors by control key (nothing runs while there are any)."""

    overrides: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # human-readable, one per changed control
    errors: dict[str, str] = field(default_factory=dict)
    scale: float | None = None
    seeds: int | None = None
    end_year: int | None = None

    @property
    def ok(self) -> bool:
        """True when no control has an error (the run may start)."""
        return not self.errors


def build_edits(levers: list[Lever], initial: dict, controls: dict, rail_rows: list[dict],
                settings: RunSettings, max_seeds: int = 50) -> Edits:
    """Check the controls and turn the changed ones into overrides."""
    ed = Edits()
    for lv in levers:
        now, was = controls.get(lv.key) or initial[lv.key], initial[lv.key]
        if (str(now["value"]).strip(), str(now["from"]).strip()) != (str(was["value"]).strip(), str(was["from"]).strip()):
            value, err = check_number(now["value"])
            date, derr = check_date(now["from"])
            if err or derr:
                ed.errors[lv.key] = "; ".join(e for e in (err and f"value: {err}", derr and f"from: {derr}") if e)
            else:
                if value < 0:
                    ed.errors[lv.key] = f"value: must be >= 0, got {now['value']}"
                elif lv.share and value >= RAIL_SHARE_MAX:
                    ed.errors[lv.key] = f"value: a share of in-train time saved must be below {RAIL_SHARE_MAX}"
                else:
                    ed.overrides.append(f"policy.{lv.key}.from=[{_entry(date, value)}]")
                    ed.changed.append(f"{lv.title}: {fmt_number(value)} from {date}")
        if lv.places is not None and now.get("places") is not None and list(now["places"]) != list(was["places"]):
            places = list(now["places"])
            ed.overrides.append(f"policy.{lv.key}.places=[{', '.join(_quote(p) for p in places)}]")
            ed.changed.append(f"{lv.title}: places {', '.join(places) or '(none)'}")
    for i, row in enumerate(rail_rows or []):
        region = str(row.get("region") or "")
        value, err = check_number(row.get("value", ""))
        date, derr = check_date(row.get("from", ""))
        known = {r for r, _ in rail_regions()}
        msgs = [m for m in (region not in known and f"region: choose one of {', '.join(sorted(known))}",
                            err and f"share: {err}", derr and f"from: {derr}") if m]
        if not msgs and not 0 <= value < RAIL_SHARE_MAX:
            msgs.append(f"share: must be at least 0 and below {RAIL_SHARE_MAX}, got {row.get('value')}")
        if msgs:
            ed.errors[f"{RAIL_ROWS}[{i}]"] = "; ".join(msgs)
            continue
        name = f"dash{i + 1}_{region}"
        ed.overrides.append(f"+policy.rail.speedups.{name}={{region: {region}, schedule: [{_entry(date, value)}]}}")
        ed.changed.append(f"Rail speed-up {region}: {fmt_number(value)} from {date}")
    scale, err = check_number(settings.scale)
    if err:
        ed.errors[SCALE] = err
    else:
        ed.scale = scale
    try:
        seeds = int(str(settings.seeds).strip())
        if not 1 <= seeds <= max_seeds:
            raise ValueError
        ed.seeds = seeds
    except ValueError:
        ed.errors[SEEDS] = f"a whole number from 1 to {max_seeds}, got '{settings.seeds}'"
    try:
        end = int(str(settings.end_year).strip())
        if not START_YEAR <= end <= MAX_END_YEAR:
            raise ValueError
        ed.end_year = end
    except ValueError:
        ed.errors[END_YEAR] = f"a year from {START_YEAR} to {MAX_END_YEAR}, got '{settings.end_year}'"
    return ed


def control_for_field(fld: str, levers: list[Lever]) -> str:
    """The control a ConfigError's field belongs to (GENERAL if none)."""
    fld = str(fld)
    if fld in FIELD_CONTROLS:
        return FIELD_CONTROLS[fld]
    m = re.match(r"policy\.rail\.speedups\.dash(\d+)_", fld)
    if m:
        return f"{RAIL_ROWS}[{int(m.group(1)) - 1}]"
    best = ""
    for lv in levers:
        c = lv.control
        if (fld == c or fld.startswith(c + ".") or fld.startswith(c + "[")) and len(lv.key) > len(best):
            best = lv.key
    return best or GENERAL


def place_error(err: ConfigError, levers: list[Lever]) -> tuple[str, str]:
    """(control key, message) of a ConfigError from composing the what-if."""
    return control_for_field(err.field, levers), f"{err.field}: {err.message}"

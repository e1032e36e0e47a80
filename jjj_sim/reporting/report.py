"""The scenario-comparison report: ``report.html`` (self-contained, images embedded) and ``report.md``.

    from jjj_sim.reporting.report import write_report
    from jjj_sim.reporting.words import label
    write_report(out, levels=levels, diffs=diffs, scenarios=[{"name": "baseline", "description": "..."}, ...],
                 images={"Map: firms attracted": out / "plots" / "map.png"}, meta={...})

Both files are rendered from the same context by the Jinja2 templates in ``jjj_sim/templates``
(``report.html.j2``, autoescaped; ``report.md.j2``), so they carry the same tables. The words and
number formats (``label``, ``fmt_value``, ``fmt_diff``) are in ``reporting/words.py``.
"""

from __future__ import annotations

import base64
import os
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from jjj_sim.reporting.words import (
    FULL_WORD,
    HEADLINE,
    NO_FILL,
    NO_LIMIT,
    NS_LEGEND,
    PROVINCE_INDICATORS,
    PROVINCE_NAMES,
    ci_contains_zero,
    fmt_capacity,
    fmt_diff,
    fmt_fill,
    fmt_plain,
    fmt_range,
    fmt_seconds,
    fmt_signed,
    fmt_value,
    has_limit,
    is_full,
    label,
    missing,
    place_name,
    places,
)
from jjj_sim.runner import park_record as record
from jjj_sim.runner.ensembles import mean_summary

EXTRA_YEARS = (2025, 2030)  # reported as well when before the end year


# ---------------------------------------------------------------------------- table model
def _cell(text: str, cls: str = "num") -> dict:
    return {"text": text, "cls": cls}


def _col(text: str, group: str = "", num: bool = True) -> dict:
    return {"text": text, "group": group, "num": num}


def _table(columns: list[dict], rows: list[dict], caption: str = "", notes: list[str] | None = None) -> dict:
    """columns: [{"text", "group", "num"}]; rows: {"cells": [{"text", "cls"}]} or {"group": str}.
    ``header_groups`` (HTML) merges consecutive equal groups into one spanning header cell;
    ``md_header`` joins group and column for the one-line Markdown header."""
    groups = []
    for c in columns:
        if groups and groups[-1]["text"] == c["group"]:
            groups[-1]["span"] += 1
        else:
            groups.append({"text": c["group"], "span": 1})
    return {"caption": caption, "columns": columns, "rows": rows, "notes": notes or [],
            "header_groups": groups if any(c["group"] for c in columns) else [],
            "md_header": [f"{c['group']}: {c['text']}" if c["group"] else c["text"] for c in columns]}


class _Data:
    """Fast lookups into the levels and diffs frames."""

    def __init__(self, levels: pd.DataFrame, diffs: pd.DataFrame, ref: str):
        self.ref = ref
        self.levels = {(s, i, int(y)): float(m) for s, i, y, m in
                       zip(levels["scenario"], levels["indicator"], levels["year"], levels["mean"])}
        self.diffs = {}
        if len(diffs):
            cols = [diffs[c] for c in ("scenario", "indicator", "year", "mean_diff", "ci90_low", "ci90_high",
                                       "seed_p05", "seed_p95")]
            for s, i, y, m, lo, hi, p05, p95 in zip(*cols):
                self.diffs[(s, i, int(y))] = (float(m), float(lo), float(hi), float(p05), float(p95))
        self.indicators = set(levels["indicator"]) | (set(diffs["indicator"]) if len(diffs) else set())
        self.years = sorted({int(y) for y in levels["year"]})

    def level(self, scenario: str, ind: str, year: int) -> float:
        """Mean level of ``ind`` in ``scenario`` at the end of ``year`` (nan if absent)."""
        return self.levels.get((scenario, ind, year), float("nan"))

    def diff(self, scenario: str, ind: str, year: int) -> tuple:
        """(mean_diff, ci90_low, ci90_high, seed_p05, seed_p95) from the reference (nans if absent)."""
        return self.diffs.get((scenario, ind, year), (float("nan"),) * 5)

    def value_cell(self, scenario: str, ind: str, year: int, unit: str) -> dict:
        """A table cell with the level, formatted for ``unit``."""
        return _cell(fmt_value(self.level(scenario, ind, year), unit))

    def diff_cell(self, scenario: str, ind: str, year: int, unit: str) -> dict:
        """A table cell with the difference and its 90% CI (class "ns" if the CI contains 0)."""
        m, lo, hi, _p05, _p95 = self.diff(scenario, ind, year)
        return _cell(fmt_diff(m, lo, hi, unit), "num ns" if ci_contains_zero(lo, hi) else "num")


def _fill_cell(fill: float, limited: bool = True, full: bool | None = None) -> dict:
    full = is_full(fill) if full is None else full
    return _cell(fmt_fill(fill, limited, full), "num full" if limited and full else "num")


# ---------------------------------------------------------------------------- sections
def _differs(data: _Data, others: list[str], inds: list[str], year: int) -> bool:
    """Whether any scenario differs from the reference in any of ``inds`` at ``year``."""
    for s in others:
        for ind in inds:
            d = data.diff(s, ind, year)
            if any(not missing(x) and float(x) != 0.0 for x in d):
                return True
    return False


def _headline_tables(data: _Data, ref: str, others: list[str], years: list[int]) -> list[dict]:
    """One table per year; years before the scenarios first differ are left out (their levers
    are the same until then, so every difference is 0), with a note."""
    rows_ind = [i for i in HEADLINE if i in data.indicators]
    same = [y for y in years if others and not _differs(data, others, rows_ind, y)]
    shown = [y for y in years if y not in same] or years[-1:]
    out = []
    for y in shown:
        cols = [_col("Indicator", num=False), _col("Unit", num=False), _col("level", f"{ref} (reference)")]
        for s in others:
            cols += [_col("level", s), _col(f"difference from {ref}", s)]
        rows = []
        for ind in rows_ind:
            title, unit = label(ind)
            cells = [_cell(title, "text"), _cell(unit, "text"), data.value_cell(ref, ind, y, unit)]
            for s in others:
                cells += [data.value_cell(s, ind, y, unit), data.diff_cell(s, ind, y, unit)]
            rows.append({"cells": cells})
        out.append(_table(cols, rows, caption=f"Headline indicators, end of {y}"))
    dropped = [y for y in same if y < shown[0]]
    if dropped:
        out[0]["notes"] = [f"At the end of {', '.join(map(str, dropped))} the scenarios do not differ in these "
                           f"indicators (their levers are the same until then): not shown."] + out[0]["notes"]
    return out


def _seed_range_table(data: _Data, ref: str, others: list[str], year: int) -> dict:
    cols = [_col("Indicator", num=False), _col("Unit", num=False)]
    cols += [_col(f"{s} minus {ref}: 5-95% of seeds") for s in others]
    rows = []
    for ind in (i for i in HEADLINE if i in data.indicators):
        title, unit = label(ind)
        cells = [_cell(title, "text"), _cell(unit, "text")]
        for s in others:
            _m, _lo, _hi, p05, p95 = data.diff(s, ind, year)
            cells.append(_cell(fmt_range(p05, p95, unit)))
        rows.append({"cells": cells})
    return _table(cols, rows, caption=f"Spread of the per-seed differences, end of {year}")


def _posterior_table(data: _Data, post: pd.DataFrame | None, ref: str, others: list[str], year: int) -> dict | None:
    """Headline differences with seed noise only (the fitted point) beside the posterior ensemble's
    (parameters and seeds), and the share of the spread that comes from the parameters."""
    if post is None or not len(post):
        return None
    idx = {(s, i, int(y)): r for s, i, y, r in zip(post["scenario"], post["indicator"], post["year"],
                                                    post.itertuples(index=False))}
    cols = [_col("Indicator", num=False), _col("Unit", num=False),
            _col("difference [90% CI]", "seeds only (fitted point)"), _col("5-95% of runs", "seeds only (fitted point)"),
            _col("mean difference", "posterior draws x seeds"), _col("5-95% of runs", "posterior draws x seeds"),
            _col("share of variance from parameters", "posterior draws x seeds")]
    rows = []
    for s in others:
        rows.append({"group": f"{s} minus {ref}, end of {year}"})
        for ind in (i for i in HEADLINE if i in data.indicators):
            title, unit = label(ind)
            m, lo, hi, p05, p95 = data.diff(s, ind, year)
            r = idx.get((s, ind, year))
            share = "n/a" if r is None or missing(r.param_share) else f"{100 * r.param_share:.0f}%"
            rows.append({"cells": [
                _cell(title, "text"), _cell(unit, "text"),
                _cell(fmt_diff(m, lo, hi, unit), "num ns" if ci_contains_zero(lo, hi) else "num"),
                _cell(fmt_range(p05, p95, unit)),
                _cell("n/a" if r is None else fmt_signed(r.post_mean_diff, unit)),
                _cell("n/a" if r is None else fmt_range(r.post_p05, r.post_p95, unit)),
                _cell(share)]})
    n = post[["n_draws", "n_seeds"]].iloc[0]
    return _table(cols, rows, caption=f"Parameter uncertainty: {int(n.n_draws)} posterior draws x {int(n.n_seeds)} seeds",
                  notes=["A posterior difference pairs each scenario's run with the reference's run at the same "
                         "draw and seed. Its 5-95% range covers parameters and seeds together; the share of "
                         "variance from parameters is the between-draw variance (net of seed noise) over the total."])


def _province_table(data: _Data, ref: str, others: list[str], years: list[int]) -> dict | None:
    present = [(k, ind) for k, ind in enumerate(PROVINCE_INDICATORS) if ind in data.indicators]
    if not present:
        return None
    cols = [_col("Province", num=False), _col("Year", num=False), _col("level", f"{ref} (reference)")]
    for s in others:
        cols += [_col("level", s), _col(f"difference from {ref}", s)]
    rows = []
    for k, ind in present:
        unit = label(ind)[1]
        for y in years:
            cells = [_cell(PROVINCE_NAMES[k], "text"), _cell(str(y), "text"), data.value_cell(ref, ind, y, unit)]
            for s in others:
                cells += [data.value_cell(s, ind, y, unit), data.diff_cell(s, ind, y, unit)]
            rows.append({"cells": cells})
    return _table(cols, rows, caption=f"{label(present[0][1])[1].capitalize()} by province (mean over seeds)")


def _by_province(ids: list[str], known: dict):
    """(province name, its places among ``ids`` in their order) for each province that has any,
    in PROVINCE_NAMES order; ``known``: ``places()``."""
    for k, prov in enumerate(PROVINCE_NAMES):
        mine = [pid for pid in ids if known[pid]["province"] == k]
        if mine:
            yield prov, mine


def _region_table(data: _Data, ref: str, others: list[str], year: int) -> dict | None:
    known = places()
    regions = [pid for pid, p in known.items() if not p["is_park"]
               and (f"region_firms:{pid}" in data.indicators or f"region_firms_from_outside:{pid}" in data.indicators)]
    if not regions:
        return None
    cols = [_col("Region", num=False), _col("firms", f"{ref} (reference)"),
            _col("firms attracted", f"{ref} (reference)")]
    for s in others:
        cols += [_col("difference: firms", s), _col("difference: firms attracted", s)]
    rows = []
    for prov, mine in _by_province(regions, known):
        rows.append({"group": prov})
        for pid in mine:
            a, b = f"region_firms:{pid}", f"region_firms_from_outside:{pid}"
            cells = [_cell(known[pid]["name"], "text"), data.value_cell(ref, a, year, "firms"),
                     data.value_cell(ref, b, year, "firms")]
            for s in others:
                cells += [data.diff_cell(s, a, year, "firms"), data.diff_cell(s, b, year, "firms")]
            rows.append({"cells": cells})
    return _table(cols, rows, caption=f"Regions, end of {year} (firms: legal units and branches, parks included; "
                                      "firms attracted: of which from another province)")


def _park_capacity(data: _Data, scenario: str, pid: str, year: int) -> float:
    """The park's capacity in a scenario: its ``park_capacity`` level, else the package data's
    (inf: no physical limit)."""
    cap = data.level(scenario, f"park_capacity:{pid}", year)
    return places()[pid]["capacity"] if missing(cap) else cap


def _park_fill(data: _Data, scenario: str, pid: str, year: int) -> float:
    fill = data.level(scenario, f"park_fill_pct:{pid}", year)
    if missing(fill):
        firms = data.level(scenario, f"park_firms:{pid}", year)
        cap = _park_capacity(data, scenario, pid, year)
        if not missing(firms) and has_limit(cap) and cap > 0:
            fill = 100.0 * firms / cap
    return fill


def _park_table(data: _Data, ref: str, others: list[str], year: int) -> tuple[dict | None, list[str], bool]:
    """The parks table, the names of parks full in some scenario, and whether any fill is known."""
    known = places()
    prefixes = ("park_firms:", "park_firms_from_bjtj:", "park_fill_pct:", "park_overflow_to_region:")
    parks = [pid for pid, p in known.items() if p["is_park"] and any(f"{x}{pid}" in data.indicators for x in prefixes)]
    if not parks:
        return None, [], False
    cols = [_col("Park", num=False), _col("Region", num=False), _col("capacity (slots)", f"{ref} (reference)"),
            _col("firms", f"{ref} (reference)"), _col("fill (% of capacity)", f"{ref} (reference)"),
            _col("firms from Beijing/Tianjin", f"{ref} (reference)"),
            _col("overflow to region (since 2014)", f"{ref} (reference)")]
    for s in others:
        cols += [_col("difference: firms from Beijing/Tianjin", s), _col("fill (% of capacity)", s)]
    rows, full, fill_known = [], [], False
    for prov, mine in _by_province(parks, known):
        rows.append({"group": prov})
        for pid in mine:
            cap = _park_capacity(data, ref, pid, year)
            scen = [ref, *others]
            limited = {s: has_limit(_park_capacity(data, s, pid, year)) for s in scen}
            fills = {s: _park_fill(data, s, pid, year) for s in scen}
            overflow = {s: data.level(s, f"park_overflow_to_region:{pid}", year) for s in scen}
            fulls = {s: is_full(fills[s] if limited[s] else None, overflow[s]) for s in scen}
            name = known[pid]["name"]
            fill_known |= any(limited[s] and not missing(fills[s]) for s in scen)
            if any(fulls.values()):
                full.append(name)
            cells = [_cell(name, "text"), _cell(place_name(known[pid]["region"]), "text"),
                     _cell(fmt_capacity(cap)), data.value_cell(ref, f"park_firms:{pid}", year, "firms"),
                     _fill_cell(fills[ref], limited[ref], fulls[ref]),
                     data.value_cell(ref, f"park_firms_from_bjtj:{pid}", year, "firms"),
                     data.value_cell(ref, f"park_overflow_to_region:{pid}", year, "firms")]
            for s in others:
                cells += [data.diff_cell(s, f"park_firms_from_bjtj:{pid}", year, "firms"),
                          _fill_cell(fills[s], limited[s], fulls[s])]
            rows.append({"cells": cells})
    notes = [f"{FULL_WORD}: the park reached its capacity by the end of {year}: it sent choosers to its region "
             "(overflow above 0: firms that would have chosen it settled in the park's region instead) or its "
             "firms are at or above capacity (mean over seeds). At a small population scale the park holds "
             "floor(capacity x scale) simulated firms, so a full park can show under 100%.",
             f"{NO_LIMIT}: the record states no physical limit for the park, so it has no capacity and is never "
             f"full (fill {NO_FILL})."]
    return _table(cols, rows, caption=f"Parks, end of {year}", notes=notes), full, fill_known


# ---------------------------------------------------------------------------- the park record
FIELD_WORDS = {"firms": "firms in the park (all origins)", "firms_from_beijing": "firms from Beijing",
               "firms_from_bjtj": "firms from Beijing or Tianjin"}
_SOURCE_PATH = r"(?:shared|reference|docs)/[\w./-]*\.md"


def source_text(source: str) -> str:
    """A park figure's source as text: references to notes outside the project (a
    ``shared/reference/*.md`` path) are left out, keeping what they cite."""
    s = re.sub(rf"\s*\(\s*{_SOURCE_PATH}\s*\)", "", str(source))
    s = re.sub(rf"{_SOURCE_PATH}\s*\(([^()]*)\)", r"\1", s)
    s = re.sub(rf";?\s*{_SOURCE_PATH}", "", s)
    return re.sub(r"\s{2,}", " ", s).strip(" ;")


def within_text(row: dict, end_year: int | None) -> str:
    """yes / no for a simulated value, "run ends before YEAR" past the run's end, else n/a."""
    if row["within"] is not None:
        return "yes" if row["within"] else "no"
    if end_year is not None and int(row["year"]) > int(end_year):
        return f"run ends before {row['year']}"
    return "n/a"


def park_record(mean: dict, end_year: int | None, low: dict | None = None, high: dict | None = None) -> list[dict]:
    """The record beside the model, ready to show: ``park_record.rows`` of ``mean`` (a
    summary.json-shaped ``parks`` mapping: one run, or the means over runs) with each column as
    text, and the raw values. ``low``/``high``: the same mapping for the 5th and 95th
    percentiles over seeds (the "90% of seeds" column; empty without them). ``end_year``: the
    run's last year (figures after it: "run ends before YEAR")."""
    known = places()
    figures = {f.id: f for f in record.load()}
    out = []
    for r in record.rows(mean):
        f = figures[r["id"]]
        lo = f.simulated((low or {}).get(f.park, {})) if low is not None else None
        hi = f.simulated((high or {}).get(f.park, {})) if high is not None else None
        name = known[r["park"]]["name"] if r["park"] in known else r["name"]
        out.append({**r, "name": name, "p05": lo, "p95": hi,
                    "text": {"park": name, "reported": r["reported"], "definition": r["definition"],
                             "as_of": r["as_of"], "measure": f"{FIELD_WORDS[r['field']]}, end of {r['year']}",
                             "range": f"{fmt_value(r['low'], 'firms')}\u2013{fmt_value(r['high'], 'firms')}",
                             "simulated": fmt_value(r["simulated"], "firms") if r["simulated"] is not None
                             else ("\u2014" if within_text(r, end_year).startswith("run ends") else "n/a"),
                             "seeds": (f"{fmt_value(lo, 'firms')}\u2013{fmt_value(hi, 'firms')}"
                                       if lo is not None and hi is not None else ""),
                             "within": within_text(r, end_year), "use": r["use"],
                             "source": source_text(r["source"])}})
    return out


RECORD_NOTES = [
    "A reported figure counts something else than the model's park rows (registered firms with local founders, "
    "projects, firms signed): each row says which model field it is compared with at the end of which year, and "
    "the range of that field the figure supports (its mapping is in jjj_sim/data/park_record.csv). "
    "Use: target ID, fitted by the calibration (calibration/targets.yaml holds the same range); reference, "
    "before 2021 and not fitted; check after 2020, released after the fitted period and not tuned to.",
]


def _record_table(levels: pd.DataFrame, ref: str, end_year: int) -> dict | None:
    """The record beside the model for the reference scenario: means and 5-95% over seeds."""
    if not len(levels) or not levels.indicator.astype(str).str.startswith("park_").any():
        return None
    stats = [c for c in ("p05", "p95") if c in levels.columns]
    mean = mean_summary(levels, ref)["parks"]
    lo = mean_summary(levels, ref, "p05")["parks"] if len(stats) == 2 else None
    hi = mean_summary(levels, ref, "p95")["parks"] if len(stats) == 2 else None
    cols = [_col("Park", num=False), _col("reported figure", num=False), _col("definition", num=False),
            _col("as of", num=False), _col("model field & year", num=False), _col("range the figure supports"),
            _col(f"simulated (mean, {ref})"), _col("90% of seeds"), _col("within range", num=False),
            _col("use", num=False), _col("source", num=False)]
    rows = []
    for r in park_record(mean, end_year, lo, hi):
        t = r["text"]
        cls = {"yes": "text within", "no": "text outside"}.get(t["within"], "text")
        rows.append({"cells": [_cell(t["park"], "text"), _cell(t["reported"], "text"),
                               _cell(t["definition"], "text"), _cell(t["as_of"], "text"),
                               _cell(t["measure"], "text"), _cell(t["range"]), _cell(t["simulated"]),
                               _cell(t["seeds"] or "n/a"), _cell(t["within"], cls), _cell(t["use"], "text"),
                               _cell(t["source"], "text small")]})
    return _table(cols, rows, caption="Parks: the record beside the model", notes=RECORD_NOTES)


def _image(title: str, path: Path, out: Path) -> dict:
    path = Path(path)
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
            ".svg": "image/svg+xml"}.get(path.suffix.lower(), "image/png")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    try:
        rel = path.resolve().relative_to(Path(out).resolve()).as_posix()
    except ValueError:
        rel = Path(os.path.relpath(path.resolve(), Path(out).resolve())).as_posix()
    return {"title": title, "data_uri": f"data:{mime};base64,{data}", "href": rel}


# ---------------------------------------------------------------------------- templates
def md_escape(s) -> str:
    """Text for a Markdown table cell or paragraph: characters that Markdown would read as
    markup (a raw-HTML tag, code, emphasis, a cell border, a heading or quote at the start)
    are backslash-escaped; line breaks become spaces."""
    s = str(s).replace("\r", " ").replace("\n", " ")
    for ch in "\\`*<|":
        s = s.replace(ch, "\\" + ch)
    return "\\" + s if s[:1] in ("#", ">") else s


def _md_align(columns: list[dict]) -> str:
    return "|" + "|".join("---:" if c["num"] else "---" for c in columns) + "|"


@lru_cache(maxsize=2)
def _env(kind: str) -> Environment:
    if kind == "html":
        env = Environment(loader=PackageLoader("jjj_sim", "templates"),
                          autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    else:
        env = Environment(loader=PackageLoader("jjj_sim", "templates"), autoescape=False,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        env.filters["md"] = md_escape
        env.filters["md_align"] = _md_align
    return env


def _population_text(scale) -> str:
    """What the population scale means, in words."""
    try:
        x = float(scale)
    except (TypeError, ValueError):
        return ""
    if x == 1:
        return "Every firm of the region is simulated."
    if x < 1:
        return f"A {x * 100:.3g}% sample of the region's firms is simulated; every figure is scaled to real firms."
    return f"The region's firms are simulated {x:g} times over; every figure is scaled back to real firms."


def build_context(out: Path, *, levels: pd.DataFrame, diffs: pd.DataFrame, scenarios: list[dict],
                  images: dict[str, Path], meta: dict, posterior: pd.DataFrame | None = None) -> dict:
    """Everything the templates show, already formatted (strings)."""
    if not scenarios:
        raise ValueError("scenarios: at least the reference scenario is needed")
    names = [str(s["name"]) for s in scenarios]
    ref, others = names[0], names[1:]
    data = _Data(levels, diffs, ref)
    end = int(meta["end_year"])
    years = sorted({end, *[y for y in EXTRA_YEARS if y < end]} & set(data.years)) or [end]
    table_year = end if end in data.years or not data.years else max(data.years)

    overrides = [str(o) for o in meta.get("overrides") or []]
    seed_values = [str(v) for v in meta.get("seed_values") or []]
    run = {
        "n_scenarios": len(names), "scenario_names": names, "ref": ref, "others": others,
        "seeds": meta.get("seeds", len(seed_values)), "seed_values": seed_values,
        "scale": fmt_plain(meta.get("scale", "n/a")), "start": meta.get("start", "n/a"), "end_year": end,
        "runs": f"{int(meta['runs']):,}" if "runs" in meta else "n/a",
        "seconds": fmt_seconds(meta["seconds"]) if "seconds" in meta else "n/a",
        "version": str(meta.get("version", "n/a")), "overrides": overrides,
        "uncertainty": str(meta.get("uncertainty") or meta.get("uncertainty_note") or ""),
        "master_seed": meta.get("master_seed"), "population": _population_text(meta.get("scale")),
    }
    parks, full_parks, fill_known = _park_table(data, ref, others, table_year)
    record = _record_table(levels, ref, max(data.years) if data.years else end)
    return {
        "title": "Scenario comparison",
        "run": run,
        "scenarios": [{"name": str(s["name"]), "description": str(s.get("description") or ""),
                       "reference": i == 0} for i, s in enumerate(scenarios)],
        "ns_legend": NS_LEGEND,
        "headline": _headline_tables(data, ref, others, years),
        "seed_ranges": _seed_range_table(data, ref, others, table_year) if others else None,
        "posterior": _posterior_table(data, posterior, ref, others, table_year) if others else None,
        "posterior_note": _posterior_note(meta),
        "provinces": _province_table(data, ref, others, years),
        "regions": _region_table(data, ref, others, table_year),
        "parks": parks,
        "full_parks": full_parks,
        "park_record": record,
        "fill_known": fill_known,
        "table_year": table_year,
        "images": [_image(t, p, out) for t, p in images.items()],
    }


def _posterior_note(meta: dict) -> str:
    p = meta.get("posterior")
    if not p:
        return ""
    if p.get("method") == "laplace-smc":
        made = (f"the calibration's posterior, tempered by sequential Monte Carlo from a Gaussian (Laplace) "
                f"approximation around the point fit ({p['file']}: {p['particles']} particles)")
    elif p.get("method") == "laplace":
        made = (f"the Gaussian (Laplace) approximation around the point fit, importance-weighted by runs "
                f"({p['file']}: {p['particles']} particles)")
    else:
        eps = p.get("epsilons") or []
        made = (f"the calibration's ABC-SMC posterior ({p['file']}: {p['particles']} particles of generation "
                f"{p.get('generations', 'n/a')}" + (f", acceptance threshold {eps[-1]:.3g}" if eps else "") + ")")
    return (f"Parameter draws: {meta.get('draws')} draws from {made}, each draw a particle picked with "
            "probability equal to its weight; every scenario runs every draw on the same seeds.")


def write_report(out: Path, *, levels: pd.DataFrame, diffs: pd.DataFrame, scenarios: list[dict],
                 images: dict[str, Path], meta: dict, posterior: pd.DataFrame | None = None) -> None:
    """Write ``out/report.html`` (self-contained: images embedded as data URIs, inline style)
    and ``out/report.md`` (images linked relative to ``out``), with the same content.

    levels: scenario, indicator, year, mean, p05, p95 (over seeds); diffs: scenario, indicator,
    year, n_seeds, mean_diff, ci90_low, ci90_high, seed_p05, seed_p95 (paired, from the first
    scenario); scenarios: [{"name", "description"}], the first is the reference; images: title ->
    image file (PNG, JPEG, GIF or SVG), in display order; meta: end_year (required), seeds,
    seed_values, scale, start, runs, seconds, version, overrides, master_seed, optionally
    uncertainty (a note shown with the reading guide) and, for posterior draws, draws and
    posterior ({file, particles, generations, epsilons}); posterior:
    ``ensembles.posterior_differences`` of runs at posterior draws (None: no parameter table).
    """
    out = Path(out)
    ctx = build_context(out, levels=levels, diffs=diffs, scenarios=scenarios, images=images, meta=meta,
                        posterior=posterior)
    html = _env("html").get_template("report.html.j2").render(**ctx)
    md = re.sub(r"\n{3,}", "\n\n", _env("md").get_template("report.md.j2").render(**ctx)).rstrip("\n") + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(html, encoding="utf-8")
    (out / "report.md").write_text(md, encoding="utf-8")

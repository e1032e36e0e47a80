"""The dashboard's tables (HTML strings, escaped) and downloads, from a run's ``Results``.

Every number is formatted by ``jjj_sim.reporting.words`` (``fmt_value``, ``fmt_diff``) and every
indicator is named by ``words.plot_label``. Tables carry ids and ``data-*`` attributes so tests
and scripts can find a row: ``#headline-table tr[data-indicator=ID] td.diff``.
"""

from __future__ import annotations

import html
import json
import math
import tempfile
from functools import lru_cache
from pathlib import Path

from jjj_sim import __version__
from jjj_sim.core.resources import find
from jjj_sim.reporting.report import park_record, write_report
from jjj_sim.reporting.words import (
    HEADLINE,
    NO_FILL,
    NS_LEGEND,
    ci_contains_zero,
    fmt_capacity,
    fmt_diff,
    fmt_fill,
    fmt_value,
    has_limit,
    is_full,
)
from jjj_sim.reporting.words import places as report_places
from jjj_sim.reporting.words import (
    plot_label as label,  # the report's words without CJK terms (fonts)
)
from jjj_sim.runner.ensembles import mean_summary
from jjj_sim.runner.targets import load_targets

PROVINCES = ("beijing", "tianjin", "hebei")
CSS = """
.jjj-table { border-collapse: collapse; font-size: 13px; margin: 4px 0 12px 0; }
.jjj-table th, .jjj-table td { border-bottom: 1px solid #e2e2e2; padding: 3px 8px; vertical-align: top; }
.jjj-table th { background: #f3f3f3; text-align: left; font-weight: 600; }
.jjj-table td.num, .jjj-table th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.jjj-table td.ns { color: #777; }
.jjj-table td.pos { color: #1a7f37; }
.jjj-table td.neg { color: #b3261e; }
.jjj-table tr.group td { background: #fafafa; font-weight: 600; }
.jjj-table td.met-yes { color: #1a7f37; font-weight: 600; }
.jjj-table td.met-no { color: #b3261e; font-weight: 600; }
.jjj-table td.small { font-size: 11px; color: #555; min-width: 16em; max-width: 28em; }
.jjj-table td:first-child { min-width: 12em; }
#targets-table td:first-child { min-width: 4em; }
.jjj-note { font-size: 12px; color: #555; }
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


class Data:
    """Lookups into a run's levels and differences."""

    def __init__(self, res):
        self.res = res
        lv = res.levels
        self.lv = {(s, i, int(y)): float(m) for s, i, y, m in zip(lv.scenario, lv.indicator, lv.year, lv["mean"])}
        d = res.diffs
        self.d = {(i, int(y)): (float(m), float(lo), float(hi)) for s, i, y, m, lo, hi in
                  zip(d.scenario, d.indicator, d.year, d.mean_diff, d.ci90_low, d.ci90_high) if s == res.whatif}

    def level(self, scen: str, ind: str, year: int) -> float:
        """The mean over seeds of ``ind`` in ``year`` for scenario ``scen`` (nan when absent)."""
        return self.lv.get((scen, ind, year), float("nan"))

    def base(self, ind, year):
        """The reference's mean of ``ind`` in ``year``."""
        return self.level(self.res.reference, ind, year)

    def whatif(self, ind, year):
        """The what-if's mean of ``ind`` in ``year``."""
        return self.level(self.res.whatif, ind, year)

    def diff(self, ind: str, year: int) -> tuple[float, float, float]:
        """(mean, 90% CI low, 90% CI high) of the what-if minus the reference (nans when absent)."""
        return self.d.get((ind, year), (float("nan"),) * 3)

    def diff_td(self, ind: str, year: int, unit: str) -> str:
        """The difference as a ``<td>`` (class ``ns`` when its 90% CI contains 0, else ``pos`` or
        ``neg``)."""
        m, lo, hi = self.diff(ind, year)
        cls = "num diff"
        if ci_contains_zero(lo, hi):
            cls += " ns"
        elif not math.isnan(m) and round(m, 1) != 0:
            cls += " pos" if m > 0 else " neg"
        return f'<td class="{cls}">{_e(fmt_diff(m, lo, hi, unit))}</td>'


def _table(tid: str, head: list[tuple[str, bool]], rows: list[str], caption: str = "") -> str:
    ths = "".join(f'<th class="{"num" if num else ""}">{_e(t)}</th>' for t, num in head)
    cap = f"<caption style='caption-side:top;text-align:left;font-weight:600'>{_e(caption)}</caption>" if caption else ""
    return f'<table id="{tid}" class="jjj-table">{cap}<thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def headline_table(res, year: int) -> str:
    """``#headline-table``: the headline indicators at the end of ``year``: the reference, the what-if
    and their paired difference with its 90% CI."""
    d = Data(res)
    rows = []
    for ind in HEADLINE:
        title, unit = label(ind)
        rows.append(f'<tr data-indicator="{_e(ind)}"><td>{_e(title)}</td><td>{_e(unit)}</td>'
                    f'<td class="num level-base">{_e(fmt_value(d.base(ind, year), unit))}</td>'
                    f'<td class="num level-whatif">{_e(fmt_value(d.whatif(ind, year), unit))}</td>'
                    f'{d.diff_td(ind, year, unit)}</tr>')
    head = [("Indicator", False), ("Unit", False), (f"{res.reference}", True), ("what-if", True),
            ("difference [90% CI]", True)]
    return (_table("headline-table", head, rows, f"Headline indicators, end of {year} (mean over {res.n_seeds} seeds)")
            + f'<div class="jjj-note">{_e(NS_LEGEND)} Differences are paired by seed (the same seeds for both).</div>')


@lru_cache(maxsize=1)
def _places() -> dict:
    return report_places()


def regions_table(res, year: int) -> str:
    """``#regions-table``: every region by province at the end of ``year``: its firms, and its firms
    from other provinces: baseline, what-if and difference."""
    d = Data(res)
    rows = []
    places = _places()
    for k, prov in enumerate(PROVINCES):
        rows.append(f'<tr class="group"><td colspan="7">{_e(prov.capitalize())}</td></tr>')
        for pid, p in places.items():
            if p["is_park"] or p["province"] != k:
                continue
            a, b = f"region_firms:{pid}", f"region_firms_from_outside:{pid}"
            rows.append(f'<tr data-region="{_e(pid)}"><td>{_e(p["name"])}</td>'
                        f'<td class="num">{_e(fmt_value(d.base(a, year), "firms"))}</td>'
                        f'<td class="num">{_e(fmt_value(d.whatif(a, year), "firms"))}</td>{d.diff_td(a, year, "firms")}'
                        f'<td class="num">{_e(fmt_value(d.base(b, year), "firms"))}</td>'
                        f'<td class="num">{_e(fmt_value(d.whatif(b, year), "firms"))}</td>{d.diff_td(b, year, "firms")}'
                        "</tr>")
    head = [("Region", False), ("firms: baseline", True), ("what-if", True), ("difference [90% CI]", True),
            ("from other provinces: baseline", True), ("what-if", True), ("difference [90% CI]", True)]
    return _table("regions-table", head, rows, f"Regions, end of {year} (legal units and branches, parks included)")


def parks_table(res, year: int) -> str:
    """``#parks-table``: every park by province at the end of ``year``: capacity, firms (baseline,
    what-if, difference), fill, the difference in firms from Beijing and Tianjin, and the what-if's
    overflow to its region."""
    d = Data(res)
    rows = []
    places = _places()
    for k, prov in enumerate(PROVINCES):
        mine = [(pid, p) for pid, p in places.items() if p["is_park"] and p["province"] == k]
        if not mine:
            continue
        rows.append(f'<tr class="group"><td colspan="9">{_e(prov.capitalize())}</td></tr>')
        for pid, p in mine:
            cap = d.whatif(f"park_capacity:{pid}", year)
            if math.isnan(cap):  # no capacity rows: no physical limit in the record (inf in the data)
                cap = p["capacity"]
            limited = has_limit(cap)
            fills = [d.base(f"park_fill_pct:{pid}", year), d.whatif(f"park_fill_pct:{pid}", year)]
            overflow = [d.base(f"park_overflow_to_region:{pid}", year), d.whatif(f"park_overflow_to_region:{pid}", year)]
            full = [is_full(f if limited else None, o) for f, o in zip(fills, overflow)]
            fill = (NO_FILL if not limited else
                    f"{fmt_fill(fills[0], True, full[0])} \u2192 {fmt_fill(fills[1], True, full[1])}")
            rows.append(
                f'<tr data-park="{_e(pid)}"{" data-full" if full[1] else ""}><td>{_e(p["name"])}</td>'
                f'<td>{_e(places[p["region"]]["name"])}</td>'
                f'<td class="num capacity">{_e(fmt_capacity(cap))}</td>'
                f'<td class="num">{_e(fmt_value(d.base(f"park_firms:{pid}", year), "firms"))}</td>'
                f'<td class="num">{_e(fmt_value(d.whatif(f"park_firms:{pid}", year), "firms"))}</td>'
                f'{d.diff_td(f"park_firms:{pid}", year, "firms")}'
                f'<td class="num fill">{_e(fill)}</td>'
                f'{d.diff_td(f"park_firms_from_bjtj:{pid}", year, "firms")}'
                f'<td class="num">{_e(fmt_value(overflow[1], "firms"))}</td></tr>')
    head = [("Park", False), ("Region", False), ("capacity", True), ("firms: baseline", True), ("what-if", True),
            ("difference [90% CI]", True), ("fill: baseline → what-if", True),
            ("from Beijing/Tianjin: difference", True), ("overflow to region (what-if)", True)]
    return (_table("parks-table", head, rows, f"Parks, end of {year} (a full park sends further choosers to its region)")
            + '<div class="jjj-note">full: the park reached its capacity (it sent choosers to its region, or its '
              "firms are at or above capacity); no limit: the record states no physical limit for the park, so it "
              "has no capacity and no fill.</div>")


def park_record_table(res) -> str:
    """Parks: the record beside the model: every reported park figure (park_record.csv) beside
    the baseline's and the what-if's means over seeds (with the baseline's 5-95% of seeds)."""
    lv = res.levels
    base = park_record(mean_summary(lv, res.reference)["parks"], res.end_year,
                       mean_summary(lv, res.reference, "p05")["parks"], mean_summary(lv, res.reference, "p95")["parks"])
    whatif = park_record(mean_summary(lv, res.whatif)["parks"], res.end_year)
    rows = []
    def within(x):
        return {"yes": "met-yes", "no": "met-no"}.get(x, "")

    for b, w in zip(base, whatif):
        t, tw = b["text"], w["text"]
        sim_b = t["simulated"] + (f" ({t['seeds']})" if t["seeds"] else "")
        rows.append(f'<tr data-figure="{_e(b["id"])}"><td>{_e(t["park"])}</td><td class="small">{_e(t["reported"])}</td>'
                    f'<td class="small">{_e(t["definition"])}</td><td>{_e(t["as_of"])}</td>'
                    f'<td class="small">{_e(t["measure"])}</td><td class="num">{_e(t["range"])}</td>'
                    f'<td class="num sim-base">{_e(sim_b)}</td><td class="{within(t["within"])} within-base">'
                    f'{_e(t["within"])}</td>'
                    f'<td class="num sim-whatif">{_e(tw["simulated"])}</td><td class="{within(tw["within"])} '
                    f'within-whatif">{_e(tw["within"])}</td>'
                    f'<td class="small">{_e(t["use"])}</td><td class="small">{_e(t["source"])}</td></tr>')
    head = [("Park", False), ("Reported figure", False), ("Definition", False), ("As of", False),
            ("Model field & year", False), ("Range the figure supports", True),
            (f"{res.reference}: mean (90% of seeds)", True), ("within range", False), ("what-if: mean", True),
            ("within range", False), ("Use", False), ("Source", False)]
    return (_table("park-record-table", head, rows, "Parks: the record beside the model")
            + '<div class="jjj-note">A reported figure counts something else than the model\'s park rows '
              "(registered firms, projects, firms signed): each row names the model field it is compared with "
              "and the range of that field the figure supports (jjj_sim/data/park_record.csv). Use: target, "
              "fitted by the calibration; reference, before 2021, not fitted; check after 2020, released and "
              "not tuned to.</div>")


# ---------------------------------------------------------------------------- targets
@lru_cache(maxsize=1)
def targets():
    """The calibration targets (calibration/targets.yaml), read once."""
    return tuple(load_targets(find("calibration/targets.yaml", "targets")))


def _reported(t) -> str:
    unit = "" if t.unit == "share" else t.unit

    def f(x):
        if t.unit == "share":
            return f"{x:.3g}"
        return fmt_value(x, t.unit)

    if t.kind == "range":
        return f"{f(t.low)} to {f(t.high)} {unit}".strip()
    sign = {"approx": "about ", "at_least": "at least ", "at_most": "at most "}[t.kind]
    tol = f" (±{t.tolerance * 100:g}%)" if t.kind == "approx" else ""
    return f"{sign}{f(t.value)} {unit}{tol}".strip().replace("  ", " ")


def _simulated(t, summary: dict, end_year: int) -> tuple[str, str, str]:
    """(value text, met text, css class)."""
    if t.year > end_year:
        return "n/a", "n/a", ""
    try:
        x = t.simulated(summary)
    except KeyError:
        return "n/a", "n/a", ""
    text = f"{x:.3g}" if t.unit == "share" else fmt_value(x, t.unit)
    ok = t.met(x)
    return text, "yes" if ok else "no", "met-yes" if ok else "met-no"


def targets_table(res) -> str:
    """``#targets-table``: every calibration target's reported figure beside the what-if's and the
    baseline's means over seeds and whether each meets it (n/a after the end year)."""
    sw, sb = mean_summary(res.levels, res.whatif), mean_summary(res.levels, res.reference)
    rows = []
    for t in targets():
        vw, mw, cw = _simulated(t, sw, res.end_year)
        vb, mb, cb = _simulated(t, sb, res.end_year)
        rows.append(f'<tr data-target="{_e(t.id)}"><td>{_e(t.id)}</td><td class="small">{_e(t.what or t.series)}</td>'
                    f'<td class="num">{t.year}</td><td class="num">{_e(_reported(t))}</td>'
                    f'<td class="num">{_e(vw)}</td><td class="{cw}">{_e(mw)}</td>'
                    f'<td class="num">{_e(vb)}</td><td class="{cb}">{_e(mb)}</td>'
                    f'<td class="small">{_e(t.source)}</td></tr>')
    head = [("Target", False), ("What", False), ("Year", True), ("Reported", True), ("What-if", True), ("met", False),
            ("Baseline", True), ("met", False), ("Source", False)]
    return _table("targets-table", head, rows, "Reported figures (calibration targets): simulated mean over seeds")


# ---------------------------------------------------------------------------- downloads
def summary_json(res) -> str:
    """summary.json for download: the what-if's means over seeds in summary.json's shape
    (``mean_summary``) and a ``meta`` entry (scenario, edits, overrides, seeds, reference)."""
    out = mean_summary(res.levels, res.whatif)
    out["meta"] = {"scenario": res.scenario, "description": res.description, "edits": res.changed,
                   "overrides": [*res.lever_overrides], "common": res.common, "seeds": res.seeds,
                   "reference": res.reference}
    return json.dumps(out, indent=1)


def levels_csv(res) -> str:
    """levels.csv for download: mean and 5-95% of seeds per scenario, indicator and year."""
    return res.levels.to_csv(index=False)


def diffs_csv(res) -> str:
    """differences.csv for download: the paired differences of every indicator in every year."""
    return res.full_differences().to_csv(index=False)


def report_html(res) -> bytes:
    """``report.html`` by jjj_sim.reporting.report.write_report, written into a temporary folder."""
    titles = {"map_whatif": f"Map: what-if, firms attracted from other provinces, end of {res.end_year}",
              "map_diff": f"Map: what-if minus {res.reference}, firms in each region, end of {res.end_year}",
              "levels": "Headline indicators over time (mean, 5-95% of seeds)",
              "diffs": f"What-if minus {res.reference} over time (90% confidence band)"}
    with tempfile.TemporaryDirectory(prefix="jjj-dashboard-") as tmp:
        out = Path(tmp)
        images = {}
        for kind, title in titles.items():
            if kind in res.images:
                p = out / f"{kind}.png"
                p.write_bytes(res.images[kind])
                images[title] = p
        desc = res.description + (" Edits: " + "; ".join(res.changed) if res.changed else " (no edits)")
        meta = {"seeds": res.n_seeds, "seed_values": res.seeds, "scale": res.scale, "start": 2014,
                "end_year": res.end_year, "runs": 2 * res.n_seeds, "seconds": res.seconds, "version": __version__,
                "overrides": [*res.common, *res.lever_overrides]}
        write_report(out, levels=res.levels, diffs=res.diffs,
                     scenarios=[{"name": res.reference, "description": "Levers as reported (the reference)."},
                                {"name": res.whatif, "description": desc}], images=images, meta=meta)
        return (out / "report.html").read_bytes()

"""The comparison report (jjj_sim.reporting.report): formatting, labels, and the rendered HTML and Markdown."""

from __future__ import annotations

import base64
import re

import pandas as pd
import pytest

from jjj_sim.reporting.report import write_report
from jjj_sim.reporting.words import NS_MARK, fmt_diff, fmt_value, label

SCENARIOS = [
    {"name": "baseline", "description": "Levers as reported."},
    {"name": "fast_rail", "description": "Faster trains <script>alert('x')</script> & more."},
    {"name": "xiongan_push", "description": "Doubles the Xiong'an incentive."},
]
YEARS = (2024, 2025, 2030)
# indicator -> reference level per year (the other scenarios add offsets below)
REF = {
    "hebei_firms_attracted_cum": 44180.4,
    "zgc_branches_tjhb": 17372.2,
    "hebei_hightech_va_share": 13.14,
    "tech_contract_turnover_bj_to_tjhb_bn_yuan": 35.26,
    "firms_by_province_beijing": 1385488.0,
    "firms_by_province_tianjin": 700321.0,
    "firms_by_province_hebei": 2556698.0,
    "region_firms:tangshan": 120345.6,
    "region_firms_from_outside:tangshan": 8123.0,
    "region_firms:beijing_core": 900123.0,
    "region_firms_from_outside:beijing_core": 1000.0,
    "park_firms:xiongan_zgc": 56.0,
    "park_firms_from_bjtj:xiongan_zgc": 50.0,
    "park_fill_pct:xiongan_zgc": 100.0,
    "park_overflow_to_region:xiongan_zgc": 312.0,
    "park_capacity:xiongan_zgc": 56.0,
    # no physical limit in the record: no capacity or fill rows (runner.ensembles.result_rows)
    "park_firms:caofeidian": 3000.0,
    "park_firms_from_bjtj:caofeidian": 2100.0,
    "park_firms_from_beijing:caofeidian": 1900.0,
    "park_overflow_to_region:caofeidian": 0.0,
}
# (mean_diff, ci90_low, ci90_high): fast_rail's hebei difference is exactly +16 firms
DIFF = {"fast_rail": (16.0, 10.2, 21.7), "xiongan_push": (1795.6, 1599.1, 1992.3)}
NOISY = (0.4, -2.5, 3.3)  # CI contains 0


def _frames():
    lv, df = [], []
    for s in SCENARIOS:
        name = s["name"]
        for ind, base in REF.items():
            for y in YEARS:
                if name == "baseline":
                    m = base
                else:
                    d, lo, hi = DIFF[name] if ind == "hebei_firms_attracted_cum" else NOISY
                    m = base if ind.startswith(("park_fill_pct", "park_overflow")) else base + d
                    df.append({"scenario": name, "indicator": ind, "year": y, "n_seeds": 5, "mean_diff": d,
                               "ci90_low": lo, "ci90_high": hi, "seed_p05": lo - 5, "seed_p95": hi + 5})
                lv.append({"scenario": name, "indicator": ind, "year": y, "mean": m, "p05": m * 0.9, "p95": m * 1.1})
    return pd.DataFrame(lv), pd.DataFrame(df)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = tmp_path_factory.mktemp("cmp")
    (out / "plots").mkdir()
    images = {}
    for title, fname in (("Map: firms attracted", "map.png"), ("Differences from baseline over time", "diffs.png")):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1], [0, 1])
        fig.savefig(out / "plots" / fname, dpi=20)
        plt.close(fig)
        images[title] = out / "plots" / fname
    levels, diffs = _frames()
    meta = {"seeds": 5, "seed_values": [11, 22, 33, 44, 55], "scale": 0.2, "start": 2014, "end_year": 2030,
            "runs": 15, "seconds": 12.3, "version": "0.1.0", "overrides": ["population.scale=0.2"]}
    write_report(out, levels=levels, diffs=diffs, scenarios=SCENARIOS, images=images, meta=meta)
    html = (out / "report.html").read_text(encoding="utf-8")
    return out, images, html, (out / "report.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- formatting
@pytest.mark.parametrize("x, unit, expected", [
    (44180.4, "firms", "44,180"), (1385488.0, "legal units", "1,385,488"), (13.14, "percent", "13.1%"),
    (35.26, "bn yuan", "35.3"), (-0.4, "firms", "0"), (float("nan"), "firms", "n/a"), (None, "percent", "n/a"),
    (999.5, "branches", "1,000"),
])
def test_fmt_value(x, unit, expected):
    assert fmt_value(x, unit) == expected


def test_fmt_diff():
    assert fmt_diff(16.0, 10.2, 21.7, "firms") == "+16 [+10, +22]"
    assert fmt_diff(1234.4, 1020.0, 1450.2, "firms") == "+1,234 [+1,020, +1,450]"
    assert fmt_diff(-31090.2, -31669.0, -30510.0, "firms") == "-31,090 [-31,669, -30,510]"
    assert fmt_diff(0.0, 0.0, 0.0, "firms") == f"0 [0, 0] {NS_MARK}"  # identical runs: no difference
    assert fmt_diff(36.0, -42.9, 114.9, "branches") == f"+36 [-43, +115] {NS_MARK}"
    assert fmt_diff(-0.28, -0.61, 0.05, "percent") == f"-0.3 pp [-0.6, +0.1] {NS_MARK}"
    assert fmt_diff(1.25, 0.3, 2.2, "bn yuan") == "+1.2 [+0.3, +2.2]"  # round half to even
    assert fmt_diff(16.0, float("nan"), float("nan"), "firms") == "+16 [n/a]"
    assert fmt_diff(float("nan"), 1.0, 2.0, "firms") == "n/a"


def test_label():
    assert label("hebei_firms_attracted_cum")[1] == "firms"
    assert "Hebei" in label("hebei_firms_attracted_cum")[0]
    assert label("firms_by_province_tianjin") == ("Legal units in Tianjin", "legal units")
    assert label("region_firms:tangshan") == ("Firms in Tangshan (legal units and branches, its parks included)",
                                              "firms")
    assert "Tangshan" in label("region_firms_from_outside:tangshan")[0]
    assert label("park_fill_pct:xiongan_zgc") == (
        "Xiong'an Zhongguancun Science and Technology Park: firms as % of its capacity", "percent")
    assert "Xiong'an New Area" in label("park_overflow_to_region:xiongan_zgc")[0]
    assert label("park_capacity:caofeidian")[1] == "slots"
    assert label("park_firms_from_bjtj:caofeidian")[0].startswith("Firms from Beijing and Tianjin in ")
    assert label("something_else") == ("something_else", "")


# ---------------------------------------------------------------------------- the report
def test_files_and_embedded_images(report):
    out, images, html, md = report
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert html.lstrip().lower().startswith("<!doctype html>") and '<meta charset="utf-8">' in html
    srcs = re.findall(r"<img\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]+)", html, flags=re.I)
    assert len(srcs) == len(images)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert len(re.findall(r"<img\b", html, flags=re.I)) == len(images)  # no other <img>
    for path in images.values():
        assert "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii") in html
        assert f"](plots/{path.name})" in md
    assert "<link" not in html and "<script src" not in html.lower()


def test_numbers_formatted(report):
    _out, _images, html, md = report
    for doc in (html, md):
        assert "44,180" in doc and "44180" not in doc
        assert "+16 [+10, +22]" in doc and "+16.00" not in doc and "+16.0 " not in doc
        assert "13.1%" in doc
        assert "1,385,488" in doc
        assert "+1,796 [+1,599, +1,992]" in doc  # xiongan_push, hebei attracted
        assert f"+0 [-2, +3] {NS_MARK}" not in doc and f"0 [-2, +3] {NS_MARK}" in doc  # 0.4: rounds to 0, marked
        assert "-8 to +8" in doc  # seed range of a noisy difference: -7.5 to +8.3
        assert NS_MARK + " the 90% confidence interval" in doc  # the legend


def test_words_not_ids(report):
    _out, _images, html, md = report
    title = label("hebei_firms_attracted_cum")[0]
    for doc in (html, md):
        assert title in doc
        for raw in ("hebei_firms_attracted_cum", "firms_by_province_", "region_firms", "park_fill_pct", "xiongan_zgc",
                    "tangshan:"):
            assert raw not in doc
    assert "Tangshan" in html and "Beijing (Caofeidian) Modern Industry Development Pilot Area" in html


def test_full_park_flagged(report):
    _out, _images, html, md = report
    assert re.search(r'<td class="num full">100\.0% \(full\)</td>', html)
    assert "| 100.0% (full) |" in md
    assert "Full (at capacity by the end of 2030) in at least one scenario: Xiong'an Zhongguancun" in md


def test_html_escaped(report):
    _out, _images, html, md = report
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more." in html
    assert not re.search(r"(?<!\\)<", md) and r"\<script>alert('x')\</script> & more." in md  # no raw tag


def _html_rows(html: str) -> list[list[str]]:
    import html as h

    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)
        if cells:
            rows.append([h.unescape(c) for c in cells])
    return rows


def _md_rows(md: str) -> list[list[str]]:
    rows = []
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| **"):
            rows.append([c.strip().replace("\\", "") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


def test_markdown_has_the_same_rows(report):
    _out, _images, html, md = report
    html_rows, md_rows = _html_rows(html), _md_rows(md)
    assert len(html_rows) > 20
    for row in html_rows:
        assert row in md_rows, row
    # headline years: 2025 and the end year 2030 (2024 is not a report year)
    assert "Headline indicators, end of 2025" in md and "Headline indicators, end of 2030" in md
    assert "end of 2024" not in md
    sections = ["# Scenario comparison", "## How to read", "## Scenarios", "## Headline indicators", "## Provinces",
                "## Regions", "## Parks", "## Charts", "## Full tables"]
    pos = [md.index(s) for s in sections]
    assert pos == sorted(pos)
    assert "differences.csv" in md and "runs.parquet" in md


def test_reference_only_and_missing_data(tmp_path):
    levels = pd.DataFrame([{"scenario": "baseline", "indicator": "hebei_hightech_va_share", "year": 2030,
                            "mean": float("nan"), "p05": float("nan"), "p95": float("nan")}])
    diffs = pd.DataFrame(columns=["scenario", "indicator", "year", "n_seeds", "mean_diff", "ci90_low", "ci90_high",
                                  "seed_p05", "seed_p95"])
    meta = {"seeds": 2, "seed_values": [1, 2], "scale": 0.1, "start": 2014, "end_year": 2030, "runs": 2,
            "seconds": 400.0, "version": "0.1.0", "overrides": [], "uncertainty": "Parameters are not varied."}
    write_report(tmp_path, levels=levels, diffs=diffs, scenarios=[{"name": "baseline", "description": ""}],
                 images={}, meta=meta)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for doc in (html, md):
        assert "n/a" in doc and "No region indicators" in doc and "No charts." in doc
        assert "6.7 min" in doc and "Parameters are not varied." in doc

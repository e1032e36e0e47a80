"""Words and numbers for people: indicator and place names, number formats, and whether a park
is full. Shared by the report, the plots, the maps, validation and the dashboard.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from jjj_sim.sim.indicators import INDICATORS
from jjj_sim.sim.world import load_places, load_sectors

# Headline rows, in this order (those absent from the data are left out).
HEADLINE = ("hebei_firms_attracted_cum", "zgc_branches_tjhb", "beijing_campaign_exits_cum",
            "relocations_out_of_beijing_cum", "xiongan_firms_from_beijing", "hebei_hightech_va_share",
            "tech_contracts_bj_to_tjhb", "firms_by_province_beijing", "firms_by_province_tianjin",
            "firms_by_province_hebei")


PROVINCE_NAMES = ("Beijing", "Tianjin", "Hebei")


PROVINCE_INDICATORS = ("firms_by_province_beijing", "firms_by_province_tianjin", "firms_by_province_hebei")


# Units whose values are counts: shown rounded to whole numbers.
COUNT_UNITS = frozenset({"firms", "branches", "legal units", "contracts", "slots"})


PERCENT_UNITS = frozenset({"percent", "%"})


NS_MARK = "\u2020"  # dagger: the 90% CI of the difference contains 0


NS_LEGEND = (f"{NS_MARK} the 90% confidence interval of the difference includes 0: "
             "not distinguishable from no difference with these seeds.")


FULL_WORD = "full"


NO_LIMIT = "no limit"  # capacity of a park without a physical limit in the record


NO_FILL = "\u2014"  # its fill: none (an em dash)


# Descriptions in INDICATORS that only make sense after the row above them.
_TITLE_OVERRIDES = {
    "hebei_firms_attracted_from_beijing_cum": "Firms from Beijing that settled in Hebei since 2014",
    "tech_contract_turnover_bj_to_tjhb_bn_yuan": "Turnover of technology contracts from Beijing to Tianjin and Hebei",
    "tech_contract_turnover_bj_to_tjhb_cum_bn_yuan":
        "Turnover of technology contracts from Beijing to Tianjin and Hebei since 2014",
}


@lru_cache(maxsize=1)
def places() -> dict:
    """{id: {"name", "is_park", "region" (id), "province" (int), "capacity"}} from the package data."""
    p = load_places(load_sectors())
    return {pid: {"name": p.names[i], "is_park": bool(p.is_park[i]), "region": p.ids[int(p.region[i])],
                  "province": int(p.province[i]), "capacity": float(p.capacity[i])}
            for i, pid in enumerate(p.ids)}


def place_name(pid: str) -> str:
    """A region's or park's name in words (its id if unknown)."""
    place = places().get(pid)
    return place["name"] if place else pid


def label(indicator_id: str) -> tuple[str, str]:
    """(title in words, unit) for an indicator id (``INDICATORS``) or a place-family id such as
    ``region_firms:tangshan`` or ``park_fill_pct:xiongan_zgc``. Unknown ids come back as
    ``(indicator_id, "")``."""
    if indicator_id in INDICATORS:
        ind = INDICATORS[indicator_id]
        title = _TITLE_OVERRIDES.get(indicator_id, ind.label)
        return (f"{title}, per year" if ind.kind == "flow" else title), ind.unit
    prefix, sep, pid = indicator_id.partition(":")
    if not sep:
        return indicator_id, ""
    name = place_name(pid)
    region = places().get(pid, {}).get("region")
    region_name = place_name(region) if region else "its region"
    families = {
        "region_firms": (f"Firms in {name} (legal units and branches, its parks included)", "firms"),
        "region_firms_from_outside": (f"Firms attracted to {name} from other provinces", "firms"),
        "park_firms": (f"Firms in {name} (legal units and branches)", "firms"),
        "park_firms_from_bjtj": (f"Firms from Beijing and Tianjin in {name}", "firms"),
        "park_firms_from_beijing": (f"Firms from Beijing in {name}", "firms"),
        "park_fill_pct": (f"{name}: firms as % of its capacity", "percent"),
        "park_overflow_to_region": (f"{name}: firms sent to {region_name} because the park was full, since 2014",
                                    "firms"),
        "park_capacity": (f"{name}: capacity", "slots"),
    }
    return families.get(prefix, (indicator_id, ""))


def plot_label(indicator_id: str) -> tuple[str, str]:
    """``label`` for a plot: without the Chinese terms in brackets (matplotlib's default font
    has no CJK glyphs; the reports keep them)."""
    title, unit = label(indicator_id)
    return re.sub(r"\s*\([^)]*[\u3400-\u9fff][^)]*\)", "", title), unit


def missing(x) -> bool:
    """Whether ``x`` is no number: None, NaN, or not convertible to float."""
    if x is None:
        return True
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def _decimals(unit: str) -> int:
    return 0 if unit in COUNT_UNITS else 1


def _num(x: float, decimals: int, signed: bool = False) -> str:
    """Thousands separators, fixed decimals; ``signed`` adds + or -; a value that rounds to
    zero is "0" (never "-0" or "+0")."""
    x = float(x)
    if math.isinf(x):
        return ("+" if signed and x > 0 else "-" if x < 0 else "") + "\u221e"
    r = round(x, decimals)
    if r == 0:
        return f"{0:.{decimals}f}"
    s = f"{abs(r):,.{decimals}f}"
    return ("-" if r < 0 else "+" if signed else "") + s


def fmt_value(x, unit: str) -> str:
    """A level: counts to whole numbers ("44,180"), percentages with 1 decimal and "%"
    ("13.1%"), anything else (bn yuan, Mt) with 1 decimal; missing values "n/a"."""
    if missing(x):
        return "n/a"
    s = _num(x, _decimals(unit))
    return s + "%" if unit in PERCENT_UNITS else s


def ci_contains_zero(lo, hi) -> bool:
    """Whether the interval [lo, hi] is known and contains 0."""
    return not missing(lo) and not missing(hi) and float(lo) <= 0.0 <= float(hi)


def fmt_diff(mean, lo, hi, unit: str) -> str:
    """A difference with its 90% confidence interval, signed: "+1,234 [+1,020, +1,450]";
    percentages in percentage points ("+0.3 pp [-0.1, +0.7]"). If the interval includes 0 the
    text ends with the mark NS_MARK (see NS_LEGEND). A missing interval: "+16 [n/a]"."""
    if missing(mean):
        return "n/a"
    d = _decimals(unit)
    s = _num(mean, d, signed=True) + (" pp" if unit in PERCENT_UNITS else "")
    if missing(lo) or missing(hi):
        return s + " [n/a]"
    s += f" [{_num(lo, d, signed=True)}, {_num(hi, d, signed=True)}]"
    return s + f" {NS_MARK}" if ci_contains_zero(lo, hi) else s


def fmt_signed(x, unit: str) -> str:
    """A difference without an interval: "+1,234", "+0.3 pp"."""
    if missing(x):
        return "n/a"
    return _num(x, _decimals(unit), signed=True) + (" pp" if unit in PERCENT_UNITS else "")


def fmt_range(lo, hi, unit: str) -> str:
    """The 5-95% range of per-seed differences: "+900 to +1,600"."""
    if missing(lo) or missing(hi):
        return "n/a"
    d = _decimals(unit)
    pp = " pp" if unit in PERCENT_UNITS else ""
    return f"{_num(lo, d, signed=True)} to {_num(hi, d, signed=True)}{pp}"


def fmt_seconds(s: float) -> str:
    """A duration in seconds as "42 s", "3.5 min" (from 2 min) or "2.1 h" (from 2 h)."""
    s = float(s)
    if s < 120:
        return f"{s:,.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:,.1f} min"
    return f"{s / 3600:,.1f} h"


def fmt_plain(x) -> str:
    """A meta number as written by the user (0.2, not 0.20)."""
    return f"{x:g}" if isinstance(x, float) else str(x)


def has_limit(capacity) -> bool:
    """Whether a park capacity is a hard limit (a finite number; None, NaN or inf: no limit)."""
    return not missing(capacity) and math.isfinite(float(capacity))


def fmt_capacity(capacity) -> str:
    """A park's capacity: whole slots, or NO_LIMIT where the record states no physical limit."""
    return fmt_value(capacity, "slots") if has_limit(capacity) else NO_LIMIT


def is_full(fill, overflow=None) -> bool:
    """A park is full (at some point up to the year) when its firms reach its capacity (mean
    over seeds at or above 100%) or when it has sent choosers to its region (overflow > 0: it
    was full when they chose it; at a small population scale its slots in simulated firms,
    floor(capacity x scale), can hold fewer real firms than the capacity, so a full park can
    show under 100%)."""
    return ((not missing(fill) and float(fill) >= 100.0 - 1e-9)
            or (not missing(overflow) and float(overflow) > 0.0))


def map_fill(fill_pct: dict[str, float], overflow: dict[str, float] | None = None) -> dict[str, float]:
    """park id -> share of capacity used, for a map's ``park_fill``: fill % / 100, and at least 1
    (full) where the park sent choosers to its region (``is_full``). Only parks with a fill (a
    physical limit) are in it."""
    overflow = overflow or {}
    out = {}
    for k, v in fill_pct.items():
        share = float(v) / 100.0
        out[k] = 1.0 if is_full(None, overflow.get(k)) and not share >= 1.0 else share
    return out


def fmt_fill(fill, limited: bool = True, full: bool | None = None) -> str:
    """A park's fill in percent of its capacity, "(full)" added when full; NO_FILL for a park
    without a physical limit."""
    if not limited:
        return NO_FILL
    full = is_full(fill) if full is None else full
    return fmt_value(fill, "percent") + (f" ({FULL_WORD})" if full else "")

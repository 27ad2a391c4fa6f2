"""Point labels that do not overlap: each small tag goes where it covers the fewest other
markers, tags and drawn lines and stays inside its axes. Used by the Pareto chart and the
validation scatter (one placement rule for every labelled scatter).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke
from matplotlib.textpath import TextPath

__all__ = ["FAR_OFFSETS", "place_tags"]

_OFFSETS = ((5, -2, "left", "top"), (5, 3, "left", "bottom"), (-5, -2, "right", "top"),
            (-5, 3, "right", "bottom"), (0, -7, "center", "top"), (0, 7, "center", "bottom"),
            (12, -6, "left", "top"), (-12, 6, "right", "bottom"), (12, 6, "left", "bottom"),
            (-12, -6, "right", "top"))
#: for crowded scatters: the near places, then further out (a thin leader line beyond 12 pt)
FAR_OFFSETS = _OFFSETS + tuple((sx * d, sy * d / 2, "left" if sx > 0 else "right",
                                "top" if sy < 0 else "bottom")
                               for d in (20, 30, 42) for sx, sy in ((1, -1), (-1, 1), (1, 1),
                                                                     (-1, -1)))


def _line_pixels(ax: Axes, step: float) -> list[np.ndarray]:
    """Points every ``step`` pixels along each drawn line of ``ax`` (lines are obstacles)."""
    out = []
    for line in ax.get_lines():
        xy = ax.transData.transform(np.asarray(line.get_xydata(), dtype=float))
        if len(xy) < 2:
            continue
        pts = [xy[:1]]
        for a, b in zip(xy[:-1], xy[1:]):
            n = max(1, int(np.hypot(*(b - a)) / step))
            t = np.linspace(0, 1, n + 1)[1:, None]
            pts.append(a + t * (b - a))
        out.append(np.concatenate(pts))
    return out


def _near(box: tuple[float, float, float, float], x: float, y: float, r: float) -> bool:
    """Whether a marker of radius ``r`` at (x, y) touches the box."""
    return box[0] - r < x < box[2] + r and box[1] - r < y < box[3] + r


def place_tags(fig: Figure, points: Sequence[tuple[Axes, float, float, str, str]], *,
               fontsize: float = 7, obstacles: Sequence[tuple[Axes, float, float]] = (),
               offsets: Sequence[tuple[float, float, str, str]] = _OFFSETS) -> None:
    """Label ``points`` (axes, x, y, tag, colour) with small tags, each where it covers the
    fewest other markers (the labelled ones and ``obstacles``), tags and lines and stays
    inside its axes and off its legend (tried in order: beside, above or below, further
    out; ``offsets`` in points). Call it last: it fixes the figure's layout as it is."""
    fig.draw_without_rendering()  # final layout, so data -> pixels is exact
    fig.set_layout_engine("none")  # and kept: a later draw must not move the axes under the tags
    px = fig.dpi / 72
    centers = [ax.transData.transform((x, y)) for ax, x, y, _, _ in points]
    others = [(ax, ax.transData.transform((x, y))) for ax, x, y in obstacles]
    axes = {id(p[0]): p[0] for p in points}
    lines = {key: _line_pixels(ax, 2 * px) for key, ax in axes.items()}
    taken: list[tuple[float, float, float, float]] = []
    legends = {key: ax.get_legend().get_window_extent() for key, ax in axes.items()
               if ax.get_legend() is not None}  # a legend inside the axes is never covered
    r = 5 * px  # marker radius
    for i, ((ax, x, y, tag, color), (cx, cy)) in enumerate(zip(points, centers)):
        # the glyphs' extent, plus the margins matplotlib's text box adds around them
        w = 1.1 * TextPath((0, 0), tag, size=fontsize).get_extents().x1 * px
        h = (fontsize + 1) * px
        frame = ax.get_window_extent()
        best = None
        for dx, dy, ha, va in offsets:
            x0 = cx + dx * px - {"right": w, "center": w / 2}.get(ha, 0)
            y0 = cy + dy * px - {"top": h, "center": h / 2}.get(va, 0)
            box = (x0, y0, x0 + w, y0 + h)
            hits = 2.0 * sum(1 for j, (ox, oy) in enumerate(centers)
                             if j != i and points[j][0] is ax and _near(box, ox, oy, r))
            hits += sum(1 for oax, (ox, oy) in others if oax is ax and _near(box, ox, oy, r))
            hits += 4.0 * sum(1 for t in taken if t[0] < box[2] and box[0] < t[2]
                              and t[1] < box[3] and box[1] < t[3])
            hits += sum(1 for pts in lines[id(ax)] if np.any(
                (pts[:, 0] > box[0]) & (pts[:, 0] < box[2])
                & (pts[:, 1] > box[1]) & (pts[:, 1] < box[3])))
            e = legends.get(id(ax))
            if e is not None and e.x0 < box[2] and box[0] < e.x1 and e.y0 < box[3] and box[1] < e.y1:
                hits += 10
            if box[0] < frame.x0 or box[2] > frame.x1 or box[1] < frame.y0 or box[3] > frame.y1:
                hits += 3
            if best is None or hits < best[0]:
                best = (hits, dx, dy, ha, va, box)
            if hits == 0:
                break
        assert best is not None
        _, dx, dy, ha, va, box = best
        taken.append(box)
        far = abs(dx) > 12 or abs(dy) > 12
        ax.annotate(tag, (x, y), xytext=(dx, dy), textcoords="offset points",
                    fontsize=fontsize, color=color, ha=ha, va=va, zorder=4,
                    arrowprops={"arrowstyle": "-", "color": color, "lw": 0.5,
                                "shrinkA": 0, "shrinkB": 3} if far else None,
                    path_effects=[withStroke(linewidth=2.5, foreground="white")])

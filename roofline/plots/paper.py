"""The MobileNetV4 paper's figures, redrawn from our roofline: the ridge-point sweep, Fig. 2
(latency vs top-1 per ridge point) and Fig. 3 (per-layer cost by op class).

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot; its footer
names the preset that produced the numbers (:mod:`roofline.latency.presets`). Models are given
as a mapping ``name -> layer table`` (traced at the preset's dtype and fusion) or as names,
traced here (:func:`roofline.plots.tables.traced_tables`).

- :func:`ridge`   latency vs ridge point, one curve per model, registry devices marked;
- :func:`pareto`  Fig. 2: latency vs top-1 at each ridge point, one line per family;
- :func:`opcost`  Fig. 3: per-layer latency vs layer index, coloured by op class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.patheffects import withStroke
from matplotlib.scale import SymmetricalLogScale

from roofline.errors import InputError
from roofline.hardware.registry import list_profiles
from roofline.latency.presets import (OP_CLASSES, PAPER_PANELS, PAPER_PRESET, Preset, get_preset,
                                      op_class)
from roofline.models.figure_sets import FIG2_MODELS, FIG3_MODELS, RIDGE_MODELS
from roofline.models.labels import member_tags
from roofline.plots.style import (INK, MUTED, OP_COLORS, family_marker, footer, log_ticks,
                                  model_styles, new_figure, plain_log_formatter, rp_name,
                                  style_axes)
from roofline.plots.tables import traced_tables
from roofline.units import ms_label

__all__ = ["SWEEP_RPS", "FIG2_RPS", "FIG3_RPS", "ridge", "pareto", "pareto_front", "opcost"]

FIG2_RPS = (0.0, 5.0, 50.0, 500.0)
FIG3_RPS = (5.0, 500.0)
SWEEP_RPS = np.arange(0.0, 501.0, 5.0)


def _pinned(preset: Preset, models: Any) -> Preset:
    """The preset with its dtype fixed to the one names are traced at (fp32 when the preset
    leaves it to a device and none is given), so the label says what was counted."""
    if preset.dtype is None and not isinstance(models, Mapping):
        return preset.pinned()
    return preset



def _registry_devices(preset: Preset) -> list[tuple[str, float, bool]]:
    """(label, ridge point, fitted) of every base device and every fitted variant."""
    out = []
    for p in list_profiles():
        if p.variant is not None and not p.fitted:
            continue
        dtype = preset.dtype if preset.dtype in p.dtypes else p.default_dtype
        out.append((p.id, float(p.ridge_point(dtype)), bool(p.fitted)))
    return out


def ridge(models: Mapping[str, pd.DataFrame] | Iterable[str] = RIDGE_MODELS,
          rps: Sequence[float] | np.ndarray = SWEEP_RPS, preset: Preset | str = PAPER_PRESET, *,
          devices: Sequence[tuple[str, float, bool]] | None = None,
          highlight: str | None = None, title: str | None = None) -> Figure:
    """Predicted latency vs ridge point, one curve per model (log latency, symlog RP), and
    below it each model's latency relative to the fastest at that RP: the ranking every
    device with that ridge point agrees on, whichever of peak or bandwidth is held.

    The paper's panel points (RP 0/5/50/500) are marked; ``devices`` (default: every
    registered device and fitted variant) are drawn as ticks at their ridge points in a strip
    above the curves. ``highlight`` names a device id to emphasise (the ``--hw`` anchor).
    """
    preset = _pinned(get_preset(preset), models)
    tables = traced_tables(models, preset)
    grid = np.asarray(rps, dtype=float)
    df = preset.sweep(tables, grid)
    styles = model_styles(list(tables))
    lo, hi = float(grid.min()), float(grid.max())
    devs = _registry_devices(preset) if devices is None else list(devices)
    labels, outside = _strip_labels(devs, lo, hi)
    n_rows = max((row for _, _, row in labels), default=0) + 1
    strip_in = (n_rows * 10.5 + 22) / 72
    fig = new_figure(10, 7.6 + strip_in)
    strip, ax, rel = fig.subplots(3, 1, sharex=True, height_ratios=[strip_in, 4.2, 2.4])
    style_axes(ax)
    style_axes(rel)
    best = df.groupby("rp")["mac_equivalents"].transform("min")
    df["relative"] = np.divide(df["mac_equivalents"], best, out=np.ones(len(df)),
                               where=best.to_numpy() > 0)
    for name, part in df.groupby("model", sort=False):
        s = styles[name]
        kw = dict(color=s["color"], linestyle=s["linestyle"], linewidth=2,
                  marker=s["marker"] if len(part) <= 12 else None, markersize=5)
        (line,) = ax.plot(part["rp"], part["latency_s"] * 1e3, label=s["display"], **kw)
        line.set_gid(f"model:{name}")
        (line,) = rel.plot(part["rp"], part["relative"], **kw)
        line.set_gid(f"model:{name}")
    ax.set_yscale("log")
    log_ticks(ax, df["latency_s"] * 1e3, axis="y")
    _draw_strip(strip, labels, n_rows, highlight)
    rel.set_ylabel("Relative to the fastest\nat that RP (x)")
    rel.set_ylim(0.95, max(1.2, float(df["relative"].max()) * 1.05))
    ax.set_xscale("symlog", **_SYMLOG)
    ax.set_xlim(lo, hi * 1.02 if hi > 0 else 1)
    ticks = [t for t in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
             if lo <= t <= hi]
    ax.set_xticks(ticks)
    plain_log_formatter(ax, "x")
    ax.tick_params(axis="x", labelbottom=False)
    rel.set_xlabel("Ridge point (MACs/byte)  \u2014  compute-bound \u2190 \u2192 "
                   "bandwidth-starved")
    ax.set_ylabel("Predicted roofline latency (ms)")
    for rp, name in PAPER_PANELS.items():
        if lo <= rp <= hi:
            ax.axvline(rp, color="#bbbbbb", linestyle="--", linewidth=1, zorder=0)
            rel.axvline(rp, color="#bbbbbb", linestyle="--", linewidth=1, zorder=0)
            ax.annotate(name, (rp, 1), xycoords=("data", "axes fraction"), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8,
                        color=MUTED)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9,
              title="model", title_fontsize=9)

    notes = [preset.label]
    notes.append("Devices: ridge point at the preset's dtype where the device has it, else at "
                 "its default dtype."
                 + (f" Beyond the axis: {', '.join(outside)}." if outside else ""))
    footer(fig, *notes)
    fig.suptitle(title or "Predicted latency vs ridge point", fontsize=13, color=INK)
    return fig


_SYMLOG = {"base": 10, "linthresh": 5, "linscale": 0.5}


def _strip_labels(devs: Sequence[tuple[str, float, bool]], lo: float, hi: float,
                  axes_width_in: float = 7.0,
                  ) -> tuple[list[tuple[list[tuple[str, float, bool]], str, int]], list[str]]:
    """Stack device labels in rows so that no label overlaps another and no tick crosses a
    label (a label reads rightwards from its tick). Returns ([(devices, text, row)], the
    devices beyond the axis). Positions use the symlog x scale of :func:`ridge`."""
    t = SymmetricalLogScale(None, **_SYMLOG).get_transform()
    x0, x1 = t.transform([lo, hi * 1.02 if hi > 0 else 1.0])
    inside = sorted((d for d in devs if lo <= d[1] <= hi), key=lambda d: d[1])
    outside = [f"{d[0]} ({d[1]:.0f})" for d in devs if not lo <= d[1] <= hi]
    frac = [(float(t.transform([d[1]])[0]) - x0) / (x1 - x0) for d in inside]
    groups: list[list[int]] = []          # devices closer than a text line share one label
    for i, x in enumerate(frac):
        if groups and x - frac[groups[-1][0]] < 0.008:
            groups[-1].append(i)
        else:
            groups.append([i])
    char = 7 * 0.6 / 72 / axes_width_in   # one 7-pt character in axes fraction
    # right to left: each label takes the lowest row above every tick it covers, clear of
    # the labels beside it; labels may run into the empty margin on the right
    placed: list[tuple[float, float, int]] = []   # (label from = tick x, label to, row)
    labels = []
    for g in reversed(groups):
        text = _join_ids([inside[i][0] for i in g])
        a = frac[g[0]]
        b = a + (len(text) + 1) * char
        row = max([r + 1 for pa, _, r in placed if a <= pa <= b], default=0)
        while any(r == row and pa < b and a < pb for pa, pb, r in placed):
            row += 1
        placed.append((a, b, row))
        labels.append(([inside[i] for i in g], text, row))
    return labels, outside


def _draw_strip(ax: Axes, labels: Sequence[tuple[list[tuple[str, float, bool]], str, int]],
                n_rows: int, highlight: str | None) -> None:
    """Ticks at the devices' ridge points and their stacked labels (see _strip_labels)."""
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    ax.set_title("Registered devices at their ridge points (dashed: the paper's fitted RP)",
                 fontsize=8, color=MUTED, loc="left")
    ax.set_ylim(0, n_rows + 0.2)
    for group, text, row in labels:
        y = row + 0.6
        strong = highlight is not None and any(d[0] == highlight for d in group)
        fitted = all(d[2] for d in group)
        color = INK if strong else ("#0072B2" if fitted else MUTED)
        for _, rp, is_fitted in group:
            ax.plot([rp, rp], [0, y], color=color, linewidth=0.8,
                    linestyle="--" if is_fitted else "-")
        t = ax.text(group[0][1], y, " " + text, fontsize=7, color=color, ha="left",
                    va="center", fontweight="bold" if strong else "normal")
        t.set_in_layout(False)


def _join_ids(ids: Sequence[str]) -> str:
    """'pixel8_edgetpu', 'pixel8_edgetpu:fitted' -> 'pixel8_edgetpu, :fitted'."""
    out: list[str] = []
    for i in ids:
        base = i.split(":", 1)[0]
        if ":" in i and any(o.split(":", 1)[0] == base for o in out):
            out.append(":" + i.split(":", 1)[1])
        else:
            out.append(i)
    return " / ".join(out).replace(" / :", ", :")


def pareto_front(latency: Sequence[float], top1: Sequence[float]) -> np.ndarray:
    """Boolean mask of the models no other model beats on both latency and top-1."""
    lat = np.asarray(latency, dtype=float)
    acc = np.asarray(top1, dtype=float)
    front = np.ones(len(lat), dtype=bool)
    for i in range(len(lat)):
        better = (lat <= lat[i]) & (acc >= acc[i]) & ((lat < lat[i]) | (acc > acc[i]))
        front[i] = not better.any()
    return front


def pareto(models: Mapping[str, pd.DataFrame] | Iterable[str] = FIG2_MODELS,
           rps: Sequence[float] = FIG2_RPS, preset: Preset | str = PAPER_PRESET, *,
           title: str | None = None) -> Figure:
    """The paper's Fig. 2: predicted latency (log x) vs ImageNet top-1, one panel per ridge
    point, one line per family, the Pareto front (across all models) ringed and stepped.

    Models without a published top-1 are left out (named in the footer).
    """
    preset = _pinned(get_preset(preset), models)
    tables = traced_tables(models, preset)
    styles = model_styles(list(tables))
    tags = member_tags(list(tables))  # before the cut, so 'V1' stays 'V1' without 'V1-1.5x'
    missing = [styles[m]["display"] for m in tables if styles[m]["top1"] is None]
    tables = {m: t for m, t in tables.items() if styles[m]["top1"] is not None}
    if not tables:
        raise InputError("pareto needs models with a published top-1 (zoo models); none given")
    grid = [float(r) for r in rps]
    df = preset.sweep(tables, grid)
    df["top1"] = df["model"].map(lambda m: styles[m]["top1"])
    df["family"] = df["model"].map(lambda m: styles[m]["family"])
    fig = new_figure(3.4 * len(grid) + 1.2, 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(grid), sharey=True))
    families = list(dict.fromkeys(df["family"]))
    fam_colors = {styles[m]["family"]: styles[m]["color"] for m in tables}
    points: list[tuple[Axes, float, float, str, str]] = []
    for ax, rp in zip(axes, grid):
        style_axes(ax)
        part = df[df["rp"] == rp].copy()
        part["latency_ms"] = part["latency_s"] * 1e3
        front = pareto_front(part["latency_ms"], part["top1"])
        f = part[front].sort_values("latency_ms")
        ax.step(f["latency_ms"], f["top1"], where="post", color="#d0d0d0", linewidth=3,
                zorder=1, solid_capstyle="round", gid="pareto-front")
        for fam in families:
            members = part[part["family"] == fam].sort_values("latency_ms")
            ax.plot(members["latency_ms"], members["top1"], color=fam_colors[fam],
                    linewidth=1.5, zorder=2, gid=f"family:{fam}")
        for (_, row), on_front in zip(part.iterrows(), front):
            s = styles[row["model"]]
            ax.scatter([row["latency_ms"]], [row["top1"]], s=42, color=s["color"],
                       marker=s["marker"], zorder=3, edgecolors="black" if on_front else "white",
                       linewidths=1.2 if on_front else 0.5, gid=f"model:{row['model']}")
            points.append((ax, row["latency_ms"], row["top1"], tags[row["model"]], s["color"]))
        ax.set_xscale("log")
        log_ticks(ax, part["latency_ms"])
        name = PAPER_PANELS.get(rp)
        ax.set_title(f"{name}\nRP = {rp:g} MACs/byte" if name else f"RP = {rp:g} MACs/byte",
                     fontsize=10, color=INK)
        ax.set_xlabel("Predicted roofline latency (ms)", fontsize=9)
    axes[0].set_ylabel("ImageNet-1k top-1 (%)", fontsize=10)
    handles = [Line2D([], [], color=fam_colors[f], marker=family_marker(f), linewidth=1.5,
                      markersize=6, label=f) for f in families]
    handles.append(Line2D([], [], color="#d0d0d0", linewidth=3, label="Pareto front"))
    handles.append(Line2D([], [], linestyle="", marker="o", markerfacecolor="white",
                          markeredgecolor="black", label="on the front"))
    fig.legend(handles=handles, loc="outside right center", frameon=False, fontsize=9)
    notes = [preset.label, "Top-1: as published (zoo metadata); latency: this toolkit's "
             "roofline of the traced model."]
    if missing:
        notes.append("Left out (no published top-1): " + ", ".join(missing))
    footer(fig, *notes)
    fig.suptitle(title or "Roofline latency vs accuracy (MobileNetV4 Fig. 2)", fontsize=13,
                 color=INK)
    _place_tags(fig, points)  # last: the layout must be final
    return fig


def _place_tags(fig: Figure, points: Sequence[tuple[Axes, float, float, str, str]]) -> None:
    """Label points with small tags, each beside its marker where it covers no other marker
    and no other tag (tried: right-below, right-above, left-below, left-above)."""
    fig.draw_without_rendering()  # final layout, so data -> pixels is exact
    px = fig.dpi / 72
    centers = [ax.transData.transform((x, y)) for ax, x, y, _, _ in points]
    taken: list[tuple[float, float, float, float]] = []
    r = 5 * px  # marker radius
    for i, ((ax, x, y, tag, color), (cx, cy)) in enumerate(zip(points, centers)):
        w, h = len(tag) * 7 * 0.6 * px, 8 * px
        best = None
        for dx, dy, ha, va in ((5, -2, "left", "top"), (5, 3, "left", "bottom"),
                               (-5, -2, "right", "top"), (-5, 3, "right", "bottom")):
            x0 = cx + dx * px - (w if ha == "right" else 0)
            y0 = cy + dy * px - (h if va == "top" else 0)
            box = (x0, y0, x0 + w, y0 + h)
            hits = sum(1 for j, (ox, oy) in enumerate(centers) if j != i
                       and points[j][0] is ax and box[0] - r < ox < box[2] + r
                       and box[1] - r < oy < box[3] + r)
            hits += sum(1 for t in taken if t[0] < box[2] and box[0] < t[2]
                        and t[1] < box[3] and box[1] < t[3])
            if best is None or hits < best[0]:
                best = (hits, dx, dy, ha, va, box)
            if hits == 0:
                break
        _, dx, dy, ha, va, box = best
        taken.append(box)
        ax.annotate(tag, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7,
                    color=color, ha=ha, va=va, zorder=4,
                    path_effects=[withStroke(linewidth=2.5, foreground="white")])


def opcost(models: Mapping[str, pd.DataFrame] | Iterable[str] = FIG3_MODELS,
           rps: Sequence[float] = FIG3_RPS, preset: Preset | str = PAPER_PRESET, *,
           title: str | None = None) -> Figure:
    """The paper's Fig. 3: per-layer predicted latency (us) vs layer index, one row per
    ridge point and one column per model, bars coloured by op class (Conv2D, DW-Conv2D, FC,
    attention, other). Rows share their y axis, so models compare at a glance."""
    preset = _pinned(get_preset(preset), models)
    tables = traced_tables(models, preset)
    grid = [float(r) for r in rps]
    names = list(tables)
    if not names:
        raise InputError("opcost needs at least one model")
    styles = model_styles(names)
    fig = new_figure(3.3 * len(names) + 0.8, 2.6 * len(grid) + 1.2)
    axes = np.atleast_2d(fig.subplots(len(grid), len(names), sharey="row", squeeze=False))
    used: set[str] = set()
    for j, name in enumerate(names):
        applied = preset.apply(tables[name])
        classes = op_class(applied).to_numpy()
        used |= set(classes)
        lat = preset.layer_latencies(tables[name], grid).to_numpy() * 1e6
        x = np.arange(len(applied))
        colors = [OP_COLORS[c] for c in classes]
        for i, rp in enumerate(grid):
            ax = axes[i, j]
            style_axes(ax)
            ax.grid(False, axis="x")
            bars = ax.bar(x, lat[:, i], width=0.85, color=colors, linewidth=0,
                          gid=f"model:{name}")
            bars.set_label(f"model:{name}")
            ax.set_xlim(-1, len(x))
            total = lat[:, i].sum() / 1e6
            head = f"{styles[name]['display']}\n" if i == 0 else ""
            ax.set_title(f"{head}total {ms_label(total)}", fontsize=9, color=INK)
            if j == 0:
                ax.set_ylabel(f"{rp_name(rp)}\nlatency (\u00b5s)", fontsize=9)
            if i == len(grid) - 1:
                ax.set_xlabel("Layer index", fontsize=9)
    handles = [Patch(color=OP_COLORS[c], label=c) for c in OP_CLASSES if c in used]
    fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize=9,
               title="op class", title_fontsize=9)
    notes = [preset.label,
             "FC includes 1x1 convs on a 1x1 input (after global pooling, squeeze-excite)."]
    footer(fig, *notes)
    fig.suptitle(title or "Op cost vs ridge point (MobileNetV4 Fig. 3)", fontsize=13,
                 color=INK)
    return fig

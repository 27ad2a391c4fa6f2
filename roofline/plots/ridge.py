"""The ridge-point sweep: predicted latency vs ridge point, one curve per model, and the
registered devices at their ridge points in a strip above (fitted ones blue and dashed).

Returns a :class:`matplotlib.figure.Figure` built without pyplot; its footer names the preset
(:mod:`roofline.latency.presets`). Models are a mapping ``name -> layer table`` or names,
traced here (:func:`roofline.plots.tables.traced_tables`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.scale import SymmetricalLogScale

from roofline.hardware.registry import HardwareProfile
from roofline.latency.presets import PAPER_PANELS, PAPER_PRESET, Preset, get_preset
from roofline.models.figure_sets import RIDGE_MODELS
from roofline.plots.style import (FITTED_COLOR, INK, MUTED, fit_suptitle, footer, log_ticks,
                                  model_styles, new_figure, plain_log_formatter, style_axes)
from roofline.plots.tables import figure_profiles, traced_tables

__all__ = ["SWEEP_RPS", "ridge", "pinned"]

SWEEP_RPS = np.arange(0.0, 501.0, 5.0)


def pinned(preset: Preset, models: Any) -> Preset:
    """The preset with its dtype fixed to the one names are traced at (fp32 when the preset
    leaves it to a device and none is given), so the label says what was counted."""
    if preset.dtype is None and not isinstance(models, Mapping):
        return preset.pinned()
    return preset


def _registry_devices(preset: Preset, also: str | HardwareProfile | None = None,
                      ) -> tuple[list[tuple[str, float, bool]], list[str]]:
    """((label, ridge point, fitted) of every base device and every fitted variant, the ids
    left out as measured on a local machine), with the device ``also`` shown whatever it is."""
    shown, left_out = figure_profiles()
    if also is not None and getattr(also, "id", also) not in {p.id for p in shown}:
        extra, _ = figure_profiles([also])
        shown, left_out = shown + extra, [i for i in left_out if i != extra[0].id]
    out = []
    for p in shown:
        if p.variant is not None and not p.fitted:
            continue
        dtype = preset.dtype if preset.dtype in p.dtypes else p.default_dtype
        out.append((p.id, float(p.ridge_point(dtype)), bool(p.fitted)))
    return out, left_out


def ridge(models: Mapping[str, pd.DataFrame] | Iterable[str] = RIDGE_MODELS,
          rps: Sequence[float] | np.ndarray = SWEEP_RPS, preset: Preset | str = PAPER_PRESET, *,
          devices: Sequence[tuple[str, float, bool]] | None = None,
          highlight: str | HardwareProfile | None = None, title: str | None = None,
          trace_options: Mapping[str, Any] | None = None) -> Figure:
    """Predicted latency vs ridge point, one curve per model (log latency, symlog RP), and
    below it each model's latency relative to the fastest at that RP: the ranking every
    device with that ridge point agrees on, whichever of peak or bandwidth is held.

    The paper's panel points (RP 0/5/50/500) are marked; ``devices`` (default: every
    registered device and fitted variant) are drawn as ticks at their ridge points in a strip
    above the curves. ``highlight`` is a device (id or profile) to emphasise (the ``--hw``
    anchor), drawn even when figures leave it out by default.
    """
    preset = pinned(get_preset(preset), models)
    tables = traced_tables(models, preset, trace_options=trace_options)
    grid = np.asarray(rps, dtype=float)
    df = preset.sweep(tables, grid)
    styles = model_styles(list(tables))
    lo, hi = float(grid.min()), float(grid.max())
    devs, left_out = _registry_devices(preset, highlight) if devices is None else \
        (list(devices), [])
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
    fitted_note = " (blue dashed: fitted to measured latencies)" if any(d[2] for d in devs) else ""
    _draw_strip(strip, labels, n_rows, getattr(highlight, "id", highlight),
                ("Registered devices" if devices is None else "Devices")
                + f" at their ridge points{fitted_note}")
    rel.set_ylabel("Relative to the fastest\nat that RP (x)")
    top = max(1.2, float(df["relative"].max()) * 1.05)
    rel.set_ylim(1 - 0.06 * (top - 1) - 0.02, top)  # the fastest model's 1.0 clear of the axis
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
                 + (f" Beyond the axis: {', '.join(outside)}." if outside else "")
                 + (f" Left out, measured on a local machine by `roofline bench`: "
                    f"{', '.join(left_out)} (name one with --hw to show it)." if left_out else ""))
    footer(fig, *notes)
    fit_suptitle(fig, title or "Predicted latency vs ridge point")
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
                n_rows: int, highlight: str | None, title: str) -> None:
    """Ticks at the devices' ridge points and their stacked labels (see _strip_labels)."""
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    ax.set_title(title, fontsize=8, color=MUTED, loc="left")
    ax.set_ylim(0, n_rows + 0.2)
    for group, text, row in labels:
        y = row + 0.6
        strong = highlight is not None and any(d[0] == highlight for d in group)
        fitted = all(d[2] for d in group)
        color = INK if strong else (FITTED_COLOR if fitted else MUTED)
        for _, rp, is_fitted in group:
            ax.plot([rp, rp], [0, y], color=FITTED_COLOR if is_fitted else color,
                    linewidth=0.8, linestyle="--" if is_fitted else "-")
        t = ax.text(group[0][1], y, " " + text, fontsize=7, color=color, ha="left",
                    va="center", fontweight="bold" if strong else "normal")
        t.set_in_layout(False)


def _join_ids(ids: Sequence[str]) -> str:
    """One label for devices at the same ridge point: 'pixel4_dsp:fitted' -> 'pixel4_dsp
    (fitted)'; a base and its own variant -> 'pixel8_edgetpu (also fitted)'."""
    bases = [i for i in ids if ":" not in i]
    out: list[str] = []
    for i in ids:
        base, _, variant = i.partition(":")
        if not variant:
            twins = [v for v in ids if v.startswith(base + ":")]
            out.append(f"{base} (also {', '.join(v.partition(':')[2] for v in twins)})"
                       if twins else base)
        elif base not in bases:
            out.append(f"{base} ({variant})")
    return " / ".join(out)

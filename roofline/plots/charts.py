"""Charts of one model on devices: the classic roofline on one device (a dot per layer) and
the model's latency on several devices, split into compute- and memory-bound time.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot; its footer
names the preset. Latency comes from :mod:`roofline.latency` (one equation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from roofline.analysis import resolve_roof
from roofline.errors import InputError
from roofline.latency.devices import model_on_devices
from roofline.latency.equation import layer_times
from roofline.latency.presets import DEFAULT_PRESET, OP_CLASSES, Preset, get_preset, op_class
from roofline.models.figure_sets import ONE_MODEL
from roofline.models.labels import model_info
from roofline.plots.style import (DISTINCT, INK, MUTED, OP_COLORS, fit_suptitle, footer,
                                  log_ticks, model_styles, new_figure, plain_log_formatter,
                                  style_axes)
from roofline.plots.tables import figure_profiles, traced_tables
from roofline.units import ms_label, si

__all__ = ["roofline", "device_latencies", "devices"]


def roofline(model: Mapping[str, pd.DataFrame] | str = ONE_MODEL, hw: Any = "pixel8_cpu",
             preset: Preset | str = DEFAULT_PRESET, *, dtype: str | None = None,
             title: str | None = None, trace_options: Mapping[str, Any] | None = None) -> Figure:
    """The classic roofline of one model on one device: attainable MACs/s vs operational
    intensity (log-log), the roof, the ridge point, and a dot per layer at its achieved
    MACs/s (MACs / predicted time), its area proportional to its share of the time."""
    preset = get_preset(preset)
    roof, _, d = resolve_roof(hw, dtype or preset.dtype)
    preset = preset.with_(dtype=d).anchored(roof)
    tables = traced_tables(model if isinstance(model, Mapping) else [model], preset, roof,
                           trace_options)
    if len(tables) != 1:
        raise InputError(f"the roofline chart shows one model; got {len(tables)}")
    name, table = next(iter(tables.items()))
    layers = layer_times(preset.apply(table), roof)
    total = float(layers["latency_s"].sum())
    peak = roof.peak_macs_per_s * roof.compute_efficiency
    bw = roof.mem_bw_bytes_per_s * roof.memory_efficiency
    ridge_rp = peak / bw

    fig = new_figure(9, 6.2)
    ax = fig.subplots()
    style_axes(ax)
    shown = layers[(layers["macs"] > 0) & (layers["intensity"] > 0)]
    hidden = layers.drop(shown.index)
    x_lo = max(min(shown["intensity"].min() if len(shown) else 1, ridge_rp) / 4, 1e-2)
    x_hi = max(shown["intensity"].max() * 4 if len(shown) else 1, ridge_rp * 8)
    xs = np.geomspace(x_lo, x_hi, 200)
    ax.plot(xs, np.minimum(peak, xs * bw), color=INK, linewidth=2.2, label="roof", zorder=2)
    if roof.compute_efficiency != 1 or roof.memory_efficiency != 1:
        ax.plot(xs, np.minimum(roof.peak_macs_per_s, xs * roof.mem_bw_bytes_per_s),
                color=MUTED, linewidth=1, linestyle=":", label="peak (before efficiency)")
    ax.axvline(ridge_rp, color=MUTED, linestyle="--", linewidth=1, zorder=1)
    ax.annotate(f"ridge point {ridge_rp:.3g} MACs/B", (ridge_rp, 0.02),
                xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                fontsize=8, color=MUTED, rotation=90, va="bottom", ha="left")
    ax.annotate("\u2190 memory-bound", (ridge_rp, 0.97), xycoords=("data", "axes fraction"),
                xytext=(-6, 0), textcoords="offset points", fontsize=9, color=MUTED,
                va="top", ha="right")
    ax.annotate("compute-bound \u2192", (ridge_rp, peak), xytext=(6, 8),
                textcoords="offset points", fontsize=9, color=MUTED, va="bottom", ha="left")
    classes = op_class(shown)
    share = shown["latency_s"] / total if total else shown["latency_s"] * 0
    sizes = 10 + 1500 * share.to_numpy()
    achieved = shown["macs"] / shown["latency_s"]
    pts = ax.scatter(shown["intensity"], achieved, s=sizes,
                     c=[OP_COLORS[c] for c in classes], alpha=0.75, edgecolors="white",
                     linewidths=0.5, zorder=3)
    pts.set_gid(f"model:{name}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    ymin = min(float(achieved.min()) if len(shown) else peak, peak) / 5
    ax.set_ylim(ymin, peak * 3)
    ax.set_xlabel("Operational intensity (MACs/byte)")
    ax.set_ylabel("Attainable performance (MACs/s)")
    plain_log_formatter(ax, "x")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: si(v, "")))
    ax.yaxis.set_minor_formatter(NullFormatter())
    class_handles = [Line2D([], [], linestyle="", marker="o", markersize=7,
                            markerfacecolor=OP_COLORS[c], markeredgecolor="white", label=c)
                     for c in OP_CLASSES if c in set(classes)]
    size_handles = [Line2D([], [], linestyle="", marker="o", color="#aaaaaa",
                           markersize=math.sqrt(10 + 1500 * s), label=f"{s:.0%} of time")
                    for s in (0.01, 0.05, 0.2)]
    ax.legend(handles=[Line2D([], [], color=INK, linewidth=2.2, label="roof"),
                       *class_handles, *size_handles],
              loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9,
              labelspacing=1.1)
    fitted = " [fitted]" if roof.fitted and "fitted" not in roof.name.lower() else ""
    display = model_info(name)["display"]
    sub = (f"{roof.name}{fitted}, {roof.dtype}: peak {si(peak, 'MAC/s')}, "
           f"DRAM {si(bw, 'B/s')}; predicted {ms_label(total)}")
    notes = [f"preset: {preset.name} \u2014 {preset.rules()}"]
    if len(hidden):
        hs = float(hidden["latency_s"].sum()) / total if total else 0.0
        notes.append(f"Not drawn: {len(hidden)} layers without MACs (pooling, adds, ...), "
                     f"{hs:.0%} of the predicted time.")
    footer(fig, *notes)
    fit_suptitle(fig, title or f"Roofline: {display} on {roof.hardware_id}")
    ax.set_title(sub, fontsize=9, color=MUTED)
    return fig


def device_latencies(model: str | pd.DataFrame, preset: Preset | str = DEFAULT_PRESET,
                     devices: Iterable[Any] | None = None,
                     trace_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One model on every device (or on ``devices``: ids or profiles): columns
    ``hardware_id``, ``name``, ``kind``, ``dtype``, ``fitted``, ``ridge_point``,
    ``latency_s``, ``compute_bound_s``, ``memory_bound_s``, ``memory_bound_fraction``
    (:func:`roofline.latency.devices.model_on_devices`).

    Each device runs at the preset's dtype when it has a peak for it, else at its default
    dtype. A model name is traced once per dtype; a layer table is used as is. Without
    ``devices``, profiles measured on a local machine are left out (``df.attrs["left_out"]``,
    :func:`roofline.plots.tables.figure_profiles`).
    """
    preset = get_preset(preset)
    profiles, left_out = figure_profiles(devices)
    roofs = {p.id: p.roof(preset.dtype if preset.dtype in p.dtypes else p.default_dtype)
             for p in profiles}

    def table_for(dtype: str) -> pd.DataFrame:
        if isinstance(model, pd.DataFrame):
            return preset.apply(model)
        return preset.apply(traced_tables([model], preset.with_(dtype=dtype),
                                          trace_options=trace_options)[model])

    df = model_on_devices(table_for, roofs).rename(columns={"device": "hardware_id"})
    info = pd.DataFrame([{"name": p.name, "kind": p.kind, "fitted": bool(roofs[p.id].fitted)}
                         for p in profiles], index=range(len(profiles)))
    df = pd.concat([df, info], axis=1)
    df = df[["hardware_id", "name", "kind", "dtype", "fitted", "ridge_point", "latency_s",
             "compute_bound_s", "memory_bound_s", "memory_bound_fraction"]]
    df.attrs["left_out"] = left_out
    return df


def _named(models: Any, label: str | None) -> dict[str, str | pd.DataFrame]:
    """Models as name -> model (a name to trace, or a layer table)."""
    if isinstance(models, pd.DataFrame):
        return {label or "model": models}
    if isinstance(models, str):
        return {models: models}
    if isinstance(models, Mapping):
        return dict(models)
    return {m: m for m in dict.fromkeys(models)}


def _and(words: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def devices(models: str | pd.DataFrame | Iterable[str] | Mapping[str, pd.DataFrame] = ONE_MODEL,
            preset: Preset | str = DEFAULT_PRESET, *, devices: Iterable[Any] | None = None,
            label: str | None = None, title: str | None = None,
            trace_options: Mapping[str, Any] | None = None) -> Figure:
    """Models' predicted latency on every registered device, or on ``devices`` (left, log ms,
    a bar per model), and where the time goes (right: for one model its split into compute-
    and memory-bound layers, for several each one's memory-bound share).

    ``models``: a name, several names, a layer table (named ``label``) or name -> table.
    Without ``devices``, profiles measured on a local machine by ``roofline bench`` are left
    out (named in the footer).
    """
    preset = get_preset(preset)
    named = _named(models, label)
    if not named:
        raise InputError("the devices chart needs at least one model")
    device_list = None if devices is None else list(devices)
    frames = {n: device_latencies(m, preset, device_list, trace_options)
              for n, m in named.items()}
    first = next(iter(frames.values()))
    if first.empty:
        raise InputError("no devices to draw")
    first = first.sort_values("latency_s", ascending=False, kind="stable").reset_index(drop=True)
    order = list(first["hardware_id"])
    frames = {n: f.set_index("hardware_id").loc[order].reset_index() for n, f in frames.items()}
    styles = model_styles([n for n in named])
    displays = {n: styles[n]["display"] for n in named}
    k = len(named)
    colors = {n: DISTINCT[i % len(DISTINCT)] for i, n in enumerate(named)}  # bars side by side
    fig = new_figure(11, 0.3 * len(order) * max(1.0, 0.45 * k) + 2.4)
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    y = np.arange(len(order))
    labels = [f"{r.hardware_id}{' [fitted]' if r.fitted and 'fitted' not in r.hardware_id else ''}"
              f"  {r.kind.upper()} {r.dtype}" for r in first.itertuples()]
    style_axes(left)
    style_axes(right)
    left.grid(False, axis="y")
    right.grid(False, axis="y")
    height = 0.7 / k
    for j, (name, df) in enumerate(frames.items()):
        offset = (k - 1 - 2 * j) * height / 2   # the first model on top within a row
        color = "#8c8c8c" if k == 1 else colors[name]
        bars = left.barh(y + offset, df["latency_s"] * 1e3, color=color, height=height * 0.92,
                         label=displays[name])
        for bar, r in zip(bars, df.itertuples()):
            bar.set_gid(f"device:{r.hardware_id}")
            left.annotate(ms_label(r.latency_s),
                          (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                          xytext=(3, 0), textcoords="offset points", va="center",
                          fontsize=7 if k < 3 else 6, color=INK)
        total = df["latency_s"].to_numpy()
        c_share = np.divide(df["compute_bound_s"], total, out=np.zeros(len(df)), where=total > 0)
        if k == 1:
            right.barh(y, c_share * 100, color="#0072B2", height=0.7)
            right.barh(y, (1 - c_share) * 100, left=c_share * 100, color="#E69F00", height=0.7)
        else:
            right.barh(y + offset, (1 - c_share) * 100, color=color, height=height * 0.92)
    every = pd.concat(frames.values())["latency_s"] * 1e3
    left.set_xscale("log")
    log_ticks(left, list(every) + [every.max() * 3])
    left.set_yticks(y, labels, fontsize=8)
    left.set_xlabel("Predicted latency (ms, log scale)", fontsize=9)
    right.set_xlim(0, 100)
    left.set_ylim(-0.6, len(order) - 0.4)
    above = {"loc": "lower center", "bbox_to_anchor": (0.5, 1.0), "frameon": False,
             "fontsize": 9}
    if k == 1:
        left.set_title("Predicted latency", fontsize=10, color=INK)
        right.set_xlabel("Share of the predicted time (%)", fontsize=9)
        right.legend(handles=[Patch(color="#0072B2", label="compute-bound layers"),
                              Patch(color="#E69F00", label="memory-bound layers")],
                     ncols=2, **above)
    else:
        left.legend(handles=[Patch(color=colors[n], label=displays[n]) for n in named],
                    ncols=min(k, 4), **above)
        right.set_xlabel("Share of the time in memory-bound layers (%)", fontsize=9)
        right.set_title("Memory-bound share", fontsize=10, color=INK)
    left_out = first.attrs.get("left_out", [])
    notes = [f"preset: {preset.name} \u2014 {preset.rules('device dtype')}; each device at its "
             "own peak and bandwidth, at the preset's dtype where it has a peak, else its "
             "default dtype; efficiency factors and per-layer overheads of profiles applied."]
    if left_out:
        notes.append("Left out, measured on a local machine by `roofline bench`: "
                     f"{', '.join(left_out)} (name it with --hw to show it).")
    footer(fig, *notes)
    who = _and(list(displays.values())) if k <= 3 else f"{k} models"
    if device_list is None:
        where = "the registered devices"
    else:
        where = _and(order[::-1]) if len(order) <= 4 else f"{len(order)} devices"
    fit_suptitle(fig, title or f"{who} on {where}")
    return fig

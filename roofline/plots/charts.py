"""Charts of one model on devices: the classic roofline on one device (a dot per layer) and
the model's latency on several devices, split into compute- and memory-bound time.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot; its footer
names the preset. Latency comes from :mod:`roofline.latency` (one equation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from roofline.analysis import resolve_roof
from roofline.errors import InputError
from roofline.hardware.registry import get_profile, list_profiles
from roofline.latency.devices import model_on_devices
from roofline.latency.equation import layer_times
from roofline.latency.presets import DEFAULT_PRESET, OP_CLASSES, Preset, get_preset, op_class
from roofline.models.figure_sets import ONE_MODEL
from roofline.models.labels import model_info
from roofline.plots.style import (INK, MUTED, OP_COLORS, footer, log_ticks, new_figure,
                                  plain_log_formatter, style_axes)
from roofline.plots.tables import traced_tables
from roofline.units import ms_label, si

__all__ = ["roofline", "device_latencies", "devices"]


def roofline(model: Mapping[str, pd.DataFrame] | str = ONE_MODEL, hw: Any = "pixel8_cpu",
             preset: Preset | str = DEFAULT_PRESET, *, dtype: str | None = None,
             title: str | None = None) -> Figure:
    """The classic roofline of one model on one device: attainable MACs/s vs operational
    intensity (log-log), the roof, the ridge point, and a dot per layer at its achieved
    MACs/s (MACs / predicted time), its area proportional to its share of the time."""
    preset = get_preset(preset)
    roof, _, d = resolve_roof(hw, dtype or preset.dtype)
    preset = preset.with_(dtype=d).anchored(roof)
    tables = traced_tables(model if isinstance(model, Mapping) else [model], preset, roof)
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
    ax.annotate("compute-bound \u2192", (ridge_rp, peak), xytext=(6, -6),
                textcoords="offset points", fontsize=9, color=MUTED, va="top", ha="left")
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
    fig.suptitle(title or f"Roofline: {display} on {roof.hardware_id}", fontsize=13,
                 color=INK)
    ax.set_title(sub, fontsize=9, color=MUTED)
    return fig


def device_latencies(model: str | pd.DataFrame, preset: Preset | str = DEFAULT_PRESET,
                     devices: Iterable[Any] | None = None) -> pd.DataFrame:
    """One model on every device (or on ``devices``: ids or profiles): columns
    ``hardware_id``, ``name``, ``kind``, ``dtype``, ``fitted``, ``ridge_point``,
    ``latency_s``, ``compute_bound_s``, ``memory_bound_s``, ``memory_bound_fraction``
    (:func:`roofline.latency.devices.model_on_devices`).

    Each device runs at the preset's dtype when it has a peak for it, else at its default
    dtype. A model name is traced once per dtype; a layer table is used as is.
    """
    preset = get_preset(preset)
    profiles = list_profiles() if devices is None else [
        p if hasattr(p, "roof") else get_profile(p) for p in devices]
    profiles = list({p.id: p for p in profiles}.values())
    roofs = {p.id: p.roof(preset.dtype if preset.dtype in p.dtypes else p.default_dtype)
             for p in profiles}

    def table_for(dtype: str) -> pd.DataFrame:
        if isinstance(model, pd.DataFrame):
            return preset.apply(model)
        return preset.apply(traced_tables([model], preset.with_(dtype=dtype))[model])

    df = model_on_devices(table_for, roofs).rename(columns={"device": "hardware_id"})
    info = pd.DataFrame([{"name": p.name, "kind": p.kind, "fitted": bool(roofs[p.id].fitted)}
                         for p in profiles], index=range(len(profiles)))
    df = pd.concat([df, info], axis=1)
    return df[["hardware_id", "name", "kind", "dtype", "fitted", "ridge_point", "latency_s",
               "compute_bound_s", "memory_bound_s", "memory_bound_fraction"]]


def devices(model: str | pd.DataFrame = ONE_MODEL, preset: Preset | str = DEFAULT_PRESET, *,
            devices: Iterable[Any] | None = None, label: str | None = None,
            title: str | None = None) -> Figure:
    """One model's predicted latency on every registered device (left, log ms) and how that
    time splits into compute-bound and memory-bound layers (right, share of the time)."""
    preset = get_preset(preset)
    df = device_latencies(model, preset, devices)
    if df.empty:
        raise InputError("no devices to draw")
    df = df.sort_values("latency_s", ascending=False).reset_index(drop=True)
    name = label or (model if isinstance(model, str) else "model")
    display = model_info(name)["display"] if isinstance(model, str) else name
    fig = new_figure(11, 0.3 * len(df) + 2.2)
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    y = np.arange(len(df))
    labels = [f"{r.hardware_id}{' [fitted]' if r.fitted and 'fitted' not in r.hardware_id else ''}"
              f"  {r.kind.upper()} {r.dtype}" for r in df.itertuples()]
    style_axes(left)
    style_axes(right)
    left.grid(False, axis="y")
    right.grid(False, axis="y")
    bars = left.barh(y, df["latency_s"] * 1e3, color="#8c8c8c", height=0.7)
    for bar, r in zip(bars, df.itertuples()):
        bar.set_gid(f"device:{r.hardware_id}")
        left.annotate(ms_label(r.latency_s), (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                      xytext=(3, 0), textcoords="offset points", va="center", fontsize=7,
                      color=INK)
    left.set_xscale("log")
    log_ticks(left, list(df["latency_s"] * 1e3) + [df["latency_s"].max() * 1e3 * 3])
    left.set_yticks(y, labels, fontsize=8)
    left.set_xlabel("Predicted latency (ms, log scale)", fontsize=9)
    left.set_title("Predicted latency", fontsize=10, color=INK)
    total = df["latency_s"].to_numpy()
    c_share = np.divide(df["compute_bound_s"], total, out=np.zeros(len(df)), where=total > 0)
    right.barh(y, c_share * 100, color="#0072B2", height=0.7, label="compute-bound layers")
    right.barh(y, (1 - c_share) * 100, left=c_share * 100, color="#E69F00", height=0.7,
               label="memory-bound layers")
    right.set_xlim(0, 100)
    left.set_ylim(-0.6, len(df) - 0.4)
    right.set_xlabel("Share of the predicted time (%)", fontsize=9)
    right.set_title("Where the time goes", fontsize=10, color=INK)
    fig.legend(handles=[Patch(color="#0072B2", label="compute-bound layers"),
                        Patch(color="#E69F00", label="memory-bound layers")],
               loc="outside upper right", ncols=2, frameon=False, fontsize=8)
    footer(fig, f"preset: {preset.name} \u2014 {preset.rules('device dtype')}; each device at "
            "its own peak and bandwidth, at the preset's dtype where it has a peak, else its "
            "default dtype; efficiency factors and per-layer overheads of profiles applied.")
    fig.suptitle(title or f"{display} on every registered device", fontsize=13, color=INK)
    return fig

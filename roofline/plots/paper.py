"""The MobileNetV4 paper's Figs. 2 and 3, redrawn from our roofline, for any models.

- :func:`pareto`  Fig. 2: latency vs top-1 at each ridge point (or on each named device),
  one line per family, the Pareto front ringed and stepped;
- :func:`opcost`  Fig. 3: per-layer latency vs layer index, coloured by op class.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot; its footer
names the preset that produced the numbers (:mod:`roofline.latency.presets`). Models are a
mapping ``name -> layer table`` or names, traced here
(:func:`roofline.plots.tables.traced_tables`). A title cites the paper's figure only when the
figure is the paper's: its models under the paper preset.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from roofline.errors import InputError
from roofline.latency.devices import model_on_devices
from roofline.latency.presets import (OP_CLASSES, PAPER_PANELS, PAPER_PRESET, Preset, get_preset,
                                      op_class)
from roofline.models.figure_sets import FIG2_MODELS, FIG3_MODELS, available
from roofline.models.labels import member_tags
from roofline.plots.labels import place_tags
from roofline.plots.ridge import pinned
from roofline.plots.style import (INK, OP_COLORS, family_marker, fit_suptitle, footer,
                                  log_ticks, model_styles, new_figure, rp_name, style_axes)
from roofline.plots.tables import figure_profiles, traced_tables
from roofline.units import ms_label

__all__ = ["FIG2_RPS", "FIG3_RPS", "pareto", "pareto_front", "pareto_latencies", "opcost"]

FIG2_RPS = (0.0, 5.0, 50.0, 500.0)
FIG3_RPS = (5.0, 500.0)


def pareto_front(latency: Sequence[float], top1: Sequence[float]) -> np.ndarray:
    """Boolean mask of the models no other model beats on both latency and top-1."""
    lat = np.asarray(latency, dtype=float)
    acc = np.asarray(top1, dtype=float)
    front = np.ones(len(lat), dtype=bool)
    for i in range(len(lat)):
        better = (lat <= lat[i]) & (acc >= acc[i]) & ((lat < lat[i]) | (acc > acc[i]))
        front[i] = not better.any()
    return front


def pareto_latencies(models: Mapping[str, pd.DataFrame] | Iterable[str], preset: Preset,
                     rps: Sequence[float] = FIG2_RPS, devices: Iterable[Any] | None = None,
                     trace_options: Mapping[str, Any] | None = None,
                     ) -> tuple[pd.DataFrame, dict[Any, str], Preset]:
    """(a frame with ``model``, ``panel`` and ``latency_s``, panel -> its title, the preset
    as counted). Panels are ridge points of a sweep, or with ``devices`` the devices (ids,
    ``id:variant``, YAML paths), each model at the preset's dtype where the device has a peak
    for it, else at the device's default dtype, on the device's own roof."""
    if devices is None:
        preset = pinned(preset, models)
        tables = traced_tables(models, preset, trace_options=trace_options)
        grid = [float(r) for r in rps]
        df = preset.sweep(tables, grid).rename(columns={"rp": "panel"})
        titles = {rp: (f"{PAPER_PANELS[rp]}\nRP = {rp:g} MACs/byte" if rp in PAPER_PANELS
                       else f"RP = {rp:g} MACs/byte") for rp in grid}
        return df[["model", "panel", "latency_s"]], titles, preset
    profiles, _ = figure_profiles(devices)
    roofs = {p.id: p.roof(preset.dtype if preset.dtype in p.dtypes else p.default_dtype)
             for p in profiles}
    by_dtype: dict[str, dict[str, pd.DataFrame]] = {}

    def tables_at(dtype: str) -> dict[str, pd.DataFrame]:
        if dtype not in by_dtype:
            by_dtype[dtype] = traced_tables(models, preset.with_(dtype=dtype),
                                            trace_options=trace_options)
        return by_dtype[dtype]

    names = list(models if isinstance(models, Mapping) else dict.fromkeys(models))
    frames = []
    for name in names:
        on = model_on_devices(lambda d, n=name: preset.apply(tables_at(d)[n]), roofs)
        frames.append(on.assign(model=name).rename(columns={"device": "panel"}))
    titles = {pid: f"{textwrap.fill(p.name, 44)}\n{pid}, {roofs[pid].dtype}"
              for pid, p in zip(roofs, profiles)}
    return pd.concat(frames)[["model", "panel", "latency_s"]], titles, preset


def pareto(models: Mapping[str, pd.DataFrame] | Iterable[str] = FIG2_MODELS,
           rps: Sequence[float] = FIG2_RPS, preset: Preset | str = PAPER_PRESET, *,
           devices: Iterable[Any] | None = None, title: str | None = None,
           trace_options: Mapping[str, Any] | None = None) -> Figure:
    """The paper's Fig. 2: predicted latency (log x) vs ImageNet top-1, one panel per ridge
    point (or, with ``devices``, per device, titled by its name), one line per family, the
    Pareto front (across all models) ringed and stepped.

    Models without a published top-1 are left out (named in the footer).
    """
    preset = get_preset(preset)
    names = list(models if isinstance(models, Mapping) else dict.fromkeys(
        [models] if isinstance(models, str) else models))
    styles = model_styles(names)
    tags = member_tags(names)  # before the cut, so 'V1' stays 'V1' without 'V1-1.5x'
    missing = [styles[m]["display"] for m in names if styles[m]["top1"] is None]
    keep = [m for m in names if styles[m]["top1"] is not None]
    if not keep:
        raise InputError("pareto needs models with a published top-1 (zoo models); none given")
    kept = {m: models[m] for m in keep} if isinstance(models, Mapping) else keep
    df, panel_titles, preset = pareto_latencies(kept, preset, rps, devices, trace_options)
    df["top1"] = df["model"].map(lambda m: styles[m]["top1"])
    df["family"] = df["model"].map(lambda m: styles[m]["family"])
    panels = list(panel_titles)
    fig = new_figure(3.4 * len(panels) + 1.2, 4.6 + (0.3 if devices is not None else 0))
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    families = list(dict.fromkeys(df["family"]))
    fam_colors = {styles[m]["family"]: styles[m]["color"] for m in keep}
    points: list[tuple[Axes, float, float, str, str]] = []
    for ax, key in zip(axes, panels):
        style_axes(ax)
        part = df[df["panel"] == key].copy()
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
        ax.set_title(panel_titles[key], fontsize=10 if devices is None else 9, color=INK)
        ax.set_xlabel("Predicted roofline latency (ms)", fontsize=9)
    axes[0].set_ylabel("ImageNet-1k top-1 (%)", fontsize=10)
    handles = [Line2D([], [], color=fam_colors[f], marker=family_marker(f), linewidth=1.5,
                      markersize=6, label=f) for f in families]
    handles.append(Line2D([], [], color="#d0d0d0", linewidth=3, label="Pareto front"))
    handles.append(Line2D([], [], linestyle="", marker="o", markerfacecolor="white",
                          markeredgecolor="black", label="on the front"))
    fig.legend(handles=handles, loc="outside right center", frameon=False, fontsize=9)
    if devices is None:
        notes = [preset.label]
    else:
        notes = [f"preset: {preset.name} \u2014 {preset.rules('device dtype')}; each device at "
                 "its own peak and bandwidth (efficiency factors and per-layer overheads of "
                 "fitted profiles applied)."]
    notes.append("Top-1: as published (zoo metadata); latency: this toolkit's roofline of the "
                 "traced model.")
    if missing:
        notes.append("Left out (no published top-1): " + ", ".join(missing))
    footer(fig, *notes)
    paper = (devices is None and preset.name == "paper"
             and set(names) == set(available(FIG2_MODELS)[0]))
    fit_suptitle(fig, title or "Roofline latency vs accuracy"
                 + (" (MobileNetV4 Fig. 2)" if paper else ""))
    place_tags(fig, points)  # last: the layout must be final
    return fig


# --------------------------------------------------------------------------- opcost (Fig. 3)


def opcost(models: Mapping[str, pd.DataFrame] | Iterable[str] = FIG3_MODELS,
           rps: Sequence[float] = FIG3_RPS, preset: Preset | str = PAPER_PRESET, *,
           title: str | None = None, trace_options: Mapping[str, Any] | None = None) -> Figure:
    """The paper's Fig. 3: per-layer predicted latency (us) vs layer index, one row per
    ridge point and one column per model, bars coloured by op class (Conv2D, DW-Conv2D, FC,
    attention, other). Rows share their y axis, so models compare at a glance."""
    preset = pinned(get_preset(preset), models)
    tables = traced_tables(models, preset, trace_options=trace_options)
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
    paper = preset.name == "paper" and set(names) == set(available(FIG3_MODELS)[0])
    fit_suptitle(fig, title or "Op cost vs ridge point"
                 + (" (MobileNetV4 Fig. 3)" if paper else ""))
    return fig

"""Figures: ridge-point sweeps, the MobileNetV4 paper's Figs. 2 and 3, roofline and device charts.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
state, no display needed; ``fig.savefig(path)`` writes PNG, SVG or PDF). Every figure is
titled, its axes carry units, its legend sits outside the data, and its footer names the
preset that produced the numbers (:mod:`roofline.latency.presets`).

- :func:`ridge`    latency vs ridge point, one curve per model, registry devices marked;
- :func:`pareto`   Fig. 2: latency vs top-1 at each ridge point, one line per family;
- :func:`opcost`   Fig. 3: per-layer latency vs layer index, coloured by op class;
- :func:`roofline` one model on one device: attainable MACs/s vs intensity, a dot per layer;
- :func:`devices`  one model on every registered device, compute- vs memory-bound time.

Models are given as a mapping ``name -> layer table`` (traced at the preset's dtype and
fusion) or as a list of names, which are traced here (zoo, timm or ``file.py:factory``).
Colours are Okabe-Ito (colour-blind safe); a family keeps its colour in every figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.patheffects import withStroke
from matplotlib.ticker import FuncFormatter, NullFormatter

from roofline.errors import InputError
from roofline.latency.equation import layer_times
from roofline.latency.presets import (DEFAULT, OP_CLASSES, PAPER, PAPER_PANELS, Preset, get_preset, op_class,
                      resolve_preset, ridge_points, tables_for)
from roofline.render.report import si as _si

# --------------------------------------------------------------------------- defaults

#: the paper's Fig. 2 models: MobileNetV4 and its MobileNet baselines (width multipliers)
FIG2_MODELS = (
    "mnv4_conv_small", "mnv4_conv_medium", "mnv4_conv_large",
    "mobilenetv3_large_050", "mobilenetv3_large_100", "mobilenetv3_large_150",
    "mobilenetv2_050", "mobilenetv2_100", "mobilenetv2_150", "mobilenetv2_200",
    "mobilenetv1_100", "mobilenetv1_150",
)
#: the paper's Fig. 3 columns: V1-1.5x, V2-1.5x, V3-L-1.5x, MNv4-Conv-M
FIG3_MODELS = ("mobilenetv1_150", "mobilenetv2_150", "mobilenetv3_large_150", "mnv4_conv_medium")
FIG2_RPS = (0.0, 5.0, 50.0, 500.0)
FIG3_RPS = (5.0, 500.0)
SWEEP_RPS = np.arange(0.0, 501.0, 5.0)
RIDGE_MODELS = FIG3_MODELS
ONE_MODEL = "mnv4_conv_medium"
#: what each kind of figure draws when no models are named, and at which ridge points
DEFAULT_MODELS = {"ridge": RIDGE_MODELS, "pareto": FIG2_MODELS, "opcost": FIG3_MODELS,
                  "roofline": (ONE_MODEL,), "devices": (ONE_MODEL,)}
DEFAULT_RPS = {"ridge": "0:500:5", "pareto": "0,5,50,500", "opcost": "5,500"}

# Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000",
             "#F0E442")
_FAMILY_COLORS = {
    "MobileNetV4": "#D55E00", "MobileNetV3": "#0072B2", "MobileNetV2": "#009E73",
    "MobileNetV1": "#E69F00", "MobileOne": "#56B4E9", "FastViT": "#CC79A7",
    "EfficientViT": "#000000", "ConvNeXt": "#7F7F7F", "EfficientNet": "#B59A00",
}
_FAMILY_MARKERS = {"MobileNetV4": "o", "MobileNetV3": "s", "MobileNetV2": "^",
                   "MobileNetV1": "D", "MobileOne": "v", "FastViT": "P", "EfficientViT": "X",
                   "ConvNeXt": "h", "EfficientNet": "*"}
_SPARE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "*", "<", ">")
_LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
OP_COLORS = {"Conv2D": "#0072B2", "DW-Conv2D": "#E69F00", "FC": "#009E73",
             "attention": "#CC79A7", "other": "#999999"}
_INK = "#333333"
_MUTED = "#777777"


def family_color(family: str | None) -> str:
    """The colour of a model family (stable across figures and runs)."""
    if family in _FAMILY_COLORS:
        return _FAMILY_COLORS[family]
    key = sum(map(ord, family or "")) % len(OKABE_ITO)
    return OKABE_ITO[key]


def family_marker(family: str | None) -> str:
    """The marker of a model family (a second cue besides colour)."""
    if family in _FAMILY_MARKERS:
        return _FAMILY_MARKERS[family]
    return _SPARE_MARKERS[sum(map(ord, family or "")) % len(_SPARE_MARKERS)]


# --------------------------------------------------------------------------- model data


def model_info(name: str) -> dict[str, Any]:
    """Display name, family and published top-1 of a model (zoo metadata where it exists)."""
    from roofline.models.zoo import lookup

    entry = lookup(name)
    if entry is None:
        return {"name": name, "display": name, "family": name, "top1": None}
    display = next((a for a in entry.aliases if any(c.isupper() for c in a)), entry.name)
    return {"name": entry.name, "display": display, "family": entry.family,
            "top1": entry.published.top1 if entry.published else None}


def member_tags(names: Sequence[str]) -> dict[str, str]:
    """Short labels that tell the members of a family apart: the display name without the
    family's common prefix ('MNv4-Conv-S', 'MNv4-Conv-M' -> 'S', 'M'; 'MobileNet-V2-1.5x',
    'MobileNet-V2' -> 'V2-1.5x', 'V2')."""
    from roofline.models.zoo import lookup

    infos = {n: model_info(n) for n in names}
    out = {}
    for fam in dict.fromkeys(i["family"] for i in infos.values()):
        members = [n for n in names if infos[n]["family"] == fam]
        if len(members) == 1:
            out[members[0]] = infos[members[0]]["display"]
            continue
        tokens = [infos[n]["display"].split("-") for n in members]
        k = 0
        while all(len(t) > k + 1 for t in tokens) and len({t[k] for t in tokens}) == 1:
            k += 1
        prefix = "-".join(tokens[0][:k])
        for n, t in zip(members, tokens):
            tag = "-".join(t[k:])
            if not tag or "-".join(t) == prefix:
                entry = lookup(n)
                longer = [a for a in (entry.aliases if entry else ())
                          if a.startswith(prefix + "-") and a != infos[n]["display"]]
                tag = min(longer, key=len)[len(prefix) + 1:] if longer else infos[n]["display"]
            out[n] = tag
    return out


def _pinned(preset: Preset, models: Any) -> Preset:
    """The preset with its dtype fixed to the one names are traced at (fp32 when the preset
    leaves it to a device and none is given), so the label says what was counted."""
    if preset.dtype is None and not isinstance(models, Mapping):
        return preset.pinned()
    return preset


def available(models: Iterable[str]) -> tuple[list[str], list[str]]:
    """(models in the zoo, models not in it yet): default model sets degrade gracefully."""
    from roofline.models.zoo import lookup

    names = list(models)
    return [m for m in names if lookup(m)], [m for m in names if not lookup(m)]


def default_models(kind: str) -> tuple[list[str], list[str]]:
    """The models a figure of ``kind`` draws when none are named: (those in the zoo, those
    not in it yet)."""
    return available(DEFAULT_MODELS[kind])


# --------------------------------------------------------------------------- styling


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    return fig


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9, colors=_INK)


def _footer(fig: Figure, *lines: str) -> None:
    """Small grey lines under the figure: the preset and notes (never over the data)."""
    import textwrap

    width_chars = int(fig.get_size_inches()[0] * 72 / (8 * 0.56))
    wrapped = [w for line in lines if line for w in textwrap.wrap(line, width_chars)]
    if not wrapped:
        return
    text = "\n".join(wrapped)
    n = len(wrapped)
    height_in = fig.get_size_inches()[1]
    frac = min(0.25, (0.16 * n + 0.08) / height_in)
    fig.get_layout_engine().set(rect=(0, frac, 1, 1 - frac))
    fig.text(0.01, frac * 0.45, text, ha="left", va="center", fontsize=8, color=_MUTED)


def _ms(seconds: float) -> str:
    v = seconds * 1e3
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 1:
        return f"{v:.3g} ms"
    return f"{v * 1e3:.3g} \u00b5s"


def _rp_name(rp: float) -> str:
    name = PAPER_PANELS.get(float(rp))
    return f"RP {rp:g} ({name})" if name else f"RP {rp:g}"


def _plain_log_formatter(ax: Axes, axis: str = "x") -> None:
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(fmt)
    target.set_minor_formatter(NullFormatter())


def _model_styles(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Colour by family, line style and marker by member within the family. A family the
    palette does not know takes a colour no other family in the figure uses."""
    infos = {n: model_info(n) for n in names}
    families = list(dict.fromkeys(i["family"] for i in infos.values()))
    colors = {f: _FAMILY_COLORS[f] for f in families if f in _FAMILY_COLORS}
    spare = [c for c in (*OKABE_ITO, *_FAMILY_COLORS.values()) if c not in colors.values()]
    for f in families:
        if f not in colors:
            colors[f] = spare.pop(0) if spare else family_color(f)
    seen: dict[str, int] = {}
    out = {}
    for n in names:
        info = infos[n]
        k = seen.get(info["family"], 0)
        seen[info["family"]] = k + 1
        out[n] = {**info, "color": colors[info["family"]],
                  "linestyle": _LINESTYLES[k % len(_LINESTYLES)],
                  "marker": family_marker(info["family"])}
    return out


def _preset_line(preset: Preset) -> str:
    return preset.label


# --------------------------------------------------------------------------- ridge


def _registry_devices(preset: Preset) -> list[tuple[str, float, bool]]:
    """(label, ridge point, fitted) of every base device and every fitted variant."""
    from roofline.hardware.registry import list_profiles

    out = []
    for p in list_profiles():
        if p.variant is not None and not p.fitted:
            continue
        dtype = preset.dtype if preset.dtype in p.dtypes else p.default_dtype
        out.append((p.id, float(p.ridge_point(dtype)), bool(p.fitted)))
    return out


def ridge(models: Mapping[str, pd.DataFrame] | Iterable[str] = RIDGE_MODELS,
          rps: Sequence[float] | np.ndarray = SWEEP_RPS, preset: Preset | str = PAPER, *,
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
    tables = tables_for(models, preset)
    grid = np.asarray(rps, dtype=float)
    df = preset.sweep(tables, grid)
    styles = _model_styles(list(tables))
    lo, hi = float(grid.min()), float(grid.max())
    devs = _registry_devices(preset) if devices is None else list(devices)
    labels, outside = _strip_labels(devs, lo, hi)
    n_rows = max((row for _, _, row in labels), default=0) + 1
    strip_in = (n_rows * 10.5 + 22) / 72
    fig = _figure(10, 7.6 + strip_in)
    strip, ax, rel = fig.subplots(3, 1, sharex=True, height_ratios=[strip_in, 4.2, 2.4])
    _style(ax)
    _style(rel)
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
    _log_ticks(ax, df["latency_s"] * 1e3, axis="y")
    _draw_strip(strip, labels, n_rows, highlight)
    rel.set_ylabel("Relative to the fastest\nat that RP (x)")
    rel.set_ylim(0.95, max(1.2, float(df["relative"].max()) * 1.05))
    ax.set_xscale("symlog", **_SYMLOG)
    ax.set_xlim(lo, hi * 1.02 if hi > 0 else 1)
    ticks = [t for t in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
             if lo <= t <= hi]
    ax.set_xticks(ticks)
    _plain_log_formatter(ax, "x")
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
                        color=_MUTED)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9,
              title="model", title_fontsize=9)

    notes = [_preset_line(preset)]
    notes.append("Devices: ridge point at the preset's dtype where the device has it, else at "
                 "its default dtype."
                 + (f" Beyond the axis: {', '.join(outside)}." if outside else ""))
    _footer(fig, *notes)
    fig.suptitle(title or "Predicted latency vs ridge point", fontsize=13, color=_INK)
    return fig


_SYMLOG = {"base": 10, "linthresh": 5, "linscale": 0.5}


def _strip_labels(devs: Sequence[tuple[str, float, bool]], lo: float, hi: float,
                  axes_width_in: float = 7.0,
                  ) -> tuple[list[tuple[list[tuple[str, float, bool]], str, int]], list[str]]:
    """Stack device labels in rows so that no label overlaps another and no tick crosses a
    label (a label reads rightwards from its tick). Returns ([(devices, text, row)], the
    devices beyond the axis). Positions use the symlog x scale of :func:`ridge`."""
    from matplotlib.scale import SymmetricalLogScale

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
                 fontsize=8, color=_MUTED, loc="left")
    ax.set_ylim(0, n_rows + 0.2)
    for group, text, row in labels:
        y = row + 0.6
        strong = highlight is not None and any(d[0] == highlight for d in group)
        fitted = all(d[2] for d in group)
        color = _INK if strong else ("#0072B2" if fitted else _MUTED)
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


# --------------------------------------------------------------------------- pareto (Fig. 2)


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
           rps: Sequence[float] = FIG2_RPS, preset: Preset | str = PAPER, *,
           title: str | None = None) -> Figure:
    """The paper's Fig. 2: predicted latency (log x) vs ImageNet top-1, one panel per ridge
    point, one line per family, the Pareto front (across all models) ringed and stepped.

    Models without a published top-1 are left out (named in the footer).
    """
    preset = _pinned(get_preset(preset), models)
    tables = tables_for(models, preset)
    styles = _model_styles(list(tables))
    tags = member_tags(list(tables))  # before the cut, so 'V1' stays 'V1' without 'V1-1.5x'
    missing = [styles[m]["display"] for m in tables if styles[m]["top1"] is None]
    tables = {m: t for m, t in tables.items() if styles[m]["top1"] is not None}
    if not tables:
        raise InputError("pareto needs models with a published top-1 (zoo models); none given")
    grid = [float(r) for r in rps]
    df = preset.sweep(tables, grid)
    df["top1"] = df["model"].map(lambda m: styles[m]["top1"])
    df["family"] = df["model"].map(lambda m: styles[m]["family"])
    fig = _figure(3.4 * len(grid) + 1.2, 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(grid), sharey=True))
    families = list(dict.fromkeys(df["family"]))
    fam_colors = {styles[m]["family"]: styles[m]["color"] for m in tables}
    points: list[tuple[Axes, float, float, str, str]] = []
    for ax, rp in zip(axes, grid):
        _style(ax)
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
        _log_ticks(ax, part["latency_ms"])
        name = PAPER_PANELS.get(rp)
        ax.set_title(f"{name}\nRP = {rp:g} MACs/byte" if name else f"RP = {rp:g} MACs/byte",
                     fontsize=10, color=_INK)
        ax.set_xlabel("Predicted roofline latency (ms)", fontsize=9)
    axes[0].set_ylabel("ImageNet-1k top-1 (%)", fontsize=10)
    handles = [Line2D([], [], color=fam_colors[f], marker=family_marker(f), linewidth=1.5,
                      markersize=6, label=f) for f in families]
    handles.append(Line2D([], [], color="#d0d0d0", linewidth=3, label="Pareto front"))
    handles.append(Line2D([], [], linestyle="", marker="o", markerfacecolor="white",
                          markeredgecolor="black", label="on the front"))
    fig.legend(handles=handles, loc="outside right center", frameon=False, fontsize=9)
    notes = [_preset_line(preset), "Top-1: as published (zoo metadata); latency: this toolkit's "
             "roofline of the traced model."]
    if missing:
        notes.append("Left out (no published top-1): " + ", ".join(missing))
    _footer(fig, *notes)
    fig.suptitle(title or "Roofline latency vs accuracy (MobileNetV4 Fig. 2)", fontsize=13,
                 color=_INK)
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


def _log_ticks(ax: Axes, values: Iterable[float], axis: str = "x") -> None:
    """Plain-number ticks on a log axis spanning ``values`` (1-2-5 steps)."""
    v = np.asarray([x for x in values if x > 0], dtype=float)
    if not len(v):
        return
    lo, hi = v.min() / 1.25, v.max() * 1.25
    (ax.set_xlim if axis == "x" else ax.set_ylim)(lo, hi)
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1,
                                           math.ceil(math.log10(hi)) + 1)
             for m in (1, 2, 5) if lo <= m * 10.0 ** e <= hi]
    if len(ticks) < 3:
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1,
                                               math.ceil(math.log10(hi)) + 1)
                 for m in (1, 1.5, 2, 3, 5, 7) if lo <= m * 10.0 ** e <= hi]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks)
    _plain_log_formatter(ax, axis)


# --------------------------------------------------------------------------- opcost (Fig. 3)


def opcost(models: Mapping[str, pd.DataFrame] | Iterable[str] = FIG3_MODELS,
           rps: Sequence[float] = FIG3_RPS, preset: Preset | str = PAPER, *,
           title: str | None = None) -> Figure:
    """The paper's Fig. 3: per-layer predicted latency (us) vs layer index, one row per
    ridge point and one column per model, bars coloured by op class (Conv2D, DW-Conv2D, FC,
    attention, other). Rows share their y axis, so models compare at a glance."""
    preset = _pinned(get_preset(preset), models)
    tables = tables_for(models, preset)
    grid = [float(r) for r in rps]
    names = list(tables)
    if not names:
        raise InputError("opcost needs at least one model")
    styles = _model_styles(names)
    fig = _figure(3.3 * len(names) + 0.8, 2.6 * len(grid) + 1.2)
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
            _style(ax)
            ax.grid(False, axis="x")
            bars = ax.bar(x, lat[:, i], width=0.85, color=colors, linewidth=0,
                          gid=f"model:{name}")
            bars.set_label(f"model:{name}")
            ax.set_xlim(-1, len(x))
            total = lat[:, i].sum() / 1e6
            head = f"{styles[name]['display']}\n" if i == 0 else ""
            ax.set_title(f"{head}total {_ms(total)}", fontsize=9, color=_INK)
            if j == 0:
                ax.set_ylabel(f"{_rp_name(rp)}\nlatency (\u00b5s)", fontsize=9)
            if i == len(grid) - 1:
                ax.set_xlabel("Layer index", fontsize=9)
    handles = [Patch(color=OP_COLORS[c], label=c) for c in OP_CLASSES if c in used]
    fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize=9,
               title="op class", title_fontsize=9)
    notes = [_preset_line(preset),
             "FC includes 1x1 convs on a 1x1 input (after global pooling, squeeze-excite)."]
    _footer(fig, *notes)
    fig.suptitle(title or "Op cost vs ridge point (MobileNetV4 Fig. 3)", fontsize=13,
                 color=_INK)
    return fig


# --------------------------------------------------------------------------- roofline chart


def roofline(model: Mapping[str, pd.DataFrame] | str = ONE_MODEL, hw: Any = "pixel8_cpu",
             preset: Preset | str = DEFAULT, *, dtype: str | None = None,
             title: str | None = None) -> Figure:
    """The classic roofline of one model on one device: attainable MACs/s vs operational
    intensity (log-log), the roof, the ridge point, and a dot per layer at its achieved
    MACs/s (MACs / predicted time), its area proportional to its share of the time."""
    from roofline.analysis import resolve_roof

    preset = get_preset(preset)
    roof, _, d = resolve_roof(hw, dtype or preset.dtype)
    preset = preset.with_(dtype=d).anchored(roof)
    tables = tables_for(model if isinstance(model, Mapping) else [model], preset, roof)
    if len(tables) != 1:
        raise InputError(f"the roofline chart shows one model; got {len(tables)}")
    name, table = next(iter(tables.items()))
    layers = layer_times(preset.apply(table), roof)
    total = float(layers["latency_s"].sum())
    peak = roof.peak_macs_per_s * roof.compute_efficiency
    bw = roof.mem_bw_bytes_per_s * roof.memory_efficiency
    ridge_rp = peak / bw

    fig = _figure(9, 6.2)
    ax = fig.subplots()
    _style(ax)
    shown = layers[(layers["macs"] > 0) & (layers["intensity"] > 0)]
    hidden = layers.drop(shown.index)
    x_lo = max(min(shown["intensity"].min() if len(shown) else 1, ridge_rp) / 4, 1e-2)
    x_hi = max(shown["intensity"].max() * 4 if len(shown) else 1, ridge_rp * 8)
    xs = np.geomspace(x_lo, x_hi, 200)
    ax.plot(xs, np.minimum(peak, xs * bw), color=_INK, linewidth=2.2, label="roof", zorder=2)
    if roof.compute_efficiency != 1 or roof.memory_efficiency != 1:
        ax.plot(xs, np.minimum(roof.peak_macs_per_s, xs * roof.mem_bw_bytes_per_s),
                color=_MUTED, linewidth=1, linestyle=":", label="peak (before efficiency)")
    ax.axvline(ridge_rp, color=_MUTED, linestyle="--", linewidth=1, zorder=1)
    ax.annotate(f"ridge point {ridge_rp:.3g} MACs/B", (ridge_rp, 0.02),
                xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                fontsize=8, color=_MUTED, rotation=90, va="bottom", ha="left")
    ax.annotate("\u2190 memory-bound", (ridge_rp, 0.97), xycoords=("data", "axes fraction"),
                xytext=(-6, 0), textcoords="offset points", fontsize=9, color=_MUTED,
                va="top", ha="right")
    ax.annotate("compute-bound \u2192", (ridge_rp, peak), xytext=(6, -6),
                textcoords="offset points", fontsize=9, color=_MUTED, va="top", ha="left")
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
    _plain_log_formatter(ax, "x")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _si(v, "")))
    ax.yaxis.set_minor_formatter(NullFormatter())
    class_handles = [Line2D([], [], linestyle="", marker="o", markersize=7,
                            markerfacecolor=OP_COLORS[c], markeredgecolor="white", label=c)
                     for c in OP_CLASSES if c in set(classes)]
    size_handles = [Line2D([], [], linestyle="", marker="o", color="#aaaaaa",
                           markersize=math.sqrt(10 + 1500 * s), label=f"{s:.0%} of time")
                    for s in (0.01, 0.05, 0.2)]
    ax.legend(handles=[Line2D([], [], color=_INK, linewidth=2.2, label="roof"),
                       *class_handles, *size_handles],
              loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9,
              labelspacing=1.1)
    fitted = " [fitted]" if roof.fitted and "fitted" not in roof.name.lower() else ""
    display = model_info(name)["display"]
    sub = (f"{roof.name}{fitted}, {roof.dtype}: peak {_si(peak, 'MAC/s')}, "
           f"DRAM {_si(bw, 'B/s')}; predicted {_ms(total)}")
    notes = [f"preset: {preset.name} \u2014 {preset.rules()}"]
    if len(hidden):
        hs = float(hidden["latency_s"].sum()) / total if total else 0.0
        notes.append(f"Not drawn: {len(hidden)} layers without MACs (pooling, adds, ...), "
                     f"{hs:.0%} of the predicted time.")
    _footer(fig, *notes)
    fig.suptitle(title or f"Roofline: {display} on {roof.hardware_id}", fontsize=13,
                 color=_INK)
    ax.set_title(sub, fontsize=9, color=_MUTED)
    return fig


# --------------------------------------------------------------------------- devices


def device_latencies(model: str | pd.DataFrame, preset: Preset | str = DEFAULT,
                     devices: Iterable[Any] | None = None) -> pd.DataFrame:
    """One model on every device: columns ``hardware_id``, ``name``, ``dtype``, ``fitted``,
    ``ridge_point``, ``latency_s``, ``compute_bound_s``, ``memory_bound_s``.

    Each device runs at the preset's dtype when it has a peak for it, else at its default
    dtype. A model name is traced once per dtype; a layer table is used as is.
    """
    from roofline.hardware.registry import get_profile, list_profiles

    preset = get_preset(preset)
    profiles = list_profiles() if devices is None else [
        p if hasattr(p, "roof") else get_profile(p) for p in devices]
    traced: dict[str, pd.DataFrame] = {}
    rows = []
    for p in profiles:
        dtype = preset.dtype if preset.dtype in p.dtypes else p.default_dtype
        if isinstance(model, pd.DataFrame):
            table = model
        else:
            if dtype not in traced:
                traced[dtype] = tables_for([model], preset.with_(dtype=dtype))[model]
            table = traced[dtype]
        roof = p.roof(dtype)
        lt = layer_times(preset.apply(table), roof)
        memory = lt["bound"].to_numpy() == "memory"
        rows.append({
            "hardware_id": p.id, "name": p.name, "kind": p.kind, "dtype": dtype,
            "fitted": bool(roof.fitted), "ridge_point": roof.ridge_point,
            "latency_s": float(lt["latency_s"].sum()),
            "compute_bound_s": float(lt["latency_s"].to_numpy()[~memory].sum()),
            "memory_bound_s": float(lt["latency_s"].to_numpy()[memory].sum()),
        })
    return pd.DataFrame(rows)


def devices(model: str | pd.DataFrame = ONE_MODEL, preset: Preset | str = DEFAULT, *,
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
    fig = _figure(11, 0.3 * len(df) + 2.2)
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    y = np.arange(len(df))
    labels = [f"{r.hardware_id}{' [fitted]' if r.fitted and 'fitted' not in r.hardware_id else ''}"
              f"  {r.kind.upper()} {r.dtype}" for r in df.itertuples()]
    _style(left)
    _style(right)
    left.grid(False, axis="y")
    right.grid(False, axis="y")
    bars = left.barh(y, df["latency_s"] * 1e3, color="#8c8c8c", height=0.7)
    for bar, r in zip(bars, df.itertuples()):
        bar.set_gid(f"device:{r.hardware_id}")
        left.annotate(_ms(r.latency_s), (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                      xytext=(3, 0), textcoords="offset points", va="center", fontsize=7,
                      color=_INK)
    left.set_xscale("log")
    _log_ticks(left, list(df["latency_s"] * 1e3) + [df["latency_s"].max() * 1e3 * 3])
    left.set_yticks(y, labels, fontsize=8)
    left.set_xlabel("Predicted latency (ms, log scale)", fontsize=9)
    left.set_title("Predicted latency", fontsize=10, color=_INK)
    total = df["latency_s"].to_numpy()
    c_share = np.divide(df["compute_bound_s"], total, out=np.zeros(len(df)), where=total > 0)
    right.barh(y, c_share * 100, color="#0072B2", height=0.7, label="compute-bound layers")
    right.barh(y, (1 - c_share) * 100, left=c_share * 100, color="#E69F00", height=0.7,
               label="memory-bound layers")
    right.set_xlim(0, 100)
    left.set_ylim(-0.6, len(df) - 0.4)
    right.set_xlabel("Share of the predicted time (%)", fontsize=9)
    right.set_title("Where the time goes", fontsize=10, color=_INK)
    fig.legend(handles=[Patch(color="#0072B2", label="compute-bound layers"),
                        Patch(color="#E69F00", label="memory-bound layers")],
               loc="outside upper right", ncols=2, frameon=False, fontsize=8)
    _footer(fig, f"preset: {preset.name} \u2014 {preset.rules('device dtype')}; each device at "
            "its own peak and bandwidth, at the preset's dtype where it has a peak, else its "
            "default dtype; efficiency factors and per-layer overheads of profiles applied.")
    fig.suptitle(title or f"{display} on every registered device", fontsize=13, color=_INK)
    return fig


# --------------------------------------------------------------------------- by kind


def figure(kind: str, models: Sequence[str], *, rps: str | None = None,
           preset: str | None = None, hw: Sequence[str] = (), hold: str | None = None,
           dtype: str | None = None, title: str | None = None) -> Figure:
    """The figure ``roofline plot KIND`` draws: ``ridge``, ``pareto`` or ``opcost`` of
    ``models`` (their sweep anchored to ``hw[0]`` when given), the ``roofline`` chart of
    ``models[0]`` on ``hw[0]`` (pixel8_cpu by default), or ``devices``: ``models[0]`` on the
    devices ``hw`` (every registered one by default).

    ``rps`` is a ridge-point grid (:func:`roofline.latency.presets.ridge_points`; default per kind,
    :data:`DEFAULT_RPS`); ``preset`` defaults to paper for the sweeps and default otherwise;
    ``hold`` and ``dtype`` change the preset (:func:`roofline.latency.presets.resolve_preset`).
    """
    if kind not in DEFAULT_MODELS:
        raise InputError(f"unknown figure {kind!r}; expected one of {', '.join(DEFAULT_MODELS)}")
    preset_name = preset or ("paper" if kind in ("ridge", "pareto", "opcost") else "default")
    grid = ridge_points(rps or DEFAULT_RPS.get(kind, "0"))
    device = hw[0] if hw else None
    if kind == "roofline":
        p, _ = resolve_preset(preset_name, hold=hold, dtype=dtype)
        return roofline(models[0], device or "pixel8_cpu", p, dtype=dtype, title=title)
    if kind == "devices":
        p, _ = resolve_preset(preset_name, hold=hold, dtype=dtype)
        return devices(models[0], p, devices=list(hw) or None, title=title)
    p, _ = resolve_preset(preset_name, hw=device, hold=hold, dtype=dtype)
    if kind == "ridge":
        return ridge(models, grid, p, highlight=device, title=title)
    if kind == "pareto":
        return pareto(models, grid, p, title=title)
    return opcost(models, grid, p, title=title)


# --------------------------------------------------------------------------- saving

FORMATS = (".png", ".svg", ".pdf")


def figure_suffix(path: str, option: str) -> str:
    """The figure format a file name asks for ('.png', '.svg', '.pdf'); InputError naming the
    option otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{option} {path!r}: expected a file ending in {', '.join(FORMATS)}")
    return suffix


def figure_bytes(fig: Figure, fmt: str, dpi: int = 150) -> bytes:
    """The figure rendered to PNG, SVG or PDF bytes."""
    import io

    fmt = fmt.lower().lstrip(".")
    if f".{fmt}" not in FORMATS:
        raise InputError(f"cannot write .{fmt} figures; expected one of {', '.join(FORMATS)}")
    buf = io.BytesIO()
    # no dates or versions in the files: regenerating an unchanged figure changes no byte
    meta = {"png": {"Software": None}, "svg": {"Date": None},
            "pdf": {"CreationDate": None, "ModDate": None}}[fmt]
    with rc_context({"svg.hashsalt": "roofline"}):  # stable SVG ids
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()

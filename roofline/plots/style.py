"""The look every figure shares: the Okabe-Ito palette (colour-blind safe), a colour and a
marker per model family (stable across figures and runs), line styles per family member,
axes styling, footers that name the preset, plain-number log ticks.

Figures are built without pyplot (no global state, no display needed): :func:`new_figure`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from roofline.latency.presets import PAPER_PANELS
from roofline.models.labels import model_info

__all__ = ["OKABE_ITO", "FAMILY_COLORS", "FAMILY_MARKERS", "OP_COLORS", "INK", "MUTED",
           "FITTED_COLOR", "DISTINCT", "family_color", "family_marker", "model_styles",
           "new_figure", "style_axes", "fit_suptitle", "footer", "rp_name",
           "plain_log_formatter", "log_ticks"]

# Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000",
             "#F0E442")
FAMILY_COLORS = {
    "MobileNetV4": "#D55E00", "MobileNetV3": "#0072B2", "MobileNetV2": "#009E73",
    "MobileNetV1": "#E69F00", "MobileOne": "#56B4E9", "FastViT": "#CC79A7",
    "EfficientViT": "#000000", "ConvNeXt": "#7F7F7F", "EfficientNet": "#B59A00",
}
FAMILY_MARKERS = {"MobileNetV4": "o", "MobileNetV3": "s", "MobileNetV2": "^",
                  "MobileNetV1": "D", "MobileOne": "v", "FastViT": "P", "EfficientViT": "X",
                  "ConvNeXt": "h", "EfficientNet": "*"}
_SPARE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "*", "<", ">")
_LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
#: Fig. 3's op classes (:data:`roofline.latency.presets.OP_CLASSES`) -> colour
OP_COLORS = {"Conv2D": "#0072B2", "DW-Conv2D": "#E69F00", "FC": "#009E73",
             "attention": "#CC79A7", "other": "#999999"}
#: colours for series that must differ from each other (Okabe-Ito, the yellow last)
DISTINCT = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
            "#B59A00")
INK = "#333333"
MUTED = "#777777"
#: a device fitted to measurements, wherever one is drawn
FITTED_COLOR = "#0072B2"


def family_color(family: str | None) -> str:
    """The colour of a model family (stable across figures and runs)."""
    if family in FAMILY_COLORS:
        return FAMILY_COLORS[family]
    key = sum(map(ord, family or "")) % len(OKABE_ITO)
    return OKABE_ITO[key]


def family_marker(family: str | None) -> str:
    """The marker of a model family (a second cue besides colour)."""
    if family in FAMILY_MARKERS:
        return FAMILY_MARKERS[family]
    return _SPARE_MARKERS[sum(map(ord, family or "")) % len(_SPARE_MARKERS)]


def model_styles(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per model: :func:`roofline.models.labels.model_info` with its ``color`` (by family),
    ``linestyle`` (by member within the family) and ``marker``. A family the palette does
    not know takes a colour no other family in the figure uses."""
    infos = {n: model_info(n) for n in names}
    families = list(dict.fromkeys(i["family"] for i in infos.values()))
    colors = {f: FAMILY_COLORS[f] for f in families if f in FAMILY_COLORS}
    spare = [c for c in (*OKABE_ITO, *FAMILY_COLORS.values()) if c not in colors.values()]
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


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure (inches) with the constrained layout."""
    return Figure(figsize=(width, height), layout="constrained", dpi=100)


def style_axes(ax: Axes) -> None:
    """No top/right spines, a light major grid under the data, small dark tick labels."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9, colors=INK)


def fit_suptitle(fig: Figure, text: str, fontsize: float = 13) -> None:
    """The figure's title, wrapped to the figure's width (never clipped at its edges)."""
    width_chars = int(fig.get_size_inches()[0] * 72 / (fontsize * 0.6))
    fig.suptitle("\n".join(textwrap.wrap(text, width_chars)) or text, fontsize=fontsize,
                 color=INK)


def footer(fig: Figure, *lines: str) -> None:
    """Small grey lines under the figure: the preset and notes (never over the data)."""
    width_chars = int(fig.get_size_inches()[0] * 72 / (8 * 0.56))
    wrapped = [w for line in lines if line for w in textwrap.wrap(line, width_chars)]
    if not wrapped:
        return
    text = "\n".join(wrapped)
    n = len(wrapped)
    height_in = fig.get_size_inches()[1]
    frac = min(0.25, (0.16 * n + 0.08) / height_in)
    fig.get_layout_engine().set(rect=(0, frac, 1, 1 - frac))
    fig.text(0.01, frac * 0.45, text, ha="left", va="center", fontsize=8, color=MUTED)


def rp_name(rp: float) -> str:
    """'RP 5 (Slow CPU)' for the paper's panel points, 'RP 7' otherwise."""
    name = PAPER_PANELS.get(float(rp))
    return f"RP {rp:g} ({name})" if name else f"RP {rp:g}"


def plain_log_formatter(ax: Axes, axis: str = "x") -> None:
    """Tick labels as plain numbers ('0.5', '20'), no minor labels."""
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(fmt)
    target.set_minor_formatter(NullFormatter())


def log_ticks(ax: Axes, values: Iterable[float], axis: str = "x") -> None:
    """Plain-number ticks on a log axis spanning ``values`` (1-2-5 steps)."""
    v = np.asarray([x for x in values if x > 0], dtype=float)
    if not len(v):
        return
    lo, hi = v.min() / 1.25, v.max() * 1.25
    (ax.set_xlim if axis == "x" else ax.set_ylim)(lo, hi)
    steps = (1,) if math.log10(hi / lo) > 3.5 else (1, 2, 5)  # labels must not collide
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1,
                                           math.ceil(math.log10(hi)) + 1)
             for m in steps if lo <= m * 10.0 ** e <= hi]
    if len(ticks) < 3:
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1,
                                               math.ceil(math.log10(hi)) + 1)
                 for m in (1, 1.5, 2, 3, 5, 7) if lo <= m * 10.0 ** e <= hi]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks)
    plain_log_formatter(ax, axis)

"""The validation scatter: predicted vs measured latency, log-log, with the y = x line.

One panel per level (models; layers when per-layer measurements are given). The roofline's
predictions are blue circles; MAC counting scaled to the same data (the baseline the paper
compares against), when given, orange triangles; the grey band is +-20 %. Colours are from
the Okabe-Ito palette (safe for colour-blind readers) and the two series also differ in
marker shape. matplotlib with the Agg backend; nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["scatter"]

BLUE, ORANGE, GREY = "#0072B2", "#E69F00", "#999999"


def _stat_line(stats: Mapping[str, Any], key: str = "spearman_roofline") -> str:
    parts = []
    if stats.get(key) is not None and np.isfinite(stats.get(key, np.nan)):
        parts.append(f"$r_s$ {stats[key]:.3f}")
        macs = stats.get("spearman_macs") if key == "spearman_roofline" else None
        if macs is not None and np.isfinite(macs):
            parts[-1] += f" vs MACs {macs:.3f}"
    if stats.get("mape") is not None:
        parts.append(f"MAPE {stats['mape']:.0f} %")
    if stats.get("within_20pct") is not None:
        parts.append(f"{100 * stats['within_20pct']:.0f} % within ±20 %")
    return ", ".join(parts)


def _panel(ax: Any, measured_ms: np.ndarray, predicted_ms: np.ndarray, *, label: str,
           baseline_ms: np.ndarray | None = None, baseline_label: str = "",
           title: str = "") -> None:
    values = [measured_ms, predicted_ms] + ([baseline_ms] if baseline_ms is not None else [])
    allv = np.concatenate([np.asarray(v, dtype=float) for v in values])
    allv = allv[np.isfinite(allv) & (allv > 0)]
    lo, hi = (allv.min() / 1.6, allv.max() * 1.6) if len(allv) else (1e-3, 1.0)
    line = np.array([lo, hi])
    ax.fill_between(line, line / 1.2, line * 1.2, color=GREY, alpha=0.25, lw=0,
                    label="±20 %")
    ax.plot(line, line, color="black", lw=1, label="y = x (perfect)")
    if baseline_ms is not None:
        ax.scatter(measured_ms, baseline_ms, marker="^", s=26, color=ORANGE, alpha=0.85,
                   edgecolors="none", label=baseline_label, zorder=3)
    small = len(measured_ms) > 60
    ax.scatter(measured_ms, predicted_ms, marker="o", s=10 if small else 30, color=BLUE,
               alpha=0.55 if small else 0.9, edgecolors="none", label=label, zorder=4)
    # deferred: heavy import (matplotlib loads only when a figure is drawn)
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    subs = (1.0, 2.0, 5.0) if hi / lo < 1e3 else (1.0,)
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers (0.5, 2, 50), not 5 x 10^-1
        axis.set_major_locator(LogLocator(base=10, subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("measured latency (ms)")
    ax.set_ylabel("predicted latency (ms)")
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7.5, loc="upper left", framealpha=0.9)


def scatter(models: pd.DataFrame, *, title: str, stats: Mapping[str, Any] | None = None,
            layers: pd.DataFrame | None = None,
            layer_stats: Mapping[str, Any] | None = None,
            predicted_column: str = "predicted_ms", baseline_column: str | None = None,
            baseline_stats: Mapping[str, Any] | None = None) -> Figure:
    """The figure: ``models`` has ``model``, ``measured_ms`` and ``predicted_column`` (and
    ``baseline_column`` for the MAC-counting baseline); ``layers`` (optional) has
    ``measured_ms`` and ``predicted_ms`` per layer."""
    import matplotlib  # deferred: heavy import

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # deferred: heavy import

    from roofline.plots.labels import (  # deferred: heavy import (matplotlib)
        FAR_OFFSETS,
        place_tags,
    )
    from roofline.plots.style import (  # deferred: heavy import (matplotlib)
        INK,
        fit_suptitle,
    )

    panels = 2 if layers is not None and len(layers) else 1
    fig = Figure(figsize=(6.4 * panels, 6.2), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    stats = stats or {}
    label = "roofline" + (f" ({_stat_line(stats)})" if stats else "")
    measured = models["measured_ms"].to_numpy(dtype=float)
    predicted = models[predicted_column].to_numpy(dtype=float)
    base = None
    base_label = ""
    if baseline_column and baseline_column in models:
        base = models[baseline_column].to_numpy(dtype=float)
        bstats = dict(baseline_stats or {})
        spearman_macs = bstats.pop("spearman_macs", stats.get("spearman_macs"))
        if spearman_macs is not None:
            bstats["spearman_roofline"] = spearman_macs  # the r_s slot of the stat line
        base_label = "MACs only, scaled" + (f" ({_stat_line(bstats)})" if bstats else "")
    _panel(axes[0], measured, predicted, label=label, baseline_ms=base,
           baseline_label=base_label, title=f"models (n = {len(models)})")
    if panels == 2:
        assert layers is not None
        lab = "roofline, per layer" + (f" ({_stat_line(layer_stats)})" if layer_stats else "")
        _panel(axes[1], layers["measured_ms"].to_numpy(dtype=float),
               layers["predicted_ms"].to_numpy(dtype=float), label=lab,
               title=f"layers (n = {len(layers)})")
    fit_suptitle(fig, title, fontsize=11)
    if len(models) <= 40:  # model names beside the roofline's points, none over another
        ok = np.isfinite(measured) & (measured > 0) & np.isfinite(predicted) & (predicted > 0)
        points = [(axes[0], m, p, name, INK) for m, p, name, keep
                  in zip(measured, predicted, models["model"], ok) if keep]
        others = ([] if base is None else
                  [(axes[0], m, b) for m, b in zip(measured, base) if m > 0 and b > 0])
        place_tags(fig, points, fontsize=6.5, obstacles=others, offsets=FAR_OFFSETS)
    return fig

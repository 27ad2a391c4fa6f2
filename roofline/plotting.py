"""Figures from Python in one call: what ``roofline plot KIND`` draws, for names or for
tables already at hand (``name -> Analysis`` or layer table: nothing is traced again), with a
device of your own as the anchor and your own devices marked on the ridge-point axis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from roofline.errors import InputError
from roofline.hardware.profile import HardwareProfile, Roof
from roofline.latency.presets import parse_ridge_points
from roofline.ridge_sweep import sweep_preset, sweep_tables

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["PLOT_KINDS", "plot"]

PLOT_KINDS = ("roofline", "devices", "pareto", "ridge", "opcost")


def plot(kind: str, models: Mapping[str, Any] | Iterable[str] | str, *,
         hw: Roof | HardwareProfile | str | Iterable[Any] | None = None,
         rps: str | Iterable[float] | None = None, preset: str | None = None,
         marks: Mapping[str, float] | None = None, title: str | None = None) -> Figure:
    """A matplotlib Figure of ``kind``:

    - ``roofline``: the roofline chart of one model on ``hw`` (default pixel8_cpu);
    - ``devices``: the models on the devices ``hw`` (default: the registered ones);
    - ``pareto``: latency vs published top-1 at the ridge points ``rps`` (paper preset);
    - ``ridge``: latency vs ridge point, anchored to the device ``hw`` if given (a Roof
      such as ``roofline.device(...)``, a profile or an id); ``marks`` (label -> ridge
      point) replaces the registered devices in the strip above the curves;
    - ``opcost``: per-layer latency at each ridge point, by op class (the paper's Fig. 3).

    ``preset`` is ``paper`` or ``default`` (default per kind, as ``roofline plot``).
    """
    # deferred: heavy import (matplotlib)
    from roofline.plots import charts, paper, ridge

    if kind not in PLOT_KINDS:
        raise InputError(f"unknown figure {kind!r}; expected one of {', '.join(PLOT_KINDS)}")
    on_devices = kind in ("roofline", "devices")
    p = sweep_preset(preset or ("default" if on_devices else "paper"))
    names = sweep_tables(models, p) if isinstance(models, Mapping) else None
    if kind == "roofline":
        model = models if isinstance(models, str) else sweep_tables(models, p)
        return charts.roofline(model, hw or "pixel8_cpu", p, title=title)
    if kind == "devices":
        devs = None if hw is None else ([hw] if isinstance(hw, (str, Roof, HardwareProfile))
                                        else list(hw))
        return charts.devices(names or list([models] if isinstance(models, str) else models),
                              p, devices=devs, title=title)
    if kind == "pareto":
        grid = parse_ridge_points(rps) if rps is not None else paper.FIG2_RPS
        return paper.pareto(names or list(models), grid, p, title=title)
    if kind == "opcost":
        grid = parse_ridge_points(rps) if rps is not None else paper.FIG3_RPS
        return paper.opcost(names or list(models), grid, p, title=title)
    anchored = sweep_preset(p, hw) if hw is not None else p
    tables = sweep_tables(models, anchored)
    grid = parse_ridge_points(rps) if rps is not None else ridge.SWEEP_RPS
    devices = None if marks is None else [(k, float(v), False) for k, v in marks.items()]
    highlight = getattr(hw, "hardware_id", getattr(hw, "id", hw))
    return ridge.ridge(tables, grid, anchored, devices=devices,
                       highlight=highlight if isinstance(highlight, str) else None, title=title)

"""Figures by kind, in one import: ``from roofline.plots import figures``.

:func:`figure` draws what ``roofline plot KIND`` draws; the figure functions themselves live
in :mod:`roofline.plots.paper` (ridge, pareto, opcost) and :mod:`roofline.plots.charts`
(roofline, devices), the look in :mod:`roofline.plots.style`, file output in
:mod:`roofline.plots.saving`; they are gathered here for callers and notebooks.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from roofline.errors import InputError
from roofline.latency.presets import parse_ridge_points, resolve_preset
from roofline.models.figure_sets import (FIG2_MODELS, FIG3_MODELS, FIGURE_MODELS, ONE_MODEL,
                                         RIDGE_MODELS, available, default_models)
from roofline.models.labels import member_tags, model_info
from roofline.plots.charts import device_latencies, devices, roofline
from roofline.plots.paper import FIG2_RPS, FIG3_RPS, SWEEP_RPS, opcost, pareto, pareto_front, ridge
from roofline.plots.saving import FIGURE_SUFFIXES, figure_bytes, figure_suffix
from roofline.plots.style import OKABE_ITO, OP_COLORS, family_color, family_marker

__all__ = ["FIGURE_KINDS", "FIGURE_RPS", "figure", "ridge", "pareto", "pareto_front", "opcost",
           "roofline", "devices", "device_latencies", "figure_bytes", "figure_suffix",
           "FIGURE_SUFFIXES", "FIG2_MODELS", "FIG3_MODELS", "RIDGE_MODELS", "ONE_MODEL",
           "FIGURE_MODELS", "FIG2_RPS", "FIG3_RPS", "SWEEP_RPS", "available", "default_models",
           "model_info", "member_tags", "family_color", "family_marker", "OKABE_ITO",
           "OP_COLORS"]

#: the kinds of figure :func:`figure` draws
FIGURE_KINDS = tuple(FIGURE_MODELS)
#: figure kind -> the ridge points it is drawn at when none are given
FIGURE_RPS = {"ridge": "0:500:5", "pareto": "0,5,50,500", "opcost": "5,500"}


def figure(kind: str, models: Sequence[str], *, rps: str | None = None,
           preset: str | None = None, hw: Sequence[str] = (), hold: str | None = None,
           dtype: str | None = None, title: str | None = None) -> Figure:
    """The figure ``roofline plot KIND`` draws: ``ridge``, ``pareto`` or ``opcost`` of
    ``models`` (their sweep anchored to ``hw[0]`` when given), the ``roofline`` chart of
    ``models[0]`` on ``hw[0]`` (pixel8_cpu by default), or ``devices``: ``models[0]`` on the
    devices ``hw`` (every registered one by default).

    ``rps`` is a ridge-point grid (:func:`roofline.latency.presets.parse_ridge_points`; default per kind,
    :data:`FIGURE_RPS`); ``preset`` defaults to paper for the sweeps and default otherwise;
    ``hold`` and ``dtype`` change the preset (:func:`roofline.latency.presets.resolve_preset`).
    """
    if kind not in FIGURE_MODELS:
        raise InputError(f"unknown figure {kind!r}; expected one of {', '.join(FIGURE_MODELS)}")
    preset_name = preset or ("paper" if kind in ("ridge", "pareto", "opcost") else "default")
    grid = parse_ridge_points(rps or FIGURE_RPS.get(kind, "0"))
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

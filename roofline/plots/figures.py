"""Figures by kind, in one import: ``from roofline.plots import figures``.

:func:`figure` draws what ``roofline plot KIND`` draws; the figure functions themselves live
in :mod:`roofline.plots.ridge`, :mod:`roofline.plots.paper` (pareto, opcost) and
:mod:`roofline.plots.charts` (roofline, devices), the look in :mod:`roofline.plots.style`,
file output in :mod:`roofline.plots.saving`; they are gathered here for callers and notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from roofline.errors import InputError
from roofline.latency.presets import parse_ridge_points, resolve_preset
from roofline.models.figure_sets import (FIG2_MODELS, FIG3_MODELS, FIGURE_MODELS, ONE_MODEL,
                                         RIDGE_MODELS, available, default_models)
from roofline.models.labels import member_tags, model_info
from roofline.plots.charts import device_latencies, devices, roofline
from roofline.plots.paper import FIG2_RPS, FIG3_RPS, opcost, pareto, pareto_front
from roofline.plots.ridge import SWEEP_RPS, ridge
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
           dtype: str | None = None, title: str | None = None,
           trace_options: Mapping[str, Any] | None = None) -> Figure:
    """The figure ``roofline plot KIND`` draws:

    - ``ridge``, ``opcost``: ``models`` swept over ridge points (anchored to ``hw[0]``);
    - ``pareto``: ``models`` at each ridge point, or with ``hw`` one panel per device;
    - ``roofline``: the chart of ``models[0]`` on ``hw[0]`` (pixel8_cpu by default);
    - ``devices``: ``models`` on the devices ``hw`` (the registered ones by default).

    ``rps`` is a ridge-point grid (:func:`roofline.latency.presets.parse_ridge_points`;
    default per kind, :data:`FIGURE_RPS`); ``preset`` defaults to paper for the sweeps and
    default for the device figures (pareto with ``hw`` included); ``hold`` and ``dtype``
    change the preset (:func:`roofline.latency.presets.resolve_preset`); ``hw`` may hold
    profiles (what-if devices); ``trace_options`` (``resolution``, ``input_shape``) go to
    :func:`roofline.analysis.analyze` for every model name.
    """
    to = {"title": title, "trace_options": trace_options}
    if kind not in FIGURE_MODELS:
        raise InputError(f"unknown figure {kind!r}; expected one of {', '.join(FIGURE_MODELS)}")
    on_devices = kind in ("roofline", "devices") or (kind == "pareto" and bool(hw))
    if kind == "pareto" and hw and rps:
        raise InputError("pareto draws ridge points (--rp) or devices (--hw), not both; "
                         "drop one of them")
    if len(hw) > 1 and kind not in ("devices", "pareto"):
        raise InputError(f"--hw takes one device for {kind} (several for devices and pareto)")
    if len(models) > 1 and kind == "roofline":
        raise InputError(f"roofline draws one model; got {len(models)}")
    preset_name = preset or ("default" if on_devices else "paper")
    device = hw[0] if hw else None
    if on_devices:
        p, _ = resolve_preset(preset_name, hold=hold, dtype=dtype)
        if kind == "roofline":
            return roofline(models[0], device or "pixel8_cpu", p, dtype=dtype, **to)
        if kind == "devices":
            return devices(list(models), p, devices=list(hw) or None, **to)
        return pareto(models, preset=p, devices=list(hw), **to)
    grid = parse_ridge_points(rps or FIGURE_RPS[kind])
    p, _ = resolve_preset(preset_name, hw=device, hold=hold, dtype=dtype)
    if kind == "ridge":
        return ridge(models, grid, p, highlight=device, **to)
    if kind == "pareto":
        return pareto(models, grid, p, **to)
    return opcost(models, grid, p, **to)

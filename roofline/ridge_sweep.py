"""The ridge-point sweep as one public call: models x ridge points under a preset, per model
or per layer (the data behind ``roofline sweep`` and the paper's Figs. 2 and 3).

A preset says what is counted and how a ridge point becomes a device
(:mod:`roofline.latency.presets`): ``paper`` (int8, conv/dw/FC only, weights + input bytes,
40 GB/s held) or ``default`` (every layer, every byte); ``anchor`` puts it on a device's own
peak and bandwidth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from roofline.analysis import Analysis, analyze
from roofline.hardware.profile import HardwareProfile, Roof
from roofline.hardware.registry import get_profile
from roofline.latency.presets import Preset, get_preset, op_class, parse_ridge_points

__all__ = ["sweep", "sweep_preset", "sweep_tables"]


def sweep_preset(preset: str | Preset = "paper", anchor: Any = None) -> Preset:
    """The preset by name, anchored to ``anchor`` (a Roof, a profile or a device id) if given."""
    p = get_preset(preset)
    if anchor is None:
        return p
    roof = anchor if isinstance(anchor, Roof) else get_profile(anchor).roof(p.dtype)
    return p.anchored(roof)


def sweep_tables(models: Mapping[str, Any] | Iterable[str] | str,
                 preset: Preset) -> dict[str, pd.DataFrame]:
    """name -> layer table: an Analysis gives its layers, a DataFrame is used as is, a name
    is analysed (traced, cached) at the preset's dtype and fusion."""
    if isinstance(models, str):
        models = [models]
    if isinstance(models, Mapping):
        return {name: (m.layers if isinstance(m, Analysis) else m) for name, m in models.items()}
    return {m: analyze(m, **preset.analyze_kwargs()).layers for m in dict.fromkeys(models)}


def sweep(models: Mapping[str, Any] | Iterable[str] | str,
          rps: str | float | Sequence[float] = "0:500:5", preset: str | Preset = "paper", *,
          anchor: Roof | HardwareProfile | str | None = None,
          per_layer: bool = False) -> pd.DataFrame:
    """Every model at every ridge point ``rps`` (``"0:500:5"`` or a list, MACs/byte).

    ``models``: names, or ``name -> Analysis`` / layer table (nothing traced again). Per
    model (default): ``model``, ``rp``, ``peak_macs_per_s``, ``mem_bw_bytes_per_s``,
    ``latency_s``, ... and ``preset``. With ``per_layer``: a row per counted layer and ridge
    point: ``model``, ``rp``, ``layer`` (0 = first counted layer), ``name``, ``op``,
    ``op_class`` (Fig. 3's classes), ``position`` (0 = first, 1 = last), ``macs``, ``bytes``
    and ``intensity`` as the preset counts them, ``latency_s`` and ``share`` (of the model's
    latency at that ridge point).
    """
    p = sweep_preset(preset, anchor)
    tables = sweep_tables(models, p)
    grid = parse_ridge_points(rps)
    if not per_layer:
        return p.sweep(tables, grid)
    parts = []
    for name, table in tables.items():
        applied = p.apply(table).reset_index(drop=True)
        times = p.layer_latencies(table, grid).reset_index(drop=True)
        n = len(applied)
        base = pd.DataFrame({
            "model": name, "layer": np.arange(n), "name": applied["name"], "op": applied["op"],
            "op_class": op_class(applied).to_numpy(),
            "position": np.arange(n) / max(n - 1, 1), "macs": applied["macs"],
            "bytes": applied["bytes"], "intensity": applied["intensity"]})
        for rp in times.columns:
            t = times[rp].to_numpy()
            parts.append(base.assign(rp=float(rp), latency_s=t,
                                     share=t / t.sum() if t.sum() > 0 else 0.0))
    cols = ["model", "rp", "layer", "name", "op", "op_class", "position", "macs", "bytes",
            "intensity", "latency_s", "share"]
    out = pd.concat(parts, ignore_index=True)[cols]
    out["preset"] = p.name
    return out

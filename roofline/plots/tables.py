"""The data figures draw: layer tables of named models under a sweep preset, sweeps of named
models, and the registered devices a figure shows by default.

The sweep conventions (:mod:`roofline.latency.presets`) work on layer tables; this is where
model names become tables: each traced once through :func:`roofline.analysis.analyze` at the
preset's dtype and fusion (from the trace cache when it can). Figures and ``roofline sweep``
share it. Importing it imports neither torch nor matplotlib.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from roofline.analysis import analyze
from roofline.hardware.registry import HardwareProfile, get_profile, list_profiles
from roofline.latency.presets import Preset, resolve_preset

__all__ = ["traced_tables", "sweep_models", "bench_measured", "figure_profiles"]


def traced_tables(models: Mapping[str, pd.DataFrame] | Iterable[str] | str, preset: Preset,
                  roof: Any = None, trace_options: Mapping[str, Any] | None = None,
                  ) -> dict[str, pd.DataFrame]:
    """Layer tables for models: a mapping is returned as is; names are traced (on meta, each
    once, from the trace cache when it can) at the preset's dtype and fusion (the device
    ``roof``'s dtype when the preset leaves it open). ``trace_options``: more
    :func:`roofline.analysis.analyze` keywords for the names (``resolution``,
    ``input_shape``)."""
    if isinstance(models, Mapping):
        return dict(models)
    if isinstance(models, str):
        models = [models]
    kwargs = {**(trace_options or {}), **preset.analyze_kwargs(roof)}
    return {m: analyze(m, **kwargs).layers for m in dict.fromkeys(models)}


def sweep_models(models: Iterable[str], rps: Sequence[float] | np.ndarray,
                 preset: str | Preset = "default", *, hw: Any = None,
                 hold: str | None = None, dtype: str | None = None,
                 trace_options: Mapping[str, Any] | None = None,
                 ) -> tuple[Preset, pd.DataFrame]:
    """Models (names) at every ridge point under a preset (see
    :func:`roofline.latency.presets.resolve_preset` for ``hw``, ``hold``, ``dtype``): (the
    preset as applied, its dtype pinned to the one counted; :meth:`Preset.sweep`'s tidy
    frame); ``trace_options`` as for :func:`traced_tables`."""
    p, roof = resolve_preset(preset, hw=hw, hold=hold, dtype=dtype)
    p = p.pinned(roof)
    return p, p.sweep(traced_tables(models, p, roof, trace_options), rps)


def bench_measured(profile: HardwareProfile) -> bool:
    """Whether every figure of a profile was measured (``roofline bench`` on some machine,
    like the development VM's ci_x86_2core): a profile of whichever machine ran it, not a
    product, so figures leave it out unless it is named."""
    figures = [*profile.peak_macs_per_s.values(), profile.mem_bw_bytes_per_s]
    return all(f.basis == "measured" for f in figures)


def figure_profiles(devices: Iterable[Any] | None = None,
                    ) -> tuple[list[HardwareProfile], list[str]]:
    """(the profiles a figure shows, the ids it leaves out). ``devices`` (ids, ``id:variant``,
    YAML paths or profiles) are shown as given, each once; without them every registered
    profile is, except those of :func:`bench_measured` machines (listed as left out)."""
    if devices is not None:
        named = [p if isinstance(p, HardwareProfile) else get_profile(p) for p in devices]
        return list({p.id: p for p in named}.values()), []
    every = list_profiles()
    local = {p.id.split(":", 1)[0] for p in every if p.variant is None and bench_measured(p)}
    return ([p for p in every if p.id.split(":", 1)[0] not in local],
            sorted(p.id for p in every if p.variant is None and p.id in local))

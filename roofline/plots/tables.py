"""Layer tables of named models under a sweep preset, and sweeps of named models.

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
from roofline.latency.presets import Preset, resolve_preset

__all__ = ["traced_tables", "sweep_models"]


def traced_tables(models: Mapping[str, pd.DataFrame] | Iterable[str] | str, preset: Preset,
                  roof: Any = None) -> dict[str, pd.DataFrame]:
    """Layer tables for models: a mapping is returned as is; names are traced (on meta, each
    once, from the trace cache when it can) at the preset's dtype and fusion (the device
    ``roof``'s dtype when the preset leaves it open)."""
    if isinstance(models, Mapping):
        return dict(models)
    if isinstance(models, str):
        models = [models]
    kwargs = preset.analyze_kwargs(roof)
    return {m: analyze(m, **kwargs).layers for m in dict.fromkeys(models)}


def sweep_models(models: Iterable[str], rps: Sequence[float] | np.ndarray,
                 preset: str | Preset = "default", *, hw: str | None = None,
                 hold: str | None = None, dtype: str | None = None,
                 ) -> tuple[Preset, pd.DataFrame]:
    """Models (names) at every ridge point under a preset (see
    :func:`roofline.latency.presets.resolve_preset` for ``hw``, ``hold``, ``dtype``): (the
    preset as applied, its dtype pinned to the one counted; :meth:`Preset.sweep`'s tidy
    frame)."""
    p, roof = resolve_preset(preset, hw=hw, hold=hold, dtype=dtype)
    p = p.pinned(roof)
    return p, p.sweep(traced_tables(models, p, roof), rps)

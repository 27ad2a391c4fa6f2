"""A profile's predictions judged against measurements (``roofline validate``).

No fitting: each measured model (and each measured layer, for per-layer rows from
``roofline measure --per-layer``) is predicted by the profile through the same layer tables
and roofline as ``roofline analyze``, and :func:`roofline.calibration.stats.compare` says how
well the predictions rank and match the measurements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from roofline.calibration.dataset import LayerTables, measured_dataset
from roofline.calibration.measurements import (
    MeasurementError,
    measured_models,
    shape_text,
)
from roofline.calibration.stats import compare
from roofline.latency.equation import layer_times
from roofline.models.resolve import parse_shape

__all__ = ["Validation", "layer_comparison", "validate_profile"]


@dataclass
class Validation:
    """A profile's predictions judged against measurements (``roofline validate``)."""

    head: dict[str, Any]                 # the device, the file, the fusion policy
    stats: dict[str, Any]                # :func:`compare` over the whole models
    models: pd.DataFrame                 # model, measured_ms, predicted_ms, error_pct, macs, layers
    layers: pd.DataFrame | None = None   # per layer, when the CSV has per-layer rows
    layer_stats: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the contract of ``roofline validate --format json``)."""
        return {**self.head, **self.stats, "models": self.models.to_dict(orient="records"),
                "layers": None if self.layers is None else self.layers.to_dict(orient="records"),
                "layer_stats": self.layer_stats}


def validate_profile(path: str, profile: Any, *, layer_tables: LayerTables,
                     fusion: str = "none", threads: int | None = None, dtype: str | None = None,
                     check_model: Callable[[str], Any] | None = None) -> Validation:
    """Predicted (``profile``, a HardwareProfile) vs measured latency of the models of a
    measurements CSV, and of its per-layer rows (:func:`layer_comparison`)."""
    df, rows = measured_models(path, dtype=dtype, threads=threads,
                               default_dtype=profile.default_dtype, check_model=check_model)
    ds, tables = measured_dataset(rows, fusion, layer_tables)
    predicted_s = np.array([float(layer_times(tables[k], profile.roof(k[2]))["latency_s"].sum())
                            for k in ds.keys])
    stats = compare(ds.measured_s, predicted_s, ds.total_macs)
    models = pd.DataFrame({"model": ds.labels, "measured_ms": ds.measured_s * 1e3,
                           "predicted_ms": predicted_s * 1e3,
                           "error_pct": (predicted_s / ds.measured_s - 1) * 100,
                           "macs": ds.total_macs, "layers": ds.sizes})
    layers, layer_stats = layer_comparison(df, profile, layer_tables, threads=threads,
                                           dtype=dtype, src=path)
    r = profile.roof(ds.keys[0][2])
    head = {"hardware": profile.id, "hardware_name": profile.name, "fitted": r.fitted,
            "basis": r.basis, "measurements": path, "fusion": fusion,
            "peak_macs_per_s": r.peak_macs_per_s, "mem_bw_bytes_per_s": r.mem_bw_bytes_per_s,
            "ridge_point": r.ridge_point, "overhead_s_per_layer": r.overhead_s_per_layer}
    return Validation(head, stats, models, layers, layer_stats)


def layer_comparison(df: pd.DataFrame, profile: Any, layer_tables: LayerTables, *,
                     threads: int | None = None, dtype: str | None = None,
                     src: str = "measurements",
                     ) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    """Per-layer predicted vs measured latency, for the per-layer rows (``layer_index`` >= 0,
    at ``threads``) of a measurements frame (:func:`read_measurements`).

    Returns one row per layer (model, layer_index, layer, op, measured_ms, predicted_ms,
    macs) and :func:`compare` over them with ``models`` and ``median_model_spearman`` (the
    median of the per-model r_s); (None, None) when there are no per-layer rows. A row is
    matched to the layer table (under the row's fusion policy, tflite when empty) by index
    and name; a mismatch is a :class:`MeasurementError`.
    """
    per = df[df["layer_index"].notna() & (df["layer_index"] >= 0)]
    if threads is not None:
        per = per[per["threads"].isna() | (per["threads"] == threads)]
    if per.empty:
        return None, None
    out = []
    shapes = per["input_shape"] if "input_shape" in per else pd.Series(None, index=per.index)
    for (model, res, fusion, d, shape), g in per.groupby(
            [per["model"], per["resolution"].fillna(-1), per["fusion"].fillna("tflite"),
             per["dtype"].fillna(dtype or profile.default_dtype),
             shapes.map(lambda s: shape_text(s) or "")], sort=False):
        key = (model, None if res == -1 else int(res), d,
               parse_shape(shape) if shape else None)
        table = layer_times(layer_tables([key], fusion=fusion)[key], profile.roof(d))
        for row in g.itertuples():
            i = int(row.layer_index)
            if i >= len(table) or (row.layer is not None and table["name"].iloc[i] != row.layer):
                found = table["name"].iloc[i] if i < len(table) else "nothing"
                raise MeasurementError(
                    f"{src}: line {row.line}: layer {i} of {model} is {row.layer!r} in the "
                    f"measurements but {found!r} in the layer table (fusion {fusion}); were "
                    "they measured with another model version or fusion policy?")
            out.append({"model": model, "layer_index": i, "layer": row.layer,
                        "op": table["op"].iloc[i],
                        "measured_ms": row.latency_s * 1e3,
                        "predicted_ms": float(table["latency_s"].iloc[i]) * 1e3,
                        "macs": float(table["macs"].iloc[i])})
    layers = pd.DataFrame(out)
    stats = compare(layers["measured_ms"].to_numpy() / 1e3,
                    layers["predicted_ms"].to_numpy() / 1e3, layers["macs"].to_numpy())
    stats["models"] = int(layers["model"].nunique())
    per_model = [compare(g["measured_ms"].to_numpy(), g["predicted_ms"].to_numpy(),
                         g["macs"].to_numpy())["spearman_roofline"]
                 for _, g in layers.groupby("model")]
    stats["median_model_spearman"] = float(np.nanmedian(per_model)) if per_model else None
    return layers, stats

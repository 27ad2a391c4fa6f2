"""One model on several devices: its predicted latency on each, and how the time splits.

The one place where a model meets a list of devices (the ``devices`` chart, a survey row,
a models x devices comparison). Each device is a roof at a dtype; the model's layer table
for that dtype comes from ``table_for(dtype)``, called once per distinct dtype, so a caller
that traces decides how (and may cache); the times are :func:`roofline.latency.equation.
layer_times`, i.e. :func:`~roofline.latency.equation.roofline_time` per layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from roofline.latency.equation import layer_times

__all__ = ["DEVICE_COLUMNS", "model_on_devices"]

#: the columns of :func:`model_on_devices`, in order
DEVICE_COLUMNS = ("device", "dtype", "ridge_point", "latency_s", "compute_bound_s",
                  "memory_bound_s", "memory_bound_fraction")


def model_on_devices(table_for: Callable[[str], pd.DataFrame],
                     roofs: Mapping[str, Any]) -> pd.DataFrame:
    """A row per device of ``roofs`` (label -> a ``hardware.Roof``, at the dtype it runs):
    ``device`` (the label), ``dtype``, ``ridge_point`` (MACs/byte), ``latency_s`` (the
    model's predicted time), ``compute_bound_s`` and ``memory_bound_s`` (the time of its
    compute- and memory-bound layers) and ``memory_bound_fraction`` (their share).

    ``table_for(dtype)`` returns the model's layer table counted at that dtype (the rows
    and bytes that count: apply a preset inside it); it is called once per dtype. Efficiency
    factors and per-layer overheads of a roof are applied, as :func:`layer_times` does.
    """
    tables: dict[str, pd.DataFrame] = {}
    rows = []
    for label, roof in roofs.items():
        if roof.dtype not in tables:
            tables[roof.dtype] = table_for(roof.dtype)
        lt = layer_times(tables[roof.dtype], roof)
        times = lt["latency_s"]
        memory = lt["bound"].to_numpy() == "memory"
        latency = float(times.sum())
        memory_s = float(times.to_numpy()[memory].sum())
        rows.append({
            "device": label, "dtype": roof.dtype, "ridge_point": float(roof.ridge_point),
            "latency_s": latency,
            "compute_bound_s": float(times.to_numpy()[~memory].sum()),
            "memory_bound_s": memory_s,
            "memory_bound_fraction": memory_s / latency if latency else 0.0,
        })
    return pd.DataFrame(rows, columns=list(DEVICE_COLUMNS))

"""Layer table x hardware -> per-layer time, bound and model totals (the paper's Eq. 1).

    t_i = max(macs_i / PeakMACs, bytes_i / PeakMemBW)        ModelTime = sum_i t_i

A layer is compute-bound when its intensity (MACs/byte) is at least the ridge point
PeakMACs / PeakMemBW. Optional per-profile refinements, off by default: efficiency factors
(the share of peak compute or bandwidth a runtime reaches) and a fixed per-layer overhead
(dispatch cost), which a profile fitted to measurements may carry.

Everything here is pandas/numpy over the layer table, vectorised over layers; nothing
imports torch.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd


class RoofLike(Protocol):
    """What the latency model needs of a device (``hardware.Roof`` is one)."""

    peak_macs_per_s: float
    mem_bw_bytes_per_s: float
    overhead_s_per_layer: float
    compute_efficiency: float
    memory_efficiency: float


def layer_times(layers: pd.DataFrame, roof: RoofLike) -> pd.DataFrame:
    """The layer table with ``compute_s``, ``memory_s``, ``latency_s`` and ``bound`` added."""
    peak = roof.peak_macs_per_s * getattr(roof, "compute_efficiency", 1.0)
    bw = roof.mem_bw_bytes_per_s * getattr(roof, "memory_efficiency", 1.0)
    overhead = getattr(roof, "overhead_s_per_layer", 0.0)
    compute_s = layers["macs"].to_numpy(dtype=float) / peak
    memory_s = layers["bytes"].to_numpy(dtype=float) / bw
    out = layers.copy()
    out["compute_s"] = compute_s
    out["memory_s"] = memory_s
    out["latency_s"] = np.maximum(compute_s, memory_s) + overhead
    out["bound"] = np.where(compute_s >= memory_s, "compute", "memory")
    return out


def totals(layers: pd.DataFrame) -> dict[str, Any]:
    """Whole-model sums of a layer table (with times, if ``layer_times`` was applied)."""
    macs = int(layers["macs"].sum())
    weight_bytes = float(layers["weight_bytes"].sum())
    activation_bytes = float(layers["input_bytes"].sum() + layers["output_bytes"].sum())
    total_bytes = weight_bytes + activation_bytes
    out: dict[str, Any] = {
        "layers": int(len(layers)),
        "macs": macs,
        "flops": 2 * macs,
        "params": int(layers["params"].sum()),
        "weight_bytes": weight_bytes,
        "activation_bytes": activation_bytes,
        "bytes": total_bytes,
        "intensity": macs / total_bytes if total_bytes else 0.0,
    }
    if "latency_s" in layers:
        latency = float(layers["latency_s"].sum())
        memory = float(layers.loc[layers["bound"] == "memory", "latency_s"].sum())
        out.update(
            latency_s=latency,
            compute_s=float(layers["compute_s"].sum()),
            memory_s=float(layers["memory_s"].sum()),
            memory_bound_fraction=memory / latency if latency else 0.0,
            memory_bound_layers=int((layers["bound"] == "memory").sum()),
        )
    return out

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

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd


__all__ = ["HOLDS", "RoofLike", "device_at", "layer_latencies", "layer_times", "roofline_time",
           "sweep", "totals"]


class RoofLike(Protocol):
    """What the latency model needs of a device (``hardware.Roof`` is one)."""

    peak_macs_per_s: float
    mem_bw_bytes_per_s: float
    overhead_s_per_layer: float
    compute_efficiency: float
    memory_efficiency: float


def roofline_time(macs: Any, bytes_: Any, peak_macs_per_s: Any, mem_bw_bytes_per_s: Any = None,
                  overhead_s: Any = 0.0, *, ridge_point: Any = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """THE roofline equation, the one place it is written: ``(compute_s, memory_s, time_s)``
    with ``time_s = max(macs / peak, bytes / bw) + overhead``. Arguments broadcast (numpy),
    so one call serves a layer table, a models x devices grid or a ridge-point sweep.

    A device may be given by its ``ridge_point`` (MACs/byte) instead of its bandwidth
    (``bw = peak / ridge_point``); the memory term is then ``bytes x ridge_point / peak``,
    so with ``peak = 1`` the times are MAC-equivalents, ``max(macs, ridge_point x bytes)``,
    exactly."""
    peak = np.asarray(peak_macs_per_s, dtype=float)
    compute_s = np.asarray(macs, dtype=float) / peak
    if (ridge_point is None) == (mem_bw_bytes_per_s is None):
        raise ValueError("give the device's bandwidth or its ridge point (one of them)")
    if ridge_point is None:
        memory_s = np.asarray(bytes_, dtype=float) / np.asarray(mem_bw_bytes_per_s, dtype=float)
    else:
        memory_s = np.asarray(bytes_, dtype=float) * np.asarray(ridge_point, dtype=float) / peak
    return compute_s, memory_s, np.maximum(compute_s, memory_s) + overhead_s


def layer_times(layers: pd.DataFrame, roof: RoofLike) -> pd.DataFrame:
    """The layer table with ``compute_s``, ``memory_s``, ``latency_s`` and ``bound`` added."""
    peak = roof.peak_macs_per_s * getattr(roof, "compute_efficiency", 1.0)
    bw = roof.mem_bw_bytes_per_s * getattr(roof, "memory_efficiency", 1.0)
    overhead = getattr(roof, "overhead_s_per_layer", 0.0)
    compute_s, memory_s, latency_s = roofline_time(layers["macs"].to_numpy(dtype=float),
                                                   layers["bytes"].to_numpy(dtype=float),
                                                   peak, bw, overhead)
    out = layers.copy()
    out["compute_s"] = compute_s
    out["memory_s"] = memory_s
    out["latency_s"] = latency_s
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


# --------------------------------------------------------------------------- ridge sweeps
#
# The hardware-independent form of Eq. 1: PeakMACs x ModelTime = sum_i max(macs_i, RP x
# bytes_i), in MAC-equivalents. RP 0 is MAC counting. A ridge point becomes a device in one
# of two ways ("hold"):
#
#   bandwidth   BW fixed, PeakMACs = RP x BW. RP 0 has no memory term and uses the anchor
#               peak (the paper: 40 GB/s, and 200 GMAC/s at RP 0).
#   peak        PeakMACs fixed, BW = PeakMACs / RP (infinite at RP 0).
#
# Either way latency = MAC-equivalents / PeakMACs(RP). A layer is memory-bound at RP when
# RP x bytes > macs, i.e. when RP exceeds its intensity (compute-bound at equality, as in
# ``layer_times``).

HOLDS = ("bandwidth", "peak")


def device_at(rps: np.ndarray, hold: str, peak_macs_per_s: float,
              mem_bw_bytes_per_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(PeakMACs/s, bandwidth B/s) per ridge point under a hold mode (see above)."""
    rps = np.asarray(rps, dtype=float)
    with np.errstate(divide="ignore"):
        if hold == "bandwidth":
            peak = np.where(rps > 0, rps * mem_bw_bytes_per_s, peak_macs_per_s)
            bw = np.where(rps > 0, mem_bw_bytes_per_s, np.inf)
        elif hold == "peak":
            peak = np.full_like(rps, peak_macs_per_s)
            bw = np.where(rps > 0, peak_macs_per_s / np.where(rps > 0, rps, 1.0), np.inf)
        else:
            raise ValueError(f"hold must be one of {HOLDS}, got {hold!r}")
    return peak, bw


def _as_grid(rps: Any) -> np.ndarray:
    grid = np.atleast_1d(np.asarray(rps, dtype=float))
    if grid.ndim != 1 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError("ridge points must be a 1-D array of finite numbers >= 0")
    return grid


def sweep(tables: Mapping[str, pd.DataFrame], rps: Any, *, hold: str = "bandwidth",
          peak_macs_per_s: float, mem_bw_bytes_per_s: float) -> pd.DataFrame:
    """Latency of every model at every ridge point, as one tidy frame.

    ``tables`` maps a model name to its layer table (``macs`` and ``bytes`` columns; apply a
    preset first to choose which layers and bytes count). All layers of all models form one
    (layers x ridge points) matrix of MAC-equivalents, summed per model with
    ``np.add.reduceat``. Columns: ``model``, ``rp`` (MACs/byte), ``latency_s``,
    ``mac_equivalents``, ``memory_bound_fraction`` (share of the time spent in memory-bound
    layers), ``peak_macs_per_s`` and ``mem_bw_bytes_per_s`` (the device at that RP).
    Rows are ordered by model (in ``tables`` order), then by ridge point.
    """
    grid = _as_grid(rps)
    names = list(tables)
    sizes = np.array([len(tables[n]) for n in names], dtype=np.int64)
    if names and sizes.sum():
        macs = np.concatenate([tables[n]["macs"].to_numpy(dtype=float) for n in names])
        nbytes = np.concatenate([tables[n]["bytes"].to_numpy(dtype=float) for n in names])
    else:
        macs = nbytes = np.zeros(0)
    eq, mem = _model_sums(macs, nbytes, sizes, grid)
    peak, bw = device_at(grid, hold, peak_macs_per_s, mem_bw_bytes_per_s)
    frac = np.divide(mem, eq, out=np.zeros_like(eq), where=eq > 0)
    n, r = len(names), len(grid)
    return pd.DataFrame({
        "model": np.repeat(np.array(names, dtype=object), r),
        "rp": np.tile(grid, n),
        "latency_s": (eq / peak).ravel(),
        "mac_equivalents": eq.ravel(),
        "memory_bound_fraction": frac.ravel(),
        "peak_macs_per_s": np.tile(peak, n),
        "mem_bw_bytes_per_s": np.tile(bw, n),
    })


def _model_sums(macs: np.ndarray, nbytes: np.ndarray, sizes: np.ndarray,
                grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(MAC-equivalents, memory-bound MAC-equivalents), each (models x ridge points)."""
    out = np.zeros((len(sizes), len(grid)))
    mem_out = np.zeros_like(out)
    if not len(macs):
        return out, mem_out
    # MAC-equivalents (layers x RPs): the roofline at PeakMACs = 1 and bandwidth = 1 / RP
    compute, memory, eq = _mac_equivalents(macs, nbytes, grid)
    mem = np.where(memory > compute, eq, 0.0)           # the memory-bound part
    nonempty = sizes > 0
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])[nonempty]
    out[nonempty] = np.add.reduceat(eq, starts, axis=0)
    mem_out[nonempty] = np.add.reduceat(mem, starts, axis=0)
    return out, mem_out


def layer_latencies(layers: pd.DataFrame, rps: Any, *, hold: str = "bandwidth",
                    peak_macs_per_s: float, mem_bw_bytes_per_s: float) -> pd.DataFrame:
    """Per-layer latency in seconds: one row per layer (the table's index), one column per
    ridge point, ``max(macs_i / PeakMACs(RP), bytes_i / BW(RP))``."""
    grid = _as_grid(rps)
    peak, _ = device_at(grid, hold, peak_macs_per_s, mem_bw_bytes_per_s)
    _, _, eq = _mac_equivalents(layers["macs"].to_numpy(dtype=float),
                                layers["bytes"].to_numpy(dtype=float), grid)
    return pd.DataFrame(eq / peak[None, :], index=layers.index, columns=pd.Index(grid, name="rp"))


def _mac_equivalents(macs: np.ndarray, nbytes: np.ndarray,
                     grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`roofline_time` in the hardware-independent form, layers x ridge points:
    PeakMACs x t_i = max(macs_i, RP x bytes_i) (a device with PeakMACs = 1 at each ridge point)."""
    return roofline_time(macs[:, None], nbytes[:, None], 1.0, ridge_point=grid[None, :])

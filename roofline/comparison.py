"""Many models on many devices in one table: ``roofline compare`` and ``roofline.compare``.

Each model is traced once (from the trace cache when it can), its layer table built once
per dtype, and put on every device: a row per model with its MACs, params and published
top-1 (zoo models), and per device the predicted latency and the share of that time spent
in memory-bound layers. ``min_top1`` keeps the models at or above a top-1 bar and marks the
fastest of them on each device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from roofline.analysis import resolve_roof, trace_model
from roofline.errors import InputError
from roofline.graph.layers import check_fusion, layer_table
from roofline.hardware.profile import HardwareProfile
from roofline.latency.equation import layer_times, totals

__all__ = ["compare", "latency_column", "memory_column", "SORT_KEYS"]

#: sort keys besides a device id (latency on that device, fastest first)
SORT_KEYS = ("model", "macs", "params", "top1")


def latency_column(device: str) -> str:
    """The column of predicted latency (seconds) on ``device``."""
    return f"latency_s[{device}]"


def memory_column(device: str) -> str:
    """The column of the memory-bound share of the time on ``device``."""
    return f"memory_bound_fraction[{device}]"


def compare(models: Sequence[str], hw: Sequence[str | HardwareProfile] | str = ("pixel8_cpu",),
            *, dtype: str | None = None, fusion: str = "tflite", resolution: int | None = None,
            batch: int = 1, input_shape: Any = None, cache: bool = True,
            form: str = "inference", sort: str | None = None,
            min_top1: float | None = None) -> pd.DataFrame:
    """A row per model: ``model``, ``family``, ``resolution``, ``batch``, ``macs``,
    ``params``, ``top1`` (published, %; NaN where none), then per device ``latency_s[ID]``
    and ``memory_bound_fraction[ID]``. Each device runs at ``dtype`` or its default dtype.

    ``sort``: a device id (latency there, fastest first), ``model``, ``macs``, ``params`` or
    ``top1`` (best first); default: the order given. ``min_top1``: keep models whose
    published top-1 is at least this, and add ``fastest_on``, the devices on which each is
    the fastest of those kept. ``df.attrs["devices"]`` describes the devices.
    """
    check_fusion(fusion)
    specs = [hw] if isinstance(hw, (str, HardwareProfile)) else list(hw)
    if not models:
        raise InputError("no models to compare; name one or more")
    if not specs:
        raise InputError("no device to compare on; pass one or more with --hw")
    devices = {}
    for spec in specs:
        roof, _, _ = resolve_roof(spec, dtype)
        devices[roof.hardware_id] = roof
    if sort is not None and sort not in SORT_KEYS and sort not in devices:
        raise InputError(f"--sort {sort!r}: expected one of {', '.join(SORT_KEYS)} or a device "
                         f"compared ({', '.join(devices)})")
    rows = []
    for m in dict.fromkeys(models):
        label, tr, meta = trace_model(m, resolution=resolution, batch=batch,
                                      input_shape=input_shape, cache=cache, form=form)
        published = meta.get("published") or {}
        top1 = published.get("top1")
        row: dict[str, Any] = {
            "model": label, "family": meta.get("family"), "resolution": meta.get("resolution"),
            "batch": meta.get("batch", batch), "macs": None, "params": tr.param_count,
            "top1": float(top1) if top1 is not None else math.nan}
        tables: dict[str, pd.DataFrame] = {}
        for d, roof in devices.items():
            if roof.dtype not in tables:
                tables[roof.dtype] = layer_table(tr, fusion=fusion, dtype=roof.dtype)
            t = totals(layer_times(tables[roof.dtype], roof))
            row["macs"] = t["macs"]
            row[latency_column(d)] = t["latency_s"]
            row[memory_column(d)] = t["memory_bound_fraction"]
        rows.append(row)
    df = pd.DataFrame(rows)
    if min_top1 is not None:
        df = _above(df, min_top1, list(devices))
    if sort is not None:
        key = latency_column(sort) if sort in devices else sort
        df = df.sort_values(key, ascending=sort != "top1", kind="stable",
                            na_position="last").reset_index(drop=True)
    df.attrs["devices"] = {d: {"name": r.name, "dtype": r.dtype, "basis": r.basis,
                               "peak_macs_per_s": r.peak_macs_per_s,
                               "mem_bw_bytes_per_s": r.mem_bw_bytes_per_s,
                               "ridge_point": r.ridge_point, "fitted": r.fitted}
                           for d, r in devices.items()}
    df.attrs["min_top1"] = min_top1
    return df


def _above(df: pd.DataFrame, min_top1: float, devices: list[str]) -> pd.DataFrame:
    """The models at or above the top-1 bar, with ``fastest_on`` (devices, ';'-joined)."""
    if not isinstance(min_top1, (int, float)) or not math.isfinite(min_top1):
        raise InputError(f"--min-top1 must be a number (percent), got {min_top1!r}")
    kept = df[df["top1"] >= min_top1].reset_index(drop=True)
    if kept.empty:
        best = df["top1"].max()
        have = (f"the best published is {best:g}%" if pd.notna(best)
                else "none of these models has a published top-1 (zoo models do)")
        raise InputError(f"no model reaches --min-top1 {min_top1:g}%: {have}")
    fastest = {d: kept[latency_column(d)].idxmin() for d in devices}
    kept["fastest_on"] = [";".join(d for d in devices if fastest[d] == i)
                          for i in range(len(kept))]
    return kept

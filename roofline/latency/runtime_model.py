"""The runtime-aware roofline: the plain roofline plus a runtime's few fitted parameters.

Over a layer table (a deployed file's, one layer per op the runtime executes, or a torch
trace's), for a device with peak ``P_d`` (MACs/s at the layer's compute dtype ``d``) and DRAM
bandwidth ``B``, and a runtime (``roofline.hardware.runtime``)::

    t = sum_i max(macs_i / (P_d(i) e_k(i)),  bytes_i / (B m_i))                  (the roofline)
        + (a n_ops + b n_partitions + c n_island_ops) / P                          (overheads)

- ``e_k`` is the efficiency of the layer's kind: ``conv_efficiency`` (dense convolutions and
  fully connected layers), ``depthwise_efficiency`` (up to 25 taps: 3x3, 5x5),
  ``large_depthwise_efficiency`` (more taps: 7x7 and up, where XNNPACK leaves its single-pass
  kernels; taps = MACs per output element), ``matmul_efficiency`` (a product of two
  activations); kinds without MACs use 1 (their compute term is zero).
- ``m_i`` is ``memory_efficiency``, or ``island_memory_efficiency`` for an island layer: one
  that computes in float inside a quantised graph (``float_island``), or that runs outside
  the delegate (``delegated`` false: TFLite's own kernels, not XNNPACK's).
- ``a``, ``b``, ``c`` are ``op_overhead_macs``, ``partition_overhead_macs`` and
  ``island_op_overhead_macs``, in MAC-equivalents: seconds x ``P``, the device's peak at the
  model's dtype. Dividing by ``P`` makes a runtime's overheads scale with the device, so a
  runtime fitted on one CPU carries to another whose peak and bandwidth are fitted.
- ``n_ops`` counts the table's layers; ``n_partitions`` the delegate partitions (distinct
  ``partition`` values, deployed tables only); ``n_island_ops`` the layers that run outside
  the delegate (``delegated`` false) plus every QUANTIZE/DEQUANTIZE (kind ``quantize``),
  the edges of float islands.

The max() is :func:`roofline.latency.equation.roofline_time`, the one roofline equation. A
layer's compute dtype ``d`` is its output's (``act_dtype``) in a deployed table: float
layers run at the device's fp32 peak (its reference peak when it has none), integer layers
at its int8 peak; a torch table's layers all run at the analysis dtype.

:class:`RuntimeData` holds many models' layers flattened, for the vectorised prediction that
fitting needs (``roofline.calibration.runtime_fit``). Pure numpy/pandas, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from roofline.hardware.runtime import NEUTRAL, PARAMETERS
from roofline.latency.equation import roofline_time

__all__ = [
    "COMPUTE_GROUPS",
    "EFFICIENCY_OF",
    "DeviceRoofs",
    "RuntimeData",
    "layer_features",
    "runtime_estimate",
    "runtime_layer_times",
    "runtime_totals",
]

#: op kind -> the efficiency parameter of its compute term
COMPUTE_GROUPS: Mapping[str, str] = {
    **{k: "conv_efficiency" for k in ("conv1d", "conv2d", "conv3d", "convtranspose1d",
                                      "convtranspose2d", "convtranspose3d", "linear")},
    **{k: "depthwise_efficiency" for k in ("dwconv1d", "dwconv2d", "dwconv3d")},
    **{k: "matmul_efficiency" for k in ("matmul", "attention")},
}
#: compute-efficiency parameters, in the order of the group index (0 = none)
EFFICIENCY_OF = ("conv_efficiency", "depthwise_efficiency", "matmul_efficiency",
                 "large_depthwise_efficiency")
#: a depthwise convolution with more taps (MACs per output element) than this is "large":
#: XNNPACK's single-pass depthwise kernels go up to 25 taps (5x5), larger ones take several
#: passes over the input (its multipass kernels)
SINGLE_PASS_TAPS = 25
_DTYPE_LABEL = {"float32": "fp32", "float64": "fp32", "float16": "fp16", "bfloat16": "bf16"}


@dataclass(frozen=True)
class DeviceRoofs:
    """What the runtime model needs of a device: peak MACs/s per dtype, the reference dtype
    (the model's; its peak scales the overheads) and the DRAM bandwidth (bytes/s)."""

    peaks: Mapping[str, float]
    dtype: str
    mem_bw_bytes_per_s: float

    @classmethod
    def of(cls, profile: Any, dtype: str | None = None) -> DeviceRoofs:
        """From a hardware profile at ``dtype`` (default: the profile's)."""
        d = dtype or profile.default_dtype
        roof = profile.roof(d)
        peaks = {k: float(profile.peak(k)) for k in profile.dtypes}
        peaks[d] = float(roof.peak_macs_per_s)
        return cls(peaks, d, float(roof.mem_bw_bytes_per_s))

    @property
    def peak(self) -> float:
        """The peak at the reference dtype."""
        return self.peaks[self.dtype]

    def peak_of(self, dtypes: np.ndarray) -> np.ndarray:
        """(L,) the peak for each layer's compute dtype label (fp32 float layers fall back to
        the reference peak on a device that has no float peak)."""
        out = np.full(len(dtypes), self.peak)
        for d in pd.unique(dtypes):
            if d in self.peaks:
                out[dtypes == d] = self.peaks[d]
        return out

    def scaled(self, peak: float | None = None, bandwidth: float | None = None) -> DeviceRoofs:
        """The device with its reference peak set to ``peak`` (every dtype's peak scaled
        alike) and/or its bandwidth set to ``bandwidth``."""
        f = 1.0 if peak is None else peak / self.peak
        return DeviceRoofs({k: v * f for k, v in self.peaks.items()}, self.dtype,
                           self.mem_bw_bytes_per_s if bandwidth is None else bandwidth)


def layer_features(table: pd.DataFrame, dtype: str) -> pd.DataFrame:
    """Per layer: ``macs``, ``bytes``, ``group`` (index into :data:`EFFICIENCY_OF`, plus 1;
    0 = no compute efficiency), ``compute_dtype``, ``island`` (computes in float inside a
    quantised graph, or runs outside the delegate), ``island_op`` (outside the delegate, or a
    QUANTIZE/DEQUANTIZE) and ``partition`` (-1 outside any). A torch layer table (no
    deployed columns) is all ``dtype``, no islands, no partitions."""
    kinds = table["op"].astype(str)
    group = kinds.map({k: EFFICIENCY_OF.index(v) + 1 for k, v in COMPUTE_GROUPS.items()})
    dw = (group == EFFICIENCY_OF.index("depthwise_efficiency") + 1).to_numpy()
    large = dw & (_taps(table, dw) > SINGLE_PASS_TAPS)
    group = group.mask(large, EFFICIENCY_OF.index("large_depthwise_efficiency") + 1)
    n = len(table)
    deployed = "act_dtype" in table
    if deployed:
        act = table["act_dtype"].astype(str)
        compute = act.map(lambda a: _DTYPE_LABEL.get(a, dtype)).to_numpy(dtype=object)
        outside = ~table["delegated"].to_numpy(dtype=bool)
        island = table["float_island"].to_numpy(dtype=bool) | outside
        island_op = outside | (kinds == "quantize").to_numpy()
        part = table["partition"].astype("Float64").fillna(-1).to_numpy(dtype=float)
    else:
        compute = np.full(n, dtype, dtype=object)
        island = island_op = np.zeros(n, dtype=bool)
        part = np.full(n, -1.0)
    return pd.DataFrame({
        "macs": table["macs"].to_numpy(dtype=float),
        "bytes": table["bytes"].to_numpy(dtype=float),
        "group": group.fillna(0).to_numpy(dtype=np.int64),
        "compute_dtype": compute,
        "island": island,
        "island_op": island_op,
        "partition": part.astype(np.int64),
    }, index=table.index)


def _taps(table: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """MACs per output element (a depthwise kernel's taps) of the layers at ``rows``; 0
    elsewhere, and where the table has no output shape."""
    out = np.zeros(len(table))
    if "output_shape" not in table or not rows.any():
        return out
    shapes = table["output_shape"].to_numpy()[rows]
    elems = np.array([float(np.prod([int(d) for d in str(s).split(",")[0].split("x")
                                     if d.strip().isdigit()] or [0])) for s in shapes])
    macs = table["macs"].to_numpy(dtype=float)[rows]
    out[rows] = np.divide(macs, elems, out=np.zeros_like(macs), where=elems > 0)
    return out


def _values(runtime: Any) -> dict[str, float]:
    """Parameter values of a Runtime, or of a plain mapping (missing = neutral)."""
    if hasattr(runtime, "values") and callable(runtime.values) and not isinstance(
            runtime, Mapping):
        return runtime.values()
    return {k: float(runtime.get(k, NEUTRAL[k])) if runtime else NEUTRAL[k] for k in PARAMETERS}


def runtime_layer_times(table: pd.DataFrame, device: DeviceRoofs,
                        runtime: Any) -> pd.DataFrame:
    """The layer table with the runtime-aware ``compute_s``, ``memory_s``, ``latency_s``,
    ``bound``, ``overhead_s`` (this layer's share of the fixed costs: its op overhead, its
    island-edge overhead, and a partition's overhead on the partition's first layer) and
    ``plain_latency_s`` (the plain roofline at the device's peak at ``device.dtype``)."""
    v = _values(runtime)
    f = layer_features(table, device.dtype)
    eff = np.array([1.0] + [v[p] for p in EFFICIENCY_OF])[f["group"].to_numpy()]
    peak = device.peak_of(f["compute_dtype"].to_numpy())
    memeff = np.where(f["island"], v["island_memory_efficiency"], v["memory_efficiency"])
    compute_s, memory_s, t = roofline_time(f["macs"], f["bytes"], peak * eff,
                                           device.mem_bw_bytes_per_s * memeff)
    part = f["partition"].to_numpy()
    first = (part >= 0) & ~pd.Series(part).duplicated().to_numpy()
    over = (v["op_overhead_macs"] + v["island_op_overhead_macs"] * f["island_op"].to_numpy()
            + v["partition_overhead_macs"] * first) / device.peak
    _, _, plain = roofline_time(f["macs"], f["bytes"], device.peak, device.mem_bw_bytes_per_s)
    out = table.copy()
    out["compute_s"] = compute_s
    out["memory_s"] = memory_s
    out["overhead_s"] = over
    out["latency_s"] = t + over
    out["bound"] = np.where(compute_s >= memory_s, "compute", "memory")
    out["plain_latency_s"] = plain
    return out


def runtime_totals(times: pd.DataFrame) -> dict[str, Any]:
    """Whole-model sums of :func:`runtime_layer_times`: latency (runtime-aware), the plain
    roofline beside it, the overheads, MACs, bytes, and the counts the overheads use."""
    part = times["partition"].dropna() if "partition" in times else pd.Series([], dtype=float)
    return {
        "latency_s": float(times["latency_s"].sum()),
        "plain_latency_s": float(times["plain_latency_s"].sum()),
        "overhead_s": float(times["overhead_s"].sum()),
        "compute_s": float(times["compute_s"].sum()),
        "memory_s": float(times["memory_s"].sum()),
        "macs": int(times["macs"].sum()),
        "bytes": float(times["bytes"].sum()),
        "ops": len(times),
        "partitions": int(part.nunique()),
        "float_island_ops": int(times["float_island"].sum()) if "float_island" in times else 0,
    }


def runtime_estimate(layers: pd.DataFrame, device: DeviceRoofs, runtime: Any
                     ) -> tuple[np.ndarray, dict[str, Any]]:
    """What an analysis adds for a runtime with parameters: each layer's runtime-aware time
    (seconds, its share of the fixed costs included) and the totals ``runtime`` (its id),
    ``runtime_latency_s`` (reported beside the plain roofline's ``latency_s``),
    ``runtime_overhead_s`` (its fixed costs) and ``runtime_fitted_on`` (the source of its
    parameters)."""
    times = runtime_layer_times(layers, device, runtime)
    t = runtime_totals(times)
    sources = sorted({p.source for p in getattr(runtime, "parameters", {}).values()})
    return times["latency_s"].to_numpy(), {
        "runtime": runtime.id, "runtime_latency_s": t["latency_s"],
        "runtime_overhead_s": t["overhead_s"], "runtime_fitted_on": "; ".join(sources)}


# --------------------------------------------------------------------- many models, flat


@dataclass
class RuntimeData:
    """Many models' layer features flattened, with per-model counts, for fitting.

    ``predict`` is the runtime-aware latency of every model at once; ``jacobian`` its
    derivatives with respect to the log of each parameter (all are positive)."""

    labels: list[str]
    measured_s: np.ndarray
    feats: pd.DataFrame                 # layer_features of every model, concatenated
    sizes: np.ndarray                   # (M,) layers per model
    keys: list[Any] = field(default_factory=list)
    families: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.measured_s = np.asarray(self.measured_s, dtype=float)
        self.sizes = np.asarray(self.sizes, dtype=np.int64)
        if np.any(self.sizes <= 0):
            raise ValueError(f"model {self.labels[int(np.argmin(self.sizes))]} has no layers")
        self._starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        f = self.feats
        self.macs = f["macs"].to_numpy(dtype=float)
        self.nbytes = f["bytes"].to_numpy(dtype=float)
        self.group = f["group"].to_numpy(dtype=np.int64)
        self.cdtype = f["compute_dtype"].to_numpy(dtype=object)
        self.is_island = f["island"].to_numpy(dtype=bool)
        owner = np.repeat(np.arange(len(self.sizes)), self.sizes)
        part = f["partition"].to_numpy(dtype=np.int64)
        self.n_ops = self.sizes.astype(float)
        self.n_island = self._sum(f["island_op"].to_numpy(dtype=float))
        pairs = pd.DataFrame({"m": owner, "p": part})
        pairs = pairs[pairs["p"] >= 0].drop_duplicates()
        self.n_partitions = np.bincount(pairs["m"].to_numpy(), minlength=len(self.sizes)
                                        ).astype(float)

    @classmethod
    def from_tables(cls, tables: Sequence[pd.DataFrame], measured_s: Sequence[float],
                    labels: Sequence[str], dtype: str, keys: Sequence[Any] = (),
                    families: Sequence[str] = ()) -> RuntimeData:
        """From one layer table per model (deployed or torch)."""
        feats = pd.concat([layer_features(t, dtype) for t in tables], ignore_index=True)
        return cls(list(labels), np.asarray(measured_s, dtype=float), feats,
                   np.array([len(t) for t in tables]), list(keys), list(families))

    @property
    def n(self) -> int:
        return len(self.sizes)

    def _sum(self, per_layer: np.ndarray) -> np.ndarray:
        return np.add.reduceat(per_layer, self._starts, axis=0)

    @property
    def total_macs(self) -> np.ndarray:
        return self._sum(self.macs)

    def counts(self, name: str) -> np.ndarray:
        """(M,) the count an overhead parameter multiplies."""
        return {"op_overhead_macs": self.n_ops, "partition_overhead_macs": self.n_partitions,
                "island_op_overhead_macs": self.n_island}[name]

    def subset(self, index: Sequence[int] | np.ndarray) -> RuntimeData:
        """The models at ``index``."""
        index = np.asarray(index, dtype=np.int64)
        rows = np.concatenate([np.arange(self._starts[i], self._starts[i] + self.sizes[i])
                               for i in index]) if len(index) else np.zeros(0, np.int64)
        return RuntimeData([self.labels[i] for i in index], self.measured_s[index],
                           self.feats.iloc[rows].reset_index(drop=True), self.sizes[index],
                           [self.keys[i] for i in index] if self.keys else [],
                           [self.families[i] for i in index] if self.families else [])

    def _terms(self, device: DeviceRoofs, v: Mapping[str, float]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        eff = np.array([1.0] + [v[p] for p in EFFICIENCY_OF])[self.group]
        memeff = np.where(self.is_island, v["island_memory_efficiency"], v["memory_efficiency"])
        peak = device.peak_of(self.cdtype)
        compute_s, memory_s, t = roofline_time(self.macs, self.nbytes, peak * eff,
                                               device.mem_bw_bytes_per_s * memeff)
        return compute_s, memory_s, t

    def overhead_s(self, device: DeviceRoofs, v: Mapping[str, float]) -> np.ndarray:
        """(M,) the fixed costs of each model, seconds."""
        return (v["op_overhead_macs"] * self.n_ops + v["partition_overhead_macs"]
                * self.n_partitions + v["island_op_overhead_macs"] * self.n_island) / device.peak

    def predict(self, device: DeviceRoofs, runtime: Any) -> np.ndarray:
        """(M,) runtime-aware latency, seconds."""
        v = _values(runtime)
        _, _, t = self._terms(device, v)
        return self._sum(t) + self.overhead_s(device, v)

    def plain(self, device: DeviceRoofs) -> np.ndarray:
        """(M,) the plain roofline over the same layers (one peak, no parameters)."""
        _, _, t = roofline_time(self.macs, self.nbytes, device.peak, device.mem_bw_bytes_per_s)
        return self._sum(t)

    def jacobian(self, device: DeviceRoofs, runtime: Any, free: Sequence[str]) -> np.ndarray:
        """(M, len(free)): d latency / d log(parameter) for each free parameter; besides the
        runtime's, ``peak`` (every dtype's peak scaled alike) and ``bandwidth``."""
        v = _values(runtime)
        c, m, _ = self._terms(device, v)
        comp = c >= m
        over = self.overhead_s(device, v)
        cols = []
        for name in free:
            if name in EFFICIENCY_OF:
                g = EFFICIENCY_OF.index(name) + 1
                d = -self._sum(np.where(comp & (self.group == g), c, 0.0))
            elif name == "memory_efficiency":
                d = -self._sum(np.where(~comp & ~self.is_island, m, 0.0))
            elif name == "island_memory_efficiency":
                d = -self._sum(np.where(~comp & self.is_island, m, 0.0))
            elif name == "peak":
                d = -self._sum(np.where(comp, c, 0.0)) - over
            elif name == "bandwidth":
                d = -self._sum(np.where(comp, 0.0, m))
            else:
                d = v[name] * self.counts(name) / device.peak
            cols.append(d)
        return np.stack(cols, axis=1) if cols else np.zeros((self.n, 0))

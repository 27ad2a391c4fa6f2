"""Sweep presets: the conventions that turn a layer table into a ridge-point sweep.

A ridge-point sweep needs more than the roofline formula. It needs to know which layers count,
which bytes a layer moves, the dtype, the fusion policy, and how a ridge point (RP, MACs/byte)
becomes a device: hold the bandwidth and set PeakMACs = RP x BW, or hold PeakMACs and set
BW = PeakMACs / RP. A :class:`Preset` fixes all of these as data, and its :attr:`~Preset.label`
is printed on every table and figure made with it.

Two presets ship:

``paper``
    The conventions the MobileNetV4 paper's Figs. 2 and 3 are consistent with (our reading of
    the figures; the paper does not state them): int8; only the layers that do MACs (Conv2D,
    depthwise Conv2D, FC; matmul and attention too, for hybrid models) are counted; the bytes
    of a layer are its weights plus its input activation; the stem's 3-channel input is read as
    if padded to 4 channels; bandwidth is held at 40 GB/s and PeakMACs = RP x 40 GB/s, except
    at RP 0 ("MACs"), which is 200 GMAC/s with no memory term.
``default``
    The toolkit's own conventions (design.md): the full layer table under TFLite fusion, every
    layer (pooling, adds, norms... move bytes too), bytes = weights + inputs + outputs; the
    dtype is the anchor device's default (fp32 without one). PeakMACs is held, so the latency
    is MAC-equivalents / PeakMACs: with ``--hw`` it is that device's peak; without, a nominal
    200 GMAC/s (the paper's RP-5 "slow CPU"), labelled as nominal.

The conventions and the sweep are pure pandas/numpy over layer tables, like
:mod:`roofline.latency.equation`: importing this module imports neither torch nor matplotlib,
and nothing here traces a model (:mod:`roofline.plots.tables` traces names for a preset).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from roofline.dtypes import canonical_dtype
from roofline.errors import InputError, did_you_mean
from roofline.graph.kinds import MAC_KINDS
from roofline.graph.kinds import op_class as kind_op_class
from roofline.hardware.registry import Roof, get_profile
from roofline.latency.equation import HOLDS, device_at, layer_latencies, sweep
from roofline.units import si

__all__ = ["Preset", "PAPER_PRESET", "DEFAULT_PRESET", "PRESETS", "LAYER_RULES", "BYTE_RULES",
           "OP_CLASSES", "PAPER_PANELS", "MAX_RIDGE_POINT", "MAX_RIDGE_POINTS", "get_preset", "resolve_preset",
           "check_hold", "op_class", "parse_ridge_points"]

LAYER_RULES = ("all", "macs")
BYTE_RULES = ("all", "weights+input")

#: Fig. 3 op classes, in legend order
OP_CLASSES = ("Conv2D", "DW-Conv2D", "FC", "attention", "other")

#: the paper's panel ridge points and their names (Fig. 2)
PAPER_PANELS: dict[float, str] = {0.0: "MACs", 5.0: "Slow CPU", 50.0: "Fast CPU",
                                  500.0: "Accelerator"}


@dataclass(frozen=True)
class Preset:
    """The conventions of a sweep, as data; see the module docstring."""

    name: str
    dtype: str | None            # None: the anchor device's default dtype (fp32 without one)
    fusion: str                  # fusion policy of the traces
    layers: str                  # "all" | "macs": which layers are counted
    bytes: str                   # "all" (weights + inputs + outputs) | "weights+input"
    hold: str                    # "bandwidth" (PeakMACs = RP x BW) | "peak" (BW = PeakMACs / RP)
    peak_macs_per_s: float       # anchor peak; with hold="bandwidth" the peak used at RP 0
    mem_bw_bytes_per_s: float    # anchor bandwidth
    anchor: str                  # where the anchor numbers come from, for the label
    stem_pad_channels: int | None = None  # read a 3-channel model input as this many channels
    description: str = ""

    def __post_init__(self) -> None:
        if self.layers not in LAYER_RULES:
            raise InputError(f"preset layers must be one of {', '.join(LAYER_RULES)}, "
                             f"got {self.layers!r}")
        if self.bytes not in BYTE_RULES:
            raise InputError(f"preset bytes must be one of {', '.join(BYTE_RULES)}, "
                             f"got {self.bytes!r}")
        check_hold(self.hold)
        for field in ("peak_macs_per_s", "mem_bw_bytes_per_s"):
            v = getattr(self, field)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"preset {field} must be a positive finite number, got {v!r}")

    # ---------------------------------------------------------------- derived

    @property
    def label(self) -> str:
        """One line saying how the numbers were made; printed on every table and figure."""
        return f"preset: {self.name} \u2014 {self.summary}"

    def rules(self, open_dtype: str = "device dtype (fp32 without --hw)") -> str:
        """What is counted: dtype, bytes, layers (the label without the device anchor);
        ``open_dtype`` is the wording when the preset leaves the dtype to the device."""
        dtype = self.dtype or open_dtype
        nbytes = "weights+input bytes" if self.bytes == "weights+input" else \
            "weights+inputs+outputs bytes"
        which = "conv/dw/FC only" if self.layers == "macs" else f"all layers ({self.fusion} fusion)"
        return f"{dtype}, {nbytes}, {which}"

    @property
    def summary(self) -> str:
        """The conventions in a few words (``label`` without the name)."""
        if self.hold == "bandwidth":
            anchor = f"BW {si(self.mem_bw_bytes_per_s, 'B/s')}, PeakMACs = RP x BW"
        else:
            anchor = f"PeakMACs {si(self.peak_macs_per_s, 'MAC/s')}, BW = PeakMACs / RP"
        src = f" ({self.anchor})" if self.anchor else ""
        return f"{self.rules()}, {anchor}{src}"

    def with_(self, **changes: Any) -> Preset:
        """A copy with some conventions changed (``dtype``, ``hold``, ...)."""
        if changes.get("dtype") is not None:
            changes["dtype"] = canonical_dtype(changes["dtype"])
        return dataclasses.replace(self, **changes)

    def anchored(self, roof: Any) -> Preset:
        """This preset anchored to a device (a ``hardware.Roof``): its peak and bandwidth.

        With ``hold="bandwidth"`` the device's bandwidth is held and its peak is used at RP 0;
        with ``hold="peak"`` its peak is held. The dtype follows the device when the preset
        leaves it open.
        """
        fitted = " [fitted]" if getattr(roof, "fitted", False) else ""
        return dataclasses.replace(
            self, peak_macs_per_s=float(roof.peak_macs_per_s),
            mem_bw_bytes_per_s=float(roof.mem_bw_bytes_per_s),
            dtype=self.dtype or roof.dtype,
            anchor=f"anchored to {roof.hardware_id} {roof.dtype}{fitted}")

    def device(self, rp: float) -> tuple[float, float]:
        """(PeakMACs/s, bandwidth B/s) of the device this preset puts at ridge point ``rp``."""
        peak, bw = device_at(np.array([float(rp)]), self.hold, self.peak_macs_per_s,
                             self.mem_bw_bytes_per_s)
        return float(peak[0]), float(bw[0])

    # ---------------------------------------------------------------- tables

    def apply(self, layers: pd.DataFrame) -> pd.DataFrame:
        """The layer table as this preset counts it: rows selected, ``bytes`` and
        ``intensity`` recomputed. The original row number is kept as the index."""
        out = layers
        if self.layers == "macs":
            out = out[out["op"].isin(MAC_KINDS).to_numpy()]
        out = out.copy()
        if self.bytes == "weights+input":
            inputs = out["input_bytes"].to_numpy(dtype=float)
            if self.stem_pad_channels and len(out):
                inputs = inputs.copy()
                i = _stem_row(out)
                if i is not None:
                    inputs[i] *= self.stem_pad_channels / 3
            out["input_bytes"] = inputs
            out["bytes"] = out["weight_bytes"].to_numpy(dtype=float) + inputs
        macs = out["macs"].to_numpy(dtype=float)
        nbytes = out["bytes"].to_numpy(dtype=float)
        out["intensity"] = np.divide(macs, nbytes, out=np.zeros(len(out)), where=nbytes > 0)
        return out

    def sweep(self, tables: Mapping[str, pd.DataFrame], rps: Sequence[float] | np.ndarray,
              ) -> pd.DataFrame:
        """Every model at every ridge point (see :func:`roofline.latency.equation.sweep`), under this
        preset; the tidy frame carries a ``preset`` column."""
        applied = {name: self.apply(t) for name, t in tables.items()}
        out = sweep(applied, rps, hold=self.hold, peak_macs_per_s=self.peak_macs_per_s,
                    mem_bw_bytes_per_s=self.mem_bw_bytes_per_s)
        out["preset"] = self.name
        return out

    def layer_latencies(self, layers: pd.DataFrame,
                        rps: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Per-layer latency (s) at each ridge point: the applied table's rows x ``rps``."""
        return layer_latencies(self.apply(layers), rps, hold=self.hold,
                               peak_macs_per_s=self.peak_macs_per_s,
                               mem_bw_bytes_per_s=self.mem_bw_bytes_per_s)

    def analyze_kwargs(self, roof: Any = None) -> dict[str, str]:
        """The ``analyze(...)`` keywords a trace for this preset needs (dtype, fusion)."""
        dtype = self.dtype or (roof.dtype if roof is not None else "fp32")
        return {"dtype": dtype, "fusion": self.fusion}

    def pinned(self, roof: Any = None) -> Preset:
        """This preset with its dtype fixed to the one its traces are made at (the device's
        when the preset leaves it open, fp32 without a device), so its label says what was
        counted."""
        return self.with_(dtype=self.analyze_kwargs(roof)["dtype"])


def _stem_row(applied: pd.DataFrame) -> int | None:
    """0 when the first counted layer reads a 3-channel NCHW image (the stem), else None."""
    if not len(applied):
        return None
    dims = _dims(applied["input_shape"].iloc[0])
    return 0 if len(dims) == 4 and dims[1] == 3 else None


def _dims(shape: Any) -> list[int]:
    """The first input's dims from a layer table shape string ('1x3x224x224,...')."""
    if not isinstance(shape, str) or not shape:
        return []
    first = shape.split(",", 1)[0]
    try:
        return [int(d) for d in first.split("x")]
    except ValueError:
        return []


def op_class(layers: pd.DataFrame) -> pd.Series:
    """The Fig. 3 op class of each layer: Conv2D, DW-Conv2D, FC, attention or other.

    A convolution whose input is 1x1 spatially (the 1x1 conv after global pooling, the
    squeeze-excite convs) is drawn as FC, as in the paper; matmul and attention are attention.
    """
    out = []
    for op, shape in zip(layers["op"], layers["input_shape"]):
        cls = kind_op_class(op)   # the class each kind declares (graph/kinds.py)
        if cls in ("Conv2D", "DW-Conv2D"):
            dims = _dims(shape)
            if len(dims) >= 3 and all(d == 1 for d in dims[2:]):
                cls = "FC"
        out.append(cls)
    return pd.Series(out, index=layers.index, name="op_class", dtype="object")


def check_hold(hold: str) -> str:
    """Validate a hold mode ("bandwidth" or "peak")."""
    if hold not in HOLDS:
        raise InputError(f"unknown hold {hold!r}{did_you_mean(hold, HOLDS)}; "
                         f"expected one of {', '.join(HOLDS)}")
    return hold


PAPER_PRESET = Preset(
    name="paper", dtype="int8", fusion="tflite", layers="macs", bytes="weights+input",
    hold="bandwidth", peak_macs_per_s=2e11, mem_bw_bytes_per_s=40e9,
    anchor="RP 0 at 200 GMAC/s", stem_pad_channels=4,
    description="the conventions MobileNetV4's Figs. 2-3 are consistent with (inferred)",
)

DEFAULT_PRESET = Preset(
    name="default", dtype=None, fusion="tflite", layers="all", bytes="all",
    hold="peak", peak_macs_per_s=2e11, mem_bw_bytes_per_s=40e9,
    anchor="nominal, no --hw", description="the toolkit's conventions (design.md)",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (PAPER_PRESET, DEFAULT_PRESET)}


def get_preset(name: str | Preset) -> Preset:
    """A preset by name ("paper", "default"), or the preset itself."""
    if isinstance(name, Preset):
        return name
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise InputError(f"unknown preset {name!r}{did_you_mean(key, PRESETS)}; "
                         f"expected one of {', '.join(PRESETS)}")
    return PRESETS[key]


def resolve_preset(preset: str | Preset, *, hw: str | None = None, hold: str | None = None,
                   dtype: str | None = None) -> tuple[Preset, Roof | None]:
    """A preset with ``dtype`` and ``hold`` applied where given, anchored to the device ``hw``
    (an id, id:variant or YAML file) where given; (the preset, the device's roof or None)."""
    p = get_preset(preset)
    if dtype:
        p = p.with_(dtype=dtype)
    if hold:
        p = p.with_(hold=check_hold(hold))
    roof = None
    if hw:
        roof = get_profile(hw).roof(p.dtype)
        p = p.anchored(roof)
    return p, roof


_RANGE = re.compile(r"^\s*([^:]+):([^:]+)(?::([^:]+))?\s*$")
MAX_RIDGE_POINTS = 100_000
#: the largest ridge point a sweep takes (MACs/byte): 2000x beyond the paper's accelerators
MAX_RIDGE_POINT = 1e6


def parse_ridge_points(spec: str | float | Sequence[float]) -> np.ndarray:
    """Parse a ridge-point grid: ``"0:500:5"`` (start:stop:step, stop included),
    ``"0:500"`` (step 1), ``"0,5,50,500"`` or a number / sequence of numbers (MACs/byte)."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        values = [float(spec)]
    elif isinstance(spec, str):
        text = spec.strip()
        m = _RANGE.match(text)
        if m:
            start, stop = _number(m.group(1), spec), _number(m.group(2), spec)
            step = _number(m.group(3), spec) if m.group(3) else 1.0
            if step <= 0:
                raise InputError(f"--rp {spec!r}: the step must be > 0; expected start:stop:step")
            if stop < start:
                raise InputError(f"--rp {spec!r}: stop is below start; expected start:stop:step")
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count > MAX_RIDGE_POINTS:
                raise InputError(f"--rp {spec!r} gives {count} ridge points; at most "
                                 f"{MAX_RIDGE_POINTS}")
            values = list(start + step * np.arange(count))
        else:
            values = [_number(p, spec) for p in text.split(",") if p.strip()]
    else:
        values = [float(v) for v in spec]
    if not values:
        raise InputError(f"--rp {spec!r} has no ridge points; expected e.g. 0:500:5 or 0,5,50,500")
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > MAX_RIDGE_POINT):
        raise InputError(f"ridge points must be from 0 to {MAX_RIDGE_POINT:g} MACs/byte, "
                         f"got {spec!r}")
    return arr


def _number(text: str, spec: Any) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--rp {spec!r}: {text.strip()!r} is not a number; expected e.g. "
                         "0:500:5 or 0,5,50,500") from None

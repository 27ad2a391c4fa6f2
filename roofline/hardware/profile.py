"""Hardware profiles as data: a number with its provenance (:class:`Figure`), a device at one
dtype (:class:`Roof`, what the latency model consumes) and a device with all its figures
(:class:`HardwareProfile`).

Every number is a :class:`Figure`: a value, a basis and a source (a URL, or for measured and
fitted numbers the file and date) with a note holding the arithmetic or the assumption. The
bases (:data:`BASES`):

- ``vendor``: published by the maker (datasheet, spec page, keynote).
- ``derived``: arithmetic on published figures (units x clock; the note shows it).
- ``measured``: measured with a micro-benchmark (``roofline bench`` or a third party's).
- ``fitted``: an empirical fit of the roofline to measured latencies (the paper's Table 16,
  ``roofline fit``); a calibration constant, not a hardware spec.
- ``estimate``: an assumption, stated in the note.
- ``user``: a number a user typed without provenance (a bare number in a profile file);
  its source may be empty.
- ``what-if``: a number changed on the command line (``--mem-bw``, ``--peak-scale``, ...).

A device at one dtype prints one *basis label*, the weakest basis among the figures it uses
(:data:`BASIS_LABELS`, strongest last): ``what-if``, ``fitted``, ``estimate``, ``user``,
``measured``, or ``spec`` when every figure is ``vendor`` or ``derived``.

The ridge point (MACs/byte) is derived, ``peak / bandwidth``; it is never typed in, except in
a variant that records a published fitted ridge point (see :mod:`roofline.hardware.io`).

This module imports neither torch nor pandas, so ``roofline hw list`` stays fast.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from roofline.dtypes import canonical_dtype
from roofline.errors import InputError

__all__ = [
    "BASES", "BASIS_LABELS", "KINDS", "OPTIONAL_FIGURES", "MODEL_FIGURES", "Figure", "Roof",
    "HardwareProfile", "NumberRange", "POSITIVE", "NON_NEGATIVE", "FRACTION", "PEAK_RANGE",
    "BANDWIDTH_RANGE", "device",
    "basis_label",
]

BASES = ("vendor", "derived", "measured", "fitted", "estimate", "user", "what-if")
KINDS = ("cpu", "gpu", "dsp", "npu")
#: the label a device prints, from the weakest basis among its figures; "spec" when every
#: figure is vendor or derived
BASIS_LABELS = ("what-if", "fitted", "estimate", "user", "measured", "spec")

#: optional figures the latency model consumes (onchip_bytes is informational)
MODEL_FIGURES = ("overhead_s_per_layer", "compute_efficiency", "memory_efficiency")
OPTIONAL_FIGURES = ("onchip_bytes", *MODEL_FIGURES)


# ------------------------------------------------------------------------ number checks


@dataclass(frozen=True)
class NumberRange:
    """What a number must be: the words for the error message and the test."""

    expected: str
    test: Callable[[float], bool]

    def accepts(self, value: Any) -> bool:
        """True for a real (non-bool) finite number passing the test."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        try:
            x = float(value)
        except OverflowError:  # an int beyond float range
            return False
        return math.isfinite(x) and self.test(x)


POSITIVE = NumberRange("a positive finite number", lambda x: x > 0)
NON_NEGATIVE = NumberRange("a finite number >= 0", lambda x: x >= 0)
FRACTION = NumberRange("a number in (0, 1]", lambda x: 0 < x <= 1)
#: what a real device can be: from a microcontroller (1 kMAC/s) to far beyond any chip
#: (1e21 MAC/s); from 1 kB/s to 1e18 B/s. Numbers outside are typos that would print
#: "inf ms" or round to zero.
PEAK_RANGE = NumberRange("a peak from 1e3 to 1e21 MACs/s", lambda x: 1e3 <= x <= 1e21)
BANDWIDTH_RANGE = NumberRange("a bandwidth from 1e3 to 1e18 bytes/s", lambda x: 1e3 <= x <= 1e18)


def _check_roof_number(name: str, value: Any, rng: NumberRange) -> None:
    """InputError when a Roof field is out of range (a what-if can ask for anything)."""
    if not rng.accepts(value):
        raise InputError(f"Roof field {name!r}: expected {rng.expected}, got {value!r}")


# ---------------------------------------------------------------------------- data classes


@dataclass(frozen=True)
class Figure:
    """One number and where it came from."""

    value: float
    basis: str  # one of BASES
    source: str  # URL, or for measured/fitted numbers the file/date it came from
    note: str = ""  # the arithmetic or the assumption

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Roof:
    """One device at one dtype: the numbers the latency model consumes."""

    hardware_id: str
    name: str
    kind: str
    dtype: str
    peak_macs_per_s: float
    mem_bw_bytes_per_s: float
    fitted: bool = False  # True when any figure used is fitted: print "fitted" wherever shown
    basis: str = "user"  # a label of BASIS_LABELS
    overhead_s_per_layer: float = 0.0
    compute_efficiency: float = 1.0  # fraction of peak MACs/s reached
    memory_efficiency: float = 1.0  # fraction of peak bandwidth reached

    def __post_init__(self) -> None:
        """Refuse impossible numbers, which a what-if (:meth:`with_`) could introduce."""
        _check_roof_number("peak_macs_per_s", self.peak_macs_per_s, PEAK_RANGE)
        _check_roof_number("mem_bw_bytes_per_s", self.mem_bw_bytes_per_s, BANDWIDTH_RANGE)
        _check_roof_number("overhead_s_per_layer", self.overhead_s_per_layer, NON_NEGATIVE)
        for name in ("compute_efficiency", "memory_efficiency"):
            _check_roof_number(name, getattr(self, name), FRACTION)

    @property
    def ridge_point(self) -> float:
        """MACs/byte at which a layer turns from memory- to compute-bound: peak / bandwidth."""
        return self.peak_macs_per_s / self.mem_bw_bytes_per_s

    def with_(self, **changes: Any) -> Roof:
        """A copy with some fields changed, for what-if questions ("2x the bandwidth")."""
        return dataclasses.replace(self, **changes)


def device(peak_macs_per_s: float, mem_bw_bytes_per_s: float, *, dtype: str = "int8",
           name: str = "custom device", kind: str = "npu", hardware_id: str = "custom",
           overhead_s_per_layer: float = 0.0) -> Roof:
    """A device defined in one line, for what-if questions in code.

    >>> npu = device(1e12, 17.1e9, name="my NPU")       # 1 TMAC/s int8, 17.1 GB/s
    >>> npu.ridge_point, npu.with_(mem_bw_bytes_per_s=2 * npu.mem_bw_bytes_per_s)

    For several dtypes and figures with their sources, write a YAML profile instead.
    """
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    return Roof(hardware_id=hardware_id, name=name, kind=kind, dtype=canonical_dtype(dtype),
                peak_macs_per_s=peak_macs_per_s, mem_bw_bytes_per_s=mem_bw_bytes_per_s,
                overhead_s_per_layer=overhead_s_per_layer)


@dataclass(frozen=True)
class HardwareProfile:
    """A device: its figures per dtype, with provenance; see the module docstring."""

    id: str  # file stem; a variant is "base:variant"
    name: str
    kind: str
    default_dtype: str
    description: str
    peak_macs_per_s: Mapping[str, Figure]  # keyed by canonical dtype
    mem_bw_bytes_per_s: Figure
    onchip_bytes: Figure | None
    overhead_s_per_layer: Figure | None
    compute_efficiency: Figure | None
    memory_efficiency: Figure | None
    variants: tuple[str, ...]  # reachable as f"{id}:{name}"
    variant: str | None  # set on a variant profile
    path: str | None  # file it was read from
    runtime: str | None = None  # the runtime it is measured with (hardware/runtime.py): id or file

    def __hash__(self) -> int:
        """Hashable despite the mapping field, so a profile can key a cache."""
        return hash((self.id, self.path, tuple(self.peak_macs_per_s.items()),
                     self.mem_bw_bytes_per_s))

    @property
    def dtypes(self) -> tuple[str, ...]:
        """The dtypes with a peak, in file order."""
        return tuple(self.peak_macs_per_s)

    @property
    def figures(self) -> dict[str, Figure]:
        """Every figure by its field path ("peak_macs_per_s.int8", "mem_bw_bytes_per_s", ...)."""
        out = {f"peak_macs_per_s.{d}": f for d, f in self.peak_macs_per_s.items()}
        out["mem_bw_bytes_per_s"] = self.mem_bw_bytes_per_s
        for name in OPTIONAL_FIGURES:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @property
    def fitted(self) -> bool:
        """Whether any figure of this profile is an empirical fit."""
        return any(f.basis == "fitted" for f in self.figures.values())

    @property
    def what_if(self) -> bool:
        """Whether any figure of this profile was changed on the command line."""
        return any(f.basis == "what-if" for f in self.figures.values())

    def _dtype(self, dtype: str | None) -> str:
        """Canonical dtype, the default when None; InputError when this device has no peak."""
        key = self.default_dtype if dtype is None else canonical_dtype(dtype)
        if key not in self.peak_macs_per_s:
            raise InputError(
                f"hardware {self.id!r} has no peak for dtype {key!r}; "
                f"it has {', '.join(self.dtypes)}"
            )
        return key

    def peak(self, dtype: str | None = None) -> float:
        """Peak MACs/s at ``dtype`` (the default dtype when None)."""
        return self.peak_macs_per_s[self._dtype(dtype)].value

    def ridge_point(self, dtype: str | None = None) -> float:
        """Ridge point in MACs/byte at ``dtype``: peak / bandwidth."""
        return self.peak(dtype) / self.mem_bw_bytes_per_s.value

    def roof(self, dtype: str | None = None) -> Roof:
        """The numbers the latency model needs, at one dtype."""
        key = self._dtype(dtype)
        used = [self.peak_macs_per_s[key], self.mem_bw_bytes_per_s]
        used += [f for n in MODEL_FIGURES if (f := getattr(self, n)) is not None]
        return Roof(
            hardware_id=self.id,
            name=self.name,
            kind=self.kind,
            dtype=key,
            peak_macs_per_s=self.peak_macs_per_s[key].value,
            mem_bw_bytes_per_s=self.mem_bw_bytes_per_s.value,
            fitted=any(f.basis == "fitted" for f in used),
            basis=basis_label(used),
            overhead_s_per_layer=_value_or(self.overhead_s_per_layer, 0.0),
            compute_efficiency=_value_or(self.compute_efficiency, 1.0),
            memory_efficiency=_value_or(self.memory_efficiency, 1.0),
        )

    def summary(self) -> dict[str, Any]:
        """The device at its default dtype in one flat row: id, kind, dtype, peak MACs/s,
        DRAM bandwidth, ridge point, basis, name (a row of ``roofline hw list``)."""
        r = self.roof()
        return {"id": self.id, "kind": self.kind, "dtype": r.dtype,
                "peak_macs_per_s": r.peak_macs_per_s,
                "mem_bw_bytes_per_s": r.mem_bw_bytes_per_s, "ridge_point": r.ridge_point,
                "basis": r.basis, "name": self.name}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every figure with basis/source/note, and the ridge point per dtype."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "default_dtype": self.default_dtype,
            "description": self.description,
            "variant": self.variant,
            "variants": list(self.variants),
            "path": self.path,
            "fitted": self.fitted,
            "peak_macs_per_s": {d: f.to_dict() for d, f in self.peak_macs_per_s.items()},
            "mem_bw_bytes_per_s": self.mem_bw_bytes_per_s.to_dict(),
            **{n: _dict_or_none(getattr(self, n)) for n in OPTIONAL_FIGURES},
            "ridge_point": {d: self.ridge_point(d) for d in self.dtypes},
        }


def _value_or(figure: Figure | None, default: float) -> float:
    return default if figure is None else figure.value


def _dict_or_none(figure: Figure | None) -> dict[str, Any] | None:
    return None if figure is None else figure.to_dict()


def basis_label(figures: list[Figure]) -> str:
    """The weakest basis among the figures used, for printing (see :data:`BASIS_LABELS`)."""
    bases = {f.basis for f in figures}
    for label in BASIS_LABELS[:-1]:
        if label in bases:
            return label
    return "spec"

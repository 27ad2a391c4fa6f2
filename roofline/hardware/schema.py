"""The profile schema: parsed YAML in, validated :class:`HardwareProfile` s out.

A file holds one base profile and its variants. Every figure is a mapping ``{value, basis,
source, note}`` or, in a hand-written file, a bare number (basis ``user``, no source); a
mapping with basis ``user`` may leave out its source too.

A variant ``base:name`` overrides some fields of its base. With ``ridge_point`` it holds the
base peak at the variant's dtype and derives an *effective* bandwidth ``peak / ridge_point``
whose basis is the ridge point's; since the fit is valid only at the dtype it was made for,
such a variant offers that dtype alone. A variant's name carries ``[name]`` (and ``fitted``).

Validation reports every problem of a file at once, in one line as every user error is:
``<file>: <problem>``, or ``<file>: N problems: (1) <problem> (2) <problem> ...``; each
problem names the field and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from roofline.dtypes import DTYPE_BYTES, canonical_dtype
from roofline.errors import InputError, ProfileError, RooflineError, did_you_mean
from roofline.hardware.profile import (BASES, FRACTION, KINDS, NON_NEGATIVE, OPTIONAL_FIGURES,
                                       PEAK_RANGE, POSITIVE, BANDWIDTH_RANGE, Figure,
                                       HardwareProfile, NumberRange)
from roofline.hardware.runtime import get_runtime

__all__ = ["PROFILE_ID", "ParsedFile", "build", "check_profile_id"]

#: a profile id (a file stem) or a variant name: letters, digits, '_', '-', '.', '+'
PROFILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_NUMERIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

ParsedFile = tuple[HardwareProfile, Mapping[str, HardwareProfile]]
T = TypeVar("T")


def check_profile_id(pid: str, what: str) -> None:
    """ProfileError unless ``pid`` is a valid profile id; ``what`` names it in the message."""
    if not PROFILE_ID.fullmatch(pid):
        raise ProfileError(f"{what} {pid!r} is not a valid profile id; "
                           "use letters, digits, '_', '-', '.'")


def _show(value: Any) -> str:
    """A short, one-line rendering of a bad value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (empty)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_of(value: Any) -> str:
    """What a value is, without echoing it (a file that is not a profile at all, such as
    /etc/passwd, must not be printed back)."""
    if value is None:
        return "an empty document"
    if isinstance(value, str):
        return f"a line of text ({len(value)} characters)"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"
    return f"a {type(value).__name__}"


class _Invalid(Exception):
    """This part of the document is invalid (already recorded); skip what depends on it."""


class _Reader:
    """Validates the parsed YAML of one file, recording every problem with its field."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.problems: list[str] = []

    def fail(self, field: str | None, message: str) -> _Invalid:
        """Record "field '<path>': <message>" and return the exception that skips the part."""
        where = f"field {field!r}: " if field else ""
        self.problems.append(" ".join((where + message).split()))
        return _Invalid()

    def get(self, parse: Callable[[], T]) -> T | None:
        """``parse()``, or None when it found a problem (recorded)."""
        try:
            return parse()
        except _Invalid:
            return None

    def raise_problems(self) -> None:
        """ProfileError with every recorded problem, when there is any."""
        if len(self.problems) == 1:
            raise ProfileError(f"{self.src}: {self.problems[0]}")
        if self.problems:
            listed = " ".join(f"({i}) {p}" for i, p in enumerate(self.problems, 1))
            raise ProfileError(f"{self.src}: {len(self.problems)} problems: {listed}")

    def mapping(self, value: Any, field: str | None) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            at = "" if field else " at the top level"
            raise self.fail(field, f"expected a mapping{at}, got {_kind_of(value)}")
        return value

    def keys(self, m: Mapping[Any, Any], field: str | None, required: tuple[str, ...],
             optional: tuple[str, ...], *, skip: tuple[str, ...] = ()) -> bool:
        """Record unknown keys (suggesting close ones) and missing required ones; True when
        every required key is present."""
        allowed = required + optional
        for key in m:
            if key not in allowed and key not in skip:
                hint = did_you_mean(str(key), allowed) or f"; expected one of {', '.join(allowed)}"
                self.fail(field, f"unknown key {_show(key)}{hint}")
        missing = [k for k in required if k not in m]
        for key in missing:
            self.problems.append(f"missing field {(f'{field}.{key}' if field else key)!r}")
        return not missing

    def string(self, value: Any, field: str, *, empty_ok: bool = False) -> str:
        """A string, whitespace folded to single spaces (YAML block text stays one line)."""
        if not isinstance(value, str) or not (empty_ok or value.strip()):
            article = "a" if empty_ok else "a non-empty"
            raise self.fail(field, f"expected {article} string, got {_show(value)}")
        return " ".join(value.split())

    def choice(self, value: Any, field: str, choices: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in choices:
            raise self.fail(field, f"expected one of {', '.join(choices)}, got {_show(value)}")
        return value

    def number(self, value: Any, field: str, rng: NumberRange, expected: str = "") -> float:
        """A finite float in range; numeric strings count ("3.73e11" is text to YAML 1.1)."""
        x = float(value) if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()) else value
        if not rng.accepts(x):
            raise self.fail(field, f"expected {expected or rng.expected}, got {_show(value)}")
        return float(x)

    def dtype(self, value: Any, field: str) -> str:
        """A canonical dtype name (aliases such as 'float16' accepted)."""
        if not isinstance(value, str):
            raise self.fail(field, f"expected a dtype name, got {_show(value)}")
        try:
            return canonical_dtype(value)
        except InputError:
            raise self.fail(field, f"unknown dtype {value!r}{did_you_mean(value, DTYPE_BYTES)}; "
                                   f"expected one of {', '.join(DTYPE_BYTES)}") from None

    def figure(self, value: Any, field: str, rng: NumberRange = POSITIVE) -> Figure:
        """A figure: ``{value, basis, source, note}``, or a bare number (basis ``user``)."""
        if not isinstance(value, Mapping):
            if isinstance(value, (list, tuple)) or value is None:
                raise self.fail(field, f"expected a mapping with value, basis and source, or "
                                       f"a bare number, got {_show(value)}")
            x = self.number(value, field, rng,
                            f"{rng.expected} (or a mapping with value, basis and source)")
            return Figure(value=x, basis="user", source="")
        basis = self.get(lambda: self.choice(value["basis"], f"{field}.basis", BASES)) \
            if "basis" in value else None
        required = ("value", "basis") if basis == "user" else ("value", "basis", "source")
        complete = self.keys(value, field, required, ("source", "note")[len(required) - 2:])
        parts = {
            "value": self.get(lambda: self.number(value["value"], f"{field}.value", rng))
            if "value" in value else None,
            "source": self.get(lambda: self.string(value["source"], f"{field}.source",
                                                   empty_ok=basis == "user"))
            if "source" in value else "",
            "note": self.get(lambda: self.string(value.get("note", ""), f"{field}.note",
                                                 empty_ok=True)),
        }
        if not complete or basis is None or None in parts.values():
            raise _Invalid()
        return Figure(value=parts["value"], basis=basis, source=parts["source"],
                      note=parts["note"])

    def peaks(self, value: Any, field: str) -> dict[str, Figure]:
        """dtype -> peak MACs/s figure, keyed by canonical dtype."""
        m = self.mapping(value, field)
        if not m:
            raise self.fail(field, "expected at least one dtype with its peak, got none")
        out: dict[str, Figure] = {}
        ok = True
        for key, raw in m.items():
            dtype = self.get(lambda: self.dtype(key, field))
            if dtype in out:
                self.fail(field, f"dtype {key!r} given twice (as {dtype})")
            fig = self.get(lambda: self.figure(raw, f"{field}.{key}", PEAK_RANGE))
            if dtype is None or fig is None or dtype in out:
                ok = False
            else:
                out[dtype] = fig
        if not ok:
            raise _Invalid()
        return out

    def optional_figures(self, m: Mapping[Any, Any], field: str | None) -> dict[str, Figure]:
        """The optional figures present in ``m``, each range-checked."""
        prefix = f"{field}." if field else ""
        found = {n: self.get(lambda n=n, rng=rng: self.figure(m[n], prefix + n, rng))
                 for n, rng in _OPTIONAL_RANGES.items() if n in m}
        if None in found.values():
            raise _Invalid()
        return found  # type: ignore[return-value]


_OPTIONAL_RANGES = {"onchip_bytes": POSITIVE, "overhead_s_per_layer": NON_NEGATIVE,
                    "compute_efficiency": FRACTION, "memory_efficiency": FRACTION}
_TOP_REQUIRED = ("name", "kind", "default_dtype", "peak_macs_per_s", "mem_bw_bytes_per_s")
_TOP_OPTIONAL = ("description", *OPTIONAL_FIGURES, "variants", "runtime")
_VARIANT_KEYS = ("name", "description", "dtype", "ridge_point", "peak_macs_per_s",
                 "mem_bw_bytes_per_s", *OPTIONAL_FIGURES)


def build(data: Any, src: str, path: str, pid: str) -> ParsedFile:
    """The base profile and its variants from one file's parsed YAML; ProfileError naming
    every problem otherwise."""
    r = _Reader(src)
    top = r.get(lambda: r.mapping(data, None))
    if top is None:
        r.raise_problems()
    if "ridge_point" in top:
        r.problems.append("unknown key 'ridge_point': the ridge point is derived "
                          "(peak / bandwidth); type it only in a fitted variant")
    r.keys(top, None, _TOP_REQUIRED, _TOP_OPTIONAL, skip=("ridge_point",))

    def field(key: str, parse: Callable[[Any], T]) -> T | None:
        return r.get(lambda: parse(top[key])) if key in top else None

    peaks = field("peak_macs_per_s", lambda v: r.peaks(v, "peak_macs_per_s"))
    default = field("default_dtype", lambda v: r.dtype(v, "default_dtype"))
    if peaks is not None and default is not None and default not in peaks:
        r.fail("default_dtype", f"expected one of the dtypes under peak_macs_per_s "
                                f"({', '.join(peaks)}), got {default!r}")
        default = None
    name = field("name", lambda v: r.string(v, "name"))
    kind = field("kind", lambda v: r.choice(v, "kind", KINDS))
    description = r.get(lambda: r.string(top.get("description", ""), "description",
                                         empty_ok=True))
    bw = field("mem_bw_bytes_per_s", lambda v: r.figure(v, "mem_bw_bytes_per_s", BANDWIDTH_RANGE))
    runtime = field("runtime", lambda v: _runtime(r, v, path))
    optional = r.get(lambda: r.optional_figures(top, None))
    raw_variants = r.get(lambda: r.mapping(top.get("variants", {}), "variants")) or {}
    for vname in raw_variants:
        if not isinstance(vname, str) or not PROFILE_ID.fullmatch(vname):
            r.fail("variants", f"expected variant names of letters, digits, '_', '-', '.', "
                               f"got {_show(vname)}")
    if None in (peaks, default, bw, optional):  # variants cannot be checked without these
        r.raise_problems()
    base = HardwareProfile(
        id=pid, name=name or "?", kind=kind or KINDS[0], default_dtype=default,
        description=description or "", peak_macs_per_s=MappingProxyType(peaks),
        mem_bw_bytes_per_s=bw, **{n: optional.get(n) for n in OPTIONAL_FIGURES},
        variants=tuple(raw_variants), variant=None, path=path, runtime=runtime,
    )
    variants = {v: r.get(lambda v=v, raw=raw: _variant(r, base, v, raw))
                for v, raw in raw_variants.items()}
    r.raise_problems()
    return base, MappingProxyType(variants)


def _runtime(r: _Reader, value: Any, path: str) -> str:
    """The runtime a profile names: a runtime id, or a .yaml file (relative to the profile's
    directory); it must exist and load."""
    name = r.string(value, "runtime")
    if name.lower().endswith((".yaml", ".yml")) and path and not os.path.isabs(name):
        name = os.path.join(os.path.dirname(path), name)
    try:
        get_runtime(name)
    except RooflineError as e:
        raise r.fail("runtime", str(e)) from None
    return name


def _variant(r: _Reader, base: HardwareProfile, vname: str, raw: Any) -> HardwareProfile:
    """A variant: the base with some fields overridden, or with a fitted ridge point."""
    field = f"variants.{vname}"
    m = r.mapping(raw, field)
    before = len(r.problems)
    r.keys(m, field, (), _VARIANT_KEYS)
    if "ridge_point" in m and "mem_bw_bytes_per_s" in m:
        r.fail(field, "expected ridge_point or mem_bw_bytes_per_s, not both "
                      "(the bandwidth is derived from the ridge point)")
    peaks = dict(base.peak_macs_per_s)
    if "peak_macs_per_s" in m:
        peaks.update(r.get(lambda: r.peaks(m["peak_macs_per_s"], f"{field}.peak_macs_per_s"))
                     or {})
    dtype = base.default_dtype
    if "dtype" in m:
        dtype = r.get(lambda: r.dtype(m["dtype"], f"{field}.dtype"))
    if dtype is not None and dtype not in peaks:
        r.fail(f"{field}.dtype", f"expected a dtype with a peak ({', '.join(peaks)}), "
                                 f"got {dtype!r}")
    bw = base.mem_bw_bytes_per_s
    if "mem_bw_bytes_per_s" in m:
        bw = r.get(lambda: r.figure(m["mem_bw_bytes_per_s"], f"{field}.mem_bw_bytes_per_s",
                                     BANDWIDTH_RANGE))
    rp = r.get(lambda: r.figure(m["ridge_point"], f"{field}.ridge_point")) \
        if "ridge_point" in m else None
    optional = {n: getattr(base, n) for n in OPTIONAL_FIGURES}
    optional.update(r.get(lambda: r.optional_figures(m, field)) or {})
    description = r.get(lambda: r.string(m.get("description", base.description),
                                         f"{field}.description", empty_ok=True))
    name = r.get(lambda: r.string(m.get("name", base.name), f"{field}.name"))
    if len(r.problems) > before:
        raise _Invalid()
    if rp is not None:
        bw = _bandwidth_from_ridge_point(peaks[dtype], rp, dtype)
        peaks = {dtype: peaks[dtype]}  # the fit holds at this dtype only
    profile = dataclasses.replace(
        base, id=f"{base.id}:{vname}", default_dtype=dtype, description=description,
        peak_macs_per_s=MappingProxyType(peaks), mem_bw_bytes_per_s=bw, **optional,
        variants=(), variant=vname,
    )
    label = vname if not profile.fitted or "fitted" in vname else f"{vname}, fitted"
    return dataclasses.replace(profile, name=f"{name} [{label}]")


def _bandwidth_from_ridge_point(peak: Figure, rp: Figure, dtype: str) -> Figure:
    """Effective bandwidth = peak / ridge point, carrying the ridge point's basis and source."""
    note = (f"effective bandwidth derived from the {rp.basis} ridge point: "
            f"{dtype} peak {peak.value:.4g} MACs/s / RP {rp.value:g} MACs/B")
    return Figure(value=peak.value / rp.value, basis=rp.basis, source=rp.source,
                  note=f"{note}; {rp.note}" if rp.note else note)

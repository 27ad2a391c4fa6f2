"""Hardware profiles: the registry of devices, each number with where it came from.

A profile is one YAML file per device (``hardware_profiles/pixel8_cpu.yaml``; the id is the
file stem). It holds a name, a kind (cpu/gpu/dsp/npu), a default dtype, peak MACs/s per dtype,
DRAM bandwidth and optional on-chip memory, per-layer overhead and efficiency factors. Every
number is a :class:`Figure`: a value, a basis (vendor / derived / measured / fitted / estimate),
a source (a URL, or for measured and fitted numbers the file and date) and a note with the
arithmetic or the assumption.

Semantics the rest of the toolkit relies on:

- The ridge point (MACs/byte) is derived, ``peak / bandwidth``; it is never typed in, except
  in a *variant* that records a published fitted ridge point (the MobileNetV4 paper's Table 16).
- A variant ``base:name`` overrides some fields of its base. With ``ridge_point`` it holds the
  base peak at the variant's dtype and derives an *effective* bandwidth ``peak / ridge_point``
  whose basis is the ridge point's; since the fit is valid only at the dtype it was made for,
  such a variant offers that dtype alone. A variant's name carries ``[name]`` (and ``fitted``).
- Lookup order: the directories in ``$ROOFLINE_HW_PATH`` (``os.pathsep``-separated, first wins),
  then the built-in ``hardware_profiles/``. A user file with the id of a built-in overrides it.
- A malformed file raises :class:`~roofline.errors.ProfileError` with one line naming the file,
  the field and what was expected. YAML anchors and aliases are refused (no "billion laughs"),
  files over 1 MB are refused, duplicate keys are refused.

This module imports neither torch nor pandas, so ``roofline hw list`` stays fast.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import math
import numbers
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from roofline.dtypes import DTYPE_BYTES, canonical_dtype
from roofline.errors import InputError, ProfileError, UnknownHardwareError, did_you_mean

BASES = ("vendor", "derived", "measured", "fitted", "estimate")
KINDS = ("cpu", "gpu", "dsp", "npu")
ENV_VAR = "ROOFLINE_HW_PATH"

MAX_FILE_BYTES = 1_000_000
SUFFIXES = (".yaml", ".yml")

_NUMERIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


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
    basis: str = "user"  # short label: "spec", "measured", "estimate", "fitted" or "user"
    overhead_s_per_layer: float = 0.0
    compute_efficiency: float = 1.0  # fraction of peak MACs/s reached
    memory_efficiency: float = 1.0  # fraction of peak bandwidth reached

    def __post_init__(self) -> None:
        """Refuse impossible numbers, which a what-if (:meth:`with_`) could introduce."""
        for name in ("peak_macs_per_s", "mem_bw_bytes_per_s"):
            _check_roof_number(name, getattr(self, name), _POSITIVE)
        _check_roof_number("overhead_s_per_layer", self.overhead_s_per_layer, _NON_NEGATIVE)
        for name in ("compute_efficiency", "memory_efficiency"):
            _check_roof_number(name, getattr(self, name), _FRACTION)

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
        for name in _OPTIONAL_FIGURES:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @property
    def fitted(self) -> bool:
        """Whether any figure of this profile is an empirical fit."""
        return any(f.basis == "fitted" for f in self.figures.values())

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
        used += [f for n in _MODEL_FIGURES if (f := getattr(self, n)) is not None]
        return Roof(
            hardware_id=self.id,
            name=self.name,
            kind=self.kind,
            dtype=key,
            peak_macs_per_s=self.peak_macs_per_s[key].value,
            mem_bw_bytes_per_s=self.mem_bw_bytes_per_s.value,
            fitted=any(f.basis == "fitted" for f in used),
            basis=_basis_label(used),
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
            **{n: _dict_or_none(getattr(self, n)) for n in _OPTIONAL_FIGURES},
            "ridge_point": {d: self.ridge_point(d) for d in self.dtypes},
        }


#: optional figures the latency model consumes (onchip_bytes is informational)
_MODEL_FIGURES = ("overhead_s_per_layer", "compute_efficiency", "memory_efficiency")
_OPTIONAL_FIGURES = ("onchip_bytes", *_MODEL_FIGURES)


def _value_or(figure: Figure | None, default: float) -> float:
    return default if figure is None else figure.value


def _dict_or_none(figure: Figure | None) -> dict[str, Any] | None:
    return None if figure is None else figure.to_dict()


def _basis_label(figures: list[Figure]) -> str:
    """The weakest basis among the figures used, for printing: fitted > estimate > measured."""
    bases = {f.basis for f in figures}
    for label in ("fitted", "estimate", "measured"):
        if label in bases:
            return label
    return "spec"


# ------------------------------------------------------------------------ number checks


@dataclass(frozen=True)
class _Range:
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


_POSITIVE = _Range("a positive finite number", lambda x: x > 0)
_NON_NEGATIVE = _Range("a finite number >= 0", lambda x: x >= 0)
_FRACTION = _Range("a number in (0, 1]", lambda x: 0 < x <= 1)


def _check_roof_number(name: str, value: Any, rng: _Range) -> None:
    """InputError when a Roof field is out of range (a what-if can ask for anything)."""
    if not rng.accepts(value):
        raise InputError(f"Roof field {name!r}: expected {rng.expected}, got {value!r}")


# ---------------------------------------------------------------------------- parsing


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


class _Reader:
    """Validates the parsed YAML of one file; every failure names the file and the field."""

    def __init__(self, src: str) -> None:
        self.src = src

    def fail(self, field: str | None, message: str) -> ProfileError:
        """A one-line error: '<file>: field '<path>': <message>'."""
        where = f"{self.src}: field {field!r}: " if field else f"{self.src}: "
        return ProfileError(" ".join((where + message).split()))

    def mapping(self, value: Any, field: str | None) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            at = "" if field else " at the top level"
            raise self.fail(field, f"expected a mapping{at}, got {_show(value)}")
        return value

    def keys(self, m: Mapping[Any, Any], field: str | None, required: tuple[str, ...],
             optional: tuple[str, ...]) -> None:
        """Refuse unknown keys (suggesting close ones) and missing required ones."""
        allowed = required + optional
        for key in m:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed) or f"; expected one of {', '.join(allowed)}"
                raise self.fail(field, f"unknown key {_show(key)}{hint}")
        for key in required:
            if key not in m:
                raise ProfileError(f"{self.src}: missing field "
                                   f"{(f'{field}.{key}' if field else key)!r}")

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

    def number(self, value: Any, field: str, rng: _Range) -> float:
        """A finite float in range; numeric strings count ("3.73e11" is text to YAML 1.1)."""
        x = float(value) if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()) else value
        if not rng.accepts(x):
            raise self.fail(field, f"expected {rng.expected}, got {_show(value)}")
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

    def figure(self, value: Any, field: str, rng: _Range = _POSITIVE) -> Figure:
        m = self.mapping(value, field)
        self.keys(m, field, ("value", "basis", "source"), ("note",))
        return Figure(
            value=self.number(m["value"], f"{field}.value", rng),
            basis=self.choice(m["basis"], f"{field}.basis", BASES),
            source=self.string(m["source"], f"{field}.source"),
            note=self.string(m.get("note", ""), f"{field}.note", empty_ok=True),
        )

    def peaks(self, value: Any, field: str) -> dict[str, Figure]:
        """dtype -> peak MACs/s figure, keyed by canonical dtype."""
        m = self.mapping(value, field)
        if not m:
            raise self.fail(field, "expected at least one dtype with its peak, got none")
        out: dict[str, Figure] = {}
        for key, raw in m.items():
            dtype = self.dtype(key, field)
            if dtype in out:
                raise self.fail(field, f"dtype {key!r} given twice (as {dtype})")
            out[dtype] = self.figure(raw, f"{field}.{key}")
        return out

    def optional_figures(self, m: Mapping[Any, Any], field: str | None) -> dict[str, Figure]:
        """The optional figures present in ``m``, each range-checked."""
        prefix = f"{field}." if field else ""
        return {n: self.figure(m[n], prefix + n, rng) for n, rng in _OPTIONAL_RANGES.items()
                if n in m}


_OPTIONAL_RANGES = {"onchip_bytes": _POSITIVE, "overhead_s_per_layer": _NON_NEGATIVE,
                    "compute_efficiency": _FRACTION, "memory_efficiency": _FRACTION}
_TOP_REQUIRED = ("name", "kind", "default_dtype", "peak_macs_per_s", "mem_bw_bytes_per_s")
_TOP_OPTIONAL = ("description", *_OPTIONAL_FIGURES, "variants")
_VARIANT_KEYS = ("name", "description", "dtype", "ridge_point", "peak_macs_per_s",
                 "mem_bw_bytes_per_s", *_OPTIONAL_FIGURES)

ParsedFile = tuple[HardwareProfile, Mapping[str, HardwareProfile]]


def _build(data: Any, src: str, path: str, pid: str) -> ParsedFile:
    """The base profile and its variants from one file's parsed YAML."""
    r = _Reader(src)
    top = r.mapping(data, None)
    if "ridge_point" in top:
        raise ProfileError(f"{src}: unknown key 'ridge_point': the ridge point is derived "
                           "(peak / bandwidth); type it only in a fitted variant")
    r.keys(top, None, _TOP_REQUIRED, _TOP_OPTIONAL)
    peaks = r.peaks(top["peak_macs_per_s"], "peak_macs_per_s")
    default = r.dtype(top["default_dtype"], "default_dtype")
    if default not in peaks:
        raise r.fail("default_dtype", f"expected one of the dtypes under peak_macs_per_s "
                                      f"({', '.join(peaks)}), got {default!r}")
    raw_variants = r.mapping(top.get("variants", {}), "variants")
    for vname in raw_variants:
        if not isinstance(vname, str) or not _NAME.fullmatch(vname):
            raise r.fail("variants", f"expected variant names of letters, digits, '_', '-', "
                                     f"'.', got {_show(vname)}")
    base = HardwareProfile(
        id=pid,
        name=r.string(top["name"], "name"),
        kind=r.choice(top["kind"], "kind", KINDS),
        default_dtype=default,
        description=r.string(top.get("description", ""), "description", empty_ok=True),
        peak_macs_per_s=MappingProxyType(peaks),
        mem_bw_bytes_per_s=r.figure(top["mem_bw_bytes_per_s"], "mem_bw_bytes_per_s"),
        **_optional_kwargs(r.optional_figures(top, None)),
        variants=tuple(raw_variants),
        variant=None,
        path=path,
    )
    variants = {v: _variant(r, base, v, raw) for v, raw in raw_variants.items()}
    return base, MappingProxyType(variants)


def _optional_kwargs(found: Mapping[str, Figure]) -> dict[str, Figure | None]:
    return {n: found.get(n) for n in _OPTIONAL_FIGURES}


def _variant(r: _Reader, base: HardwareProfile, vname: str, raw: Any) -> HardwareProfile:
    """A variant: the base with some fields overridden, or with a fitted ridge point."""
    field = f"variants.{vname}"
    m = r.mapping(raw, field)
    r.keys(m, field, (), _VARIANT_KEYS)
    if "ridge_point" in m and "mem_bw_bytes_per_s" in m:
        raise r.fail(field, "expected ridge_point or mem_bw_bytes_per_s, not both "
                            "(the bandwidth is derived from the ridge point)")
    peaks = dict(base.peak_macs_per_s)
    if "peak_macs_per_s" in m:
        peaks.update(r.peaks(m["peak_macs_per_s"], f"{field}.peak_macs_per_s"))
    dtype = r.dtype(m["dtype"], f"{field}.dtype") if "dtype" in m else base.default_dtype
    if dtype not in peaks:
        raise r.fail(f"{field}.dtype", f"expected a dtype with a peak ({', '.join(peaks)}), "
                                       f"got {dtype!r}")
    bw = base.mem_bw_bytes_per_s
    if "mem_bw_bytes_per_s" in m:
        bw = r.figure(m["mem_bw_bytes_per_s"], f"{field}.mem_bw_bytes_per_s")
    if "ridge_point" in m:
        rp = r.figure(m["ridge_point"], f"{field}.ridge_point")
        bw = _bandwidth_from_ridge_point(peaks[dtype], rp, dtype)
        peaks = {dtype: peaks[dtype]}  # the fit holds at this dtype only
    optional = {n: getattr(base, n) for n in _OPTIONAL_FIGURES}
    optional.update(r.optional_figures(m, field))
    profile = dataclasses.replace(
        base,
        id=f"{base.id}:{vname}",
        default_dtype=dtype,
        description=r.string(m.get("description", base.description), f"{field}.description",
                             empty_ok=True),
        peak_macs_per_s=MappingProxyType(peaks),
        mem_bw_bytes_per_s=bw,
        **optional,
        variants=(),
        variant=vname,
    )
    name = r.string(m.get("name", base.name), f"{field}.name")
    label = vname if not profile.fitted or "fitted" in vname else f"{vname}, fitted"
    return dataclasses.replace(profile, name=f"{name} [{label}]")


def _bandwidth_from_ridge_point(peak: Figure, rp: Figure, dtype: str) -> Figure:
    """Effective bandwidth = peak / ridge point, carrying the ridge point's basis and source."""
    note = (f"effective bandwidth derived from the {rp.basis} ridge point: "
            f"{dtype} peak {peak.value:.4g} MACs/s / RP {rp.value:g} MACs/B")
    return Figure(value=peak.value / rp.value, basis=rp.basis, source=rp.source,
                  note=f"{note}; {rp.note}" if rp.note else note)


# --------------------------------------------------------------------------- YAML reading


class _YamlRefused(Exception):
    """An anchor, alias or duplicate key, with the line it was found on."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@functools.cache
def _loader() -> type:
    """A SafeLoader that refuses anchors/aliases (no YAML bombs) and duplicate keys."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise _YamlRefused("anchors and aliases (&name, *name) are not allowed",
                                   event.start_mark.line + 1)
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[str] = set()
            for key_node, _ in node.value:
                key = getattr(key_node, "value", None)
                if isinstance(key, str) and key in seen:
                    raise _YamlRefused(f"duplicate key {key!r}", key_node.start_mark.line + 1)
                if isinstance(key, str):
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _parse_yaml(text: str, src: str) -> Any:
    """Parsed YAML, or a one-line ProfileError with the line number."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except _YamlRefused as exc:
        raise ProfileError(f"{src}: refused YAML: line {exc.line}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}: " if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        raise ProfileError(f"{src}: invalid YAML: {line}{problem}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        detail = "nesting too deep" if isinstance(exc, RecursionError) else str(exc)
        raise ProfileError(f"{src}: invalid YAML: {' '.join(detail.split())}") from None


def _display(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _read(path: Path, src: str) -> str:
    """The file's text; ProfileError when unreadable, too big or not UTF-8."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError(f"{src}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ProfileError(f"{src}: file is larger than {MAX_FILE_BYTES} bytes; "
                           "a profile is a few kB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{src}: not UTF-8 text (byte {exc.start})") from None


@functools.lru_cache(maxsize=256)
def _parse_cached(text: str, src: str, path: str, pid: str) -> ParsedFile:
    """Parsing keyed by content, so an edited file is re-read and an unchanged one is not."""
    return _build(_parse_yaml(text, src), src, path, pid)


def _parse_file(path: str | os.PathLike[str]) -> ParsedFile:
    p = Path(path)
    src = _display(p)
    if not _NAME.fullmatch(p.stem):
        raise ProfileError(f"{src}: the file name {p.stem!r} is not a valid profile id; "
                           "use letters, digits, '_', '-', '.'")
    return _parse_cached(_read(p, src), src, str(p), p.stem)


def load_profile(path: str | os.PathLike[str]) -> HardwareProfile:
    """Read and validate one profile file (its id is the file stem); ProfileError otherwise."""
    return _parse_file(path)[0]


# ------------------------------------------------------------------------------ registry


def builtin_dir() -> Path:
    """The built-in profiles: ``<repo>/hardware_profiles`` in a source checkout or editable
    install, else the installed package data ``roofline/hardware_profiles``."""
    package = Path(__file__).resolve().parent.parent
    checkout = package.parent / "hardware_profiles"
    return checkout if checkout.is_dir() else package / "hardware_profiles"


def _env_dirs() -> list[Path]:
    raw = os.environ.get(ENV_VAR, "")
    return [Path(d).expanduser() for d in raw.split(os.pathsep) if d.strip()]


def _index() -> dict[str, Path]:
    """id -> file, over $ROOFLINE_HW_PATH (first wins) then the built-ins; no file is parsed."""
    index: dict[str, Path] = {}
    for directory in [*_env_dirs(), builtin_dir()]:
        try:
            files = sorted(directory.iterdir())
        except OSError:
            continue
        for f in files:
            if f.suffix.lower() in SUFFIXES and f.is_file():
                index.setdefault(f.stem, f)
    return index


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or spec.lower().endswith(SUFFIXES)


def _split_variant(spec: str) -> tuple[str, str | None]:
    """'base:variant' -> ('base', 'variant'), also 'dir/file.yaml:variant'; else (spec, None)."""
    head, sep, tail = spec.rpartition(":")
    if not (sep and head and _NAME.fullmatch(tail)) or tail.lower().endswith(SUFFIXES):
        return spec, None
    if _looks_like_path(head) and not head.lower().endswith(SUFFIXES):
        return spec, None  # a colon inside a directory name
    return head, tail


def _pick_variant(parsed: ParsedFile, vname: str | None) -> HardwareProfile:
    base, variants = parsed
    if vname is None:
        return base
    if vname not in variants:
        raise UnknownHardwareError(
            f"hardware {base.id!r} has no variant {vname!r}{did_you_mean(vname, variants)}; "
            f"its variants: {', '.join(variants) or 'none'}"
        )
    return variants[vname]


def _unknown(spec: str, index: Mapping[str, Path]) -> UnknownHardwareError:
    dirs = _env_dirs()
    searched = f" (also searched {ENV_VAR}: {os.pathsep.join(map(str, dirs))})" if dirs else ""
    return UnknownHardwareError(
        f"unknown hardware {spec!r}{did_you_mean(spec.split(':')[0], index)}; "
        f"run `roofline hw list` to see the registry, or pass a path to a .yaml profile"
        f"{searched}"
    )


def get_profile(spec: str | os.PathLike[str]) -> HardwareProfile:
    """A profile by id ("pixel8_cpu"), variant ("pixel6_cpu:fitted") or path to a .yaml file
    ("my/device.yaml", optionally "my/device.yaml:variant")."""
    text = os.fspath(spec).strip()
    base_spec, vname = _split_variant(text)
    if _looks_like_path(base_spec):
        if not Path(base_spec).is_file():
            raise UnknownHardwareError(f"hardware profile file {base_spec!r} not found")
        return _pick_variant(_parse_file(base_spec), vname)
    index = _index()
    path = index.get(base_spec)
    if path is None:  # forgive case: "Pixel8_CPU"
        folded = [k for k in index if k.lower() == base_spec.lower()]
        path = index[folded[0]] if len(folded) == 1 else None
    if path is None:
        raise _unknown(text, index)
    return _pick_variant(_parse_file(path), vname)


def list_profiles(include_variants: bool = True, *, pattern: str | None = None
                  ) -> list[HardwareProfile]:
    """Every profile (built-ins and $ROOFLINE_HW_PATH), sorted by id, each base followed by its
    variants; ``pattern`` is a glob on the id ("pixel*", "*:fitted")."""
    out: list[HardwareProfile] = []
    for pid, path in sorted(_index().items()):
        base, variants = _parse_file(path)
        members = [base, *(variants[v] for v in sorted(variants))] if include_variants else [base]
        out += [p for p in members if pattern is None or fnmatch.fnmatchcase(p.id, pattern)]
    return out


def profile_ids(include_variants: bool = True, *, pattern: str | None = None) -> list[str]:
    """The ids of :func:`list_profiles`."""
    return [p.id for p in list_profiles(include_variants, pattern=pattern)]

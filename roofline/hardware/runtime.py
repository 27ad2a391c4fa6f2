"""Runtimes as data: the graph a runtime executes, its fusion, and its fitted parameters.

A runtime (LiteRT with XNNPACK, ONNX Runtime's CPU provider, torch eager) is described by
one YAML file in ``hardware_profiles/runtimes/`` (the id is the file stem), as a device is by
its profile. It says

- ``graph``: what the runtime runs, and so which layer table a model is summed over:
  ``tflite`` (the exported .tflite, one layer per op of the file), ``onnx`` (the .onnx), or
  ``torch`` (the torch trace);
- ``fusion``: the fusion policy a *torch trace* is grouped by when the runtime's own graph is
  not at hand (``tflite`` for LiteRT: BatchNorm folded, ReLU fused; ``none`` for torch eager,
  which runs every op as its own kernel); ``fit`` and ``validate`` default to it;
- ``parameters``: a few named numbers for what the plain roofline misses (see
  ``roofline.latency.runtime_model`` for the equation and :data:`PARAMETERS` for their
  meaning), each a figure with a value, a basis (``fitted`` for all of them today), a source
  (the exact command that fitted it, naming the measurements file) and a note.

A parameter the file does not name takes its neutral value (an efficiency of 1, an overhead
of 0): a runtime without parameters is the plain roofline over its graph.

Lookup: ``<dir>/runtimes/<id>.yaml`` for each directory in ``$ROOFLINE_HW_PATH`` (first
wins), then the built-in ``hardware_profiles/runtimes/``; a path to a .yaml file works too.
A malformed file raises :class:`~roofline.errors.ProfileError` naming the file and field.
This module imports neither torch nor pandas.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from roofline.errors import ProfileError, UnknownHardwareError, did_you_mean
from roofline.hardware.paths import ENV_VAR, builtin_dir

__all__ = [
    "FUSIONS",
    "GRAPHS",
    "NEUTRAL",
    "PARAMETERS",
    "Param",
    "Runtime",
    "get_runtime",
    "load_runtime",
    "parse_runtime",
    "runtime_data",
    "runtime_dirs",
    "runtime_ids",
    "runtime_yaml",
]

#: what a runtime executes
GRAPHS = ("tflite", "onnx", "torch")
#: fusion policies of torch traces (roofline.graph.layers)
FUSIONS = ("none", "tflite", "full")
#: the named parameters a runtime may carry, and what each means (the unit is in the name)
PARAMETERS: Mapping[str, str] = MappingProxyType({
    "conv_efficiency": "share of the device's peak that dense convolutions and fully "
                       "connected layers reach (CONV_2D, FULLY_CONNECTED, Conv, Gemm)",
    "depthwise_efficiency": "share of the peak that depthwise convolutions reach",
    "large_depthwise_efficiency": "the same for depthwise convolutions of more than 25 taps "
                                  "(7x7 and up: XNNPACK runs up to 5x5 in one pass over the "
                                  "input, larger kernels in several)",
    "matmul_efficiency": "share of the peak that products of two activations reach "
                         "(BATCH_MATMUL, MatMul of activations, attention)",
    "memory_efficiency": "effective bandwidth of a layer's bytes, as a multiple of the "
                         "device's DRAM bandwidth (above 1 when activations stay in cache)",
    "island_memory_efficiency": "the same for island layers: those that compute in float "
                                "inside a quantised graph or run outside the delegate "
                                "(TFLite's own kernels instead of XNNPACK's)",
    "op_overhead_macs": "fixed cost of every executed op, in MAC-equivalents (seconds x the "
                        "device's peak), so it scales with the device's speed",
    "partition_overhead_macs": "fixed cost of every delegate partition (entering and leaving "
                               "XNNPACK), in MAC-equivalents",
    "island_op_overhead_macs": "extra fixed cost of an op outside the delegate or of a "
                               "QUANTIZE/DEQUANTIZE (an island's edge), in MAC-equivalents",
})
#: the value a parameter takes when the runtime does not name it
NEUTRAL: Mapping[str, float] = MappingProxyType(
    {p: (0.0 if p.endswith("_macs") else 1.0) for p in PARAMETERS})

_BASES = ("vendor", "derived", "measured", "fitted", "estimate")
_TOP_KEYS = ("name", "graph", "fusion", "description", "parameters")
_PARAM_KEYS = ("value", "basis", "source", "note")
MAX_FILE_BYTES = 200_000


@dataclass(frozen=True)
class Param:
    """One runtime parameter: its value and where it came from."""

    value: float
    basis: str
    source: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "basis": self.basis, "source": self.source}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Runtime:
    """A runtime: what it executes, how torch traces are grouped for it, its parameters."""

    id: str
    name: str
    graph: str
    fusion: str
    description: str = ""
    parameters: Mapping[str, Param] = field(default_factory=dict)
    path: str | None = None

    def value(self, name: str) -> float:
        """A parameter's value, or its neutral value when the runtime does not name it."""
        if name not in PARAMETERS:
            raise KeyError(f"unknown runtime parameter {name!r}")
        p = self.parameters.get(name)
        return p.value if p is not None else NEUTRAL[name]

    def values(self) -> dict[str, float]:
        """Every parameter's value (neutral where not named)."""
        return {n: self.value(n) for n in PARAMETERS}

    @property
    def fitted(self) -> bool:
        """Whether any parameter was fitted."""
        return any(p.basis == "fitted" for p in self.parameters.values())

    def with_parameters(self, values: Mapping[str, float], *, basis: str, source: str,
                        notes: Mapping[str, str] | None = None) -> Runtime:
        """A copy with ``values`` replacing (or adding) those parameters."""
        params = dict(self.parameters)
        for k, v in values.items():
            if k not in PARAMETERS:
                raise KeyError(f"unknown runtime parameter {k!r}")
            params[k] = Param(float(v), basis, source, (notes or {}).get(k, PARAMETERS[k]))
        return Runtime(self.id, self.name, self.graph, self.fusion, self.description,
                       MappingProxyType(params), self.path)

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping of this runtime (:func:`runtime_data`)."""
        return runtime_data(self)


def runtime_data(rt: Runtime) -> dict[str, Any]:
    """A runtime as the mapping its YAML file holds (keys in file order)."""
    out: dict[str, Any] = {"name": rt.name, "graph": rt.graph, "fusion": rt.fusion}
    if rt.description:
        out["description"] = rt.description
    out["parameters"] = {k: rt.parameters[k].to_dict() for k in PARAMETERS
                         if k in rt.parameters}
    return out


def runtime_yaml(rt: Runtime, header: str = "") -> str:
    """A runtime as the text of its YAML file (numbers to 4 significant digits), with
    ``header`` as a leading comment; :func:`parse_runtime` reads it back."""
    import yaml  # deferred: imported when a runtime is first read or written

    def clean(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        return float(f"{v:.4g}") if isinstance(v, float) else v

    body = yaml.safe_dump(clean(runtime_data(rt)), sort_keys=False, allow_unicode=True,
                          width=96, default_flow_style=False)
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comment + body


# ------------------------------------------------------------------------------- loading


def _fail(src: str, where: str | None, message: str) -> ProfileError:
    return ProfileError(f"{src}: {where}: {message}" if where else f"{src}: {message}")


def _parse_yaml(text: str, src: str) -> Any:
    """YAML without anchors, aliases or duplicate keys (one line on any problem)."""
    import yaml  # deferred: imported when a runtime is first read or written

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
                mark = self.peek_event().start_mark
                raise _fail(src, f"line {mark.line + 1}",
                            "anchors and aliases (&name, *name) are not allowed")
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = set()
            for k, _ in node.value:
                key = self.construct_object(k, deep=deep)
                if key in seen:
                    raise _fail(src, f"line {k.start_mark.line + 1}", f"duplicate key {key!r}")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise _fail(src, where, f"not valid YAML: {getattr(e, 'problem', None) or e}") from None


def _mapping(value: Any, src: str, where: str | None) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise _fail(src, where, f"expected a mapping, got {type(value).__name__}")
    return value


def _keys(m: Mapping[Any, Any], src: str, where: str | None, allowed: tuple[str, ...],
          required: tuple[str, ...]) -> None:
    for k in m:
        if k not in allowed:
            hint = did_you_mean(str(k), allowed) or f"; expected one of {', '.join(allowed)}"
            raise _fail(src, where, f"unknown key {k!r}{hint}")
    for k in required:
        if k not in m:
            raise _fail(src, where, f"missing key {k!r}")


def _text(value: Any, src: str, where: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        raise _fail(src, where, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _param(name: str, raw: Any, src: str) -> Param:
    where = f"parameters.{name}"
    m = _mapping(raw, src, where)
    _keys(m, src, where, _PARAM_KEYS, ("value", "basis", "source"))
    v = m["value"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _fail(src, f"{where}.value", f"expected a finite number, got {v!r}")
    if name.endswith("_macs"):
        if v < 0:
            raise _fail(src, f"{where}.value", f"an overhead must be >= 0, got {v!r}")
    elif not v > 0:
        raise _fail(src, f"{where}.value", f"an efficiency must be > 0, got {v!r}")
    basis = m["basis"]
    if basis not in _BASES:
        raise _fail(src, f"{where}.basis",
                    f"unknown basis {basis!r}; expected one of {', '.join(_BASES)}")
    return Param(float(v), basis, _text(m["source"], src, f"{where}.source"),
                 _text(m.get("note", ""), src, f"{where}.note", empty_ok=True))


def parse_runtime(data: Any, src: str, rid: str, path: str | None = None) -> Runtime:
    """A :class:`Runtime` from the mapping of a runtime file (``src`` names it in errors)."""
    m = _mapping(data, src, None)
    _keys(m, src, None, _TOP_KEYS, ("name", "graph", "fusion"))
    graph, fusion = m["graph"], m["fusion"]
    if graph not in GRAPHS:
        raise _fail(src, "graph", f"unknown graph {graph!r}{did_you_mean(str(graph), GRAPHS)}"
                    f"; expected one of {', '.join(GRAPHS)}")
    if fusion not in FUSIONS:
        raise _fail(src, "fusion", f"unknown fusion {fusion!r}{did_you_mean(str(fusion), FUSIONS)}"
                    f"; expected one of {', '.join(FUSIONS)}")
    raw = m.get("parameters") or {}
    raw = _mapping(raw, src, "parameters")
    params = {}
    for k, v in raw.items():
        if k not in PARAMETERS:
            hint = did_you_mean(str(k), PARAMETERS) or f"; expected one of {', '.join(PARAMETERS)}"
            raise _fail(src, "parameters", f"unknown parameter {k!r}{hint}")
        params[k] = _param(k, v, src)
    return Runtime(rid, _text(m["name"], src, "name"), graph, fusion,
                   _text(m.get("description", ""), src, "description", empty_ok=True),
                   MappingProxyType(params), path)


def load_runtime(path: str | os.PathLike[str]) -> Runtime:
    """A runtime from its YAML file (the id is the file stem)."""
    p = Path(path)
    src = str(p)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise _fail(src, None, f"larger than {MAX_FILE_BYTES} bytes; not a runtime file")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(src, None, "no such file") from None
    except IsADirectoryError:
        raise _fail(src, None, "is a directory; expected a runtime .yaml file") from None
    except UnicodeDecodeError:
        raise _fail(src, None, "not UTF-8 text") from None
    except OSError as e:
        raise _fail(src, None, f"cannot read: {e.strerror or e}") from None
    return parse_runtime(_parse_yaml(text, src), src, p.stem, src)


def runtime_dirs() -> list[Path]:
    """Where runtimes are looked up, first wins: ``$ROOFLINE_HW_PATH/*/runtimes``, built-ins."""
    raw = os.environ.get(ENV_VAR, "")
    user = [Path(d).expanduser() / "runtimes" for d in raw.split(os.pathsep) if d.strip()]
    return [*user, builtin_dir() / "runtimes"]


def _index() -> dict[str, Path]:
    index: dict[str, Path] = {}
    for d in runtime_dirs():
        try:
            files = sorted(d.iterdir())
        except OSError:
            continue
        for f in files:
            if f.suffix.lower() in (".yaml", ".yml") and f.is_file():
                index.setdefault(f.stem, f)
    return index


def runtime_ids() -> list[str]:
    """The ids of every runtime found (sorted)."""
    return sorted(_index())


def get_runtime(spec: str | os.PathLike[str] | Runtime) -> Runtime:
    """A runtime by id (``litert_xnnpack``) or path to its .yaml file."""
    if isinstance(spec, Runtime):
        return spec
    text = os.fspath(spec).strip()
    if "/" in text or os.sep in text or text.lower().endswith((".yaml", ".yml")):
        if not Path(text).is_file():
            raise UnknownHardwareError(f"runtime file {text!r} not found")
        return load_runtime(text)
    index = _index()
    if text not in index:
        raise UnknownHardwareError(
            f"unknown runtime {text!r}{did_you_mean(text, index)}; known runtimes: "
            f"{', '.join(sorted(index)) or 'none'} (files in hardware_profiles/runtimes/)")
    return load_runtime(index[text])

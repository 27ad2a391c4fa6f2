"""The public entry point: a model and a device in, the layer table and totals out.

``analyze`` walks the data flow once: resolve the model and its input (one resolver for
every command: :func:`model_input`), trace it on meta, build the layer table under a fusion
policy, and put it on a device's roofline. The result keeps numbers as numbers; its
``repr`` is a short summary, ``_repr_html_`` a notebook view and :meth:`Analysis.by_module`
a rollup by module depth (fvcore's table by depth). Rendering for files is ``render``'s job.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from roofline import __version__
from roofline import cache as trace_cache
from roofline.dtypes import canonical_dtype
from roofline.errors import InputError, NoInputShapeError
from roofline.graph.deployed import deployed_layer_table, is_deployed
from roofline.graph.deployed_file import read_deployed
from roofline.graph.layers import check_fusion, layer_table
from roofline.hardware.profile import HardwareProfile, Roof
from roofline.hardware.registry import get_profile
from roofline.hardware.runtime import get_runtime
from roofline.latency.equation import layer_times, totals
from roofline.latency.runtime_model import DeviceRoofs, runtime_estimate
from roofline.models.zoo import ModelSource, check_batch, check_form, check_resolution, resolve

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

    from roofline.graph.records import Trace

__all__ = ["Analysis", "analyze", "trace_model", "resolve_roof", "model_input", "ROOT_NAME"]

#: the layer name of ops called in the model's own forward (module path '')
ROOT_NAME = "(model)"
#: the columns :meth:`Analysis.by_module` sums
_SUMMED = ("macs", "params", "weight_bytes", "input_bytes", "output_bytes", "bytes",
           "compute_s", "memory_s", "latency_s")


@dataclass(repr=False)
class Analysis:
    """One model on one device: the layer table, the totals and how they were made.

    ``print(a)`` gives a short summary; ``a.layers`` is the layer table (a DataFrame),
    ``a.totals`` the sums, ``a.top(k)`` the costliest layers, ``a.by_module(depth)`` a
    rollup by module path and ``a.to_dict()`` the JSON contract."""

    model: str
    layers: pd.DataFrame
    totals: dict[str, Any]
    dtype: str
    weight_dtype: str
    fusion: str
    input_shapes: list[list[int]]
    unsupported: dict[str, int]
    coverage: float
    roof: Roof | None = None
    profile: HardwareProfile | None = None
    resolution: int | None = None
    batch: int = 1
    source: str = "module"            # zoo | timm | file | module
    family: str | None = None
    form: str | None = None           # inference (re-parameterised) | training | None: as given
    published: dict[str, Any] | None = None
    ops_traced: int = 0
    notes: list[str] = field(default_factory=list)

    def top(self, k: int = 10) -> pd.DataFrame:
        """The k costliest layers: by the runtime-aware time when the device's runtime runs
        this graph, else by the roofline's predicted time, else by MACs."""
        key = next(c for c in ("runtime_latency_s", "latency_s", "macs") if c in self.layers)
        return self.layers.sort_values(key, ascending=False, kind="stable").head(k)

    def by_module(self, depth: int = 1) -> pd.DataFrame:
        """Layers summed by module path cut at ``depth`` ("blocks.1.0.conv" at depth 2 is
        "blocks.1"): ``layers`` counted, MACs, params, bytes and (on a device) time, with each
        module's share of the total, in the order the modules first run. Ops called in the
        model's own forward form the row ``(model)``."""
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise InputError(f"depth must be a positive integer, got {depth!r}")
        names = self.layers["name"]
        key = names.where(names == ROOT_NAME, names.str.split(".").str[:depth].str.join("."))
        cols = [c for c in _SUMMED if c in self.layers]
        out = self.layers[cols].groupby(key.rename("module"), sort=False).sum()
        out.insert(0, "layers", key.value_counts(sort=False).reindex(out.index))
        share = "latency_s" if "latency_s" in out else "macs"
        total = out[share].sum()
        out[f"share_of_{'time' if share == 'latency_s' else 'macs'}"] = \
            out[share] / total if total else 0.0
        return out.reset_index()

    def summary_lines(self) -> list[str]:
        """The summary: model, input, device, totals, per image when batched."""
        t = self.totals
        shape = " + ".join("x".join(map(str, s)) for s in self.input_shapes)
        head = f"{self.model}" + (f" ({self.family})" if self.family else "")
        lines = [f"{head}, input {shape}, {self.dtype}, fusion {self.fusion}"]
        if self.roof is not None:
            r = self.roof
            lines.append(f"on {r.hardware_id} ({r.name}, {r.basis}): peak "
                         f"{_si(r.peak_macs_per_s)}MAC/s, DRAM {_si(r.mem_bw_bytes_per_s)}B/s, "
                         f"ridge point {r.ridge_point:.3g} MACs/B")
        lines.append(f"{_si(t['macs'])}MACs, {_si(t['params']).strip()} params, {t['layers']} layers, "
                     f"{_si(t['bytes'])}B moved, intensity {t['intensity']:.3g} MACs/B")
        if "latency_s" in t:
            lines.append(f"predicted {t['latency_s'] * 1e3:.4g} ms, memory-bound "
                         f"{t['memory_bound_fraction']:.0%} of the time")
        if "runtime_latency_s" in t:
            lines.append(f"runtime-aware {t['runtime_latency_s'] * 1e3:.4g} ms on "
                         f"{t['runtime']} (fitted efficiencies and overheads)")
        if self.batch > 1:
            per = f"per image (batch {self.batch}): {_si(t['macs_per_image'])}MACs"
            if "latency_per_image_s" in t:
                per += (f", {t['latency_per_image_s'] * 1e3:.4g} ms, "
                        f"{_si(t['images_per_s']).strip()} images/s")
            lines.append(per)
        return lines

    def __repr__(self) -> str:
        """A short summary (not the layer table): what ``print(a)`` shows."""
        lines = self.summary_lines()
        return "\n".join([f"<Analysis {lines[0]}>", *("  " + x for x in lines[1:]),
                          "  .layers .totals .top(k) .by_module(depth) .to_dict()"])

    def _repr_html_(self) -> str:
        """The notebook view: the summary, then the ten costliest layers."""
        lines = self.summary_lines()
        cols = [c for c in ("name", "op", "macs", "bytes", "intensity", "latency_s", "bound")
                if c in self.layers]
        top = self.top(10)[cols].to_html(float_format=lambda x: f"{x:.4g}", border=0)
        return (f"<div><b>{html.escape(lines[0])}</b><br>"
                + "<br>".join(html.escape(x) for x in lines[1:])
                + f"<br><i>top {min(10, len(self.layers))} layers</i>{top}</div>")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the contract of ``--format json``."""
        hw = None
        if self.roof is not None:
            r = self.roof
            hw = {
                "id": r.hardware_id, "name": r.name, "kind": r.kind, "dtype": r.dtype,
                "peak_macs_per_s": r.peak_macs_per_s,
                "mem_bw_bytes_per_s": r.mem_bw_bytes_per_s,
                "ridge_point": r.ridge_point, "fitted": r.fitted, "basis": r.basis,
                "overhead_s_per_layer": r.overhead_s_per_layer,
                "compute_efficiency": r.compute_efficiency,
                "memory_efficiency": r.memory_efficiency,
            }
        layers = self.layers.astype(object).where(self.layers.notna(), None)
        return {
            "roofline_version": __version__,
            "model": self.model,
            "source": self.source,
            "family": self.family,
            "form": self.form,
            "resolution": self.resolution,
            "batch": self.batch,
            "input_shapes": self.input_shapes,
            "dtype": self.dtype,
            "weight_dtype": self.weight_dtype,
            "fusion": self.fusion,
            "hardware": hw,
            "totals": self.totals,
            "published": self.published,
            "layers": layers.to_dict(orient="records"),
            "unsupported": self.unsupported,
            "coverage": self.coverage,
            "ops_traced": self.ops_traced,
            "units": {"macs": "multiply-accumulates (1 MAC = 2 FLOPs)", "bytes": "bytes",
                      "time": "seconds", "intensity": "MACs/byte",
                      "ridge_point": "MACs/byte"},
        }


def resolve_roof(hw: str | HardwareProfile | Roof | None,
                 dtype: str | None) -> tuple[Roof | None, HardwareProfile | None, str]:
    """(roof, profile, canonical dtype) for a hardware spec and an optional dtype."""
    if hw is None:
        return None, None, canonical_dtype(dtype or "fp32")
    if isinstance(hw, Roof):
        d = canonical_dtype(dtype or hw.dtype)
        if d != hw.dtype:
            raise InputError(f"the Roof given is for {hw.dtype}, not {d}; pass a profile instead")
        return hw, None, d
    if not isinstance(hw, (str, os.PathLike, HardwareProfile)):
        raise InputError(f"hw must be a profile id, a YAML path, a HardwareProfile or a Roof, "
                         f"got {type(hw).__name__} {hw!r:.40}")
    profile = hw if isinstance(hw, HardwareProfile) else get_profile(os.fspath(hw))
    d = canonical_dtype(dtype or profile.default_dtype)
    return profile.roof(d), profile, d


def analyze(
    model: str | nn.Module,
    hw: str | HardwareProfile | Roof | None = None,
    *,
    dtype: str | None = None,
    weight_dtype: str | None = None,
    resolution: int | None = None,
    batch: int = 1,
    fusion: str = "tflite",
    input_shape: Any = None,
    inputs: Any = None,
    kwargs: dict[str, Any] | None = None,
    cache: bool = True,
    form: str = "inference",
) -> Analysis:
    """Analyse a model (zoo name, timm name, ``file.py:factory`` or an nn.Module) on a device.

    ``hw`` is a profile id (``"pixel8_cpu"``, ``"pixel6_cpu:fitted"``), a YAML path, a
    :class:`HardwareProfile` or a :class:`Roof`; without it only counts are returned.
    ``dtype`` defaults to the device's default dtype (fp32 without a device). Traces of
    named models are cached on disk (``cache.py``); ``cache=False`` traces afresh.
    ``form``: a named model is analysed re-parameterised as deployed ("inference", MobileOne,
    FastViT) or as constructed ("training"); an nn.Module is analysed as given.
    A ``.tflite`` or ``.onnx`` path is analysed as deployed: see :func:`analyze_deployed`.
    """
    if is_deployed(model):
        return analyze_deployed(model, hw, dtype=dtype, weight_dtype=weight_dtype,
                                fusion=fusion, resolution=resolution, batch=batch,
                                input_shape=input_shape, inputs=inputs, kwargs=kwargs)
    check_fusion(fusion)
    roof, profile, d = resolve_roof(hw, dtype)
    wd = canonical_dtype(weight_dtype) if weight_dtype else d
    label, tr, meta = trace_model(model, resolution=resolution, batch=batch,
                                  input_shape=input_shape, inputs=inputs, kwargs=kwargs,
                                  cache=cache, form=form)
    layers = layer_table(tr, fusion=fusion, dtype=d, weight_dtype=wd)
    layers["name"] = layers["name"].where(layers["name"] != "", ROOT_NAME)
    if roof is not None:
        layers = layer_times(layers, roof)
    tot = totals(layers)
    tot["params"] = tr.param_count
    used = int(layers["params"].sum())
    if used != tr.param_count:
        tot["params_unused"] = tr.param_count - used
    n = meta.get("batch", batch)
    if n > 1:  # per image: what a paper's single-image figures compare with
        tot["macs_per_image"] = tot["macs"] / n
        if "latency_s" in tot:
            tot["latency_per_image_s"] = tot["latency_s"] / n
            tot["images_per_s"] = n / tot["latency_s"] if tot["latency_s"] else math.inf
    return Analysis(
        model=label, layers=layers, totals=tot, dtype=d, weight_dtype=wd, fusion=fusion,
        input_shapes=[list(r.shape) for r in tr.inputs], unsupported=tr.unsupported(),
        coverage=tr.coverage(), roof=roof, profile=profile, ops_traced=len(tr.ops), **meta,
    )


def analyze_deployed(path: Any, hw: str | HardwareProfile | Roof | None = None, *,
                     dtype: str | None = None, weight_dtype: str | None = None,
                     fusion: str = "tflite", resolution: int | None = None, batch: int = 1,
                     input_shape: Any = None, inputs: Any = None,
                     kwargs: dict[str, Any] | None = None) -> Analysis:
    """Analyse a deployed .tflite/.onnx file: one layer per op, bytes at each tensor's dtype.

    The file fixes what a torch model leaves open: its ops are the layers (``fusion`` is
    reported as ``deployed``), its tensors' dtypes decide the bytes, its inputs have their
    shapes. So ``dtype``/``weight_dtype`` are accepted only when they name the file's own
    (they could not re-size its tensors), and a fusion other than the default, a resolution,
    an input shape, a batch or inputs are rejected.
    """
    name = str(path)
    asked = {"--resolution": resolution, "--input-shape": input_shape, "inputs": inputs,
             "kwargs": kwargs, "--batch": None if batch == 1 else batch,
             "--fusion": None if fusion == "tflite" else fusion}
    for opt, v in asked.items():
        if v is not None:
            raise InputError(f"{name}: {opt} does not apply to a deployed model file, whose "
                             f"ops, input shapes and dtypes are fixed; drop {opt}")
    g = read_deployed(path)
    for opt, want, have in (("--dtype", dtype, g.dtype),
                            ("--weight-dtype", weight_dtype, g.weight_dtype)):
        if want is not None and canonical_dtype(want) != have:
            raise InputError(f"{name} computes in {have} (each tensor's own dtype decides its "
                             f"bytes); {opt} {want} cannot re-size it: drop {opt} or export "
                             f"the model in {canonical_dtype(want)}")
    roof, profile, d = resolve_roof(hw, g.dtype)
    layers = deployed_layer_table(g)
    if roof is not None:
        layers = layer_times(layers, roof)
    tot = totals(layers)
    runtime = get_runtime(profile.runtime) if profile is not None and profile.runtime else None
    if roof is not None and runtime is not None and runtime.graph == g.format \
            and runtime.parameters:
        # the runtime this device is measured with runs this very file: its fitted
        # efficiencies and overheads, beside the plain roofline (what-ifs apply to both)
        device = DeviceRoofs.of(profile, d).scaled(roof.peak_macs_per_s,
                                                   roof.mem_bw_bytes_per_s)
        per_layer, extra = runtime_estimate(layers, device, runtime)
        layers = layers.assign(runtime_latency_s=per_layer)
        tot.update(extra)
    tr = g.trace
    tot["params"] = tr.param_count
    shapes = [list(r.shape) for r in tr.inputs]
    res = None
    if len(shapes) == 1 and len(shapes[0]) == 4:
        s = shapes[0]
        res = s[3] if s[2] == s[3] else s[2] if s[1] == s[2] else None
    return Analysis(
        model=g.path.name, layers=layers, totals=tot, dtype=d, weight_dtype=g.weight_dtype,
        fusion="deployed", input_shapes=shapes, unsupported=tr.unsupported(),
        coverage=tr.coverage(), roof=roof, profile=profile, resolution=res, batch=1,
        source=g.format, ops_traced=len(tr.ops), notes=list(g.notes),
    )


def trace_model(model: str | nn.Module, *, resolution: int | None = None, batch: int = 1,
                input_shape: Any = None, inputs: Any = None,
                kwargs: dict[str, Any] | None = None,
                cache: bool = True, form: str = "inference") -> tuple[str, Trace, dict[str, Any]]:
    """Resolve and trace a model: (label, trace, Analysis fields describing the source).

    A named model traced from shapes alone is looked up in the trace cache first; a hit
    imports neither torch nor timm.
    """
    check_form(form)
    if resolution is not None:
        check_resolution(resolution)
    check_batch(batch)
    cacheable = (cache and trace_cache.enabled() and isinstance(model, str)
                 and inputs is None and kwargs is None)
    if cacheable:
        shape = input_shape if _is_shape_list(input_shape) or input_shape is None \
            else [input_shape]
        k = trace_cache.trace_key(model, resolution=resolution, batch=batch,
                                  input_shape=shape, form=form)
        hit = trace_cache.load(k)
        if hit is not None:
            tr, meta = hit
            return meta.pop("label"), tr, meta
    label, tr, meta = _trace(model, resolution, batch, input_shape, inputs, kwargs, form)
    if cacheable:
        trace_cache.store(k, tr, {"label": label, **meta})
    return label, tr, meta


def _is_shape_list(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and bool(x) and isinstance(x[0], (list, tuple))


def _check_shape(shape: Any, label: str) -> tuple[int, ...] | list[tuple[int, ...]]:
    """A shape (or a list of shapes) of positive integers; InputError naming the model."""
    shapes = shape if _is_shape_list(shape) else [shape]
    out = []
    for s in shapes:
        if not isinstance(s, Sequence) or isinstance(s, str) or not s or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in s):
            raise InputError(f"{label}: input shape {shape!r} is not a shape of positive "
                             "integers, e.g. (1, 3, 224, 224)")
        out.append(tuple(s))
    return out if _is_shape_list(shape) else out[0]


def model_input(src: ModelSource | None, module: Any, *, label: str,
                resolution: int | None = None, batch: int = 1, input_shape: Any = None
                ) -> tuple[Any, dict[str, Any]]:
    """THE input resolver, for every command: (input shape, Analysis fields: resolution and
    batch). In order: an explicit ``input_shape`` (its first dim is the batch); a
    ``resolution`` (batch x channels x res x res); what the model declares (its factory
    returned ``(model, input_shape)``, or the module has an ``input_shape`` attribute; dim 0
    becomes ``batch`` when batch > 1); the source's default resolution (the zoo's, timm's).
    Otherwise :class:`NoInputShapeError`, which a command re-words with its own options."""
    if input_shape is not None:
        shape = _check_shape(input_shape, label)
        first = shape[0] if _is_shape_list(shape) else shape
        return shape, ({"batch": first[0]} if len(first) >= 2 else {})
    if resolution is not None or (src is not None and src.resolution is not None):
        if src is None:
            check_resolution(resolution)
            check_batch(batch)
            return (batch, 3, resolution, resolution), {"resolution": resolution}
        shape = src.input_shape(resolution, batch)
        return shape, {"resolution": shape[-1]}
    declared = src.declared.get("input_shape") if src is not None else None
    if declared is None:
        declared = getattr(module, "input_shape", None)
    if declared is None:
        raise NoInputShapeError(label)
    shape = _check_shape(declared, label)
    if batch > 1 and not _is_shape_list(shape):
        shape = (batch, *shape[1:])
    first = shape[0] if _is_shape_list(shape) else shape
    found = {"batch": first[0]}
    if len(first) == 4 and first[-1] == first[-2]:
        found["resolution"] = first[-1]
    return shape, found


def _trace(model: Any, resolution: int | None, batch: int, input_shape: Any, inputs: Any,
           kwargs: dict[str, Any] | None,
           form: str = "inference") -> tuple[str, Trace, dict[str, Any]]:
    """Resolve and trace a model; (label, trace, Analysis fields describing the source)."""
    from roofline.graph.torch_trace import trace  # deferred: heavy import (torch)

    src: ModelSource | None = None
    if isinstance(model, str):
        src = resolve(model)
        if input_shape is None and inputs is None and (resolution is not None
                                                       or src.resolution is not None):
            src.input_shape(resolution, batch)  # a bad resolution fails before the build
        module = src.build(form)
        meta: dict[str, Any] = {"source": src.kind, "batch": batch, "form": form}
        if src.entry is not None:
            meta["family"] = src.entry.family
            p = src.entry.published
            meta["published"] = {"top1": p.top1, "params_m": p.params_m, "macs_g": p.macs_g,
                                 "source": p.source}
        label = src.label
    else:
        module = model
        label = type(model).__name__
        meta = {"source": "module", "batch": batch}
    if inputs is None:
        input_shape, found = model_input(src, module, label=label, resolution=resolution,
                                         batch=batch, input_shape=input_shape)
        meta.update(found)
    tr = trace(module, input_shape, inputs=inputs, kwargs=kwargs)
    return label, tr, meta


_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _si(value: float) -> str:
    """1.08e9 -> '1.08 G' (three significant digits; the unit follows)."""
    if value is None or not math.isfinite(value):
        return "- "
    for scale, prefix in _SI:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{value:.3g} "

"""The public entry point: a model and a device in, the layer table and totals out.

``analyze`` walks the data flow once: resolve the model (zoo), trace it on meta (trace),
build the layer table under a fusion policy (layers), and put it on a device's roofline
(model). The result keeps numbers as numbers; rendering is ``report.py``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from roofline import __version__
from roofline.dtypes import canonical_dtype
from roofline.errors import InputError
from roofline.hardware.profile import HardwareProfile, Roof
from roofline.hardware.registry import get_profile
from roofline.graph.layers import check_fusion, layer_table
from roofline.latency.equation import layer_times, totals

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

    from roofline.graph.records import Trace
    from roofline.models.zoo import ModelSource


@dataclass
class Analysis:
    """One model on one device: the layer table, the totals and how they were made."""

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
        """The k costliest layers (by predicted time on the device, else by MACs)."""
        key = "latency_s" if "latency_s" in self.layers else "macs"
        return self.layers.sort_values(key, ascending=False, kind="stable").head(k)

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
    profile = hw if isinstance(hw, HardwareProfile) else get_profile(hw)
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
    """
    check_fusion(fusion)
    roof, profile, d = resolve_roof(hw, dtype)
    wd = canonical_dtype(weight_dtype) if weight_dtype else d
    label, tr, meta = trace_model(model, resolution=resolution, batch=batch,
                                  input_shape=input_shape, inputs=inputs, kwargs=kwargs,
                                  cache=cache, form=form)
    layers = layer_table(tr, fusion=fusion, dtype=d, weight_dtype=wd)
    if roof is not None:
        layers = layer_times(layers, roof)
    tot = totals(layers)
    tot["params"] = tr.param_count
    used = int(layers["params"].sum())
    if used != tr.param_count:
        tot["params_unused"] = tr.param_count - used
    return Analysis(
        model=label, layers=layers, totals=tot, dtype=d, weight_dtype=wd, fusion=fusion,
        input_shapes=[list(r.shape) for r in tr.inputs], unsupported=tr.unsupported(),
        coverage=tr.coverage(), roof=roof, profile=profile, ops_traced=len(tr.ops), **meta,
    )


def trace_model(model: str | nn.Module, *, resolution: int | None = None, batch: int = 1,
                input_shape: Any = None, inputs: Any = None,
                kwargs: dict[str, Any] | None = None,
                cache: bool = True, form: str = "inference") -> tuple[str, Trace, dict[str, Any]]:
    """Resolve and trace a model: (label, trace, Analysis fields describing the source).

    A named model traced from shapes alone is looked up in the trace cache first; a hit
    imports neither torch nor timm.
    """
    from roofline import cache as trace_cache
    from roofline.models.zoo import check_batch, check_form, check_resolution

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


def _trace(model: Any, resolution: int | None, batch: int, input_shape: Any, inputs: Any,
           kwargs: dict[str, Any] | None,
           form: str = "inference") -> tuple[str, Trace, dict[str, Any]]:
    """Resolve and trace a model; (label, trace, Analysis fields describing the source)."""
    from roofline.graph.torch_trace import trace
    from roofline.models.zoo import check_batch, check_resolution, resolve

    if isinstance(model, str):
        src: ModelSource = resolve(model)
        if input_shape is None and inputs is None:  # a bad resolution fails before the build
            src.input_shape(resolution, batch)
        module = src.build(form)
        meta: dict[str, Any] = {"source": src.kind, "batch": batch, "form": form}
        if src.entry is not None:
            meta["family"] = src.entry.family
            p = src.entry.published
            meta["published"] = {"top1": p.top1, "params_m": p.params_m, "macs_g": p.macs_g,
                                 "source": p.source}
        if input_shape is None and inputs is None:
            input_shape = src.input_shape(resolution, batch)
            meta["resolution"] = input_shape[-1]
        label = src.label
    else:
        module = model
        label = type(model).__name__
        meta = {"source": "module", "batch": batch}
        if input_shape is None and inputs is None:
            if resolution is None:
                raise InputError(
                    f"{label}: pass input_shape=(1, 3, H, W), inputs=... or resolution=")
            check_resolution(resolution)
            check_batch(batch)
            input_shape = (batch, 3, resolution, resolution)
            meta["resolution"] = resolution
    tr = trace(module, input_shape, inputs=inputs, kwargs=kwargs)
    return label, tr, meta

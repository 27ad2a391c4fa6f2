"""Op records -> the layer table: one row per layer a runtime would execute.

What counts as one layer decides how many bytes cross DRAM, so it is a named policy:

- ``none``: every data-moving op is a layer (eager PyTorch).
- ``tflite`` (default): BatchNorm folds into the conv/linear that produced its input (its
  scale goes into the weights, its shift into a bias); clamp-style activations (relu,
  relu6/hardtanh, clamp) fuse into the op that produced their input; everything else is its
  own layer. This is how TFLite and XNNPACK run the MobileNet family.
- ``full``: a conv/linear/matmul/attention absorbs the chain of elementwise ops,
  activations and norms that follows it (a residual add costs one more input read), and
  elementwise chains fuse among themselves, as a GPU compiler does.

An op joins the layer that produced its input only if that tensor has no other reader: a
tensor somebody else reads has to be written out anyway.

Bytes of a layer: ``weight_bytes`` (weights it reads, at the weight dtype),
``input_bytes`` (activations it reads from other layers or from the model input, each
distinct tensor region once) and ``output_bytes`` (tensors it writes that another layer or
the caller reads). Tensors passed between ops fused into one layer never reach memory.
Floating-point tensors take the analysis dtype's size; integer and boolean tensors keep
their own (see ``dtypes.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from roofline.dtypes import FLOATING, TORCH_ITEMSIZE, canonical_dtype, dtype_bytes
from roofline.errors import InputError, did_you_mean
from roofline.graph.kinds import (
    FUSION_POLICIES,
    ANCHOR_KINDS,
    BN_FOLD_TARGETS,
    CLAMP_ACTIVATIONS,
    EPILOGUE_KINDS,
    FOLDABLE_NORMS,
)
from roofline.graph.records import OpRecord, Ref, Trace

__all__ = ["COLUMNS", "FUSION_POLICIES", "check_fusion", "group_ops", "layer_table"]


#: columns of the layer table, in order
COLUMNS = [
    "name", "module_type", "op", "ops", "macs", "params", "weight_bytes", "input_bytes",
    "output_bytes", "bytes", "intensity", "input_shape", "output_shape",
]

#: the largest count an int64 column holds; a table beyond it uses float64 (never wraps)
_INT64_MAX = 2**63 - 1


def check_fusion(policy: str) -> str:
    """Validate a fusion policy name."""
    if not isinstance(policy, str) or policy not in FUSION_POLICIES:
        raise InputError(
            f"unknown fusion policy {policy!r}{did_you_mean(str(policy), FUSION_POLICIES)}; "
            f"expected one of {', '.join(FUSION_POLICIES)}"
        )
    return policy


@dataclass
class _Layer:
    ops: list[OpRecord] = field(default_factory=list)
    folded_bn: bool = False
    has_activation: bool = False

    @property
    def anchor(self) -> OpRecord:
        for o in self.ops:
            if o.kind in ANCHOR_KINDS:
                return o
        return self.ops[0]


def _merge_target(op: OpRecord, policy: str, layer: _Layer) -> bool:
    """Whether ``op`` may join ``layer`` (whose last output it reads) under ``policy``."""
    anchor = layer.anchor
    if op.aten in FOLDABLE_NORMS and anchor.kind in BN_FOLD_TARGETS and not layer.folded_bn \
            and len(layer.ops) == 1 and policy in ("tflite", "full"):
        return True
    if policy == "tflite":
        return op.aten in CLAMP_ACTIVATIONS and not layer.has_activation
    if policy == "full":
        return op.kind in EPILOGUE_KINDS and (
            anchor.kind in ANCHOR_KINDS or anchor.kind in EPILOGUE_KINDS)
    return False


def group_ops(trace: Trace, policy: str = "tflite") -> list[list[OpRecord]]:
    """Partition the trace's data-moving ops into layers under a fusion policy."""
    return [layer.ops for layer in _group(trace, check_fusion(policy))]


def _group(trace: Trace, policy: str) -> list[_Layer]:
    compute = [o for o in trace.ops if o.role == "compute"]
    readers: dict[int, set[int]] = defaultdict(set)
    for o in compute:
        for r in o.inputs:
            if not r.weight:
                readers[r.value].add(o.index)
    for r in trace.outputs:
        readers[r.value].add(-1)  # the caller reads the model's outputs

    layers: list[_Layer] = []
    layer_of_value: dict[int, int] = {}   # value -> index of the layer that wrote it last
    for op in compute:
        target = None
        if policy != "none":
            # the input written most recently: joining an earlier layer would reorder work
            candidates = [(layer_of_value[r.value], r) for r in op.inputs
                          if not r.weight and r.value in layer_of_value]
            if candidates:
                li, r = max(candidates, key=lambda c: c[0])
                layer = layers[li]
                tail = layer.ops[-1]
                if (readers[r.value] == {op.index}
                        and any(out.value == r.value for out in tail.outputs)
                        and _merge_target(op, policy, layer)):
                    target = li
        if target is None:
            layers.append(_Layer())
            target = len(layers) - 1
        layer = layers[target]
        if layer.ops and op.aten in FOLDABLE_NORMS and layer.anchor.kind in BN_FOLD_TARGETS \
                and len(layer.ops) == 1:
            layer.folded_bn = True
        if op.kind == "activation":
            layer.has_activation = True
        layer.ops.append(op)
        for out in op.outputs:
            layer_of_value[out.value] = target
    return layers


def _ref_bytes(r: Ref, size: float) -> float:
    if r.dtype in FLOATING:
        # a complex element is two real ones
        return r.numel * size * (2 if r.dtype.startswith("complex") else 1)
    return r.numel * TORCH_ITEMSIZE.get(r.dtype, 4)


def _region(r: Ref) -> tuple:
    """What a read touches: x and its transpose (or any permutation) are one region."""
    return r.value, r.offset, tuple(sorted(r.shape))


def _shape_str(refs: Iterable[Ref]) -> str:
    return ",".join("x".join(map(str, r.shape)) for r in refs)


def layer_table(trace: Trace, fusion: str = "tflite", dtype: str = "fp32",
                weight_dtype: str | None = None) -> pd.DataFrame:
    """The layer table of a trace: one row per layer, the columns of :data:`COLUMNS`.

    ``dtype`` is the activation (and default weight) dtype of the analysis; ``weight_dtype``
    overrides it for weights (e.g. int4 weights with fp16 activations).
    """
    act = dtype_bytes(canonical_dtype(dtype))
    wgt = dtype_bytes(canonical_dtype(weight_dtype or dtype))
    groups = _group(trace, check_fusion(fusion))

    readers_outside: dict[int, set[int]] = defaultdict(set)
    layer_index = {}
    for li, layer in enumerate(groups):
        for o in layer.ops:
            layer_index[o.index] = li
    for o in trace.ops:
        if o.role != "compute":
            continue
        for r in o.inputs:
            if not r.weight:
                readers_outside[r.value].add(layer_index[o.index])
    model_outputs = {r.value for r in trace.outputs}

    counted_params: set[int] = set()
    rows = []
    for li, layer in enumerate(groups):
        written = {out.value for o in layer.ops for out in o.outputs}
        weights: dict[tuple, Ref] = {}
        inputs: dict[tuple, Ref] = {}
        for o in layer.ops:
            folded = layer.folded_bn and o.aten in FOLDABLE_NORMS
            for r in o.inputs:
                if r.weight:
                    if not folded:
                        weights.setdefault(_region(r), r)
                elif r.value not in written:
                    inputs.setdefault(_region(r), r)
        outputs = [out for o in layer.ops for out in o.outputs
                   if out.value in model_outputs or readers_outside[out.value] - {li}]
        if not outputs:  # written but never read (dead code): still written
            outputs = [layer.ops[-1].outputs[0]] if layer.ops[-1].outputs else []

        params = {p for o in layer.ops for r in o.inputs if r.weight for p in r.params}
        new_params = params - counted_params
        counted_params |= new_params
        anchor = layer.anchor
        wbytes = sum(_ref_bytes(r, wgt) for r in weights.values())
        if layer.folded_bn and sum(1 for r in anchor.inputs if r.weight) < 2:
            # the folded BN shift becomes a bias of C_out elements
            wbytes += anchor.outputs[0].shape[1] * wgt if len(anchor.outputs[0].shape) > 1 \
                else anchor.outputs[0].shape[-1] * wgt
        rows.append((
            anchor.module,
            anchor.module_type,
            anchor.kind,
            "+".join(o.aten for o in layer.ops),
            sum(o.macs for o in layer.ops),
            sum(trace.params[p][1] for p in new_params),
            wbytes,
            sum(_ref_bytes(r, act) for r in inputs.values()),
            sum(_ref_bytes(r, act) for r in outputs),
            _shape_str(inputs.values()),
            _shape_str(outputs),
        ))
    cols = ["name", "module_type", "op", "ops", "macs", "params", "weight_bytes",
            "input_bytes", "output_bytes", "input_shape", "output_shape"]
    df = pd.DataFrame.from_records(rows, columns=cols)
    for col in ("macs", "params"):
        # int64 while every sum fits; beyond it float64, so a count never wraps negative
        exact = sum(int(v) for v in df[col]) <= _INT64_MAX
        df[col] = df[col].astype("int64" if exact else "float64")
    for col in ("weight_bytes", "input_bytes", "output_bytes"):
        if df[col].dtype == object:  # a count beyond int64: float64, never a wrapped int
            df[col] = df[col].astype("float64")
    df["bytes"] = df["weight_bytes"] + df["input_bytes"] + df["output_bytes"]
    df["intensity"] = np.divide(df["macs"], df["bytes"], out=np.zeros(len(df)),
                                where=df["bytes"].to_numpy() > 0)
    return df[COLUMNS]

"""Deployed graphs (.tflite, .onnx) as op records, and their layer table.

A deployed file is already the graph its runtime executes: its ops are the runtime's layers
(a TFLite CONV_2D with a fused RELU6 is one layer), and its tensors have their real dtypes
(int8 activations, int8 weights, int32 biases, float islands in float32). The readers
(``tflite.py``, ``onnx.py``) describe a file as :class:`Node` and :class:`TensorInfo` specs;
:func:`build_trace` turns those into the same :class:`~roofline.records.Trace` the torch
tracer produces, and :func:`deployed_layer_table` into the layer table, one row per op.

Counting semantics (in addition to the torch tracer's, ``ops.py``):

* Bytes are the tensors' own: ``numel x itemsize`` of each tensor's dtype, never resized to
  an analysis dtype. Weights are constant tensors (TFLite buffers with data, ONNX
  initializers and ``Constant`` outputs), and tensors computed from constants only, which
  the runtimes fold when the model is loaded (TFLite's DEQUANTIZE of fp16 weights, ONNX
  constant folding): such an op is not a layer, and its readers read its output as a weight
  at the output's dtype.
* Small integer constants other than biases (shapes, axes, permutations, paddings: int32 or
  int64, at most 16 elements) are static operands the runtime reads when it
  prepares the op: no bytes, no parameters. Biases are always counted.
* Reshape-like ops (TFLite RESHAPE, SQUEEZE, EXPAND_DIMS; ONNX Reshape, Flatten, Squeeze,
  Unsqueeze, Identity, Dropout) are views: LiteRT runs them in place on the input's buffer
  and XNNPACK elides them, so they move no bytes and are not layers, as torch views are not.
* A layer's input bytes are the distinct activation tensors it reads, its output bytes the
  tensors it writes that another layer or the caller reads (the first output when nothing
  reads any).

Per layer, besides the torch layer table's columns: ``index`` (the op's position in the
file), ``act_dtype`` (dtype of the tensor the op writes), ``partition`` (the delegate
partition that runs it, numbered in execution order; empty when it runs outside any),
``delegated`` and ``float_island`` (the op computes in floating point in a graph that has
quantised activations; QUANTIZE/DEQUANTIZE themselves are the island's boundaries, kind
``quantize``).
"""

from __future__ import annotations

import importlib
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roofline.dtypes import TORCH_ITEMSIZE
from roofline.errors import InputError
from roofline.graph.layers import COLUMNS
from roofline.graph.records import OpRecord, Ref, Trace

__all__ = [
    "DEPLOYED_SUFFIXES", "DEPLOYED_COLUMNS", "TensorInfo", "Node", "DeployedGraph",
    "is_deployed", "build_trace", "deployed_layer_table", "require",
]

#: file suffixes read as deployed graphs, and the reader of each
DEPLOYED_SUFFIXES = {".tflite": "tflite", ".onnx": "onnx"}

#: the columns a deployed layer table has beyond the torch layer table's
DEPLOYED_COLUMNS = ["index", "act_dtype", "partition", "delegated", "float_island"]

_FLOAT = frozenset({"float32", "float16", "bfloat16", "float64"})
_QUANT = frozenset({"int8", "uint8", "int16", "int4", "uint4"})
_STATIC_MAX = 16


def require(module: str, what: str) -> Any:
    """Import an optional package, or an InputError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"{what} needs the '{module}' package: pip install 'roofline[runtimes]'") from None


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a deployed graph, as its file declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: str            # numpy-style name: float32, int8, uint8, int32, ...
    const: bool = False   # a constant with data in the file (a weight)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass
class Node:
    """One op of a deployed graph: what it is, what it reads and writes, its MACs."""

    index: int
    op: str                       # the file's op name: CONV_2D, Conv, QLinearConv, ...
    kind: str                     # conv2d, dwconv2d, linear, matmul, elementwise, ...
    inputs: list[int]             # tensor ids (absent optional operands left out)
    outputs: list[int]
    macs: int = 0
    known: bool = True
    role: str = "compute"         # compute | view
    name: str = ""                # the op's name (or its first output's)
    fused: str = ""               # fused activation: RELU6, ...
    bias_inputs: tuple[int, ...] = ()  # positions in ``inputs`` that hold a bias


@dataclass
class DeployedGraph:
    """A deployed file read into op records, with the per-op facts of its runtime."""

    path: Path
    format: str                          # tflite | onnx
    trace: Trace
    extra: dict[int, dict[str, Any]]     # op index -> DEPLOYED_COLUMNS values (index aside)
    dtype: str                           # analysis label: int8 | fp16 | fp32 (MAC ops' input)
    weight_dtype: str                    # the MAC ops' weights
    notes: list[str] = field(default_factory=list)


def is_deployed(model: Any) -> bool:
    """Whether ``model`` names a deployed file (by suffix: .tflite, .onnx)."""
    return isinstance(model, (str, Path)) and Path(model).suffix.lower() in DEPLOYED_SUFFIXES


def _is_static(t: TensorInfo) -> bool:
    return t.const and t.dtype in ("int32", "int64") and t.numel <= _STATIC_MAX


def build_trace(model: str, tensors: list[TensorInfo], nodes: list[Node],
                graph_inputs: list[int], graph_outputs: list[int],
                meta: dict[str, Any] | None = None) -> Trace:
    """Op records of a deployed graph (nodes in execution order).

    A view aliases its input (role ``view``); an op that reads only constants is folded
    (role ``const``) and its outputs become weights; every other op is a layer (``compute``).
    """
    value_of: dict[int, int] = {}
    weight: dict[int, bool] = {}
    params_of: dict[int, tuple[int, ...]] = {}
    params: list[tuple[str, int]] = []
    counter = itertools.count()

    def ref(tid: int) -> Ref:
        t = tensors[tid]
        if tid not in value_of:
            value_of[tid] = next(counter)
            weight[tid] = t.const
            params_of[tid] = ()
        return Ref(value_of[tid], t.shape, t.dtype, t.numel, 0, weight[tid], params_of[tid])

    def param(tid: int) -> None:
        if weight.get(tid) and not params_of[tid]:
            params.append((tensors[tid].name, tensors[tid].numel))
            params_of[tid] = (len(params) - 1,)

    inputs = tuple(ref(t) for t in graph_inputs)
    ops: list[OpRecord] = []
    for n in nodes:
        for t in n.inputs:
            ref(t)
        data = [t for t in n.inputs if not weight[t]]
        if n.role == "view" and data:
            # an alias of the input: same value, new shape
            src = data[0]
            for t in n.outputs:
                value_of[t], weight[t], params_of[t] = value_of[src], False, params_of[src]
            refs_in = tuple(ref(t) for t in n.inputs)
            ops.append(OpRecord(n.index, n.op, n.kind, "view", n.name, n.op, 0, refs_in,
                                tuple(ref(t) for t in n.outputs), n.known))
            continue
        folded = bool(n.inputs) and not data or n.role == "const"
        keep = [i for i, t in enumerate(n.inputs)
                if i in n.bias_inputs or not _is_static(tensors[t])]
        if not folded:
            for i in keep:
                param(n.inputs[i])
        refs_in = tuple(ref(n.inputs[i]) for i in keep)
        if folded:
            # computed from constants: folded when the model is loaded; its output is a weight
            derived = tuple(sorted({p for r in refs_in for p in r.params}))
            for t in n.outputs:
                value_of[t], weight[t], params_of[t] = next(counter), True, derived
            ops.append(OpRecord(n.index, n.op, n.kind, "const", n.name, n.op, 0, refs_in,
                                tuple(ref(t) for t in n.outputs), n.known))
            continue
        ops.append(OpRecord(n.index, n.op, n.kind, "compute", n.name, n.op, int(n.macs),
                            refs_in, tuple(ref(t) for t in n.outputs), n.known))
    outputs = tuple(ref(t) for t in graph_outputs)
    return Trace(model, inputs, outputs, ops, params, 0, dict(meta or {}))


def float_islands(trace: Trace) -> dict[int, bool]:
    """Op index -> whether it computes in float inside a graph with quantised activations."""
    compute = [o for o in trace.ops if o.role == "compute"]
    quantised = any(r.dtype in _QUANT for o in compute for r in (*o.inputs, *o.outputs)
                    if not r.weight)
    out = {}
    for o in compute:
        acts = [r for r in (*o.inputs, *o.outputs)
                if not r.weight and r.dtype not in ("int32", "int64", "bool")]
        out[o.index] = (quantised and o.kind != "quantize" and bool(acts)
                        and all(r.dtype in _FLOAT for r in acts))
    return out


def dominant_dtypes(trace: Trace) -> tuple[str, str]:
    """(activation, weight) dtype labels of a deployed graph: those of its contractions'
    first input and weights, weighted by MACs (fp32 for a graph without contractions)."""
    act: Counter[str] = Counter()
    wgt: Counter[str] = Counter()
    for o in trace.ops:
        if o.role != "compute" or not o.macs or not o.inputs:
            continue
        act[o.inputs[0].dtype] += o.macs
        ws = [r for r in o.inputs[1:] if r.weight]
        wgt[(ws[0] if ws else o.inputs[-1]).dtype] += o.macs
    label = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "int8": "int8",
             "uint8": "int8", "int16": "int8", "float64": "fp32"}
    a = label.get(act.most_common(1)[0][0], "fp32") if act else "fp32"
    w = label.get(wgt.most_common(1)[0][0], a) if wgt else a
    return a, w


def _bytes(refs: Any) -> int:
    return int(sum(r.numel * TORCH_ITEMSIZE.get(r.dtype, 4) for r in refs))


def _shape_str(refs: Any) -> str:
    return ",".join("x".join(map(str, r.shape)) for r in refs)


def deployed_layer_table(g: DeployedGraph) -> pd.DataFrame:
    """One row per op the runtime executes: the torch layer table's columns, then
    :data:`DEPLOYED_COLUMNS`; bytes at each tensor's own dtype."""
    tr = g.trace
    compute = [o for o in tr.ops if o.role == "compute"]
    readers: dict[int, set[int]] = defaultdict(set)
    for o in compute:
        for r in o.inputs:
            if not r.weight:
                readers[r.value].add(o.index)
    model_outputs = {r.value for r in tr.outputs}
    counted: set[int] = set()
    rows = []
    for o in compute:
        weights = {(r.value, r.shape): r for r in o.inputs if r.weight}
        acts = {(r.value, r.shape): r for r in o.inputs if not r.weight}
        outs = [r for r in o.outputs
                if r.value in model_outputs or readers[r.value] - {o.index}]
        if not outs and o.outputs:
            outs = [o.outputs[0]]
        new = {p for r in weights.values() for p in r.params} - counted
        counted |= new
        x = g.extra.get(o.index, {})
        rows.append((
            o.module, o.module_type, o.kind, x.get("ops", o.aten), o.macs,
            sum(tr.params[p][1] for p in new), _bytes(weights.values()), _bytes(acts.values()),
            _bytes(outs), _shape_str(acts.values()), _shape_str(outs),
            o.index, o.outputs[0].dtype if o.outputs else "", x.get("partition"),
            bool(x.get("delegated", False)), bool(x.get("float_island", False)),
        ))
    cols = ["name", "module_type", "op", "ops", "macs", "params", "weight_bytes",
            "input_bytes", "output_bytes", "input_shape", "output_shape", *DEPLOYED_COLUMNS]
    df = pd.DataFrame.from_records(rows, columns=cols)
    for c in ("macs", "params", "index"):
        df[c] = df[c].astype("int64")
    for c in ("weight_bytes", "input_bytes", "output_bytes"):
        df[c] = df[c].astype(float)
    df["partition"] = df["partition"].astype("Int64")
    df["bytes"] = df["weight_bytes"] + df["input_bytes"] + df["output_bytes"]
    df["intensity"] = np.divide(df["macs"], df["bytes"], out=np.zeros(len(df)),
                                where=df["bytes"].to_numpy() > 0)
    return df[COLUMNS + DEPLOYED_COLUMNS]

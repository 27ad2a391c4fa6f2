"""A .tflite file as op records: one layer per op of the file, as LiteRT runs it.

The file is parsed with the ``tflite`` package (the flatbuffer schema classes generated from
TensorFlow Lite's schema); delegate partitions come from LiteRT's own interpreter
(``ai_edge_litert``), which applies the XNNPACK delegate as it does by default on a phone.

MACs by op (TFLite layouts: activations NHWC, weights as the schema stores them):

* CONV_2D: filter [C_out, KH, KW, C_in/groups]: output elements x KH x KW x (C_in/groups).
* DEPTHWISE_CONV_2D: filter [1, KH, KW, C_in x multiplier]: output elements x KH x KW.
* TRANSPOSE_CONV: filter [C_out, KH, KW, C_in]: input elements x C_out x KH x KW.
* CONV_3D: filter [KD, KH, KW, C_in, C_out]: output elements x KD x KH x KW x C_in;
  CONV_3D_TRANSPOSE: filter [KD, KH, KW, C_out, C_in]: input elements x KD x KH x KW x C_out.
* FULLY_CONNECTED: weights [C_out, K]: output elements x K (with or without keep_num_dims).
* BATCH_MATMUL: output elements (batch dims broadcast) x K, K read from the left operand
  after adj_x.

A fused activation (CONV_2D with RELU6) is part of its op: the ``ops`` column says
``CONV_2D+RELU6``. Only subgraph 0 (the main graph) is read; ops that call other subgraphs
(WHILE, IF, CALL_ONCE) and custom ops are unsupported (bytes counted, MACs unknown).

Delegate partitions: after ``allocate_tensors`` the interpreter lists a DELEGATE node per
XNNPACK partition with the partition's boundary tensors (its inputs, its outputs), while the
ops it replaced stay listed. An op belongs to a partition when it is reached walking back
from the partition's output tensors through tensor producers without crossing the
partition's input tensors; this uses only the boundary the runtime reports, so it holds for
any partitioning. Ops no partition reaches run on LiteRT's built-in kernels.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from math import prod
from pathlib import Path
from typing import Any

from roofline.errors import InputError
from roofline.graph.deployed import (
    DeployedGraph,
    Node,
    TensorInfo,
    build_trace,
    dominant_dtypes,
    float_islands,
    require,
)

__all__ = ["read_tflite", "tflite_partitions", "OP_KINDS"]

_DTYPES = {
    "FLOAT32": "float32", "FLOAT16": "float16", "FLOAT64": "float64", "BFLOAT16": "bfloat16",
    "INT8": "int8", "UINT8": "uint8", "INT16": "int16", "UINT16": "uint16", "INT32": "int32",
    "UINT32": "uint32", "INT64": "int64", "UINT64": "uint64", "BOOL": "bool",
    "COMPLEX64": "complex64", "COMPLEX128": "complex128", "INT4": "int4",
}

#: zero-MAC ops by kind (the contractions have formulas below)
OP_KINDS: dict[str, str] = {}
for _kind, _names in {
    "elementwise": "ADD SUB MUL DIV SQUARED_DIFFERENCE MAXIMUM MINIMUM POW RSQRT SQRT EXP LOG "
                   "ABS NEG FLOOR CEIL ROUND SQUARE FLOOR_DIV FLOOR_MOD LESS GREATER EQUAL "
                   "NOT_EQUAL LESS_EQUAL GREATER_EQUAL LOGICAL_AND LOGICAL_OR LOGICAL_NOT "
                   "SELECT SELECT_V2 SIN COS CAST SIGN ADD_N ZEROS_LIKE ONES_LIKE FILL "
                   "BITWISE_XOR RIGHT_SHIFT ATAN2",
    "activation": "RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LEAKY_RELU PRELU LOGISTIC TANH "
                  "HARD_SWISH GELU ELU",
    "softmax": "SOFTMAX LOG_SOFTMAX",
    "pool": "AVERAGE_POOL_2D MAX_POOL_2D L2_POOL_2D",
    "reduce": "MEAN SUM REDUCE_MAX REDUCE_MIN REDUCE_PROD REDUCE_ANY REDUCE_ALL ARG_MAX "
              "ARG_MIN CUMSUM TOPK_V2",
    "norm": "L2_NORMALIZATION LOCAL_RESPONSE_NORMALIZATION",
    "resize": "RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR",
    "concat": "CONCATENATION PACK",
    "pad": "PAD PADV2 MIRROR_PAD",
    "copy": "TRANSPOSE STRIDED_SLICE SLICE SPLIT SPLIT_V UNPACK TILE BROADCAST_TO "
            "DEPTH_TO_SPACE SPACE_TO_DEPTH REVERSE_V2 SPACE_TO_BATCH_ND BATCH_TO_SPACE_ND",
    "index": "GATHER GATHER_ND EMBEDDING_LOOKUP SCATTER_ND ONE_HOT",
    "quantize": "QUANTIZE DEQUANTIZE",
    "view": "RESHAPE SQUEEZE EXPAND_DIMS",
}.items():
    for _n in _names.split():
        OP_KINDS[_n] = _kind

_ACTIVATION = {0: "", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def _options(tfl: Any, op: Any, names: dict[int, str]) -> Any:
    """The op's builtin options object (None when it has none)."""
    kind = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    if not kind or table is None:
        return None
    cls = getattr(tfl, names.get(kind, ""), None)
    if cls is None:
        return None
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    return obj


def _macs(op: str, ins: list[TensorInfo], outs: list[TensorInfo],
          opts: Any) -> tuple[str, int] | None:
    """(kind, MACs) of a contraction op, or None for any other op."""
    out = outs[0] if outs else None
    if op == "CONV_2D":
        x, w = ins[0], ins[1]
        groups = x.shape[-1] // w.shape[-1] if w.shape[-1] else 1
        kind = "dwconv2d" if groups > 1 and groups == x.shape[-1] else "conv2d"
        return kind, out.numel * prod(w.shape[1:])
    if op == "DEPTHWISE_CONV_2D":
        w = ins[1]
        return "dwconv2d", out.numel * w.shape[1] * w.shape[2]
    if op == "TRANSPOSE_CONV":
        w, x = ins[1], ins[2]
        return "convtranspose2d", x.numel * w.shape[0] * w.shape[1] * w.shape[2]
    if op == "CONV_3D":
        w = ins[1]
        return "conv3d", out.numel * prod(w.shape[:4])
    if op == "CONV_3D_TRANSPOSE":
        w, x = ins[1], ins[2]
        return "convtranspose3d", x.numel * prod(w.shape[:4])
    if op == "FULLY_CONNECTED":
        x, w = ins[0], ins[1]
        return ("linear" if w.const else "matmul"), out.numel * w.shape[-1]
    if op == "BATCH_MATMUL":
        x, y = ins[0], ins[1]
        adj_x = bool(opts.AdjX()) if opts is not None else False
        k = x.shape[-2] if adj_x else x.shape[-1]
        return ("linear" if y.const else "matmul"), out.numel * k
    return None


_BIAS = {"CONV_2D": (2,), "DEPTHWISE_CONV_2D": (2,), "FULLY_CONNECTED": (2,),
         "TRANSPOSE_CONV": (3,), "CONV_3D": (2,), "CONV_3D_TRANSPOSE": (3,)}


def read_tflite(path: str | Path) -> DeployedGraph:
    """Read a .tflite file (InputError for a file that is not a readable TFLite model)."""
    p = Path(path)
    tfl = require("tflite", f"reading {p.name}")
    buf = p.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise InputError(f"{p}: not a TFLite model (no TFL3 flatbuffer identifier); expected "
                         f"a .tflite file written by a TFLite converter")
    try:
        tensors, nodes, g_in, g_out = _parse(tfl, buf)
    except InputError:
        raise
    except Exception as e:  # a truncated or corrupt flatbuffer fails anywhere inside
        raise InputError(f"{p}: corrupt or truncated TFLite flatbuffer ({_first_line(e)}); "
                         f"expected a complete .tflite file") from None
    partitions = tflite_partitions(p, buf, len(nodes), nodes)
    trace = build_trace(p.name, tensors, nodes, g_in, g_out,
                           {"format": "tflite", "path": str(p)})
    islands = float_islands(trace)
    extra = {}
    for n in nodes:
        part = partitions.get(n.index)
        extra[n.index] = {
            "ops": n.op + (f"+{n.fused}" if n.fused else ""),
            "partition": part, "delegated": part is not None,
            "float_island": islands.get(n.index, False),
        }
    dtype, wdtype = dominant_dtypes(trace)
    n_parts = len({v for v in partitions.values()})
    notes = [f"{p.name}: {len(nodes)} ops, {n_parts} XNNPACK delegate partition"
             f"{'' if n_parts == 1 else 's'}; bytes at each tensor's own dtype"]
    return DeployedGraph(p, "tflite", trace, extra, dtype, wdtype, notes)


def _parse(tfl: Any, buf: bytes) -> tuple[list[TensorInfo], list[Node], list[int], list[int]]:
    model = tfl.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() < 1:
        raise InputError("the model has no subgraph")
    sg = model.Subgraphs(0)
    op_names = _enum_names(tfl.BuiltinOperator)
    type_names = _enum_names(tfl.TensorType)
    opt_names = _enum_names(tfl.BuiltinOptions)
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        b = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        const = b is not None and (b.DataLength() > 0 or b.Offset() > 1)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        name = (t.Name() or b"").decode("utf-8", "replace")
        tensors.append(TensorInfo(name, shape, _DTYPES.get(type_names.get(t.Type(), ""), "?"),
                                  const))
    nodes = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = op_names.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            name = "CUSTOM:" + (code.CustomCode() or b"?").decode("utf-8", "replace")
        ins = [int(t) for t in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(t) for t in op.OutputsAsNumpy()] if op.OutputsLength() else []
        present = [t for t in ins if t >= 0]
        opts = _options(tfl, op, opt_names)
        fused = ""
        if opts is not None and hasattr(opts, "FusedActivationFunction"):
            fused = _ACTIVATION.get(opts.FusedActivationFunction(), "")
        mk = _macs(name, [tensors[t] if t >= 0 else TensorInfo("", (), "?") for t in ins],
                   [tensors[t] for t in outs], opts)
        if mk is not None:
            kind, macs, known = mk[0], mk[1], True
        else:
            kind, macs = OP_KINDS.get(name, "unknown"), 0
            known = kind != "unknown"
        bias = tuple(present.index(ins[j]) for j in _BIAS.get(name, ())
                     if j < len(ins) and ins[j] >= 0)
        label = _module_path(tensors[outs[0]].name) if outs else ""
        nodes.append(Node(i, name, "copy" if kind == "view" else kind, present, outs, macs,
                          known, "view" if kind == "view" else "compute",
                          label or f"{name.lower()}_{i}", fused, bias))
    g_in = [int(t) for t in sg.InputsAsNumpy()] if sg.InputsLength() else []
    g_out = [int(t) for t in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
    return tensors, nodes, g_in, g_out


def _first_line(e: Exception, limit: int = 120) -> str:
    """The start of an exception's message, on one line."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _module_path(tensor: str) -> str:
    """The torch module path in a litert-torch tensor name, '' when there is none.

    ``timm.models.mobilenetv3.MobileNetV3/torch.nn.modules.container.Sequential_blocks/
    timm.models._efficientnet_blocks.InvertedResidual_1/torch.nn.modules.conv.Conv2d_conv_pw;1``
    -> ``blocks.1.conv_pw`` (each component is ``qualified.Class_attribute``).
    """
    paths = [t for t in tensor.split(";") if "/" in t and "<locals>" not in t]
    if not paths:
        return ""
    first = paths[-1]  # fused ops list their sources; the contraction comes last
    parts = []
    for comp in first.split("/")[1:]:
        cls_attr = comp.rsplit(".", 1)[-1]
        if "_" in cls_attr:
            parts.append(cls_attr.split("_", 1)[1])
    return ".".join(parts)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the interpreter's C++ log lines ("Created TensorFlow Lite XNNPACK delegate")."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


def tflite_partitions(path: Path, buf: bytes, n_ops: int, nodes: list[Node]) -> dict[int, int]:
    """Op index -> XNNPACK partition (0, 1, ... in execution order) for delegated ops."""
    litert = require("ai_edge_litert.interpreter", f"reading {path.name}")
    try:
        with _quiet_stderr():
            it = litert.Interpreter(model_content=buf, num_threads=1)
            it.allocate_tensors()
            details = it._get_ops_details()  # the only listing of the delegated graph
    except Exception as e:
        text = " ".join(str(e).split())
        bad = re.search(r"Node number (\d+) \((\w+)\) failed", text)
        op = f": op {bad.group(1)} ({bad.group(2)}) cannot run" if bad else ""
        raise InputError(f"{path}: LiteRT cannot load this model{op} ({_first_line(e)}); "
                         f"expected a .tflite file its interpreter runs") from None
    producer = {t: n.index for n in nodes for t in n.outputs}
    inputs_of = {n.index: n.inputs for n in nodes}
    part: dict[int, int] = {}
    delegates = [d for d in details if d["op_name"] == "DELEGATE" and d["index"] >= n_ops]
    for k, d in enumerate(delegates):
        boundary = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        seen: set[int] = set()
        while stack:
            t = stack.pop()
            if t in seen or t in boundary or t not in producer:
                continue
            seen.add(t)
            op = producer[t]
            if op in part:
                continue
            part[op] = k
            stack.extend(inputs_of[op])
    return part

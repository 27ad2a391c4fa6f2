"""A .onnx file as op records: one layer per node, as ONNX Runtime runs it.

Read with ``onnx`` and completed with ``onnx.shape_inference.infer_shapes`` (every tensor's
shape and dtype); no protobuf is parsed by hand. Initializers and ``Constant`` outputs are
weights; a node whose inputs are all constants is folded at load time, as ONNX Runtime
does, and its readers read the result as a weight.

MACs by op (NCHW layouts, as ONNX defines them):

* Conv, ConvInteger, QLinearConv, FusedConv: weight [M, C/group, k...]: output elements x
  C/group x prod(k). The group count comes from the weight shape, so a depthwise conv cannot
  be miscounted. ConvTranspose: weight [C, M/group, k...]: input elements x M/group x prod(k).
* MatMul, MatMulInteger, QLinearMatMul, FusedMatMul: output elements (batch dims broadcast)
  x K. Gemm, QGemm: output elements x K, K after transA.
* Attention (opset 23): batch x query heads x Lq x Lk x (d_qk + d_v). Einsum: the product of
  every index size of a two-operand contraction.

Quantised QDQ graphs (QuantizeLinear/DequantizeLinear pairs around float ops, as
``onnxruntime.quantization.quantize_static`` writes them): ONNX Runtime fuses DQ -> op -> Q
into one quantised kernel (QLinearConv, QLinearMatMul, QLinearAdd, ...) when the op has a
QDQ kernel on its CPU provider and every data input comes from a DequantizeLinear and every
output goes to a QuantizeLinear only. We apply the same rule before counting: such an op
reads the quantised tensors (int8/uint8 activations and weights, int32 bias) and writes the
quantised output; the DQ and Q nodes it absorbs are not layers (``ops`` reads
``DQ+Conv+Q``). A DQ/Q that also feeds or follows an op ONNX Runtime runs in float stays a
layer: it is the boundary of a float island. Quantisation scales and zero points are not
counted. ONNX Runtime's other load-time fusions (Conv+Relu into FusedConv, ...) are not
applied: one node of the file is one layer.
"""

from __future__ import annotations

from dataclasses import replace
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

__all__ = ["read_onnx", "OP_KINDS", "QDQ_FUSABLE"]

#: zero-MAC ops by kind (contractions have formulas below)
OP_KINDS: dict[str, str] = {}
for _kind, _names in {
    "elementwise": "Add Sub Mul Div Pow Sqrt Reciprocal Exp Log Abs Neg Floor Ceil Round Max "
                   "Min Sum Mean Where Equal Less Greater LessOrEqual GreaterOrEqual And Or Not "
                   "Xor Cast CastLike Erf Sin Cos Tan Sign Mod BitShift IsNaN IsInf "
                   "QLinearAdd QLinearMul BiasAdd",
    "activation": "Relu LeakyRelu PRelu Sigmoid HardSigmoid HardSwish Tanh Gelu Elu Selu Celu "
                  "Softplus Softsign Mish Clip ThresholdedRelu QuickGelu FastGelu BiasGelu "
                  "QLinearSigmoid QLinearLeakyRelu",
    "softmax": "Softmax LogSoftmax QLinearSoftmax",
    "norm": "BatchNormalization LayerNormalization InstanceNormalization GroupNormalization "
            "LpNormalization RMSNormalization SimplifiedLayerNormalization "
            "SkipLayerNormalization SkipSimplifiedLayerNormalization",
    "pool": "AveragePool MaxPool GlobalAveragePool GlobalMaxPool LpPool QLinearAveragePool "
            "QLinearGlobalAveragePool NhwcMaxPool",
    "reduce": "ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 "
              "ReduceLogSum ReduceLogSumExp ReduceSumSquare ArgMax ArgMin CumSum TopK",
    "resize": "Resize Upsample GridSample",
    "concat": "Concat QLinearConcat",
    "pad": "Pad",
    "copy": "Transpose Slice Split Tile Expand DepthToSpace SpaceToDepth ReverseSequence "
            "Trilu",
    "index": "Gather GatherElements GatherND ScatterND ScatterElements OneHot NonZero",
    "quantize": "QuantizeLinear DequantizeLinear DynamicQuantizeLinear",
    "view": "Reshape Flatten Squeeze Unsqueeze Identity Dropout",
    "const": "Constant Shape Size ConstantOfShape Range EyeLike",
}.items():
    for _n in _names.split():
        OP_KINDS[_n] = _kind

#: ops ONNX Runtime's CPU provider runs quantised when wrapped in DQ -> op -> Q
QDQ_FUSABLE = frozenset(
    "Conv ConvTranspose MatMul Gemm Add Mul Concat AveragePool GlobalAveragePool MaxPool "
    "LeakyRelu Sigmoid Softmax Tanh Gather GatherElements Reshape Flatten Transpose Resize "
    "Squeeze Unsqueeze Slice Tile Expand DepthToSpace SpaceToDepth Where Split Pad".split())

_DTYPES = {
    "FLOAT": "float32", "FLOAT16": "float16", "BFLOAT16": "bfloat16", "DOUBLE": "float64",
    "INT8": "int8", "UINT8": "uint8", "INT16": "int16", "UINT16": "uint16", "INT32": "int32",
    "UINT32": "uint32", "INT64": "int64", "UINT64": "uint64", "BOOL": "bool",
    "INT4": "int4", "UINT4": "uint4", "FLOAT8E4M3FN": "float8_e4m3fn",
    "FLOAT8E5M2": "float8_e5m2", "COMPLEX64": "complex64", "COMPLEX128": "complex128",
}

# (data operand, weight operand, bias operand) positions of the contractions
_CONV = {"Conv": (0, 1, 2), "ConvInteger": (0, 1, None), "QLinearConv": (0, 3, 8),
         "FusedConv": (0, 1, 2), "NhwcFusedConv": (0, 1, 2)}
_MATMUL = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3),
           "FusedMatMul": (0, 1), "MatMulIntegerToFloat": (0, 1)}
_GEMM = {"Gemm": (0, 1, 2), "QGemm": (0, 3, 6)}
# positions of quantisation scales and zero points (not counted: see the module docstring)
_QPARAMS = {
    "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2), "QLinearConv": (1, 2, 4, 5, 6, 7),
    "QLinearMatMul": (1, 2, 4, 5, 6, 7), "QGemm": (1, 2, 4, 5, 7, 8), "ConvInteger": (2, 3),
    "MatMulInteger": (2, 3), "MatMulIntegerToFloat": (2, 3, 4, 5),
    "QLinearAdd": (1, 2, 4, 5, 6, 7), "QLinearMul": (1, 2, 4, 5, 6, 7),
    "QLinearSigmoid": (1, 2, 3, 4), "QLinearLeakyRelu": (1, 2, 3, 4),
    "QLinearSoftmax": (1, 2, 3, 4), "QLinearAveragePool": (1, 2, 3, 4),
    "QLinearGlobalAveragePool": (1, 2, 3, 4), "DynamicQuantizeLinear": (),
}


def _attr(node: Any, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            import onnx  # deferred: heavy import
            return onnx.helper.get_attribute_value(a)
    return default


def _macs(node: Any, ins: list[str],
          t: dict[str, TensorInfo]) -> tuple[str, int, tuple[int, ...]] | None:
    """(kind, MACs, bias positions) of a contraction node, or None for any other node."""
    op = node.op_type
    out = t[node.output[0]]

    def get(i: int | None) -> TensorInfo | None:
        return t[ins[i]] if i is not None and i < len(ins) and ins[i] else None

    if op in _CONV:
        xi, wi, bi = _CONV[op]
        x, w = get(xi), get(wi)
        d = max(len(w.shape) - 2, 1)
        groups = x.shape[1] // w.shape[1] if w.shape[1] else 1
        kind = f"dwconv{d}d" if groups > 1 and groups == x.shape[1] else f"conv{d}d"
        return kind, out.numel * prod(w.shape[1:]), _present(ins, bi)
    if op == "ConvTranspose":
        x, w = get(0), get(1)
        d = max(len(w.shape) - 2, 1)
        return f"convtranspose{d}d", x.numel * prod(w.shape[1:]), _present(ins, 2)
    if op in _MATMUL:
        ai, bi = _MATMUL[op]
        a, b = get(ai), get(bi)
        trans_a = bool(_attr(node, "transA", 0))
        k = a.shape[-2] if trans_a and len(a.shape) > 1 else a.shape[-1]
        return ("linear" if b.const else "matmul"), out.numel * k, ()
    if op in _GEMM:
        ai, bi, ci = _GEMM[op]
        a, b = get(ai), get(bi)
        k = a.shape[0] if _attr(node, "transA", 0) else a.shape[-1]
        return ("linear" if b.const else "matmul"), out.numel * k, _present(ins, ci)
    if op == "Attention" and node.domain in ("", "ai.onnx"):
        q, k, v = get(0), get(1), get(2)
        if len(q.shape) == 4:
            b, hq, lq, dqk = q.shape
            lk, dv = k.shape[-2], v.shape[-1]
            return "attention", b * hq * lq * lk * (dqk + dv), ()
        hq = int(_attr(node, "q_num_heads", 1)) or 1
        hkv = int(_attr(node, "kv_num_heads", hq)) or hq
        b, lq, lk = q.shape[0], q.shape[1], k.shape[1]
        return "attention", b * lq * lk * (q.shape[-1] + v.shape[-1] * hq // hkv), ()
    if op == "Einsum":
        eq = _attr(node, "equation", b"")
        eq = eq.decode() if isinstance(eq, bytes) else str(eq)
        lhs = eq.replace(" ", "").split("->")[0].split(",")
        if len(lhs) != 2 or "." in eq:
            return None
        sizes: dict[str, int] = {}
        for term, name in zip(lhs, ins):
            for c, n in zip(term, t[name].shape):
                sizes[c] = max(sizes.get(c, 1), n)
        return "matmul", prod(sizes.values()), ()
    return None


def _layer_name(node: Any, ins: list[str], weights: set[str]) -> str:
    """A readable layer name: the module path of the weight ("blocks.0.conv_pw.weight"), or
    the torch exporter's name scope of the node, or the node's own name."""
    for t in ins[1:]:
        if t in weights and ".weight" in t:
            return t.split(".weight")[0]
    for p in node.metadata_props:
        if p.key == "pkg.torch.onnx.name_scopes":
            scopes = [s.strip(" '\"") for s in p.value.strip("[]").split(",")]
            if len(scopes) >= 2 and scopes[-2]:
                return scopes[-2]
    return node.name or (node.output[0] if node.output else node.op_type)


def _present(ins: list[str], i: int | None) -> tuple[int, ...]:
    """The position of operand ``i`` among the present (non-empty) inputs, if present."""
    if i is None or i >= len(ins) or not ins[i]:
        return ()
    return (sum(1 for x in ins[:i] if x),)


def read_onnx(path: str | Path) -> DeployedGraph:
    """Read a .onnx file (InputError for a file that is not a readable ONNX model)."""
    p = Path(path)
    onnx = require("onnx", f"reading {p.name}")
    try:
        model = onnx.load(str(p), load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as e:
        msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise InputError(f"{p}: not a readable ONNX model ({msg}); expected a complete .onnx "
                         f"file") from None
    notes = _fix_batch(model)
    try:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as e:
        msg = " ".join(str(e).split())[:160] or type(e).__name__
        raise InputError(f"{p}: ONNX shape inference failed ({msg}); expected a model whose "
                         f"shapes onnx can infer") from None
    g = _read(p, model, onnx)
    g.notes += notes
    return g


def _fix_batch(model: Any) -> list[str]:
    """Take a symbolic leading (batch) dimension of the graph inputs as 1, as analysed.

    Other symbolic dimensions stay unknown; a contraction that reads them is refused.
    """
    initializers = {i.name for i in model.graph.initializer}
    notes = []
    for vi in model.graph.input:
        if vi.name in initializers or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            name = dims[0].dim_param or "?"
            dims[0].dim_value = 1
            notes.append(f"input {vi.name!r}: symbolic batch dimension {name!r} taken as 1")
    if notes:  # stale inferred shapes would carry the symbol on
        del model.graph.value_info[:]
    return notes


def _tensor_infos(model: Any, onnx: Any, path: Path) -> dict[str, TensorInfo]:
    g = model.graph
    names = {v: k for k, v in onnx.TensorProto.DataType.items()}
    out: dict[str, TensorInfo] = {}
    for init in g.initializer:
        out[init.name] = TensorInfo(init.name, tuple(int(d) for d in init.dims),
                                    _DTYPES.get(names.get(init.data_type, ""), "?"), True)
    for vi in (*g.input, *g.value_info, *g.output):
        if vi.name in out or not vi.type.HasField("tensor_type"):
            continue
        tt = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim) \
            if tt.HasField("shape") else None
        out[vi.name] = TensorInfo(vi.name, dims if dims is not None else (-1,),
                                  _DTYPES.get(names.get(tt.elem_type, ""), "?"), False)
    for n in g.node:
        if n.op_type == "Constant" and n.output:
            v = n.attribute[0] if n.attribute else None
            if v is not None and v.type == onnx.AttributeProto.TENSOR:
                tp = v.t
                out[n.output[0]] = TensorInfo(n.output[0], tuple(int(d) for d in tp.dims),
                                              _DTYPES.get(names.get(tp.data_type, ""), "?"),
                                              True)
    return out


def _read(p: Path, model: Any, onnx: Any) -> DeployedGraph:
    g = model.graph
    infos = _tensor_infos(model, onnx, p)
    nodes_pb = list(g.node)
    producer = {o: i for i, n in enumerate(nodes_pb) for o in n.output if o}
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes_pb):
        for t in n.input:
            if t:
                consumers.setdefault(t, []).append(i)
    graph_outputs = {o.name for o in g.output}
    const = {k for k, v in infos.items() if v.const}
    for n in nodes_pb:  # constants propagate through nodes that read only constants
        if n.input and all(t in const for t in n.input if t) or \
                OP_KINDS.get(n.op_type) == "const" and n.op_type != "ConstantOfShape":
            const.update(o for o in n.output if o)

    def is_dq(t: str) -> bool:
        return t in producer and nodes_pb[producer[t]].op_type == "DequantizeLinear"

    def is_static(t: str) -> bool:
        info = infos.get(t)
        return info is not None and t in const and info.dtype in ("int32", "int64") \
            and info.numel <= 16

    # QDQ: which nodes run as one quantised kernel, which DQ/Q nodes they absorb
    wrapped: set[int] = set()
    for i, n in enumerate(nodes_pb):
        if n.op_type not in QDQ_FUSABLE or n.domain not in ("", "ai.onnx"):
            continue
        data = [t for t in n.input if t and not is_static(t)]
        if not data or not all(is_dq(t) for t in data):
            continue
        outs = [o for o in n.output if o]
        if all(o not in graph_outputs and len(consumers.get(o, [])) == 1
               and nodes_pb[consumers[o][0]].op_type == "QuantizeLinear" for o in outs):
            wrapped.add(i)
    rename: dict[str, str] = {}
    dropped: set[int] = set()
    for i, n in enumerate(nodes_pb):
        if n.op_type == "DequantizeLinear" and n.output[0] not in graph_outputs \
                and consumers.get(n.output[0]) \
                and all(c in wrapped for c in consumers[n.output[0]]):
            dropped.add(i)
        if n.op_type == "QuantizeLinear" and producer.get(n.input[0]) in wrapped:
            dropped.add(i)
            rename[n.input[0]] = n.output[0]

    def src(t: str, reader: int) -> str:
        if reader in wrapped and is_dq(t):
            return nodes_pb[producer[t]].input[0]
        return t

    tid: dict[str, int] = {}
    tensors: list[TensorInfo] = []

    def index(name: str, node: Any = None) -> int:
        if name not in tid:
            info = infos.get(name)
            if info is None or -1 in info.shape:
                where = f" (read by {node.op_type} {node.name!r})" if node is not None else ""
                raise InputError(f"{p}: shape inference left the shape of {name!r} unknown"
                                 f"{where}; expected an ONNX model with static shapes")
            tensors.append(TensorInfo(name, info.shape, info.dtype, name in const))
            tid[name] = len(tensors) - 1
        return tid[name]

    nodes: list[Node] = []
    extra_ops: dict[int, str] = {}
    for i, n in enumerate(nodes_pb):
        if i in dropped:
            continue
        qp = _QPARAMS.get(n.op_type, ())
        ins_names = ["" if j in qp else src(t, i) for j, t in enumerate(n.input)]
        outs_names = [rename.get(o, o) for o in n.output if o]
        mk = None
        kind = OP_KINDS.get(n.op_type, "unknown") if n.domain in ("", "ai.onnx",
                                                                   "com.microsoft") else "unknown"
        try:
            mk = _macs(n, ins_names, {t: replace(infos[t], const=t in const)
                                      for t in (*ins_names, *n.output) if t in infos})
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            if n.op_type in (*_CONV, "ConvTranspose", *_MATMUL, *_GEMM, "Attention"):
                raise InputError(f"{p}: shapes of {n.op_type} {n.name!r} are unknown after "
                                 f"shape inference; expected an ONNX model with static "
                                 f"shapes") from None
        if mk is not None:
            kind, macs, bias = mk
        else:
            macs, bias = 0, ()
        present = [t for t in ins_names if t]
        role = "view" if kind == "view" else "const" if kind == "const" else "compute"
        if role == "const":
            const.update(outs_names)
        node = Node(i, n.op_type, "copy" if kind == "view" else kind,
                    [index(t, n) for t in present], [index(o, n) for o in outs_names], macs,
                    kind != "unknown", role, _layer_name(n, ins_names, const), "", bias)
        nodes.append(node)
        if i in wrapped:
            extra_ops[i] = f"DQ+{n.op_type}+Q"
    g_in = [index(v.name) for v in g.input if v.name not in const]
    g_out = [index(rename.get(v.name, v.name)) for v in g.output]
    trace = build_trace(p.name, tensors, nodes, g_in, g_out,
                           {"format": "onnx", "path": str(p)})
    islands = float_islands(trace)
    extra = {n.index: {"ops": extra_ops.get(n.index, n.op), "partition": None,
                       "delegated": False, "float_island": islands.get(n.index, False)}
             for n in nodes}
    dtype, wdtype = dominant_dtypes(trace)
    notes = [f"{p.name}: {len(nodes_pb)} nodes, {len(wrapped)} run quantised (QDQ); bytes at "
             f"each tensor's own dtype"]
    return DeployedGraph(p, "onnx", trace, extra, dtype, wdtype, notes)

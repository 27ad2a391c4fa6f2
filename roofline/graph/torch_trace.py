"""nn.Module -> a list of op records, by running the model on the meta device.

The forward runs under ``torch.no_grad()`` inside a ``TorchDispatchMode`` that sees every
aten op after autograd has decomposed composite ops. Meta tensors carry shapes, strides and
dtypes but no data, so a model of a billion parameters at 8K resolution costs nothing.

What is recorded for each op: its name, the module path it ran under (innermost module,
from global forward hooks that are removed afterwards), its MACs and kind (``formulas.py``,
``kinds.py``), and every tensor operand it read and wrote as a :class:`Ref`: which tensor
*version* (so the layer builder can follow data flow, in-place writes into views included),
its shape and dtype, how many distinct elements the access touches (a broadcast view reads
its storage once, a gather reads the rows it picks), and whether it is a weight: a parameter,
a buffer, or anything computed from weights alone, which a deployed runtime constant-folds.
A tensor made in the forward (zeros, arange, randn) is an activation, not a weight: the
input may flow into it, and random values are new on every call.

Op roles: ``compute`` ops move bytes and become layers; ``view`` ops alias their input and
move nothing; ``const`` ops read only weights and are folded away; ``alloc`` ops allocate
without writing. ``scaled_dot_product_attention`` is recorded as one attention op, whatever
kernel (or math decomposition) runs underneath.

The user's model and inputs are never mutated (``torch_inputs.py``): no hooks, buffers or
attributes are left on it, its train/eval flags and every module attribute are restored,
a model with real weights is run through ``torch.func.functional_call`` with meta stand-ins
for its parameters, and objects holding tensors are traced as copies.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from roofline.errors import InputError, RooflineError, TraceError
from roofline.graph import formulas as ops
from roofline.graph import kinds
from roofline.graph.records import OpRecord, Ref, Trace
from roofline.graph.torch_inputs import (
    InputSpec,
    MetaCopier,
    ModuleState,
    make_args,
    meta_call,
    storage_key,
)

__all__ = ["Ref", "OpRecord", "Trace", "trace"]


# --------------------------------------------------------------------------- recording

_SDPA = torch.nn.functional.scaled_dot_product_attention
_DTYPE_NAMES: dict[torch.dtype, str] = {}


def _dtype_name(dt: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dt)
    if name is None:
        name = _DTYPE_NAMES[dt] = str(dt).removeprefix("torch.")
    return name


def _distinct_numel(t: torch.Tensor) -> int:
    """Elements a read of ``t`` touches: broadcast (stride-0) dims count once."""
    try:
        n = 1
        for size, stride in zip(t.shape, t.stride()):
            if size == 0:
                return 0
            if stride != 0:
                n *= size
        return n
    except (RuntimeError, NotImplementedError):  # sparse / nested tensors have no strides
        return t.numel()


def _offset(t: torch.Tensor) -> int:
    try:
        return t.storage_offset()
    except (RuntimeError, NotImplementedError):
        return 0


def _tensors(tree: Any) -> list[torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, (list, tuple)):
        found = []
        for x in tree:
            if isinstance(x, torch.Tensor):
                found.append(x)
            elif isinstance(x, (list, tuple)):
                found.extend(t for t in x if isinstance(t, torch.Tensor))
        return found
    return []


# ops that read only the rows/elements they gather from their first operand
_ROW_GATHERS = frozenset({"embedding", "embedding_bag", "_embedding_bag",
                          "_embedding_bag_forward_only"})
_GATHERS = _ROW_GATHERS | {"index_select", "gather", "index", "take", "take_along_dim",
                           "_unsafe_index"}


def _gathered(name: str, src: Ref, args: tuple, out_list: list[torch.Tensor]) -> Ref:
    """The source operand of a gather as it is read: the rows (or elements) it picks, at
    most all of them, not the whole table (16 ids from a 50257x768 table read 16 rows)."""
    shape = src.shape
    if name in _ROW_GATHERS and len(args) > 1 and isinstance(args[1], torch.Tensor) \
            and len(shape) >= 1:
        row = math.prod(shape[1:])
        numel = min(shape[0], args[1].numel()) * row
    elif name == "index_select" and len(args) > 2 and isinstance(args[2], torch.Tensor) \
            and shape:
        dim = int(args[1]) % len(shape)
        numel = src.numel // max(shape[dim], 1) * min(shape[dim], args[2].numel())
    elif out_list:
        numel = out_list[0].numel()
    else:
        return src
    return replace(src, numel=min(src.numel, numel))


# in-place ops that write the rows (elements) they scatter into their first operand
_SCATTERS = frozenset({"index_copy", "index_add", "index_put", "_index_put_impl", "scatter",
                       "scatter_add", "scatter_reduce"})


def _scattered(name: str, args: tuple, kwargs: dict) -> int | None:
    """Elements an in-place scatter writes (None where it cannot be told from shapes)."""
    def numel(i: int) -> int | None:
        t = args[i] if len(args) > i else None
        return t.numel() if isinstance(t, torch.Tensor) else None

    if name in ("index_copy", "index_add"):
        return numel(3)                    # (self, dim, index, source)
    if name in ("index_put", "_index_put_impl"):
        n = numel(2)                       # (self, indices, values): a scalar fill of a mask
        return n if n is not None and n > 1 else None   # writes an unknown count
    n = numel(3) if len(args) > 3 else None   # scatter(self, dim, index, src)
    return n if n is not None else numel(2)   # scatter(self, dim, index, value): per index


def _accumulates(name: str, args: tuple, kwargs: dict) -> bool:
    if name in ("index_add", "scatter_add", "scatter_reduce"):
        return True
    if name in ("index_put", "_index_put_impl"):
        return bool(args[3] if len(args) > 3 else kwargs.get("accumulate", False))
    return name == "scatter" and kwargs.get("reduce") is not None


@dataclass(slots=True)
class _Info:
    value: int
    weight: bool
    params: tuple[int, ...]


@dataclass(slots=True)
class _OpStatic:
    aten: str
    view: bool
    pointwise: bool
    role_hint: str   # '', 'alloc', 'factory', 'metadata'
    write_only_self: bool


class _Recorder:
    """Shared state of the dispatch and function modes for one trace."""

    def __init__(self) -> None:
        self.ops: list[OpRecord] = []
        self.info: dict[int, _Info] = {}
        self.keep: list[torch.Tensor] = []   # strong refs: ids stay unique during the trace
        self.values = itertools.count()
        self.stack: list[tuple[str, str]] = [("", "")]
        self.last_entered = ""   # where a failing forward most likely failed
        self.suppress = 0
        self.static: dict[Any, _OpStatic] = {}

    # ---- tensors

    def register(self, t: torch.Tensor, weight: bool, params: tuple[int, ...] = ()) -> _Info:
        info = _Info(next(self.values), weight, params)
        self.info[id(t)] = info
        self.keep.append(t)
        return info

    def write(self, t: torch.Tensor, weight: bool, params: tuple[int, ...] = ()) -> _Info:
        """A new version of ``t``. A tensor that already exists (an in-place write, ``out=``)
        gets it in its shared _Info, so every view of the same storage reads the new version:
        ``buf[:, :3] = x`` makes ``buf`` an activation."""
        info = self.info.get(id(t))
        if info is None:
            return self.register(t, weight, params)
        info.value, info.weight, info.params = next(self.values), weight, params
        return info

    def ref(self, t: torch.Tensor, info: _Info | None = None) -> Ref:
        if info is None:
            info = self.info.get(id(t))
            if info is None:  # a tensor made outside the trace (a closure constant): a weight
                info = self.register(t, True)
        return Ref(info.value, tuple(t.shape), _dtype_name(t.dtype), _distinct_numel(t),
                   _offset(t), info.weight, info.params)

    # ---- ops

    def op_static(self, func: Any) -> _OpStatic:
        st = self.static.get(func)
        if st is None:
            schema = func._schema
            name = ops.base_name(schema.name)
            kind = kinds.OP_KINDS.get(name, "")
            role = kinds.KINDS[kind].role if kind else ""
            tags = getattr(func, "tags", ())
            st = _OpStatic(
                aten=name,
                view=bool(getattr(func, "is_view", False)) or role == "view",
                pointwise=torch.Tag.pointwise in tags,
                role_hint="fill" if kind == "fill" else role if role in ("alloc", "metadata")
                else "",
                write_only_self=name in kinds.WRITE_ONLY_SELF,
            )
            self.static[func] = st
        return st

    def record(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        st = self.op_static(func)
        if st.role_hint == "metadata":
            return
        out_list = _tensors(out)
        in_list = _tensors(args)
        if kwargs:
            in_list += [t for k, v in kwargs.items() if k != "out" for t in _tensors(v)]
            seen = {id(t) for t in out_list}
            out_list += [t for t in _tensors(kwargs.get("out")) if id(t) not in seen]
        if (st.write_only_self or st.role_hint == "fill") and in_list:
            # an in-place write that does not read its target, or a fill whose first tensor
            # argument is only a template (zeros_like, new_zeros) or its target (fill_)
            in_list = in_list[1:]
        module, module_type = self.stack[-1]

        if st.view and in_list and out_list:
            src = self.info.get(id(in_list[0])) or self.register(in_list[0], True)
            outs = []
            for t in out_list:
                self.info[id(t)] = src   # one _Info per storage: a write to a view is seen
                self.keep.append(t)      # by every alias (see write())
                outs.append(self.ref(t, src))
            self._append(st.aten, "view", "view", module, module_type, 0,
                         (self.ref(in_list[0], src),), tuple(outs))
            return

        written = None
        if st.aten in _SCATTERS and in_list and out_list and out_list[0] is in_list[0]:
            # an in-place scatter (a KV-cache write) writes only the rows it scatters, and
            # reads its target only where it accumulates
            written = _scattered(st.aten, args, kwargs)
            if written is not None:
                target, in_list = in_list[0], in_list[1:]
        in_refs = tuple(self.ref(t) for t in in_list)
        if written is not None and _accumulates(st.aten, args, kwargs):
            in_refs = (replace(self.ref(target), numel=written), *in_refs)
        if st.aten in _GATHERS and in_refs:
            in_refs = (_gathered(st.aten, in_refs[0], args, out_list), *in_refs[1:])
        if st.role_hint == "alloc":
            outs = tuple(self.ref(t, self.write(t, False)) for t in out_list)
            self._append(st.aten, "alloc", "alloc", module, module_type, 0, (), outs)
            return
        if st.role_hint != "fill" and in_refs and all(r.weight for r in in_refs):
            # reads weights only (parameters, buffers, or tensors derived from them alone):
            # a deployed runtime computes it once, ahead of time
            params = tuple(sorted({p for r in in_refs for p in r.params}))
            outs = tuple(self.ref(t, self.write(t, True, params)) for t in out_list)
            self._append(st.aten, "const", "const", module, module_type, 0, in_refs, outs)
            return

        weight_operand = any(r.weight and len(r.shape) >= 2 for r in in_refs)
        try:
            kind, macs, known = ops.describe(st.aten, args, kwargs, out, st.pointwise,
                                             weight_operand)
        except ops.FormulaError as e:
            where = f" in module {module!r}" if module else ""
            raise TraceError(f"{e}{where}; this is a bug in roofline.graph.formulas") from e
        outs = tuple(self.ref(t, self.write(t, False)) for t in out_list)
        if written is not None:
            outs = (replace(outs[0], numel=min(outs[0].numel, written)), *outs[1:])
        self._append(st.aten, kind, "compute", module, module_type, macs, in_refs, outs, known)

    def record_attention(self, args: tuple, kwargs: dict, out: torch.Tensor) -> None:
        """One op for a whole scaled_dot_product_attention call."""
        q, k, v = (args + (None,) * 3)[:3]
        q = kwargs.get("query", q)
        k = kwargs.get("key", k)
        v = kwargs.get("value", v)
        mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
        operands = [t for t in (q, k, v, mask) if isinstance(t, torch.Tensor)]
        in_refs = tuple(self.ref(t) for t in operands)
        macs = ops.attention_macs(q.shape, k.shape, v.shape)
        module, module_type = self.stack[-1]
        outs = (self.ref(out, self.register(out, False)),)
        self._append("scaled_dot_product_attention", "attention", "compute", module,
                     module_type, macs, in_refs, outs)

    def _append(self, aten: str, kind: str, role: str, module: str, module_type: str,
                macs: int, inputs: tuple[Ref, ...], outputs: tuple[Ref, ...],
                known: bool = True) -> None:
        self.ops.append(OpRecord(len(self.ops), aten, kind, role, module, module_type, macs,
                                 inputs, outputs, known))


# --- fast shape functions
#
# torch's meta kernel for inference BatchNorm is a Python decomposition that computes the
# normalisation symbolically; it is most of the time of a meta forward of a BN-heavy network
# (88% for MobileNetV4-Conv-L). Its outputs are fully determined by the input: a tensor like
# it, and per-channel statistics in the op-math dtype. tests/test_trace.py checks these
# against the real meta kernel for every dtype and memory format.

_OPMATH = {torch.float16: torch.float32, torch.bfloat16: torch.float32}


def _bn_outputs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    stats = torch.empty((x.shape[1],), dtype=_OPMATH.get(x.dtype, x.dtype), device=x.device)
    return torch.empty_like(x), stats, torch.empty_like(stats)


def _fast_native_batch_norm(args: tuple, kwargs: dict) -> Any:
    training = args[5] if len(args) > 5 else kwargs.get("training", True)
    return None if training or kwargs else _bn_outputs(args[0])


def _fast_bn_no_training(args: tuple, kwargs: dict) -> Any:
    return None if kwargs else _bn_outputs(args[0])


_FAST_META = {
    torch.ops.aten.native_batch_norm.default: _fast_native_batch_norm,
    torch.ops.aten._native_batch_norm_legit_no_training.default: _fast_bn_no_training,
}


class _DispatchRecorder(TorchDispatchMode):
    def __init__(self, rec: _Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        kwargs = kwargs or {}
        fast = _FAST_META.get(func)
        out = None
        if fast is not None and args and args[0].device.type == "meta" and args[0].dim() >= 2:
            out = fast(args, kwargs)
        if out is None:
            out = func(*args, **kwargs)
        if not self.rec.suppress:
            self.rec.record(func, args, kwargs, out)
        return out


class _AttentionRecorder(TorchFunctionMode):
    """Sees F.scaled_dot_product_attention before autograd decomposes it."""

    def __init__(self, rec: _Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: D105
        kwargs = kwargs or {}
        if func is not _SDPA or self.rec.suppress:
            return func(*args, **kwargs)
        self.rec.suppress += 1
        try:
            out = func(*args, **kwargs)
        finally:
            self.rec.suppress -= 1
        self.rec.record_attention(tuple(args), kwargs, out)
        return out


# --------------------------------------------------------------------------- entry point
def trace(
    model: nn.Module,
    input_shape: InputSpec | None = None,
    *,
    inputs: Any = None,
    kwargs: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Trace:
    """Run ``model`` on meta tensors and record every aten op.

    Give either ``input_shape`` (one shape such as ``(1, 3, 224, 224)``, or a list of shapes
    for several positional inputs, created as ``dtype``) or ``inputs`` (a tensor or a tuple of
    positional arguments; tensors on any device are replaced by meta tensors of the same
    shape, dtype and strides). ``kwargs`` are passed to the forward the same way.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"expected an nn.Module to trace, got {type(model).__name__}")
    to_meta = MetaCopier()
    args = to_meta.tree(make_args(input_shape, inputs, dtype))
    kw = to_meta.tree(kwargs or {})

    rec = _Recorder()
    call, state, used = meta_call(model)
    params, buffers = _register_weights(model, rec, used)
    input_tensors = [t for t in tree_flatten((args, kw))[0] if isinstance(t, torch.Tensor)]
    input_tensors += to_meta.held   # tensors inside objects (a KV-cache object in kwargs)
    storages: dict[int, _Info] = {}
    for t in input_tensors:
        # one tensor passed as several inputs, or views of one storage (x, x.mT), stay one
        if id(t) in rec.info:
            continue
        key = storage_key(t)
        if key is None or key not in storages:
            info = rec.register(t, False)
            if key is not None:
                storages[key] = info
        else:
            rec.info[id(t)] = storages[key]
            rec.keep.append(t)
    input_refs = tuple(rec.ref(t) for t in input_tensors)

    names = {id(m): n for n, m in model.named_modules()}
    training = [(m, m.training) for m in model.modules()]
    saved = ModuleState(model)

    def pre_hook(module: nn.Module, _args: Any) -> None:
        name = names.get(id(module))
        if name is None:
            parent = rec.stack[-1][0]
            name = f"{parent}.{type(module).__name__}" if parent else type(module).__name__
        rec.stack.append((name, type(module).__name__))
        rec.last_entered = name

    def post_hook(module: nn.Module, _args: Any, _out: Any) -> None:
        if len(rec.stack) > 1:
            rec.stack.pop()

    handles = [
        nn.modules.module.register_module_forward_pre_hook(pre_hook),
        nn.modules.module.register_module_forward_hook(post_hook, always_call=True),
    ]
    try:
        model.eval()
        with torch.no_grad(), _AttentionRecorder(rec), _DispatchRecorder(rec):
            out = call(state, args, kw)
    except RooflineError:
        raise
    except Exception as e:
        raise TraceError(_explain_failure(model, rec, e)) from e
    finally:
        for h in handles:
            h.remove()
        for m, flag in training:
            m.training = flag
        saved.restore()

    out_refs = tuple(rec.ref(t) for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor))
    return Trace(
        model=type(model).__name__,
        inputs=input_refs,
        outputs=out_refs,
        ops=rec.ops,
        params=params,
        buffers=buffers,
        meta={"input_shapes": [list(r.shape) for r in input_refs]},
    )

def _register_weights(model: nn.Module, rec: _Recorder,
                      used: dict[int, torch.Tensor]) -> tuple[list[tuple[str, int]], int]:
    """Mark parameters and buffers (as the forward will see them) as weights."""
    params: list[tuple[str, int]] = []
    for i, (name, p) in enumerate(model.named_parameters()):
        rec.register(used.get(id(p), p), True, (i,))
        params.append((name, p.numel()))
    buffers = 0
    for _, b in model.named_buffers():
        rec.register(used.get(id(b), b), True)
        buffers += b.numel()
    return params, buffers

def _explain_failure(model: nn.Module, rec: _Recorder, e: Exception) -> str:
    where = rec.last_entered or "the root module"
    msg = " ".join(str(e).split())
    name = type(model).__name__
    if any(s in msg for s in ("_local_scalar_dense", "meta tensors", "Cannot convert",
                              "data-dependent", "item()")):
        return (f"the forward of {name} reads tensor values at {where!r} (data-dependent control "
                "flow or .item()), which meta tracing cannot follow; make the branch "
                "depend on shapes only")
    if any(s in msg for s in ("Kernel size can't be greater", "Output size is too small",
                              "smaller than kernel", "output size is too small")):
        return (f"the input is too small for {name}: at {where!r} the feature map is smaller "
                f"than the kernel ({msg[:160]}); use a larger resolution")
    if "Storage size calculation overflowed" in msg:
        sizes = msg.split("sizes=")[-1][:120]
        return (f"the input is too large for {name}: at {where!r} a tensor of sizes {sizes} "
                "would span more than 2^63 bytes; use a smaller batch or input shape")
    if len(msg) > 300:
        msg = msg[:297] + "..."
    return f"the forward of {name} failed at {where!r}: {type(e).__name__}: {msg}"

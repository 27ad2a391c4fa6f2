"""nn.Module -> a list of op records, by running the model on the meta device.

The forward runs under ``torch.no_grad()`` inside a ``TorchDispatchMode`` that sees every
aten op after autograd has decomposed composite ops. Meta tensors carry shapes, strides and
dtypes but no data, so a model of a billion parameters at 8K resolution costs nothing.

What is recorded for each op: its name, the module path it ran under (innermost module,
from global forward hooks that are removed afterwards), its MACs and kind (``ops.py``), and
every tensor operand it read and wrote as a :class:`Ref`: which tensor *version* (so the
layer builder can follow data flow, in-place ops included), its shape and dtype, how many
distinct elements the access touches (a broadcast view reads its storage once), and whether
it is a weight — a parameter, a buffer, or anything computed from weights alone, which a
deployed runtime constant-folds.

Op roles: ``compute`` ops move bytes and become layers; ``view`` ops alias their input and
move nothing; ``const`` ops read only weights and are folded away; ``alloc`` ops allocate
without writing. ``scaled_dot_product_attention`` is recorded as one attention op, whatever
kernel (or math decomposition) runs underneath.

The user's model is never mutated: no hooks, buffers or attributes are left on it, its
train/eval flags are restored, and a model with real weights is run through
``torch.func.functional_call`` with meta stand-ins for its parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from roofline.graph import formulas as ops
from roofline.errors import InputError, RooflineError, TraceError
from roofline.graph.records import OpRecord, Ref, Trace

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
            hint = ""
            if name in ops.ALLOC_OPS:
                hint = "alloc"
            elif name in ops.FACTORY_OPS:
                hint = "factory"
            elif name in ops.METADATA_OPS:
                hint = "metadata"
            tags = getattr(func, "tags", ())
            st = _OpStatic(
                aten=name,
                view=bool(getattr(func, "is_view", False)) or name in ops.VIEW_OPS,
                pointwise=torch.Tag.pointwise in tags,
                role_hint=hint,
                write_only_self=name in ops.WRITE_ONLY_SELF,
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
        if st.write_only_self and in_list:
            in_list = in_list[1:]
        module, module_type = self.stack[-1]

        if st.view and in_list and out_list:
            src = self.info.get(id(in_list[0])) or self.register(in_list[0], True)
            outs = []
            for t in out_list:
                self.info[id(t)] = src
                self.keep.append(t)
                outs.append(self.ref(t, src))
            self._append(st.aten, "view", "view", module, module_type, 0,
                         (self.ref(in_list[0], src),), tuple(outs))
            return

        in_refs = tuple(self.ref(t) for t in in_list)
        if st.role_hint == "alloc":
            outs = tuple(self.ref(t, self.register(t, False)) for t in out_list)
            self._append(st.aten, "alloc", "alloc", module, module_type, 0, (), outs)
            return
        if st.role_hint == "factory" or all(r.weight for r in in_refs):
            params = tuple(sorted({p for r in in_refs for p in r.params}))
            outs = tuple(self.ref(t, self.register(t, True, params)) for t in out_list)
            self._append(st.aten, "const", "const", module, module_type, 0, in_refs, outs)
            return

        weight_operand = any(r.weight and len(r.shape) >= 2 for r in in_refs)
        try:
            kind, macs, known = ops.describe(st.aten, args, kwargs, out, st.pointwise,
                                             weight_operand)
        except Exception:  # a formula that cannot read this call's arguments
            kind, macs, known = "unknown", 0, False
        outs = tuple(self.ref(t, self.register(t, False)) for t in out_list)
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

InputSpec = Sequence[int] | Sequence[Sequence[int]]


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
    args = _make_args(input_shape, inputs, dtype)
    kw = tree_map(_to_meta, kwargs or {})

    rec = _Recorder()
    call, state, used = _meta_call(model)
    params, buffers = _register_weights(model, rec, used)
    for leaf in tree_flatten((args, kw))[0]:
        if isinstance(leaf, torch.Tensor):
            rec.register(leaf, False)
    input_refs = tuple(rec.ref(t) for t in tree_flatten((args, kw))[0]
                       if isinstance(t, torch.Tensor))

    names = {id(m): n for n, m in model.named_modules()}
    training = [(m, m.training) for m in model.modules()]

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


def _make_args(input_shape: InputSpec | None, inputs: Any, dtype: torch.dtype) -> tuple:
    if (input_shape is None) == (inputs is None):
        raise InputError("give exactly one of input_shape (e.g. (1, 3, 224, 224)) or inputs")
    if inputs is not None:
        args = inputs if isinstance(inputs, tuple) else (inputs,)
        return tree_map(_to_meta, args)
    shapes = _normalise_shapes(input_shape)
    return tuple(torch.empty(s, dtype=dtype, device="meta") for s in shapes)


def _normalise_shapes(spec: Any) -> list[tuple[int, ...]]:
    def is_shape(s: Any) -> bool:
        return isinstance(s, (tuple, list, torch.Size)) and all(
            isinstance(d, int) and not isinstance(d, bool) for d in s)

    shapes = [spec] if is_shape(spec) else list(spec) if isinstance(spec, (list, tuple)) else None
    if not shapes or not all(is_shape(s) and len(s) > 0 for s in shapes):
        raise InputError(f"input shape {spec!r} is not a shape; expected e.g. (1, 3, 224, 224)")
    for s in shapes:
        if any(d <= 0 for d in s):
            raise InputError(f"input shape {tuple(s)} has a dimension <= 0; every dim must be positive")
    return [tuple(s) for s in shapes]


def _to_meta(x: Any) -> Any:
    if isinstance(x, torch.Tensor) and x.device.type != "meta":
        return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device="meta")
    return x


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


def _meta_call(model: nn.Module) -> tuple[Any, dict[str, torch.Tensor] | None,
                                          dict[int, torch.Tensor]]:
    """How to call the model: directly when it lives on meta, else with meta stand-ins.

    Returns the call, its state argument, and id(original weight) -> the tensor the forward
    will actually read.
    """
    tensors = list(itertools.chain(model.parameters(), model.buffers()))
    if all(t.device.type == "meta" for t in tensors):
        return (lambda _state, a, k: model(*a, **k)), None, {}
    # real weights: substitute meta tensors for the call (functional_call restores them)
    from torch.func import functional_call

    stand_ins: dict[int, torch.Tensor] = {}
    state: dict[str, torch.Tensor] = {}
    for name, t in itertools.chain(model.named_parameters(remove_duplicate=False),
                                   model.named_buffers(remove_duplicate=False)):
        if id(t) not in stand_ins:
            stand_ins[id(t)] = torch.empty_like(t, device="meta")
        state[name] = stand_ins[id(t)]
    return (lambda s, a, k: functional_call(model, s, a, k, strict=False)), state, stand_ins


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
    if len(msg) > 300:
        msg = msg[:297] + "..."
    return f"the forward of {name} failed at {where!r}: {type(e).__name__}: {msg}"

"""MAC formulas, registered on aten op objects, each with the kind of layer its op makes.

Counting semantics
------------------

* One MAC is one multiply-accumulate; FLOPs = 2 x MACs. Only tensor contractions have MACs:
  convolutions, matrix products and attention. Elementwise ops, activations, norms, softmax,
  pooling, reductions, resizes, concatenation, padding, copies and FFTs have 0 MACs but still
  move bytes: the layer builder counts their reads and writes.
* Convolution (1d/2d/3d, grouped, depthwise, transposed): output elements x (C_in / groups)
  x prod(kernel). The group count is read from the weight shape, never from an argument, so a
  depthwise conv cannot be miscounted. For a transposed conv the roles of input and output
  swap: input elements x (C_out / groups) x prod(kernel).
* Matrix products (mm, addmm, bmm, baddbmm, mv, dot, linear, matmul): output elements x the
  contracted dimension. Bias additions are not MACs.
* Attention (every scaled-dot-product variant, the CPU flash kernel included):
  batch x query heads x Lq x Lk x (d_qk + d_v). Key/value heads shared by several query heads
  (MQA/GQA) are counted once per query head, since each query head does its own products;
  they are read once, which the byte count sees. Masks and causality are not subtracted:
  the count is the dense upper bound, as a kernel without block skipping computes it.
* An op that has neither a formula nor a kind in ``kinds.py`` is *unsupported*: it still
  moves bytes, and it is listed with its count so that nothing is silently dropped.

Adding an op
------------

One registration, on the aten op object, with its kind::

    @formula(aten.my_matmul, kind=product_kind)
    def _my_matmul_macs(args, kwargs, out):
        return prod(out) * args[0][-1]

A formula sees shapes only: every tensor argument (and the output) arrives as a
``torch.Size``; other arguments (ints, lists, flags) arrive as they were passed. ``kind`` is a
kind name from ``kinds.py`` that performs MACs, or a rule ``(args, kwargs, weight_operand) ->
kind name`` for ops whose kind depends on the call (a conv's depthwise-ness, a product by a
weight or by an activation). A name that is not an aten op fails at import (it is an attribute
of ``torch.ops.aten``); registering an op twice, or an op ``kinds.py`` lists as zero-MAC,
raises. Zero-MAC ops are listed by name in ``kinds.py``, and checked against torch here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import torch
from torch._ops import OpOverload, OpOverloadPacket
from torch.utils._pytree import tree_map

from roofline.errors import FormulaError
from roofline.graph import kinds
from roofline.graph.kinds import conv_kind, product_kind

__all__ = [
    "Formula", "FORMULAS", "FormulaError", "formula", "base_name", "op_name", "describe",
    "macs_of", "attention_macs", "shapes_of", "check_aten_names",
]

aten = torch.ops.aten

MacFormula = Callable[[tuple, dict, Any], int]
KindRule = Callable[[tuple, dict, bool], str]



@dataclass(frozen=True, slots=True)
class Formula:
    """The MACs and the kind of one aten op."""

    op: str                      # base name: 'mm', 'convolution'
    macs: MacFormula             # (args, kwargs, out) with tensors as torch.Size -> MACs
    kind: str | KindRule         # a MAC kind, or a rule deciding it from the call

    def kind_of(self, args: tuple, kwargs: dict, weight_operand: bool) -> str:
        """The kind of this call."""
        return self.kind if isinstance(self.kind, str) else self.kind(args, kwargs,
                                                                      weight_operand)


#: base op name -> its formula
FORMULAS: dict[str, Formula] = {}


def base_name(schema_name: str) -> str:
    """'aten::relu_' -> 'relu'; other namespaces are kept ('torchvision::nms')."""
    name = schema_name[6:] if schema_name.startswith("aten::") else schema_name
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return name


def op_name(op: Any) -> str:
    """The base name of an aten op object (packet or overload); TypeError for anything else."""
    if isinstance(op, OpOverload):
        op = op.overloadpacket
    if not isinstance(op, OpOverloadPacket):
        raise TypeError(f"register formulas on aten op objects (torch.ops.aten.mm), not on "
                        f"{type(op).__name__} {op!r}")
    qualified = op._qualified_op_name
    if not qualified.startswith("aten::"):
        raise TypeError(f"{qualified} is not an aten op; formulas are registered on aten ops")
    return base_name(qualified)


def formula(*ops: Any, kind: str | KindRule) -> Callable[[MacFormula], MacFormula]:
    """Register a MAC formula, with its kind, on aten op objects (``torch.ops.aten.mm``)."""
    if isinstance(kind, str) and kind not in kinds.MAC_KINDS:
        raise ValueError(f"kind {kind!r} of a MAC formula must be one of "
                         f"{', '.join(sorted(kinds.MAC_KINDS))} (or a rule)")
    if not ops:
        raise ValueError("formula() needs at least one aten op")
    names = [op_name(op) for op in ops]

    def deco(fn: MacFormula) -> MacFormula:
        for n in names:
            if n in FORMULAS:
                raise ValueError(f"aten.{n} already has a MAC formula "
                                 f"({FORMULAS[n].macs.__name__})")
            if n in kinds.OP_KINDS:
                raise ValueError(f"aten.{n} is listed as {kinds.OP_KINDS[n]!r} (zero MACs) "
                                 "in kinds.py; an op has one definition")
        for n in names:
            FORMULAS[n] = Formula(n, fn, kind)
        return fn

    return deco


def shapes_of(tree: Any) -> Any:
    """``tree`` with every tensor replaced by its shape (what a formula sees)."""
    return tree_map(lambda x: x.shape if isinstance(x, torch.Tensor) else x, tree)


def _first(out: Any) -> Any:
    return out[0] if isinstance(out, (tuple, list)) and out and isinstance(
        out[0], (tuple, list)) else out


# --------------------------------------------------------------------------- convolution


def _conv_formula(transposed: Callable[[Sequence[Any], dict], bool]
                  ) -> tuple[MacFormula, KindRule]:
    def macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
        x, w = args[0], args[1]
        per_point = w[1] * prod(w[2:])
        if transposed(args, kwargs):
            return prod(x) * per_point
        return prod(_first(out)) * per_point

    def kind(args: Sequence[Any], kwargs: dict, weight_operand: bool) -> str:
        return conv_kind(tuple(args[0]), tuple(args[1]), transposed(args, kwargs))

    return macs, kind


def _flag(args: Sequence[Any], kwargs: dict) -> bool:
    return bool(args[6] if len(args) > 6 else kwargs.get("transposed", False))


_conv_macs, _conv_kind = _conv_formula(lambda a, k: False)
formula(
    aten._slow_conv2d_forward, aten.slow_conv3d_forward, aten.thnn_conv2d,
    aten._nnpack_spatial_convolution, aten._conv_depthwise2d, aten.conv_depthwise3d,
    aten.slow_conv_dilated2d, aten.slow_conv_dilated3d, aten.cudnn_convolution,
    aten.mkldnn_convolution, aten.miopen_convolution, aten.miopen_depthwise_convolution,
    aten.conv1d, aten.conv2d, aten.conv3d, kind=_conv_kind,
)(_conv_macs)
_convt_macs, _convt_kind = _conv_formula(lambda a, k: True)
formula(
    aten.cudnn_convolution_transpose, aten.slow_conv_transpose2d, aten.slow_conv_transpose3d,
    aten.miopen_convolution_transpose, aten.conv_transpose1d, aten.conv_transpose2d,
    aten.conv_transpose3d, kind=_convt_kind,
)(_convt_macs)
_convf_macs, _convf_kind = _conv_formula(_flag)
formula(aten.convolution, aten._convolution, aten.convolution_overrideable,
        kind=_convf_kind)(_convf_macs)


# --------------------------------------------------------------------------- matrix products


def _product(args: Sequence[Any], kwargs: dict, weight_operand: bool) -> str:
    return product_kind(weight_operand)


@formula(aten.mm, aten.bmm, aten.matmul, aten._scaled_mm, aten._int_mm, kind=_product)
def _mm_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    # output elements x contracted size (the left operand's last dim)
    return prod(_first(out)) * args[0][-1]


@formula(aten.addmm, aten.baddbmm, aten._addmm_activation, kind=_product)
def _addmm_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    # (bias, a, b): the bias add is not a MAC
    return prod(_first(out)) * args[1][-1]


@formula(aten.addbmm, kind=_product)
def _addbmm_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    b1 = args[1]  # (B, n, m) @ (B, m, p) summed over B
    return b1[0] * b1[1] * b1[2] * args[2][2]


@formula(aten.mv, aten.addmv, kind=_product)
def _mv_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    mat = args[1] if len(args) >= 3 else args[0]
    return mat[0] * mat[1]


@formula(aten.dot, aten.vdot, aten.inner, kind=_product)
def _dot_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    return args[0][-1] * max(prod(_first(out)), 1)


@formula(aten.linear, kind="linear")
def _linear_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    x, w = args[0], args[1]
    return prod(_first(out)) * w[-1] if len(x) else w[-1]


# --------------------------------------------------------------------------- attention


def attention_macs(q_shape: Sequence[int], k_shape: Sequence[int], v_shape: Sequence[int]) -> int:
    """batch x heads x Lq x Lk x (d_qk + d_v), for (..., L, d) layouts with broadcast batch dims."""
    lq, dqk = q_shape[-2], q_shape[-1]
    lk, dv = k_shape[-2], v_shape[-1]
    qb, kb = list(q_shape[:-2]), list(k_shape[:-2])
    n = max(len(qb), len(kb))
    qb, kb = [1] * (n - len(qb)) + qb, [1] * (n - len(kb)) + kb
    batch = prod(max(a, b) for a, b in zip(qb, kb))
    return batch * lq * lk * (dqk + dv)


@formula(
    aten.scaled_dot_product_attention, aten._scaled_dot_product_attention_math,
    aten._scaled_dot_product_flash_attention_for_cpu, aten._scaled_dot_product_flash_attention,
    aten._scaled_dot_product_efficient_attention, aten._scaled_dot_product_cudnn_attention,
    aten._scaled_dot_product_fused_attention_overrideable,
    aten._scaled_dot_product_attention_math_for_mps, kind="attention",
)
def _sdpa_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    return attention_macs(args[0], args[1], args[2])


@formula(aten._flash_attention_forward, aten._efficient_attention_forward, kind="attention")
def _sdpa_blhd_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    # (B, L, H, d) layout: move heads in front of the sequence
    def bhld(s: Sequence[int]) -> tuple[int, ...]:
        return (*s[:-3], s[-2], s[-3], s[-1]) if len(s) >= 3 else tuple(s)

    return attention_macs(bhld(args[0]), bhld(args[1]), bhld(args[2]))


@formula(aten._native_multi_head_attention, kind="attention")
def _mha_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    # (query, key, value, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, ...)
    q, k = args[0], args[1]
    e = int(args[3])
    heads = int(args[4])
    lq, lk = q[-2], k[-2]
    batch = prod(q[:-2])
    proj = batch * (lq + 2 * lk) * e * e + batch * lq * e * e
    attn = batch * heads * lq * lk * (2 * (e // heads))
    return proj + attn


# --------------------------------------------------------------------------- lookups


def check_aten_names(names: Sequence[str]) -> None:
    """Raise if a name is not an aten op of this torch (in-place-only ops count by base name)."""
    missing = [n for n in names if not (hasattr(aten, n) or hasattr(aten, n + "_"))]
    if missing:
        raise ValueError(f"kinds.py lists names that are not aten ops in torch "
                         f"{torch.__version__}: {', '.join(missing)}")


check_aten_names(list(kinds.OP_KINDS))


def macs_of(name: str, args: tuple, kwargs: dict, out: Any) -> int:
    """MACs of one call of op ``name`` given shapes (0 for ops without a formula).

    A formula that fails raises :class:`FormulaError` naming the op and the shapes.
    """
    f = FORMULAS.get(name)
    if f is None:
        return 0
    try:
        return int(f.macs(args, kwargs, out))
    except Exception as e:
        raise FormulaError(f"the MAC formula of aten.{name} failed on args {args!r}: "
                           f"{type(e).__name__}: {e}") from e


def describe(name: str, args: tuple, kwargs: dict, out: Any,
             pointwise: bool, weight_operand: bool) -> tuple[str, int, bool]:
    """(kind, MACs, known) of one op call (tensors as tensors or as shapes).

    ``pointwise`` is the op's pointwise tag (elementwise ops need no list of their own);
    ``weight_operand`` says whether a matrix product multiplies by a weight (a linear layer)
    or two activations (a matmul, as in attention scores). A formula or kind rule that fails
    raises :class:`FormulaError`: a bug, never an unknown op.
    """
    f = FORMULAS.get(name)
    if f is not None:
        a, k, o = shapes_of((args, kwargs, out))
        macs = macs_of(name, a, k, o)
        try:
            kind = f.kind_of(a, k, weight_operand)
        except Exception as e:
            raise FormulaError(f"the kind rule of aten.{name} failed on args {a!r}: "
                               f"{type(e).__name__}: {e}") from e
        return kind, macs, True
    kind = kinds.OP_KINDS.get(name)
    if kind is not None:
        return kind, 0, True
    if pointwise:
        return "elementwise", 0, True
    return "unknown", 0, False

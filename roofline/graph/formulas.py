"""Per-aten-op semantics: the MACs an op performs and the kind of layer it is.

Counting semantics
------------------

* One MAC is one multiply-accumulate; FLOPs = 2 x MACs. Only tensor contractions have MACs:
  convolutions, matrix products and attention. Elementwise ops, activations, norms, softmax,
  pooling, reductions, resizes, concatenation, padding and copies have 0 MACs but still move
  bytes: the layer builder counts their reads and writes.
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
* An op that has neither a formula nor a known zero-MAC category is *unsupported*: it still
  moves bytes, and it is listed with its count so that nothing is silently dropped.

Formulas are small functions of the op's arguments (tensors are only asked for ``.shape``),
registered on aten op names by :func:`formula`. Names are the schema name without the
``aten::`` namespace and with in-place variants folded onto their base (``relu_`` -> ``relu``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import Any

MacFormula = Callable[[tuple, dict, Any], int]

#: op name -> MAC formula (args, kwargs, out) -> MACs
MAC_FORMULAS: dict[str, MacFormula] = {}
#: op name -> layer kind for ops whose kind does not depend on their arguments
STATIC_KINDS: dict[str, str] = {}

#: kinds that perform MACs
MAC_KINDS = frozenset({
    "conv1d", "conv2d", "conv3d", "dwconv1d", "dwconv2d", "dwconv3d",
    "convtranspose1d", "convtranspose2d", "convtranspose3d", "linear", "matmul", "attention",
})


def formula(*names: str, kind: str | None = None) -> Callable[[MacFormula], MacFormula]:
    """Register a MAC formula (and optionally a fixed kind) on aten op names."""

    def deco(fn: MacFormula) -> MacFormula:
        for n in names:
            MAC_FORMULAS[n] = fn
            if kind is not None:
                STATIC_KINDS[n] = kind
        return fn

    return deco


def base_name(schema_name: str) -> str:
    """'aten::relu_' -> 'relu'; other namespaces are kept ('torchvision::nms')."""
    name = schema_name[6:] if schema_name.startswith("aten::") else schema_name
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return name


# --------------------------------------------------------------------------- convolution

_CONV_OPS = (
    "convolution", "_convolution", "convolution_overrideable", "cudnn_convolution",
    "mkldnn_convolution", "_slow_conv2d_forward", "slow_conv3d_forward", "thnn_conv2d",
    "_nnpack_spatial_convolution", "_conv_depthwise2d", "conv_depthwise3d",
    "slow_conv_dilated2d", "slow_conv_dilated3d", "miopen_convolution",
    "miopen_depthwise_convolution", "conv1d", "conv2d", "conv3d",
)
_CONV_TRANSPOSE_OPS = (
    "cudnn_convolution_transpose", "slow_conv_transpose2d", "slow_conv_transpose3d",
    "miopen_convolution_transpose", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
)
_CONV_WITH_FLAG = ("convolution", "_convolution", "convolution_overrideable")


def _conv_transposed(name: str, args: Sequence[Any], kwargs: dict) -> bool:
    if name in _CONV_TRANSPOSE_OPS:
        return True
    if name in _CONV_WITH_FLAG:
        flag = args[6] if len(args) > 6 else kwargs.get("transposed", False)
        return bool(flag)
    return False


def _conv_macs(name: str, args: Sequence[Any], kwargs: dict, out: Any) -> int:
    x, w = args[0], args[1]
    per_point = w.shape[1] * prod(w.shape[2:])
    if _conv_transposed(name, args, kwargs):
        return x.numel() * per_point
    return _first(out).numel() * per_point


def conv_kind(name: str, args: Sequence[Any], kwargs: dict) -> str:
    """conv{d}d, dwconv{d}d or convtranspose{d}d, with groups taken from the weight shape."""
    x, w = args[0], args[1]
    d = max(w.dim() - 2, 1)
    if _conv_transposed(name, args, kwargs):
        return f"convtranspose{d}d"
    c_in = x.shape[1] if x.dim() == w.dim() else x.shape[0]
    groups = c_in // w.shape[1] if w.shape[1] else 1
    return f"dwconv{d}d" if groups > 1 and groups == c_in else f"conv{d}d"


for _n in _CONV_OPS + _CONV_TRANSPOSE_OPS:
    MAC_FORMULAS[_n] = (lambda n: lambda a, k, o: _conv_macs(n, a, k, o))(_n)


# --------------------------------------------------------------------------- matrix products


def _first(out: Any) -> Any:
    return out[0] if isinstance(out, (tuple, list)) else out


@formula("mm", "bmm", "matmul", "_scaled_mm", "_int_mm")
def _mm_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    # output elements x contracted size (the left operand's last dim)
    return _first(out).numel() * args[0].shape[-1]


@formula("addmm", "baddbmm", "_addmm_activation")
def _addmm_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    # (bias, a, b): the bias add is not a MAC
    return _first(out).numel() * args[1].shape[-1]


@formula("addbmm")
def _addbmm_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    b1 = args[1]  # (B, n, m) @ (B, m, p) summed over B
    return b1.shape[0] * b1.shape[1] * b1.shape[2] * args[2].shape[2]


@formula("mv", "addmv")
def _mv_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    mat = args[1] if len(args) >= 3 else args[0]
    return mat.shape[0] * mat.shape[1]


@formula("dot", "vdot", "inner")
def _dot_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    return args[0].shape[-1] * max(_first(out).numel(), 1)


@formula("linear", kind="linear")
def _linear_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    x, w = args[0], args[1]
    return _first(out).numel() * w.shape[-1] if x.dim() else w.shape[-1]


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


_SDPA_BHLD = (
    "scaled_dot_product_attention", "_scaled_dot_product_attention_math",
    "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
    "_scaled_dot_product_attention_math_for_mps",
)
_SDPA_BLHD = ("_flash_attention_forward", "_efficient_attention_forward")


@formula(*_SDPA_BHLD, kind="attention")
def _sdpa_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    q, k, v = args[0], args[1], args[2]
    return attention_macs(q.shape, k.shape, v.shape)


@formula(*_SDPA_BLHD, kind="attention")
def _sdpa_blhd_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    # (B, L, H, d) layout: move heads in front of the sequence
    def bhld(s: Sequence[int]) -> tuple[int, ...]:
        return (*s[:-3], s[-2], s[-3], s[-1]) if len(s) >= 3 else tuple(s)

    q, k, v = args[0], args[1], args[2]
    return attention_macs(bhld(q.shape), bhld(k.shape), bhld(v.shape))


@formula("_native_multi_head_attention", kind="attention")
def _mha_macs(args: Sequence[Any], kwargs: dict, out: Any) -> int:
    # (query, key, value, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, ...)
    q, k = args[0], args[1]
    e = int(args[3])
    heads = int(args[4])
    lq, lk = q.shape[-2], k.shape[-2]
    batch = prod(q.shape[:-2])
    proj = batch * (lq + 2 * lk) * e * e + batch * lq * e * e
    attn = batch * heads * lq * lk * (2 * (e // heads))
    return proj + attn


# --------------------------------------------------------------------------- zero-MAC categories

_ACTIVATIONS = {
    "relu", "relu6", "hardtanh", "clamp", "clamp_min", "clamp_max", "gelu", "silu", "hardswish",
    "hardsigmoid", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "celu", "mish", "softplus",
    "log_sigmoid_forward", "prelu", "_prelu_kernel", "glu", "threshold", "rrelu_with_noise",
    "hardshrink", "softshrink", "gelu_tanh",
}
#: activations a TFLite-style runtime fuses into the op that produced their input
CLAMP_ACTIVATIONS = frozenset({"relu", "relu6", "hardtanh", "clamp", "clamp_min", "clamp_max"})

_NORMS = {
    "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "_batch_norm_with_update", "_batch_norm_no_update", "cudnn_batch_norm", "miopen_batch_norm",
    "native_layer_norm", "native_group_norm", "_fused_rms_norm", "rms_norm", "layer_norm",
    "group_norm", "batch_norm", "instance_norm", "_batch_norm_impl_index",
}
#: norms that fold into the weights of a preceding conv/linear at deployment
BATCH_NORMS = frozenset({
    "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "_batch_norm_with_update", "_batch_norm_no_update", "cudnn_batch_norm", "miopen_batch_norm",
    "batch_norm", "_batch_norm_impl_index",
})
_SOFTMAX = {"_softmax", "_log_softmax", "_safe_softmax", "softmax", "log_softmax", "_masked_softmax"}
_POOLS = {
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "mkldnn_max_pool2d",
    "mkldnn_adaptive_avg_pool2d", "fractional_max_pool2d", "lp_pool2d", "max_unpool2d",
}
_REDUCTIONS = {
    "mean", "sum", "amax", "amin", "max", "min", "prod", "var", "std", "var_mean", "std_mean",
    "norm", "linalg_vector_norm", "logsumexp", "argmax", "argmin", "any", "all", "cumsum",
    "cumprod", "topk", "sort", "aminmax", "nansum", "count_nonzero", "median", "mode",
    "_cdist_forward", "cummax", "cummin", "kthvalue",
}
_RESIZE = {
    "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d", "_upsample_nearest_exact1d",
    "_upsample_nearest_exact2d", "_upsample_nearest_exact3d", "upsample_linear1d",
    "upsample_bilinear2d", "upsample_bicubic2d", "upsample_trilinear3d",
    "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa", "grid_sampler_2d", "grid_sampler_3d",
    "affine_grid_generator",
}
_CONCAT = {"cat", "stack", "_cat", "hstack", "vstack", "concat", "concatenate"}
_PAD = {
    "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "_pad_circular", "pad",
}
_COPIES = {
    "clone", "_to_copy", "copy", "contiguous", "repeat", "flip", "roll", "pixel_shuffle",
    "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "im2col", "col2im", "tril",
    "triu", "split_with_sizes_copy", "unbind_copy", "narrow_copy", "expand_copy", "permute_copy",
    "transpose_copy", "view_copy", "t_copy", "_reshape_copy", "slice_copy", "select_copy",
    "squeeze_copy", "unsqueeze_copy", "slice_scatter", "select_scatter", "diagonal_scatter",
    "as_strided_scatter", "repeat_interleave", "_unsafe_index", "masked_scatter", "fill",
    "zero", "resize", "set", "_copy_from", "_copy_from_and_resize", "to", "type_as",
    "constant_pad_nd_copy", "lift_fresh_copy", "index_copy", "block_diag", "diag_embed",
    "_nested_tensor_from_mask",
}
_INDEXING = {
    "index", "index_select", "gather", "embedding", "embedding_bag", "_embedding_bag",
    "masked_select", "take", "take_along_dim", "index_put", "_index_put_impl", "scatter",
    "scatter_add", "scatter_reduce", "index_add", "index_fill", "nonzero", "one_hot", "bucketize", "searchsorted", "unique", "_unique2", "unique_consecutive",
    "_unsafe_masked_index",
}

#: ops whose output is a view of their first input (in addition to schema-annotated views)
VIEW_OPS = frozenset({
    "_unsafe_view", "_reshape_alias", "alias", "lift_fresh", "detach", "view_as_real",
    "view_as_complex", "_nested_view_from_buffer", "_conj", "_neg_view", "_indices", "_values",
    # In-place restrides fold onto these names (as_strided_ -> as_strided) but their schema
    # is not annotated as a view: they change metadata only. timm's channels-last pooling
    # heads call as_strided_ (ConvNeXt-V2, FocalNet, NesT, SAM ViT, Swin-V2-CR: found by
    # the survey, docs/survey.md).
    "as_strided", "squeeze", "unsqueeze", "transpose", "t", "swapdims", "swapaxes",
    # Split without alias annotations (LSTM gates, Sequencer): the pieces are views.
    "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk",
})
#: ops that allocate without writing (their output is filled by a later op)
ALLOC_OPS = frozenset({"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
                       "empty_permuted"})
#: ops that build a constant whose content does not depend on their tensor inputs' values
FACTORY_OPS = frozenset({"zeros_like", "ones_like", "full_like", "rand_like", "randn_like",
                         "randint_like", "new_zeros", "new_ones", "new_full", "zeros", "ones",
                         "full", "arange", "linspace", "logspace", "eye", "scalar_tensor",
                         "randn", "rand", "randint", "randperm", "tensor", "_to_dense",
                         "fill_diagonal"})
#: in-place ops that overwrite their first argument without reading it
WRITE_ONLY_SELF = frozenset({"copy", "fill", "zero", "uniform", "normal", "bernoulli", "random",
                             "exponential", "geometric", "cauchy", "log_normal", "_copy_from"})
#: ops that only read metadata or assert; they move no bytes
METADATA_OPS = frozenset({"size", "stride", "sym_size", "sym_stride", "sym_numel", "numel",
                          "dim", "is_same_size", "_assert_async", "_assert_scalar",
                          "_local_scalar_dense", "is_nonzero", "_functional_assert_async",
                          "sym_constrain_range", "sym_constrain_range_for_size", "record_stream",
                          "_assert_tensor_metadata", "is_contiguous", "equal"})

for _kind, _names in (
    ("activation", _ACTIVATIONS), ("norm", _NORMS), ("softmax", _SOFTMAX), ("pool", _POOLS),
    ("reduce", _REDUCTIONS), ("resize", _RESIZE), ("concat", _CONCAT), ("pad", _PAD),
    ("copy", _COPIES), ("index", _INDEXING),
):
    for _n in _names:
        STATIC_KINDS.setdefault(_n, _kind)

_MM_KINDS = {"mm", "_addmm_activation", "addmm", "bmm", "baddbmm", "matmul", "_scaled_mm",
             "addbmm", "mv", "addmv", "dot", "vdot", "inner", "_int_mm"}


def describe(name: str, args: Sequence[Any], kwargs: dict, out: Any,
             pointwise: bool, weight_operand: bool) -> tuple[str, int, bool]:
    """(kind, MACs, known) of one op call.

    ``pointwise`` is the op's pointwise tag (elementwise ops need no list of their own);
    ``weight_operand`` says whether a matrix product multiplies by a weight (a linear layer)
    or two activations (a matmul, as in attention scores).
    """
    fn = MAC_FORMULAS.get(name)
    if fn is not None:
        macs = int(fn(tuple(args), kwargs, out))
        if name in STATIC_KINDS:
            kind = STATIC_KINDS[name]
        elif name in _MM_KINDS:
            kind = "linear" if weight_operand else "matmul"
        else:
            kind = conv_kind(name, args, kwargs)
        return kind, macs, True
    kind = STATIC_KINDS.get(name)
    if kind is not None:
        return kind, 0, True
    if pointwise:
        return "elementwise", 0, True
    return "unknown", 0, False

"""Op kinds: the one definition of every kind of layer, and of what each kind implies.

A kind is what the layer table's ``op`` column shows (``conv2d``, ``linear``, ``attention``,
``norm``, ...). Everything that depends on a kind reads it from here: whether it performs
MACs, whether it anchors a layer, whether a following BatchNorm folds into it, whether it
joins the layer before it under ``full`` fusion, its op class in the paper's Fig. 3, and the
role its ops play in a trace (``compute`` ops move bytes; ``view``, ``alloc`` and
``metadata`` ops do not).

Zero-MAC ops are listed here by aten name (without ``aten::``; in-place variants fold onto
their base, ``relu_`` -> ``relu``), one kind each. Ops that perform MACs are not listed
here: they are registered with their formula and their kind in ``formulas.py``, on the aten
op objects themselves. This module imports no torch, so the analysis side (layers, presets,
plots) can use it on a cached trace; ``formulas.py`` checks at import that every name below
is an aten op of the installed torch.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FUSION_POLICIES",
    "Kind", "KINDS", "MAC_KINDS", "ANCHOR_KINDS", "BN_FOLD_TARGETS", "EPILOGUE_KINDS",
    "OP_KINDS", "FOLDABLE_NORMS", "CLAMP_ACTIVATIONS", "WRITE_ONLY_SELF", "kind",
    "conv_kind", "product_kind", "op_class",
]

#: what counts as one layer of a traced graph (see ``layers.py``): a named policy
FUSION_POLICIES = ("none", "tflite", "full")


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of op or layer and what it implies."""

    name: str
    doc: str
    role: str = "compute"        # compute | view | alloc | metadata | const
    macs: bool = False           # performs multiply-accumulates (a conv, matmul, attention)
    bn_target: bool = False      # a BatchNorm reading its output folds into its weights
    epilogue: bool = False       # joins the conv/matmul/elementwise layer before it (full fusion)
    op_class: str = "other"      # Fig. 3 class: Conv2D, DW-Conv2D, FC, attention, other

    @property
    def anchor(self) -> bool:
        """A layer containing an op of this kind is named after it (and fusion builds on it)."""
        return self.macs


def _kinds() -> dict[str, Kind]:
    out: list[Kind] = []
    for d in (1, 2, 3):
        out += [
            Kind(f"conv{d}d", f"{d}-d convolution", macs=True, bn_target=True, op_class="Conv2D"),
            Kind(f"dwconv{d}d", f"depthwise {d}-d convolution (groups == input channels)",
                 macs=True, bn_target=True, op_class="DW-Conv2D"),
            Kind(f"convtranspose{d}d", f"transposed {d}-d convolution", macs=True,
                 bn_target=True, op_class="Conv2D"),
        ]
    out += [
        Kind("linear", "a matrix product with a weight operand", macs=True, bn_target=True,
             op_class="FC"),
        Kind("matmul", "a matrix product of two activations (attention scores)", macs=True,
             op_class="attention"),
        Kind("attention", "scaled dot-product attention, one op per call", macs=True,
             op_class="attention"),
        Kind("elementwise", "a pointwise op (add, mul, where, ...)", epilogue=True),
        Kind("activation", "a nonlinearity (relu, gelu, silu, ...)", epilogue=True),
        Kind("norm", "batch/layer/group/RMS normalisation", epilogue=True),
        Kind("softmax", "softmax and log-softmax"),
        Kind("pool", "max/average/adaptive pooling"),
        Kind("reduce", "reductions, sorts, cumulative ops"),
        Kind("resize", "upsampling and grid sampling"),
        Kind("concat", "concatenation and stacking"),
        Kind("pad", "padding"),
        Kind("copy", "copies and layout changes (clone, repeat, scatter into a copy)"),
        Kind("index", "gathers, scatters and lookups (embedding, index_select, ...)"),
        Kind("fft", "discrete Fourier transforms (not counted as MACs, as FlopCounterMode)"),
        Kind("quantize", "quantise or dequantise between int8 and float: in a deployed graph "
                         "(QUANTIZE/DEQUANTIZE, QuantizeLinear/DequantizeLinear), the boundary "
                         "of a float island"),
        Kind("fill", "writes values that depend on no input (zeros, arange, randn): an "
                     "activation, not a weight"),
        Kind("unknown", "an op with no formula and no category (listed as unsupported)"),
        Kind("view", "aliases its input; moves nothing", role="view"),
        Kind("alloc", "allocates without writing (empty)", role="alloc"),
        Kind("metadata", "reads metadata or asserts; not recorded", role="metadata"),
        Kind("const", "reads weights only: folded ahead of time by a runtime", role="const"),
    ]
    return {k.name: k for k in out}


#: every kind, by name
KINDS: dict[str, Kind] = _kinds()
#: kinds that perform MACs
MAC_KINDS = frozenset(k.name for k in KINDS.values() if k.macs)
#: kinds that anchor a layer (fusion builds around them; the layer is named after them)
ANCHOR_KINDS = frozenset(k.name for k in KINDS.values() if k.anchor)
#: kinds a following BatchNorm folds into (its scale into the weights, its shift a bias)
BN_FOLD_TARGETS = frozenset(k.name for k in KINDS.values() if k.bn_target)
#: kinds that join the layer before them under ``full`` fusion
EPILOGUE_KINDS = frozenset(k.name for k in KINDS.values() if k.epilogue)


def kind(name: str) -> Kind:
    """The :class:`Kind` called ``name`` (KeyError names the known kinds)."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; known: {', '.join(KINDS)}") from None


def conv_kind(x_shape: tuple[int, ...], w_shape: tuple[int, ...], transposed: bool) -> str:
    """conv{d}d, dwconv{d}d or convtranspose{d}d, with groups taken from the weight shape."""
    d = max(len(w_shape) - 2, 1)
    if transposed:
        return f"convtranspose{d}d"
    c_in = x_shape[1] if len(x_shape) == len(w_shape) else x_shape[0]
    groups = c_in // w_shape[1] if w_shape[1] else 1
    return f"dwconv{d}d" if groups > 1 and groups == c_in else f"conv{d}d"


def product_kind(weight_operand: bool) -> str:
    """A matrix product by a weight is a ``linear`` layer; of two activations, a ``matmul``."""
    return "linear" if weight_operand else "matmul"


def op_class(name: str) -> str:
    """The Fig. 3 op class of a kind ('other' for names that are not kinds)."""
    k = KINDS.get(name)
    return k.op_class if k is not None else "other"


# --------------------------------------------------------------------------- zero-MAC ops

_CATEGORIES: dict[str, tuple[str, ...]] = {
    "activation": (
        "relu", "relu6", "hardtanh", "clamp", "clamp_min", "clamp_max", "gelu", "silu",
        "hardswish", "hardsigmoid", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "celu",
        "mish", "softplus", "log_sigmoid_forward", "prelu", "_prelu_kernel", "glu",
        "threshold", "rrelu_with_noise", "hardshrink", "softshrink",
    ),
    "norm": (
        "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
        "_batch_norm_with_update", "_batch_norm_no_update", "cudnn_batch_norm",
        "miopen_batch_norm", "native_layer_norm", "native_group_norm", "_fused_rms_norm",
        "rms_norm", "layer_norm", "group_norm", "batch_norm", "instance_norm",
        "_batch_norm_impl_index",
    ),
    "softmax": ("_softmax", "_log_softmax", "_safe_softmax", "softmax", "log_softmax",
                "_masked_softmax"),
    "pool": (
        "max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
        "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d",
        "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
        "_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_max_pool1d",
        "adaptive_max_pool2d", "adaptive_max_pool3d", "mkldnn_max_pool2d",
        "mkldnn_adaptive_avg_pool2d", "fractional_max_pool2d", "max_unpool2d",
    ),
    "reduce": (
        "mean", "sum", "amax", "amin", "max", "min", "prod", "var", "std", "var_mean",
        "std_mean", "norm", "linalg_vector_norm", "logsumexp", "argmax", "argmin", "any", "all",
        "cumsum", "cumprod", "topk", "sort", "aminmax", "nansum", "count_nonzero", "median",
        "mode", "_cdist_forward", "cummax", "cummin", "kthvalue",
    ),
    "resize": (
        "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d",
        "_upsample_nearest_exact1d", "_upsample_nearest_exact2d", "_upsample_nearest_exact3d",
        "upsample_linear1d", "upsample_bilinear2d", "upsample_bicubic2d",
        "upsample_trilinear3d", "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa",
        "grid_sampler_2d", "grid_sampler_3d", "affine_grid_generator",
    ),
    "concat": ("cat", "stack", "hstack", "vstack", "concat", "concatenate"),
    "pad": (
        "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
        "replication_pad1d", "replication_pad2d", "replication_pad3d", "_pad_circular", "pad",
    ),
    "copy": (
        "clone", "_to_copy", "copy", "contiguous", "repeat", "flip", "roll", "pixel_shuffle",
        "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "im2col", "col2im",
        "tril", "triu", "split_with_sizes_copy", "unbind_copy", "narrow_copy", "expand_copy",
        "permute_copy", "transpose_copy", "view_copy", "t_copy", "_reshape_copy", "slice_copy",
        "select_copy", "squeeze_copy", "unsqueeze_copy", "slice_scatter", "select_scatter",
        "diagonal_scatter", "as_strided_scatter", "repeat_interleave", "_unsafe_index",
        "masked_scatter", "resize", "set", "_copy_from", "_copy_from_and_resize", "to",
        "type_as", "lift_fresh_copy", "index_copy", "block_diag", "diag_embed",
        "_nested_tensor_from_mask", "_to_dense", "fill_diagonal",
    ),
    "index": (
        "index", "index_select", "gather", "embedding", "embedding_bag", "_embedding_bag",
        "_embedding_bag_forward_only", "masked_select", "take", "take_along_dim", "index_put",
        "_index_put_impl", "scatter", "scatter_add", "scatter_reduce", "index_add",
        "index_fill", "nonzero", "one_hot", "bucketize", "searchsorted", "_unique",
        "_unique2", "unique_dim", "unique_consecutive", "_unsafe_masked_index",
    ),
    "elementwise": ("masked_fill", "floor_divide"),
    "fft": ("_fft_r2c", "_fft_c2r", "_fft_c2c"),
    "fill": (
        "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "randint_like",
        "new_zeros", "new_ones", "new_full", "zeros", "ones", "full", "arange", "linspace",
        "logspace", "eye", "scalar_tensor", "randn", "rand", "randint", "randperm", "fill",
        "zero", "uniform", "normal", "bernoulli", "random", "exponential", "geometric",
        "cauchy", "log_normal",
    ),
    "view": (
        "_unsafe_view", "_reshape_alias", "alias", "lift_fresh", "detach", "view_as_real",
        "view_as_complex", "_nested_view_from_buffer", "_conj", "_neg_view", "_indices",
        "_values",
        # In-place restrides fold onto these names (as_strided_ -> as_strided) but their
        # schema is not annotated as a view: they change metadata only. timm's channels-last
        # pooling heads call as_strided_ (ConvNeXt-V2, FocalNet, NesT, SAM ViT, Swin-V2-CR).
        "as_strided", "squeeze", "unsqueeze", "transpose", "t", "swapdims", "swapaxes",
        # Split without alias annotations (LSTM gates, Sequencer): the pieces are views.
        "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk",
    ),
    "alloc": ("empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
              "empty_permuted"),
    "metadata": (
        "size", "stride", "sym_size", "sym_stride", "sym_numel", "numel", "dim",
        "is_same_size", "_assert_async", "_assert_scalar", "_local_scalar_dense", "is_nonzero",
        "_functional_assert_async", "sym_constrain_range", "sym_constrain_range_for_size",
        "record_stream", "_assert_tensor_metadata", "is_contiguous", "equal",
    ),
}


def _op_kinds() -> dict[str, str]:
    table: dict[str, str] = {}
    for k, names in _CATEGORIES.items():
        if k not in KINDS or KINDS[k].macs:
            raise ValueError(f"category {k!r} is not a zero-MAC kind")
        for n in names:
            if n in table:
                raise ValueError(f"op {n!r} is listed under two kinds: {table[n]!r} and {k!r}")
            table[n] = k
    return table


#: zero-MAC aten op name -> its kind (ops with a MAC formula are registered in formulas.py)
OP_KINDS: dict[str, str] = _op_kinds()
#: norms that fold into the weights of a preceding conv/linear at deployment
FOLDABLE_NORMS = frozenset({
    "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "_batch_norm_with_update", "_batch_norm_no_update", "cudnn_batch_norm", "miopen_batch_norm",
    "batch_norm", "_batch_norm_impl_index",
})
#: activations a TFLite-style runtime fuses into the op that produced their input
CLAMP_ACTIVATIONS = frozenset({"relu", "relu6", "hardtanh", "clamp", "clamp_min", "clamp_max"})
#: in-place ops that overwrite their first argument without reading it
WRITE_ONLY_SELF = frozenset({"copy", "fill", "zero", "uniform", "normal", "bernoulli",
                             "random", "exponential", "geometric", "cauchy", "log_normal",
                             "_copy_from"})

for _set, _kind in ((FOLDABLE_NORMS, "norm"), (CLAMP_ACTIVATIONS, "activation")):
    if any(OP_KINDS.get(n) != _kind for n in _set):  # pragma: no cover - import-time check
        raise ValueError(f"every op of {sorted(_set)} must be listed as {_kind!r}")

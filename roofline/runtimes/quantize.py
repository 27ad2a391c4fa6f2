"""Static int8 quantisation for LiteRT: litert-torch's PT2E quantizer, with its gaps closed.

litert-torch's ``PT2EQuantizer`` (int8 weights per-channel symmetric, int8 activations static
per-tensor) annotates convolutions and linear layers by aten target, but finds additions,
multiplications, concatenations and pools through ``source_fn_stack`` metadata, which
``torch.export`` (non-strict, the default) no longer writes. On such graphs it leaves residual
ADDs, SE blocks, activations that do not directly follow a conv, in float, each wrapped in
DEQUANTIZE/QUANTIZE, and ops the XNNPACK delegate cannot take split the delegate graph. Those
are conversion defects, not runtime facts; :func:`make_quantizer` fixes what a deployment
engineer would:

- add/sub/mul (residuals, SE gating, layer scales), mean, average pools and resizes are
  quantised by aten target when their inputs are quantised; clamp-style activations, pads
  and max-pools share their input's parameters;
- hard-swish and hard-sigmoid are rewritten as their definition (``x * relu6(x + 3) / 6``):
  the XNNPACK delegate of ai-edge-litert 2.3 rejects int8 HARD_SWISH, so each one split the
  graph (MobileNetV3-L: 16 partitions, 15 HARD_SWISH outside, 25 DEQUANTIZE / 27 QUANTIZE ->
  1 partition, no DEQUANTIZE/QUANTIZE);
- SiLU is rewritten as ``x * sigmoid(x)`` (int8 LOGISTIC + MUL in the delegate instead of a
  float LOGISTIC + MUL island);
- a Python number in add/sub/mul becomes a constant of the other operand's rank, so the op
  keeps NHWC (a 0-d constant made litert-torch's layout pass wrap the op in TRANSPOSEs).

Kept in float on purpose (measured: XNNPACK here runs them in float inside the delegate but
not in int8): attention cores (Q @ K^T, softmax, @ V, and a scale or mask applied to them),
LayerNorm/GroupNorm (lowered to MEAN, SQUARED_DIFFERENCE, RSQRT, ...). A binary op whose
input comes from such a float op is left float too, so the float core stays one island.

- multi-query attention (one K/V head shared by every query head, MobileNetV4-Hybrid's MQA)
  is computed with K and V concatenated once per head: ``scaled_dot_product_attention`` over a
  broadcast K/V head made the converter emit BROADCAST_TO and a FULLY_CONNECTED with a
  non-constant filter, both rejected by XNNPACK (an MQA block: 3 partitions -> 1).

Remaining defects, not fixed here: GELU (int8 GELU is what the converter emits between two
quantised ops, and XNNPACK rejects it: FastViT-T8 keeps 17 GELU outside the delegate, 18
partitions, with either quantizer); int8 PADV2 (a pad with a non-zero value,
EfficientViT-B1). One regression against litert-torch's quantizer alone: FastViT's layer-scale
multiply and the residual add after it (``x + gamma.view(1, C, 1, 1) * mlp(x)``) stay float, in
NCHW (10 MUL + 10 ADD + 10 TRANSPOSE float, 10 QUANTIZE / 20 DEQUANTIZE in FastViT-T8, all in
the delegate; its latency was unchanged within noise, 164 vs 167 ms at the 10th percentile,
timed interleaved on a loaded machine).

Every rewrite keeps the model's arithmetic (an aten op replaced by its definition).
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["drop_dangling_shares", "make_quantizer", "multi_query_attention",
           "rewrite_for_xnnpack", "scalars_to_tensors"]


def _aten() -> Any:
    import torch  # deferred: heavy import

    return torch.ops.aten


def rewrite_for_xnnpack(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Replace ops XNNPACK cannot run in int8 by their definition in ops it can.

    hardswish(x) = x * hardtanh(x + 3, 0, 6) / 6 and hardsigmoid(x) = hardtanh(x + 3, 0, 6) / 6
    (PyTorch's own definitions): TFLite's int8 HARD_SWISH exists but the XNNPACK delegate in
    ai-edge-litert 2.3 does not take it, so every hard-swish split the delegate graph.
    silu(x) = x * sigmoid(x): int8 LOGISTIC (fixed output scale 1/256) and MUL run in the
    delegate, where the fused SiLU stayed a float LOGISTIC + MUL island between DEQUANTIZE
    and QUANTIZE.
    """
    aten = _aten()
    graph = gm.graph
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        if node.target in (aten.silu.default, aten.silu_.default):
            with graph.inserting_before(node):
                gate = graph.call_function(aten.sigmoid.default, (node.args[0],))
                out = graph.call_function(aten.mul.Tensor, (node.args[0], gate))
            gate.meta = dict(node.meta)
            out.meta = dict(node.meta)
            node.replace_all_uses_with(out)
            graph.erase_node(node)
        elif node.target in (aten.hardswish.default, aten.hardswish_.default,
                           aten.hardsigmoid.default, aten.hardsigmoid_.default):
            x = node.args[0]
            swish = node.target in (aten.hardswish.default, aten.hardswish_.default)
            with graph.inserting_before(node):
                shifted = graph.call_function(aten.add.Tensor, (x, 3.0))
                gate = graph.call_function(aten.hardtanh.default, (shifted, 0.0, 6.0))
                if swish:
                    prod = graph.call_function(aten.mul.Tensor, (x, gate))
                    out = graph.call_function(aten.mul.Tensor, (prod, 1.0 / 6.0))
                else:
                    out = graph.call_function(aten.mul.Tensor, (gate, 1.0 / 6.0))
            for new in (shifted, gate, out):
                new.meta = dict(node.meta)
            if swish:
                prod.meta = dict(node.meta)
            node.replace_all_uses_with(out)
            graph.erase_node(node)
    graph.lint()
    gm.recompile()
    return gm


def _sdpa_args(node: Any) -> dict[str, Any] | None:
    """The arguments of a scaled_dot_product_attention call, by name (None for anything
    but plain attention: a mask, dropout, causal or grouped-query flags)."""
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale",
             "enable_gqa")
    args = {**dict(zip(names, node.args)), **node.kwargs}
    if (args.get("attn_mask") is not None or args.get("dropout_p", 0.0) != 0.0
            or args.get("is_causal", False) or args.get("enable_gqa", False)):
        return None
    return args


def _repeat_heads(call: Any, t: Any, h: int) -> Any:
    """``t`` (B, 1, M, d) concatenated ``h`` times along dim 1, two inputs per concatenation
    (XNNPACK's concatenate takes at most five inputs: MNv4-Hybrid-L has 8 heads); ``call``
    adds a node to the graph."""
    cat = _aten().cat.default
    out, block, n = None, t, h
    while n:
        if n & 1:
            out = block if out is None else call(cat, ([out, block], 1))
        n >>= 1
        if n:
            block = call(cat, ([block, block], 1))
    return out


def multi_query_attention(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Attention whose single K/V head is shared by ``h`` query heads, as batched matmuls
    over K and V concatenated ``h`` times (the same arithmetic).

    ``scaled_dot_product_attention(q (B,h,N,d), k (B,1,M,d), v (B,1,M,dv))`` broadcasts K and
    V over the heads; the converter turned that into BROADCAST_TO and a FULLY_CONNECTED with
    a non-constant filter, which the XNNPACK delegate rejects (MNv4-Hybrid-M: 8 of each
    outside the delegate, 17 partitions). Concatenation and BATCH_MATMUL it takes.
    """
    aten = _aten()
    graph = gm.graph
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not aten.scaled_dot_product_attention.default:
            continue
        args = _sdpa_args(node)
        if args is None:
            continue
        q, k, v = args["query"], args["key"], args["value"]
        shapes = [getattr(t, "meta", {}).get("val") for t in (q, k, v)]
        if any(s is None or s.dim() != 4 for s in shapes):
            continue
        (b, h, n, d), (kb, kh, m, _), (_, vh, _, dv) = (tuple(s.shape) for s in shapes)
        if not (kh == vh == 1 and h > 1 and kb == b):
            continue
        scale = args.get("scale") or 1.0 / math.sqrt(d)
        # new nodes keep the attention's provenance (module path), not its output's value
        keep = {key: val for key, val in node.meta.items() if key not in ("val", "tensor_meta")}

        def call(target: Any, call_args: tuple, keep: dict = keep) -> Any:
            new = graph.call_function(target, call_args)
            new.meta = dict(keep)
            return new

        with graph.inserting_before(node):
            q3 = call(aten.reshape.default, (call(aten.mul.Tensor, (q, scale)), [b * h, n, d]))
            k3 = call(aten.reshape.default, (_repeat_heads(call, k, h), [b * h, m, d]))
            v3 = call(aten.reshape.default, (_repeat_heads(call, v, h), [b * h, m, dv]))
            logits = call(aten.bmm.default, (q3, call(aten.transpose.int, (k3, 1, 2))))
            probs = call(aten._softmax.default, (logits, -1, False))
            out = call(aten.reshape.default, (call(aten.bmm.default, (probs, v3)), [b, h, n, dv]))
        out.meta = dict(node.meta)
        node.replace_all_uses_with(out)
        graph.erase_node(node)
    graph.lint()
    gm.recompile()
    return gm


def scalars_to_tensors(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Make the Python-number operand of add/sub/mul a constant of the other operand's rank
    (all dimensions 1), so it can be quantised and the op keeps NHWC.

    litert-torch's own pass makes such numbers 0-d tensors, and its layout pass leaves any op
    with a non-4-D input in NCHW: every ``x + 3`` or ``x * scale`` gained a TRANSPOSE pair.
    """
    import torch  # deferred: heavy import

    aten = torch.ops.aten
    targets = {aten.add.Tensor, aten.add_.Tensor, aten.sub.Tensor, aten.sub_.Tensor,
               aten.mul.Tensor, aten.mul_.Tensor}
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in targets or len(node.args) < 2:
            continue
        tensors = [a for a in node.args[:2] if isinstance(a, torch.fx.Node)]
        val = tensors[0].meta.get("val") if len(tensors) == 1 else None
        if val is None or not hasattr(val, "dim"):
            continue
        args = list(node.args)
        for i, a in enumerate(args[:2]):
            if isinstance(a, (int, float)) and not isinstance(a, bool):
                name = f"_roofline_scalar_{count}"
                count += 1
                const = torch.full([1] * max(val.dim(), 1), float(a), dtype=val.dtype)
                gm.register_buffer(name, const)
                with gm.graph.inserting_before(node):
                    attr = gm.graph.get_attr(name)
                attr.meta["val"] = const
                args[i] = attr
        node.args = tuple(args)
    gm.graph.lint()
    gm.recompile()
    return gm


def make_quantizer(*, extra: bool = True) -> Any:
    """A PT2E quantizer: litert-torch's per-channel static config, plus (``extra``) the
    annotations and rewrites described in the module docstring."""
    import torch  # deferred: heavy import
    from litert_torch.quantize.pt2e_quantizer import (  # deferred: heavy import
        PT2EQuantizer,
        get_symmetric_quantization_config,
    )
    from litert_torch.quantize.pt2e_quantizer_utils import (  # deferred: heavy import
        propagate_annotation,
    )
    from torchao.quantization.pt2e.quantizer import (  # deferred: heavy import
        QuantizationAnnotation,
        SharedQuantizationSpec,
    )

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
    aten = torch.ops.aten
    act = config.input_activation
    fixed = config.fixed_qparams

    binary = {aten.add.Tensor, aten.add_.Tensor, aten.sub.Tensor, aten.sub_.Tensor,
              aten.mul.Tensor, aten.mul_.Tensor}
    own_output = {aten.mean.dim, aten.avg_pool2d.default,
                  aten.upsample_nearest2d.vec, aten.upsample_bilinear2d.vec}
    shared = {aten.relu.default, aten.relu_.default, aten.hardtanh.default,
              aten.hardtanh_.default, aten.clamp.default, aten.permute.default,
              aten.transpose.int, aten.view.default, aten.reshape.default,
              aten.flatten.using_ints, aten.max_pool2d.default, aten.pad.default,
              aten.constant_pad_nd.default, aten.contiguous.default, aten.squeeze.dim,
              aten.unsqueeze.default, aten.slice.Tensor, aten.select.int,
              aten.pixel_shuffle.default}
    fixed_output = {aten.sigmoid.default, aten.sigmoid_.default}

    views = {aten.view.default, aten.reshape.default, aten.permute.default,
             aten.transpose.int, aten.flatten.using_ints, aten.contiguous.default,
             aten.clone.default, aten.squeeze.dim, aten.squeeze.dims, aten.unsqueeze.default,
             aten.expand.default, aten.slice.Tensor, aten.select.int, aten.split.Tensor,
             aten.split_with_sizes.default, aten.chunk.default, aten.unbind.int}

    def annotated(n: Any) -> bool:
        a = n.meta.get("quantization_annotation")
        return bool(a is not None and a._annotated)

    def quantised_output(n: Any) -> bool:
        a = n.meta.get("quantization_annotation")
        return bool(a is not None and a._annotated and a.output_qspec is not None
                    and a.output_qspec is not fixed)

    def quantised_source(n: Any) -> bool:
        """Whether a tensor comes (through views) from a quantised op or a constant: only
        then is the consumer quantised too, so float cores (attention's matmuls and softmax,
        which XNNPACK runs in float but not in int8) stay float and inside the delegate."""
        while n.op == "call_function" and (n.target in views or n.target is operator.getitem):
            n = n.args[0]
        a = n.meta.get("quantization_annotation")
        fixed_out = a is not None and a._annotated and a.output_qspec is fixed
        return n.op == "get_attr" or quantised_output(n) or fixed_out

    class _Quantizer(PT2EQuantizer):
        def transform_for_annotation(self, model: Any) -> Any:
            if extra:
                model = rewrite_for_xnnpack(model)
                model = multi_query_attention(model)
                model = scalars_to_tensors(model)
            return super().transform_for_annotation(model)

        def annotate(self, model: Any) -> Any:
            model = super().annotate(model)
            if not extra:
                return model
            for n in model.graph.nodes:
                if n.op != "call_function":
                    continue
                tensor_args = [a for a in n.args if isinstance(a, torch.fx.Node)]
                float_input = not tensor_args or not all(quantised_source(a)
                                                         for a in tensor_args)
                if annotated(n):
                    if n.target in binary and float_input:  # e.g. attention's q @ k * scale
                        del n.meta["quantization_annotation"]
                    continue
                if float_input:
                    continue
                if n.target in binary or n.target in own_output:
                    n.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map={a: act for a in tensor_args}, output_qspec=act,
                        _annotated=True)
                elif n.target in fixed_output:
                    n.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map={a: act for a in tensor_args[:1]},
                        output_qspec=fixed, _annotated=True)
                elif n.target in shared and quantised_output(tensor_args[0]):
                    src = tensor_args[0]
                    spec = SharedQuantizationSpec(src)
                    n.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map={src: spec}, output_qspec=spec, _annotated=True)
            propagate_annotation(model)
            return drop_dangling_shares(model, SharedQuantizationSpec)

    return _Quantizer().set_global(config)


def drop_dangling_shares(model: Any, shared_spec: type) -> Any:
    """Leave in float every op whose quantisation is shared with a tensor that is not
    quantised: litert-torch's annotations share a view's parameters with its input, and once
    an input is left float (an attention core, say) the share points at nothing, which
    ``prepare_pt2e`` failed on with ``KeyError`` (EdgeNeXt, GhostNetV2 did not convert)."""

    def annotation(n: Any) -> Any:
        a = n.meta.get("quantization_annotation")
        return a if a is not None and a._annotated else None

    def resolves(spec: Any) -> bool:
        if not isinstance(spec, shared_spec):
            return True
        root = spec.edge_or_node
        if isinstance(root, tuple):  # an input edge (producer, consumer)
            a = annotation(root[1])
            return a is not None and root[0] in a.input_qspec_map and \
                resolves(a.input_qspec_map[root[0]])
        a = annotation(root)
        return a is not None and a.output_qspec is not None and resolves(a.output_qspec)

    changed = True
    while changed:
        changed = False
        for n in model.graph.nodes:
            a = annotation(n)
            specs = [] if a is None else [*a.input_qspec_map.values(), a.output_qspec]
            if any(s is not None and not resolves(s) for s in specs):
                del n.meta["quantization_annotation"]
                changed = True
    return model

"""Property-based checks of the counts on random small module graphs (issue 12).

MACs are checked against torch's FlopCounterMode (FLOPs / 2) on the same meta forward, with
scaled-dot-product attention forced to the math backend so that it counts attention's two
batched products; bytes of single-op modules against an independent reference written
here: every distinct input, weight and output tensor read or written once.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from roofline.graph.layers import layer_table
from roofline.graph.torch_trace import trace

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def fcm_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """FlopCounterMode's count of the meta forward, in MACs."""
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fcm:
        model(*inputs)
    flops = fcm.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def traced_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    tr = trace(model, inputs=inputs)
    assert tr.unsupported() == {}, tr.unsupported()
    return sum(o.macs for o in tr.ops)


def reference_bytes(model: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> int:
    """Each distinct input, every parameter and the output, once, at 4 bytes (fp32)."""
    distinct = {id(t): t for t in inputs}
    params = list(model.parameters())
    return 4 * (sum(t.numel() for t in distinct.values()) + sum(p.numel() for p in params)
                + out.numel())


# --------------------------------------------------------------------------- convolutions


@st.composite
def convs(draw):
    """One convolution of any kind: 1d/2d/3d, plain, grouped, depthwise or transposed."""
    d = draw(st.sampled_from([1, 2, 3]))
    kind = draw(st.sampled_from(["plain", "grouped", "depthwise", "transposed"]))
    groups = {"plain": 1, "grouped": draw(st.sampled_from([2, 4])), "depthwise": 0,
              "transposed": draw(st.sampled_from([1, 2]))}[kind]
    c_in = draw(st.sampled_from([4, 8, 12]))
    if kind == "depthwise":
        groups = c_in
    c_out = c_in * draw(st.sampled_from([1, 2])) if groups > 1 else draw(st.integers(1, 9))
    k = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 2))
    pad = draw(st.integers(0, k - 1)) if k > 1 else 0
    dil = draw(st.integers(1, 2))
    size = draw(st.integers(max(dil * (k - 1) + 1, 3), 9 if d < 3 else 6))
    batch = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    cls = getattr(nn, f"Conv{'Transpose' if kind == 'transposed' else ''}{d}d")
    with torch.device("meta"):
        conv = cls(c_in, c_out, k, stride=stride, padding=pad, dilation=dil, groups=groups,
                   bias=bias)
    x = torch.empty(batch, c_in, *([size] * d), device="meta")
    return conv, x


@settings(SETTINGS, max_examples=15)
@given(convs())
def test_conv_macs_match_flop_counter_and_bytes_the_reference(case):
    conv, x = case
    assert traced_macs(conv, x) == fcm_macs(conv, x)
    tr = trace(conv, inputs=(x,))
    df = layer_table(tr, "none")
    assert len(df) == 1 and df.op.item().endswith(f"{x.dim() - 2}d")
    with torch.no_grad():
        out = conv(x)
    assert df.bytes.sum() == reference_bytes(conv, (x,), out)


# --------------------------------------------------------------------------- products


class Product(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b)


@st.composite
def products(draw):
    """A Linear on 2-d/3-d input, or a batched matmul of two activations."""
    m, k, n = (draw(st.integers(1, 24)) for _ in range(3))
    batch = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        with torch.device("meta"):
            model = nn.Linear(k, n, bias=draw(st.booleans()))
        return model, (torch.empty(*batch, m, k, device="meta"),), False
    a = torch.empty(*batch, m, k, device="meta")
    if draw(st.booleans()):
        return Product(), (a, a.transpose(-1, -2)), True   # a gram matrix: one tensor twice
    return Product(), (a, torch.empty(*batch, k, n, device="meta")), False


@SETTINGS
@given(products())
def test_products_match_flop_counter_and_bytes_the_reference(case):
    model, inputs, gram = case
    assert traced_macs(model, *inputs) == fcm_macs(model, *inputs)
    df = layer_table(trace(model, inputs=inputs), "none")
    with torch.no_grad():
        out = model(*inputs)
    # a @ a.mT: one tensor, read once (its two views are one region of memory)
    assert df.bytes.sum() == reference_bytes(model, inputs[:1] if gram else inputs, out)


# --------------------------------------------------------------------------- small graphs


class Block(nn.Module):
    """One random block on a (B, C, H, W) map that keeps its shape."""

    def __init__(self, kind: str, c: int, seed: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "conv":
            self.op = nn.Conv2d(c, c, 3, padding=1, groups=[1, c, 2][seed % 3])
        elif kind == "updown":
            self.op = nn.Sequential(nn.ConvTranspose2d(c, c, 2, stride=2),
                                    nn.Conv2d(c, c, 2, stride=2))
        elif kind == "buffer":   # a buffer made in forward that the input is written into
            self.op = nn.Conv2d(c + 3, c, 1)
        elif kind == "attention":
            self.heads = [1, 2][seed % 2]
            self.qkv = nn.Linear(c, 3 * c)
            self.proj = nn.Linear(c, c)
        elif kind == "gram":     # a product of two activations
            self.op = nn.Identity()
        elif kind == "rnn":
            self.op = [nn.RNN, nn.GRU, nn.LSTM][seed % 3](c, c, batch_first=True)

    def forward(self, x):
        b, c, h, w = x.shape
        if self.kind in ("conv", "updown"):
            return self.op(x)
        if self.kind == "buffer":
            buf = torch.zeros(b, c + 3, h, w, device=x.device)
            buf[:, :c] = x
            return self.op(buf)
        if self.kind == "gram":
            return torch.softmax(x @ x.transpose(-1, -2), -1) @ x
        t = x.flatten(2).transpose(1, 2)   # (B, HW, C)
        if self.kind == "rnn":
            t = self.op(t)[0]
        else:
            q, k, v = self.qkv(t).reshape(b, h * w, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            t = F.scaled_dot_product_attention(q, k, v)
            t = self.proj(t.transpose(1, 2).reshape(b, h * w, c))
        return t.transpose(1, 2).reshape(b, c, h, w)


class Graph(nn.Module):
    def __init__(self, kinds: list[str], c: int, classes: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(Block(k, c, i) for i, k in enumerate(kinds)))
        self.head = nn.Linear(c, classes)

    def forward(self, x):
        return self.head(self.blocks(x).mean((2, 3)))


@st.composite
def graphs(draw):
    kinds = draw(st.lists(st.sampled_from(["conv", "updown", "buffer", "attention", "gram",
                                           "rnn"]), min_size=1, max_size=4))
    c = draw(st.sampled_from([4, 8]))
    with torch.device("meta"):
        model = Graph(kinds, c, draw(st.integers(1, 10)))
    hw = draw(st.integers(2, 5))
    return model, torch.empty(draw(st.integers(1, 2)), c, hw, hw, device="meta")


@pytest.mark.slow
@SETTINGS
@given(graphs())
def test_graph_macs_match_flop_counter(case):
    model, x = case
    assert traced_macs(model, x) == fcm_macs(model, x)
    # and every op is accounted for, so no byte is dropped either
    df = layer_table(trace(model, inputs=(x,)), "tflite")
    assert (df.bytes > 0).all() and math.isclose(df.macs.sum(), fcm_macs(model, x))

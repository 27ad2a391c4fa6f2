"""Gaps the timm survey found in the tracer and op table, each pinned by a small module.

See docs/survey.md for the models where each turned up.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from roofline.graph.layers import layer_table
from roofline.graph.torch_trace import trace
from roofline.survey.crosscheck import folded_macs


class InPlaceRestride(nn.Module):
    """What timm's channels-last pooling heads do: mean, then restride the result in place."""

    def forward(self, x):
        y = x.mean((2, 3), keepdim=True)             # (1, 8, 1, 1)
        y.as_strided_((1, 8, 1, 1), (8, 1, 8, 8))    # metadata only
        y.squeeze_(-1)
        y.unsqueeze_(-1)
        y.transpose_(2, 3)
        return y + 1


def test_inplace_restrides_are_views():
    # found on ConvNeXt-V2, FocalNet, NesT, SAM ViT, Swin-V2-CR: `as_strided` was unsupported
    tr = trace(InPlaceRestride(), (1, 8, 4, 4))
    assert tr.unsupported() == {}
    assert tr.coverage() == 1.0
    roles = {o.aten: o.role for o in tr.ops}
    for name in ("as_strided", "squeeze", "unsqueeze", "transpose"):
        assert roles[name] == "view", roles
    df = layer_table(tr, "none", "fp32")
    # two layers move bytes: the mean (reads 8*4*4, writes 8) and the add (reads 8, writes 8)
    assert list(df["op"]) == ["reduce", "elementwise"]
    assert df["bytes"].sum() == (8 * 16 + 8) * 4 + (8 + 8) * 4


class UnsafeSplit(nn.Module):
    def forward(self, x):
        a, b = torch.unsafe_split(x, 4, dim=1)
        c, d = torch.unsafe_chunk(x, 2, dim=1)
        e, f = x.unsafe_split_with_sizes([3, 5], dim=1)
        return a * b + c * d + e.sum() + f.sum()


def test_unsafe_split_is_a_view():
    # found on Sequencer2d: nn.LSTM splits its gates with unsafe_split (1408 calls per model)
    tr = trace(UnsafeSplit(), (2, 8))
    assert tr.unsupported() == {}
    assert {o.role for o in tr.ops if o.aten.startswith("unsafe_")} == {"view"}


def test_lstm_is_fully_covered_and_counted():
    # one layer, input 8, hidden 16, sequence 5, batch 1: per step the input projection is
    # 1 x 8 -> 64 (4 gates x 16) = 512 MACs and the recurrent one 1 x 16 -> 64 = 1024 MACs.
    # The first recurrent product multiplies the zero initial state made in forward: an
    # activation, not a weight (issue 12), so it is counted like every other step.
    with torch.device("meta"):
        lstm = nn.LSTM(8, 16, batch_first=True)
    tr = trace(lstm, (1, 5, 8))
    assert tr.unsupported() == {}
    assert sum(o.macs for o in tr.ops) == 5 * 512 + 5 * 1024
    assert folded_macs(tr) == 0


def test_folded_macs_of_weight_only_products():
    # the Swin-V2 case: an MLP on a constant coordinate table, then added to activations
    class PositionBiasMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("coords", torch.zeros(49, 2))
            self.mlp = nn.Linear(2, 4)

        def forward(self, x):
            return x + self.mlp(self.coords).sum()

    with torch.device("meta"):
        m = PositionBiasMLP()
    tr = trace(m, (1, 4))
    assert sum(o.macs for o in tr.ops) == 0
    assert folded_macs(tr) == 49 * 2 * 4

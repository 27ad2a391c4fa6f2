"""Hand-computed MACs and bytes of small modules.

Every expected number below is worked out by hand in the comment beside it, so a wrong
formula, a wrong group count or a wrongly counted operand fails a test.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from roofline.graph.layers import layer_table
from roofline.graph.torch_trace import trace


def single_layer(module: nn.Module, shape, fusion: str = "none", dtype: str = "fp32"):
    with torch.device("meta"):
        module = module.eval()
    df = layer_table(trace(module, shape), fusion, dtype)
    assert len(df) == 1, df
    return df.iloc[0]


def test_depthwise_3x3():
    # 32 channels, 56x56, stride 1, pad 1, groups = 32, no bias
    row = single_layer(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False, device="meta"),
                       (1, 32, 56, 56))
    assert row.op == "dwconv2d"
    assert row.macs == 32 * 56 * 56 * 1 * 9            # out elements x C_in/groups x k*k = 903,168
    assert row.params == 32 * 1 * 3 * 3                # 288
    assert row.weight_bytes == 288 * 4
    assert row.input_bytes == 32 * 56 * 56 * 4         # 401,408
    assert row.output_bytes == 32 * 56 * 56 * 4
    assert row.bytes == 1152 + 2 * 401408


def test_depthwise_with_channel_multiplier_is_depthwise():
    row = single_layer(nn.Conv2d(16, 32, 3, padding=1, groups=16, device="meta"), (1, 16, 8, 8))
    assert row.op == "dwconv2d"
    assert row.macs == 32 * 8 * 8 * 1 * 9


def test_grouped_conv():
    # 64 -> 128 channels, 4 groups, 3x3, 28x28, pad 1, with bias
    row = single_layer(nn.Conv2d(64, 128, 3, padding=1, groups=4, device="meta"), (1, 64, 28, 28))
    assert row.op == "conv2d"
    assert row.macs == (128 * 28 * 28) * (64 // 4) * 9       # 14,450,688
    assert row.params == 128 * 16 * 9 + 128                 # 18,560
    assert row.weight_bytes == (128 * 16 * 9 + 128) * 4
    assert row.input_bytes == 64 * 28 * 28 * 4
    assert row.output_bytes == 128 * 28 * 28 * 4


def test_transposed_conv():
    # ConvTranspose2d(16 -> 8, k=4, s=2, p=1): 14x14 -> 28x28.
    # Each input element scatters into C_out/groups x k x k outputs: 16*14*14 * 8 * 16 = 401,408
    row = single_layer(nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1, device="meta"),
                       (1, 16, 14, 14))
    assert row.op == "convtranspose2d"
    assert row.macs == 16 * 14 * 14 * 8 * 16
    assert row.params == 16 * 8 * 16 + 8
    assert row.output_shape == "1x8x28x28"


def test_grouped_transposed_conv():
    # groups=2: weight (16, 4, 3, 3); each input element feeds C_out/groups = 4 channels
    row = single_layer(nn.ConvTranspose2d(16, 8, 3, padding=1, groups=2, bias=False,
                                          device="meta"), (1, 16, 10, 10))
    assert row.macs == 16 * 10 * 10 * 4 * 9


def test_conv1d_and_conv3d():
    row = single_layer(nn.Conv1d(8, 16, 5, padding=2, bias=False, device="meta"), (2, 8, 100))
    assert (row.op, row.macs) == ("conv1d", 2 * 16 * 100 * 8 * 5)
    row = single_layer(nn.Conv3d(4, 8, 3, padding=1, bias=False, device="meta"), (1, 4, 6, 6, 6))
    assert (row.op, row.macs) == ("conv3d", 8 * 6 * 6 * 6 * 4 * 27)


def test_linear_on_3d_input():
    # Linear(64 -> 32) on (2, 10, 64): 20 rows x 32 outputs x 64 inputs = 40,960 MACs
    row = single_layer(nn.Linear(64, 32, device="meta"), (2, 10, 64))
    assert row.op == "linear"
    assert row.macs == 2 * 10 * 32 * 64
    assert row.params == 32 * 64 + 32
    assert row.weight_bytes == (32 * 64 + 32) * 4       # weight + bias, read once
    assert row.input_bytes == 2 * 10 * 64 * 4           # the reshapes around addmm move nothing
    assert row.output_bytes == 2 * 10 * 32 * 4
    assert row.input_shape == "20x64" and row.output_shape == "20x32"


def test_bytes_follow_analysis_dtype():
    conv = nn.Conv2d(8, 8, 1, bias=False, device="meta")
    fp32 = single_layer(conv, (1, 8, 4, 4), dtype="fp32")
    int8 = single_layer(conv, (1, 8, 4, 4), dtype="int8")
    assert int8.bytes * 4 == fp32.bytes
    with torch.device("meta"):
        mixed = layer_table(trace(conv, (1, 8, 4, 4)), "none", "fp16", weight_dtype="int4")
    assert mixed.weight_bytes[0] == 64 * 0.5
    assert mixed.input_bytes[0] == 8 * 16 * 2


class MQA(nn.Module):
    """Multi-query attention: 8 query heads share one key head and one value head."""

    def __init__(self, dim: int = 512, heads: int = 8, head_dim: int = 64, gqa: bool = True):
        super().__init__()
        self.heads, self.head_dim, self.gqa = heads, head_dim, gqa
        self.q = nn.Linear(dim, heads * head_dim, bias=False)
        self.k = nn.Linear(dim, head_dim, bias=False)
        self.v = nn.Linear(dim, head_dim, bias=False)
        self.o = nn.Linear(heads * head_dim, dim, bias=False)

    def forward(self, x):
        b, n, _ = x.shape
        q = self.q(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(x).view(b, n, 1, self.head_dim).transpose(1, 2)
        v = self.v(x).view(b, n, 1, self.head_dim).transpose(1, 2)
        if self.gqa:
            y = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        else:  # broadcast the single K/V head, as timm's MobileNetV4 MQA does
            y = F.scaled_dot_product_attention(q, k.expand(b, self.heads, n, self.head_dim),
                                               v.expand(b, self.heads, n, self.head_dim))
        return self.o(y.transpose(1, 2).reshape(b, n, self.heads * self.head_dim))


@pytest.mark.parametrize("gqa", [True, False])
def test_mqa_block(gqa):
    b, n, dim, h, d = 1, 196, 512, 8, 64
    with torch.device("meta"):
        model = MQA(dim, h, d, gqa)
    df = layer_table(trace(model, (b, n, dim)), "none", "fp32")
    attn = df[df.op == "attention"]
    assert len(attn) == 1
    a = attn.iloc[0]
    # scores q.k: 8 heads x 196 x 196 x 64; weighted sum: 8 x 196 x 196 x 64
    assert a.macs == b * h * n * n * (d + d)                          # 39,337,984
    # K and V are read once at one head's size (the point of MQA), Q and the output at 8 heads
    assert a.input_bytes == (b * h * n * d + 2 * b * n * d) * 4
    assert a.output_bytes == b * h * n * d * 4
    proj = df[df.op == "linear"]
    assert proj.macs.sum() == b * n * dim * (h * d) + 2 * b * n * dim * d + b * n * (h * d) * dim
    assert df.macs.sum() == a.macs + proj.macs.sum()
    assert df.params.sum() == sum(p.numel() for p in model.parameters())


def test_cpu_flash_attention_kernel():
    # the aten op the CPU backend dispatches SDPA to; FlopCounterMode leaves it uncounted
    class Flash(nn.Module):
        def forward(self, q, k, v):
            return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)[0]

    shapes = [(2, 4, 32, 16), (2, 4, 48, 16), (2, 4, 48, 24)]
    tr = trace(Flash(), shapes)
    (op,) = [o for o in tr.ops if o.role == "compute"]
    assert op.aten == "_scaled_dot_product_flash_attention_for_cpu"
    assert op.kind == "attention"
    assert op.macs == 2 * 4 * 32 * 48 * (16 + 24)


def test_matmul_bmm_einsum():
    class M(nn.Module):
        def forward(self, a, b):
            return torch.einsum("bij,bjk->bik", a, b) + torch.matmul(a, b) + a @ b

    df = layer_table(trace(M(), [(3, 5, 7), (3, 7, 11)]), "none")
    mm = df[df.op == "matmul"]
    assert len(mm) == 3
    assert set(mm.macs) == {3 * 5 * 11 * 7}


def test_zero_mac_ops_still_move_bytes():
    class M(nn.Module):
        def forward(self, x):
            y = F.max_pool2d(x, 2)
            y = F.interpolate(y, scale_factor=2.0)
            y = torch.cat([y, x], 1)
            y = F.pad(y, (1, 1, 1, 1))
            y = y.softmax(-1)
            return F.layer_norm(y, y.shape[-1:])

    df = layer_table(trace(M(), (1, 4, 8, 8)), "none")
    assert list(df.op) == ["pool", "resize", "concat", "pad", "softmax", "norm"]
    assert (df.macs == 0).all()
    assert (df.bytes > 0).all()
    assert df.iloc[0].input_bytes == 4 * 8 * 8 * 4 and df.iloc[0].output_bytes == 4 * 4 * 4 * 4


def test_unsupported_op_is_listed_not_dropped():
    class M(nn.Module):
        def forward(self, x):
            return torch.linalg.cholesky(x @ x.mT).abs()

    tr = trace(M(), (2, 8, 8))
    assert tr.unsupported().get("linalg_cholesky_ex") == 1
    df = layer_table(tr, "none")
    assert (df.op == "unknown").any()
    assert df[df.op == "unknown"].bytes.gt(0).all()
    assert tr.coverage() < 1.0


def test_broadcast_read_counts_storage_once():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.empty(16, 1, 1))

        def forward(self, x):
            return x * self.scale.expand(16, 8, 8)

    with torch.device("meta"):
        m = M()
    row = single_layer(m, (1, 16, 8, 8))
    assert row.weight_bytes == 16 * 4
    assert row.input_bytes == 16 * 8 * 8 * 4


def test_constant_folding_of_weight_only_ops():
    # a weight transformed by weight-only ops is folded by a deployed runtime: no layer
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(8, 8))

        def forward(self, x):
            w = (self.w * 2.0).softmax(-1)
            return x @ w

    with torch.device("meta"):
        m = M()
    tr = trace(m, (4, 8))
    assert [o.role for o in tr.ops if o.aten in ("mul", "_softmax")] == ["const", "const"]
    df = layer_table(tr, "none")
    assert len(df) == 1
    assert df.iloc[0].params == 64 and df.iloc[0].weight_bytes == 64 * 4

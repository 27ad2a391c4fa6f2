"""Fusion policies: what one layer is decides how many bytes cross DRAM."""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn as nn

from roofline.errors import InputError
from roofline.graph.layers import layer_table
from roofline.graph.torch_trace import trace


class ConvBNReLU(nn.Module):
    def __init__(self, cin=16, cout=32):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU6()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Residual(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        self.block = ConvBNReLU(c, c)
        self.proj = nn.Conv2d(c, c, 1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return x + self.bn(self.proj(self.block(x)))


def table(model: nn.Module, shape, fusion: str, dtype: str = "fp32"):
    return layer_table(trace(model.eval(), shape), fusion, dtype)


def test_tflite_folds_conv_bn_relu_into_one_layer():
    shape = (1, 16, 32, 32)
    none = table(ConvBNReLU(), shape, "none")
    tfl = table(ConvBNReLU(), shape, "tflite")
    assert list(none.op) == ["conv2d", "norm", "activation"]
    assert len(tfl) == 1
    row = tfl.iloc[0]
    assert row.ops == "convolution+native_batch_norm+hardtanh"
    # BN folded: conv weight + a new bias of C_out, no BN statistics read
    assert row.weight_bytes == (32 * 16 * 9 + 32) * 4
    # the intermediate tensors (conv out, bn out) never reach memory
    act = 32 * 32 * 32 * 4
    assert row.input_bytes == 16 * 32 * 32 * 4 and row.output_bytes == act
    assert tfl.bytes.sum() < none.bytes.sum()
    assert none.bytes.sum() - tfl.bytes.sum() == 4 * act + (4 * 32 - 32) * 4
    # MACs and params do not depend on the policy; BN's gamma/beta still count as params
    assert tfl.macs.sum() == none.macs.sum()
    assert tfl.params.sum() == none.params.sum() == 32 * 16 * 9 + 2 * 32


def test_full_absorbs_residual_add_with_one_more_read():
    shape = (1, 16, 16, 16)
    tfl = table(Residual(), shape, "tflite")
    full = table(Residual(), shape, "full")
    assert list(tfl.op) == ["conv2d", "conv2d", "elementwise"]
    assert len(full) == 2
    last = full.iloc[-1]
    assert last.ops == "convolution+native_batch_norm+add"
    act = 16 * 16 * 16 * 4
    assert last.input_bytes == 2 * act          # its own input + the residual
    assert last.output_bytes == act
    assert full.bytes.sum() == tfl.bytes.sum() - 2 * act


def test_tensor_read_twice_is_not_fused():
    class Fork(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 1)

        def forward(self, x):
            y = self.conv(x)
            return torch.relu(y) + y   # y is read by relu and by add: it must be written

    df = table(Fork(), (1, 8, 4, 4), "tflite")
    assert list(df.op) == ["conv2d", "activation", "elementwise"]


def test_policies_on_mobilenetv4():
    with torch.device("meta"):
        model = timm.create_model("mobilenetv4_conv_medium")
    tr = trace(model, (1, 3, 256, 256))
    tables = {p: layer_table(tr, p, "int8") for p in ("none", "tflite", "full")}
    assert len(tables["none"]) > len(tables["tflite"]) > len(tables["full"])
    assert tables["none"].bytes.sum() > tables["tflite"].bytes.sum() > tables["full"].bytes.sum()
    assert len({int(t.macs.sum()) for t in tables.values()}) == 1
    # under tflite no BatchNorm or ReLU is left standing on its own in MobileNetV4-Conv
    assert not set(tables["tflite"].op) & {"norm", "activation"}


def test_unknown_policy():
    with pytest.raises(InputError, match="did you mean tflite"):
        table(ConvBNReLU(), (1, 16, 8, 8), "tflit")

"""The tracer: never mutates the model, allocates nothing, survives odd forwards."""

from __future__ import annotations

import os

import pytest
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

from roofline.errors import InputError, TraceError
from roofline.graph.layers import layer_table
from roofline.graph.torch_trace import Trace, trace


def snapshot(model: nn.Module) -> list:
    """Everything a tracer could leave behind on a model."""
    state = []
    for name, m in model.named_modules():
        state.append((
            name, m.training, sorted(m.__dict__),
            dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks),
            {k: (id(v), v.device.type, tuple(v.shape)) for k, v in m._parameters.items() if v is not None},
            {k: (id(v), v.device.type, tuple(v.shape)) for k, v in m._buffers.items() if v is not None},
        ))
    return state


def global_hooks() -> tuple[int, int]:
    mod = nn.modules.module
    return len(mod._global_forward_hooks), len(mod._global_forward_pre_hooks)


def test_model_unchanged_after_trace():
    with torch.device("meta"):
        model = timm.create_model("mobilenetv4_hybrid_medium").train()
    before, hooks = snapshot(model), global_hooks()
    trace(model, (1, 3, 256, 256))
    assert snapshot(model) == before          # train flag restored, nothing added
    assert global_hooks() == hooks


def test_model_unchanged_when_forward_raises():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x):
            x = self.conv(x)
            raise RuntimeError("kaboom")

    model = Boom()
    before, hooks = snapshot(model), global_hooks()
    with pytest.raises(TraceError, match="kaboom"):
        trace(model, (1, 3, 8, 8))
    assert snapshot(model) == before
    assert global_hooks() == hooks


def test_real_weights_are_not_touched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    before = snapshot(model)
    tr = trace(model, (1, 3, 16, 16))
    assert snapshot(model) == before
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert tr.param_count == sum(p.numel() for p in model.parameters())
    # the CPU module is traced on meta stand-ins and attributes weights the same way
    df = layer_table(tr, "tflite")
    assert len(df) == 1 and df.params.sum() == tr.param_count


def test_model_too_large_to_allocate_is_analysed_on_meta():
    # ViT-Huge at 1024 px: 632 M params (2.5 GB fp32) and 4096-token attention
    with torch.device("meta"):
        model = timm.create_model("vit_huge_patch16_gap_448", img_size=1024)
    tr = trace(model, (1, 3, 1024, 1024))
    assert tr.param_count > 600e6
    df = layer_table(tr, "tflite", "bf16")
    attn = df[df.op == "attention"]
    assert len(attn) == 32
    tokens, dim, heads = (1024 // 16) ** 2, 1280, 16
    assert attn.macs.iloc[0] == heads * tokens * tokens * 2 * (dim // heads)
    assert not any(p.device.type != "meta" for p in model.parameters())


def test_module_paths_and_kinds():
    with torch.device("meta"):
        model = timm.create_model("mobilenetv4_conv_small")
    tr = trace(model, (1, 3, 224, 224))
    first = next(o for o in tr.ops if o.role == "compute")
    assert (first.module, first.module_type, first.kind) == ("conv_stem", "Conv2d", "conv2d")
    kinds = {o.kind for o in tr.ops if o.role == "compute"}
    assert {"conv2d", "dwconv2d", "norm", "activation", "linear"} <= kinds
    assert tr.unsupported() == {}


def test_multiple_inputs_and_kwargs():
    class TwoTower(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(16, 8)
            self.b = nn.Linear(32, 8)

        def forward(self, x, y, *, scale=None):
            out = self.a(x) + self.b(y)
            return out * scale if scale is not None else out

    m = TwoTower()
    tr = trace(m, inputs=(torch.randn(4, 16), torch.randn(4, 32)),
               kwargs={"scale": torch.randn(4, 8)})
    assert len(tr.inputs) == 3
    assert sum(o.macs for o in tr.ops) == 4 * 8 * 16 + 4 * 8 * 32
    tr2 = trace(m, [(4, 16), (4, 32)])
    assert sum(o.macs for o in tr2.ops) == 4 * 8 * 16 + 4 * 8 * 32


def test_dict_output_and_dict_input():
    class DictModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, batch):
            return {"logits": self.fc(batch["x"]), "aux": batch["x"].mean()}

    tr = trace(DictModel(), inputs=({"x": torch.randn(2, 8)},))
    assert len(tr.outputs) == 2
    assert sum(o.macs for o in tr.ops) == 2 * 4 * 8


def test_data_dependent_control_flow_is_a_clear_error():
    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * 2
            return x

    with pytest.raises(TraceError, match="data-dependent"):
        trace(Branchy(), (2, 3))


@pytest.mark.parametrize("shape", [(1, 0, 4), (0,), ("a", 3), (), [(1, 2), (1, -3)]])
def test_bad_input_shapes(shape):
    with pytest.raises(InputError):
        trace(nn.Identity(), shape)


def test_attention_recorded_once_with_mask():
    class Attn(nn.Module):
        def forward(self, q, k, v, mask):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    tr = trace(Attn(), [(2, 4, 10, 8), (2, 4, 12, 8), (2, 4, 12, 8), (10, 12)])
    compute = [o for o in tr.ops if o.role == "compute"]
    assert [o.aten for o in compute] == ["scaled_dot_product_attention"]
    assert compute[0].macs == 2 * 4 * 10 * 12 * 16
    assert len(compute[0].inputs) == 4


def test_inplace_ops_follow_data_flow():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            y = self.conv(x)
            y.relu_()
            return y + 1

    tr = trace(M(), (1, 4, 4, 4))
    conv, relu, add = [o for o in tr.ops if o.role == "compute"]
    assert relu.inputs[0].value == conv.outputs[0].value
    assert add.inputs[0].value == relu.outputs[0].value
    assert relu.outputs[0].value != conv.outputs[0].value


def test_trace_round_trips_through_dict():
    with torch.device("meta"):
        model = timm.create_model("mobilenetv4_conv_small")
    tr = trace(model, (1, 3, 224, 224))
    again = Trace.from_dict(tr.to_dict())
    assert again == tr
    assert layer_table(again).equals(layer_table(tr))


def test_trace_cache_hit_miss_and_corruption(tmp_path, monkeypatch):
    from roofline import cache
    from roofline.analysis import trace_model

    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path))
    label, tr, meta = trace_model("MNv4-Conv-S")          # an alias: cached under its entry
    assert label == "mnv4_conv_small" and cache.info()["entries"] == 1
    k = cache.trace_key("mnv4_conv_small")
    assert cache.trace_key("mobilenetv4_conv_small") == k
    assert cache.trace_key("resnet18") == cache.trace_key("timm:resnet18")
    again = trace_model("mnv4_conv_small")
    assert again[1] == tr and again[0] == label
    # a corrupt entry is rebuilt, never trusted
    path = tmp_path / f"{k}.json.gz"
    path.write_bytes(b"\x1f\x8b garbage")
    assert cache.load(k) is None and not path.exists()
    assert trace_model("mnv4_conv_small")[1] == tr
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask   # shareable, not mkstemp's 0600
    assert cache.clear() == 1 and cache.info()["entries"] == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("affine", [True, False])
def test_fast_batch_norm_shapes_match_the_meta_kernel(dtype, memory_format, affine):
    from roofline.graph.torch_trace import _bn_outputs

    x = torch.empty(2, 8, 5, 5, device="meta", dtype=dtype).to(memory_format=memory_format)
    w = torch.empty(8, device="meta", dtype=dtype) if affine else None
    stats = torch.empty(8, device="meta", dtype=torch.float32)
    for real in (torch.ops.aten.native_batch_norm.default(x, w, w, stats, stats, False, 0.1, 1e-5),
                 torch.ops.aten._native_batch_norm_legit_no_training.default(
                     x, w, w, stats, stats, 0.1, 1e-5)):
        fast = _bn_outputs(x)
        assert [(t.shape, t.stride(), t.dtype) for t in fast] == \
               [(t.shape, t.stride(), t.dtype) for t in real]

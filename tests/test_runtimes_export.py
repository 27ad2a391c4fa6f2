"""Export to .tflite/.onnx and measurement on LiteRT / ONNX Runtime (roofline.runtimes).

The tiny model has what the quantizer fixes are about: a residual add, a hard-swish and a
squeeze-excitation gate. Conversions take seconds each, so those tests are marked slow.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from roofline.cli import main
from roofline.errors import ExportError, InputError, MissingExtraError, OutputError
from roofline.runtimes.export import export, export_key
from roofline.runtimes.measure import RUNTIME_COLUMNS, measure_file, measure_runtime

# the module (the package's `export` attribute is the function of the same name)
export_mod = importlib.import_module("roofline.runtimes.export")
SHAPE = (1, 3, 32, 32)
CONVS = 5  # conv layers of Tiny (stem, block a, b, SE reduce/expand); plus one linear


class Tiny(nn.Module):
    """Conv-BN-hardswish stem, a residual block with an SE gate, pooled linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.Hardswish())
        self.a = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.b = nn.Conv2d(16, 16, 1)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 4, 1), nn.ReLU(),
                                nn.Conv2d(4, 16, 1), nn.Hardsigmoid())
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.b(self.a(x))
        x = x + y * self.se(y)
        return self.head(x.mean((2, 3)))


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return Tiny().eval()


def _stats(path: Path, runtime: str):
    row, stats = measure_file(path, runtime, repeats=2, min_time_s=0.01, warmup_s=0.01)
    assert row["latency_ms"] > 0 and row["runtime"] == runtime
    return row, stats


# ---------------------------------------------------------------------------- fast checks


def test_key_depends_on_target_dtype_shape_and_weights():
    k = export_key("timm:resnet18", "tflite", "int8", (1, 3, 224, 224))
    assert k == export_key("timm:resnet18", "tflite", "int8", (1, 3, 224, 224))
    assert len({k, export_key("timm:resnet18", "onnx", "int8", (1, 3, 224, 224)),
                export_key("timm:resnet18", "tflite", "fp32", (1, 3, 224, 224)),
                export_key("timm:resnet18", "tflite", "int8", (1, 3, 256, 256))}) == 4
    a, b = tiny(), tiny()
    assert export_mod._module_identity(a) == export_mod._module_identity(b)
    with torch.no_grad():
        b.head.bias.add_(1.0)
    assert export_mod._module_identity(a) != export_mod._module_identity(b)


def test_bad_target_dtype_and_output(tmp_path):
    with pytest.raises(InputError, match="expected one of tflite, onnx"):
        export(tiny(), "coreml", input_shape=SHAPE)
    with pytest.raises(InputError, match="fp16"):
        export(tiny(), "onnx", "fp16", input_shape=SHAPE)
    with pytest.raises(OutputError, match="ending in .tflite"):
        export(tiny(), "tflite", path=tmp_path / "m.onnx", input_shape=SHAPE)
    (tmp_path / "d.tflite").mkdir()
    with pytest.raises(OutputError, match="not a regular file"):
        export(tiny(), "tflite", path=tmp_path / "d.tflite", input_shape=SHAPE)


def test_missing_extra_is_one_line(monkeypatch, tmp_path):
    real = export_mod.importlib.util.find_spec
    monkeypatch.setattr(export_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "litert_torch" else real(name, *a))
    with pytest.raises(MissingExtraError):
        export("mnv4_conv_small", "tflite")
    r = CliRunner().invoke(main, ["export", "mnv4_conv_small", "--to", "tflite",
                                  "-o", str(tmp_path / "s.tflite")])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert lines == [("error: tflite needs litert-torch, which is not installed; "
                      "pip install 'roofline[runtimes]'")]
    assert not (tmp_path / "s.tflite").exists()


def test_cache_hit_miss_and_no_cache(monkeypatch, tmp_path):
    """Without converting: the converter runs on a miss only, a copy lands at ``path``, and
    with ROOFLINE_NO_CACHE the file asked for is written directly (the cache untouched)."""
    calls = []

    def fake_convert(module, batches, target, dtype, dest, label, verbose):
        calls.append(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"\x1c\x00\x00\x00TFL3" + dtype.encode())

    monkeypatch.setattr(export_mod, "_convert", fake_convert)
    monkeypatch.setattr(export_mod, "_real_module", lambda model, x: model)
    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path / "cache"))
    a = export(tiny(), "tflite", "int8", input_shape=SHAPE)
    assert calls == [a] and a.parent == tmp_path / "cache" / "exports"
    b = export(tiny(), "tflite", "int8", input_shape=SHAPE, path=tmp_path / "b.tflite")
    assert len(calls) == 1 and b.read_bytes() == a.read_bytes()  # a hit, copied
    export(tiny(), "tflite", "fp32", input_shape=SHAPE)  # another dtype: a miss
    export(tiny(), "tflite", "int8", input_shape=SHAPE, use_cache=False)  # forced
    assert len(calls) == 3
    monkeypatch.setenv("ROOFLINE_NO_CACHE", "1")
    c = export(tiny(), "tflite", "int8", input_shape=SHAPE, path=tmp_path / "c.tflite")
    assert calls[-1] == c == tmp_path / "c.tflite" and len(calls) == 4


def test_cache_clear_removes_exports(monkeypatch, tmp_path):
    from roofline import cache

    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path))
    f = export_mod.exports_dir() / "0123.tflite"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"x" * 10)
    assert cache.info()["other_files"] == 1 and cache.info()["bytes"] == 10
    cache.clear()
    assert not f.exists()


@pytest.mark.parametrize("content", [b"", b"not a flatbuffer at all",
                                     b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40])
def test_corrupt_tflite_is_one_line_exit_2(tmp_path, content):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    r = CliRunner().invoke(main, ["measure", str(bad), "--runtime", "litert"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.tflite" in lines[0]


def test_corrupt_onnx_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    r = CliRunner().invoke(main, ["measure", str(bad), "--runtime", "onnxruntime"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "bad.onnx" in lines[0] and "ONNX" in lines[0]


def test_litert_has_no_per_op_times():
    with pytest.raises(InputError, match="no per-op times"):
        measure_runtime(["mnv4_conv_small"], runtime="litert", per_op=True)


# ---------------------------------------------------------------------------- conversions


@pytest.mark.slow
def test_tflite_int8_export_measure_and_cache(tmp_path, monkeypatch):
    out = export(tiny(), "tflite", "int8", input_shape=SHAPE, path=tmp_path / "t.tflite")
    assert out == tmp_path / "t.tflite" and out.read_bytes()[4:8] == b"TFL3"
    row, stats = _stats(out, "litert")
    # every conv and the linear layer are int8 kernels in ONE XNNPACK partition: the
    # residual add, the hard-swish and the SE gate are quantised too (no float island)
    assert stats.partitions == 1 and stats.undelegated == {}
    assert stats.quantize_ops == 0 and stats.dequantize_ops == 0 and stats.float_ops == 0
    assert stats.op_counts["CONV_2D"] == CONVS and stats.op_counts["FULLY_CONNECTED"] == 1
    assert "HARD_SWISH" not in stats.op_counts  # rewritten as ADD/MUL (see quantize.py)
    assert set(RUNTIME_COLUMNS) <= set(row) | {"model", "dtype", "resolution", "input_shape"}

    # second export: a cache hit, the converter is not run
    def boom(*a, **k):
        raise AssertionError("converted again")

    monkeypatch.setattr(export_mod, "_convert", boom)
    again = export(tiny(), "tflite", "int8", input_shape=SHAPE, path=tmp_path / "u.tflite")
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.slow
def test_litert_torch_quantizer_alone_leaves_float_islands(tmp_path, monkeypatch):
    """The fixes are what makes the test above pass: litert-torch's own quantizer leaves the
    hard-swish out of the delegate and the residual add and SE gate in float."""
    from roofline.runtimes import quantize

    original = quantize.make_quantizer
    monkeypatch.setattr(quantize, "make_quantizer", lambda: original(extra=False))
    out = export(tiny(), "tflite", "int8", input_shape=SHAPE, path=tmp_path / "b.tflite",
                 use_cache=False)
    _, stats = _stats(out, "litert")
    assert stats.undelegated.get("HARD_SWISH", 0) >= 1 or stats.dequantize_ops > 0
    assert stats.float_ops > 0


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_tflite_float(tmp_path, dtype):
    out = export(tiny(), "tflite", dtype, input_shape=SHAPE, path=tmp_path / f"{dtype}.tflite")
    _, stats = _stats(out, "litert")
    assert stats.partitions == 1 and stats.quantize_ops == 0
    assert stats.op_counts["CONV_2D"] == CONVS and stats.float_ops >= CONVS + 1
    # fp16: float16 weights (conv and linear weights and biases), dequantised at load
    assert (stats.dequantize_ops >= CONVS + 1) == (dtype == "fp16")
    df = measure_runtime([str(out)], runtime="litert", repeats=1, min_time_s=0.01,
                         warmup_s=0.01)
    assert df.loc[0, "dtype"] == dtype and df.loc[0, "resolution"] == SHAPE[-1]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["int8", "fp32"])
def test_onnx_export_measure_and_profile(tmp_path, dtype):
    from roofline.runtimes.ort import profile_ops

    out = export(tiny(), "onnx", dtype, input_shape=SHAPE, path=tmp_path / f"{dtype}.onnx")
    _, stats = _stats(out, "onnxruntime")
    conv = "QLinearConv" if dtype == "int8" else "Conv"
    # ORT's optimised graph: convs (int8: fused from the QDQ pairs into QLinearConv)
    assert stats.op_counts.get(conv, 0) >= CONVS - 2  # the SE convs may become Gemm-like ops
    assert (stats.quantize_ops > 0) == (dtype == "int8")
    ops = profile_ops(out, runs=3)
    assert len(ops) and ops["latency_ms"].gt(0).all()
    assert conv in set(ops["op_type"])


@pytest.mark.slow
def test_converter_rejection_names_the_op(tmp_path):
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.erfinv(self.c(x).tanh())

    with pytest.raises(ExportError, match=r"op aten\.erfinv") as e:
        export(Odd().eval(), "tflite", "fp32", input_shape=(1, 3, 8, 8),
               path=tmp_path / "o.tflite")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "o.tflite").exists()


@pytest.mark.slow
def test_cli_export_is_quiet_and_measure_runs(tmp_path):
    """Converter logs (absl, progress lines) stay off the terminal; one line says what was
    written; the CSV has the runtime column and the graph it ran."""
    out = tmp_path / "s.tflite"
    r = subprocess.run([sys.executable, "-m", "roofline", "export", "mnv4_conv_small",
                        "--to", "tflite", "-o", str(out)], capture_output=True, text=True,
                       timeout=900, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert r.stderr.strip().splitlines()[-1] == f"wrote {out}"
    assert len(r.stderr.strip().splitlines()) <= 2  # 'exporting ...' (a miss) and 'wrote ...'
    r = subprocess.run([sys.executable, "-m", "roofline", "measure", str(out),
                        "--runtime", "litert", "--repeats", "2", "--min-time", "0.01"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.strip().splitlines()
    cols = dict(zip(header.split(","), row.split(",")))
    assert cols["runtime"] == "litert" and cols["dtype"] == "int8" and cols["partitions"] == "1"
    assert cols["resolution"] == "224" and float(cols["latency_ms"]) > 0
    assert "INFO" not in r.stderr and "XNNPACK" not in r.stderr


# ------------------------------------------------------------------ multi-query attention


def mqa_block() -> nn.Module:
    """MobileNetV4-Hybrid-L's attention: 8 query heads share one K/V head (K/V at stride 2)."""
    from timm.layers.attention2d import MultiQueryAttention2d

    torch.manual_seed(0)
    return MultiQueryAttention2d(dim=32, dim_out=32, num_heads=8, key_dim=16, value_dim=16,
                                 kv_stride=2, dw_kernel_size=3).eval()


def test_multi_query_attention_rewrite_keeps_the_arithmetic():
    from roofline.runtimes.quantize import multi_query_attention

    m, x = mqa_block(), torch.randn(2, 32, 8, 8)
    gm = torch.export.export(m, (x,)).module()
    sdpa = torch.ops.aten.scaled_dot_product_attention.default
    assert any(n.target is sdpa for n in gm.graph.nodes)
    gm = multi_query_attention(gm)
    targets = [n.target for n in gm.graph.nodes]
    assert sdpa not in targets and targets.count(torch.ops.aten.bmm.default) == 2
    with torch.no_grad():
        torch.testing.assert_close(gm(x), m(x), rtol=1e-5, atol=1e-6)


def test_multi_query_attention_leaves_other_attention_alone():
    from roofline.runtimes.quantize import multi_query_attention

    class Heads(nn.Module):  # every head has its own K/V: nothing to rewrite
        def forward(self, q, k, v):
            return nn.functional.scaled_dot_product_attention(q, k, v)

    q = torch.randn(1, 4, 8, 16)
    gm = multi_query_attention(torch.export.export(Heads(), (q, q, q)).module())
    assert torch.ops.aten.scaled_dot_product_attention.default in [n.target for n in
                                                                    gm.graph.nodes]


@pytest.mark.slow
def test_multi_query_attention_runs_whole_in_the_delegate(tmp_path):
    """Before the rewrite, BROADCAST_TO and a FULLY_CONNECTED with a non-constant filter
    stayed outside XNNPACK and split the block into 3 partitions."""
    out = export(mqa_block(), "tflite", "int8", input_shape=(1, 32, 8, 8),
                 path=tmp_path / "mqa.tflite", use_cache=False)
    _, stats = _stats(out, "litert")
    assert stats.partitions == 1 and stats.undelegated == {}
    assert stats.op_counts.get("BATCH_MATMUL") == 2 and "BROADCAST_TO" not in stats.op_counts


class Overflows(nn.Module):
    """Finite on inputs with a positive mean, NaN on the others (a random-init overflow)."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(x) * torch.where(x.mean() > 0, 1.0, float("nan"))


def test_calibration_leaves_out_batches_that_overflow():
    up, down = torch.ones(1, 3, 4, 4), -torch.ones(1, 3, 4, 4)
    keep = export_mod._finite_batches(Overflows(), [down, up, down], "m")
    assert len(keep) == 1 and keep[0] is up
    with pytest.raises(ExportError, match="inf/NaN on every calibration batch"):
        export_mod._finite_batches(Overflows(), [down, down], "m")


def test_shares_with_a_float_tensor_are_dropped():
    """A view sharing its quantisation with an op left in float points at nothing;
    prepare_pt2e failed on that with KeyError (EdgeNeXt, GhostNetV2). Such ops stay float,
    shares with a quantised tensor stay."""
    from torchao.quantization.pt2e.quantizer import (
        QuantizationAnnotation,
        SharedQuantizationSpec,
    )

    from roofline.runtimes.quantize import drop_dangling_shares

    class Chain(nn.Module):
        def forward(self, x):
            a = x * 2.0           # float (left unannotated)
            b = a.permute(0, 2, 3, 1)   # shares with a: dangling
            c = torch.relu(x)     # quantised
            d = c.permute(0, 2, 3, 1)   # shares with c: fine
            return b, d

    gm = torch.export.export(Chain(), (torch.randn(1, 2, 3, 3),)).module()
    nodes = {n.name: n for n in gm.graph.nodes}
    act = QuantizationAnnotation(output_qspec=object(), _annotated=True)
    nodes["relu"].meta["quantization_annotation"] = act
    for view, src in (("permute", "mul"), ("permute_1", "relu")):
        share = SharedQuantizationSpec(nodes[src])
        nodes[view].meta["quantization_annotation"] = QuantizationAnnotation(
            input_qspec_map={nodes[src]: share}, output_qspec=share, _annotated=True)
    drop_dangling_shares(gm, SharedQuantizationSpec)
    assert "quantization_annotation" not in nodes["permute"].meta
    assert nodes["permute_1"].meta["quantization_annotation"]._annotated

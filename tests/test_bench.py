"""`roofline bench` and `roofline measure` at tiny sizes: they run, their numbers are sane,
their outputs are valid profiles / CSVs that the rest of the toolkit reads back."""

from __future__ import annotations

import math

import pytest
import torch
from click.testing import CliRunner

from roofline.calibration import bench, machine, measure, real_model, timing
from roofline.calibration.measurements import parse_measurements
from roofline.calibration.profile_writer import (
    METHOD_URLS,
    bench_profile,
    bench_profile_header,
    default_profile_id,
)
from roofline.cli import main
from roofline.hardware.io import check_profile_text, profile_yaml
from roofline.hardware.registry import load_profile

TINY = bench.QUICK_BENCH


@pytest.fixture(scope="module")
def quick_result():
    return bench.run(device="cpu", threads=2, settings=TINY)


@pytest.mark.slow
def test_bench_measures_peaks_and_bandwidths(quick_result):
    r = quick_result
    assert r.device == "cpu" and r.device_name and r.torch_version == torch.__version__
    fp32 = r.find("peak", dtype="fp32", threads=1)
    dram = r.find("bandwidth", level="dram", kernel="triad", threads=1)
    assert fp32 is not None and dram is not None
    assert r.find("peak", dtype="fp32", threads=2) is not None
    for p in r.points:
        assert math.isfinite(p.value) and p.value > 0 and p.best >= p.value * 0.999
        assert p.spread >= 0 and p.repeats == TINY.repeats and p.runs >= 1
    # sane orders of magnitude for any CPU torch runs on
    assert 1e8 < fp32.value < 1e14 and 1e8 < dram.value < 1e13
    assert set(bench.bench_ridge_points(r)) >= {"fp32"}


@pytest.mark.slow
def test_bench_profile_is_valid_and_measured(quick_result, tmp_path):
    data = bench_profile(quick_result)
    text = profile_yaml(data, bench_profile_header(quick_result))
    path = tmp_path / "this_machine.yaml"
    check_profile_text(text, str(path))
    path.write_text(text)
    p = load_profile(path)
    assert p.kind == "cpu" and p.default_dtype == "fp32"
    assert p.roof().basis == "measured" and not p.fitted
    f = p.peak_macs_per_s["fp32"]
    assert f.basis == "measured" and f.source.startswith("https://")  # the method (ERT)
    for fact in (quick_result.date, quick_result.torch_version, quick_result.device_name,
                 "1 thread", "median of"):  # the run itself
        assert fact in f.note, fact
    assert p.mem_bw_bytes_per_s.source == METHOD_URLS["triad"]
    assert set(p.variants) >= {"all_threads", "llc"}
    assert "2 threads" in p.name or "2 logical" in p.description or "2 threads" in p.description


def test_cache_size_parsing():
    assert machine.parse_cache_size("32768K") == 32 << 20
    assert machine.parse_cache_size("1M") == 1 << 20
    assert machine.parse_cache_size("512") == 512
    with pytest.raises(ValueError):
        machine.parse_cache_size("lots")


@pytest.mark.slow
def test_default_id_is_a_valid_profile_id(quick_result):
    import re

    pid = default_profile_id(quick_result)
    assert re.fullmatch(r"[a-z0-9][a-z0-9_]*_2t", pid), pid


def test_time_callable():
    calls = []
    t = timing.time_callable(lambda: calls.append(1), repeats=3, min_time_s=0.001,
                              warmup_s=0.0)
    assert t.repeats == 3 and t.runs >= 1 and len(t.samples) == 3
    assert t.latency_s > 0 and t.min_s <= t.latency_s and t.spread >= 0
    assert len(calls) >= 2 + 3 * t.runs


# -------------------------------------------------------------------------- measure


@pytest.mark.slow
def test_real_model_is_deterministic_and_finite():
    a = real_model.real_model("mnv4_conv_small")
    b = real_model.real_model("mnv4_conv_small")
    assert a.resolution == 224 and tuple(a.input.shape) == (1, 3, 224, 224)
    for (n, p), (_, q) in zip(a.module.state_dict().items(), b.module.state_dict().items()):
        assert torch.equal(p, q), n
    with torch.no_grad():
        out = a.module(a.input)
    assert torch.isfinite(out).all()
    assert 0.1 < float(out.std()) < 10  # activations kept at a trained network's scale
    assert not a.module.training


def test_materialise_zeroes_integer_buffers():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)
            self.register_buffer("idx", torch.arange(4), persistent=False)

    with torch.device("meta"):
        net = Net()
    net = real_model.materialise(net)
    assert net.idx.device.type == "cpu" and torch.equal(net.idx, torch.zeros(4, dtype=torch.long))
    assert float(net.lin.bias.detach().abs().sum()) == 0


@pytest.mark.slow
def test_measure_rows_and_per_layer_names():
    from roofline.analysis import analyze

    df = measure.measure(["mnv4_conv_small"], threads=1, repeats=2, min_time_s=0.01,
                         warmup_s=0.0, per_layer=True, fusion="tflite", profile_runs=1)
    whole = df[df["layer_index"].isna()]
    assert len(whole) == 1
    row = whole.iloc[0]
    assert row["model"] == "mnv4_conv_small" and row["resolution"] == 224
    assert row["dtype"] == "fp32" and row["threads"] == 1 and row["latency_ms"] > 0
    layers = df[df["layer_index"].notna()]
    table = analyze("mnv4_conv_small", fusion="tflite").layers
    named = layers[layers["layer_index"] >= 0]
    assert named["layer"].tolist() == table["name"].tolist()
    assert (named["latency_ms"] >= 0).all() and named["latency_ms"].sum() > 0
    # the CSV round-trips through the calibration reader
    csv = df.assign(layer_index=df["layer_index"].astype("Int64")).to_csv(index=False)
    back = parse_measurements(csv)
    assert len(back) == len(df) and back["layer_index"].isna().sum() == 1


def test_measure_refuses_what_eager_cannot_run():
    from roofline.errors import InputError, UnknownModelError

    with pytest.raises(InputError, match="cannot measure dtype 'int8'"):
        measure.check_eager_dtype("int8")
    with pytest.raises(UnknownModelError, match="pattern 'zzz\\*' matches no zoo model"):
        measure.expand_models(["zzz*"])
    assert measure.expand_models(["mnv4_conv_s*", "mnv4_conv_small"]) == ["mnv4_conv_small"]


# ------------------------------------------------------------------------------ CLI


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_cli_bench_quick_writes_a_profile(tmp_path):
    out = tmp_path / "quick_machine.yaml"
    r = invoke("bench", "--quick", "--device", "cpu", "-o", out)
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.stdout and "ridge points" in r.stdout
    assert "[1/" in r.stderr  # progress
    assert load_profile(out).roof().basis == "measured"


@pytest.mark.parametrize("args, fragment", [
    (["measure", "mnv4_conv_smal"], "unknown model 'mnv4_conv_smal'"),
    (["measure", "mnv4_conv_small", "--dtype", "int8"], "cannot measure dtype 'int8'"),
    (["measure", "mnv4_conv_small", "--threads", "0"], "--threads must be a positive integer"),
    (["bench", "--id", "bad id"], "--id 'bad id' is not a valid profile id"),
    (["bench", "-o", "/nonexistent/dir/x.yaml"], "directory /nonexistent/dir does not exist"),
])
def test_cli_bad_input_is_one_line(args, fragment):
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], r.stderr


# --------------------------------------------------------------------- hostile numbers


@pytest.mark.parametrize("args, fragment", [
    (["--min-time", "nan"], "--min-time must be a finite number of seconds >= 0, got nan"),
    (["--min-time", "inf"], "--min-time must be a finite number of seconds >= 0, got inf"),
    (["--min-time", "-1"], "--min-time must be a finite number of seconds >= 0, got -1.0"),
    (["--warmup", "inf"], "--warmup must be a finite number of seconds >= 0, got inf"),
    (["--threads", "100000"], "--threads 100000 is more than 4x the"),
])
def test_cli_measure_refuses_hostile_numbers(args, fragment):
    r = invoke("measure", "mnv4_conv_small", *args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], r.stderr


def test_thread_counts_beyond_the_machine_are_refused_before_anything_runs():
    import os

    from roofline.errors import InputError

    most = timing.MAX_THREADS_PER_CPU * (os.cpu_count() or 1)
    assert timing.check_run_threads(most) == most
    for call in (lambda: timing.check_run_threads(most + 1),
                 lambda: timing.TorchThreads(100000),
                 lambda: measure.measure(["mnv4_conv_small"], threads=100000),
                 lambda: bench.run(device="cpu", threads=100000, settings=TINY)):
        with pytest.raises(InputError, match=f"expected at most {most}"):
            call()
    r = invoke("bench", "--threads", "100000", "-o", "-")
    assert r.exit_code == 2 and "expected at most" in r.stderr, r.output


@pytest.mark.parametrize("kw", [{"min_time_s": float("nan")}, {"min_time_s": float("inf")},
                                {"warmup_s": float("inf")}, {"warmup_s": -1.0}])
def test_time_callable_refuses_times_that_never_end(kw):
    from roofline.errors import InputError

    calls = []
    with pytest.raises(InputError, match="must be a finite number of seconds >= 0"):
        timing.time_callable(lambda: calls.append(1), **kw)
    assert calls == []


# ---------------------------------------------------------------------- plausibility


def synthetic_bench(*points):
    """A bench result of (what, dtype, level, kernel, threads, value, spread) points."""
    r = bench.BenchResult(device="cpu", device_name="Test CPU", threads_all=2, logical_cpus=2,
                          cache_bytes=32 << 20, torch_version="x", capability="AVX2",
                          date="2026-11-30")
    for what, dtype, level, kernel, threads, value, spread in points:
        r.points.append(bench.Point(what=what, dtype=dtype, level=level, kernel=kernel,
                                    threads=threads, value=value, best=value, spread=spread,
                                    repeats=5, runs=10, size="n"))
    return r


# the VM of issue 13: an all-threads LLC bandwidth below DRAM, with a 116 % spread
VM_BENCH = [("peak", "fp32", None, "mm", 1, 45.8e9, 0.01),
            ("bandwidth", None, "dram", "triad", 1, 18.6e9, 0.02),
            ("bandwidth", None, "llc", "triad", 1, 90.2e9, 0.03),
            ("peak", "fp32", None, "mm", 2, 88.0e9, 0.02),
            ("bandwidth", None, "dram", "triad", 2, 29.6e9, 0.05),
            ("bandwidth", None, "llc", "triad", 2, 15.1e9, 1.16)]


def test_bench_warns_of_llc_below_dram_and_a_large_spread():
    from roofline.calibration.plausibility import bench_warnings

    w = bench_warnings(synthetic_bench(*VM_BENCH))
    assert w == [
        "LLC triad bandwidth, 2 threads 15.1 GB/s is below the DRAM bandwidth 29.6 GB/s: a "
        "cache is not slower than memory, so one of them is wrong (other processes competing, "
        "or a working set that did not fit); run the bench again on a quiet machine",
        "at 2 threads 1 roof measured slower than at 1 thread (LLC triad bandwidth 15.1 GB/s vs "
        "90.2 GB/s): more threads should not be slower; other processes were probably competing "
        "for the CPUs",
        "large spread between repeats (above 25 %): LLC triad bandwidth, 2 threads 116 %; these "
        "roofs are unreliable, run the bench again on a quiet machine"]


def test_bench_warnings_stay_quiet_on_an_ordinary_bench():
    from roofline.calibration.plausibility import bench_warnings

    fine = [p[:6] + (0.05,) for p in VM_BENCH[:5]]
    fine.append(("bandwidth", None, "llc", "triad", 2, 142.7e9, 0.25))  # 25 % is not above
    assert bench_warnings(synthetic_bench(*fine)) == []


def test_bench_warnings_reach_the_table_the_json_and_the_profile():
    from roofline.calibration.plausibility import bench_warnings
    from roofline.render.calibration import bench_text

    r = synthetic_bench(*VM_BENCH)
    r.warnings = bench_warnings(r)
    text = bench_text(r, profile="p.yaml", ridge_points=bench.bench_ridge_points(r))
    assert "ridge points (DRAM, 1 thread): fp32 2.46 MACs/B" in text
    assert [ln for ln in text.splitlines() if ln.startswith("warning: ")] == [
        f"warning: {w}" for w in r.warnings]
    assert r.to_dict()["warnings"] == r.warnings
    assert "Warnings: " + "; ".join(r.warnings) + "." in bench_profile(r)["description"]


@pytest.mark.slow
def test_cli_bench_json_has_warnings(tmp_path):
    import json

    r = invoke("bench", "--quick", "--device", "cpu", "-o", tmp_path / "q.yaml", "-f", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert isinstance(d["warnings"], list) and all(isinstance(w, str) for w in d["warnings"])

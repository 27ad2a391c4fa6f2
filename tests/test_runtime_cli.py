"""`roofline fit --fit ...` and `roofline validate` under a runtime, from the command line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from roofline.cli import main
from roofline.hardware.registry import get_profile


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def csv(tmp_path: Path, text: str, name: str = "m.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_profiles_name_their_runtime():
    assert get_profile("pixel6_cpu").runtime == "litert_xnnpack"
    assert get_profile("pixel6_cpu:fitted").runtime == "litert_xnnpack"  # variants inherit
    assert get_profile("ci_x86_2core").runtime == "torch_eager"
    assert get_profile("h100_sxm").runtime is None


def test_a_profile_naming_an_unknown_runtime_is_refused(tmp_path):
    text = Path(get_profile("pixel6_cpu").path).read_text()
    p = tmp_path / "dev.yaml"
    p.write_text(text.replace("runtime: litert_xnnpack", "runtime: litert_xnnpak"))
    assert_user_error(run("hw", "show", p), "dev.yaml", "runtime", "litert_xnnpak",
                      "did you mean litert_xnnpack")


@pytest.mark.parametrize("extra, fragments", [
    (["--fit", "peak,bandwith"], ["unknown parameter 'bandwith'", "did you mean bandwidth"]),
    (["--fit", "peak,conv_efficiency"], ["not separately determined"]),
    (["--fit", "runtime", "--overhead"], ["--fit fits under the runtime"]),
    (["--fit", "runtime", "--runtime", "no_such_runtime"], ["unknown runtime 'no_such_runtime'"]),
])
def test_fit_options_that_cannot_apply(tmp_path, extra, fragments):
    m = csv(tmp_path, "model,latency_ms,dtype\nmnv4_conv_small,0.75,int8\n")
    out = tmp_path / "p.yaml"
    assert_user_error(run("fit", m, "--hw", "pixel6_cpu", *extra, "-o", out), *fragments)
    assert not out.exists()


def test_fit_needs_a_base_profile(tmp_path):
    m = csv(tmp_path, "model,latency_ms,dtype\nmnv4_conv_small,0.75,int8\n")
    assert_user_error(run("fit", m, "--fit", "peak,bandwidth"), "--fit needs a base profile")


def test_rows_of_another_runtime_are_refused(tmp_path):
    m = csv(tmp_path, "model,latency_ms,dtype,runtime\nmnv4_conv_small,3.1,int8,torch\n"
                      "mobilenetv2_100,4.2,int8,torch\n")
    assert_user_error(run("fit", m, "--hw", "pixel6_cpu", "--fit", "peak,bandwidth"),
                      "m.csv", "runtime torch", "litert_xnnpack")
    assert_user_error(run("validate", "--hw", "pixel6_cpu", "-m", m), "m.csv", "runtime torch")


@pytest.mark.slow
def test_torch_eager_runtime_fit_and_validate(tmp_path):
    """A torch-graph runtime: the trace under its fusion; the fitted runtime file loads.
    Latencies: torch eager, fp32, 1 thread, docs/accuracy_measured_ci_x86_2core.csv."""
    m = csv(tmp_path, "model,latency_ms,dtype\nmnv4_conv_small,10.49,fp32\n"
                      "mobilenetv2_100,18.43,fp32\nmobilenetv3_large_100,15.06,fp32\n"
                      "mnv4_conv_medium,37.59,fp32\n")
    out = tmp_path / "eager.yaml"
    r = run("fit", m, "--hw", "ci_x86_2core", "--fit", "op_overhead_macs,conv_efficiency",
            "-f", "json", "-o", out)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["runtime"] == "torch_eager" and rep["graph"] == "torch trace, fusion none"
    assert rep["free_parameters"] == ["op_overhead_macs", "conv_efficiency"]
    assert rep["mape"] < 30
    data = yaml.safe_load(out.read_text())
    assert data["graph"] == "torch" and set(data["parameters"]) == {"op_overhead_macs",
                                                                   "conv_efficiency"}
    assert "roofline fit" in data["parameters"]["conv_efficiency"]["source"]
    v = run("validate", "--hw", "ci_x86_2core", "--runtime", out, "-m", m, "-f", "json")
    assert v.exit_code == 0, v.output
    d = json.loads(v.output)
    assert d["runtime"] == "eager" and d["n"] == 4
    assert d["mape"] == pytest.approx(rep["mape"], rel=0.02)  # the same model, 4-digit values


needs_litert = pytest.mark.skipif(
    importlib.util.find_spec("litert_torch") is None
    or importlib.util.find_spec("roofline.runtimes.export") is None,
    reason="needs the runtimes extra (litert-torch) and roofline.runtimes.export")

#: LiteRT int8, XNNPACK, 1 thread, measured on the project's 2-core x86 machine (the
#: conversion recipe of `roofline export`; median of 30 runs)
MEASURED = {"mnv4_conv_small": 0.75, "mobilenetv2_100": 1.60, "mobilenetv1_100": 1.92,
            "mobileone_s0": 1.16}


@pytest.mark.slow
@needs_litert
def test_acceptance_fit_device_then_validate(tmp_path):
    """`fit MEAS --hw pixel6_cpu --fit peak,bandwidth -o p.yaml` then `validate --hw p.yaml
    -m ALL.csv --format json`, on model,latency_ms,dtype rows and no other option."""
    rows = "".join(f"{k},{v},int8\n" for k, v in MEASURED.items())
    meas = csv(tmp_path, "model,latency_ms,dtype\n" + rows, "meas.csv")
    p = tmp_path / "p.yaml"
    r = run("fit", meas, "--hw", "pixel6_cpu", "--fit", "peak,bandwidth", "-o", p)
    assert r.exit_code == 0, r.output
    assert f"wrote {p}" in r.output
    prof = get_profile(str(p))
    assert prof.runtime == "litert_xnnpack" and prof.fitted
    assert prof.peak_macs_per_s["int8"].basis == "fitted"
    # every dtype's peak scaled alike, so float islands keep pixel6's int8/fp32 ratio
    base = get_profile("pixel6_cpu")
    assert prof.peak("fp32") / prof.peak("int8") == pytest.approx(
        base.peak("fp32") / base.peak("int8"), rel=1e-3)
    v = run("validate", "--hw", p, "-m", meas, "--format", "json")
    assert v.exit_code == 0, v.output
    d = json.loads(v.output)
    assert d["runtime"] == "litert_xnnpack" and d["fusion"] == "deployed tflite"
    assert d["n"] == len(MEASURED)
    assert {m["model"] for m in d["models"]} == set(MEASURED)
    assert all(m["partitions"] >= 1 and m["layers"] > 10 for m in d["models"])
    # the fitted device reproduces what it was fitted to (4 convnets, 2 parameters)
    assert d["mape"] < 25
    assert all(m["plain_ms"] > 0 for m in d["models"])

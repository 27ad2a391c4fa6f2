"""roofline compare / roofline.compare, what-if devices, and the one model-input resolver.

Each compare number is checked against an independent path: ``analyze`` on one device (or a
``Roof`` changed by hand for a what-if); published top-1 against the zoo entry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

import roofline
from roofline.cli import main
from roofline.comparison import compare
from roofline.errors import InputError, NoInputShapeError
from roofline.hardware.registry import get_profile
from roofline.hardware.whatif import what_if
from roofline.models import zoo

MODELS = ["mnv4_conv_small", "mobilenetv3_large_100"]
DEVICES = ["pixel8_cpu", "h100_sxm"]


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def table():
    return compare(MODELS, DEVICES)


def test_compare_matches_analyze_per_device(table) -> None:
    assert list(table["model"]) == MODELS
    for _, row in table.iterrows():
        assert row["top1"] == zoo.get(row["model"]).published.top1
        for d in DEVICES:
            a = roofline.analyze(row["model"], hw=d)
            assert row[f"latency_s[{d}]"] == pytest.approx(a.totals["latency_s"], rel=1e-12)
            assert row[f"memory_bound_fraction[{d}]"] == pytest.approx(
                a.totals["memory_bound_fraction"], rel=1e-12)
            assert row["macs"] == a.totals["macs"] and row["params"] == a.totals["params"]
    assert table.attrs["devices"]["h100_sxm"]["dtype"] == get_profile("h100_sxm").default_dtype


def test_min_top1_keeps_and_marks_the_fastest(table) -> None:
    bar = 74.0  # mobilenetv3_large_100 (75.2) passes, mnv4_conv_small (73.8) does not
    kept = compare(MODELS, DEVICES, min_top1=bar)
    assert list(kept["model"]) == ["mobilenetv3_large_100"]
    assert kept["fastest_on"].tolist() == ["pixel8_cpu;h100_sxm"]
    both = compare(MODELS, DEVICES, min_top1=0)
    for d in DEVICES:  # the fastest by hand
        lat = dict(zip(table["model"], table[f"latency_s[{d}]"]))
        best = min(lat, key=lat.get)
        assert d in both.set_index("model").loc[best, "fastest_on"].split(";")
    with pytest.raises(InputError, match="the best published is 75"):
        compare(MODELS, DEVICES, min_top1=99)


def test_sort(table) -> None:
    by_cpu = compare(MODELS, DEVICES, sort="pixel8_cpu")
    assert list(by_cpu["latency_s[pixel8_cpu]"]) == sorted(table["latency_s[pixel8_cpu]"])
    assert list(compare(MODELS, DEVICES, sort="top1")["top1"]) == sorted(table["top1"],
                                                                         reverse=True)
    with pytest.raises(InputError, match="--sort 'x'.*pixel8_cpu, h100_sxm"):
        compare(MODELS, DEVICES, sort="x")


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_compare_cli_formats_and_output(fmt: str, tmp_path: Path, table) -> None:
    out = tmp_path / f"c.{fmt}"
    res = run("compare", *MODELS, "--hw", *DEVICES, "--min-top1", "70", "-f", fmt, "-o", out)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    if fmt == "json":
        data = json.loads(text)
        assert [r["model"] for r in data["rows"]] == MODELS and data["min_top1"] == 70
        assert data["rows"][0]["latency_s[h100_sxm]"] == pytest.approx(
            table["latency_s[h100_sxm]"][0])
    elif fmt == "csv":
        head = text.splitlines()[0].split(",")
        assert head[:7] == ["model", "family", "resolution", "batch", "macs", "params", "top1"]
        assert "latency_s[pixel8_cpu]" in head and head[-1] == "fastest_on"
    else:
        assert "pixel8_cpu" in text and "mnv4_conv_small" in text
        assert "fastest" in text


def test_what_if_profile_numbers() -> None:
    base = get_profile("pixel8_cpu")
    p = what_if(base, bw_scale=2, peak_scale=0.5)
    assert p.id == "pixel8_cpu:what-if" and "[what-if: peak x0.5, DRAM x2]" in p.name
    assert p.mem_bw_bytes_per_s.value == 2 * base.mem_bw_bytes_per_s.value
    assert p.peak("fp16") == 0.5 * base.peak("fp16")
    assert p.roof().basis == "what-if" and p.mem_bw_bytes_per_s.basis == "what-if"
    q = what_if(base, peak=1e12, mem_bw=1e11, dtype="fp16")
    assert q.dtypes == ("fp16",) and q.default_dtype == "fp16"
    assert q.ridge_point() == pytest.approx(10.0)
    assert q.name.endswith("[what-if: peak 1 TMAC/s, DRAM 100 GB/s]")
    assert what_if(base) is base
    with pytest.raises(InputError, match="--peak or --peak-scale"):
        what_if(base, peak=1e12, peak_scale=2)
    with pytest.raises(InputError, match="--mem-bw must be a positive"):
        what_if(base, mem_bw=0)


def test_what_if_at_the_cli_matches_a_changed_roof() -> None:
    res = run("analyze", "mnv4_conv_small", "--hw", "pixel8_cpu", "--mem-bw", "1e10",
              "--peak-scale", "2", "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    roof = get_profile("pixel8_cpu").roof()
    by_hand = roofline.analyze("mnv4_conv_small", hw=roof.with_(
        mem_bw_bytes_per_s=1e10, peak_macs_per_s=2 * roof.peak_macs_per_s))
    assert data["totals"]["latency_s"] == pytest.approx(by_hand.totals["latency_s"], rel=1e-12)
    assert data["hardware"]["id"] == "pixel8_cpu:what-if" and data["hardware"]["basis"] == "what-if"
    assert "what-if: peak x2, DRAM 10 GB/s" in data["hardware"]["name"]
    text = run("analyze", "mnv4_conv_small", "--bw-scale", "2", "--top", "0").stdout
    assert "pixel8_cpu:what-if" in text and "[what-if: DRAM x2]" in text
    res = run("compare", "mnv4_conv_small", "--hw", "pixel8_cpu", "h100_sxm", "--bw-scale", "3",
              "-f", "csv")
    assert "latency_s[pixel8_cpu:what-if]" in res.stdout and "h100_sxm:what-if" in res.stdout


def test_what_if_errors_are_one_line() -> None:
    res = run("analyze", "mnv4_conv_small", "--bw-scale", "-1")
    assert res.exit_code == 2 and res.stderr == (
        "error: --bw-scale must be a positive finite number, got -1.0\n")
    res = run("compare", "mnv4_conv_small", "--hw", "pixel8_cpu", "--peak", "1e12",
              "--peak-scale", "2")
    assert res.exit_code == 2 and "give --peak or --peak-scale, not both" in res.stderr


# ------------------------------------------------------------------- the one model resolver

FACTORIES = '''
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


def plain():
    return Tiny()


def with_shape():
    return Tiny(), (1, 3, 32, 32)


class Declared(Tiny):
    input_shape = (1, 3, 16, 16)


def attribute():
    return Declared()
'''


@pytest.fixture()
def factories(tmp_path: Path) -> Path:
    path = tmp_path / "mynet.py"
    path.write_text(FACTORIES)
    return path


def _macs_by_hand(h: int) -> int:
    return 8 * 3 * 9 * h * h + 8 * 10  # conv (out elements x C_in x k x k) + linear


def test_factory_may_return_its_input_shape(factories: Path) -> None:
    a = roofline.analyze(f"{factories}:with_shape", cache=False)
    assert a.input_shapes == [[1, 3, 32, 32]] and a.resolution == 32
    assert a.totals["macs"] == _macs_by_hand(32)
    b = roofline.analyze(f"{factories}:attribute", cache=False, batch=4)
    assert b.input_shapes == [[4, 3, 16, 16]] and b.batch == 4
    assert b.totals["macs"] == 4 * _macs_by_hand(16)
    assert b.totals["macs_per_image"] == _macs_by_hand(16)
    c = roofline.analyze(f"{factories}:with_shape", resolution=8, cache=False)  # -r wins
    assert c.input_shapes == [[1, 3, 8, 8]]


def test_no_input_size_names_only_the_commands_options(factories: Path) -> None:
    with pytest.raises(NoInputShapeError) as err:
        roofline.analyze(f"{factories}:plain", cache=False)
    assert "--" not in str(err.value)  # the library names no command-line option
    res = run("analyze", f"{factories}:plain")
    assert res.exit_code == 2
    assert "pass --resolution or --input-shape" in res.stderr
    res = run("compare", f"{factories}:plain", "--input-shape", "2,3,20,20", "-f", "json")
    row = json.loads(res.stdout)["rows"][0]
    assert row["batch"] == 2 and row["macs"] == 2 * _macs_by_hand(20)
    table = run("compare", f"{factories}:with_shape", "mnv4_conv_small").stdout
    line = next(x for x in table.splitlines() if x.startswith(f"{factories}:with_shape"))
    assert line.split()[1:3] == ["-", "32"]  # no family, no nan


def test_explicit_input_shape_sets_the_batch() -> None:
    a = roofline.analyze("mnv4_conv_small", hw="pixel8_cpu", input_shape=(8, 3, 224, 224))
    one = roofline.analyze("mnv4_conv_small", hw="pixel8_cpu")
    assert a.batch == 8
    assert a.totals["latency_per_image_s"] == pytest.approx(a.totals["latency_s"] / 8)
    assert a.totals["images_per_s"] == pytest.approx(8 / a.totals["latency_s"])
    assert a.totals["macs_per_image"] == one.totals["macs"]
    assert "per image (batch 8)" in run("analyze", "mnv4_conv_small", "--input-shape",
                                         "8,3,224,224", "--top", "0").stdout


# ----------------------------------------------------------------------- reading the result


def test_analysis_reads_well() -> None:
    a = roofline.analyze("mnv4_conv_small", hw="pixel8_cpu", batch=2)
    text = repr(a)
    assert len(text) < 800 and text.startswith("<Analysis mnv4_conv_small")
    assert "per image (batch 2)" in text and "predicted" in text
    assert "<table" in a._repr_html_() and "mnv4_conv_small" in a._repr_html_()
    for depth in (1, 2, 3):
        m = a.by_module(depth)
        assert m["macs"].sum() == a.totals["macs"] and m["layers"].sum() == a.totals["layers"]
        assert m["latency_s"].sum() == pytest.approx(a.totals["latency_s"])
        assert m["share_of_time"].sum() == pytest.approx(1.0)
        assert all(n.count(".") < depth for n in m["module"])
    one = a.by_module(1).set_index("module")
    blocks = a.layers[a.layers["name"].str.startswith("blocks.")]
    assert one.loc["blocks", "macs"] == blocks["macs"].sum()
    with pytest.raises(InputError):
        a.by_module(0)


def test_top_level_ops_have_one_name(factories: Path) -> None:
    a = roofline.analyze(f"{factories}:with_shape", hw="pixel8_cpu", cache=False)
    root = a.layers[a.layers["name"] == "(model)"]
    assert len(root) == 1 and root["op"].iloc[0] == "reduce"  # .mean() in the forward itself
    assert "" not in set(a.layers["name"])
    assert "(model)" in set(a.by_module(1)["module"])
    assert not math.isnan(a.totals["latency_s"])


# ---------------------------------------------- the shared options on other commands


def test_sweep_takes_what_if_and_model_input(factories: Path) -> None:
    res = run("sweep", "mnv4_conv_small", "--hw", "pixel8_cpu", "--hold", "peak",
              "--peak-scale", "2", "--rp", "0,5", "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    peak = 2 * get_profile("pixel8_cpu").peak()
    assert data["preset"]["peak_macs_per_s"] == pytest.approx(peak)
    assert "pixel8_cpu:what-if" in data["preset"]["label"]
    layers = roofline.analyze("mnv4_conv_small", hw="pixel8_cpu").layers
    at5 = [r for r in data["rows"] if r["rp"] == 5][0]
    assert at5["latency_s"] == pytest.approx(
        layers["macs"].clip(lower=5 * layers["bytes"]).sum() / peak, rel=1e-12)
    res = run("sweep", f"{factories}:plain", "-r", "12", "--rp", "0", "-f", "json")
    assert json.loads(res.stdout)["rows"][0]["mac_equivalents"] == _macs_by_hand(12)
    res = run("sweep", f"{factories}:plain", "--rp", "0")
    assert res.exit_code == 2 and "pass --resolution or --input-shape" in res.stderr
    res = run("sweep", "mnv4_conv_small", "--mem-bw", "1e9")
    assert res.exit_code == 2 and "--mem-bw changes a device: pass --hw too" in res.stderr


@pytest.mark.slow  # matplotlib
def test_plot_draws_a_declared_custom_model_and_names_no_missing_option(
        factories: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.svg"
    res = run("plot", "roofline", f"{factories}:with_shape", "--hw", "pixel8_cpu",
              "--bw-scale", "2", "-o", out)
    assert res.exit_code == 0, res.output
    assert "pixel8_cpu:what-if" in out.read_text()
    res = run("plot", "roofline", f"{factories}:plain", "-o", tmp_path / "x.svg")
    assert res.exit_code == 2 and "pass --resolution or --input-shape" in res.stderr
    assert "let its factory return (model, input_shape)" in res.stderr
    res = run("plot", "roofline", f"{factories}:plain", "-r", "12", "-o", out)
    assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_survey_takes_what_if(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    res = run("survey", "mnv4_conv_small", "--hw", "pixel8_cpu", "--bw-scale", "2",
              "--no-compare", "-q", "-j", "1", "-o", out)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "pixel8_cpu:what-if" in text


def test_measure_uses_the_one_resolver(factories: Path) -> None:
    from roofline.calibration.real_model import real_model

    rm = real_model(f"{factories}:with_shape")
    assert tuple(rm.input.shape) == (1, 3, 32, 32) and rm.resolution == 32
    res = run("measure", f"{factories}:plain", "--repeats", "1")
    assert res.exit_code == 2 and "pass --resolution or --input-shape, or let its factory" in res.stderr


@pytest.mark.slow
def test_survey_of_a_model_that_declares_its_input(factories: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    res = run("survey", f"{factories}:with_shape", "--hw", "pixel8_cpu", "-q", "-j", "1",
              "-o", out)
    assert res.exit_code == 0, res.output
    import pandas as pd

    row = pd.read_csv(out).iloc[0]
    assert row["status"] == "ok" and row["macs"] == _macs_by_hand(32)
    assert row["fcm_check"] == "exact" and row["resolution"] == 32


def test_public_compare_is_the_function() -> None:
    """The module is roofline.comparison, so importing it cannot shadow roofline.compare."""
    import roofline.comparison  # noqa: F401

    assert callable(roofline.compare) and roofline.compare is compare

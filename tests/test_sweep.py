"""Ridge-point sweeps: hand-computed values, crossovers, presets, grid parsing, the CLI.

Every expected number in the two-layer tests is worked out in the comment beside it.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from roofline.cli import main
from roofline.errors import InputError
from roofline.latency.equation import device_at, layer_latencies, layer_times, sweep, totals
from roofline.latency.presets import (
    DEFAULT_PRESET,
    PAPER_PRESET,
    Preset,
    get_preset,
    op_class,
    parse_ridge_points,
)

# layer A: 1000 MACs, 10 bytes -> intensity 100 MACs/B
# layer B:  100 MACs, 100 bytes -> intensity 1 MACs/B
TWO = pd.DataFrame({"macs": [1000, 100], "bytes": [10.0, 100.0]})


def test_two_layers_hold_peak_by_hand():
    # PeakMACs held at 1000 MAC/s; latency = sum_i max(macs_i, RP x bytes_i) / 1000
    df = sweep({"two": TWO}, [0, 1, 5, 100, 200], hold="peak", peak_macs_per_s=1e3,
               mem_bw_bytes_per_s=1.0)
    # RP 0:   1000 + 100                       = 1100   nothing memory-bound
    # RP 1:   1000 + max(100, 100)   = 1100            B at its ridge: compute-bound
    # RP 5:   1000 + max(100, 500)   = 1500            B memory-bound: 500 of 1500
    # RP 100: max(1000, 1000) + 10000 = 11000          A at its ridge: compute-bound
    # RP 200: 2000 + 20000           = 22000           both memory-bound
    assert df["mac_equivalents"].tolist() == [1100, 1100, 1500, 11000, 22000]
    np.testing.assert_allclose(df["latency_s"], [1.1, 1.1, 1.5, 11.0, 22.0])
    np.testing.assert_allclose(df["memory_bound_fraction"],
                               [0, 0, 500 / 1500, 10000 / 11000, 1.0])
    assert df["peak_macs_per_s"].tolist() == [1e3] * 5
    # BW = PeakMACs / RP: infinite at RP 0, 1000 B/s at RP 1, 10 B/s at RP 100
    assert df["mem_bw_bytes_per_s"].tolist() == [np.inf, 1000, 200, 10, 5]


def test_two_layers_hold_bandwidth_by_hand():
    # BW held at 10 B/s, PeakMACs = RP x 10; RP 0 uses the anchor peak 500 MAC/s, no memory
    df = sweep({"two": TWO}, [0, 5, 100], hold="bandwidth", peak_macs_per_s=500,
               mem_bw_bytes_per_s=10)
    # RP 0:   (1000 + 100) / 500                                  = 2.2 s
    # RP 5:   peak 50:  max(1000/50, 10/10) + max(100/50, 100/10) = 20 + 10 = 30 s
    # RP 100: peak 1000: max(1, 1) + max(0.1, 10)                 = 1 + 10 = 11 s
    np.testing.assert_allclose(df["latency_s"], [2.2, 30.0, 11.0])
    assert df["peak_macs_per_s"].tolist() == [500, 50, 1000]
    assert df["mem_bw_bytes_per_s"].tolist() == [np.inf, 10, 10]


def test_layer_latencies_by_hand():
    lat = layer_latencies(TWO, [0, 5, 200], hold="peak", peak_macs_per_s=1e3,
                          mem_bw_bytes_per_s=1.0)
    # A: 1000/1000 = 1 s until RP 100, then RP x 10 / 1000;  B: max(100, RP x 100) / 1000
    np.testing.assert_allclose(lat.to_numpy(), [[1.0, 1.0, 2.0], [0.1, 0.5, 20.0]])
    assert list(lat.columns) == [0, 5, 200]


@pytest.mark.parametrize("intensity", [0.5, 1.0, 7.25, 37.3, 100.0, 433.8])
def test_crossover_is_the_intensity(intensity):
    # one layer of the given intensity: compute-bound up to RP = intensity (inclusive),
    # memory-bound beyond it
    layer = pd.DataFrame({"macs": [intensity * 1000.0], "bytes": [1000.0]})
    grid = np.sort(np.concatenate([np.linspace(0, 500, 5001), [intensity]]))
    df = sweep({"one": layer}, grid, hold="peak", peak_macs_per_s=1e9, mem_bw_bytes_per_s=1)
    bound = df["memory_bound_fraction"].to_numpy()
    assert set(np.unique(bound)) <= {0.0, 1.0}
    flip = grid[np.argmax(bound > 0)]
    assert grid[bound == 0].max() == pytest.approx(intensity)
    assert flip > intensity and flip == grid[grid > intensity].min()


def test_crossover_per_layer_of_a_many_layer_table():
    rng = np.random.default_rng(0)
    macs = rng.uniform(1e3, 1e7, 300)
    nbytes = rng.uniform(1e2, 1e5, 300)
    grid = np.linspace(0, 500, 501)
    lat = layer_latencies(pd.DataFrame({"macs": macs, "bytes": nbytes}), grid, hold="peak",
                          peak_macs_per_s=1.0, mem_bw_bytes_per_s=1.0).to_numpy()
    memory_bound = lat > macs[:, None] + 1e-9
    # the first memory-bound RP of each layer is the first grid point above its intensity
    first = np.where(memory_bound.any(axis=1), grid[np.argmax(memory_bound, axis=1)], np.inf)
    intensity = macs / nbytes
    expect = np.array([grid[grid > i].min() if (grid > i).any() else np.inf for i in intensity])
    np.testing.assert_array_equal(first, expect)


def test_sweep_matches_layer_times_at_a_device_ridge_point():
    # holding a device's peak, the sweep at its ridge point is the device's latency
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"macs": rng.integers(1, 10**7, 50), "bytes": rng.uniform(1, 1e5, 50)})
    roof = SimpleNamespace(peak_macs_per_s=2.7e11, mem_bw_bytes_per_s=4.9e10,
                           overhead_s_per_layer=0.0, compute_efficiency=1.0,
                           memory_efficiency=1.0)
    rp = roof.peak_macs_per_s / roof.mem_bw_bytes_per_s
    timed = layer_times(table.assign(weight_bytes=0.0, input_bytes=table["bytes"],
                                     output_bytes=0.0, params=0), roof)
    expected = totals(timed)
    for hold in ("peak", "bandwidth"):
        df = sweep({"m": table}, [rp], hold=hold, peak_macs_per_s=roof.peak_macs_per_s,
                   mem_bw_bytes_per_s=roof.mem_bw_bytes_per_s)
        assert df["latency_s"].iloc[0] == pytest.approx(expected["latency_s"], rel=1e-12)
        assert df["memory_bound_fraction"].iloc[0] == pytest.approx(
            expected["memory_bound_fraction"], rel=1e-12)


def test_many_models_one_matrix_and_empty_models():
    a = pd.DataFrame({"macs": [10, 20], "bytes": [1.0, 2.0]})
    b = pd.DataFrame({"macs": [5], "bytes": [50.0]})
    empty = pd.DataFrame({"macs": pd.Series([], dtype=int), "bytes": pd.Series([], dtype=float)})
    df = sweep({"a": a, "empty": empty, "b": b}, [0, 10], hold="peak", peak_macs_per_s=1,
               mem_bw_bytes_per_s=1)
    assert df["model"].tolist() == ["a", "a", "empty", "empty", "b", "b"]
    assert df["rp"].tolist() == [0, 10] * 3
    # a: 30 then 10+20 = 30 (both at their ridge, 10);  b: 5 then 500
    assert df["mac_equivalents"].tolist() == [30, 30, 0, 0, 5, 500]
    assert df["memory_bound_fraction"].tolist() == [0, 0, 0, 0, 0, 1]
    assert list(df.columns) == ["model", "rp", "latency_s", "mac_equivalents",
                                "memory_bound_fraction", "peak_macs_per_s",
                                "mem_bw_bytes_per_s"]
    assert sweep({}, [0, 1], hold="peak", peak_macs_per_s=1, mem_bw_bytes_per_s=1).empty


def test_device_at():
    peak, bw = device_at(np.array([0.0, 5.0, 500.0]), "bandwidth", 2e11, 4e10)
    assert peak.tolist() == [2e11, 2e11, 2e13] and bw.tolist() == [np.inf, 4e10, 4e10]
    peak, bw = device_at(np.array([0.0, 5.0]), "peak", 2e11, 4e10)
    assert peak.tolist() == [2e11, 2e11] and bw.tolist() == [np.inf, 4e10]
    with pytest.raises(ValueError):
        device_at(np.array([1.0]), "both", 1, 1)


# --------------------------------------------------------------------------- presets


def layer_rows(*rows):
    cols = ["name", "op", "macs", "weight_bytes", "input_bytes", "output_bytes", "input_shape"]
    df = pd.DataFrame(rows, columns=cols)
    df["bytes"] = df["weight_bytes"] + df["input_bytes"] + df["output_bytes"]
    df["intensity"] = df["macs"] / df["bytes"]
    return df


TABLE = layer_rows(
    ("stem", "conv2d", 1000, 100.0, 300.0, 400.0, "1x3x10x10"),
    ("dw", "dwconv2d", 90, 9.0, 400.0, 400.0, "1x4x10x10"),
    ("add", "elementwise", 0, 0.0, 800.0, 400.0, "1x4x10x10,1x4x10x10"),
    ("pool", "reduce", 0, 0.0, 400.0, 4.0, "1x4x10x10"),
    ("head", "conv2d", 40, 40.0, 4.0, 10.0, "1x4x1x1"),
    ("fc", "linear", 100, 110.0, 10.0, 10.0, "1x10"),
    ("attn", "attention", 50, 0.0, 30.0, 10.0, "1x2x5x3,1x2x5x3,1x2x5x3"),
)


def test_paper_preset_counts_mac_layers_weights_and_input():
    t = PAPER_PRESET.apply(TABLE)
    assert t["name"].tolist() == ["stem", "dw", "head", "fc", "attn"]
    # weights + input; the stem's 3-channel input read as 4 channels: 300 x 4/3 = 400
    assert t["bytes"].tolist() == [100 + 400, 9 + 400, 40 + 4, 110 + 10, 0 + 30]
    assert t["intensity"].iloc[0] == 1000 / 500
    assert list(t.index) == [0, 1, 4, 5, 6]  # original row numbers kept
    assert TABLE["input_bytes"].iloc[0] == 300  # the caller's table is not changed


def test_default_preset_keeps_every_layer_and_byte():
    t = DEFAULT_PRESET.apply(TABLE)
    pd.testing.assert_series_equal(t["bytes"], TABLE["bytes"])
    assert len(t) == len(TABLE)


def test_op_class_draws_1x1_convs_as_fc():
    assert op_class(TABLE).tolist() == ["Conv2D", "DW-Conv2D", "other", "other", "FC", "FC",
                                        "attention"]


def test_preset_sweep_by_hand():
    # the paper preset at RP 5: PeakMACs = 5 x 40 GB/s = 2e11; MAC-equivalents
    # stem max(1000, 2500) + dw max(90, 2045) + head max(40, 220) + fc max(100, 600)
    #   + attn max(50, 150) = 2500 + 2045 + 220 + 600 + 150 = 5515
    df = PAPER_PRESET.sweep({"t": TABLE}, [0, 5])
    assert df["mac_equivalents"].tolist() == [1000 + 90 + 40 + 100 + 50, 5515]
    np.testing.assert_allclose(df["latency_s"], [1280 / 2e11, 5515 / 2e11])
    assert df["preset"].tolist() == ["paper", "paper"]


def test_labels_name_the_conventions():
    assert PAPER_PRESET.label == ("preset: paper \u2014 int8, weights+input bytes, conv/dw/FC only, "
                           "BW 40 GB/s, PeakMACs = RP x BW (RP 0 at 200 GMAC/s)")
    assert DEFAULT_PRESET.label.startswith("preset: default \u2014 ")
    assert "nominal" in DEFAULT_PRESET.label and "PeakMACs 200 GMAC/s" in DEFAULT_PRESET.label


def test_anchored_to_a_device():
    roof = SimpleNamespace(hardware_id="dev", dtype="fp16", fitted=True,
                           peak_macs_per_s=1e12, mem_bw_bytes_per_s=1e11)
    p = DEFAULT_PRESET.anchored(roof)
    assert (p.peak_macs_per_s, p.mem_bw_bytes_per_s, p.dtype) == (1e12, 1e11, "fp16")
    assert "anchored to dev fp16 [fitted]" in p.label
    assert PAPER_PRESET.anchored(roof).dtype == "int8"  # the paper preset keeps its dtype
    assert p.device(10) == (1e12, 1e11)
    assert PAPER_PRESET.device(500) == (2e13, 4e10)


def test_preset_errors():
    with pytest.raises(InputError, match="paper"):
        get_preset("papr")
    with pytest.raises(InputError, match="bandwidth, peak"):
        PAPER_PRESET.with_(hold="both")
    with pytest.raises(InputError, match="dtype"):
        PAPER_PRESET.with_(dtype="int7")
    assert get_preset(PAPER_PRESET) is PAPER_PRESET
    assert isinstance(get_preset("Default"), Preset)


# --------------------------------------------------------------------------- grids


@pytest.mark.parametrize("spec, expect", [
    ("0:500:5", np.arange(0, 501, 5.0)),
    ("0,5,50,500", [0, 5, 50, 500]),
    ("0:3", [0, 1, 2, 3]),
    ("0:1:0.25", [0, 0.25, 0.5, 0.75, 1]),
    ("50", [50]),
    (7, [7]),
    ([1, 2], [1, 2]),
])
def test_ridge_points(spec, expect):
    np.testing.assert_allclose(parse_ridge_points(spec), expect)


@pytest.mark.parametrize("spec, words", [
    ("5:0", "stop is below start"), ("0:10:0", "step must be > 0"), ("a,b", "not a number"),
    ("-1,5", "from 0 to"), ("", "no ridge points"), ("0:1e9:1e-3", "at most"), ("nan", "from 0 to"),
])
def test_ridge_points_errors(spec, words):
    with pytest.raises(InputError, match=words):
        parse_ridge_points(spec)


# --------------------------------------------------------------------------- CLI


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_sweep_paper_csv():
    r = run("sweep", "mnv4_conv_small", "mnv4_conv_medium", "mnv4_conv_large",
            "--preset", "paper", "--rp", "0,5,50,500", "--format", "csv")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(pd.io.common.StringIO(r.output))
    assert list(df.columns)[:3] == ["model", "rp", "latency_ms"]
    assert len(df) == 12 and set(df["preset"]) == {"paper"}
    s = df[df["model"] == "mnv4_conv_small"].set_index("rp")
    # RP 0 is MAC counting at 200 GMAC/s: ~0.19 GMACs -> ~0.93 ms
    assert s.loc[0, "latency_ms"] == pytest.approx(s.loc[0, "mac_equivalents"] / 2e11 * 1e3)
    assert 0.8 < s.loc[0, "latency_ms"] < 1.1
    # with bandwidth held, a faster-compute device is never slower
    for _, m in df.groupby("model"):
        assert m.set_index("rp").loc[[5, 50, 500], "latency_ms"].is_monotonic_decreasing


def test_cli_sweep_table_and_json(tmp_path):
    r = run("sweep", "mnv4_conv_small", "--preset", "paper", "--rp", "0,500")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("preset: paper \u2014 int8")
    assert "predicted latency (ms)" in r.output and "memory-bound" in r.output
    out = tmp_path / "s.json"
    r = run("sweep", "mnv4_conv_small", "--hw", "pixel8_cpu", "--hold", "peak", "--rp", "0:20:10",
            "-f", "json", "-o", str(out))
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["preset"]["name"] == "default" and data["preset"]["hold"] == "peak"
    assert "anchored to pixel8_cpu int8" in data["preset"]["label"]
    assert [row["rp"] for row in data["rows"]] == [0, 10, 20]
    assert data["rows"][0]["mem_bw_bytes_per_s"] is None  # infinite at RP 0: null in JSON


@pytest.mark.parametrize("args, words", [
    (["--rp", "5:0"], "stop is below start"),
    (["--hw", "pixel9_cpu"], "pixel9_cpu"),
    (["--dtype", "int7"], "int7"),
])
def test_cli_sweep_user_errors(args, words):
    r = CliRunner().invoke(main, ["sweep", "mnv4_conv_small", *args])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.output


def test_sweep_side_imports_neither_torch_nor_matplotlib():
    import subprocess
    import sys

    code = ("import sys, roofline.latency.presets, roofline.latency.equation; "
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_resolve_preset_applies_options_and_anchors():
    from roofline.latency.presets import resolve_preset

    p, roof = resolve_preset("paper")
    assert p == PAPER_PRESET and roof is None
    p, roof = resolve_preset("paper", hw="pixel8_cpu", hold="peak", dtype="fp16")
    assert roof.hardware_id == "pixel8_cpu" and roof.dtype == "fp16"
    assert (p.hold, p.dtype, p.peak_macs_per_s) == ("peak", "fp16", roof.peak_macs_per_s)
    assert "anchored to pixel8_cpu fp16" in p.label
    with pytest.raises(InputError, match="unknown hold"):
        resolve_preset("default", hold="both")


def test_pinned_fixes_the_dtype_counted():
    assert DEFAULT_PRESET.pinned().dtype == "fp32" and PAPER_PRESET.pinned() == PAPER_PRESET
    assert DEFAULT_PRESET.pinned(SimpleNamespace(dtype="int8")).dtype == "int8"


def test_traced_tables_and_sweep_models():
    from roofline.plots.tables import sweep_models, traced_tables

    t = pd.DataFrame({"macs": [10.0], "bytes": [1.0]})
    assert traced_tables({"x": t}, DEFAULT_PRESET)["x"] is t
    p, df = sweep_models(["mnv4_conv_small", "mnv4_conv_small"], [0.0, 50.0], "default")
    assert p.dtype == "fp32" and list(df["model"]) == ["mnv4_conv_small"] * 2
    assert list(df["rp"]) == [0.0, 50.0] and set(df["preset"]) == {"default"}


def test_sweep_table_prints_even_decimals():
    from roofline.render.report import sweep_text

    df = pd.DataFrame({"model": ["a", "a", "b", "b"], "rp": [0.0, 5.0, 0.0, 5.0],
                       "latency_s": [0.93e-3, 0.982e-3, 0.1749e-3, 12.5e-3],
                       "memory_bound_fraction": [0.0, 0.5, 0.0, 1.0]})
    text = sweep_text(df, DEFAULT_PRESET, "table")
    assert "0.930" in text and "0.982" in text and "0.175" in text and "12.500" in text
    assert "0.1749" not in text and " 0.93 " not in text


def test_cli_sweep_takes_what_ifs_and_model_input(tmp_path):
    from roofline.hardware.registry import get_profile
    from roofline.units import si

    r = CliRunner().invoke(main, ["sweep", "mnv4_conv_small", "--rp", "0,50", "--hw",
                                  "pixel8_cpu", "--hold", "peak", "--peak-scale", "2"])
    assert r.exit_code == 0, r.output
    peak = get_profile("pixel8_cpu").roof("int8").peak_macs_per_s
    assert "anchored to pixel8_cpu:what-if int8" in r.stdout
    assert f"PeakMACs {si(2 * peak, 'MAC/s')}" in r.stdout
    r = CliRunner().invoke(main, ["sweep", "mnv4_conv_small", "--rp", "0", "--resolution",
                                  "128", "-f", "json"])
    small = json.loads(r.stdout)["rows"][0]["mac_equivalents"]
    full = json.loads(CliRunner().invoke(main, ["sweep", "mnv4_conv_small", "--rp", "0", "-f",
                                                "json"]).stdout)["rows"][0]["mac_equivalents"]
    assert small < full / 2  # 128 px has about a third of the MACs of 224 px

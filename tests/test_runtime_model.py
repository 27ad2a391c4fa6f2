"""Runtimes as data, the runtime-aware roofline and its fit: hand-computed cases and
synthetic data sets whose parameters are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from roofline.calibration.runtime_fit import (
    FitError,
    determined,
    fit_runtime,
    leave_one_out,
    parse_free,
    runtime_fit_report,
)
from roofline.errors import ProfileError, UnknownHardwareError
from roofline.hardware.runtime import (
    NEUTRAL,
    PARAMETERS,
    get_runtime,
    load_runtime,
    parse_runtime,
    runtime_ids,
    runtime_yaml,
)
from roofline.latency.equation import layer_times
from roofline.latency.runtime_model import (
    DeviceRoofs,
    RuntimeData,
    layer_features,
    runtime_layer_times,
    runtime_totals,
)

DEV = DeviceRoofs({"int8": 6e10, "fp32": 1.5e10}, "int8", 2e10)
TRUE = {"conv_efficiency": 0.6, "depthwise_efficiency": 0.2, "matmul_efficiency": 0.4,
        "memory_efficiency": 3.0, "island_memory_efficiency": 0.5, "op_overhead_macs": 2e5,
        "partition_overhead_macs": 1e6, "island_op_overhead_macs": 5e5}


def deployed(rows: list[tuple]) -> pd.DataFrame:
    """A deployed layer table: (op kind, macs, bytes, act_dtype, float_island, delegated,
    partition or None)."""
    df = pd.DataFrame(rows, columns=["op", "macs", "bytes", "act_dtype", "float_island",
                                     "delegated", "partition"])
    df["partition"] = df["partition"].astype("Int64")
    return df


# ---------------------------------------------------------------------------- runtime files


def write(tmp_path, text: str, name: str = "rt.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """name: Test runtime
graph: tflite
fusion: tflite
parameters:
  conv_efficiency: {value: 0.5, basis: fitted, source: "roofline fit m.csv --fit runtime"}
  op_overhead_macs: {value: 1.0e+5, basis: fitted, source: "roofline fit m.csv", note: per op}
"""


def test_runtime_file_values_and_neutral_defaults(tmp_path):
    rt = load_runtime(write(tmp_path, GOOD))
    assert rt.id == "rt" and rt.graph == "tflite" and rt.fusion == "tflite" and rt.fitted
    assert rt.value("conv_efficiency") == 0.5
    assert rt.value("op_overhead_macs") == 1e5
    assert rt.value("depthwise_efficiency") == 1.0      # not named: neutral
    assert rt.value("partition_overhead_macs") == 0.0
    assert rt.parameters["op_overhead_macs"].note == "per op"
    assert set(rt.values()) == set(PARAMETERS)


def test_runtime_yaml_round_trip(tmp_path):
    rt = load_runtime(write(tmp_path, GOOD))
    new = rt.with_parameters({"memory_efficiency": 2.345678}, basis="fitted", source="cmd")
    import yaml

    back = parse_runtime(yaml.safe_load(runtime_yaml(new, "header\nline")), "x", "rt")
    assert back.value("memory_efficiency") == 2.346  # 4 significant digits
    assert back.value("conv_efficiency") == 0.5
    assert runtime_yaml(new, "header").startswith("# header\n")


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("graph: tflite", "graph: tflit"), "unknown graph 'tflit'"),
    (GOOD.replace("fusion: tflite", "fusion: most"), "unknown fusion 'most'"),
    (GOOD.replace("conv_efficiency:", "conv_eficiency:"), "unknown parameter 'conv_eficiency'"),
    (GOOD.replace("value: 0.5", "value: 0"), "an efficiency must be > 0"),
    (GOOD.replace("value: 1.0e+5", "value: -1"), "an overhead must be >= 0"),
    (GOOD.replace("basis: fitted, source: \"roofline fit m.csv --fit runtime\"", "basis: fitted"),
     "missing key 'source'"),
    (GOOD.replace("basis: fitted, source: \"roofline fit m.csv\"", "basis: guessed, source: x"),
     "unknown basis 'guessed'"),
    (GOOD + "colour: red\n", "unknown key 'colour'"),
    (GOOD + "name: again\n", "duplicate key 'name'"),
    ("name: &a x\ngraph: *a\nfusion: none\n", "anchors and aliases"),
    ("- a list\n", "expected a mapping"),
])
def test_bad_runtime_files_say_what_and_where(tmp_path, text, message):
    with pytest.raises(ProfileError, match=message) as e:
        load_runtime(write(tmp_path, text))
    assert str(tmp_path / "rt.yaml") in str(e.value)


def test_builtin_runtimes_and_lookup():
    assert {"litert_xnnpack", "torch_eager", "onnxruntime_cpu"} <= set(runtime_ids())
    lite = get_runtime("litert_xnnpack")
    assert (lite.graph, lite.fusion) == ("tflite", "tflite")
    eager = get_runtime("torch_eager")
    assert (eager.graph, eager.fusion, dict(eager.parameters)) == ("torch", "none", {})
    with pytest.raises(UnknownHardwareError, match="did you mean litert_xnnpack"):
        get_runtime("litert_xnnpak")


def test_user_runtime_dir_overrides(tmp_path, monkeypatch):
    (tmp_path / "runtimes").mkdir()
    write(tmp_path / "runtimes", GOOD, "torch_eager.yaml")
    monkeypatch.setenv("ROOFLINE_HW_PATH", str(tmp_path))
    assert get_runtime("torch_eager").graph == "tflite"


# ---------------------------------------------------------------------------- the model


def test_runtime_latency_by_hand():
    t = deployed([
        ("conv2d", 6e6, 1e5, "int8", False, True, 0),         # compute: 6e6/(6e10*.6)=166.7us
        ("dwconv2d", 5e4, 4e5, "int8", False, True, 0),       # memory 6.667us > 4.17us
        ("quantize", 0, 3e5, "float32", False, True, 0),       # memory: 5us, island edge
        ("elementwise", 0, 1e5, "float32", True, False, None),  # float: 1e5/(2e10*.5)=10us
        ("matmul", 3e6, 1e4, "float32", True, True, 1),       # fp32: 3e6/(1.5e10*.4)=500us
        ("activation", 0, 2e5, "int8", False, False, None),   # outside: 2e5/(2e10*.5)=20us
    ])
    out = runtime_layer_times(t, DEV, TRUE)
    body = [6e6 / 3.6e10, 4e5 / 6e10, 3e5 / 6e10, 1e5 / 1e10, 3e6 / 6e9, 2e5 / 1e10]
    assert out["compute_s"].iloc[4] == pytest.approx(3e6 / 6e9)
    assert list(out["bound"]) == ["compute", "memory", "memory", "memory", "compute", "memory"]
    # overheads: 6 ops, 2 partitions, 3 island ops (the quantize, the two undelegated ops)
    over = (6 * 2e5 + 2 * 1e6 + 3 * 5e5) / 6e10
    assert out["overhead_s"].sum() == pytest.approx(over)
    assert out["latency_s"].sum() == pytest.approx(sum(body) + over)
    tot = runtime_totals(out)
    assert tot["partitions"] == 2 and tot["ops"] == 6 and tot["float_island_ops"] == 2
    # the plain roofline beside it: int8 peak for every layer, DRAM bandwidth, no overheads
    plain = sum(max(m / 6e10, b / 2e10) for m, b in [(6e6, 1e5), (5e4, 4e5), (0, 3e5),
                                                      (0, 1e5), (3e6, 1e4), (0, 2e5)])
    assert tot["plain_latency_s"] == pytest.approx(plain)


def test_neutral_runtime_on_a_torch_table_is_the_plain_roofline():
    t = pd.DataFrame({"op": ["conv2d", "elementwise", "linear"], "macs": [5e6, 0, 2e6],
                      "bytes": [1e5, 8e5, 3e6]})

    class Roof:
        peak_macs_per_s, mem_bw_bytes_per_s = 6e10, 2e10
        overhead_s_per_layer, compute_efficiency, memory_efficiency = 0.0, 1.0, 1.0

    out = runtime_layer_times(t, DEV, dict(NEUTRAL))
    assert np.allclose(out["latency_s"], layer_times(t, Roof())["latency_s"])
    assert out["overhead_s"].sum() == 0


def synthetic(n_models: int = 40, seed: int = 0, noise: float = 0.0):
    rng = np.random.default_rng(seed)
    kinds = ["conv2d", "dwconv2d", "matmul", "elementwise", "quantize", "copy", "linear"]
    tables = []
    for _ in range(n_models):
        n = int(rng.integers(30, 120))
        k = rng.choice(kinds, n, p=[.3, .15, .05, .2, .1, .1, .1])
        mac_kind = np.isin(k, ["conv2d", "dwconv2d", "matmul", "linear"])
        macs = np.where(mac_kind, rng.lognormal(15, 1.5, n), 0.0)
        fl = (k != "quantize") & (rng.random(n) < 0.1)
        part = np.cumsum(rng.random(n) < 0.03)
        tables.append(deployed(list(zip(k, macs, rng.lognormal(11, 1.5, n),
                                        np.where(fl, "float32", "int8"), fl, ~fl,
                                        [None if f else int(p) for f, p in zip(fl, part)]))))
    truth = np.array([runtime_layer_times(t, DEV, TRUE)["latency_s"].sum() for t in tables])
    measured = truth * np.exp(rng.normal(0, noise, n_models)) if noise else truth
    data = RuntimeData.from_tables(tables, measured, [f"m{i}" for i in range(n_models)], "int8",
                                   families=["a" if i % 2 else "b" for i in range(n_models)])
    return tables, data


def test_flat_prediction_equals_per_table():
    tables, data = synthetic(8)
    per = [runtime_layer_times(t, DEV, TRUE)["latency_s"].sum() for t in tables]
    assert np.allclose(data.predict(DEV, TRUE), per, rtol=1e-12)
    assert np.allclose(data.subset([3, 5]).predict(DEV, TRUE), [per[3], per[5]], rtol=1e-12)
    assert data.subset([3, 5]).families == [data.families[3], data.families[5]]


def test_jacobian_matches_finite_differences():
    _, data = synthetic(6)
    free = [*TRUE, "peak", "bandwidth"]
    jac = data.jacobian(DEV, TRUE, free)
    h = 1e-6
    for j, name in enumerate(free):
        if name == "peak":
            up = data.predict(DEV.scaled(peak=DEV.peak * np.exp(h)), TRUE)
        elif name == "bandwidth":
            up = data.predict(DEV.scaled(bandwidth=DEV.mem_bw_bytes_per_s * np.exp(h)), TRUE)
        else:
            up = data.predict(DEV, {**TRUE, name: TRUE[name] * np.exp(h)})
        fd = (up - data.predict(DEV, TRUE)) / h
        assert np.allclose(jac[:, j], fd, rtol=1e-4, atol=1e-12), name


def test_fit_recovers_known_runtime_parameters():
    _, data = synthetic(16)
    f = fit_runtime(data, DEV, dict(NEUTRAL), list(TRUE))
    for k, v in TRUE.items():
        assert f.values[k] == pytest.approx(v, rel=1e-3), k
    assert not f.warnings


def test_fit_of_device_scalars_keeps_the_runtime():
    _, data = synthetic(20)
    start = DeviceRoofs({"int8": 2e10, "fp32": 5e9}, "int8", 5e9)  # a wrong device
    f = fit_runtime(data, start, TRUE, ["peak", "bandwidth"])
    assert f.device.peak == pytest.approx(6e10, rel=1e-4)
    assert f.device.peaks["fp32"] == pytest.approx(1.5e10, rel=1e-4)  # scaled alike
    assert f.device.mem_bw_bytes_per_s == pytest.approx(2e10, rel=1e-4)
    assert f.values == {**dict(NEUTRAL), **TRUE}


def test_report_and_leave_one_out():
    _, data = synthetic(8, noise=0.03)
    report, f = runtime_fit_report(data, DEV, TRUE, ["peak", "bandwidth"], cv=True)
    assert report["loo"]["mape"] >= report["mape"] * 0.5
    assert report["mape"] < 5 and report["spearman_runtime"] > 0.95
    assert len(report["models"]) == 8 and "plain_ms" in report["models"][0]
    loo = leave_one_out(data, DEV, TRUE, ["peak", "bandwidth"], full=f)
    assert np.allclose(loo * 1e3, [m["loo_predicted_ms"] for m in report["models"]])


def test_undetermined_parameters_are_held_and_named():
    t = deployed([("conv2d", 5e6, 1e5, "int8", False, True, 0)] * 3)
    data = RuntimeData.from_tables([t, t.iloc[:2], t.iloc[:1]], [1e-3, 7e-4, 4e-4], list("abc"),
                                   "int8")
    ok, no = determined(data, ["conv_efficiency", "depthwise_efficiency",
                               "island_op_overhead_macs"])
    assert ok == ["conv_efficiency"] and no == ["depthwise_efficiency", "island_op_overhead_macs"]
    f = fit_runtime(data, DEV, dict(NEUTRAL), ["conv_efficiency", "depthwise_efficiency"])
    assert f.values["depthwise_efficiency"] == 1.0
    assert any("depthwise_efficiency is not determined" in w for w in f.warnings)


def test_parse_free():
    rt = get_runtime("torch_eager")  # names no parameters: 'runtime' means all of them
    assert parse_free("runtime", rt) == tuple(PARAMETERS)
    assert parse_free("peak, bandwidth", rt) == ("peak", "bandwidth")
    with pytest.raises(FitError, match="unknown parameter 'bandwith'.*did you mean bandwidth"):
        parse_free("peak,bandwith", rt)
    with pytest.raises(FitError, match="not separately determined"):
        parse_free("peak,conv_efficiency", rt)
    with pytest.raises(FitError, match="names no parameter"):
        parse_free(",", rt)


def test_large_depthwise_kernels_have_their_own_efficiency():
    """Taps = MACs per output element: a 3x3 (9) or 5x5 (25) depthwise conv runs at
    depthwise_efficiency, a 7x7 (49) at large_depthwise_efficiency."""
    t = deployed([("dwconv2d", 9 * 1e4, 1e3, "int8", False, True, 0),
                  ("dwconv2d", 25 * 1e4, 1e3, "int8", False, True, 0),
                  ("dwconv2d", 49 * 1e4, 1e3, "int8", False, True, 0)])
    t["output_shape"] = ["1x10x10x100"] * 3  # 1e4 output elements
    assert list(layer_features(t, "int8")["group"]) == [2, 2, 4]
    v = {**TRUE, "large_depthwise_efficiency": 0.02}
    out = runtime_layer_times(t, DEV, v)
    assert list(out["compute_s"]) == pytest.approx([9e4 / (6e10 * 0.2), 25e4 / (6e10 * 0.2),
                                                    49e4 / (6e10 * 0.02)])
    # without an output shape (a table that does not say) every depthwise conv is "small"
    assert list(layer_features(t.drop(columns="output_shape"), "int8")["group"]) == [2, 2, 2]

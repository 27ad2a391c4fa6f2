"""roofline.sweep and roofline.plot, the public calls the notebooks use: numbers by hand on a
small hand-made layer table (no tracing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import roofline
from roofline.errors import InputError


def table() -> pd.DataFrame:
    rows = [  # name, op, MACs, weight bytes, input bytes, output bytes, input shape
        ("stem", "conv2d", 1e6, 1e3, 3e5, 4e5, "1x3x64x64"),
        ("dw", "dwconv2d", 9e4, 1e2, 4e5, 4e5, "1x16x32x32"),
        ("add", "elementwise", 0, 0.0, 8e5, 4e5, "1x16x32x32,1x16x32x32"),
        ("head", "conv2d", 2e4, 2e4, 16.0, 1280.0, "1x16x1x1"),
    ]
    df = pd.DataFrame(rows, columns=["name", "op", "macs", "weight_bytes", "input_bytes",
                                     "output_bytes", "input_shape"])
    df["bytes"] = df["weight_bytes"] + df["input_bytes"] + df["output_bytes"]
    df["intensity"] = df["macs"] / df["bytes"]
    return df


def test_sweep_per_layer_by_hand_under_the_paper_preset():
    # paper: conv/dw/FC only (the add drops out), bytes = weights + input, BW 40 GB/s held,
    # PeakMACs = RP x 40 GB/s
    per = roofline.sweep({"m": table()}, [5, 500], per_layer=True)
    assert list(per.query("rp == 5")["name"]) == ["stem", "dw", "head"]
    assert list(per.query("rp == 5")["op_class"]) == ["Conv2D", "DW-Conv2D", "FC"]
    dw = per.query("name == 'dw'").set_index("rp")
    assert dw["bytes"].tolist() == [4e5 + 1e2] * 2
    # at RP 5: max(9e4 / 2e11, 400100 / 4e10) = 1.00025e-5 s (memory-bound)
    assert dw.loc[5.0, "latency_s"] == pytest.approx(400100 / 40e9)
    head = per.query("name == 'head'").set_index("rp")
    # at RP 5: max(2e4 / 2e11, 20016 / 4e10) = 5.004e-7 s
    assert head.loc[5.0, "latency_s"] == pytest.approx(20016 / 40e9)
    for _, g in per.groupby("rp"):
        assert g["share"].sum() == pytest.approx(1.0)
        assert g["position"].tolist() == [0.0, 0.5, 1.0]
    totals = roofline.sweep({"m": table()}, [5, 500]).set_index("rp")["latency_s"]
    assert np.allclose(totals.to_numpy(), per.groupby("rp")["latency_s"].sum().to_numpy())


def test_sweep_anchored_to_a_device_of_ones_own():
    npu = roofline.device(peak_macs_per_s=1e12, mem_bw_bytes_per_s=2e10, dtype="int8",
                          hardware_id="npu")
    out = roofline.sweep({"m": table()}, [npu.ridge_point], preset="default", anchor=npu)
    t = table()  # default preset: every layer, every byte; the device's own peak and bandwidth
    expected = np.maximum(t["macs"] / 1e12, t["bytes"] / 2e10).sum()
    assert out["latency_s"].item() == pytest.approx(expected)


def test_plot_rejects_an_unknown_kind_and_marks_only_the_given_devices():
    with pytest.raises(InputError, match="unknown figure 'bars'"):
        roofline.plot("bars", {"m": table()})
    npu = roofline.device(peak_macs_per_s=1e12, mem_bw_bytes_per_s=2e10, dtype="int8",
                          hardware_id="npu")
    fig = roofline.plot("ridge", {"mobilenetv2_100": table()}, hw=npu, preset="default",
                        rps="0:100:10", marks={"npu": npu.ridge_point})
    strip = fig.axes[0]
    assert strip.get_title(loc="left") == "Devices at their ridge points"
    assert [t.get_text().strip() for t in strip.texts] == ["npu"]

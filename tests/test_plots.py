"""Figures: each returns a Figure with the expected panels, axis labels and one artist per model.

The figures are fed small hand-made layer tables under zoo names (so family and top-1 come
from the zoo) and so need no tracing; two CLI tests trace a real model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from roofline.plots import figures as plots
from roofline.cli import main
from roofline.errors import InputError
from roofline.latency.presets import DEFAULT_PRESET, PAPER_PRESET

MODELS = ["mnv4_conv_small", "mnv4_conv_medium", "mnv4_conv_large"]


def table(scale: float) -> pd.DataFrame:
    rows = [
        ("stem", "conv2d", 1e6, 1e3, 3e5, 4e5, "1x3x64x64"),
        ("dw", "dwconv2d", 9e4, 1e2, 4e5, 4e5, "1x16x32x32"),
        ("pw", "conv2d", 4e6, 4e4, 4e5, 4e5, "1x16x32x32"),
        ("add", "elementwise", 0, 0.0, 8e5, 4e5, "1x16x32x32,1x16x32x32"),
        ("pool", "reduce", 0, 0.0, 4e5, 16.0, "1x16x32x32"),
        ("head", "conv2d", 2e4, 2e4, 16.0, 1280.0, "1x16x1x1"),
        ("fc", "linear", 1.3e6, 1.3e6, 1280.0, 1000.0, "1x1280"),
    ]
    df = pd.DataFrame(rows, columns=["name", "op", "macs", "weight_bytes", "input_bytes",
                                     "output_bytes", "input_shape"])
    for c in ("macs", "weight_bytes", "input_bytes", "output_bytes"):
        df[c] = df[c] * scale
    df["macs"] = df["macs"].astype("int64")
    df["params"] = df["weight_bytes"].astype("int64")
    df["bytes"] = df["weight_bytes"] + df["input_bytes"] + df["output_bytes"]
    df["intensity"] = df["macs"] / df["bytes"]
    return df


TABLES = {m: table(s) for m, s in zip(MODELS, (1.0, 2.0, 4.0))}


def gids(ax, prefix: str = "model:") -> list[str]:
    found = [a.get_gid() for a in ax.get_children() if (a.get_gid() or "").startswith(prefix)]
    return found


def test_ridge():
    fig = plots.ridge(TABLES, [0, 5, 50, 500], PAPER_PRESET, highlight="pixel8_cpu")
    assert isinstance(fig, Figure)
    strip, ax, rel = fig.axes[:3]
    assert ax.get_ylabel() == "Predicted roofline latency (ms)"
    assert rel.get_xlabel().startswith("Ridge point (MACs/byte)")
    assert rel.get_ylabel().startswith("Relative to the fastest")
    assert ax.get_yscale() == "log" and ax.get_xscale() == "symlog"
    for panel in (ax, rel):
        assert sorted(gids(panel)) == sorted(f"model:{m}" for m in MODELS)
    # the relative panel: the fastest model at each RP sits at 1
    ys = np.array([line.get_ydata() for line in rel.get_lines() if line.get_gid()])
    np.testing.assert_allclose(ys.min(axis=0), 1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "MNv4-Conv-S", "MNv4-Conv-M", "MNv4-Conv-L"]
    panel_names = {t.get_text() for t in ax.texts}
    assert {"MACs", "Slow CPU", "Fast CPU", "Accelerator"} <= panel_names
    strip_text = " ".join(t.get_text() for t in strip.texts)
    assert "pixel8_cpu" in strip_text and "pixel6_cpu (fitted)" in strip_text
    assert "ci_x86_2core" not in strip_text  # the development VM's measured profile
    assert any("ci_x86_2core" in t.get_text() and "Left out" in t.get_text() for t in fig.texts)
    assert fig.get_suptitle()
    assert any("preset: paper" in t.get_text() for t in fig.texts)


def test_ridge_device_labels_do_not_overlap():
    fig = plots.ridge(TABLES, [0, 500], PAPER_PRESET)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    strip = fig.axes[0]
    boxes = [t.get_window_extent(r) for t in strip.texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "device labels overlap"


def test_pareto_panels_and_front():
    fig = plots.pareto(TABLES)
    axes = fig.axes
    assert len(axes) == 4
    titles = [ax.get_title() for ax in axes]
    for name, rp in (("MACs", 0), ("Slow CPU", 5), ("Fast CPU", 50), ("Accelerator", 500)):
        assert any(name in t and f"RP = {rp} " in t for t in titles), titles
    assert axes[0].get_ylabel() == "ImageNet-1k top-1 (%)"
    for ax in axes:
        assert ax.get_xlabel() == "Predicted roofline latency (ms)"
        assert ax.get_xscale() == "log"
        assert sorted(gids(ax)) == sorted(f"model:{m}" for m in MODELS)
        assert gids(ax, "family:") == ["family:MobileNetV4"]
        assert gids(ax, "pareto-front") == ["pareto-front"]
    assert any(t.get_text() == "MobileNetV4" for t in fig.legends[0].get_texts())


def test_ridge_fitted_devices_are_labelled_and_drawn_as_fitted():
    from roofline.plots.ridge import _join_ids
    from roofline.plots.style import FITTED_COLOR

    assert _join_ids(["pixel4_dsp:fitted"]) == "pixel4_dsp (fitted)"
    assert _join_ids(["pixel8_edgetpu", "pixel8_edgetpu:fitted"]) == "pixel8_edgetpu (also fitted)"
    assert _join_ids(["pixel4_dsp", "pixel6_cpu:fitted"]) == "pixel4_dsp / pixel6_cpu (fitted)"
    devs = [("a_cpu", 10.0, False), ("a_cpu:fitted", 10.01, True), ("b_npu", 100.0, False)]
    fig = plots.ridge(TABLES, [0, 5, 50, 500], PAPER_PRESET, devices=devs)
    strip, ax, rel = fig.axes[:3]
    ticks = [ln for ln in strip.get_lines()]
    fitted = [ln for ln in ticks if ln.get_xdata()[0] == 10.01]
    assert fitted and fitted[0].get_linestyle() == "--" and fitted[0].get_color() == FITTED_COLOR
    assert [t.get_text().strip() for t in strip.texts] == ["b_npu", "a_cpu (also fitted)"]
    # the fastest model's 1.0 is clear of the x axis
    assert rel.get_ylim()[0] < 0.99


def test_ridge_shows_a_named_local_device():
    fig = plots.ridge(TABLES, [0, 500], PAPER_PRESET, highlight="ci_x86_2core")
    assert "ci_x86_2core" in " ".join(t.get_text() for t in fig.axes[0].texts)


def test_pareto_titles_cite_the_paper_only_for_its_figure():
    assert plots.pareto(TABLES, [0, 5]).get_suptitle() == "Roofline latency vs accuracy"
    assert plots.opcost(TABLES, [5]).get_suptitle() == "Op cost vs ridge point"
    fig2 = {m: table(1.0 + i / 4) for i, m in enumerate(plots.FIG2_MODELS)}
    one_line = " ".join(plots.pareto(fig2, [0]).get_suptitle().split())  # wrapped to fit
    assert one_line.endswith("(MobileNetV4 Fig. 2)")
    assert not plots.pareto(fig2, [0], DEFAULT_PRESET).get_suptitle().endswith("Fig. 2)")


def test_pareto_tags_do_not_overlap():
    fig2 = {m: table(1.0 + i / 4) for i, m in enumerate(plots.FIG2_MODELS)}
    fig = plots.pareto(fig2, [0, 500])
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    for ax in fig.axes:
        boxes = [t.get_window_extent(r) for t in ax.texts]
        assert len(boxes) == 10  # the ten models with a published top-1
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not a.overlaps(b), "tags overlap"


def test_validation_scatter_title_fits_and_model_labels_do_not_overlap():
    from roofline.plots.validation import scatter

    rng = np.random.default_rng(0)
    measured = np.geomspace(7, 230, 27) * rng.uniform(0.9, 1.1, 27)  # crowded on y = x
    models = pd.DataFrame({"model": [f"model_name_{i:02d}" for i in range(27)],
                           "measured_ms": measured,
                           "predicted_ms": measured * rng.uniform(0.85, 1.15, 27),
                           "macs_ms": measured * rng.uniform(0.3, 1.5, 27)})
    title = "a long title naming the device, threads, dtype, runtime and the fit: " * 3
    fig = scatter(models, title=title, baseline_column="macs_ms",
                  stats={"spearman_roofline": 0.99, "mape": 7.0, "within_20pct": 0.9})
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    frame = fig.bbox
    t = fig._suptitle.get_window_extent(r)
    assert frame.x0 <= t.x0 and t.x1 <= frame.x1 and t.y1 <= frame.y1, "title clipped"
    boxes = [Text.get_window_extent(t, r) for t in fig.axes[0].texts]  # the text, no leader
    assert len(boxes) == 27
    legend = fig.axes[0].get_legend().get_window_extent(r)
    for i, a in enumerate(boxes):
        assert not a.overlaps(legend), "a label under the legend"
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "labels overlap"


def test_pareto_on_devices_has_a_panel_per_device():
    from roofline.hardware.registry import get_profile

    ids = ["pixel8_cpu", "h100_sxm"]
    fig = plots.pareto(TABLES, preset=DEFAULT_PRESET, devices=ids)
    assert len(fig.axes) == 2
    for ax, pid in zip(fig.axes, ids):
        p = get_profile(pid)
        assert p.name.split(",")[0] in ax.get_title() and pid in ax.get_title()
        assert "RP" not in ax.get_title()
        roof = p.roof(p.default_dtype)
        t = DEFAULT_PRESET.apply(TABLES["mnv4_conv_small"])
        by_hand = np.maximum(t["macs"] / roof.peak_macs_per_s,
                             t["bytes"] / roof.mem_bw_bytes_per_s).sum() * 1e3
        (pt,) = [c for c in ax.collections if c.get_gid() == "model:mnv4_conv_small"]
        assert pt.get_offsets()[0][0] == pytest.approx(by_hand, rel=1e-12)
    assert "Fig. 2" not in fig.get_suptitle()


def test_pareto_front():
    #        fast & bad, slow & good, dominated, equal-latency better
    front = plots.pareto_front([1, 5, 6, 5], [70, 80, 75, 81])
    assert front.tolist() == [True, False, False, True]


def test_pareto_leaves_out_models_without_top1():
    fig = plots.pareto({**TABLES, "my_net": table(1.5)}, [0, 5])
    assert len(fig.axes) == 2
    assert "my_net" not in " ".join(gids(fig.axes[0]))
    assert any("no published top-1" in t.get_text() for t in fig.texts)
    with pytest.raises(InputError):
        plots.pareto({"my_net": table(1.0)})


def test_opcost_grid_and_bars():
    fig = plots.opcost(TABLES, [5, 500])
    assert len(fig.axes) == 2 * 3
    rows = [fig.axes[:3], fig.axes[3:]]
    assert rows[0][0].get_ylabel().startswith("RP 5 (Slow CPU)")
    assert rows[1][0].get_ylabel().startswith("RP 500 (Accelerator)")
    assert "\u00b5s" in rows[0][0].get_ylabel()
    assert all(ax.get_xlabel() == "Layer index" for ax in rows[1])
    assert rows[0][1].get_title().startswith("MNv4-Conv-M")
    for row in rows:
        for ax, m in zip(row, MODELS):
            bars = [p for p in ax.patches if p.get_gid() == f"model:{m}"]
            assert len(bars) == 5  # the paper preset counts the 5 MAC layers
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["Conv2D", "DW-Conv2D", "FC"]
    # head (1x1 conv on a 1x1 input) and fc are FC: the last two bars share FC's colour
    last = rows[0][0].patches[-2:]
    assert all(p.get_facecolor()[:3] == pytest.approx((0, 0x9E / 255, 0x73 / 255)) for p in last)


def test_roofline_chart():
    fig = plots.roofline({"mnv4_conv_medium": TABLES["mnv4_conv_medium"]}, "pixel8_cpu")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Operational intensity (MACs/byte)"
    assert ax.get_ylabel() == "Attainable performance (MACs/s)"
    (pts,) = [c for c in ax.collections if c.get_gid() == "model:mnv4_conv_medium"]
    assert len(pts.get_offsets()) == 5  # the two layers without MACs are not drawn
    assert any("ridge point 5.46" in t.get_text() for t in ax.texts)
    assert any("2 layers without MACs" in t.get_text() for t in fig.texts)
    assert "pixel8_cpu" in fig.get_suptitle()


def test_devices_chart():
    ids = ["pixel8_cpu", "pixel6_cpu:fitted", "h100_sxm"]
    fig = plots.devices(TABLES["mnv4_conv_small"], DEFAULT_PRESET, devices=ids, label="my table")
    left, right = fig.axes[:2]
    assert sorted(gids(left, "device:")) == sorted(f"device:{i}" for i in ids)
    assert left.get_xscale() == "log"
    assert left.get_xlabel().startswith("Predicted latency (ms")
    assert right.get_xlabel() == "Share of the predicted time (%)"
    assert len(right.patches) == 2 * len(ids)
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert any(lbl.startswith("pixel6_cpu:fitted") for lbl in labels)
    df = plots.device_latencies(TABLES["mnv4_conv_small"], DEFAULT_PRESET, ids)
    assert (df["compute_bound_s"] + df["memory_bound_s"]).round(15).tolist() == \
        df["latency_s"].round(15).tolist()


def test_devices_chart_of_several_models_on_named_devices():
    ids = ["pixel8_cpu", "pixel8_edgetpu", "h100_sxm"]
    fig = plots.devices(TABLES, DEFAULT_PRESET, devices=ids)
    left, right = fig.axes[:2]
    assert len(gids(left, "device:")) == len(TABLES) * len(ids)
    assert [t.get_text() for t in left.get_legend().get_texts()] == [
        "MNv4-Conv-S", "MNv4-Conv-M", "MNv4-Conv-L"]
    assert right.get_xlabel() == "Share of the time in memory-bound layers (%)"
    title = fig.get_suptitle()
    assert "registered" not in title and all(i in title for i in ids)
    assert title.startswith("MNv4-Conv-S, MNv4-Conv-M and MNv4-Conv-L on ")
    # the legend sits above its panel, not on the title
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    assert not left.get_legend().get_window_extent(r).overlaps(
        fig._suptitle.get_window_extent(r))


def test_devices_chart_leaves_out_bench_measured_profiles_unless_named():
    df = plots.device_latencies(TABLES["mnv4_conv_small"], DEFAULT_PRESET)
    assert not df["hardware_id"].str.startswith("ci_x86_2core").any()
    assert df.attrs["left_out"] == ["ci_x86_2core"]
    assert "pixel8_cpu" in set(df["hardware_id"])
    named = plots.device_latencies(TABLES["mnv4_conv_small"], DEFAULT_PRESET, ["ci_x86_2core"])
    assert list(named["hardware_id"]) == ["ci_x86_2core"]
    fig = plots.devices(TABLES["mnv4_conv_small"], DEFAULT_PRESET, label="my table")
    assert fig.get_suptitle() == "my table on the registered devices"
    assert any("ci_x86_2core" in t.get_text() for t in fig.texts)


def test_figure_bytes():
    fig = plots.pareto(TABLES, [0])
    assert plots.figure_bytes(fig, "png").startswith(b"\x89PNG")
    assert b"<svg" in plots.figure_bytes(fig, ".svg")[:400]
    assert plots.figure_bytes(fig, "pdf").startswith(b"%PDF")
    # no dates, versions or random ids: the same figure made twice gives the same bytes
    first, second = (plots.figure_bytes(plots.pareto(TABLES, [0]), "svg") for _ in range(2))
    assert first == second
    with pytest.raises(InputError, match=".png, .svg, .pdf"):
        plots.figure_bytes(fig, "gif")


def test_family_colours_are_stable():
    assert plots.family_color("MobileNetV4") == plots.family_color("MobileNetV4")
    assert plots.family_color("SomeNewNet") == plots.family_color("SomeNewNet")
    assert len({plots.family_color(f) for f in ("MobileNetV1", "MobileNetV2", "MobileNetV3",
                                                 "MobileNetV4")}) == 4


# --------------------------------------------------------------------------- CLI


def test_cli_plot_writes_png(tmp_path):
    out = tmp_path / "ridge.png"
    r = CliRunner().invoke(main, ["plot", "ridge", "mnv4_conv_small", "--rp", "0:500:50",
                                  "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_cli_plot_devices_of_two_models_and_pareto_per_device(tmp_path):
    for kind in ("devices", "pareto"):
        out = tmp_path / f"{kind}.png"
        r = CliRunner().invoke(main, ["plot", kind, "mnv4_conv_small", "mobilenetv3_large_100",
                                      "--hw", "pixel8_cpu", "--hw", "h100_sxm", "-o", str(out)],
                               catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_cli_plot_a_custom_model_with_its_input_shape(tmp_path):
    src = tmp_path / "mynet.py"
    src.write_text("import torch.nn as nn\n\ndef tiny():\n    return nn.Sequential("
                   "nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))\n")
    out = tmp_path / "tiny.png"
    args = ["plot", "roofline", f"{src}:tiny", "--hw", "pixel8_cpu", "-o", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "--input-shape" in r.stderr and "--resolution" in r.stderr
    r = CliRunner().invoke(main, [*args, "--input-shape", "1,3,32,32", "--bw-scale", "2"])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args, words", [
    (["pareto", "mnv4_conv_small", "-o", "fig.gif"], "expected a file ending in .png, .svg, .pdf"),
    (["roofline", "mnv4_conv_small", "mnv4_conv_medium", "-o", "x.png"], "one model"),
    (["ridge", "mnv4_conv_small", "--hw", "pixel8_cpu", "--hw", "s23_cpu", "-o", "x.png"],
     "one device"),
    (["ridge", "mnv4_conv_small", "-o", "/nonexistent/dir/x.png"], "does not exist"),
    (["pareto", "mnv4_conv_small", "--hw", "pixel8_cpu", "--rp", "5", "-o", "x.png"],
     "not both"),
])
def test_cli_plot_user_errors(args, words):
    r = CliRunner().invoke(main, ["plot", *args])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.output


def test_figure_by_kind_and_default_models():
    names, missing = plots.default_models("pareto")
    assert names == list(plots.FIG2_MODELS) and not missing
    assert plots.default_models("devices")[0] == [plots.ONE_MODEL]
    fig = plots.figure("roofline", ["mnv4_conv_small"], hw=["pixel8_edgetpu"])
    assert isinstance(fig, Figure) and "pixel8_edgetpu" in fig._suptitle.get_text()
    with pytest.raises(InputError, match="unknown figure 'pie'"):
        plots.figure("pie", ["mnv4_conv_small"])
    with pytest.raises(InputError, match="is not a number"):
        plots.figure("ridge", ["mnv4_conv_small"], rps="a:b")

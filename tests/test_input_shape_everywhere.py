"""--input-shape on `roofline survey` and `roofline measure`, through the one resolver
(roofline.analysis.model_input): a custom file.py:factory model with no default size is
surveyed and measured at the shape given, its row / CSV carries the shape, and `fit` /
`validate` rebuild the same input from that CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from roofline.cli import main

PLAIN = '''
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
'''


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def macs_by_hand(n: int, h: int, w: int) -> int:
    """conv: output elements x C_in x k x k; linear: batch x in x out."""
    return n * (8 * 3 * 9 * h * w + 8 * 10)


@pytest.fixture()
def plain(tmp_path: Path) -> str:
    path = tmp_path / "mynet.py"
    path.write_text(PLAIN)
    return f"{path}:plain"


@pytest.mark.slow
def test_survey_input_shape(plain: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "s.csv"
    res = run("survey", plain, "--input-shape", "2,3,20,24", "--hw", "pixel8_cpu", "-q",
              "-j", "1", "-o", out)
    assert res.exit_code == 0, res.output
    row = pd.read_csv(out).iloc[0]
    assert row["status"] == "ok", row["reason"]
    assert row["input_shape"] == "2x3x20x24" and row["batch"] == 2
    assert row["macs"] == macs_by_hand(2, 20, 24)
    assert row["macs_fcm"] == macs_by_hand(2, 20, 24)  # the cross-check ran at that shape too
    assert list(pd.read_csv(out).columns).index("input_shape") == \
        list(pd.read_csv(out).columns).index("batch") + 1


def test_survey_input_shape_conflicts_name_the_options(plain: str) -> None:
    res = run("survey", plain, "-r", "32", "--input-shape", "1,3,32,32")
    assert res.exit_code == 2
    assert res.stderr == ("error: --resolution and --input-shape conflict: give one (the "
                          "shape fixes the resolution; its first dim is the batch)\n")
    res = run("survey", plain, "--batch", "4", "--input-shape", "2,3,32,32")
    assert res.exit_code == 2 and "--batch 4 disagrees with --input-shape 2,3,32,32" in res.stderr
    res = run("survey", plain, "--input-shape", "1,3,x")
    assert res.exit_code == 2 and "--input-shape '1,3,x' is not a shape" in res.stderr


@pytest.mark.slow
def test_measure_input_shape_then_fit_and_validate(plain: str, tmp_path: Path,
                                                  monkeypatch) -> None:
    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "m.csv"
    res = run("measure", plain, "--input-shape", "1,3,20,24", "--repeats", "1",
              "--min-time", "0", "--warmup", "0", "-o", out)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert list(df["input_shape"]) == ["1x3x20x24"] and df["resolution"].isna().all()
    assert df["latency_ms"].iloc[0] > 0
    # a second row of the same model at another shape (hand-written, as a CSV from another
    # run would be): fit and validate trace each row at its own shape
    with out.open("a") as fh:
        fh.write(f"{df['model'].iloc[0]},,fp32,1,{2 * df['latency_ms'].iloc[0]:.6g},1,1,0,"
                 f"{2 * df['latency_ms'].iloc[0]:.6g},cpu,1x3x40x48\n")
    from roofline.calibration.dataset import measured_dataset
    from roofline.calibration.measure import layer_tables
    from roofline.calibration.measurements import measured_models

    _, rows = measured_models(str(out))
    ds, _ = measured_dataset(rows, "none", layer_tables)
    label = df["model"].iloc[0]
    assert ds.labels == [f"{label}@1x3x20x24", f"{label}@1x3x40x48"]
    assert list(ds.total_macs) == [macs_by_hand(1, 20, 24), macs_by_hand(1, 40, 48)]
    fit = run("fit", out, "-f", "json")
    assert fit.exit_code == 0, fit.output
    assert f"{label}@1x3x40x48" in fit.output
    val = run("validate", "--hw", "pixel8_cpu", "-m", out)
    assert val.exit_code == 0, val.output
    assert f"{label}@1x3x20x24" in val.output


def test_measure_old_csv_without_the_column_still_reads(tmp_path: Path) -> None:
    from roofline.calibration.measurements import measured_models

    csv = tmp_path / "old.csv"
    csv.write_text("model,resolution,dtype,threads,latency_ms\nm1,224,fp32,1,1.0\n")
    _, rows = measured_models(str(csv))
    assert list(rows["input_shape"]) == [None] and list(rows["resolution"]) == [224]


def test_measure_bad_shape_cell_names_the_line(tmp_path: Path) -> None:
    from roofline.calibration.measurements import MeasurementError, read_measurements

    csv = tmp_path / "bad.csv"
    csv.write_text("model,latency_ms,input_shape\nm1,1.0,1x3xq\n")
    with pytest.raises(MeasurementError, match="bad.csv: line 2: input_shape '1x3xq' is not"):
        read_measurements(csv)


def test_measure_conflicting_options(plain: str) -> None:
    res = run("measure", plain, "-r", "32", "--input-shape", "1,3,32,32")
    assert res.exit_code == 2
    assert res.stderr == ("error: --resolution and --input-shape conflict: give one (the "
                          "shape fixes the resolution)\n")
    res = run("measure", plain, "--repeats", "1")
    assert res.exit_code == 2 and "pass --resolution or --input-shape, or let" in res.stderr


@pytest.mark.slow
def test_survey_of_a_sizeless_model_names_the_survey_options(plain: str, tmp_path: Path,
                                                             monkeypatch) -> None:
    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "s.csv"
    res = run("survey", plain, "--hw", "pixel8_cpu", "-q", "-j", "1", "--no-compare", "-o", out)
    assert res.exit_code == 0, res.output
    row = pd.read_csv(out).iloc[0]
    assert row["status"] == "failed"
    assert row["reason"].endswith(":plain has no default input size")
    assert "note: 1 model(s) have no default input size: pass --resolution or --input-shape, " \
        "or let the factory return (model, input_shape)" in res.stderr
    assert "input_shape=" not in res.stderr + row["reason"]  # no Python keyword in the CLI


DECLARED = PLAIN + '''

def declared():
    return Tiny(), (1, 3, 20, 20)


class Sized(Tiny):
    input_shape = (1, 3, 24, 24)


def attribute():
    return Sized()
'''


@pytest.mark.slow
@pytest.mark.parametrize("factory,size", [("declared", 20), ("attribute", 24)])
def test_export_takes_the_shape_a_model_declares(factory: str, size: int, tmp_path: Path,
                                                 monkeypatch) -> None:
    """`roofline export` resolves the input as analyze does: a factory's (model, shape) or an
    input_shape attribute, with no -r/--input-shape given; -r still overrides it."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "sized.py"
    src.write_text(DECLARED)
    out = tmp_path / "m.onnx"
    r = run("export", f"{src}:{factory}", "--to", "onnx", "--dtype", "fp32", "-o", out)
    assert r.exit_code == 0, r.output
    a = run("analyze", out, "--format", "json")
    assert f'"macs": {macs_by_hand(1, size, size)}' in a.output.replace(".0,", ",")
    r = run("export", f"{src}:{factory}", "--to", "onnx", "--dtype", "fp32", "-r", 16,
            "-o", out)
    assert r.exit_code == 0, r.output
    assert f'"macs": {macs_by_hand(1, 16, 16)}' in run("analyze", out, "--format",
                                                         "json").output.replace(".0,", ",")


@pytest.mark.slow
def test_measure_litert_at_a_given_input_shape(plain: str, tmp_path: Path, monkeypatch) -> None:
    """--input-shape reaches the export LiteRT runs: the file timed is the model at that
    shape, and the row says so."""
    pytest.importorskip("ai_edge_litert")
    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "m.csv"
    res = run("measure", plain, "--runtime", "litert", "--dtype", "int8", "--input-shape",
              "1,3,20,24", "--repeats", "1", "--min-time", "0", "--warmup", "0", "-o", out)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert list(df["input_shape"]) == ["1x3x20x24"] and list(df["runtime"]) == ["litert"]
    assert df["latency_ms"].iloc[0] > 0 and df["partitions"].iloc[0] == 1
    from roofline.runtimes.export import export

    f = export(plain, "tflite", "int8", input_shape=(1, 3, 20, 24))
    import roofline

    assert roofline.analyze(str(f)).totals["macs"] == macs_by_hand(1, 20, 24)

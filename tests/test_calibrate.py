"""Fitting a roofline to measurements, its statistics, and the measurements CSV it reads.

Synthetic data first: latencies generated from a known device (plus noise) must be fitted
back to that device; then the CSV errors a user can make, each one line naming the row; then
`roofline fit` / `roofline validate` as a user runs them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from roofline.calibration import dataset as D
from roofline.calibration import fit as F
from roofline.calibration import measurements as M
from roofline.calibration import profile_writer as W
from roofline.calibration import stats as S
from roofline.calibration import validate as V
from roofline.cli import main
from roofline.errors import RooflineError
from roofline.hardware.io import check_profile_text, profile_yaml
from roofline.hardware.registry import load_profile
from roofline.render.calibration import fit_text, render_validation

PEAK, BW = 5e10, 8e9  # the "true" device of the synthetic data: ridge point 6.25 MACs/byte


def synthetic(seed: int = 0, n_models: int = 15, *, overhead: float = 0.0,
              noise: float = 0.03) -> D.Dataset:
    """Models whose layers centre on different intensities (from memory- to compute-heavy),
    timed on the true device with log-normal noise."""
    rng = np.random.default_rng(seed)
    centres = np.exp(np.linspace(np.log(0.5), np.log(100), n_models))
    rng.shuffle(centres)
    tables = []
    for c in centres:
        n = int(rng.integers(20, 80))
        intensity = c * np.exp(rng.normal(0, 1.0, n))
        nbytes = np.exp(rng.uniform(np.log(1e4), np.log(5e6), n))
        tables.append(pd.DataFrame({"macs": intensity * nbytes, "bytes": nbytes}))
    labels = [f"m{i}" for i in range(n_models)]
    clean = D.Dataset.from_tables(tables, np.ones(n_models), labels)
    t = clean.predict(PEAK, BW, overhead) * np.exp(rng.normal(0, noise, n_models))
    return D.Dataset.from_tables(tables, t, labels)


def close(x: float, y: float, tol: float = 0.05) -> bool:
    return abs(x / y - 1) <= tol


# ------------------------------------------------------------------------------ fitting


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_peak_and_bandwidth(seed):
    f = F.fit_roofline(synthetic(seed))
    assert close(f.peak_macs_per_s, PEAK), f.peak_macs_per_s
    assert close(f.mem_bw_bytes_per_s, BW), f.mem_bw_bytes_per_s
    assert close(f.ridge_point, PEAK / BW, 0.10)
    assert f.free == ("peak", "bandwidth") and f.overhead_s_per_layer == 0
    assert not f.warnings


def test_fit_without_noise_is_exact():
    f = F.fit_roofline(synthetic(3, noise=0.0))
    assert close(f.peak_macs_per_s, PEAK, 1e-3) and close(f.mem_bw_bytes_per_s, BW, 1e-3)


def test_fit_is_robust_to_outliers():
    ds = synthetic(4)
    ds.measured_s[0] *= 2.0     # a model measured while something else ran
    ds.measured_s[5] *= 0.6
    f = F.fit_roofline(ds)
    assert close(f.peak_macs_per_s, PEAK) and close(f.mem_bw_bytes_per_s, BW)


def test_fit_with_overhead_recovers_all_three():
    overhead = 2e-5
    f = F.fit_roofline(synthetic(5, n_models=20, overhead=overhead, noise=0.01), overhead=True)
    assert close(f.peak_macs_per_s, PEAK) and close(f.mem_bw_bytes_per_s, BW)
    assert close(f.overhead_s_per_layer, overhead, 0.2)
    assert f.free == ("peak", "bandwidth", "overhead")


def test_the_data_set_predicts_with_the_one_roofline_equation():
    # two models: layers (macs, bytes) (10, 5), (100, 2) and (30, 30); by hand
    ds = D.Dataset.from_tables([pd.DataFrame({"macs": [10.0, 100.0], "bytes": [5.0, 2.0]}),
                                pd.DataFrame({"macs": [30.0], "bytes": [30.0]})],
                               [1.0, 1.0], ["a", "b"])
    # MAC-equivalents max(macs, RP x bytes): RP 4 -> 20 + 100 and 120; RP 0.5 -> 10 + 100, 30
    assert ds.mac_equivalents(np.array([4.0, 0.5])).tolist() == [[120.0, 110.0], [120.0, 30.0]]
    # peak 10 MAC/s, 2 B/s: max(1, 2.5) + max(10, 1) = 12.5 s; max(3, 15) = 15 s; + 0.5 s/layer
    assert ds.predict(10.0, 2.0).tolist() == [12.5, 15.0]
    assert ds.predict(10.0, 2.0, 0.5).tolist() == [13.5, 15.5]
    # time in compute-bound layers (10 s of model a) over all roofline time (27.5 s)
    assert ds.compute_bound_share(10.0, 2.0) == pytest.approx(10 / 27.5)


def test_hold_peak_fits_the_bandwidth_only():
    f = F.fit_roofline(synthetic(6), hold_peak=PEAK)
    assert f.peak_macs_per_s == PEAK and f.free == ("bandwidth",)
    assert close(f.mem_bw_bytes_per_s, BW)


def test_a_bad_starting_point_does_not_matter():
    f = F.fit_roofline(synthetic(7), init=(1e15, 1e3))
    assert close(f.peak_macs_per_s, PEAK) and close(f.mem_bw_bytes_per_s, BW)


def test_fewer_models_than_parameters_is_refused():
    ds = synthetic(0).subset([0, 1])
    with pytest.raises(D.FitError, match=r"3 parameters \(peak, bandwidth, overhead\) needs "
                                         r"at least 3 measured models; got 2"):
        F.fit_roofline(ds, overhead=True)
    F.fit_roofline(ds)  # two models, two parameters: allowed (and exact)
    with pytest.raises(D.FitError, match="leave-one-out with 2 free parameters needs at least 3"):
        F.leave_one_out(ds)


def test_memory_bound_everywhere_warns_that_the_peak_is_unknown():
    tables = [pd.DataFrame({"macs": [1.0 * k, 2.0 * k], "bytes": [1e6 * k, 3e6 * k]})
              for k in range(1, 6)]
    ds = D.Dataset.from_tables(tables, [t["bytes"].sum() / BW for t in tables],
                               [f"m{k}" for k in range(5)])
    f = F.fit_roofline(ds)
    assert close(f.mem_bw_bytes_per_s, BW, 0.01)
    assert any("memory-bound" in w for w in f.warnings)


@pytest.mark.slow
def test_leave_one_out_is_out_of_sample():
    ds = synthetic(8)
    loo = F.leave_one_out(ds)
    acc = S.accuracy(ds.measured_s, loo)
    assert acc["mape"] < 10 and acc["within_20pct"] >= 0.9
    # an outlier is predicted by the others, so its own error shows out of sample
    ds.measured_s[2] *= 3
    loo = F.leave_one_out(ds)
    assert loo[2] / ds.measured_s[2] < 0.5


def test_report_has_the_promised_keys():
    r = F.fit_report(synthetic(9), overhead=True, cv=True)
    for key in ("ridge_point", "peak_macs_per_s", "mem_bw_bytes_per_s", "spearman_roofline",
                "spearman_macs", "mape", "n_models", "within_20pct", "overhead_s_per_layer"):
        assert key in r
    assert set(r["loo"]) >= {"mape", "within_20pct", "spearman_roofline"}
    assert len(r["models"]) == 15 and "loo_error_pct" in r["models"][0]
    json.dumps(r)  # JSON-ready
    assert "leave-one-out MAPE" in fit_text(r)


# --------------------------------------------------------------------------- statistics


def test_accuracy_statistics():
    a = S.accuracy([1.0, 2.0, 4.0, 8.0], [1.1, 2.0, 2.0, 9.0])
    assert a["mape"] == pytest.approx(100 * (0.1 + 0 + 0.5 + 0.125) / 4)
    assert a["within_20pct"] == 0.75
    assert a["spearman"] == pytest.approx(0.9486832980505138)
    assert a["worst_ratio"] == 0.5
    assert math.isnan(S.spearman([1, 2], [1, 2]))
    assert math.isnan(S.spearman([1, 1, 1], [1, 2, 3]))


def test_macs_only_baseline_ranks_by_macs():
    ds = synthetic(10)
    peak = F.fit_macs_only(ds)
    assert S.spearman(ds.total_macs / peak, ds.measured_s) == S.spearman(ds.total_macs,
                                                                         ds.measured_s)


# ----------------------------------------------------------------------- measurements CSV


def parse(text: str, **kw):
    return M.parse_measurements(text, src="m.csv", **kw)


def known(name: str) -> None:
    from roofline.errors import UnknownModelError

    if name not in ("a", "b", "c"):
        raise UnknownModelError(f"unknown model {name!r}")


@pytest.mark.parametrize("text, fragment", [
    ("", "m.csv: empty file"),
    ("model,ms\na,1\n", "m.csv: missing column 'latency_ms'"),
    ("name,latency_ms\na,1\n", "m.csv: missing column 'model'"),
    ("model,latency_ms\n", "m.csv: no data rows"),
    ("model,latency_ms\na,1\nb,-2\n", "m.csv: line 3: latency_ms '-2' must be a positive"),
    ("model,latency_ms\na,0\n", "m.csv: line 2: latency_ms '0' must be a positive"),
    ("model,latency_ms\na,1\nb,fast\n", "m.csv: line 3: latency_ms 'fast' is not a number"),
    ("model,latency_ms\na,nan\n", "m.csv: line 2: latency_ms 'nan' is not a finite number"),
    ("model,latency_ms\na,\n", "m.csv: line 2: latency_ms is empty"),
    ("model,latency_ms\n,1\n", "m.csv: line 2: empty model name"),
    ("model,latency_ms,resolution\na,1,224.5\n", "m.csv: line 2: resolution '224.5' must be"),
    ("model,latency_ms,dtype\na,1,fp33\n", "m.csv: line 2: unknown dtype 'fp33'"),
    ("model,latency_ms\na,1\nb,2,3\n", "m.csv: line 3: 3 fields, but the header has 2"),
    ("model,latency_ms,model\na,1,a\n", "column 'model' appears twice"),
    ("model,latency_ms\na,1\n\nzebra,2\n", "m.csv: line 4: unknown model 'zebra'"),
    # denormal and absurd finite numbers are not measurements
    ("model,latency_ms\na,1e-320\n", "m.csv: line 2: latency_ms '1e-320' is outside the "
                                      "range a measured latency can have (1e-06 to 1e+09 ms)"),
    ("model,latency_ms\na,1\nb,1e300\n", "m.csv: line 3: latency_ms '1e300' is outside"),
    ("model,latency_ms,threads\na,1,1e300\n",
     "m.csv: line 2: threads '1e300' must be a positive integer up to 2147483647"),
    ("model,latency_ms,resolution\na,1,3e9\n", "m.csv: line 2: resolution '3e9' must be"),
    ("model,latency_ms,spread_pct\na,1,-3\n", "m.csv: line 2: spread_pct '-3' must be a "
                                               "percentage >= 0"),
    ("model,latency_ms,spread_pct\na,1,inf\n", "spread_pct 'inf' is not a finite number"),
])
def test_bad_csv_gets_one_line_naming_the_row(text, fragment):
    with pytest.raises(M.MeasurementError) as e:
        parse(text, check_model=known)
    msg = str(e.value)
    assert fragment in msg and "\n" not in msg


def test_csv_reading():
    df = parse("Model, Latency_ms ,resolution,dtype,threads,extra\n"
               "a,1.5,224,float32,1,x\na,2.5,224,fp32,1,y\nb,3,,,1,\n", check_model=known)
    assert list(df["latency_s"]) == [0.0015, 0.0025, 0.003]
    assert df["dtype"].tolist() == ["fp32", "fp32", None]
    rows = M.model_rows(df)
    assert rows["latency_s"].tolist() == [0.002, 0.003]  # repeats combined by their median
    assert rows["samples"].tolist() == [2, 1]


def test_mixed_dtypes_or_threads_must_be_chosen():
    df = parse("model,latency_ms,dtype,threads\na,1,fp32,1\nb,2,bf16,1\nc,3,fp32,2\n")
    with pytest.raises(M.MeasurementError, match="rows mix dtype bf16, fp32; choose one with --dtype"):
        M.model_rows(df)
    with pytest.raises(M.MeasurementError, match="mix threads 1, 2; choose one with --threads"):
        M.model_rows(df, dtype="fp32")
    assert M.model_rows(df, dtype="fp32", threads=1)["model"].tolist() == ["a"]
    with pytest.raises(M.MeasurementError, match="no rows with dtype fp16"):
        M.model_rows(df, dtype="fp16")


def test_the_range_of_a_latency_is_inclusive():
    df = parse("model,latency_ms\na,1e-6\nb,1e9\n")
    assert df["latency_s"].tolist() == pytest.approx([1e-9, 1e6])


def test_a_dataset_refuses_what_is_not_a_latency():
    table = pd.DataFrame({"macs": [1e6], "bytes": [1e5]})
    for bad in (1e-323, 1e300, float("nan"), 0.0, -1.0):
        with pytest.raises(D.FitError, match="is not a latency; expected 1e-09 to 1e"):
            D.Dataset.from_tables([table, table], [1e-3, bad], ["a", "b"])


def test_model_rows_report_the_spread_of_repeats():
    df = parse("model,latency_ms,spread_pct\na,1,3\na,3,40\nb,2,\n")
    rows = M.model_rows(df)
    assert rows["spread_pct"].tolist()[0] == 40  # the worst a row reports
    assert math.isnan(rows["spread_pct"].tolist()[1])
    # a: rows at 1 and 3 ms, median 2 ms: (3 - 1) / 2 = 100 %
    assert rows["rows_spread_pct"].tolist() == [100.0, 0.0]


def test_missing_file():
    with pytest.raises(M.MeasurementError, match="nope.csv: no such file"):
        M.read_measurements("nope.csv")


# ------------------------------------------------------------------------- profile file


def test_fitted_profile_is_a_valid_fitted_profile(tmp_path):
    r = F.fit_report(synthetic(11), overhead=True)
    data = W.fitted_profile(r, base=None, dtype="fp32", source="measured.csv", fusion="none",
                            threads=1, hold_peak=False)
    text = profile_yaml(data, "made by a test")
    assert text.startswith("# made by a test\n")
    path = tmp_path / "my_fit.yaml"
    check_profile_text(text, str(path))
    path.write_text(text)
    p = load_profile(path)
    assert p.fitted and p.default_dtype == "fp32"
    roof = p.roof()
    assert roof.basis == "fitted" and roof.fitted
    assert roof.peak_macs_per_s == pytest.approx(r["peak_macs_per_s"], rel=1e-3)
    assert roof.overhead_s_per_layer == pytest.approx(r["overhead_s_per_layer"], rel=1e-3)
    assert "measured.csv" in p.mem_bw_bytes_per_s.source


# ------------------------------------------------------------------------------- CLI


MODELS = ["mnv4_conv_small", "mnv4_conv_medium", "mobilenetv2_100", "mnv4_hybrid_medium"]


@pytest.fixture(scope="module")
def fake_measurements(tmp_path_factory):
    """A CSV of zoo models 'measured' on a known device (fusion none), 1 % noise."""
    from roofline.analysis import analyze
    from roofline.hardware.registry import Roof

    roof = Roof("truth", "truth", "cpu", "fp32", PEAK, BW, False, "measured")
    rng = np.random.default_rng(0)
    lines = ["model,resolution,dtype,threads,latency_ms,runs"]
    for m in MODELS:
        a = analyze(m, roof, fusion="none")
        t = a.totals["latency_s"] * 1e3 * math.exp(rng.normal(0, 0.01))
        lines.append(f"{m},{a.resolution},fp32,1,{t:.6g},10")
    path = tmp_path_factory.mktemp("m") / "measured.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.slow
def test_cli_fit_and_validate(fake_measurements, tmp_path):
    out = tmp_path / "fitted.yaml"
    r = invoke("fit", fake_measurements, "--hw", "x86_core", "--format", "json", "-o", out)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["n_models"] == 4 and d["fusion"] == "none" and d["dtype"] == "fp32"
    assert close(d["peak_macs_per_s"], PEAK) and close(d["mem_bw_bytes_per_s"], BW)
    assert d["mape"] < 3
    p = load_profile(out)
    assert p.fitted and "fitted" in p.name
    plot = tmp_path / "scatter.png"
    r = invoke("validate", "--hw", out, "--measurements", fake_measurements, "--plot", plot,
               "--format", "json")
    assert r.exit_code == 0, r.output
    v = json.loads(r.stdout)
    assert v["fitted"] is True and v["mape"] < 3 and len(v["models"]) == 4
    assert {"spearman_roofline", "spearman_macs", "within_20pct"} <= set(v)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = invoke("validate", "--hw", "x86_core", "-m", fake_measurements)
    assert r.exit_code == 0 and "Spearman r_s roofline" in r.stdout


def test_cli_fit_refuses_too_few_models(fake_measurements, tmp_path):
    two = tmp_path / "two.csv"
    two.write_text("\n".join(fake_measurements.read_text().splitlines()[:3]) + "\n")
    r = invoke("fit", two, "--overhead")
    one_line_error(r, "needs at least 3 measured models; got 2")


def test_cli_fit_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("model,latency_ms\nmnv4_conv_small,12\nmnv4_conv_smal,3\n")
    one_line_error(invoke("fit", bad), "bad.csv: line 3: unknown model 'mnv4_conv_smal'",
                   "did you mean")
    one_line_error(invoke("fit", tmp_path / "missing.csv"), "missing.csv: no such file")
    one_line_error(invoke("fit", bad, "--hw", "nope_device"), "unknown hardware 'nope_device'")
    one_line_error(invoke("validate", "--hw", "x86_core", "-m", bad, "--plot", "x.jpg"),
                   "--plot 'x.jpg': expected a file ending in .png")


def test_cli_fit_refuses_denormal_and_absurd_latencies(tmp_path):
    for value in ("1e-320", "1e300"):
        bad = tmp_path / "bad.csv"
        bad.write_text(f"model,latency_ms\nmnv4_conv_small,12\nmobilenetv2_100,{value}\n"
                       "mnv4_conv_medium,30\n")
        one_line_error(invoke("fit", bad), f"bad.csv: line 3: latency_ms '{value}' is outside")


def test_cli_fit_refuses_an_output_that_is_its_input(fake_measurements, tmp_path):
    csv = tmp_path / "in.csv"
    csv.write_bytes(fake_measurements.read_bytes())
    before = csv.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(csv)
    for out in (csv, link):
        one_line_error(invoke("fit", csv, "-o", out), f"cannot write {out}: it is also an input")
        assert csv.read_bytes() == before and link.is_symlink()
    profile = tmp_path / "base.yaml"
    profile.write_text((Path(__file__).parents[1] / "hardware_profiles" / "x86_core.yaml")
                       .read_text())
    one_line_error(invoke("fit", csv, "--hw", profile, "-o", profile), "also an input")


def test_validate_csv_keeps_every_digit_of_the_macs():
    v = V.Validation(head={}, stats={}, models=pd.DataFrame({
        "model": ["m"], "measured_ms": [10.4944], "predicted_ms": [5.758091234],
        "error_pct": [-45.13171234], "macs": [186005568.0], "layers": [134]}))
    assert render_validation(v, "csv") == ("model,measured_ms,predicted_ms,error_pct,macs,layers\n"
                                           "m,10.4944,5.75809,-45.1317,186005568,134\n")


def test_errors_are_roofline_errors():
    assert issubclass(M.MeasurementError, RooflineError)
    assert issubclass(D.FitError, RooflineError)


# ------------------------------------------------------------------- measured models (library)
# calibrate never traces: the caller gives the layer tables, here hand-made ones, so none of
# this needs torch or the zoo.


def fake_layer_tables(calls=None):
    """A ``layer_tables`` stand-in: every model is layers 'a', 'b', 'c', scaled by the model
    number and the resolution; the fusion asked for is recorded in ``calls``."""

    def tables(keys, fusion="none"):
        if calls is not None:
            calls.append((list(keys), fusion))
        out = {}
        for key in keys:
            model, res, _dtype, _shape = key
            k = int(model[1:]) * (res or 224) / 224
            out[key] = pd.DataFrame({
                "name": ["a", "b", "c"], "op": ["conv2d", "linear", "add"],
                "macs": [1e8 * k, 2e7 * k, 0.0], "bytes": [2e6 * k, 1e7, 3e5 * k]})
        return out

    return tables


def test_measured_models_keep_every_row_and_combine_repeats(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("model,resolution,dtype,threads,latency_ms\nm1,224,fp16,2,1.0\n"
                   "m2,224,fp16,2,2.0\nm2,224,fp16,2,4.0\n")
    df, rows = M.measured_models(str(csv), default_dtype="bf16")
    assert len(df) == 3 and list(rows["model"]) == ["m1", "m2"]
    assert list(rows["dtype"]) == ["fp16", "fp16"]
    assert rows["latency_s"].iloc[1] == pytest.approx(3e-3)  # the median of the repeats
    with pytest.raises(M.MeasurementError, match="no rows with dtype int8"):
        M.measured_models(str(csv), dtype="int8")
    assert M.measured_threads(str(csv)) == 2
    csv.write_text("model,latency_ms\nm1,1.0\n")
    assert M.measured_threads(str(csv)) is None


def test_measured_models_fill_an_empty_dtype(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("model,resolution,dtype,latency_ms\nm1,224,,1.0\nm2,224,fp16,2.0\n")
    _, rows = M.measured_models(str(csv), default_dtype="bf16")
    assert list(rows["dtype"]) == ["bf16", "fp16"]


def test_dataset_labels_resolutions_only_where_a_model_has_several():
    rows = pd.DataFrame({"model": ["m1", "m1", "m2"],
                         "resolution": pd.Series([224, 256, None], dtype=object),
                         "dtype": ["fp32"] * 3, "latency_s": [1e-3, 2e-3, 3e-3]})
    calls = []
    ds, tables = D.measured_dataset(rows, "tflite", fake_layer_tables(calls))
    assert ds.labels == ["m1@224", "m1@256", "m2"]
    assert ds.keys == [("m1", 224, "fp32", None), ("m1", 256, "fp32", None),
                       ("m2", None, "fp32", None)]
    assert calls == [(ds.keys, "tflite")] and set(tables) == set(ds.keys)
    assert list(ds.sizes) == [3, 3, 3]


def test_fit_and_validation_of_a_measurements_file(tmp_path):
    from roofline.hardware.registry import get_profile
    from roofline.latency.equation import layer_times

    tables = fake_layer_tables()
    models = [f"m{i}" for i in range(1, 7)]
    truth = get_profile("x86_core").roof("fp32")
    lines = ["model,resolution,dtype,threads,latency_ms,layer_index,layer,fusion"]
    for m in models:
        t = layer_times(tables([(m, 224, "fp32", None)])[(m, 224, "fp32", None)], truth)
        lines.append(f"{m},224,fp32,1,{t['latency_s'].sum() * 1e3:.9g},,,")
        for i, r in t.iterrows():
            lines.append(f"{m},224,fp32,1,{r.latency_s * 1e3:.9g},{i},{r['name']},none")
    csv = tmp_path / "m.csv"
    csv.write_text("\n".join(lines) + "\n")

    report = F.fit_measured(str(csv), layer_tables=tables, cv=True)
    assert report["n_models"] == 6 and "loo" in report
    assert close(report["peak_macs_per_s"], truth.peak_macs_per_s, 0.01)
    assert list(report)[-5:] == ["measurements", "dtype", "fusion", "threads", "base"]
    assert (report["measurements"], report["dtype"], report["base"]) == (str(csv), "fp32", None)

    v = V.validate_profile(str(csv), get_profile("x86_core"), layer_tables=tables)
    assert v.stats["mape"] < 1e-6 and list(v.models["model"]) == models
    assert v.head["hardware"] == "x86_core" and v.head["fusion"] == "none"
    assert len(v.layers) == 18 and v.layer_stats["models"] == 6
    assert v.layer_stats["mape"] < 1e-6
    d = json.loads(render_validation(v, "json"))
    assert d["hardware"] == "x86_core" and len(d["layers"]) == 18 and d["n"] == 6
    assert render_validation(v, "csv").startswith("model,measured_ms,predicted_ms")
    assert "wrote x.png" in render_validation(v, "table", "x.png")

    csv.write_text(csv.read_text().replace(",1,b,none", ",1,x,none", 1))
    with pytest.raises(M.MeasurementError, match="layer 1 of m1 is 'x' in the measurements"):
        V.validate_profile(str(csv), get_profile("x86_core"), layer_tables=tables)


def test_layer_comparison_without_per_layer_rows():
    df = M.parse_measurements("model,latency_ms\nm1,1.0\n")
    from roofline.hardware.registry import get_profile

    assert V.layer_comparison(df, get_profile("x86_core"), fake_layer_tables()) == (None, None)


# ------------------------------------------------------------------------ plausibility
# The case of issue 13: on a noisy VM the fit gave an effective bandwidth of 99 GB/s where the
# bench measured 18.6 GB/s (5.3x), and a ridge point of 0.3 MACs/byte (MAC counting), with no
# warning. The base roof here is that bench's: 45.8 GMAC/s, 18.6 GB/s, ridge point 2.46.

BASE = SimpleNamespace(peak_macs_per_s=45.8e9, mem_bw_bytes_per_s=18.6e9,
                       ridge_point=45.8e9 / 18.6e9)


def report(peak, bw, share=0.5, free=("peak", "bandwidth"), undetermined=()):
    return {"peak_macs_per_s": peak, "mem_bw_bytes_per_s": bw, "ridge_point": peak / bw,
            "compute_bound_share": share, "free_parameters": list(free),
            "undetermined": list(undetermined)}


def test_fit_warns_when_the_bandwidth_is_far_from_the_base():
    from roofline.calibration.plausibility import fit_warnings

    w = fit_warnings(report(29.7e9, 99e9, share=0.98), BASE, base_id="ci_x86_2core")
    assert len(w) == 2, w
    assert w[0] == ("the fitted bandwidth 99 GB/s is 5.3x the 18.6 GB/s of the base profile "
                    "ci_x86_2core: an effective roof this far from the measured one usually "
                    "stands for something the roofline does not model (per-layer overhead, "
                    "caches); try --overhead (a per-layer cost), or --hold-peak (the base's "
                    "measured peak)"), w[0]
    # 29.7e9 / 99e9 = 0.3 MACs/byte, far below the base's 2.46
    assert w[1].startswith("the fitted ridge point 0.3 MACs/byte is implausibly low (the base "
                           "profile ci_x86_2core has 2.46): 98 % of the roofline time"), w[1]
    assert "collapsed to MAC counting; try --overhead" in w[1]
    # remedies already taken are not offered again; a fused policy is questioned
    held = {**report(45.8e9, 99e9, free=("bandwidth", "overhead")), "fusion": "tflite"}
    w = fit_warnings(held, BASE)
    assert len(w) == 2 and all(x.endswith("; try --fusion none if the runtime ran every op as "
                                          "its own kernel (torch eager)") for x in w), w


def test_fit_warnings_stay_quiet_on_an_ordinary_fit():
    from roofline.calibration.plausibility import fit_warnings

    # the golden fit on this VM: 40.9 GMAC/s, 10.4 GB/s (0.56x the base), ridge point 3.9
    assert fit_warnings(report(40.9e9, 10.4e9), BASE, base_id="ci_x86_2core") == []
    # exactly 3x is still "near"; a peak held (not fitted) or a bandwidth the data do not
    # determine is not judged
    assert fit_warnings(report(3 * 45.8e9, 3 * 18.6e9), BASE) == []
    assert fit_warnings(report(10e9, 7e9, free=("bandwidth",)), BASE) == []
    assert fit_warnings(report(45.8e9, 99e9, undetermined=("bandwidth",)), BASE) == []


def test_fit_warns_of_a_peak_far_below_the_base_and_a_low_ridge_point_without_base():
    from roofline.calibration.plausibility import fit_warnings

    w = fit_warnings(report(10e9, 9e9), BASE)  # 10 / 45.8 = 0.22x; ridge point 1.1
    assert len(w) == 1 and w[0].startswith("the fitted peak 10 GMAC/s is 0.22x the 45.8 GMAC/s "
                                           "of the base profile:"), w
    # no base: a ridge point below 1 MACs/byte is MAC counting whatever the device
    w = fit_warnings(report(5e9, 10e9, share=0.97))
    assert len(w) == 1 and "ridge point 0.5 MACs/byte is implausibly low: 97 %" in w[0], w
    assert fit_warnings(report(5e9, 4e9)) == []  # 1.25 MACs/byte


def test_fit_warns_of_noisy_measurements():
    from roofline.calibration.plausibility import fit_warnings

    df = parse("model,latency_ms,spread_pct\na,10,116\nb,20,3\nc,30,17.7\nc,31,\nd,5,\nd,8,\n")
    w = fit_warnings(report(4e10, 1e10), None, M.model_rows(df))
    # a: 116 % within its repeats; d: rows at 5 and 8 ms, median 6.5: 46 %; c: 17.7 % and 3 %
    assert w == ["2 models measured with a spread above 25 % between repeats (a 116 %, d 46 %): "
                 "noisy latencies make the fit unreliable; measure again on a quiet machine"]
    quiet = parse("model,latency_ms,spread_pct\na,10,24.9\nb,20,\n")
    assert fit_warnings(report(4e10, 1e10), None, M.model_rows(quiet)) == []


def test_cli_fit_warns_in_the_table_and_in_json(fake_measurements, tmp_path):
    lines = fake_measurements.read_text().splitlines()
    noisy = tmp_path / "noisy.csv"
    noisy.write_text("\n".join([lines[0] + ",spread_pct"] + [lines[1] + ",116"]
                               + [line + ",2" for line in lines[2:]]) + "\n")
    d = json.loads(invoke("fit", noisy, "--hw", "x86_core", "-f", "json").stdout)
    assert d["warnings"] == ["1 model measured with a spread above 25 % between repeats "
                             "(mnv4_conv_small 116 %): noisy latencies make the fit "
                             "unreliable; measure again on a quiet machine"]
    r = invoke("fit", noisy, "--hw", "x86_core")
    assert r.exit_code == 0 and f"warning: {d['warnings'][0]}" in r.stdout.splitlines()
    # the same data without the noise, fitted near the base (0.52x, 0.67x): no warning
    d = json.loads(invoke("fit", fake_measurements, "--hw", "x86_core", "-f", "json").stdout)
    assert d["warnings"] == []

"""Hostile values that are well-formed: absurd but finite numbers, text that a spreadsheet
would run, a file that is not a profile at all, wrong types through the Python API. Each is
refused with one line naming what would be right, or made harmless."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import roofline
from roofline.cli import main
from roofline.errors import InputError, RooflineError
from roofline.render.tables import csv_text, frame_csv, spreadsheet_safe


def one_line_error(args: list[str], *fragments: str) -> str:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    for f in fragments:
        assert f in r.stderr, (f, r.stderr)
    return r.stderr


def profile(tmp_path: Path, peak: str, bw: str) -> Path:
    p = tmp_path / "absurd.yaml"
    p.write_text(f"name: absurd\nkind: cpu\ndefault_dtype: fp32\npeak_macs_per_s:\n"
                 f"  fp32: {peak}\nmem_bw_bytes_per_s: {bw}\n")
    return p


@pytest.mark.parametrize("peak,bw,fragment", [
    ("5.0e-324", "1.0e+10", "peak from 1e3 to 1e21"),
    ("1.0e+300", "1.0e+10", "peak from 1e3 to 1e21"),
    ("1.0e+12", "1.0e-300", "bandwidth from 1e3 to 1e18"),
    ("1.0e+12", "1.0e+300", "bandwidth from 1e3 to 1e18"),
    ("0.5", "1.0e+10", "peak from 1e3"),
])
def test_absurd_profile_numbers(tmp_path: Path, peak: str, bw: str, fragment: str):
    one_line_error(["hw", "show", str(profile(tmp_path, peak, bw))], fragment)


@pytest.mark.parametrize("flag,value", [("--peak", "1e-300"), ("--peak", "1e30"),
                                        ("--mem-bw", "5e-324"), ("--mem-bw", "1e40")])
def test_absurd_what_if(flag: str, value: str):
    one_line_error(["analyze", "mnv4_conv_small", flag, value], flag.lstrip("-").split("-")[0])


@pytest.mark.parametrize("rp", ["1e308", "2e6", "0,5,1e7"])
def test_absurd_ridge_points(rp: str):
    one_line_error(["sweep", "mnv4_conv_small", "--rp", rp], "from 0 to 1e+06")


def test_device_what_if_in_python_is_checked():
    with pytest.raises(InputError, match="peak from 1e3"):
        roofline.device(5e-324, 1e10, name="tiny")


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/hostname", "/proc/self/status"])
def test_a_file_that_is_not_a_profile_is_not_echoed(path: str):
    if not Path(path).is_file():
        pytest.skip(f"{path} is not on this machine")
    first = Path(path).read_text().splitlines()[0]
    err = one_line_error(["analyze", "mnv4_conv_small", "--hw", path], path)
    assert first[:12] not in err


@pytest.mark.parametrize("kwargs,fragment", [
    ({"hw": 123}, "hw must be"),
    ({"hw": ["pixel8_cpu"]}, "hw must be"),
    ({"hw": 1.5}, "hw must be"),
    ({"fusion": None}, "fusion policy"),
    ({"fusion": 3}, "fusion policy"),
    ({"dtype": 5}, "dtype"),
    ({"batch": "x"}, "batch"),
])
def test_wrong_types_through_the_api(kwargs, fragment):
    with pytest.raises(RooflineError, match=fragment):
        roofline.analyze("mnv4_conv_small", **kwargs)


FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_is_neutralised_in_csv(text: str):
    assert spreadsheet_safe(text) == "'" + text
    rows = list(csv.reader(io.StringIO(csv_text([{"model": text, "macs": -5}]), newline="")))
    assert rows[1] == ["'" + text, "-5"]
    df = pd.DataFrame({"model": [text], "latency_ms": [-1.5]}, index=[text])
    back = pd.read_csv(io.StringIO(frame_csv(df), newline=""), index_col=0)
    assert back.index[0] == "'" + text and back["model"].iloc[0] == "'" + text
    assert back["latency_ms"].iloc[0] == -1.5   # numbers stay numbers


def test_carriage_return_start_is_neutralised():
    assert spreadsheet_safe("\r=1") == "'\r=1"


def test_plain_names_are_unchanged_in_csv():
    for name in ["mnv4_conv_small", "resnet50", "a=b", "x-y"]:
        assert spreadsheet_safe(name) == name


@pytest.mark.slow
def test_a_model_named_like_a_formula_in_a_compare_csv(tmp_path: Path):
    src = tmp_path / "m.py"
    src.write_text("import torch\n\ndef f():\n    return torch.nn.Conv2d(3, 8, 3)\n")
    out = tmp_path / "c.csv"
    r = CliRunner().invoke(main, ["analyze", f"{src}:f", "--input-shape", "1,3,16,16",
                                  "-f", "csv", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert all(not row[0].startswith(("=", "+", "-", "@"))
               for row in csv.reader(out.open()))

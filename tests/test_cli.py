"""The `roofline` command line as a user meets it: the main job, formats, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from roofline.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_analyze_table():
    r = run("analyze", "mnv4_conv_medium", "--hw", "pixel8_cpu")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "mnv4_conv_medium" in out and "pixel8_cpu" in out
    assert "ridge point 5.46" in out
    assert "predicted latency" in out and "memory-bound" in out
    assert "top 10 layers" in out
    assert "every one accounted for" in out


def test_analyze_json_contract():
    r = run("analyze", "mnv4_conv_small", "--hw", "pixel6_cpu:fitted", "--format", "json")
    assert r.exit_code == 0
    d = json.loads(r.output)
    for key in ("model", "resolution", "dtype", "fusion", "hardware", "totals", "layers",
                "unsupported"):
        assert key in d
    assert {"id", "peak_macs_per_s", "mem_bw_bytes_per_s", "ridge_point"} <= set(d["hardware"])
    assert d["hardware"]["ridge_point"] == pytest.approx(31.2)
    assert d["hardware"]["fitted"] is True
    assert {"macs", "flops", "params", "weight_bytes", "activation_bytes", "bytes", "latency_s",
            "memory_bound_fraction"} <= set(d["totals"])
    assert d["totals"]["flops"] == 2 * d["totals"]["macs"]
    assert d["resolution"] == 224 and d["dtype"] == "int8" and d["fusion"] == "tflite"
    layer = d["layers"][0]
    assert {"name", "op", "macs", "params", "weight_bytes", "input_bytes", "output_bytes",
            "bytes", "intensity", "latency_s", "bound"} <= set(layer)
    assert sum(x["latency_s"] for x in d["layers"]) == pytest.approx(d["totals"]["latency_s"])


def test_analyze_csv_and_markdown_to_file(tmp_path: Path):
    out = tmp_path / "layers.csv"
    r = run("analyze", "mnv4_conv_small", "--hw", "h100_sxm", "--dtype", "fp16", "--fusion",
            "full", "-f", "csv", "-o", str(out))
    assert r.exit_code == 0 and r.output == ""
    header = out.read_text().splitlines()[0].split(",")
    assert header[:4] == ["layer", "name", "module_type", "op"]
    assert "latency_s" in header
    r = run("analyze", "mnv4_conv_small", "-f", "markdown", "--top", "3")
    assert r.output.startswith("## mnv4_conv_small") and "| # |" in r.output


def test_analyze_options_change_the_numbers():
    def latency(*extra):
        r = run("analyze", "mnv4_conv_small", "-f", "json", *extra)
        return json.loads(r.output)["totals"]

    base = latency()
    assert latency("--batch", "2")["macs"] == 2 * base["macs"]
    assert latency("--resolution", "448")["macs"] == pytest.approx(4 * base["macs"], rel=0.02)
    assert latency("--dtype", "fp32")["bytes"] > 3.9 * base["bytes"]
    assert latency("--fusion", "none")["bytes"] > base["bytes"]


@pytest.mark.parametrize("args,fragments", [
    (["analyze", "mnv4_conv_medum"], ["unknown model", "mnv4_conv_medium"]),
    (["analyze", "mnv4_conv_medium", "--hw", "pixel8_cup"], ["pixel8_cup", "pixel8_cpu"]),
    (["analyze", "mnv4_conv_medium", "--resolution", "0"], ["resolution", "positive"]),
    (["analyze", "mnv4_conv_medium", "--resolution", "-5"], ["resolution"]),
    (["analyze", "mnv4_conv_medium", "--batch", "0"], ["batch"]),
    (["analyze", "mnv4_conv_medium", "--dtype", "int9"], ["int9", "int8"]),
    (["analyze", "mnv4_conv_medium", "--input-shape", "1,3,x"], ["input-shape"]),
    (["hw", "show", "h100"], ["h100", "h100_sxm"]),
])
def test_bad_input_is_one_line_exit_2(args, fragments):
    assert_user_error(run(*args), *fragments)


def test_malformed_profile(tmp_path: Path):
    bad = tmp_path / "mychip.yaml"
    bad.write_text("name: My chip\nkind: cpu\ndefault_dtype: int8\n"
                   "peak_macs_per_s: {int8: {value: -1, basis: vendor, source: http://x}}\n"
                   "mem_bw_bytes_per_s: {value: 1e10, basis: vendor, source: http://x}\n")
    assert_user_error(run("analyze", "mnv4_conv_small", "--hw", str(bad)), "mychip.yaml",
                      "peak_macs_per_s")


def test_unwritable_output_leaves_nothing(tmp_path: Path):
    missing = tmp_path / "nope" / "out.json"
    assert_user_error(run("analyze", "mnv4_conv_small", "-o", str(missing)), "does not exist")
    assert not missing.parent.exists()
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: directory permissions are not enforced")
        assert_user_error(run("analyze", "mnv4_conv_small", "-o", str(ro / "x.csv")),
                          "not writable")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_failed_run_leaves_no_partial_file(tmp_path: Path):
    out = tmp_path / "x.json"
    assert_user_error(run("analyze", "no_such_model_xyz", "-o", str(out)), "unknown model")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_hw_list_and_show():
    r = run("hw", "list")
    assert r.exit_code == 0
    for hw_id in ("pixel8_cpu", "pixel6_cpu:fitted", "pixel4_dsp:fitted", "h200_sxm"):
        assert hw_id in r.output
    r = run("hw", "show", "pixel4_dsp:fitted")
    assert r.exit_code == 0 and "FITTED" in r.output and "347" in r.output
    # the runtime a device is measured with, and its fitted parameters with their source
    r = run("hw", "show", "pixel6_cpu")
    assert r.exit_code == 0 and "runtime litert_xnnpack" in r.output
    assert "conv_efficiency" in r.output and "[fitted]" in r.output


def test_console_script_error_has_no_traceback():
    exe = Path(sys.executable).with_name("roofline")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "roofline"]
    p = subprocess.run([*cmd, "analyze", "mnv4_conv_medium", "--hw", "pixel8_cup"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert p.stdout == ""


def test_report_table_helpers():
    from roofline.render.report import cache_info_text, csv_text, markdown_table

    rows = [{"a": 1, "b": "x,y"}, {"a": 2.5, "b": None}]
    assert csv_text(rows) == 'a,b\n1,"x,y"\n2.5,\n'
    assert csv_text(rows, ["b", "a"], lineterminator="\r\n").splitlines()[0] == "b,a"
    assert markdown_table([["p|q", 1]], ["k", "v"], "lr") == "| k | v |\n|:--|--:|\n| p\\|q | 1 |"
    line = cache_info_text({"dir": "/c", "entries": 3, "other_files": 1, "bytes": 2.5e6,
                            "enabled": False})
    assert line == ("/c: 3 traces and 1 survey journals / model lists, 2.5 MB; cache off "
                    "(ROOFLINE_NO_CACHE is set)")

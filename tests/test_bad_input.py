"""The bad-input catalogue: every mistake a user can make gets one clear line.

At the command line: exit code 2, exactly one line on stderr naming what was wrong (and
what would be right, where there is a close name), no traceback, nothing on stdout, and no
output file. In the API: a documented exception, a subclass of ``RooflineError``
(``UnknownModelError``, ``UnknownHardwareError``, ``ProfileError``, ``InputError``,
``TraceError``, ``OutputError``) whose message is one line.

The hardware-profile loader has its own field-by-field catalogue and property tests in
test_hardware.py; here the same kinds of files go through the command line (``--hw FILE``),
with a property test at that level too.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roofline
from roofline.cli import main
from roofline.errors import (
    InputError,
    ProfileError,
    RooflineError,
    TraceError,
    UnknownHardwareError,
    UnknownModelError,
)


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_user_error(result, *fragments: str) -> str:
    """Exit 2, one stderr line containing every fragment, no traceback, empty stdout."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert result.stdout == ""
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


# --------------------------------------------------------------------------- names and numbers

CLI_CASES = {
    # unknown names and typos: the line names the closest real ones
    "model_typo": (["analyze", "mnv4_conv_medum"], ["unknown model", "mnv4_conv_medium"]),
    "timm_typo": (["analyze", "resnet5O"], ["'resnet5O'", "resnet50"]),
    "device_typo": (["analyze", "mnv4_conv_small", "--hw", "pixel8_cup"],
                    ["pixel8_cup", "pixel8_cpu"]),
    "variant_typo": (["analyze", "mnv4_conv_small", "--hw", "pixel6_cpu:fited"],
                     ["fited", "fitted"]),
    "format": (["analyze", "mnv4_conv_small", "-f", "xml"], ["'xml' is not one of", "json"]),
    "fusion": (["analyze", "mnv4_conv_small", "--fusion", "tflit"], ["'tflit'", "tflite"]),
    "dtype": (["analyze", "mnv4_conv_small", "--dtype", "int9"], ["int9", "int8"]),
    "dtype_not_on_device": (["analyze", "mnv4_conv_small", "--hw", "coral_edgetpu",
                             "--dtype", "fp32"], ["coral_edgetpu", "fp32"]),
    "command_typo": (["analyse", "mnv4_conv_small"], ["No such command 'analyse'"]),
    "option_typo": (["analyze", "mnv4_conv_small", "--resolutoin", "224"], ["--resolutoin"]),
    "missing_argument": (["analyze"], ["Missing argument 'MODEL'"]),
    "hw_show_typo": (["hw", "show", "h100"], ["h100", "h100_sxm"]),
    # resolution, batch, shapes
    "resolution_zero": (["analyze", "mnv4_conv_small", "-r", "0"], ["resolution", "positive"]),
    "resolution_negative": (["analyze", "mnv4_conv_small", "-r", "-224"], ["resolution"]),
    "resolution_huge": (["analyze", "mnv4_conv_small", "-r", "1000000"], ["16384"]),
    "resolution_word": (["analyze", "mnv4_conv_small", "-r", "big"], ["not a valid integer"]),
    "batch_zero": (["analyze", "mnv4_conv_small", "-b", "0"], ["batch", "positive"]),
    "batch_negative": (["analyze", "mnv4_conv_small", "-b", "-3"], ["batch"]),
    "shape_zero_dim": (["analyze", "mnv4_conv_small", "--input-shape", "1,3,0,224"],
                       ["positive"]),
    "shape_garbage": (["analyze", "mnv4_conv_small", "--input-shape", "1;3;a"], ["not a shape"]),
    "top_negative": (["analyze", "mnv4_conv_small", "--top", "-1"], ["--top"]),
    # survey
    "survey_glob_matches_nothing": (["survey", "timm:*no_such_net*"], ["matches no model"]),
    "survey_typo": (["survey", "convnext_tiyn"], ["convnext_tiny"]),
    "survey_device_typo": (["survey", "resnet18", "--hw", "pixel8_cpu", "h100_sx"],
                           ["h100_sx", "h100_sxm"]),
    "survey_device_glob": (["survey", "resnet18", "--hw", "tpu*"], ["matches no device"]),
    "survey_workers_zero": (["survey", "resnet18", "--workers", "0"], ["workers"]),
    "survey_timeout_negative": (["survey", "resnet18", "--timeout", "-1"], ["timeout"]),
    "survey_timeout_nan": (["survey", "resnet18", "--timeout", "nan"], ["timeout"]),
    "survey_resolution_zero": (["survey", "resnet18", "-r", "224", "0"], ["resolution"]),
    "survey_parquet_to_stdout": (["survey", "resnet18", "-f", "parquet"], ["--output"]),
    "survey_empty_pattern": (["survey", " "], ["empty model pattern"]),
    # the sweep and plot commands
    "sweep_preset": (["sweep", "mnv4_conv_small", "--preset", "papr"], ["'papr'", "paper"]),
    "sweep_ridge_points": (["sweep", "mnv4_conv_small", "--rp", "5:0:-1"], ["--rp", "step"]),
    "plot_kind": (["plot", "ridgeline", "-o", "x.png"], ["'ridgeline'", "ridge"]),
    "plot_file_type": (["plot", "ridge", "mnv4_conv_small", "-o", "x.svgz"], [".png"]),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_input(case: str):
    args, fragments = CLI_CASES[case]
    assert_user_error(run(*args), *fragments)


API_CASES = {
    "unknown_model": (lambda: roofline.analyze("mnv4_conv_medum"), UnknownModelError,
                      "mnv4_conv_medium"),
    "unknown_device": (lambda: roofline.analyze("mnv4_conv_small", "pixel8_cup"),
                       UnknownHardwareError, "pixel8_cpu"),
    "resolution_zero": (lambda: roofline.analyze("mnv4_conv_small", resolution=0), InputError,
                        "resolution"),
    "resolution_float": (lambda: roofline.analyze("mnv4_conv_small", resolution=224.5),
                         InputError, "resolution"),
    "batch_zero": (lambda: roofline.analyze("mnv4_conv_small", batch=0), InputError, "batch"),
    "fusion": (lambda: roofline.analyze("mnv4_conv_small", fusion="tflit"), InputError,
               "tflite"),
    "not_a_module": (lambda: _trace("resnet18", (1, 3, 8, 8)), InputError, "nn.Module"),
    "survey_workers": (lambda: _survey(["resnet18"], workers=0), InputError, "workers"),
    "survey_unknown": (lambda: _survey(["resnet5O"]), UnknownModelError, "resnet50"),
    "survey_device": (lambda: _survey(["resnet18"], hw=["pixel8_cup"]), UnknownHardwareError,
                      "pixel8_cpu"),
}


def _trace(*args, **kw):
    # roofline.graph.torch_trace (the function) is shadowed by the submodule once that is imported
    from roofline.graph.torch_trace import trace

    return trace(*args, **kw)


def _survey(patterns, **kw):
    from roofline.survey import survey

    return survey(patterns, **kw)


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_api_bad_input(case: str):
    fn, exc, fragment = API_CASES[case]
    with pytest.raises(exc) as err:
        fn()
    assert isinstance(err.value, RooflineError)
    assert fragment in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- hostile YAML at the CLI

VALID_PROFILE = {
    "name": "My chip",
    "kind": "cpu",
    "default_dtype": "int8",
    "peak_macs_per_s": {"int8": {"value": 1e11, "basis": "vendor", "source": "http://x"}},
    "mem_bw_bytes_per_s": {"value": 1e10, "basis": "vendor", "source": "http://x"},
}

BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]) + "\n"

YAML_CASES = {
    "wrong_type": ("peak_macs_per_s:\n  int8: {value: fast, basis: vendor, source: http://x}\n",
                   ["peak_macs_per_s.int8.value", "'fast'"]),
    "huge_number": ("mem_bw_bytes_per_s: {value: 1e400, basis: vendor, source: http://x}\n",
                    ["mem_bw_bytes_per_s.value"]),
    "nan": ("mem_bw_bytes_per_s: {value: .nan, basis: vendor, source: http://x}\n",
            ["mem_bw_bytes_per_s.value", "nan"]),
    "inf": ("mem_bw_bytes_per_s: {value: .inf, basis: vendor, source: http://x}\n",
            ["mem_bw_bytes_per_s.value"]),
    "negative": ("mem_bw_bytes_per_s: {value: -1e10, basis: vendor, source: http://x}\n",
                 ["mem_bw_bytes_per_s.value"]),
    "unknown_key": ("peak_mac_per_s: {}\n", ["unknown key 'peak_mac_per_s'", "peak_macs_per_s"]),
    "kind": ("kind: tpu\n", ["field 'kind'", "cpu"]),
    "bomb": (BOMB, ["anchors and aliases"]),
    "python_tag": ("name: !!python/object/apply:os.system [echo hi]\n", ["invalid YAML"]),
    "syntax": ("name: [unclosed\n", ["invalid YAML"]),
    "empty": ("", ["expected a mapping at the top level"]),
    "list": ("- name\n- kind\n", ["expected a mapping at the top level"]),
}


def _profile_file(tmp_path: Path, name: str, override: str) -> Path:
    """The valid profile with ``override`` appended (later keys win), or raw text for the
    whole-document cases."""
    path = tmp_path / f"{name}.yaml"
    if name in ("bomb", "empty", "list", "syntax", "python_tag"):
        path.write_text(override)
    else:
        base = {k: v for k, v in VALID_PROFILE.items()
                if k not in yaml.safe_load(override or "{}")}
        path.write_text(yaml.safe_dump(base, sort_keys=False) + override)
    return path


@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_hostile_profile_file_at_the_cli(case: str, tmp_path: Path):
    text, fragments = YAML_CASES[case]
    path = _profile_file(tmp_path, case, text)
    out = tmp_path / "out.json"
    line = assert_user_error(run("analyze", "mnv4_conv_small", "--hw", path, "-o", out),
                             f"{case}.yaml", *fragments)
    assert len(line) < 400
    assert not out.exists()
    # the survey checks its devices before any model runs
    assert_user_error(run("survey", "mnv4_conv_small", "--hw", "pixel8_cpu", path),
                      f"{case}.yaml")


def test_profile_path_that_is_missing_a_directory_or_binary(tmp_path: Path):
    assert_user_error(run("hw", "show", tmp_path / "nope.yaml"), "nope.yaml", "not found")
    d = tmp_path / "dir.yaml"
    d.mkdir()
    assert_user_error(run("hw", "show", d), "dir.yaml")
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)))
    assert_user_error(run("hw", "show", junk), "junk.yaml")


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["1e999", "-0", ".nan", "0x10", "1_000", "~"]))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from([("kind",), ("default_dtype",), ("name",),
                              ("mem_bw_bytes_per_s", "value"), ("mem_bw_bytes_per_s", "basis"),
                              ("peak_macs_per_s", "int8", "value"),
                              ("peak_macs_per_s", "int8"), ("peak_macs_per_s",)]),
       value=_scalars)
def test_property_fuzzed_profile_at_the_cli(field, value, tmp_path_factory):
    """Any value in any field: the command works or says what is wrong in one line."""
    data = yaml.safe_load(yaml.safe_dump(VALID_PROFILE))
    node = data
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    path = tmp_path_factory.mktemp("fuzz") / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run("hw", "show", path)
    if r.exit_code == 0:
        assert "fuzzed" in r.stdout
    else:
        assert_user_error(r, "fuzzed.yaml")


# --------------------------------------------------------------------------- measurement CSVs

CSV_CASES = {
    "empty": ("", ["empty file"]),
    "header_only": ("model,latency_ms\n", ["no data rows"]),
    "missing_column": ("model,lat\nresnet18,3\n", ["missing column 'latency_ms'"]),
    "not_a_number": ("model,latency_ms\nresnet18,abc\nmnv4_conv_small,2\n", ["'abc'"]),
    "negative": ("model,latency_ms\nresnet18,-3\nmnv4_conv_small,2\n", ["positive"]),
    "nan": ("model,latency_ms\nresnet18,nan\nmnv4_conv_small,2\n", ["latency_ms"]),
    "binary": (bytes(range(200, 256)) * 4, ["not UTF-8"]),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_bad_measurement_csv(case: str, tmp_path: Path):
    content, fragments = CSV_CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "fitted.yaml"
    assert_user_error(run("fit", path, "--hw", "pixel8_cpu", "-o", out), f"{case}.csv",
                      *fragments)
    assert not out.exists()
    assert_user_error(run("validate", "--hw", "pixel8_cpu", "-m", path), f"{case}.csv")


def test_missing_measurement_csv(tmp_path: Path):
    assert_user_error(run("fit", tmp_path / "nope.csv"), "nope.csv")


# --------------------------------------------------------------------------- output paths


@pytest.mark.parametrize("args", [
    ["analyze", "mnv4_conv_small"],
    ["survey", "mnv4_conv_small", "-q"],
    ["hw", "list"],
    ["sweep", "mnv4_conv_small"],
])
def test_output_in_a_missing_directory(args, tmp_path: Path):
    out = tmp_path / "no" / "such" / "dir" / "out.csv"
    assert_user_error(run(*args, "-o", out), "does not exist")
    assert not (tmp_path / "no").exists()


def test_output_is_a_directory(tmp_path: Path):
    assert_user_error(run("analyze", "mnv4_conv_small", "-o", tmp_path), "is a directory")
    assert_user_error(run("survey", "mnv4_conv_small", "-o", tmp_path), "is a directory")


def test_output_in_a_read_only_directory(tmp_path: Path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores the mode bits: make the check see them
            real = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False
                                if Path(p) == ro and mode & os.W_OK else real(p, mode, *a, **k))
        for args in (["analyze", "mnv4_conv_small"], ["survey", "mnv4_conv_small", "-q"]):
            assert_user_error(run(*args, "-o", ro / "x.csv"), "not writable")
        assert_user_error(run("survey", "mnv4_conv_small", "--journal", ro / "j.jsonl"),
                          "not writable")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


# --------------------------------------------------------------------------- hostile model files

MODELS = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x)

    class Raises(Tiny):
        def forward(self, x):
            raise ValueError("checkpoint mismatch in forward")

    class DataDependent(Tiny):
        def forward(self, x):
            if x.sum() > 0:          # a branch on tensor values
                return self.conv(x)
            return x

    class WantsDict(Tiny):
        def forward(self, batch):
            return self.conv(batch["image"]) * batch["scale"]

    class WantsKwargs(Tiny):
        def forward(self, x, *, mask):
            return self.conv(x) * mask

    def tiny(): return Tiny()
    def raises(): return Raises()
    def data_dependent(): return DataDependent()
    def wants_dict(): return WantsDict()
    def wants_kwargs(): return WantsKwargs()
    def not_a_module(): return 42
    def build_raises(): raise RuntimeError("weights not found")
""")


@pytest.fixture()
def models(tmp_path: Path):
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    (tmp_path / "broken.py").write_text("import torch\nraise ImportError('no module named foo')\n")
    return path


@pytest.mark.parametrize("factory,fragments", [
    ("raises", ["failed", "ValueError", "checkpoint mismatch"]),
    ("data_dependent", ["reads tensor values", "data-dependent"]),
    ("wants_dict", ["WantsDict"]),
    ("wants_kwargs", ["mask"]),
    ("not_a_module", ["returned int", "nn.Module"]),
    ("build_raises", ["build_raises()", "weights not found"]),
    ("tinny", ["no callable 'tinny'", "tiny"]),
])
def test_hostile_model_files(models: Path, factory: str, fragments):
    out = models.parent / "out.json"
    assert_user_error(run("analyze", f"{models}:{factory}", "-r", "16", "--no-cache",
                          "-o", out), *fragments)
    assert not out.exists()


def test_model_file_that_raises_on_import(models: Path):
    assert_user_error(run("analyze", f"{models.parent / 'broken.py'}:net", "-r", "16"),
                      "importing", "ImportError", "no module named foo")
    assert_user_error(run("analyze", f"{models.parent / 'missing.py'}:net"),
                      "does not exist")
    assert_user_error(run("analyze", f"{models}:tiny"), "no default input size",
                      "--resolution")


@pytest.mark.slow
def test_hostile_models_are_rows_in_a_survey(models: Path):
    r = run("survey", f"{models}:tiny", f"{models}:raises", f"{models}:data_dependent",
            f"{models.parent / 'broken.py'}:net", "-r", "16", "-j", "1", "-f", "csv", "-q")
    assert r.exit_code == 0, r.output
    import io

    import pandas as pd

    df = pd.read_csv(io.StringIO(r.stdout))
    assert list(df.status) == ["ok", "failed", "failed", "failed"]
    assert "checkpoint mismatch" in df.reason[1] and "data-dependent" in df.reason[2]
    assert "no module named foo" in df.reason[3]


def test_dict_and_kwargs_inputs_through_the_api(models: Path):
    import torch

    from roofline.models.zoo import resolve

    dict_model = resolve(f"{models}:wants_dict").build()
    x = torch.empty(1, 3, 16, 16)
    a = roofline.analyze(dict_model, inputs=({"image": x, "scale": torch.empty(1, 4, 14, 14)},))
    assert a.totals["macs"] == 4 * 14 * 14 * 27
    kw_model = resolve(f"{models}:wants_kwargs").build()
    a = roofline.analyze(kw_model, inputs=x, kwargs={"mask": torch.empty(1, 4, 14, 14)})
    assert a.totals["macs"] == 4 * 14 * 14 * 27
    with pytest.raises(TraceError, match="mask"):
        roofline.analyze(kw_model, inputs=x)
    with pytest.raises(InputError, match="exactly one of"):
        _trace(dict_model, (1, 3, 16, 16), inputs=x)


def test_profile_error_from_the_api(tmp_path: Path):
    path = _profile_file(tmp_path, "nan", YAML_CASES["nan"][0])
    with pytest.raises(ProfileError) as err:
        roofline.analyze("mnv4_conv_small", str(path))
    assert "nan.yaml" in str(err.value) and "\n" not in str(err.value)
    assert not math.isnan(0.0)

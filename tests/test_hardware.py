"""The hardware registry: built-in profiles, lookup, variants, and validation of profile files.

Fast and torch-free: nothing here builds a model.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roofline.hardware import registry as hw
from roofline.errors import InputError, ProfileError, UnknownHardwareError

REPO = Path(__file__).resolve().parents[1]
BUILTIN_IDS = sorted(p.stem for p in hw.builtin_dir().glob("*.yaml"))
FITTED_RP = {"pixel6_cpu:fitted": 31.2, "s23_cpu:fitted": 39.7, "pixel4_dsp:fitted": 347.3,
             "pixel8_edgetpu:fitted": 433.8}

VALID: dict[str, Any] = {
    "name": "Test device",
    "kind": "cpu",
    "default_dtype": "int8",
    "description": "a device for tests",
    "peak_macs_per_s": {
        "int8": {"value": 1.0e11, "basis": "derived", "source": "https://example.com/a",
                 "note": "64 MAC/cycle x 1.5625 GHz"},
        "fp32": {"value": 2.5e10, "basis": "derived", "source": "https://example.com/a"},
    },
    "mem_bw_bytes_per_s": {"value": 1.0e10, "basis": "estimate",
                           "source": "https://example.com/b"},
    "variants": {
        "fitted": {"dtype": "int8",
                   "ridge_point": {"value": 20.0, "basis": "fitted",
                                   "source": "https://example.com/c"}},
    },
}


def write(directory: Path, stem: str, data: Any) -> Path:
    """Write ``data`` as YAML (or verbatim when it is a string) to ``directory/stem.yaml``."""
    path = directory / f"{stem}.yaml"
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False,
                                                             allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def with_change(path: tuple[str, ...], value: Any = None, delete: bool = False
                ) -> dict[str, Any]:
    """VALID with one nested field replaced (or deleted)."""
    data = copy.deepcopy(VALID)
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.fixture(autouse=True)
def _no_user_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the built-ins unless they set the variable themselves."""
    monkeypatch.delenv(hw.ENV_VAR, raising=False)


# ------------------------------------------------------------------------ built-in profiles


def test_builtin_dir_holds_the_profiles() -> None:
    assert hw.builtin_dir().is_dir()
    assert len(BUILTIN_IDS) >= 20


@pytest.mark.parametrize("pid", BUILTIN_IDS)
def test_builtin_profile_is_complete(pid: str) -> None:
    profile = hw.get_profile(pid)
    assert profile.id == pid and profile.kind in hw.KINDS and profile.description
    assert profile.default_dtype in profile.dtypes
    for field, figure in profile.figures.items():
        assert figure.source.startswith("https://"), (pid, field)
        assert figure.basis in hw.BASES, (pid, field)
        assert figure.note, (pid, field)  # the arithmetic or the assumption is written down
    for dtype in profile.dtypes:
        expected = profile.peak_macs_per_s[dtype].value / profile.mem_bw_bytes_per_s.value
        assert profile.ridge_point(dtype) == pytest.approx(expected, rel=1e-12)
        assert profile.roof(dtype).ridge_point == pytest.approx(expected, rel=1e-12)
    json.dumps(profile.to_dict())  # JSON-ready


@pytest.mark.parametrize("vid, rp", sorted(FITTED_RP.items()))
def test_fitted_variants_reproduce_table_16(vid: str, rp: float) -> None:
    profile = hw.get_profile(vid)
    base = hw.get_profile(vid.split(":")[0])
    roof = profile.roof()
    assert profile.variant == "fitted" and profile.fitted and roof.fitted
    assert roof.basis == "fitted" and "fitted" in profile.name and "fitted" in roof.name
    assert roof.dtype == "int8" and profile.dtypes == ("int8",)
    assert roof.ridge_point == pytest.approx(rp, rel=1e-12)
    assert profile.peak("int8") == base.peak("int8")  # the peak is held, the bandwidth derived
    assert profile.mem_bw_bytes_per_s.basis == "fitted"
    assert "ridge point" in profile.mem_bw_bytes_per_s.note
    assert profile.mem_bw_bytes_per_s.source == "https://arxiv.org/abs/2404.10518"


def test_only_fitted_variants_are_fitted() -> None:
    fitted = {p.id for p in hw.list_profiles() if p.fitted}
    assert fitted == set(FITTED_RP)


@pytest.mark.parametrize("pid, dtype, rp", [
    ("pixel8_cpu", "int8", 5.46),
    ("pixel8_cpu", "fp32", 0.683),
    ("pixel8_cpu:sdot", "int8", 2.73),
    ("pixel8_cpu_all", "int8", 17.5),
    ("pixel6_cpu", "int8", 3.5),
    ("s23_cpu", "int8", 6.4),
    ("iphone13_ane", "fp16", 231.0),
    ("coral_edgetpu", "int8", 4000.0),
    ("rpi5_cpu", "int8", 18.0),
    ("jetson_orin_nano", "int8", 150.0),
    ("h100_sxm", "fp16", 147.7),
    ("h100_sxm", "int8", 295.0),
    ("h200_sxm", "fp16", 103.0),
    ("a100_sxm_80gb", "fp16", 76.5),
    ("a100_sxm_40gb", "fp16", 100.3),
    ("xeon_8480p_socket", "fp32", 11.7),
    ("xeon_8480p_socket:amx", "int8", 373.0),
])
def test_ridge_points_match_the_reference(pid: str, dtype: str, rp: float) -> None:
    assert hw.get_profile(pid).ridge_point(dtype) == pytest.approx(rp, rel=0.01)


def test_spot_check_figures() -> None:
    assert hw.get_profile("pixel8_cpu").peak() == pytest.approx(3.73e11, rel=1e-3)
    assert hw.get_profile("pixel8_cpu").mem_bw_bytes_per_s.basis == "estimate"
    assert hw.get_profile("h100_sxm").peak("bf16") == pytest.approx(494.7e12)
    assert hw.get_profile("a100_sxm_80gb").mem_bw_bytes_per_s.value == 2.039e12
    coral = hw.get_profile("coral_edgetpu")
    assert coral.onchip_bytes is not None and coral.mem_bw_bytes_per_s.value == 0.5e9


def test_kinds_and_default_dtypes() -> None:
    kinds = {p.id: p.kind for p in hw.list_profiles(include_variants=False)}
    assert kinds["pixel4_dsp"] == "dsp"
    assert {kinds[i] for i in ("pixel8_edgetpu", "iphone13_ane", "coral_edgetpu")} == {"npu"}
    for pid in ("h100_sxm", "h200_sxm", "a100_sxm_80gb", "a100_sxm_40gb", "s23_gpu"):
        assert kinds[pid] == "gpu" and hw.get_profile(pid).default_dtype == "fp16"


# ----------------------------------------------------------------------------- the API


def test_profile_accessors() -> None:
    p = hw.get_profile("h100_sxm")
    assert p.dtypes == ("fp16", "bf16", "fp8", "int8", "tf32", "fp32")
    assert p.peak() == p.peak("fp16") == p.peak("float16") == p.peak("half")
    with pytest.raises(InputError, match=r"h100_sxm.*int4.*fp16, bf16"):
        p.peak("int4")
    with pytest.raises(InputError, match="unknown dtype"):
        p.roof("int9")
    d = p.to_dict()
    assert d["ridge_point"]["fp16"] == pytest.approx(147.7, rel=1e-3)
    assert d["peak_macs_per_s"]["int8"]["basis"] == "vendor"
    assert d["onchip_bytes"] is None and d["fitted"] is False
    assert hash(p) == hash(hw.get_profile("h100_sxm"))


def test_roof_what_if() -> None:
    roof = hw.get_profile("pixel8_cpu").roof()
    assert roof.basis == "estimate" and not roof.fitted  # the bandwidth is an estimate
    faster = roof.with_(mem_bw_bytes_per_s=2 * roof.mem_bw_bytes_per_s)
    assert faster.ridge_point == pytest.approx(roof.ridge_point / 2)
    assert roof.overhead_s_per_layer == 0.0 and roof.compute_efficiency == 1.0
    with pytest.raises(InputError, match="memory_efficiency"):
        roof.with_(memory_efficiency=1.5)
    with pytest.raises(InputError, match="peak_macs_per_s"):
        roof.with_(peak_macs_per_s=float("nan"))
    assert hw.get_profile("h100_sxm").roof().basis == "spec"


def test_listing_order_and_ids() -> None:
    ids = hw.profile_ids()
    assert ids.index("pixel6_cpu:fitted") == ids.index("pixel6_cpu") + 1
    bases = hw.profile_ids(include_variants=False)
    assert bases == sorted(bases) == BUILTIN_IDS
    assert set(FITTED_RP) <= set(ids)
    assert hw.profile_ids(pattern="*:fitted") == sorted(FITTED_RP)
    assert hw.profile_ids(pattern="pixel8*", include_variants=False) == [
        "pixel8_cpu", "pixel8_cpu_all", "pixel8_edgetpu"]


def test_unknown_id_suggests_close_names() -> None:
    with pytest.raises(UnknownHardwareError, match="did you mean pixel8_cpu") as err:
        hw.get_profile("pixel8_cup")
    assert "roofline hw list" in str(err.value)
    with pytest.raises(UnknownHardwareError, match="no variant 'fit'.*did you mean fitted"):
        hw.get_profile("pixel6_cpu:fit")
    with pytest.raises(UnknownHardwareError, match="not found"):
        hw.get_profile("no/such/device.yaml")
    assert hw.get_profile("Pixel8_CPU").id == "pixel8_cpu"


def test_get_profile_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, "mydev", VALID)
    assert hw.get_profile(str(path)).id == "mydev"
    assert hw.get_profile(path).name == "Test device"
    variant = hw.get_profile(f"{path}:fitted")
    assert variant.id == "mydev:fitted" and variant.ridge_point() == pytest.approx(20.0)
    assert variant.mem_bw_bytes_per_s.value == pytest.approx(1e11 / 20)
    assert hw.load_profile(path).path == str(path)


def test_env_var_adds_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write(first, "my_board", VALID)
    write(first, "pixel8_cpu", with_change(("name",), "My own Pixel 8"))
    write(second, "my_board", with_change(("name",), "shadowed"))
    monkeypatch.setenv(hw.ENV_VAR, os.pathsep.join([str(first), str(second), "/no/such/dir"]))
    assert hw.get_profile("my_board").name == "Test device"  # the first directory wins
    assert hw.get_profile("my_board:fitted").fitted
    assert hw.get_profile("pixel8_cpu").name == "My own Pixel 8"  # a user file overrides
    ids = hw.profile_ids()
    assert "my_board" in ids and "my_board:fitted" in ids and ids == sorted(ids)
    with pytest.raises(UnknownHardwareError, match=hw.ENV_VAR):
        hw.get_profile("not_there")


def test_edited_file_is_reread(tmp_path: Path) -> None:
    path = write(tmp_path, "dev", VALID)
    assert hw.load_profile(path).name == "Test device"
    write(tmp_path, "dev", with_change(("name",), "Renamed"))
    assert hw.load_profile(path).name == "Renamed"


def test_numeric_strings_are_numbers(tmp_path: Path) -> None:
    text = yaml.safe_dump(VALID, sort_keys=False)
    assert "value: 10000000000.0" in text
    path = write(tmp_path, "dev", text.replace("value: 10000000000.0", "value: 1e10"))
    assert hw.load_profile(path).mem_bw_bytes_per_s.value == 1e10  # YAML 1.1: "1e10" is text
    data = with_change(("peak_macs_per_s", "int8", "value"), "68.3e9")
    assert hw.load_profile(write(tmp_path, "dev2", data)).peak() == 68.3e9


def test_variant_overrides(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["variants"]["busy"] = {
        "name": "Busy device",
        "mem_bw_bytes_per_s": {"value": 5e9, "basis": "measured", "source": "bench.csv 2024-05"},
        "memory_efficiency": {"value": 0.8, "basis": "measured", "source": "bench.csv"},
        "overhead_s_per_layer": {"value": 2e-6, "basis": "measured", "source": "bench.csv"},
    }
    busy = hw.get_profile(f"{write(tmp_path, 'dev', data)}:busy")
    roof = busy.roof("fp32")
    assert busy.name == "Busy device [busy]" and not busy.fitted
    assert busy.dtypes == ("int8", "fp32") and roof.basis == "measured"
    assert roof.memory_efficiency == 0.8 and roof.overhead_s_per_layer == 2e-6


# --------------------------------------------------------------------- malformed profiles

BAD_CASES = {
    "negative": (with_change(("mem_bw_bytes_per_s", "value"), -3),
                 "field 'mem_bw_bytes_per_s.value': expected a bandwidth from 1e3 to 1e18 bytes/s, got -3"),
    "zero_peak": (with_change(("peak_macs_per_s", "int8", "value"), 0),
                  "'peak_macs_per_s.int8.value'"),
    "missing_kind": (with_change(("kind",), delete=True), "missing field 'kind'"),
    "missing_source": (with_change(("mem_bw_bytes_per_s", "source"), delete=True),
                       "missing field 'mem_bw_bytes_per_s.source'"),
    "unknown_key": ({**with_change(("peak_macs_per_s",), delete=True),
                     "peak_mac": VALID["peak_macs_per_s"]},
                    "unknown key 'peak_mac' (did you mean peak_macs_per_s?)"),
    "unknown_figure_key": (with_change(("mem_bw_bytes_per_s", "vaule"), 1.0),
                           "field 'mem_bw_bytes_per_s': unknown key 'vaule'"),
    "typed_ridge_point": ({**VALID, "ridge_point": 3.0}, "unknown key 'ridge_point'"),
    "unknown_dtype": (with_change(("peak_macs_per_s", "int9"), VALID["peak_macs_per_s"]["int8"]),
                      ("field 'peak_macs_per_s': unknown dtype 'int9'",
                       "expected one of int4, int8, fp8")),
    "duplicate_dtype": (with_change(("peak_macs_per_s", "float32"),
                                    VALID["peak_macs_per_s"]["fp32"]),
                        "field 'peak_macs_per_s': dtype 'float32' given twice"),
    "no_peaks": (with_change(("peak_macs_per_s",), {}), "field 'peak_macs_per_s'"),
    "kind": (with_change(("kind",), "tpu"),
             "field 'kind': expected one of cpu, gpu, dsp, npu, got 'tpu'"),
    "basis": (with_change(("mem_bw_bytes_per_s", "basis"), "guess"),
              "field 'mem_bw_bytes_per_s.basis': expected one of vendor"),
    "source_number": (with_change(("mem_bw_bytes_per_s", "source"), 42),
                      "field 'mem_bw_bytes_per_s.source': expected a non-empty string, got 42"),
    "source_empty": (with_change(("mem_bw_bytes_per_s", "source"), " "),
                     "field 'mem_bw_bytes_per_s.source'"),
    "default_dtype": (with_change(("default_dtype",), "bf16"),
                      "field 'default_dtype': expected one of the dtypes under peak_macs_per_s"),
    "default_dtype_unknown": (with_change(("default_dtype",), "int9"),
                              "field 'default_dtype': unknown dtype 'int9'"),
    "efficiency_high": (with_change(("compute_efficiency",),
                                    {"value": 1.5, "basis": "fitted", "source": "x"}),
                        "field 'compute_efficiency.value': expected a number in (0, 1], got 1.5"),
    "efficiency_zero": (with_change(("memory_efficiency",),
                                    {"value": 0, "basis": "fitted", "source": "x"}),
                        "field 'memory_efficiency.value': expected a number in (0, 1]"),
    "overhead_negative": (with_change(("overhead_s_per_layer",),
                                      {"value": -1e-6, "basis": "fitted", "source": "x"}),
                          "field 'overhead_s_per_layer.value': expected a finite number >= 0"),
    "nan": (with_change(("mem_bw_bytes_per_s", "value"), float("nan")),
            "field 'mem_bw_bytes_per_s.value': expected a bandwidth from 1e3 to 1e18 bytes/s, got nan"),
    "inf": (with_change(("mem_bw_bytes_per_s", "value"), float("inf")),
            "field 'mem_bw_bytes_per_s.value'"),
    "inf_string": (with_change(("mem_bw_bytes_per_s", "value"), "1e999"),
                   "field 'mem_bw_bytes_per_s.value'"),
    "boolean": (with_change(("mem_bw_bytes_per_s", "value"), True),
                "field 'mem_bw_bytes_per_s.value': expected a bandwidth from 1e3 to 1e18 bytes/s, got true"),
    "word": (with_change(("mem_bw_bytes_per_s", "value"), "fast"),
             "field 'mem_bw_bytes_per_s.value': expected a bandwidth from 1e3 to 1e18 bytes/s, got 'fast'"),
    "figure_not_mapping": (with_change(("mem_bw_bytes_per_s",), [1e10]),
                           "field 'mem_bw_bytes_per_s': expected a mapping with value, basis "
                           "and source, or a bare number, got a list"),
    "bare_word": (with_change(("mem_bw_bytes_per_s",), "fast"),
                  "field 'mem_bw_bytes_per_s': expected a bandwidth from 1e3 to 1e18 bytes/s (or a "
                  "mapping with value, basis and source), got 'fast'"),
    "name_not_string": (with_change(("name",), ["a"]), "field 'name': expected a non-empty"),
    "top_list": ("- a\n- b\n", "expected a mapping at the top level, got a list"),
    "top_empty": ("", "expected a mapping at the top level"),
    "syntax": ("name: x\nkind: [cpu\n", "invalid YAML: line 3"),
    "bad_indent": ("name: x\n  kind: cpu\n", "invalid YAML: line 2"),
    "python_tag": ("name: !!python/object:os.system x\n", "invalid YAML: line 1"),
    "alias": ("a: &x 1\nb: *x\n", "anchors and aliases"),
    "duplicate_key": (yaml.safe_dump(VALID, sort_keys=False) + "kind: gpu\n",
                      "duplicate key 'kind'"),
    "variant_both": (with_change(("variants", "fitted", "mem_bw_bytes_per_s"),
                                 VALID["mem_bw_bytes_per_s"]),
                     "field 'variants.fitted': expected ridge_point or mem_bw_bytes_per_s"),
    "variant_dtype": (with_change(("variants", "fitted", "dtype"), "fp16"),
                      "field 'variants.fitted.dtype': expected a dtype with a peak"),
    "variant_rp": (with_change(("variants", "fitted", "ridge_point", "value"), -1),
                   "field 'variants.fitted.ridge_point.value'"),
    "variant_key": (with_change(("variants", "fitted", "rp"), 3),
                    "field 'variants.fitted': unknown key 'rp'"),
    "variant_name": (with_change(("variants", "bad name"), {}), "field 'variants'"),
    "variants_list": (with_change(("variants",), ["fitted"]),
                      "field 'variants': expected a mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_malformed_profile_is_one_clear_line(case: str, tmp_path: Path) -> None:
    data, expected = BAD_CASES[case]
    path = write(tmp_path, f"bad_{case}", data)
    with pytest.raises(ProfileError) as err:
        hw.load_profile(path)
    message = str(err.value)
    assert f"bad_{case}.yaml" in message
    for part in (expected,) if isinstance(expected, str) else expected:
        assert part in message
    assert_problem_lines(message, path.name)


def assert_problem_lines(message: str, name: str) -> None:
    """One line: '<file>: <problem>' or '<file>: N problems: (1) ... (N) ...'."""
    assert "\n" not in message and name in message
    head, _, rest = message.partition(" problems: (1) ")
    if rest:
        n = int(head.rsplit(" ", 1)[-1])
        assert n >= 2 and f"({n}) " in rest and f"({n + 1}) " not in rest, message


def test_oversized_file_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "big", "# padding\n" * 110_000)
    with pytest.raises(ProfileError, match=r"big\.yaml: file is larger than"):
        hw.load_profile(path)


def test_unreadable_and_badly_named_files(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        hw.load_profile(tmp_path / "missing.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: \xff\n")
    with pytest.raises(ProfileError, match=r"latin\.yaml: not UTF-8"):
        hw.load_profile(latin)
    with pytest.raises(ProfileError, match="not a valid profile id"):
        hw.load_profile(write(tmp_path, "has space", VALID))


def test_yaml_bomb_fails_fast(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = write(tmp_path, "bomb", "\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(ProfileError, match=r"bomb\.yaml.*line 1.*anchors and aliases"):
        hw.load_profile(path)
    assert time.perf_counter() - start < 0.5


def test_deep_nesting_is_a_profile_error(tmp_path: Path) -> None:
    path = write(tmp_path, "deep", "a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(ProfileError, match=r"deep\.yaml"):
        hw.load_profile(path)


def test_bad_user_file_named_when_listing(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "broken", with_change(("kind",), "tpu"))
    monkeypatch.setenv(hw.ENV_VAR, str(tmp_path))
    assert hw.get_profile("pixel8_cpu").id == "pixel8_cpu"  # other ids still load
    with pytest.raises(ProfileError, match=r"broken\.yaml: field 'kind'"):
        hw.list_profiles()


# -------------------------------------------------------------------- property: the loader

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), _text,
    st.sampled_from(["3.73e11", "68.3e9", "-1", "nan", "1e999", "int8", "fp16", "cpu",
                     "vendor", "fitted", "https://example.com", ""]),
)
_keys = st.one_of(
    st.sampled_from(["name", "kind", "default_dtype", "description", "peak_macs_per_s",
                     "mem_bw_bytes_per_s", "onchip_bytes", "compute_efficiency", "variants",
                     "value", "basis", "source", "note", "ridge_point", "dtype", "int8"]),
    _text, st.integers(),
)
_values = st.recursive(
    _scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                      st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, prefix + (key,))
    return out


_VALID_PATHS = _paths(VALID)


def _check_loads_or_profile_error(path: Path) -> None:
    try:
        profile = hw.load_profile(path)
    except ProfileError as exc:
        assert_problem_lines(str(exc), path.name)
        return
    for dtype in profile.dtypes:
        assert profile.roof(dtype).ridge_point > 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_mutated_profile(data: st.DataObject,
                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    doc = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_VALID_PATHS))
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            if data.draw(st.booleans()):
                node[path[-1]] = data.draw(_values)
            else:
                node.pop(path[-1], None)
        except (KeyError, TypeError, AttributeError, IndexError):
            continue  # an earlier mutation removed this branch
    directory = tmp_path_factory.mktemp("mutated")
    _check_loads_or_profile_error(write(directory, "prop", doc))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_values, text=st.text(max_size=200))
def test_property_random_documents(doc: Any, text: str,
                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("random")
    _check_loads_or_profile_error(write(directory, "doc", yaml.safe_dump(doc)))
    raw = directory / "raw.yaml"
    raw.write_bytes(text.encode("utf-8", "surrogatepass"))
    _check_loads_or_profile_error(raw)


# ------------------------------------------------------------------------- import weight


def test_import_does_not_pull_torch_or_pandas() -> None:
    code = ("import sys, roofline.hardware.registry as h; h.list_profiles(); "
            "print(sorted(m for m in ('torch', 'pandas', 'numpy') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO, env=env).stdout.strip()
    assert "torch" not in out and "pandas" not in out, out


def test_device_in_one_line():
    import roofline

    npu = roofline.device(1e12, 17.1e9, name="my NPU", dtype="int8")
    assert npu.ridge_point == pytest.approx(1e12 / 17.1e9)
    assert (npu.fitted, npu.basis, npu.dtype, npu.kind) == (False, "user", "int8", "npu")
    faster = npu.with_(mem_bw_bytes_per_s=2 * npu.mem_bw_bytes_per_s)
    assert faster.ridge_point == pytest.approx(npu.ridge_point / 2)
    with pytest.raises(InputError):
        roofline.device(-1, 1e9)
    with pytest.raises(InputError):
        roofline.device(1e12, 1e9, kind="tpu")


def test_summary_rows_and_their_renderings():
    from roofline.hardware.registry import get_profile, list_profiles
    from roofline.render.report import hardware_list_text

    p = get_profile("pixel8_cpu")
    s = p.summary()
    assert list(s) == ["id", "kind", "dtype", "peak_macs_per_s", "mem_bw_bytes_per_s",
                       "ridge_point", "basis", "name"]
    assert s["ridge_point"] == pytest.approx(p.ridge_point()) and s["dtype"] == p.default_dtype
    profiles = list_profiles()
    csv_text = hardware_list_text(profiles, "csv")
    assert csv_text.startswith("id,kind,dtype,") and csv_text.count("\n") == len(profiles) + 1
    assert hardware_list_text([], "csv") == "id\n"
    assert json.loads(hardware_list_text(profiles[:2], "json"))[0] == profiles[0].summary()
    assert "ridge MACs/B" in hardware_list_text(profiles, "table").splitlines()[0]


# ------------------------------------------------------- hand-written files, every problem


def test_bare_numbers_are_user_figures(tmp_path: Path) -> None:
    text = ("name: My NPU\nkind: npu\ndefault_dtype: int8\n"
            "peak_macs_per_s: {int8: 1.0e12, fp16: 5e11}\nmem_bw_bytes_per_s: 17.1e9\n"
            "overhead_s_per_layer: {value: 2e-6, basis: user}\n")
    p = hw.load_profile(write(tmp_path, "my_npu", text))
    assert p.peak("int8") == 1e12 and p.peak("fp16") == 5e11
    assert p.mem_bw_bytes_per_s == hw.Figure(17.1e9, "user", "")
    assert p.overhead_s_per_layer == hw.Figure(2e-6, "user", "")
    roof = p.roof()
    assert roof.basis == "user" and not roof.fitted
    assert roof.ridge_point == pytest.approx(1e12 / 17.1e9)
    assert p.summary()["basis"] == "user"


def test_user_basis_source_optional_but_others_need_one(tmp_path: Path) -> None:
    ok = with_change(("mem_bw_bytes_per_s",), {"value": 1e10, "basis": "user", "note": "guess"})
    assert hw.load_profile(write(tmp_path, "ok", ok)).mem_bw_bytes_per_s.note == "guess"
    bad = with_change(("mem_bw_bytes_per_s",), {"value": 1e10, "basis": "vendor"})
    with pytest.raises(ProfileError, match="missing field 'mem_bw_bytes_per_s.source'"):
        hw.load_profile(write(tmp_path, "bad", bad))


def test_every_problem_of_a_file_at_once(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["kind"] = "tpu"
    del data["name"]
    data["peak_macs_per_s"]["int8"]["value"] = -1
    data["peak_macs_per_s"]["fp32"]["basis"] = "guess"
    data["mem_bw_bytes_per_s"] = "fast"
    data["compute_efficiency"] = 1.5
    data["variants"]["fitted"]["ridge_point"]["value"] = 0
    with pytest.raises(ProfileError) as err:
        hw.load_profile(write(tmp_path, "many", data))
    message = str(err.value)
    assert message.endswith(
        "many.yaml: 6 problems: (1) missing field 'name' "
        "(2) field 'peak_macs_per_s.int8.value': expected a peak from 1e3 to 1e21 MACs/s, got -1 "
        "(3) field 'peak_macs_per_s.fp32.basis': expected one of vendor, derived, measured, "
        "fitted, estimate, user, what-if, got 'guess' "
        "(4) field 'kind': expected one of cpu, gpu, dsp, npu, got 'tpu' "
        "(5) field 'mem_bw_bytes_per_s': expected a bandwidth from 1e3 to 1e18 bytes/s (or a mapping with "
        "value, basis and source), got 'fast' "
        "(6) field 'compute_efficiency': expected a number in (0, 1] (or a mapping with value, "
        "basis and source), got 1.5"), message
    # the variant is checked once the base is whole: its problems follow on the next run
    fixed = copy.deepcopy(VALID)
    fixed["variants"]["fitted"]["ridge_point"]["value"] = 0
    fixed["variants"]["fitted"]["dtype"] = "bf16"
    with pytest.raises(ProfileError) as err:
        hw.load_profile(write(tmp_path, "variant", fixed))
    assert str(err.value).endswith(
        "variant.yaml: 2 problems: (1) field 'variants.fitted.dtype': expected a dtype with a "
        "peak (int8, fp32), got 'bf16' (2) field 'variants.fitted.ridge_point.value': expected "
        "a positive finite number, got 0")


def test_every_problem_at_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from roofline.cli import main

    data = with_change(("kind",), "tpu")
    del data["name"]
    path = write(tmp_path, "two", data)
    res = CliRunner().invoke(main, ["hw", "show", str(path)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.stderr.startswith("error: ") and res.stderr.endswith(
        "two.yaml: 2 problems: (1) missing field 'name' (2) field 'kind': expected one of "
        "cpu, gpu, dsp, npu, got 'tpu'\n")


def test_profile_id_regex_has_one_definition() -> None:
    hits = [p for p in (REPO / "roofline").rglob("*.py")
            if "A-Za-z0-9_.+-" in p.read_text(encoding="utf-8")]
    assert [p.relative_to(REPO).as_posix() for p in hits] == ["roofline/hardware/schema.py"]


def test_every_hardware_module_is_small_and_declares_all() -> None:
    for p in sorted((REPO / "roofline" / "hardware").glob("*.py")):
        text = p.read_text(encoding="utf-8")
        assert text.count("\n") <= 500, p.name
        if p.name != "__init__.py":
            assert "\n__all__ = [" in text, p.name


def test_builtin_files_cite_original_sources() -> None:
    """Header comments list the URLs the figures come from; no file cites a path outside the
    repository (a research note, a machine's directory)."""
    for f in sorted(hw.builtin_dir().glob("*.yaml")):
        text = f.read_text(encoding="utf-8")
        header = [line for line in text.splitlines() if line.startswith("#")]
        assert not any(bad in text for bad in ("/work/", "/home/", "/tmp/", "hardware.md",
                                               "shared/reference")), f.name
        if f.stem == "ci_x86_2core":  # written by a script, which its header names
            assert "benchmarks/accuracy_local.py" in header[0]
            continue
        assert header[1].startswith("# Sources"), f.name
        urls = [line.split()[1] for line in header[2:]]
        assert urls and all(u.startswith("https://") for u in urls), f.name
        cited = {fig.source for p in hw.list_profiles(pattern=f"{f.stem}*")
                 if p.id.split(":")[0] == f.stem
                 for fig in p.figures.values() if fig.source.startswith("https://")}
        assert cited <= set(urls) | {u.rstrip(",") for u in urls}, (f.name, cited - set(urls))


def test_hardware_package_has_no_import_cycle() -> None:
    """profile < paths < runtime < schema < io < registry (whatif beside): each module imports
    only those before it, at the top, so no import hides a cycle."""
    import ast

    order = ["profile", "paths", "runtime", "schema", "io", "registry", "whatif"]
    for i, name in enumerate(order):
        tree = ast.parse((REPO / "roofline" / "hardware" / f"{name}.py").read_text())
        used = {n.module.rsplit(".", 1)[-1] for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.module
                and n.module.startswith("roofline.hardware.")}
        assert used <= set(order[:i]), (name, used - set(order[:i]))

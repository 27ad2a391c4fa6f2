"""The model zoo: the names users type, their metadata, forms, resolutions, and bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from click.testing import CliRunner

from roofline.models import zoo
from roofline.analysis import analyze, resolve_roof
from roofline.cli import main
from roofline.errors import InputError, RooflineError, UnknownModelError
from roofline.hardware.registry import list_profiles
from roofline.latency.equation import layer_times, totals
from roofline.models.zoo import FIGURES, Cited, Published, ZooEntry, ZooError, cite

# the names issue #3 promises (users and scripts type them)
NAMES = [
    "mnv4_conv_small", "mnv4_conv_medium", "mnv4_conv_large", "mnv4_hybrid_medium",
    "mnv4_hybrid_large",
    "mobilenetv1_100", "mobilenetv1_150",
    "mobilenetv2_050", "mobilenetv2_100", "mobilenetv2_150", "mobilenetv2_200",
    "mobilenetv3_small_100", "mobilenetv3_large_050", "mobilenetv3_large_100",
    "mobilenetv3_large_150",
    "mobileone_s0", "mobileone_s4", "fastvit_t8", "fastvit_s12", "fastvit_sa12", "fastvit_sa24",
    "fastvit_sa36", "efficientvit_b1_r224", "efficientvit_b2_r256", "efficientvit_b3_r224",
    "convnext_small", "efficientnet_b0",
]
RESOLUTIONS = {"mnv4_conv_small": 224, "mnv4_conv_medium": 256, "mnv4_conv_large": 384,
               "mnv4_hybrid_medium": 256, "mnv4_hybrid_large": 384, "fastvit_sa36": 256,
               "efficientvit_b1_r224": 224, "efficientvit_b2_r256": 256,
               "efficientvit_b3_r224": 224, "mobilenetv2_150": 224}


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_the_promised_names_at_the_papers_resolutions():
    assert zoo.names() == NAMES
    for name, res in RESOLUTIONS.items():
        assert zoo.get(name).resolution == res
    assert zoo.names("mnv4*") == NAMES[:5]


def test_every_entry_is_complete_and_cited():
    for e in zoo.entries():
        zoo.validate(e)
        assert e.family in zoo.FAMILIES
        for f in FIGURES:
            c = e.published.cited(f)
            assert (c.value is not None and c.source is not None) or c.note, (e.name, f)


@pytest.mark.parametrize("alias, name", [
    ("MNv4-Conv-M", "mnv4_conv_medium"), ("mnv4-conv-m", "mnv4_conv_medium"),
    ("mobilenetv4_conv_medium", "mnv4_conv_medium"), ("MNv4-Hybrid-M", "mnv4_hybrid_medium"),
    ("MobileNet-V2-1.5x", "mobilenetv2_150"), ("MobileOne-S0", "mobileone_s0"),
    ("MIT-EfficientViT-B2-r256", "efficientvit_b2_r256"),
    ("efficientvit_b2", "efficientvit_b2_r256"),
    ("ConvNext-S", "convnext_small"), (" FastViT-SA12 ", "fastvit_sa12"),
])
def test_aliases_resolve_to_entries(alias: str, name: str):
    assert zoo.get(alias).name == name
    src = zoo.resolve(alias)
    assert src.kind == "zoo" and src.label == name
    assert src.resolution == zoo.get(name).resolution


def test_timm_alias_is_at_the_papers_resolution_and_timm_prefix_bypasses_the_zoo():
    a = analyze("mobilenetv4_conv_medium")
    assert a.model == "mnv4_conv_medium" and a.resolution == 256 and a.family == "MobileNetV4"
    assert zoo.resolve("timm:mobilenetv4_conv_medium").kind == "timm"


def test_display_name_is_the_papers():
    assert zoo.get("mnv4_conv_medium").display == "MNv4-Conv-M"
    assert zoo.get("mobilenetv1_150").display == "MobileNet-V1-1.5x"


@pytest.mark.parametrize("typo, hint", [("mnv4_conv_med", "mnv4_conv_medium"),
                                        ("mnv4_medium", "mnv4_hybrid_medium"),
                                        ("mobilenetv3_large_15", "mobilenetv3_large_150")])
def test_unknown_names_suggest_close_ones(typo: str, hint: str):
    with pytest.raises(UnknownModelError, match=hint) as e:
        zoo.get(typo)
    assert "\n" not in str(e.value)
    with pytest.raises(UnknownModelError, match=hint):
        zoo.resolve(typo)


def test_suggestions_name_each_entry_once():
    with pytest.raises(UnknownModelError) as e:
        zoo.get("mnv4_conv_mediun")
    assert str(e.value).count("conv_medium") == 1  # not also its alias mobilenetv4_conv_medium


# --------------------------------------------------------------------------- incomplete metadata


def _entry(**changes) -> ZooEntry:
    base = ZooEntry("test_tiny", "MobileNetV2", "mobilenetv2_050", 224,
                    Published({"top1": cite("66.0", zoo.MNV4_TABLE6),
                               "params_m": cite("2.0", zoo.MNV4_TABLE6),
                               "macs_g": cite("0.1", zoo.MNV4_TABLE6)}))
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("figures, fragment", [
    ({"top1": cite("66.0", zoo.MNV4_TABLE6), "params_m": cite("2.0", zoo.MNV4_TABLE6)},
     "published macs_g is absent"),
    ({"top1": Cited(None, None), "params_m": cite("2.0", zoo.MNV4_TABLE6),
      "macs_g": cite("0.1", zoo.MNV4_TABLE6)}, "top1 is None without a reason"),
    ({"top1": cite("66.0", None), "params_m": cite("2.0", zoo.MNV4_TABLE6),
      "macs_g": cite("0.1", zoo.MNV4_TABLE6)}, "top1 = 66.0 has no source"),
])
def test_register_refuses_incomplete_metadata(figures, fragment: str):
    with pytest.raises(ZooError, match=fragment) as e:
        zoo.register(_entry(published=Published(figures)))
    assert "\n" not in str(e.value) and "test_tiny" in str(e.value)
    assert zoo.lookup("test_tiny") is None


def test_register_refuses_missing_published_and_taken_names():
    with pytest.raises(ZooError, match="no published metadata"):
        zoo.register(_entry(published=None))
    with pytest.raises(ZooError, match="already taken"):
        zoo.register(_entry(aliases=("MNv4-Conv-M",)))
    with pytest.raises(ZooError, match="without resolution_rule"):
        zoo.register(_entry(min_resolution=32))


def test_unpublished_figures_with_a_reason_are_accepted():
    entry = _entry(published=Published({f: Cited(None, None, "never published") for f in FIGURES}))
    try:
        zoo.register(entry)
        a = analyze("test_tiny")
        assert a.published["params_m"] is None and a.totals["params"] > 1e6
    finally:
        zoo.unregister("test_tiny")
    assert zoo.lookup("test_tiny") is None


# --------------------------------------------------------------------------- resolutions


def test_a_resolution_the_architecture_cannot_take_names_the_constraint():
    with pytest.raises(InputError) as e:
        analyze("convnext_small", resolution=16)
    msg = str(e.value)
    assert "convnext_small needs a resolution of at least 32 px" in msg
    assert "stride" in msg and "got 16" in msg and "try 32 or 224" in msg
    assert analyze("convnext_small", resolution=32).resolution == 32


def test_bad_resolution_is_one_line_on_the_command_line():
    r = run("analyze", "convnext_small", "-r", "16")
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "at least 32 px" in r.stderr


# --------------------------------------------------------------------------- forms


def test_mobileone_s0_is_re_parameterised():
    inference = analyze("mobileone_s0").totals["params"]
    training = analyze("mobileone_s0", form="training").totals["params"]
    assert abs(inference / 2.1e6 - 1) < 0.05          # the paper's 2.1 M
    assert abs(training / 5.3e6 - 1) < 0.05           # the multi-branch training form
    assert analyze("mobileone_s0").form == "inference"


@pytest.mark.slow
def test_reparameterize_flags_match_the_architectures():
    for e in zoo.entries():
        assert zoo.reparameterizable(e.build("training")) == e.reparameterize, e.name


def test_builds_allocate_nothing():
    for name in ("fastvit_sa12", "mobilenetv3_large_150", "mobileone_s4"):
        m = zoo.get(name).build()
        assert {p.device.type for p in m.parameters()} == {"meta"}
        assert not m.training


def test_unknown_form():
    with pytest.raises(InputError, match="unknown model form 'deploy'"):
        analyze("mobileone_s0", form="deploy")


def test_training_form_flag():
    r = run("analyze", "mobileone_s0", "--training-form", "--hw", "pixel8_cpu", "-f", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["form"] == "training" and d["totals"]["params"] > 5e6


# --------------------------------------------------------------------------- every entry x device


@pytest.mark.parametrize("name", [n if i < 3 else pytest.param(n, marks=pytest.mark.slow)
                                  for i, n in enumerate(NAMES)])
def test_every_entry_on_every_device(name: str):
    profiles = list_profiles()
    a = analyze(name, profiles[0])
    assert a.totals["latency_s"] > 0 and not a.unsupported.get("unknown")
    pub = zoo.get(name).published
    if pub.params_m is not None:                       # every entry within 15 % of its paper
        assert abs(a.totals["params"] / (pub.params_m * 1e6) - 1) < 0.15
    tables = {}
    for p in profiles:
        roof, _, dtype = resolve_roof(p, None)
        if dtype not in tables:
            tables[dtype] = analyze(name, None, dtype=dtype).layers
        t = totals(layer_times(tables[dtype], roof))
        assert math.isfinite(t["latency_s"]) and t["latency_s"] > 0, (name, p.id)


# --------------------------------------------------------------------------- the command line


def test_zoo_list_formats(tmp_path):
    r = run("zoo", "list")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0].split()[:3] == ["name", "family", "res"]
    assert any(ln.startswith("mnv4_conv_medium ") and "MNv4 Table 6" in ln for ln in lines)
    row = next(ln for ln in lines if ln.startswith("mobilenetv1_150 "))
    assert "none published" in row
    rows = json.loads(run("zoo", "list", "-f", "json").output)
    assert [x["name"] for x in rows] == NAMES
    mnv4 = next(x for x in rows if x["name"] == "mnv4_conv_medium")
    assert mnv4["params_m"] == 9.2 and mnv4["macs_g"] == 1.0 and mnv4["top1"] == 79.9
    assert mnv4["resolution"] == 256 and mnv4["family"] == "MobileNetV4"
    out = tmp_path / "zoo.csv"
    assert run("zoo", "list", "fastvit*", "-f", "csv", "-o", str(out)).exit_code == 0
    text = out.read_text().splitlines()
    assert text[0].startswith("name,display,family,resolution,params_m,macs_g,top1")
    assert len(text) == 1 + 5


def test_zoo_show():
    r = run("zoo", "show", "MNv4-Hybrid-M")
    assert r.exit_code == 0, r.output
    out = r.output
    assert out.startswith("mnv4_hybrid_medium: MNv4-Hybrid-M (MobileNetV4)")
    assert "256 px" in out and "Table 13" in out and "2404.10518" in out
    assert "11.075 M (+5.5%)" in out
    d = json.loads(run("zoo", "show", "mobileone_s0", "-f", "json").output)
    assert d["reparameterize"] is True and d["ours"]["params"] < 2.2e6
    assert d["published"]["figures"]["params_m"]["source"].startswith("Qin et al. 2024")


@pytest.mark.parametrize("args, fragment", [
    (["zoo", "show", "mnv4_conv_med"], "did you mean mnv4_conv_medium"),
    (["zoo", "list", "resnet*"], "no zoo model matches 'resnet*'"),
])
def test_zoo_bad_input(args, fragment: str):
    r = run(*args)
    assert r.exit_code == 2 and fragment in r.stderr
    assert r.stderr.strip().count("\n") == 0


def test_matching_and_summary_rows():
    from roofline.render.report import zoo_list_text

    found = zoo.matching("mnv4_conv_*")
    assert [e.name for e in found] == ["mnv4_conv_small", "mnv4_conv_medium", "mnv4_conv_large"]
    with pytest.raises(RooflineError, match="no zoo model matches 'nothing\\*'"):
        zoo.matching("nothing*")
    s = found[0].summary()
    assert list(s) == ["name", "display", "family", "resolution", "params_m", "macs_g", "top1",
                       "reparameterize", "source"]
    assert s["display"] == "MNv4-Conv-S" and s["top1"] == found[0].published.top1
    csv_text = zoo_list_text(found, "csv")
    assert "\r" not in csv_text and csv_text.splitlines()[0] == ",".join(s)
    assert json.loads(zoo_list_text(found, "json"))[1] == found[1].summary()

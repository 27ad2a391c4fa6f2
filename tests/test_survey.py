"""`roofline survey`: one model per family against FlopCounterMode, failures as rows, resume,
Dask, output formats, and the commands that must start without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from click.testing import CliRunner

from roofline.survey import engine
from roofline.cli import main
from roofline.errors import InputError, UnknownModelError

# one model per family, small variants at timm's default resolution (the zoo entry at the
# paper's); the comments say what each one exercises
FAMILIES = [
    "mnv4_hybrid_medium",            # zoo: MobileNetV4 with mobile MQA
    "resnet18",                      # resnet
    "efficientnet_b0",               # efficientnet: depthwise + squeeze-excite
    "regnetx_002",                   # regnet: grouped convs
    "convnext_atto",                 # convnext: channels-last head (as_strided_)
    "ghostnet_050",                  # ghostnet: cheap ops, concat
    "vit_tiny_patch16_224",          # vision_transformer: SDPA
    "swin_tiny_patch4_window7_224",  # swin: windowed attention, rolls
    "swinv2_cr_tiny_ns_224",         # swin v2 cr: position-bias MLP on constants (folded)
    "cait_xxs24_224",                # cait: FlopCounterMode needs grad mode here
    "levit_128s",                    # levit: constructor runs a forward
    "mobilevit_xxs",                 # mobilevit: unfold/fold attention
    "efficientformer_l1",            # efficientformer: meta-former blocks
    "edgenext_xx_small",             # edgenext: Fourier position encoding (made in forward: counted)
    "coatnet_nano_rw_224",           # maxxvit: conv + relative attention
    "mixer_s32_224",                 # mlp_mixer
    "resmlp_12_224",                 # mlp_mixer: affine norms
    "cspdarknet53",                  # cspnet: detection-style backbone
    "dla34",                         # dla: deep aggregation
    "hrnet_w18_small",               # hrnet: multi-resolution branches
    "ese_vovnet19b_dw",              # vovnet: one-shot aggregation
]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def family_survey(tmp_path_factory):
    out = tmp_path_factory.mktemp("survey") / "families.csv"
    r = run("survey", *FAMILIES, "--hw", "pixel8_cpu", "h100_sxm", "--workers", "2",
            "-o", str(out))
    assert r.exit_code == 0, r.output
    return out, r


# --------------------------------------------------------------------------- the families


def test_every_family_traces_and_matches_flop_counter_mode(family_survey):
    out, _ = family_survey
    df = pd.read_csv(out)
    assert list(df.spec) == FAMILIES
    bad = df[df.status != "ok"]
    assert bad.empty, bad[["spec", "reason"]]
    assert (df.coverage == 1.0).all() and df.unsupported.isna().all()
    # MACs within 1% of FlopCounterMode; where they differ at all, by exactly the MACs of
    # weight-only products that we fold into constants and it counts
    assert (df.rel_diff.abs() <= 0.01).sum() >= len(df) - 2
    assert set(df.fcm_check) <= {"exact", "folded"}
    folded = df[df.fcm_check == "folded"]
    assert set(folded.spec) == {"swinv2_cr_tiny_ns_224"}
    assert ((folded.macs + folded.macs_folded) == folded.macs_fcm).all()
    for hw in ("pixel8_cpu", "h100_sxm"):
        assert (df[f"latency_ms@{hw}"] > 0).all()
        assert df[f"memory_bound_fraction@{hw}"].between(0, 1).all()
    assert df.loc[df.spec == "resnet18", "macs"].item() == 1_814_073_344


def test_repeat_is_read_back_from_the_journal(family_survey):
    out, _ = family_survey
    journal = out.with_name(out.name + ".journal.jsonl")
    assert len(journal.read_text().splitlines()) == len(FAMILIES)
    before = out.read_text()
    r = run("survey", *FAMILIES, "--hw", "pixel8_cpu", "h100_sxm", "-o", str(out))
    assert r.exit_code == 0
    assert out.read_text() == before


def test_leaderboard_table(family_survey):
    out, _ = family_survey
    r = run("survey", *FAMILIES, "--hw", "pixel8_cpu", "h100_sxm", "--journal",
            str(out.with_name(out.name + ".journal.jsonl")), "--top", "3")
    assert r.exit_code == 0
    text = r.stdout
    assert "21 model runs: 21 ok, 0 failed, 0 timed out (21 from the journal" in text
    assert "top 3 on pixel8_cpu (int8" in text and "top 3 on h100_sxm (fp16" in text
    assert ("MACs vs torch FlopCounterMode: 19 of 21 within 1% (2 differ only by ops on "
            "constants, which we fold)") in text
    lines = text.splitlines()
    first = lines[lines.index(next(x for x in lines if x.startswith("top 3 on pixel8_cpu"))) + 3]
    assert first.split()[:2] == ["1", "ghostnet_050"]  # the fewest MACs wins on a CPU


# --------------------------------------------------------------------------- failures are rows


BAD_MODELS = textwrap.dedent("""
    import os, signal, time
    import torch.nn as nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x):
            return self.conv(x)

    class Raises(Tiny):
        def forward(self, x):
            raise RuntimeError("this forward always fails")

    class Kills(Tiny):
        def forward(self, x):
            os.kill(os.getpid(), signal.SIGKILL)

    class Spins(Tiny):
        def forward(self, x):
            while True:
                pass

    class Blocks(Tiny):
        def forward(self, x):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(120)

    def tiny(): return Tiny()
    def raises(): return Raises()
    def kills(): return Kills()
    def spins(): return Spins()
    def blocks(): return Blocks()
    def build_fails(): raise ValueError("no such checkpoint")
""")


@pytest.fixture()
def bad_models(tmp_path):
    path = tmp_path / "bad_models.py"
    path.write_text(BAD_MODELS)
    return lambda name: f"{path}:{name}"


def test_failures_become_rows(bad_models, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "HARD_GRACE_S", 1.0)
    specs = [bad_models(n) for n in ("tiny", "raises", "kills", "spins", "blocks",
                                     "build_fails", "tiny")]
    s = engine.survey(specs, ["pixel8_cpu"], resolutions=[32], workers=2, timeout_s=2,
                      journal=tmp_path / "j.jsonl")
    rows = {r["spec"].rsplit(":", 1)[1]: r for r in s.rows}
    assert len(s.rows) == 6  # the duplicate is surveyed once
    assert rows["tiny"]["status"] == "ok" and rows["tiny"]["macs"] == 8 * 30 * 30 * 27
    assert rows["raises"]["status"] == "failed"
    assert "this forward always fails" in rows["raises"]["reason"]
    assert rows["kills"]["status"] == "failed" and "SIGKILL" in rows["kills"]["reason"]
    assert rows["spins"]["status"] == "timeout"              # soft deadline: worker survives
    assert rows["blocks"]["status"] == "timeout"             # hard deadline: worker killed
    assert "worker killed" in rows["blocks"]["reason"]
    assert rows["build_fails"]["status"] == "failed"
    assert "no such checkpoint" in rows["build_fails"]["reason"]
    assert all("\n" not in r["reason"] for r in s.rows)
    assert s.summary()["ok"] == 1 and s.summary()["timeout"] == 2


def test_interrupted_survey_resumes(tmp_path):
    journal = tmp_path / "j.jsonl"
    specs = ["mnv4_conv_small", "resnet18", "convnext_atto"]
    seen = []

    def stop_after_first(row, done, total):
        seen.append(row["spec"])
        raise KeyboardInterrupt

    s = engine.survey(specs, ["pixel8_cpu"], workers=1, journal=journal,
                      progress=stop_after_first)
    assert s.interrupted and len(s.rows) == 1 and s.total == 3
    with journal.open("a") as f:
        f.write('{"key": "cut sh')  # a write cut short by the interruption
    s = engine.survey(specs, ["pixel8_cpu"], workers=2, journal=journal)
    assert not s.interrupted
    assert (s.resumed, s.ran) == (1, 2)
    assert [r["spec"] for r in s.rows] == specs and all(r["status"] == "ok" for r in s.rows)
    # a different device set is a different row key: everything runs again (from the cache)
    s = engine.survey(specs, ["h100_sxm"], workers=2, journal=journal)
    assert (s.resumed, s.ran) == (0, 3)
    assert all(r["trace_cached"] for r in s.rows)


def test_cli_interrupt_writes_nothing(tmp_path, monkeypatch):
    from roofline.cli import survey as cli

    def interrupt(self, row, done, total):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._SurveyProgress, "__call__", interrupt)
    out = tmp_path / "s.csv"
    r = run("survey", "mnv4_conv_small", "resnet18", "-j", "1", "-o", str(out))
    assert r.exit_code == 130
    assert "run the same command again to resume" in r.stderr
    assert not out.exists()


def test_retry_failed_and_fresh(bad_models, tmp_path):
    journal = tmp_path / "j.jsonl"
    specs = [bad_models("raises"), bad_models("tiny")]
    kw = dict(resolutions=[16], workers=1, journal=journal)
    s = engine.survey(specs, **kw)
    assert s.ran == 2
    assert engine.survey(specs, **kw).ran == 0
    assert engine.survey(specs, retry_failed=True, **kw).ran == 1
    assert engine.survey(specs, fresh=True, **kw).ran == 2


# --------------------------------------------------------------------------- dask


def test_dask_local_cluster(bad_models, family_survey):
    distributed = pytest.importorskip("distributed")
    import dask

    # the scheduler runs in this process: a task that kills its worker is not retried
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None, silence_logs=40) as cluster:
        tasks = [engine.Task("resnet18"), engine.Task("vit_tiny_patch16_224"),
                 engine.Task(bad_models("raises"), 16), engine.Task(bad_models("kills"), 16)]
        s = engine.survey([], ["pixel8_cpu"], tasks=tasks, dask=cluster.scheduler_address)
    rows = {r["spec"]: r for r in s.rows}
    assert rows["resnet18"]["status"] == "ok" and rows["resnet18"]["trace_cached"]
    assert rows["resnet18"]["macs"] == 1_814_073_344
    assert rows["vit_tiny_patch16_224"]["fcm_check"] == "exact"
    assert rows[bad_models("raises")]["status"] == "failed"
    assert "this forward always fails" in rows[bad_models("raises")]["reason"]
    assert rows[bad_models("kills")]["status"] == "failed"
    assert "KilledWorker" in rows[bad_models("kills")]["reason"]


def test_dask_timeout_in_a_worker_thread(bad_models):
    # threads of this process: the soft deadline is an exception set on the worker thread
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None, silence_logs=40) as cluster:
        s = engine.survey([bad_models("spins"), bad_models("tiny")], ["pixel8_cpu"],
                          resolutions=[16], dask=cluster.scheduler_address, timeout_s=2)
    assert [r["status"] for r in s.rows] == ["timeout", "ok"]


def test_dask_unreachable_is_a_user_error(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(engine, "DASK_CONNECT_TIMEOUT_S", 2)
    with pytest.raises(InputError, match="cannot connect to the Dask scheduler"):
        engine.survey(["resnet18"], dask="tcp://127.0.0.1:9")


# --------------------------------------------------------------------------- patterns, options


def test_expand_patterns():
    tasks = engine.expand(["zoo:mnv4_conv*", "timm:mobilenetv4_conv_small", "resnet18",
                           "MNv4-Conv-S", "timm:resnet1??d"])
    specs = [t.spec for t in tasks]
    assert specs[:3] == ["mnv4_conv_small", "mnv4_conv_medium", "mnv4_conv_large"]
    # a timm name that is also a zoo alias keeps its prefix; an alias resolves to its entry
    assert "timm:mobilenetv4_conv_small" in specs and specs.count("mnv4_conv_small") == 1
    assert specs[-3:] == ["resnet18", "resnet101d", "resnet152d"]
    assert next(t for t in tasks if t.spec == "resnet18").family == "resnet"
    with pytest.raises(UnknownModelError, match="resnet50"):
        engine.expand(["resnet5O"])
    with pytest.raises(UnknownModelError, match="matches no model"):
        engine.expand(["timm:*no_such_family*"])


def test_several_devices_and_resolutions_after_one_option(tmp_path):
    out = tmp_path / "s.json"
    r = run("survey", "mnv4_conv_small", "--hw", "pixel8_cpu", "h100_sxm", "-r", "160",
            "192", "--no-compare", "-o", str(out))
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert [x["label"] for x in d["devices"]] == ["pixel8_cpu", "h100_sxm"]
    assert [x["resolution"] for x in d["rows"]] == [160, 192]
    assert "macs_fcm" not in d["rows"][0]
    assert d["rows"][1]["macs"] > d["rows"][0]["macs"]
    assert d["summary"]["ok"] == 2


def test_formats(family_survey, tmp_path):
    out, _ = family_survey
    journal = str(out.with_name(out.name + ".journal.jsonl"))
    args = ("survey", *FAMILIES[:3], "--hw", "pixel8_cpu", "h100_sxm", "--journal", journal)
    pq = tmp_path / "s.parquet"
    assert run(*args, "-o", str(pq)).exit_code == 0
    df = pd.read_parquet(pq)
    assert list(df.spec) == FAMILIES[:3] and df.macs.dtype.kind == "i"
    md = run(*args, "-f", "markdown").stdout
    assert md.startswith("## roofline survey") and "| 1 | " in md
    r = run(*args, "-f", "parquet")
    assert r.exit_code == 2 and "give --output" in r.stderr


# --------------------------------------------------------------------------- startup without torch


def _imports_torch(*code: str) -> tuple[bool, subprocess.CompletedProcess]:
    """Run code in a fresh interpreter; (whether torch was imported by the end, process)."""
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: sys.stderr.write("
             "'\\nTORCH\\n' if 'torch' in sys.modules else '\\nNO-TORCH\\n'))\n"
             + "\n".join(code))
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       timeout=120)
    last = p.stderr.strip().splitlines()[-1]
    assert last in ("TORCH", "NO-TORCH"), p.stderr
    return last == "TORCH", p


@pytest.mark.parametrize("argv", [["--help"], ["hw", "list"], ["survey", "--help"],
                                  ["cache", "info"]])
def test_commands_that_never_import_torch(argv):
    torch_loaded, p = _imports_torch("from roofline.cli import main", f"main({argv!r})")
    assert p.returncode == 0, p.stderr
    assert not torch_loaded


def test_cached_analyze_and_cached_survey_do_not_import_torch(family_survey):
    # the family survey cached the traces (with FlopCounterMode's counts) and the timm list
    torch_loaded, p = _imports_torch(
        "from roofline.cli import main",
        "main(['analyze', 'resnet18', '--hw', 'pixel8_cpu'], standalone_mode=False)")
    assert not torch_loaded, p.stderr
    torch_loaded, p = _imports_torch(
        "from roofline.survey.engine import Job, resolve_devices, run_task",
        "row = run_task('resnet18', None, Job(resolve_devices(['h100_sxm'], None)))",
        "assert row['status'] == 'ok' and row['trace_cached'] and row['macs_fcm'], row")
    assert p.returncode == 0 and not torch_loaded, p.stderr
    torch_loaded, p = _imports_torch(
        "from roofline.survey.engine import survey",
        "if __name__ == '__main__':",
        "    s = survey(['resnet18', 'dla34'], ['pixel8_cpu'], workers=1, journal=None)",
        "    assert [r['trace_cached'] for r in s.rows] == [True, True]")
    assert p.returncode == 0 and not torch_loaded, p.stderr


def test_survey_and_analyze_share_trace_cache_entries(family_survey):
    # the survey computes analysis.trace_model's cache key itself (to read a cached trace
    # and its FlopCounterMode count without torch): the two must agree
    from roofline import cache as trace_cache
    from roofline.analysis import trace_model

    for spec in ("mnv4_conv_small", "MNv4-Conv-S", "resnet18"):
        trace_model(spec)
        key = engine._trace_key(spec, None, 1)
        assert (trace_cache.cache_dir() / f"{key}.json.gz").is_file(), spec
        hit = trace_cache.load(key)
        assert hit is not None
    assert hit[0].meta["flop_counter"]["macs"] == 1_814_073_344  # resnet18, from the survey


def test_script_without_main_guard_gets_a_clear_error(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text("from roofline.survey.engine import survey\n"
                      "survey(['resnet18'], ['pixel8_cpu'], workers=1)\n")
    # a cache of its own: a journal row from an earlier test would finish the survey
    # without starting any worker, and there would be nothing to fail
    env = {**os.environ, "ROOFLINE_CACHE_DIR": str(tmp_path / "cache")}
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode != 0
    assert "if __name__ == '__main__':" in p.stderr

"""`roofline survey`: the FlopCounterMode check, failures as rows, the journal, Dask, output
formats, and the commands that must start without torch.

The survey's own mechanisms are tested on tiny models (tests/survey_cases.py). Counting
real networks against FlopCounterMode and fvcore is test_reference.py's job; the one
survey of real timm families here is marked slow.
"""

# ruff: noqa: F811 - pytest fixtures imported from survey_cases are redefined as arguments
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch.nn as nn
from click.testing import CliRunner
from survey_cases import RES, TINY_MACS, inline_pool, model  # noqa: F401 - fixtures

from roofline import cache as trace_cache
from roofline.analysis import trace_model
from roofline.cli import main
from roofline.errors import InputError, UnknownModelError
from roofline.graph.torch_trace import trace
from roofline.survey import Job, Task, crosscheck, distributed, expand, pool, survey
from roofline.survey.rows import run_task
from roofline.survey.tasks import resolve_devices, trace_key


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def job():
    return Job(resolve_devices(["pixel8_cpu", "h100_sxm"], None))


# --------------------------------------------------------------------------- FlopCounterMode


def test_one_row_per_model_checked_against_flop_counter_mode(model, job):
    rows = {n: run_task(model(n), RES, job)
            for n in ("tiny", "folded", "not_counted", "builds_with_forward")}
    assert all(r["status"] == "ok" for r in rows.values()), rows
    tiny = rows["tiny"]
    assert (tiny["macs"], tiny["macs_fcm"], tiny["fcm_check"]) == (TINY_MACS, TINY_MACS, "exact")
    assert tiny["rel_diff"] == 0 and tiny["mac_diff"] == "" and tiny["macs_folded"] == 0
    assert tiny["params"] == 8 * 27 + 8 and tiny["coverage"] == 1.0 and tiny["unsupported"] == ""
    # a weight-only product: we fold it, FlopCounterMode counts it, by exactly macs_folded
    f = rows["folded"]
    assert (f["macs"], f["macs_folded"], f["macs_fcm"]) == (TINY_MACS, 49 * 2 * 4,
                                                            TINY_MACS + 49 * 2 * 4)
    assert f["fcm_check"] == "folded" and f["mac_diff"] == f"addmm:0/{49 * 2 * 4}"
    nc = rows["not_counted"]
    assert (nc["macs"], nc["macs_fcm"], nc["fcm_check"]) == (128, 0, "not counted")
    assert nc["rel_diff"] is None and nc["mac_diff"] == "mv:128/0"
    # the constructor's own forward is not counted: the model is built before the counter
    assert rows["builds_with_forward"]["macs_fcm"] == TINY_MACS
    for r in rows.values():
        for hw in ("pixel8_cpu", "h100_sxm"):
            assert r[f"latency_ms@{hw}"] > 0 and 0 <= r[f"memory_bound_fraction@{hw}"] <= 1


def test_fcm_checks_that_tiny_models_cannot_provoke():
    tr = trace(nn_tiny(), (1, 3, RES, RES))
    ours = sum(o.macs for o in tr.ops)
    assert crosscheck.compare(tr, ours, 0, {"error": "RuntimeError: boom"}) == {
        "macs_fcm": None, "rel_diff": None, "mac_diff": "", "fcm_check": "fcm failed",
        "fcm_error": "RuntimeError: boom"}
    near = crosscheck.compare(tr, ours, 0, {"macs": ours + 10, "ops": {"aten.convolution":
                                                                        ours + 10}})
    assert near["fcm_check"] == "within 1%"
    assert near["mac_diff"] == f"convolution:{ours}/{ours + 10}"
    far = crosscheck.compare(tr, ours, 0, {"macs": 2 * ours, "ops": {}, "no_grad_error": "X"})
    assert far["fcm_check"] == "differs" and far["rel_diff"] == -0.5
    assert far["fcm_error"] == "under no_grad: X; counted with grad enabled"


def nn_tiny() -> nn.Module:
    return nn.Conv2d(3, 8, 3)


def test_a_cached_trace_carries_the_count_and_a_damaged_count_is_recomputed(model, job):
    spec = model("tiny")
    first = run_task(spec, RES, job)
    again = run_task(spec, RES, job)
    assert not first["trace_cached"] and again["trace_cached"]
    assert again["macs_fcm"] == first["macs_fcm"] == TINY_MACS
    key = trace_key(spec, RES, 1)
    for damage in ({"format": 3, "macs": -5, "ops": {}, "error": ""},
                   {"format": 3, "macs": "many", "ops": {}, "error": ""},
                   {"format": 3, "macs": 1, "ops": {"aten.mm": -1}, "error": ""},
                   ["not", "a", "record"]):
        # an entry the cache accepts (its digest matches) with a record of the wrong shape
        tr, meta = trace_cache.load(key)
        tr.meta["flop_counter"] = damage
        trace_cache.store(key, tr, meta)
        row = run_task(spec, RES, job)
        assert row["status"] == "ok" and row["macs_fcm"] == TINY_MACS, (damage, row)
        assert trace_cache.load(key)[0].meta["flop_counter"]["macs"] == TINY_MACS  # repaired


# --------------------------------------------------------------------------- failures are rows


@pytest.mark.slow
def test_failures_become_rows(model, tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "HARD_GRACE_S", 1.0)
    specs = [model(n) for n in ("tiny", "raises", "kills", "spins", "blocks", "build_fails",
                                "exits", "tiny")]
    s = survey(specs, ["pixel8_cpu"], resolutions=[RES], workers=2, timeout_s=2,
               journal=tmp_path / "j.jsonl")
    rows = {r["spec"].rsplit(":", 1)[1]: r for r in s.rows}
    assert len(s.rows) == 7  # the duplicate is surveyed once
    assert rows["tiny"]["status"] == "ok" and rows["tiny"]["macs"] == TINY_MACS
    assert rows["raises"]["status"] == "failed"
    assert "this forward always fails" in rows["raises"]["reason"]
    assert rows["kills"]["status"] == "failed" and "SIGKILL" in rows["kills"]["reason"]
    assert rows["spins"]["status"] == "timeout"              # soft deadline: worker survives
    assert rows["blocks"]["status"] == "timeout"             # hard deadline: worker killed
    assert "worker killed" in rows["blocks"]["reason"]
    assert rows["build_fails"]["status"] == "failed"
    assert "no such checkpoint" in rows["build_fails"]["reason"]
    assert rows["exits"]["status"] == "failed" and "SystemExit" in rows["exits"]["reason"]
    assert all("\n" not in r["reason"] for r in s.rows)
    assert s.summary()["ok"] == 1 and s.summary()["timeout"] == 2


@pytest.mark.slow
def test_interrupted_survey_resumes(model, tmp_path):
    journal = tmp_path / "j.jsonl"
    specs = [model(n) for n in ("tiny", "folded", "not_counted")]
    seen = []

    def stop_after_first(row, done, total):
        seen.append(row["spec"])
        raise KeyboardInterrupt

    kw = dict(resolutions=[RES], journal=journal)
    s = survey(specs, ["pixel8_cpu"], workers=1, progress=stop_after_first, **kw)
    assert s.interrupted and len(s.rows) == 1 and s.total == 3
    with journal.open("a") as f:
        f.write('{"key": "cut sh')  # a write cut short by the interruption
    s = survey(specs, ["pixel8_cpu"], workers=2, **kw)
    assert not s.interrupted
    assert (s.resumed, s.ran) == (1, 2)
    assert [r["spec"] for r in s.rows] == specs and all(r["status"] == "ok" for r in s.rows)
    # a different device set is a different row key: everything runs again (from the cache)
    s = survey(specs, ["h100_sxm"], workers=2, **kw)
    assert (s.resumed, s.ran) == (0, 3)
    assert all(r["trace_cached"] for r in s.rows)


def test_cli_interrupt_writes_nothing(model, tmp_path, monkeypatch, inline_pool):
    from roofline.cli import survey as cli

    def interrupt(self, row, done, total):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._SurveyProgress, "__call__", interrupt)
    out = tmp_path / "s.csv"
    r = run("survey", model("tiny"), model("folded"), "-r", RES, "-o", out)
    assert r.exit_code == 130
    assert r.stderr.count("\n") == 1 and "run the same command again to resume" in r.stderr
    assert not out.exists()


def test_retry_failed_and_fresh(model, tmp_path, inline_pool):
    specs = [model("raises"), model("tiny")]
    kw = dict(resolutions=[RES], journal=tmp_path / "j.jsonl")
    assert survey(specs, **kw).ran == 2
    assert survey(specs, **kw).ran == 0
    assert survey(specs, retry_failed=True, **kw).ran == 1
    assert survey(specs, fresh=True, **kw).ran == 2
    assert inline_pool == specs + [specs[0]] + specs


# --------------------------------------------------------------------------- dask


@pytest.mark.slow
def test_dask_local_cluster(model):
    distributed_ = pytest.importorskip("distributed")
    import dask

    # the scheduler runs in this process: a task that kills its worker is not retried
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed_.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=40) as cluster:
        tasks = [Task(model("tiny"), RES), Task(model("folded"), RES),
                 Task(model("raises"), RES), Task(model("kills"), RES)]
        s = survey([], ["pixel8_cpu"], tasks=tasks, dask=cluster.scheduler_address)
    rows = {r["spec"].rsplit(":", 1)[1]: r for r in s.rows}
    assert rows["tiny"]["status"] == "ok" and rows["tiny"]["macs"] == TINY_MACS
    assert rows["tiny"]["fcm_check"] == "exact" and rows["folded"]["fcm_check"] == "folded"
    assert rows["raises"]["status"] == "failed"
    assert "this forward always fails" in rows["raises"]["reason"]
    assert rows["kills"]["status"] == "failed" and "KilledWorker" in rows["kills"]["reason"]


@pytest.mark.slow
def test_dask_timeout_in_a_worker_thread(model):
    # threads of this process: the soft deadline is an exception set on the worker thread
    distributed_ = pytest.importorskip("distributed")
    # torch imports parts of itself on first use: an exception set on a thread in the middle
    # of an import leaves that module half-initialised for the whole process, so the tiny
    # model runs once here first, and its 2 s then cover the model alone
    assert run_task(model("tiny"), RES, Job(resolve_devices(["pixel8_cpu"], None)))["macs"]
    with distributed_.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                   dashboard_address=None, silence_logs=40) as cluster:
        s = survey([model("spins"), model("tiny")], ["pixel8_cpu"], resolutions=[RES],
                   dask=cluster.scheduler_address, timeout_s=2)
    assert [r["status"] for r in s.rows] == ["timeout", "ok"]


@pytest.mark.slow
def test_dask_unreachable_is_a_user_error(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(distributed, "DASK_CONNECT_TIMEOUT_S", 2)
    with pytest.raises(InputError, match="cannot connect to the Dask scheduler"):
        survey(["mnv4_conv_small"], dask="tcp://127.0.0.1:9")


# --------------------------------------------------------------------------- patterns, options


def test_expand_patterns():
    tasks = expand(["zoo:mnv4_conv*", "timm:mobilenetv4_conv_small", "resnet18",
                    "MNv4-Conv-S", "timm:resnet1??d"])
    specs = [t.spec for t in tasks]
    assert specs[:3] == ["mnv4_conv_small", "mnv4_conv_medium", "mnv4_conv_large"]
    # a timm name that is also a zoo alias keeps its prefix; an alias resolves to its entry
    assert "timm:mobilenetv4_conv_small" in specs and specs.count("mnv4_conv_small") == 1
    assert specs[-3:] == ["resnet18", "resnet101d", "resnet152d"]
    assert next(t for t in tasks if t.spec == "resnet18").family == "resnet"
    with pytest.raises(UnknownModelError, match="resnet50"):
        expand(["resnet5O"])
    with pytest.raises(UnknownModelError, match="matches no model"):
        expand(["timm:*no_such_family*"])


def test_several_devices_and_resolutions_after_one_option(model, tmp_path, inline_pool):
    out = tmp_path / "s.json"
    r = run("survey", model("tiny"), "--hw", "pixel8_cpu", "h100_sxm", "-r", "16", "24",
            "--no-compare", "-o", out)
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert [x["label"] for x in d["devices"]] == ["pixel8_cpu", "h100_sxm"]
    assert [x["resolution"] for x in d["rows"]] == [16, 24]
    assert "macs_fcm" not in d["rows"][0]
    assert [x["macs"] for x in d["rows"]] == [TINY_MACS, 8 * 22 * 22 * 27]
    assert d["summary"]["ok"] == 2


@pytest.fixture()
def surveyed(model, tmp_path, inline_pool):
    """A survey of four tiny models on two devices, journaled: (its CLI args, its CSV)."""
    args = ("survey", *(model(n) for n in ("tiny", "folded", "not_counted", "raises")),
            "-r", RES, "--hw", "pixel8_cpu", "h100_sxm", "--journal", tmp_path / "j.jsonl")
    out = tmp_path / "s.csv"
    r = run(*args, "-o", out)
    assert r.exit_code == 0, r.output
    inline_pool.clear()
    return args, out


def test_repeat_is_read_back_from_the_journal(surveyed, inline_pool):
    args, out = surveyed
    before = out.read_text()
    assert run(*args, "-o", out).exit_code == 0
    assert out.read_text() == before and inline_pool == []
    df = pd.read_csv(out)
    assert list(df.status) == ["ok", "ok", "ok", "failed"]


def test_leaderboard_table(surveyed):
    args, _ = surveyed
    text = run(*args, "--top", "2").stdout
    assert "4 model runs: 3 ok, 1 failed, 0 timed out (4 from the journal, 0 run now" in text
    assert "top 2 on pixel8_cpu (int8" in text and "top 2 on h100_sxm (fp16" in text
    assert ("MACs vs torch FlopCounterMode: 2 of 2 within 1% (1 differ only by ops on "
            "constants, which we fold; 1 where it counts nothing)") in text
    lines = text.splitlines()
    first = lines[lines.index(next(x for x in lines if x.startswith("top 2 on pixel8_cpu"))) + 3]
    assert first.split()[:2] == ["1", surveyed[0][3]]  # not_counted: 128 MACs, the fewest
    assert "this forward always fails" in text.split("\nfailed\n")[1]


def test_formats(surveyed, tmp_path):
    args, _ = surveyed
    pq = tmp_path / "s.parquet"
    assert run(*args, "-o", pq).exit_code == 0
    df = pd.read_parquet(pq)
    assert list(df.spec) == list(args[1:5]) and df.macs.iloc[0] == TINY_MACS
    md = run(*args, "-f", "markdown").stdout
    assert md.startswith("## roofline survey") and "| 1 | " in md and "### failed" in md
    r = run(*args, "-f", "parquet")
    assert r.exit_code == 2 and "give --output" in r.stderr


# --------------------------------------------------------------------------- startup without torch


def _imports_torch(*code: str, env: dict | None = None) -> tuple[bool, subprocess.CompletedProcess]:
    """Run code in a fresh interpreter; (whether torch was imported by the end, process)."""
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: sys.stderr.write("
             "'\\nTORCH\\n' if 'torch' in sys.modules else '\\nNO-TORCH\\n'))\n"
             + "\n".join(code))
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       timeout=120, env=env)
    last = p.stderr.strip().splitlines()[-1]
    assert last in ("TORCH", "NO-TORCH"), p.stderr
    return last == "TORCH", p


def test_commands_that_never_import_torch():
    # one interpreter for all four (each start costs seconds): none may load torch
    commands = [["--help"], ["hw", "list"], ["survey", "--help"], ["cache", "info"]]
    torch_loaded, p = _imports_torch(
        "from roofline.cli import main",
        *(f"assert main({argv!r}, standalone_mode=False) in (None, 0)" for argv in commands))
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("Usage: ") == 2 and "pixel8_cpu" in p.stdout
    assert not torch_loaded


@pytest.mark.slow
def test_cached_analyze_and_cached_survey_do_not_import_torch(model, job):
    spec = model("tiny")
    assert run_task(spec, RES, job)["status"] == "ok"  # caches the trace and its count
    torch_loaded, p = _imports_torch(
        "from roofline.cli import main",
        f"main(['analyze', {spec!r}, '-r', '{RES}', '--hw', 'pixel8_cpu'], "
        "standalone_mode=False)")
    assert not torch_loaded, p.stderr
    torch_loaded, p = _imports_torch(
        "from roofline.survey import Job, resolve_devices, run_task",
        f"row = run_task({spec!r}, {RES}, Job(resolve_devices(['h100_sxm'], None)))",
        "assert row['status'] == 'ok' and row['trace_cached'] and row['macs_fcm'], row")
    assert p.returncode == 0 and not torch_loaded, p.stderr
    torch_loaded, p = _imports_torch(
        "from roofline.survey import survey",
        "if __name__ == '__main__':",
        f"    s = survey([{spec!r}], ['pixel8_cpu'], resolutions=[{RES}], workers=1)",
        "    assert [r['trace_cached'] for r in s.rows] == [True], s.rows")
    assert p.returncode == 0 and not torch_loaded, p.stderr


def test_survey_and_analyze_share_trace_cache_entries(model):
    # the survey computes analysis.trace_model's cache key itself (to read a cached trace
    # and its FlopCounterMode count without torch): the two must agree
    spec = model("tiny")
    trace_model(spec, resolution=RES)
    assert (trace_cache.cache_dir() / f"{trace_key(spec, RES, 1)}.json.gz").is_file()
    assert trace_cache.load(trace_key(spec, RES, 1)) is not None
    # aliases and prefixes name one entry
    assert trace_key("MNv4-Conv-S", None, 1) == trace_key("mnv4_conv_small", None, 1)
    assert trace_key("timm:resnet18", None, 1) == trace_key("resnet18", None, 1)
    assert trace_key("resnet18", None, 2) != trace_key("resnet18", None, 1)


@pytest.mark.slow
def test_script_without_main_guard_gets_a_clear_error(model, tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text("from roofline.survey import survey\n"
                      f"s = survey([{model('tiny')!r}], ['pixel8_cpu'], resolutions=[{RES}], "
                      "workers=1)\n"
                      "print('interrupted' if s.interrupted else 'finished', s.rows)\n")
    # a cache of its own: a journal row from an earlier test would finish the survey
    # without starting any worker, and there would be nothing to fail
    env = {**os.environ, "ROOFLINE_CACHE_DIR": str(tmp_path / "cache")}
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode != 0, (p.stdout, p.stderr[-3000:])
    assert "if __name__ == '__main__':" in p.stderr


# --------------------------------------------------------------------------- real families

# one model per timm family, small variants at timm's default resolution; the comments say
# what each one exercises in the survey (the counts themselves are test_reference's job)
FAMILIES = [
    "mnv4_hybrid_medium",            # zoo: MobileNetV4 with mobile MQA
    "swinv2_cr_tiny_ns_224",         # swin v2 cr: position-bias MLP on constants (folded)
    "cait_xxs24_224",                # cait: FlopCounterMode needs grad mode here
    "levit_128s",                    # levit: constructor runs a forward
    "edgenext_xx_small",             # edgenext: Fourier position encoding (made in forward: counted)
]


@pytest.mark.slow
def test_real_families_through_the_pool(tmp_path):
    s = survey(FAMILIES, ["pixel8_cpu"], workers=2, journal=tmp_path / "j.jsonl")
    df = s.frame()
    assert list(df.spec) == FAMILIES and (df.status == "ok").all(), df[["spec", "reason"]]
    assert (df.coverage == 1.0).all()
    checks = dict(zip(df.spec, df.fcm_check))
    assert {k for k, v in checks.items() if v == "folded"} == {"swinv2_cr_tiny_ns_224"}
    assert set(checks.values()) == {"exact", "folded"}
    folded = df[df.fcm_check == "folded"]
    assert ((folded.macs + folded.macs_folded) == folded.macs_fcm).all()
    cait = df[df.spec == "cait_xxs24_224"].iloc[0]
    assert cait.fcm_error.startswith("under no_grad:")

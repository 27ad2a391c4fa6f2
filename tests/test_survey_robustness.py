"""Nothing lost, nothing believed, no traceback: the survey under hostile conditions.

Issue 12 (5, 6, 7) and issue 13 (4, 10): --fresh on a shared journal keeps the other
surveys' rows; a read-only cache, a full disk during a journal append, a journal row of
the wrong shape, a KeyboardInterrupt inside a worker; a name that is no model among
others; no journal beside the output.
"""

# ruff: noqa: F811 - pytest fixtures imported from survey_cases are redefined as arguments
from __future__ import annotations

import errno
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from survey_cases import RES, TINY_MACS, inline_pool, model  # noqa: F401 - fixtures

from roofline import cache as trace_cache
from roofline.cli import main
from roofline.survey import Job, Task, resolve_devices, survey
from roofline.survey.journal import Journal
from roofline.survey.rows import run_task, valid_row


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


# --------------------------------------------------------------------------- --fresh


def test_fresh_keeps_the_rows_of_other_surveys(model, tmp_path, inline_pool):
    journal = tmp_path / "shared.jsonl"
    a, b, c = [model("tiny")], [model("folded")], [model("raises")]
    kw = dict(resolutions=[RES], journal=journal)
    for specs in (a, b, c):
        assert survey(specs, **kw).ran == 1
    assert len(Journal(journal).load()) == 3
    assert survey(a, fresh=True, **kw).ran == 1
    assert survey(a, retry_failed=True, **kw).ran == 0
    assert len(Journal(journal).load()) == 3
    # the other surveys' rows, the failed one included, are still there
    assert survey(b, **kw).ran == 0 and survey(c, **kw).ran == 0
    r = run("survey", *a, "-r", RES, "--journal", journal, "--fresh", "-q")
    assert r.exit_code == 0, r.output
    assert len(Journal(journal).load()) == 3
    assert inline_pool == a + b + c + a + a


# --------------------------------------------------------------------------- journal rows

ROW_DAMAGE = {
    "a list": lambda row: [1, 2, 3],
    "a number": lambda row: 42,
    "negative MACs": lambda row: {**row, "macs": -5},
    "MACs as text": lambda row: {**row, "macs": str(row["macs"])},
    "MACs as a bool": lambda row: {**row, "macs": True},
    "fractional params": lambda row: {**row, "params": 1.5},
    "no latency": lambda row: {k: v for k, v in row.items() if not k.startswith("latency")},
    "null latency": lambda row: {**row, "latency_ms@pixel8_cpu": None},
    "negative latency": lambda row: {**row, "latency_ms@pixel8_cpu": -1.0},
    "fraction over 1": lambda row: {**row, "memory_bound_fraction@pixel8_cpu": 1.5},
    "coverage over 1": lambda row: {**row, "coverage": 3},
    "another model's row": lambda row: {**row, "spec": "resnet18"},
    "another resolution": lambda row: {**row, "resolution": RES * 2},
    "another batch": lambda row: {**row, "batch": 4},
    "unknown status": lambda row: {**row, "status": "great"},
    "failed without a reason": lambda row: {**row, "status": "failed", "reason": ""},
    "no FlopCounterMode check": lambda row: {k: v for k, v in row.items()
                                             if k != "fcm_check"},
    "unknown check": lambda row: {**row, "fcm_check": "trust me"},
    "negative FlopCounterMode MACs": lambda row: {**row, "macs_fcm": -1},
    "reason as a list": lambda row: {**row, "reason": ["x"]},
}
LINE_DAMAGE = {
    "key not a string": lambda e: {**e, "key": 7},
    "no row": lambda e: {"key": e["key"]},
    "a list": lambda e: [e["key"], e["row"]],
    "null": lambda e: None,
}


@pytest.mark.parametrize("damage", [*ROW_DAMAGE, *(f"line: {k}" for k in LINE_DAMAGE)])
def test_a_journal_row_of_the_wrong_shape_is_recomputed_never_believed(damage, model,
                                                                      tmp_path, inline_pool):
    journal = tmp_path / "j.jsonl"
    spec = model("tiny")
    kw = dict(resolutions=[RES], journal=journal)
    good = survey([spec], **kw).rows[0]
    entry = json.loads(journal.read_text())
    if damage.startswith("line: "):
        entry = LINE_DAMAGE[damage.removeprefix("line: ")](entry)
    else:
        entry["row"] = ROW_DAMAGE[damage](entry["row"])
    journal.write_text(json.dumps(entry) + "\n")
    s = survey([spec], **kw)
    assert (s.resumed, s.ran) == (0, 1)
    assert s.rows[0]["status"] == "ok" and s.rows[0]["macs"] == TINY_MACS
    assert {k: v for k, v in s.rows[0].items() if k not in ("seconds", "trace_cached")} == \
        {k: v for k, v in good.items() if k not in ("seconds", "trace_cached")}
    assert survey([spec], **kw).ran == 0  # the rewritten journal holds the right row
    assert inline_pool == [spec, spec]


def test_valid_row_accepts_what_a_survey_writes(model):
    job = Job(resolve_devices(["pixel8_cpu"], None))
    task = Task(model("tiny"), RES)
    row = json.loads(json.dumps({**run_task(task.spec, RES, job), "family": "file"}))
    assert valid_row(row, task, job)
    assert not valid_row(row, task, Job(resolve_devices(["h100_sxm"], None)))
    failed = json.loads(json.dumps(run_task(model("raises"), RES, job)))
    assert valid_row(failed, Task(model("raises"), RES), job)


def test_a_journal_that_is_not_a_regular_file_is_never_replaced(tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here")
    Journal(node).rewrite({"k": {"spec": "x"}})
    assert stat.S_ISCHR(node.stat().st_mode)


# --------------------------------------------------------------------------- unwritable journals


def test_a_full_disk_during_a_journal_append_keeps_the_survey(model, tmp_path, inline_pool,
                                                              monkeypatch):
    journal = (tmp_path / "j.jsonl").resolve()
    real_write = os.write
    appends = []

    def write(fd: int, data: bytes) -> int:
        if Path(os.readlink(f"/proc/self/fd/{fd}")) == journal:
            appends.append(data)
            if len(appends) > 1:  # the first row fits, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd")
    monkeypatch.setattr(os, "write", write)
    specs = [model(n) for n in ("tiny", "folded", "not_counted")]
    r = run("survey", *specs, "-r", RES, "--journal", journal, "-q", "-f", "csv")
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    (note,) = lines(r.stderr)
    assert note.startswith("note: survey journal") and "No space left on device" in note
    df = pd.read_csv(io.StringIO(r.stdout))
    assert list(df.status) == ["ok", "ok", "ok"]
    monkeypatch.setattr(os, "write", real_write)
    # the first row was kept: the next run resumes it and runs the others
    s = survey(specs, resolutions=[RES], journal=journal)
    assert (s.resumed, s.ran) == (1, 2)


@pytest.fixture()
def read_only_dir(tmp_path: Path):
    """A directory nobody can write to (as root: made immutable with chattr)."""
    d = tmp_path / "read-only-cache"
    d.mkdir()
    d.chmod(0o555)
    immutable = False

    def writable() -> bool:
        try:
            (d / "probe").touch()
        except OSError:
            return False
        (d / "probe").unlink()
        return True

    if writable() and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode == 0
    try:
        if writable():
            pytest.skip("cannot make a read-only directory here")
        yield d
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(d)], check=True)
        d.chmod(0o755)


def test_a_read_only_cache_directory(model, read_only_dir, inline_pool, monkeypatch):
    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(read_only_dir))
    r = run("survey", model("tiny"), "-r", RES, "-q", "-f", "csv")
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    (note,) = lines(r.stderr)
    assert note.startswith("note: survey journal") and "could not be written" in note
    assert pd.read_csv(io.StringIO(r.stdout)).macs.tolist() == [TINY_MACS]
    assert list(read_only_dir.iterdir()) == []


def test_an_unreadable_named_journal_is_one_line(model, tmp_path):
    journal = tmp_path / "j.jsonl"
    journal.mkdir()  # a directory: cannot be read as a journal, by anyone
    r = run("survey", model("tiny"), "-r", RES, "--journal", journal, "-q")
    assert r.exit_code == 2 and len(lines(r.stderr)) == 1 and "Traceback" not in r.output
    assert lines(r.stderr)[0].startswith("error: ")


# --------------------------------------------------------------------------- interrupts


def test_a_keyboard_interrupt_inside_a_task_stops_the_survey(model, tmp_path, inline_pool):
    journal = tmp_path / "j.jsonl"
    specs = [model("tiny"), model("interrupts"), model("folded")]
    s = survey(specs, resolutions=[RES], journal=journal)
    assert s.interrupted and [r["spec"] for r in s.rows] == specs[:1]
    assert len(Journal(journal).load()) == 1  # the interrupted task is not a row


@pytest.mark.slow
def test_a_keyboard_interrupt_in_a_survey_worker(model, tmp_path):
    env = {**os.environ, "ROOFLINE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "s.csv"
    p = subprocess.run([sys.executable, "-m", "roofline", "survey", model("tiny"),
                        model("interrupts"), model("folded"), "-r", str(RES), "-j", "1",
                        "--no-compare", "-q", "-o", str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 130, p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    (line,) = lines(p.stderr)
    assert line.startswith("interrupted: 1 of 3 rows finished, kept in ")
    assert not out.exists()


# --------------------------------------------------------------------------- names, journals


def test_a_name_that_is_no_model_is_a_row(model, tmp_path, inline_pool):
    spec = model("tiny")
    r = run("survey", spec, "not_a_model_xyz", "-r", RES, "-f", "csv", "-q")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.stdout))
    assert list(df.spec) == [spec, "not_a_model_xyz"]
    assert list(df.status) == ["ok", "failed"]
    assert df.reason[1].startswith("unknown model 'not_a_model_xyz'")
    # counts stay integers beside the failed row's empty cells
    first = r.stdout.splitlines()[1].split(",")
    header = r.stdout.splitlines()[0].split(",")
    cells = dict(zip(header, first))
    assert (cells["resolution"], cells["macs"], cells["params"]) == (str(RES), str(TINY_MACS),
                                                                     str(8 * 27 + 8))
    assert inline_pool == [spec]
    table = run("survey", spec, "timm:*no_such_net*", "-r", RES, "-q").stdout
    assert "1 ok, 1 failed" in table and "matches no model" in table
    # with no model at all it is a usage error, one line
    r = run("survey", "not_a_model_xyz", "timm:*no_such_net*")
    assert r.exit_code == 2 and len(lines(r.stderr)) == 1 and "not_a_model_xyz" in r.stderr


@pytest.mark.slow
def test_resnet50_and_a_typo(inline_pool):
    r = run("survey", "resnet50", "not_a_model_xyz", "--no-compare", "-f", "csv", "-q")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.stdout))
    # published: 4.1 GMACs at 224 (timm, fvcore)
    assert list(df.status) == ["ok", "failed"] and abs(df.macs[0] / 4.1e9 - 1) < 0.01


def test_no_journal_beside_the_output(model, tmp_path, inline_pool):
    out = tmp_path / "x.csv"
    for _ in range(2):
        r = run("survey", model("tiny"), "-r", RES, "-o", out, "-q")
        assert r.exit_code == 0, r.output
    assert not list(tmp_path.rglob("*.journal.jsonl")) and not list(tmp_path.rglob("*.jsonl"))
    assert inline_pool == [model("tiny")]  # the second run was read back from the journal
    journals = list((trace_cache.cache_dir() / "surveys").glob("*.jsonl"))
    assert any(model("tiny") in j.read_text() for j in journals)

"""Where output goes: a regular file is replaced atomically, anything else is written to
directly and never replaced, and an output that is also an input is refused.

These run the real executable in a subprocess: special files (a FIFO, /dev/null, a link to
the process's own stdout) behave differently from CliRunner's captured streams."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("roofline")
CMD = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "roofline"]
MEAS = Path(__file__).resolve().parents[1] / "docs" / "accuracy_measured_ci_x86_2core.csv"


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, timeout=120,
                          **kw)


def expected_hw_list() -> str:
    return cli("hw", "list").stdout.rstrip("\n")


def test_dev_null_stays_a_device():
    before = os.stat("/dev/null")
    r = cli("hw", "list", "-o", "/dev/null")
    assert r.returncode == 0, r.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


@pytest.mark.slow
def test_fifo_is_written_to_not_replaced(tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = cli("hw", "list", "-o", fifo)
    reader.join(timeout=60)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and got[0].decode().rstrip("\n") == expected_hw_list()


@pytest.mark.slow
def test_link_to_own_stdout_reaches_the_reader(tmp_path: Path):
    link = tmp_path / "out"
    link.symlink_to("/proc/self/fd/1")
    r = cli("hw", "list", "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert r.stdout.rstrip("\n") == expected_hw_list()


@pytest.mark.slow
def test_link_to_a_regular_file_keeps_the_link(tmp_path: Path):
    target = tmp_path / "real.txt"
    target.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    r = cli("hw", "list", "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text().rstrip("\n") == expected_hw_list()


@pytest.mark.slow
def test_existing_file_keeps_its_mode(tmp_path: Path):
    out = tmp_path / "hw.txt"
    out.write_text("old\n")
    out.chmod(0o640)
    assert cli("hw", "list", "-o", out).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert out.read_text().rstrip("\n") == expected_hw_list()


@pytest.mark.parametrize("how", ["same", "link", "dotted"])
def test_output_that_is_an_input_is_refused(tmp_path: Path, how: str):
    csv = tmp_path / "in.csv"
    shutil.copy(MEAS, csv)
    before = csv.read_bytes()
    out = {"same": csv, "link": tmp_path / "alias.csv",
           "dotted": tmp_path / "." / "in.csv"}[how]
    if how == "link":
        out.symlink_to(csv)
    r = cli("fit", csv, "--hw", "ci_x86_2core", "-o", out)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "also an input" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert csv.read_bytes() == before


@pytest.mark.slow
def test_profile_file_is_not_overwritten_by_validate(tmp_path: Path):
    profile = tmp_path / "p.yaml"
    shutil.copy(Path(__file__).resolve().parents[1] / "hardware_profiles" / "ci_x86_2core.yaml",
                profile)
    before = profile.read_bytes()
    r = cli("validate", "--hw", profile, "-m", MEAS, "-o", profile)
    assert r.returncode == 2 and "also an input" in r.stderr, r.stderr
    assert profile.read_bytes() == before

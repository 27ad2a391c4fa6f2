"""A user's model code that misbehaves: sys.exit in a factory or forward, a forward that
never returns, an exception whose message spans lines. Each is one stderr line, exit 2, no
traceback, and nothing written."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("roofline")
CMD = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "roofline"]

MODELS = textwrap.dedent('''
    import sys, torch

    class Hang(torch.nn.Module):
        def forward(self, x):
            while True:
                pass

    class Exit(torch.nn.Module):
        def forward(self, x):
            sys.exit(0)

    def hang():
        return Hang()

    def exit_in_forward():
        return Exit()

    def exit_in_factory():
        sys.exit(0)

    def exit_with_message():
        sys.exit("bye")

    def multiline():
        raise ValueError("first line\\nsecond line\\n   third")
''')


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    (d / "m.py").write_text(MODELS)
    return d


@pytest.mark.slow
@pytest.mark.parametrize("factory,extra,fragment", [
    ("exit_in_forward", [], "sys.exit(0)"),
    ("exit_in_factory", [], "sys.exit(0)"),
    ("exit_with_message", [], "sys.exit('bye')"),
    ("multiline", [], "first line second line third"),
    ("hang", ["--timeout", "2"], "did not finish within 2 s"),
])
def test_hostile_model_code(models: Path, factory: str, extra: list[str], fragment: str):
    out = models / f"{factory}.txt"
    r = subprocess.run([*CMD, "analyze", f"m.py:{factory}", "-r", "32", "-o", str(out), *extra],
                       cwd=models, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_timeout_must_be_positive_and_finite(value: str):
    from click.testing import CliRunner

    from roofline.cli import main

    r = CliRunner().invoke(main, ["analyze", "mnv4_conv_small", "--timeout", value])
    assert r.exit_code == 2 and "--timeout" in r.stderr and r.stderr.count("\n") == 1

"""Tiny models and fixtures shared by the survey tests (tests/test_survey*.py).

Each model is a few ops on a 16 x 16 input, so a survey of them costs milliseconds, not
the seconds of a real network; each exercises one thing the survey does.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from roofline.survey import rows, runner

RES = 16
#: Tiny's MACs at RES: 8 output channels x 14 x 14 positions x 3 x 3 x 3
TINY_MACS = 8 * 14 * 14 * 27

MODELS = textwrap.dedent("""
    import os, signal, sys, time
    import torch
    import torch.nn as nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x):
            return self.conv(x)

    class Folded(Tiny):
        # the Swin-V2 case: an MLP on a constant coordinate table (49 x 2 -> 4: 392 MACs),
        # folded by us (a runtime computes it ahead of time), counted by FlopCounterMode
        def __init__(self):
            super().__init__()
            self.register_buffer("coords", torch.zeros(49, 2))
            self.mlp = nn.Linear(2, 4)

        def forward(self, x):
            return self.conv(x) + self.mlp(self.coords).sum()

    class NotCounted(nn.Module):
        # FlopCounterMode has no formula for mv: it counts 0, we count 8 x 16 = 128
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(8, 16))

        def forward(self, x):
            return torch.mv(self.w, x.flatten()[:16])

    class BuildsWithForward(Tiny):
        # a constructor that runs a forward (LeViT, hybrid ViTs): not part of the count
        def __init__(self):
            super().__init__()
            with torch.no_grad():
                self.conv(torch.zeros(1, 3, 64, 64))

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

    class Interrupts(Tiny):
        def forward(self, x):
            raise KeyboardInterrupt

    class Exits(Tiny):
        def forward(self, x):
            sys.exit(0)

    def tiny(): return Tiny()
    def folded(): return Folded()
    def not_counted(): return NotCounted()
    def builds_with_forward(): return BuildsWithForward()
    def raises(): return Raises()
    def kills(): return Kills()
    def spins(): return Spins()
    def blocks(): return Blocks()
    def interrupts(): return Interrupts()
    def exits(): return Exits()
    def build_fails(): raise ValueError("no such checkpoint")
""")


@pytest.fixture()
def model(tmp_path: Path) -> Callable[[str], str]:
    """``model("tiny")`` -> the spec ``/tmp/.../survey_models.py:tiny``."""
    path = tmp_path / "survey_models.py"
    path.write_text(MODELS)
    return lambda name: f"{path}:{name}"


@pytest.fixture()
def inline_pool(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run a survey's tasks in this process instead of worker processes (for tests of what
    the runner and the journal do, not the pool). Returns the specs run, in order."""
    ran: list[str] = []

    def run_inline(tasks: list[tuple[int, Any]], job: Any, workers: int,
                   emit: Callable[[int, dict[str, Any]], None], preload_torch: bool) -> None:
        for tid, task in tasks:
            ran.append(task.spec)
            emit(tid, rows.run_task(task.spec, task.resolution, job))

    monkeypatch.setattr(runner, "run_local", run_inline)
    return ran

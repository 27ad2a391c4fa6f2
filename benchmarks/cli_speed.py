"""Start-up speed of the commands a user types most, and whether they import torch.

    python benchmarks/cli_speed.py [--repeats 7]

Each command runs as a fresh process (the console script), ``--repeats`` times after one
warm-up run that also fills the trace cache; the median and best wall times are reported,
and a separate run under ``python -X importtime`` says whether torch was imported.

Targets (issue #7): ``roofline hw list`` under 0.5 s; a cached
``roofline analyze mnv4_conv_medium --hw pixel8_cpu`` under 1 s; ``--help`` and ``hw list``
never import torch, nor does an analysis whose trace is cached.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [
    ("roofline --help", ["--help"], None),
    ("roofline hw list", ["hw", "list"], 0.5),
    ("roofline survey --help", ["survey", "--help"], None),
    ("roofline analyze mnv4_conv_medium --hw pixel8_cpu (cached)",
     ["analyze", "mnv4_conv_medium", "--hw", "pixel8_cpu"], 1.0),
    ("roofline survey 'zoo:*' --hw pixel8_cpu h100_sxm (repeat)",
     ["survey", "zoo:*", "--hw", "pixel8_cpu", "h100_sxm", "-q"], None),
]


def roofline_cmd() -> list[str]:
    exe = shutil.which("roofline") or str(Path(sys.executable).with_name("roofline"))
    return [exe] if Path(exe).exists() else [sys.executable, "-m", "roofline"]


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return elapsed


def imports_torch(args: list[str], env: dict[str, str]) -> bool:
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "roofline", *args],
                       env=env, capture_output=True, text=True)
    return any(line.rstrip().endswith("| torch") for line in p.stderr.splitlines())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cache-dir", default=None,
                    help="trace cache to use (default: a fresh temporary one)")
    args = ap.parse_args()
    cache = args.cache_dir or tempfile.mkdtemp(prefix="roofline-cli-speed-")
    env = {**os.environ, "ROOFLINE_CACHE_DIR": cache}
    base = roofline_cmd()
    print(f"{args.repeats} runs each after a warm-up; trace cache {cache}")
    print(f"{'command':62} {'median s':>9} {'best s':>8}  torch  target")
    failed = False
    for label, cmd_args, target in COMMANDS:
        cmd = base + cmd_args
        wall(cmd, env)  # warm-up: fills the trace cache, the timm list, the survey journal
        times = [wall(cmd, env) for _ in range(args.repeats)]
        med = statistics.median(times)
        torch_loaded = imports_torch(cmd_args, env)
        verdict = ""
        if target is not None:
            ok = med < target
            failed |= not ok
            verdict = f"< {target:g} s {'ok' if ok else 'MISSED'}"
        print(f"{label:62} {med:9.3f} {min(times):8.3f}  {'yes' if torch_loaded else 'no':5}  "
              f"{verdict}")
    if not args.cache_dir:
        shutil.rmtree(cache, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""Ridge-point sweep speed: the whole zoo x 501 ridge points, traces already in hand.

    python benchmarks/sweep_speed.py [--repeats 21] [--points 501]

Traces every zoo model once per preset (not timed; the trace cache makes reruns quick), then
times, as the median of ``--repeats`` runs:

- model.sweep:   the numbers alone (one layers x ridge-points matrix, summed per model);
- preset.sweep:  what `roofline sweep` does with traces in hand: the preset's layer and byte
                 rules applied to every table, then the sweep.

for both presets (``paper`` counts only MAC layers; ``default`` counts every layer, so its
matrix is larger). The budget (issue #4) is 0.2 s for the full zoo x 501 ridge points.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from roofline.models import zoo
from roofline.analysis import analyze
from roofline.latency.equation import sweep
from roofline.latency.presets import DEFAULT_PRESET, PAPER_PRESET

BUDGET_S = 0.2


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--points", type=int, default=501)
    args = ap.parse_args()
    grid = np.linspace(0, 500, args.points)
    names = zoo.names()
    print(f"{len(names)} zoo models x {len(grid)} ridge points; numpy {np.__version__}, "
          f"python {platform.python_version()}, {platform.processor() or platform.machine()}")
    worst = 0.0
    for preset in (PAPER_PRESET, DEFAULT_PRESET):
        t0 = time.perf_counter()
        kwargs = preset.analyze_kwargs()
        tables = {n: analyze(n, **kwargs).layers for n in names}
        traced = time.perf_counter() - t0
        applied = {n: preset.apply(t) for n, t in tables.items()}
        rows = sum(len(t) for t in applied.values())

        def numbers(applied=applied, preset=preset):
            return sweep(applied, grid, hold=preset.hold, peak_macs_per_s=preset.peak_macs_per_s,
                         mem_bw_bytes_per_s=preset.mem_bw_bytes_per_s)

        def full(tables=tables, preset=preset):
            return preset.sweep(tables, grid)

        t_numbers = median_time(numbers, args.repeats)
        t_full = median_time(full, args.repeats)
        worst = max(worst, t_full)
        print(f"\npreset {preset.name}: {rows} layers x {len(grid)} RPs = "
              f"{rows * len(grid) / 1e6:.2f} M cells (traces: {traced:.1f} s, not timed)")
        print(f"  model.sweep   {t_numbers * 1e3:8.1f} ms")
        print(f"  preset.sweep  {t_full * 1e3:8.1f} ms   (rules applied + sweep)")
    verdict = "within" if worst < BUDGET_S else "OVER"
    print(f"\nslowest: {worst * 1e3:.1f} ms, {verdict} the {BUDGET_S * 1e3:.0f} ms budget")


if __name__ == "__main__":
    main()

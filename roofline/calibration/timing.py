"""Timing a callable, and the thread settings it runs under (shared by bench and measure).

How a callable is timed (the MobileNetV4 paper's protocol: the mean of many runs, the median
of repeats): warm-up of at least 2 runs and ``warmup_s`` seconds; then ``repeats`` repeats,
each of as many runs as fill ``min_time_s``; a repeat's latency is its mean per run; the
result is the median over repeats, with the spread (interquartile range / median) and the
fastest repeat. The garbage collector is paused while timing.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roofline.errors import InputError

__all__ = ["MAX_THREADS_PER_CPU", "Progress", "Timing", "TorchThreads", "check_run_threads",
           "check_seconds", "check_threads", "default_threads", "no_progress", "time_callable"]

#: where progress lines go (the CLI prints them on stderr)
Progress = Callable[[str], None]

#: the most threads a bench or measurement may start, per logical CPU: more only measures
#: contention, and far more exhausts the OpenMP runtime's memory (it aborts the process)
MAX_THREADS_PER_CPU = 4


def no_progress(_: str) -> None:
    """A :data:`Progress` that drops every line."""


@dataclass
class Timing:
    """Latency of one callable: the median over repeats of the mean per run."""

    latency_s: float
    runs: int              # runs per repeat
    repeats: int
    spread: float          # interquartile range of the repeats / median
    min_s: float           # fastest repeat
    samples: list[float]

    @property
    def spread_pct(self) -> float:
        """The spread in percent."""
        return 100.0 * self.spread


def check_seconds(value: float, name: str) -> float:
    """A finite number of seconds >= 0 (``name`` is the option, for the message);
    InputError otherwise: NaN or infinity would never finish a repeat."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


def time_callable(fn: Callable[[], Any], *, repeats: int = 7, min_time_s: float = 0.2,
                  warmup_s: float = 0.3, min_warmup_runs: int = 2,
                  sync: Callable[[], Any] | None = None) -> Timing:
    """Time ``fn()`` (see the module docstring); ``sync`` (e.g. ``torch.cuda.synchronize``)
    is called before reading the clock."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InputError(f"repeats must be an integer >= 1, got {repeats!r}")
    check_seconds(min_time_s, "min_time_s")
    check_seconds(warmup_s, "warmup_s")
    sync = sync or (lambda: None)
    clock = time.perf_counter
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        t0 = clock()
        n = 0
        while n < min_warmup_runs or clock() - t0 < warmup_s:
            fn()
            n += 1
            sync()
        per_run = (clock() - t0) / n
        runs = max(1, math.ceil(min_time_s / per_run)) if per_run > 0 else 1
        samples = []
        for _ in range(repeats):
            sync()
            t = clock()
            for _ in range(runs):
                fn()
            sync()
            samples.append((clock() - t) / runs)
    finally:
        if gc_was_enabled:
            gc.enable()
    med = statistics.median(samples)
    q = statistics.quantiles(samples, n=4) if len(samples) >= 2 else [med, med, med]
    return Timing(latency_s=med, runs=runs, repeats=repeats, spread=(q[2] - q[0]) / med,
                  min_s=min(samples), samples=samples)


class TorchThreads:
    """Context manager: torch intra-op threads set (checked by :func:`check_run_threads`),
    flush-to-zero on, both restored."""

    def __init__(self, threads: int | None) -> None:
        self.threads = None if threads is None else check_run_threads(threads)

    def __enter__(self) -> TorchThreads:
        import torch  # deferred: heavy import

        self.old = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        torch.set_flush_denormal(True)
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch  # deferred: heavy import

        torch.set_num_threads(self.old)
        torch.set_flush_denormal(False)


def check_threads(threads: int, option: str = "--threads") -> int:
    """A positive thread count; InputError otherwise."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"{option} must be a positive integer, got {threads!r}")
    return threads


def check_run_threads(threads: int, option: str = "--threads") -> int:
    """A thread count this machine can start: positive and at most
    :data:`MAX_THREADS_PER_CPU` x its logical CPUs; InputError otherwise."""
    check_threads(threads, option)
    cpus = os.cpu_count() or 1
    most = MAX_THREADS_PER_CPU * cpus
    if threads > most:
        raise InputError(f"{option} {threads} is more than {MAX_THREADS_PER_CPU}x the {cpus} "
                         f"logical CPUs here; expected at most {most} (more threads than CPUs "
                         "measure contention, not the model)")
    return threads


def default_threads() -> int:
    """Threads torch would use here (the 'all threads' setting)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1

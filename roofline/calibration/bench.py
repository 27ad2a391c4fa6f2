"""Measure this machine's roofs, the way the Empirical Roofline Toolkit does, through torch.

What is measured (each number the median over repeats; each repeat the mean of as many runs
as fill a minimum time, after a warm-up; the spread is the interquartile range / median):

- **Peak MACs/s per dtype**: square matrix products ``torch.mm`` (N x N x N MACs) at a few
  sizes, the best size's median kept; fp32 always; bf16 and fp16 only where the CPU has native
  kernels for them (oneDNN reports it; emulated arithmetic would measure the emulation); int8
  through ``torch._int_mm`` (int8 x int8 -> int32), the quantised GEMM torch offers.
- **DRAM bandwidth**: a STREAM-style triad ``a = b + s*c`` over three fp32 arrays, each 8x
  the last-level cache (bytes counted as STREAM does: 2 read + 1 written per element; write
  allocation is not counted); a copy ``a = b`` is measured too and reported.
- **Last-level-cache bandwidth**: the same triad with working sets of 1/8, 1/4 and 1/2 of the
  LLC (larger than the L2s, smaller than the LLC), the best kept.
- Each at 1 thread and at all threads (CPU). On a machine with a CUDA GPU (``device='cuda'``,
  the default when one is present) the same measurements run on the GPU: fp32 (TF32 off),
  tf32, fp16, bf16, int8 GEMMs timed with device synchronisation, DRAM (HBM/GDDR) triad over
  arrays 8x the L2, and L2 bandwidth from a CUDA graph of back-to-back triads.

:func:`run` returns a :class:`BenchResult`, with ``warnings`` where a result is implausible
(:func:`roofline.calibration.plausibility.bench_warnings`);
:func:`roofline.calibration.profile_writer.bench_profile` turns it into a hardware profile.
Timing follows :mod:`roofline.calibration.timing`; the machine's facts come from
:mod:`roofline.calibration.machine`.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from roofline.calibration.machine import (
    busy_note,
    cpu_busy,
    cpu_capability,
    cpu_dtypes,
    cpu_model,
    last_level_cache_bytes,
    load_average,
)
from roofline.calibration.plausibility import bench_warnings
from roofline.calibration.timing import (
    Progress,
    Timing,
    TorchThreads,
    check_run_threads,
    default_threads,
    no_progress,
    time_callable,
)
from roofline.errors import InputError
from roofline.units import si

__all__ = ["MiB", "QUICK_BENCH", "STANDARD_BENCH", "BenchResult", "BenchSettings", "Point",
           "bench_ridge_points", "cache_bandwidth", "matmul_peak", "run",
           "stream_bandwidth", "threads_text"]

MiB = 1 << 20


@dataclass(frozen=True)
class BenchSettings:
    """How much work a bench does; :data:`STANDARD_BENCH` finishes in well under 2 minutes on
    a 2-core machine, :data:`QUICK_BENCH` in seconds (tests, ``bench --quick``)."""

    matmul_sizes: tuple[int, ...] = (1024, 2048)
    repeats: int = 5
    min_time_s: float = 0.2
    warmup_s: float = 0.2
    dram_factor: float = 8.0            # each DRAM array = factor x LLC ...
    dram_min_bytes: int = 64 * MiB      # ... at least this ...
    dram_max_bytes: int = 1024 * MiB    # ... at most this
    llc_fractions: tuple[float, ...] = (0.125, 0.25, 0.5)  # LLC working sets tried, x LLC
    gpu_matmul_sizes: tuple[int, ...] = (4096, 8192)


STANDARD_BENCH = BenchSettings()
QUICK_BENCH = BenchSettings(matmul_sizes=(128,), repeats=2, min_time_s=0.01, warmup_s=0.01,
                            dram_factor=0.0, dram_min_bytes=4 * MiB, dram_max_bytes=4 * MiB,
                            llc_fractions=(0.125,), gpu_matmul_sizes=(512,))


@dataclass
class Point:
    """One measured roof."""

    what: str             # "peak" | "bandwidth"
    dtype: str | None     # for peaks
    level: str | None     # for bandwidths: "dram" | "llc" | "l2"
    kernel: str           # "mm" | "int_mm" | "triad" | "copy"
    threads: int | None
    value: float          # MACs/s or bytes/s, from the median repeat
    best: float           # from the fastest repeat
    spread: float         # IQR / median of the repeat times
    repeats: int
    runs: int
    size: str             # the problem, in words

    @property
    def unit(self) -> str:
        """'MAC/s' or 'B/s'."""
        return "MAC/s" if self.what == "peak" else "B/s"

    @property
    def label(self) -> str:
        """The roof in words: 'fp32 peak', 'DRAM triad bandwidth', with its thread count."""
        what = (f"{self.dtype} peak" if self.what == "peak"
                else f"{(self.level or '').upper()} {self.kernel} bandwidth")
        return what + ("" if self.threads is None else f", {threads_text(self.threads)}")


@dataclass
class BenchResult:
    """Everything one bench measured, and about what."""

    device: str                 # "cpu" | "cuda"
    device_name: str            # CPU model or GPU name
    threads_all: int            # the "all threads" count (CPU)
    logical_cpus: int
    cache_bytes: int | None     # LLC (CPU) or L2 (GPU)
    torch_version: str
    capability: str             # torch's CPU capability (AVX512, ...) or the GPU's sm_XY
    date: str
    elapsed_s: float = 0.0
    load_before: float | None = None    # 1-minute load average before and after (Unix)
    load_after: float | None = None
    busy_before: float | None = None    # share of the CPUs others used just before / after
    busy_after: float | None = None
    points: list[Point] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # implausible results, in words

    def find(self, what: str, *, dtype: str | None = None, level: str | None = None,
             kernel: str | None = None, threads: int | None = None) -> Point | None:
        """The point matching the filters given, or None."""
        for p in self.points:
            if (p.what == what and (dtype is None or p.dtype == dtype)
                    and (level is None or p.level == level)
                    and (kernel is None or p.kernel == kernel)
                    and (threads is None or p.threads == threads)):
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        d = asdict(self)
        d["points"] = [{**asdict(p), "unit": p.unit} for p in self.points]
        return d


def bench_ridge_points(result: BenchResult) -> dict[str, float]:
    """The measured ridge points, MACs/byte per dtype, at 1 thread (or on the GPU) with DRAM
    bandwidth (not :func:`roofline.latency.presets.ridge_points`, a sweep's grid)."""
    th = None if result.device == "cuda" else 1
    dram = result.find("bandwidth", level="dram", kernel="triad", threads=th)
    if dram is None:
        return {}
    return {p.dtype: p.value / dram.value for p in result.points
            if p.what == "peak" and p.threads == th and p.dtype}


# ----------------------------------------------------------------------------- kernels


def _rate_point(timing: Timing, work: float, **kw: Any) -> Point:
    return Point(value=work / timing.latency_s, best=work / timing.min_s, spread=timing.spread,
                 repeats=timing.repeats, runs=timing.runs, **kw)


def matmul_peak(dtype: str, sizes: Sequence[int], *, threads: int | None, settings: BenchSettings,
                device: str = "cpu") -> Point:
    """Peak MACs/s of ``torch.mm`` (``torch._int_mm`` for int8) at the best of ``sizes``."""
    import torch  # deferred: heavy import

    sync = torch.cuda.synchronize if device == "cuda" else None
    best: Point | None = None
    for n in sizes:
        if dtype == "int8":
            a = torch.randint(-64, 64, (n, n), dtype=torch.int8, device=device)
            b = torch.randint(-64, 64, (n, n), dtype=torch.int8, device=device)
            fn: Callable[[], Any] = lambda a=a, b=b: torch._int_mm(a, b)  # noqa: E731
            kernel = "int_mm"
        else:
            tdt = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16,
                   "fp16": torch.float16}[dtype]
            a = torch.randn(n, n, device=device).to(tdt)
            b = torch.randn(n, n, device=device).to(tdt)
            out = torch.empty(n, n, dtype=tdt, device=device)
            fn = lambda a=a, b=b, out=out: torch.mm(a, b, out=out)  # noqa: E731
            kernel = "mm"
        timing = time_callable(fn, repeats=settings.repeats, min_time_s=settings.min_time_s,
                               warmup_s=settings.warmup_s, sync=sync)
        p = _rate_point(timing, float(n) ** 3, what="peak", dtype=dtype, level=None,
                        kernel=kernel, threads=threads, size=f"{n}x{n}x{n}")
        if best is None or p.value > best.value:
            best = p
        del a, b
    assert best is not None
    return best


def stream_bandwidth(kernel: str, array_bytes: int, *, threads: int | None, level: str,
                     settings: BenchSettings, device: str = "cpu", graph: bool = False) -> Point:
    """Bandwidth (bytes/s) of a STREAM ``triad`` (a = b + s*c) or ``copy`` (a = b) over fp32
    arrays of ``array_bytes`` each. ``graph``: on CUDA, time a CUDA graph of 32 kernels, so
    that launch cost does not hide a fast cache."""
    import torch  # deferred: heavy import

    n = max(1024, int(array_bytes) // 4)
    a = torch.zeros(n, device=device)
    b = torch.ones(n, device=device)
    c = torch.full((n,), 2.0, device=device)
    if kernel == "triad":
        fn: Callable[[], Any] = lambda: torch.add(b, c, alpha=3.0, out=a)  # noqa: E731
        moved = 3.0 * n * 4
    elif kernel == "copy":
        fn = lambda: a.copy_(b)  # noqa: E731
        moved = 2.0 * n * 4
    else:  # pragma: no cover - internal
        raise ValueError(kernel)
    sync = torch.cuda.synchronize if device == "cuda" else None
    reps = 1
    if graph and device == "cuda":
        reps = 32
        fn()  # warm the allocator and kernels before capture
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(reps):
                fn()
        fn = g.replay
    timing = time_callable(fn, repeats=settings.repeats, min_time_s=settings.min_time_s,
                           warmup_s=settings.warmup_s, sync=sync)
    mib = 3 * n * 4 / MiB if kernel == "triad" else 2 * n * 4 / MiB
    arrays = 3 if kernel == "triad" else 2
    return _rate_point(timing, moved * reps, what="bandwidth", dtype=None, level=level,
                       kernel=kernel, threads=threads,
                       size=f"{arrays} x {n * 4 / MiB:.3g} MiB fp32 arrays ({mib:.3g} MiB)")


def cache_bandwidth(cache_bytes: int, *, threads: int | None, level: str, settings: BenchSettings,
                    device: str = "cpu") -> Point:
    """The best triad bandwidth over working sets of ``settings.llc_fractions`` x the cache."""
    best: Point | None = None
    for frac in settings.llc_fractions:
        p = stream_bandwidth("triad", int(cache_bytes * frac / 3), threads=threads, level=level,
                             settings=settings, device=device, graph=device == "cuda")
        if best is None or p.value > best.value:
            best = p
    assert best is not None
    return best


# --------------------------------------------------------------------------------- run


def run(*, device: str = "auto", threads: int | None = None,
        settings: BenchSettings = STANDARD_BENCH, progress: Progress = no_progress) -> BenchResult:
    """Measure the roofs of this machine's CPU (or its CUDA GPU; ``device='auto'`` picks the
    GPU when there is one). ``threads`` is the "all threads" count (default: the CPUs this
    process may run on)."""
    import torch  # deferred: heavy import

    if threads is not None:
        check_run_threads(threads)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: torch sees no CUDA GPU on this machine")
    t0 = time.perf_counter()
    before, busy_before = load_average(), cpu_busy()
    if device == "cuda":
        result = _run_cuda(settings, progress)
    else:
        result = _run_cpu(threads or default_threads(), settings, progress)
    result.elapsed_s = time.perf_counter() - t0
    result.load_before, result.load_after = before, load_average()
    result.busy_before, result.busy_after = busy_before, cpu_busy()
    busy = busy_note(max((b for b in (busy_before, result.busy_after) if b is not None),
                         default=None))
    if busy and device != "cuda":
        result.notes.append(busy)
    result.warnings = bench_warnings(result)
    return result


def _run_cpu(threads_all: int, settings: BenchSettings, progress: Progress) -> BenchResult:
    import torch  # deferred: heavy import

    llc = last_level_cache_bytes()
    result = BenchResult(
        device="cpu", device_name=cpu_model(), threads_all=threads_all,
        logical_cpus=os.cpu_count() or 1, cache_bytes=llc, torch_version=torch.__version__,
        capability=cpu_capability(), date=datetime.date.today().isoformat())
    dtypes = cpu_dtypes()
    skipped = [d for d in ("bf16", "fp16") if d not in dtypes]
    if skipped:
        result.notes.append(f"{' and '.join(skipped)}: no native CPU kernels here, not measured")
    cache = llc or 8 * MiB
    if llc is None:
        result.notes.append("LLC size unknown (no sysfs cache info); assumed 8 MiB")
    dram_bytes = int(min(max(settings.dram_factor * cache, settings.dram_min_bytes),
                         settings.dram_max_bytes))
    plan: list[tuple[str, Callable[[], Point]]] = []
    for th in sorted({1, threads_all}):
        for d in dtypes:
            plan.append((f"{d} matmul, {threads_text(th)}",
                         lambda d=d, th=th: matmul_peak(d, settings.matmul_sizes, threads=th,
                                                        settings=settings)))
        for kernel in ("triad", "copy"):
            plan.append((f"DRAM {kernel}, {threads_text(th)}",
                         lambda k=kernel, th=th: stream_bandwidth(
                             k, dram_bytes, threads=th, level="dram", settings=settings)))
        plan.append((f"LLC triad, {threads_text(th)}",
                     lambda th=th: cache_bandwidth(cache, threads=th, level="llc",
                                                   settings=settings)))
    for k, (label, job) in enumerate(plan, 1):
        th = int(label.rsplit(", ", 1)[1].split()[0])
        with TorchThreads(th):
            p = job()
        result.points.append(p)
        progress(f"[{k}/{len(plan)}] {label}: {si(p.value, p.unit)} "
                 f"(spread {100 * p.spread:.1f} %, {p.size})")
    return result


def threads_text(n: int) -> str:
    """'1 thread', '2 threads'."""
    return "1 thread" if n == 1 else f"{n} threads"


def _run_cuda(settings: BenchSettings, progress: Progress) -> BenchResult:
    import torch  # deferred: heavy import

    props = torch.cuda.get_device_properties(0)
    l2 = int(getattr(props, "L2_cache_size", 0)) or None
    result = BenchResult(
        device="cuda", device_name=torch.cuda.get_device_name(0), threads_all=1,
        logical_cpus=os.cpu_count() or 1, cache_bytes=l2, torch_version=torch.__version__,
        capability=f"sm_{props.major}{props.minor}", date=datetime.date.today().isoformat())
    dtypes = ["fp32", "tf32", "fp16"]
    if torch.cuda.is_bf16_supported():
        dtypes.append("bf16")
    dtypes.append("int8")
    cache = l2 or 40 * MiB
    dram_bytes = int(min(max(settings.dram_factor * cache, 4 * settings.dram_min_bytes),
                         2 * settings.dram_max_bytes))
    plan: list[tuple[str, Callable[[], Point]]] = []
    for d in dtypes:
        plan.append((f"{d} matmul", lambda d=d: _cuda_matmul(d, settings)))
    for kernel in ("triad", "copy"):
        plan.append((f"DRAM {kernel}", lambda k=kernel: stream_bandwidth(
            k, dram_bytes, threads=None, level="dram", settings=settings, device="cuda")))
    plan.append(("L2 triad", lambda: cache_bandwidth(cache, threads=None, level="l2",
                                                     settings=settings, device="cuda")))
    for k, (label, job) in enumerate(plan, 1):
        try:
            p = job()
        except (RuntimeError, NotImplementedError) as e:  # a dtype or graph the GPU lacks
            note = f"{label}: not measured ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
            result.notes.append(note)
            progress(f"[{k}/{len(plan)}] {note}")
            continue
        result.points.append(p)
        progress(f"[{k}/{len(plan)}] {label}: {si(p.value, p.unit)} "
                 f"(spread {100 * p.spread:.1f} %, {p.size})")
    return result


def _cuda_matmul(dtype: str, settings: BenchSettings) -> Point:
    import torch  # deferred: heavy import

    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    try:
        return matmul_peak(dtype, settings.gpu_matmul_sizes, threads=None, settings=settings,
                           device="cuda")
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old

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

:func:`run` returns a :class:`BenchResult`; :func:`profile_data` turns it into a hardware
profile (basis ``measured``, with the date, CPU model, thread count and torch version) that
``load_profile`` accepts: the base at 1 thread (the roofline of single-threaded inference),
variants ``all_threads``, ``llc`` (activations served from the LLC) and ``all_threads_llc``.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from roofline import __version__
from roofline.calibration.measure import Progress, _quiet, _Threads, default_threads, time_callable

MiB = 1 << 20


@dataclass(frozen=True)
class Settings:
    """How much work a bench does; :data:`DEFAULT` finishes in well under 2 minutes on a
    2-core machine, :data:`QUICK` in seconds (tests)."""

    matmul_sizes: tuple[int, ...] = (1024, 2048)
    repeats: int = 5
    min_time_s: float = 0.2
    warmup_s: float = 0.2
    dram_factor: float = 8.0            # each DRAM array = factor x LLC ...
    dram_min_bytes: int = 64 * MiB      # ... at least this ...
    dram_max_bytes: int = 1024 * MiB    # ... at most this
    llc_fractions: tuple[float, ...] = (0.125, 0.25, 0.5)  # LLC working sets tried, x LLC
    gpu_matmul_sizes: tuple[int, ...] = (4096, 8192)


DEFAULT = Settings()
QUICK = Settings(matmul_sizes=(128,), repeats=2, min_time_s=0.01, warmup_s=0.01,
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


# ------------------------------------------------------------------------- this machine


def cpu_model() -> str:
    """The CPU's model name ('AMD EPYC 9654 96-Core Processor'), as the OS reports it; a name
    without a model number (virtual machines often hide it) gets the x86 family and model,
    and ', VM' under a hypervisor."""
    try:
        info: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip().lower(), " ".join(value.split()))
        name = next((info[k] for k in ("model name", "hardware", "cpu model") if info.get(k)), "")
        if name:
            if not re.search(r"\d", name) and info.get("cpu family") and info.get("model"):
                vm = ", VM" if "hypervisor" in info.get("flags", "").split() else ""
                name += f" (family {info['cpu family']}, model {info['model']}{vm})"
            return name
    except OSError:
        pass
    if platform.system() == "Darwin":  # pragma: no cover
        import subprocess

        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                 capture_output=True, text=True, timeout=5)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def last_level_cache_bytes() -> int | None:
    """Size of the largest (last-level) data/unified cache, from sysfs; None if unknown."""
    best = None
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        entries = sorted(base.glob("index*"))
    except OSError:
        return None
    for d in entries:
        try:
            kind = (d / "type").read_text().strip()
            level = int((d / "level").read_text().strip())
            size = _parse_size((d / "size").read_text().strip())
        except (OSError, ValueError):
            continue
        if kind in ("Unified", "Data") and size and (best is None or level > best[0]):
            best = (level, size)
    return best[1] if best else None


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([KMG]?)i?B?", text.strip(), re.IGNORECASE)
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]


def cpu_dtypes() -> list[str]:
    """The dtypes this CPU multiplies natively through torch: fp32, and bf16 / fp16 where
    oneDNN has native kernels, int8 where ``torch._int_mm`` runs."""
    import torch

    out = ["fp32"]
    for d, probe in (("bf16", "_is_mkldnn_bf16_supported"), ("fp16", "_is_mkldnn_fp16_supported")):
        try:
            if getattr(torch.ops.mkldnn, probe)():
                out.append(d)
        except (AttributeError, RuntimeError):
            pass
    try:
        a = torch.ones(32, 32, dtype=torch.int8)
        torch._int_mm(a, a)
        out.append("int8")
    except (AttributeError, RuntimeError, NotImplementedError):
        pass
    return out


# ----------------------------------------------------------------------------- kernels


def _rate_point(timing: Any, work: float, **kw: Any) -> Point:
    return Point(value=work / timing.latency_s, best=work / timing.min_s, spread=timing.spread,
                 repeats=timing.repeats, runs=timing.runs, **kw)


def matmul_peak(dtype: str, sizes: Sequence[int], *, threads: int | None, settings: Settings,
                device: str = "cpu") -> Point:
    """Peak MACs/s of ``torch.mm`` (``torch._int_mm`` for int8) at the best of ``sizes``."""
    import torch

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
                     settings: Settings, device: str = "cpu", graph: bool = False) -> Point:
    """Bandwidth (bytes/s) of a STREAM ``triad`` (a = b + s*c) or ``copy`` (a = b) over fp32
    arrays of ``array_bytes`` each. ``graph``: on CUDA, time a CUDA graph of 32 kernels, so
    that launch cost does not hide a fast cache."""
    import torch

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


def cache_bandwidth(cache_bytes: int, *, threads: int | None, level: str, settings: Settings,
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


def run(*, device: str = "auto", threads: int | None = None, settings: Settings = DEFAULT,
        progress: Progress = _quiet) -> BenchResult:
    """Measure the roofs of this machine's CPU (or its CUDA GPU; ``device='auto'`` picks the
    GPU when there is one). ``threads`` is the "all threads" count (default: the CPUs this
    process may run on)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        from roofline.errors import InputError

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
    return result


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def cpu_busy(window_s: float = 0.5) -> float | None:
    """The share of all CPUs' time spent busy over ``window_s`` (from /proc/stat; None where
    there is none). Called while this process idles, it measures everybody else."""
    def sample() -> tuple[int, int]:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ticks = [int(x) for x in fields[:8]]
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait

    try:
        t1, i1 = sample()
        time.sleep(window_s)
        t2, i2 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i2 - i1) / (t2 - t1) if t2 > t1 else None


def busy_note(busy: float | None) -> str:
    """A warning when other processes compete for the CPUs ('' when the machine is quiet)."""
    cpus = default_threads()
    if busy is None or busy < 0.2:
        return ""
    return (f"other processes were using {100 * busy:.0f} % of the {cpus} CPUs around the "
            "measurement, so the numbers may be lower than this machine's"
            + (", the multi-thread ones most" if cpus > 1 else ""))


def _run_cpu(threads_all: int, settings: Settings, progress: Progress) -> BenchResult:
    import torch

    llc = last_level_cache_bytes()
    result = BenchResult(
        device="cpu", device_name=cpu_model(), threads_all=threads_all,
        logical_cpus=os.cpu_count() or 1, cache_bytes=llc, torch_version=torch.__version__,
        capability=_cpu_capability(), date=datetime.date.today().isoformat())
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
            plan.append((f"{d} matmul, {_threads(th)}",
                         lambda d=d, th=th: matmul_peak(d, settings.matmul_sizes, threads=th,
                                                        settings=settings)))
        for kernel in ("triad", "copy"):
            plan.append((f"DRAM {kernel}, {_threads(th)}",
                         lambda k=kernel, th=th: stream_bandwidth(
                             k, dram_bytes, threads=th, level="dram", settings=settings)))
        plan.append((f"LLC triad, {_threads(th)}",
                     lambda th=th: cache_bandwidth(cache, threads=th, level="llc",
                                                   settings=settings)))
    for k, (label, job) in enumerate(plan, 1):
        th = int(label.rsplit(", ", 1)[1].split()[0])
        with _Threads(th):
            p = job()
        result.points.append(p)
        progress(f"[{k}/{len(plan)}] {label}: {_fmt(p.value, p.unit)} "
                 f"(spread {100 * p.spread:.1f} %, {p.size})")
    return result


def _threads(n: int) -> str:
    return "1 thread" if n == 1 else f"{n} threads"


def _cpu_capability() -> str:
    import torch

    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:  # pragma: no cover - old torch
        return "unknown"


def _run_cuda(settings: Settings, progress: Progress) -> BenchResult:
    import torch

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
        progress(f"[{k}/{len(plan)}] {label}: {_fmt(p.value, p.unit)} "
                 f"(spread {100 * p.spread:.1f} %, {p.size})")
    return result


def _cuda_matmul(dtype: str, settings: Settings) -> Point:
    import torch

    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    try:
        return matmul_peak(dtype, settings.gpu_matmul_sizes, threads=None, settings=settings,
                           device="cuda")
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


def _fmt(value: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


# ----------------------------------------------------------------------------- profile


def default_id(result: BenchResult) -> str:
    """A profile id from the device name: 'amd_epyc_2t', 'nvidia_h100_80gb_hbm3'."""
    slug = re.sub(r"[^a-z0-9]+", "_", result.device_name.lower()).strip("_") or "machine"
    slug = re.sub(r"_(processor|cpu|\d+_core)(?=_|$)", "", slug)[:40].strip("_")
    return slug if result.device == "cuda" else f"{slug}_{result.threads_all}t"


#: the method each kernel follows: the figure's source (the run itself is in its note)
METHOD_URLS = {
    "mm": "https://bitbucket.org/berkeleylab/cs-roofline-toolkit",      # ERT: empirical peaks
    "int_mm": "https://bitbucket.org/berkeleylab/cs-roofline-toolkit",
    "triad": "https://www.cs.virginia.edu/stream/ref.html",              # STREAM
    "copy": "https://www.cs.virginia.edu/stream/ref.html",
}
SYSFS_CACHE_URL = "https://www.kernel.org/doc/Documentation/ABI/testing/sysfs-devices-system-cpu"
CUDA_PROPS_URL = ("https://docs.nvidia.com/cuda/cuda-runtime-api/"
                  "structcudaDeviceProp.html")


def _figure(p: Point, run: str, extra: str = "") -> dict[str, Any]:
    """A measured figure: the method's reference as its source; the run (tool, date, torch,
    device, threads) and the arithmetic in its note."""
    how = {"mm": "torch.mm", "int_mm": "torch._int_mm (int8 x int8 -> int32)",
           "triad": "STREAM triad a = b + s*c (2 read + 1 written per element)",
           "copy": "STREAM copy a = b (1 read + 1 written per element)"}[p.kernel]
    note = (f"measured by {run}: {how}, {p.size}, median of {p.repeats} repeats x {p.runs} "
            f"runs, spread {100 * p.spread:.1f} %, best repeat {_fmt(p.best, p.unit)}")
    return {"value": p.value, "basis": "measured", "source": METHOD_URLS[p.kernel],
            "note": f"{note}; {extra}" if extra else note}


def profile_data(result: BenchResult) -> dict[str, Any]:
    """The bench as a hardware-profile mapping (see the module docstring)."""
    if not any(p.what == "peak" for p in result.points) or result.find("bandwidth",
                                                                      level="dram") is None:
        from roofline.errors import RooflineError

        raise RooflineError("the bench measured no peak or no DRAM bandwidth; no profile made")
    source = (f"roofline bench {__version__}, {result.date}, torch {result.torch_version}, "
              f"{result.device_name}")
    if result.device == "cuda":
        return _gpu_profile(result, source)
    one, all_ = 1, result.threads_all

    def peaks(th: int) -> dict[str, Any]:
        return {p.dtype: _figure(p, f"{source}, {_threads(th)}")
                for p in result.points if p.what == "peak" and p.threads == th}

    def bw(th: int, level: str) -> dict[str, Any] | None:
        p = result.find("bandwidth", level=level, kernel="triad", threads=th)
        if p is None:
            return None
        copy = result.find("bandwidth", level=level, kernel="copy", threads=th)
        extra = f"copy: {_fmt(copy.value, 'B/s')}" if copy else ""
        return _figure(p, f"{source}, {_threads(th)}", extra)

    cache = (f"; LLC {result.cache_bytes / MiB:.3g} MiB" if result.cache_bytes else "")
    desc = (f"Roofs of this machine measured by `roofline bench` on {result.date}: "
            f"{result.device_name}, {result.logical_cpus} logical CPUs{cache}, torch "
            f"{result.torch_version} (CPU capability {result.capability}). The base is one "
            f"thread (single-threaded inference); variant all_threads uses {all_} threads, "
            "llc replaces DRAM with last-level-cache bandwidth (activations that stay on chip). "
            "Peaks are what torch's GEMM kernels reach, not the silicon's theoretical peak.")
    if result.notes:
        desc += " Notes: " + "; ".join(result.notes) + "."
    data: dict[str, Any] = {
        "name": f"{result.device_name}, 1 thread (measured)",
        "kind": "cpu",
        "default_dtype": "fp32",
        "description": desc,
        "peak_macs_per_s": peaks(one),
        "mem_bw_bytes_per_s": bw(one, "dram"),
    }
    if result.cache_bytes:
        data["onchip_bytes"] = {"value": float(result.cache_bytes), "basis": "vendor",
                                "source": SYSFS_CACHE_URL,
                                "note": "last-level cache size as the OS reports it "
                                        "(/sys/devices/system/cpu/cpu0/cache, from CPUID)"}
    variants: dict[str, Any] = {}
    if all_ != one and bw(all_, "dram") is not None:
        variants["all_threads"] = {
            "name": f"{result.device_name}, {all_} threads (measured)",
            "description": f"The same machine with {all_} threads.",
            "peak_macs_per_s": peaks(all_), "mem_bw_bytes_per_s": bw(all_, "dram")}
    if bw(one, "llc") is not None:
        variants["llc"] = {
            "description": "One thread, with the bandwidth of the last-level cache instead of "
                           "DRAM: the roof for working sets that fit on chip.",
            "mem_bw_bytes_per_s": bw(one, "llc")}
    if all_ != one and bw(all_, "llc") is not None:
        variants["all_threads_llc"] = {
            "name": f"{result.device_name}, {all_} threads (measured)",
            "description": f"{all_} threads, last-level-cache bandwidth.",
            "peak_macs_per_s": peaks(all_), "mem_bw_bytes_per_s": bw(all_, "llc")}
    if variants:
        data["variants"] = variants
    return data


def _gpu_profile(result: BenchResult, source: str) -> dict[str, Any]:
    peaks = {p.dtype: _figure(p, source) for p in result.points if p.what == "peak"}
    dram = result.find("bandwidth", level="dram", kernel="triad")
    copy = result.find("bandwidth", level="dram", kernel="copy")
    assert dram is not None
    default = "fp16" if "fp16" in peaks else next(iter(peaks))
    cache = f"; L2 {result.cache_bytes / MiB:.3g} MiB" if result.cache_bytes else ""
    desc = (f"Roofs of this GPU measured by `roofline bench` on {result.date}: "
            f"{result.device_name} ({result.capability}){cache}, torch {result.torch_version}. "
            "Peaks are what torch's GEMM kernels reach (cuBLAS), not the datasheet's; variant "
            "l2 replaces DRAM with L2 bandwidth.")
    if result.notes:
        desc += " Notes: " + "; ".join(result.notes) + "."
    data: dict[str, Any] = {
        "name": f"{result.device_name} (measured)",
        "kind": "gpu",
        "default_dtype": default,
        "description": desc,
        "peak_macs_per_s": peaks,
        "mem_bw_bytes_per_s": _figure(dram, source,
                                      f"copy: {_fmt(copy.value, 'B/s')}" if copy else ""),
    }
    if result.cache_bytes:
        data["onchip_bytes"] = {"value": float(result.cache_bytes), "basis": "vendor",
                                "source": CUDA_PROPS_URL,
                                "note": "L2 cache size as the driver reports it "
                                        "(torch.cuda.get_device_properties().L2_cache_size)"}
    l2 = result.find("bandwidth", level="l2", kernel="triad")
    if l2 is not None:
        data["variants"] = {"l2": {
            "description": "The bandwidth of the L2 cache instead of DRAM.",
            "mem_bw_bytes_per_s": _figure(l2, source)}}
    return data


def profile_header(result: BenchResult, command: str = "roofline bench") -> str:
    """The comment at the top of a bench profile file."""
    return (f"Measured by `{command}` (roofline {__version__}) on {result.date} in "
            f"{result.elapsed_s:.0f} s.\n{result.device_name}; torch {result.torch_version}.\n"
            "Re-run the command to refresh; edit nothing by hand but the name/description.")


def summary_rows(result: BenchResult) -> list[list[str]]:
    """Rows for a text table: what, dtype/level, threads, value, spread, problem."""
    rows = []
    for p in result.points:
        rows.append([p.what, p.dtype or f"{p.level} {p.kernel}",
                     "-" if p.threads is None else str(p.threads), _fmt(p.value, p.unit),
                     f"{100 * p.spread:.1f} %", p.size])
    return rows


def ridge_points(result: BenchResult) -> dict[str, float]:
    """MACs/byte per dtype at 1 thread (or on the GPU) with DRAM bandwidth."""
    th = None if result.device == "cuda" else 1
    dram = result.find("bandwidth", level="dram", kernel="triad", threads=th)
    if dram is None:
        return {}
    return {p.dtype: p.value / dram.value for p in result.points
            if p.what == "peak" and p.threads == th and p.dtype}

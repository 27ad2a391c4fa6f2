"""This machine as the bench describes it: CPU model, last-level cache, native dtypes, load.

Read from the OS (/proc/cpuinfo, sysfs, /proc/stat) where it can; each function degrades to
a neutral answer (None, 'unknown CPU') where the OS has nothing to say.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from pathlib import Path

from roofline.calibration.timing import default_threads

__all__ = ["busy_note", "cpu_busy", "cpu_capability", "cpu_dtypes", "cpu_model",
           "last_level_cache_bytes", "load_average", "parse_cache_size"]


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
            size = parse_cache_size((d / "size").read_text().strip())
        except (OSError, ValueError):
            continue
        if kind in ("Unified", "Data") and size and (best is None or level > best[0]):
            best = (level, size)
    return best[1] if best else None


def parse_cache_size(text: str) -> int:
    """Bytes of a sysfs cache size ('32768K', '1M', '512'); ValueError otherwise."""
    m = re.fullmatch(r"(\d+)\s*([KMG]?)i?B?", text.strip(), re.IGNORECASE)
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]


def cpu_dtypes() -> list[str]:
    """The dtypes this CPU multiplies natively through torch: fp32, and bf16 / fp16 where
    oneDNN has native kernels, int8 where ``torch._int_mm`` runs."""
    import torch  # deferred: heavy import

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


def cpu_capability() -> str:
    """torch's CPU capability here (AVX512, AVX2, ...)."""
    import torch  # deferred: heavy import

    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:  # pragma: no cover - old torch
        return "unknown"


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

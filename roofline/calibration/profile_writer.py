"""Calibration results as hardware-profile files: the bench's measured roofs, a fit's
effective roofline.

:func:`bench_profile` turns a :class:`~roofline.calibration.bench.BenchResult` into a profile
(basis ``measured``, with the date, CPU model, thread count and torch version): on a CPU the
base at 1 thread (the roofline of single-threaded inference), variants ``all_threads``,
``llc`` (activations served from the LLC) and ``all_threads_llc``; on a GPU the base with
variant ``l2``. :func:`fitted_profile` turns a fit report into a profile (basis ``fitted``).
:func:`roofline.hardware.io.profile_yaml` writes either as YAML text and
:func:`roofline.hardware.io.check_profile_text` loads it back as ``--hw`` would, so a file is
written only when it will be accepted.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roofline import __version__
from roofline.calibration.bench import BenchResult, MiB, Point, threads_text
from roofline.errors import RooflineError
from roofline.units import si

__all__ = ["CUDA_PROPS_URL", "METHOD_URLS", "SYSFS_CACHE_URL", "bench_profile",
           "bench_profile_header", "default_profile_id", "fitted_profile"]


# ------------------------------------------------------------------------------ bench


def default_profile_id(result: BenchResult) -> str:
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
            f"runs, spread {100 * p.spread:.1f} %, best repeat {si(p.best, p.unit)}")
    return {"value": p.value, "basis": "measured", "source": METHOD_URLS[p.kernel],
            "note": f"{note}; {extra}" if extra else note}


def bench_profile(result: BenchResult) -> dict[str, Any]:
    """The bench as a hardware-profile mapping for :func:`roofline.hardware.io.profile_yaml`
    (see the module docstring)."""
    if not any(p.what == "peak" for p in result.points) or result.find("bandwidth",
                                                                      level="dram") is None:
        raise RooflineError("the bench measured no peak or no DRAM bandwidth; no profile made")
    source = (f"roofline bench {__version__}, {result.date}, torch {result.torch_version}, "
              f"{result.device_name}")
    if result.device == "cuda":
        return _gpu_bench_profile(result, source)
    one, all_ = 1, result.threads_all

    def peaks(th: int) -> dict[str, Any]:
        return {p.dtype: _figure(p, f"{source}, {threads_text(th)}")
                for p in result.points if p.what == "peak" and p.threads == th}

    def bw(th: int, level: str) -> dict[str, Any] | None:
        p = result.find("bandwidth", level=level, kernel="triad", threads=th)
        if p is None:
            return None
        copy = result.find("bandwidth", level=level, kernel="copy", threads=th)
        extra = f"copy: {si(copy.value, 'B/s')}" if copy else ""
        return _figure(p, f"{source}, {threads_text(th)}", extra)

    cache = (f"; LLC {result.cache_bytes / MiB:.3g} MiB" if result.cache_bytes else "")
    desc = (f"Roofs of this machine measured by `roofline bench` on {result.date}: "
            f"{result.device_name}, {result.logical_cpus} logical CPUs{cache}, torch "
            f"{result.torch_version} (CPU capability {result.capability}). The base is one "
            f"thread (single-threaded inference); variant all_threads uses {all_} threads, "
            "llc replaces DRAM with last-level-cache bandwidth (activations that stay on chip). "
            "Peaks are what torch's GEMM kernels reach, not the silicon's theoretical peak.")
    desc += _notes(result)
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


def _gpu_bench_profile(result: BenchResult, source: str) -> dict[str, Any]:
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
    desc += _notes(result)
    data: dict[str, Any] = {
        "name": f"{result.device_name} (measured)",
        "kind": "gpu",
        "default_dtype": default,
        "description": desc,
        "peak_macs_per_s": peaks,
        "mem_bw_bytes_per_s": _figure(dram, source,
                                      f"copy: {si(copy.value, 'B/s')}" if copy else ""),
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


def bench_profile_header(result: BenchResult, command: str = "roofline bench") -> str:
    """The comment at the top of a bench profile file."""
    return (f"Measured by `{command}` (roofline {__version__}) on {result.date} in "
            f"{result.elapsed_s:.0f} s.\n{result.device_name}; torch {result.torch_version}.\n"
            "Re-run the command to refresh; edit nothing by hand but the name/description.")


def _notes(result: BenchResult) -> str:
    """The bench's notes and warnings, as sentences for a profile's description."""
    out = ""
    if result.notes:
        out += " Notes: " + "; ".join(result.notes) + "."
    if result.warnings:
        out += " Warnings: " + "; ".join(result.warnings) + "."
    return out


# -------------------------------------------------------------------------------- fit


def fitted_profile(report: Mapping[str, Any], *, base: Any, dtype: str, source: str,
                   fusion: str, threads: int | None, hold_peak: bool) -> dict[str, Any]:
    """The fitted profile as a mapping for :func:`roofline.hardware.io.profile_yaml`: the
    effective peak and bandwidth (and overhead) at ``dtype``, basis ``fitted``, naming the
    measurement file."""
    today = datetime.date.today().isoformat()
    src = f"roofline fit {source} ({today})"
    stats = (f"{report['n_models']} models, in-sample r_s {report['spearman_roofline']:.3f} "
             f"(MACs only {report['spearman_macs']:.3f}), MAPE {report['mape']:.1f} %")
    if "loo" in report:
        stats += f", leave-one-out MAPE {report['loo']['mape']:.1f} %"
    base_name = base.name if base is not None else "device"
    desc = (f"Effective roofline fitted to measured latencies ({source}, {today}): {stats}. "
            f"Layers counted under the '{fusion}' fusion policy"
            + (f", {threads} thread" + ("s" if threads > 1 else "") if threads else "") + ". "
            "A calibration for ranking and predicting models on this device, not a spec.")
    if base is not None:
        desc += f" Started from {base.id} ({base.name})."
    if hold_peak and base is not None:
        peak_fig = base.peak_macs_per_s[dtype].to_dict()
    else:
        peak_fig = {"value": report["peak_macs_per_s"], "basis": "fitted", "source": src,
                    "note": f"effective peak, ridge point {report['ridge_point']:.3g} MACs/B"}
    out: dict[str, Any] = {
        "name": f"{base_name} [fitted: {Path(source).name}]",
        "kind": base.kind if base is not None else "cpu",
        "default_dtype": dtype,
        "description": desc,
        "peak_macs_per_s": {dtype: peak_fig},
        "mem_bw_bytes_per_s": {
            "value": report["mem_bw_bytes_per_s"], "basis": "fitted", "source": src,
            "note": f"effective bandwidth, ridge point {report['ridge_point']:.3g} MACs/B"},
    }
    if base is not None and base.onchip_bytes is not None:
        out["onchip_bytes"] = base.onchip_bytes.to_dict()
    if "overhead" in report["free_parameters"]:
        out["overhead_s_per_layer"] = {
            "value": report["overhead_s_per_layer"], "basis": "fitted", "source": src,
            "note": f"fixed cost per layer of the '{fusion}' fusion policy"}
    return out

"""What-if devices: a profile with its peak or bandwidth changed ("2x the bandwidth").

The command line's ``--peak``, ``--mem-bw``, ``--peak-scale`` and ``--bw-scale`` land here.
A changed figure gets the basis ``what-if`` (its note keeps the original and its basis), the
device's id gains ``:what-if`` and its name says what changed, so the device reads as a
what-if wherever it is printed or drawn. In Python, ``Roof.with_`` does the same for one
dtype without the labels.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from roofline.dtypes import canonical_dtype
from roofline.errors import InputError
from roofline.hardware.profile import POSITIVE, Figure, HardwareProfile

__all__ = ["WHAT_IF_SUFFIX", "what_if"]

WHAT_IF_SUFFIX = ":what-if"


def _check(option: str, value: float | None) -> None:
    if value is not None and not POSITIVE.accepts(value):
        raise InputError(f"{option} must be {POSITIVE.expected}, got {value!r}")


def _changed(fig: Figure, value: float, how: str) -> Figure:
    """``fig`` replaced by a what-if value; the note keeps the original and its basis."""
    return Figure(value=value, basis="what-if", source=f"command line: {how}",
                  note=f"was {fig.value:.4g} ({fig.basis}{': ' + fig.source if fig.source else ''})")


def _g(value: float) -> str:
    """5e13 -> '50 T' (the unit follows)."""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.4g} {prefix}"
    return f"{value:.4g} "


def what_if(profile: HardwareProfile, *, peak: float | None = None,
            mem_bw: float | None = None, peak_scale: float | None = None,
            bw_scale: float | None = None, dtype: str | None = None) -> HardwareProfile:
    """``profile`` with its peak MACs/s and/or DRAM bandwidth changed.

    ``peak`` sets the peak at ``dtype`` (the profile's default when None) and keeps that
    dtype alone (the others' peaks are unknown); ``peak_scale`` multiplies every dtype's peak;
    ``mem_bw`` sets and ``bw_scale`` multiplies the bandwidth. Returns ``profile`` unchanged
    when nothing is asked.
    """
    for option, value in (("--peak", peak), ("--mem-bw", mem_bw),
                          ("--peak-scale", peak_scale), ("--bw-scale", bw_scale)):
        _check(option, value)
    if peak is not None and peak_scale is not None:
        raise InputError("give --peak or --peak-scale, not both")
    if mem_bw is not None and bw_scale is not None:
        raise InputError("give --mem-bw or --bw-scale, not both")
    if all(v is None for v in (peak, mem_bw, peak_scale, bw_scale)):
        return profile
    peaks = dict(profile.peak_macs_per_s)
    default = profile.default_dtype
    said: list[str] = []
    if peak is not None:
        default = profile._dtype(dtype and canonical_dtype(dtype))
        peaks = {default: _changed(peaks[default], peak, f"--peak {peak:g}")}
        said.append(f"peak {_g(peak)}MAC/s")
    elif peak_scale is not None:
        peaks = {d: _changed(f, f.value * peak_scale, f"--peak-scale {peak_scale:g}")
                 for d, f in peaks.items()}
        said.append(f"peak x{peak_scale:g}")
    bw = profile.mem_bw_bytes_per_s
    if mem_bw is not None:
        bw = _changed(bw, mem_bw, f"--mem-bw {mem_bw:g}")
        said.append(f"DRAM {_g(mem_bw)}B/s")
    elif bw_scale is not None:
        bw = _changed(bw, bw.value * bw_scale, f"--bw-scale {bw_scale:g}")
        said.append(f"DRAM x{bw_scale:g}")
    return dataclasses.replace(
        profile, id=profile.id + WHAT_IF_SUFFIX, name=f"{profile.name} [what-if: {', '.join(said)}]",
        default_dtype=default, peak_macs_per_s=MappingProxyType(peaks), mem_bw_bytes_per_s=bw,
        variants=(),
    )

"""Is a calibration result believable? Warnings for fits and benches that look wrong.

A fit or bench can finish cleanly and still be nonsense: on a noisy virtual machine a fit
returned an effective bandwidth of 99 GB/s where the bench measured 18.6 and a ridge point
of 0.3 (MAC counting in disguise), and a bench wrote a last-level-cache bandwidth below DRAM
with a 116 % spread. Each check here turns such a result into one sentence saying what is
off and what to try; the commands print them (``warning: ...``) and put them in JSON
``warnings``. The thresholds are deliberately loose: a warning means "look at this", so it
must not fire on an ordinary result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from roofline.units import si

if TYPE_CHECKING:  # pragma: no cover
    from roofline.calibration.bench import BenchResult, Point

__all__ = ["COLLAPSED_RIDGE_POINT", "FAR_FACTOR", "SPREAD_LIMIT", "bench_warnings",
           "fit_warnings"]

#: a fitted roof more than this factor above or below the base profile's is "far" from it
FAR_FACTOR = 3.0
#: a fitted ridge point below this (MACs/byte) makes nearly every layer compute-bound: the
#: roofline has collapsed to MAC counting
COLLAPSED_RIDGE_POINT = 1.0
#: a spread between repeats above this share of the median makes a measurement unreliable
SPREAD_LIMIT = 0.25


def _far(fitted: float, base: float) -> bool:
    return base > 0 and not 1 / FAR_FACTOR <= fitted / base <= FAR_FACTOR


def _remedies(report: Mapping[str, Any]) -> str:
    """'; try ...': the options that could help a fit that looks wrong, those not yet used."""
    free = report.get("free_parameters", [])
    tries = []
    if "overhead" not in free:
        tries.append("--overhead (a per-layer cost)")
    if "peak" in free:
        tries.append("--hold-peak (the base's measured peak)")
    if report.get("fusion") not in (None, "none"):
        tries.append("--fusion none if the runtime ran every op as its own kernel (torch eager)")
    return "; try " + ", or ".join(tries) if tries else ""


def fit_warnings(report: Mapping[str, Any], base: Any = None, rows: pd.DataFrame | None = None,
                 *, base_id: str | None = None) -> list[str]:
    """Warnings for a fit report (:func:`roofline.calibration.fit.fit_report`): a fitted
    bandwidth or peak more than :data:`FAR_FACTOR` from the base profile's roof ``base`` (a
    ``Roof`` at the fitted dtype, or None), a ridge point collapsed to MAC counting, and
    measurements (``rows`` from :func:`~roofline.calibration.measurements.model_rows`)
    whose repeats spread more than :data:`SPREAD_LIMIT`."""
    out: list[str] = []
    free = report.get("free_parameters", [])
    loose = report.get("undetermined", [])
    name = f"the base profile {base_id}" if base_id else "the base profile"
    fitted = {"bandwidth": (report["mem_bw_bytes_per_s"], "B/s"),
              "peak": (report["peak_macs_per_s"], "MAC/s")}
    for what, (value, unit) in fitted.items():
        if base is None or what not in free or what in loose:
            continue
        ref = base.mem_bw_bytes_per_s if what == "bandwidth" else base.peak_macs_per_s
        if _far(value, ref):
            out.append(f"the fitted {what} {si(value, unit)} is {value / ref:.2g}x the "
                       f"{si(ref, unit)} of {name}: an effective roof this far from the measured one "
                       "usually stands for something the roofline does not model (per-layer "
                       f"overhead, caches){_remedies(report)}")
    rp = report["ridge_point"]
    base_rp = base.ridge_point if base is not None else None
    if rp < COLLAPSED_RIDGE_POINT and (base_rp is None or base_rp > FAR_FACTOR * rp) \
            and "bandwidth" not in loose:
        versus = f" ({name} has {base_rp:.3g})" if base_rp is not None else ""
        out.append(f"the fitted ridge point {rp:.3g} MACs/byte is implausibly low{versus}: "
                   f"{100 * report['compute_bound_share']:.0f} % of the roofline time is then "
                   f"compute-bound, so the fit has collapsed to MAC counting{_remedies(report)}")
    if rows is not None and len(rows):
        out += _spread_warning(rows)
    return out


def _spread_warning(rows: pd.DataFrame) -> list[str]:
    """One warning naming the models whose repeats (within a row, ``spread_pct``, or across
    rows of the same model, ``rows_spread_pct``) spread beyond :data:`SPREAD_LIMIT`."""
    limit = 100 * SPREAD_LIMIT
    within = pd.to_numeric(rows.get("spread_pct", pd.Series(dtype=float)), errors="coerce")
    across = pd.to_numeric(rows.get("rows_spread_pct", pd.Series(dtype=float)),
                           errors="coerce")
    spread = pd.concat([within, across], axis=1).max(axis=1).reindex(rows.index)
    noisy = spread[spread > limit].sort_values(ascending=False)
    if noisy.empty:
        return []
    worst = ", ".join(f"{rows.loc[i, 'model']} {v:.0f} %" for i, v in noisy.head(3).items())
    more = f" and {len(noisy) - 3} more" if len(noisy) > 3 else ""
    n = len(noisy)
    return [f"{n} model{'s' if n > 1 else ''} measured with a spread above {limit:.0f} % "
            f"between repeats ({worst}{more}): noisy latencies make the fit unreliable; "
            "measure again on a quiet machine"]


def bench_warnings(result: BenchResult) -> list[str]:
    """Warnings for a bench: a cache bandwidth below DRAM, more threads measuring slower than
    one, and roofs whose repeats spread more than :data:`SPREAD_LIMIT`."""
    out: list[str] = []
    threads = sorted({p.threads for p in result.points}, key=lambda t: -1 if t is None else t)
    for th in threads:
        dram = result.find("bandwidth", level="dram", kernel="triad", threads=th)
        for level in ("llc", "l2"):
            cache = result.find("bandwidth", level=level, kernel="triad", threads=th)
            if dram is not None and cache is not None and cache.value < dram.value:
                out.append(f"{cache.label} {si(cache.value, 'B/s')} is below the DRAM "
                           f"bandwidth {si(dram.value, 'B/s')}: a cache is not slower than "
                           "memory, so one of them is wrong (other processes competing, or a "
                           "working set that did not fit); run the bench again on a quiet "
                           "machine")
    if len(threads) > 1:
        one, many = threads[0], threads[-1]
        slower = []
        for p in result.points:
            q = result.find(p.what, dtype=p.dtype, level=p.level, kernel=p.kernel, threads=one)
            if p.threads == many and q is not None and p.value < q.value:
                slower.append(f"{p.label.rsplit(', ', 1)[0]} {si(p.value, p.unit)} vs "
                              f"{si(q.value, q.unit)}")
        if slower:
            out.append(f"at {many} threads {len(slower)} roof{'s' if len(slower) > 1 else ''} "
                       f"measured slower than at {one} thread ({'; '.join(slower)}): more "
                       "threads should not be slower; other processes were probably "
                       "competing for the CPUs")
    noisy: list[Point] = sorted((p for p in result.points if p.spread > SPREAD_LIMIT),
                                key=lambda p: -p.spread)
    if noisy:
        shown = ", ".join(f"{p.label} {100 * p.spread:.0f} %" for p in noisy[:4])
        more = f" and {len(noisy) - 4} more" if len(noisy) > 4 else ""
        out.append(f"large spread between repeats (above {100 * SPREAD_LIMIT:.0f} %): "
                   f"{shown}{more}; these roofs are unreliable, run the bench again on a "
                   "quiet machine")
    return out

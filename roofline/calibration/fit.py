"""Calibration: fit a roofline to measured latencies, and say honestly how good it is.

The model fitted is the toolkit's own (:func:`roofline.latency.equation.roofline_time`), over
the same layer tables every other command uses::

    latency_m = sum_i max(macs_i / P, bytes_i / B) + n_m * o

with ``P`` the effective peak (MACs/s), ``B`` the effective bandwidth (bytes/s), hence the
ridge point ``P / B`` (MACs/byte), and optionally ``o`` a fixed cost per layer (seconds;
``n_m`` is the number of layers of model m), which stands for what the roofline cannot see:
dispatch and framework overhead per op.

Fitting semantics:

- The residual of a model is ``log(predicted / measured)``: relative error, so a 1 ms and a
  100 ms model weigh the same, and a model twice too slow costs as much as one twice too fast.
- The parameters are fitted in log space (all are positive) with ``scipy.optimize
  .least_squares`` and a robust loss (``soft_l1``, scale 0.05: residuals beyond ~5 % count
  linearly, not quadratically), so a few outliers do not drag the fit.
- ``max()`` makes the objective piecewise smooth with several basins, so the fit starts from
  a grid over the ridge point (0.01 to 10^4 MACs/byte): at a fixed ridge point the model is
  linear in ``1/P`` and ``o``, solved by non-negative least squares; the best few grid points
  seed the non-linear refinement, and the best result wins.
- A fit with fewer models than free parameters is refused (:class:`FitError`), and so is
  leave-one-out cross-validation that would leave too few.
- When every layer is memory-bound at the fit, the peak is only a lower bound (and vice
  versa); the fit says so in ``warnings`` rather than report a number it cannot know.

- A fit whose result is implausible (an effective bandwidth far from the base profile's, a
  ridge point collapsed to MAC counting, noisy measurements) says so in ``warnings``
  (:mod:`roofline.calibration.plausibility`).

Statistics come from :mod:`roofline.calibration.stats`, measurements CSVs from
:mod:`roofline.calibration.measurements`, the data set from :mod:`roofline.calibration.dataset`.
This module is pure numpy/scipy/pandas: it never imports torch. The layer tables are built by
the caller: functions that need them take a ``layer_tables`` function (:data:`LayerTables`,
e.g. ``measure.layer_tables``, which uses the trace cache), and those that check model names
a ``check_model`` function (e.g. ``zoo.resolve``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from roofline.calibration.dataset import (
    Dataset,
    FitError,
    LayerTables,
    measured_dataset,
)
from roofline.calibration.measurements import measured_models
from roofline.calibration.plausibility import fit_warnings
from roofline.calibration.stats import accuracy, spearman
from roofline.errors import RooflineError

__all__ = ["PARAMETERS", "Fit", "fit_macs_only", "fit_measured", "fit_report", "fit_roofline",
           "leave_one_out", "leave_one_out_macs", "n_free"]

PARAMETERS = ("peak", "bandwidth", "overhead")

_LOG_BOUNDS = {  # log-space bounds of each parameter (wide: only to keep the solver finite)
    "peak": (math.log(1e3), math.log(1e19)),
    "bandwidth": (math.log(1e3), math.log(1e19)),
    "overhead": (math.log(1e-10), math.log(10.0)),
}
_GRID = np.logspace(-2, 4, 121)  # ridge points (MACs/byte) tried to start the fit
_F_SCALE = 0.05                  # soft_l1 scale: residuals beyond ~5 % count linearly


# ------------------------------------------------------------------------------- fit


@dataclass
class Fit:
    """A fitted roofline: the effective device and how it was obtained."""

    peak_macs_per_s: float
    mem_bw_bytes_per_s: float
    overhead_s_per_layer: float
    free: tuple[str, ...]          # the parameters fitted (others held)
    n_models: int
    predicted_s: np.ndarray
    measured_s: np.ndarray
    compute_bound_share: float     # share of roofline time in compute-bound layers
    cost: float                    # robust loss at the optimum
    warnings: list[str] = field(default_factory=list)
    undetermined: tuple[str, ...] = ()  # parameters that ran to the edge of their range

    @property
    def ridge_point(self) -> float:
        """MACs/byte: peak / bandwidth."""
        return self.peak_macs_per_s / self.mem_bw_bytes_per_s


def n_free(*, overhead: bool, hold_peak: bool) -> int:
    """Number of free parameters of a fit."""
    return (0 if hold_peak else 1) + 1 + (1 if overhead else 0)


def _free_names(overhead: bool, hold_peak: bool) -> tuple[str, ...]:
    return tuple(p for p in PARAMETERS
                 if not (p == "peak" and hold_peak) and not (p == "overhead" and not overhead))


def _soft_l1(r: np.ndarray) -> float:
    z = (r / _F_SCALE) ** 2
    return float(np.sum(2.0 * (np.sqrt(1.0 + z) - 1.0)))


def fit_roofline(ds: Dataset, *, overhead: bool = False, hold_peak: float | None = None,
                 init: tuple[float, float] | None = None) -> Fit:
    """Fit the effective peak and bandwidth (and, with ``overhead``, a per-layer overhead) to
    the measured latencies of ``ds``; ``hold_peak`` keeps the peak at a given value (the
    paper's way: the peak from the spec or `roofline bench`, the ridge point fitted).
    ``init`` (peak, bandwidth) joins the grid as one more starting point."""
    free = _free_names(overhead, hold_peak is not None)
    if ds.n < len(free):
        raise FitError(
            f"a fit of {len(free)} parameters ({', '.join(free)}) needs at least {len(free)} "
            f"measured models; got {ds.n}" + (f" ({', '.join(ds.labels)})" if ds.n else "")
            + "; measure more models" + (" or drop --overhead" if overhead else ""))
    # deferred: heavy import (scipy.optimize takes ~1.4 s)
    from scipy.optimize import least_squares

    t = ds.measured_s
    log_t = np.log(t)
    starts = _grid_starts(ds, overhead, hold_peak)
    if init is not None and all(v > 0 and math.isfinite(v) for v in init):
        starts.append((math.inf, init[0] if hold_peak is None else hold_peak, init[1],
                       float(np.median(t / ds.sizes)) * 0.1 if overhead else 0.0))
    if not starts:
        raise FitError("no starting point gives a finite fit; are the latencies consistent?")

    def unpack(x: np.ndarray) -> tuple[float, float, float]:
        v = dict(zip(free, np.exp(x)))
        return (hold_peak if hold_peak is not None else v["peak"], v["bandwidth"],
                v.get("overhead", 0.0))

    def residuals(x: np.ndarray) -> np.ndarray:
        p, b, o = unpack(x)
        return np.log(ds.predict(p, b, o)) - log_t

    def jacobian(x: np.ndarray) -> np.ndarray:
        p, b, o = unpack(x)
        c, m, _ = ds.layer_times(p, b)
        comp = c >= m
        pred = ds.predict(p, b, o)
        cols = []
        for name in free:
            if name == "peak":
                d = -ds.per_model(np.where(comp, c, 0.0))
            elif name == "bandwidth":
                d = -ds.per_model(np.where(comp, 0.0, m))
            else:
                d = ds.sizes * o
            cols.append(d / pred)
        return np.stack(cols, axis=1)

    lo = np.array([_LOG_BOUNDS[n][0] for n in free])
    hi = np.array([_LOG_BOUNDS[n][1] for n in free])
    best = None
    for _, p0, b0, o0 in starts:
        x0 = np.log([{"peak": p0, "bandwidth": b0, "overhead": max(o0, 1e-9)}[n] for n in free])
        x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
        res = least_squares(residuals, x0, jac=jacobian, bounds=(lo, hi), loss="soft_l1",
                            f_scale=_F_SCALE, method="trf", x_scale=1.0, max_nfev=500)
        cost = _soft_l1(res.fun)
        if best is None or cost < best[0] - 1e-12:
            best = (cost, res.x)
    assert best is not None
    p, b, o = unpack(best[1])
    pred = ds.predict(p, b, o)
    share = ds.compute_bound_share(p, b)
    warnings = []
    bounded = [n for n, x, lo_, hi_ in zip(free, best[1], lo, hi)
               if n != "overhead" and (x - lo_ < 1e-3 or hi_ - x < 1e-3)]
    for name in bounded:
        other = "memory" if name == "bandwidth" else "compute"
        warnings.append(f"the {name} ran off to the edge of its range: no layer is "
                        f"{other}-bound in the best fit, so the {name} is not determined "
                        "by these measurements")
    if "peak" in free and share < 0.01 and "peak" not in bounded:
        warnings.append("every layer is memory-bound at the fit: the peak is only a lower "
                        "bound (try --hold-peak)")
    if share > 0.99 and "bandwidth" not in bounded:
        warnings.append("every layer is compute-bound at the fit: the bandwidth is only a "
                        "lower bound")
    if ds.n == len(free):
        warnings.append(f"{ds.n} models for {len(free)} parameters: the fit can pass through "
                        "every point, so its in-sample error says nothing; measure more models")
    if overhead and o <= 2e-10:
        warnings.append("the fitted per-layer overhead is zero")
    return Fit(peak_macs_per_s=p, mem_bw_bytes_per_s=b, overhead_s_per_layer=o, free=free,
               n_models=ds.n, predicted_s=pred, measured_s=ds.measured_s.copy(),
               compute_bound_share=share, cost=best[0], warnings=warnings,
               undetermined=tuple(bounded))


def _grid_starts(ds: Dataset, overhead: bool, hold_peak: float | None,
                 keep: int = 4) -> list[tuple[float, float, float, float]]:
    """(cost, peak, bandwidth, overhead) at the best grid ridge points, best first.

    At a fixed ridge point R, latency = E(R) / P + n x o with E(R) the MAC-equivalents: linear
    in (1/P, o), solved by non-negative least squares on relative errors.
    """
    # deferred: heavy import (scipy.optimize takes ~1.4 s)
    from scipy.optimize import nnls

    t = ds.measured_s
    eq = ds.mac_equivalents(_GRID)  # (M, G)
    found = []
    for g, rp in enumerate(_GRID):
        e = eq[:, g]
        if hold_peak is not None:
            y = t - e / hold_peak
            inv_p = 1.0 / hold_peak
            if overhead:
                a = ds.sizes / t
                o = max(float(np.dot(a, y / t) / np.dot(a, a)), 0.0)
            else:
                o = 0.0
        else:
            cols = [e] + ([ds.sizes.astype(float)] if overhead else [])
            x = np.stack(cols, axis=1) / t[:, None]
            coef, _ = nnls(x, np.ones_like(t))
            inv_p = coef[0]
            o = float(coef[1]) if overhead else 0.0
            if inv_p <= 0:
                continue
        peak = 1.0 / inv_p
        pred = e * inv_p + ds.sizes * o
        if np.any(pred <= 0):
            continue
        found.append((_soft_l1(np.log(pred / t)), peak, peak / rp, o))
    found.sort(key=lambda f: f[0])
    # keep the best few that are not neighbours of a better one (distinct basins)
    out: list[tuple[float, float, float, float]] = []
    for f in found:
        if all(abs(math.log((f[1] / f[2]) / (k[1] / k[2]))) > 0.5 for k in out):
            out.append(f)
        if len(out) >= keep:
            break
    return out


def fit_macs_only(ds: Dataset) -> float:
    """The MAC-counting baseline: latency = MACs / P with one fitted P (the robust, log-space
    centre), in MACs/s. Its rank correlation does not depend on P; its MAPE does."""
    ratio = np.log(ds.total_macs / ds.measured_s)
    return float(np.exp(np.median(ratio)))


# ------------------------------------------------------------------- statistics of a fit


def leave_one_out(ds: Dataset, *, overhead: bool = False, hold_peak: float | None = None,
                  init: tuple[float, float] | None = None) -> np.ndarray:
    """(M,) out-of-sample predictions: each model predicted by a fit to all the others."""
    need = n_free(overhead=overhead, hold_peak=hold_peak is not None)
    if ds.n - 1 < need:
        raise FitError(f"leave-one-out with {need} free parameters needs at least {need + 1} "
                       f"measured models; got {ds.n}")
    out = np.empty(ds.n)
    for i in range(ds.n):
        rest = ds.subset([j for j in range(ds.n) if j != i])
        f = fit_roofline(rest, overhead=overhead, hold_peak=hold_peak, init=init)
        one = ds.subset([i])
        out[i] = one.predict(f.peak_macs_per_s, f.mem_bw_bytes_per_s, f.overhead_s_per_layer)[0]
    return out


def leave_one_out_macs(ds: Dataset) -> np.ndarray:
    """(M,) out-of-sample predictions of the MAC-counting baseline."""
    out = np.empty(ds.n)
    for i in range(ds.n):
        rest = ds.subset([j for j in range(ds.n) if j != i])
        out[i] = ds.total_macs[i] / fit_macs_only(rest)
    return out


def fit_report(ds: Dataset, *, overhead: bool = False, hold_peak: float | None = None,
               init: tuple[float, float] | None = None, cv: bool = False) -> dict[str, Any]:
    """Fit, statistics and (with ``cv``) leave-one-out statistics, as a JSON-ready dict;
    ``models`` holds one row per model."""
    f = fit_roofline(ds, overhead=overhead, hold_peak=hold_peak, init=init)
    acc = accuracy(ds.measured_s, f.predicted_s)
    macs_peak = fit_macs_only(ds)
    macs_pred = ds.total_macs / macs_peak
    acc_macs = accuracy(ds.measured_s, macs_pred)
    report: dict[str, Any] = {
        "n_models": ds.n,
        "free_parameters": list(f.free),
        "peak_macs_per_s": f.peak_macs_per_s,
        "mem_bw_bytes_per_s": f.mem_bw_bytes_per_s,
        "ridge_point": f.ridge_point,
        "overhead_s_per_layer": f.overhead_s_per_layer,
        "compute_bound_share": f.compute_bound_share,
        "undetermined": list(f.undetermined),
        "spearman_roofline": acc["spearman"],
        "spearman_macs": spearman(ds.total_macs, ds.measured_s),
        "mape": acc["mape"],
        "within_20pct": acc["within_20pct"],
        "median_ratio": acc["median_ratio"],
        "mape_macs": acc_macs["mape"],
        "within_20pct_macs": acc_macs["within_20pct"],
        "macs_only_peak_macs_per_s": macs_peak,
        "warnings": list(f.warnings),
    }
    rows = pd.DataFrame({
        "model": ds.labels,
        "measured_ms": ds.measured_s * 1e3,
        "predicted_ms": f.predicted_s * 1e3,
        "error_pct": (f.predicted_s / ds.measured_s - 1) * 100,
        "macs": ds.total_macs,
        "layers": ds.sizes,
        "macs_only_ms": macs_pred * 1e3,
    })
    if cv:
        loo = leave_one_out(ds, overhead=overhead, hold_peak=hold_peak, init=init)
        loo_macs = leave_one_out_macs(ds)
        a = accuracy(ds.measured_s, loo)
        am = accuracy(ds.measured_s, loo_macs)
        report["loo"] = {"mape": a["mape"], "within_20pct": a["within_20pct"],
                         "spearman_roofline": a["spearman"], "mape_macs": am["mape"],
                         "within_20pct_macs": am["within_20pct"],
                         "spearman_macs": report["spearman_macs"]}
        rows["loo_predicted_ms"] = loo * 1e3
        rows["loo_error_pct"] = (loo / ds.measured_s - 1) * 100
    report["models"] = rows.to_dict(orient="records")
    return report


# ------------------------------------------------------------------- measured models


def fit_measured(path: str, *, layer_tables: LayerTables, base: Any = None,
                 dtype: str | None = None, threads: int | None = None, fusion: str = "none",
                 overhead: bool = False, hold_peak: bool = False, cv: bool = False,
                 check_model: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """:func:`fit_report` of the whole-model rows of a measurements CSV (``roofline fit``).

    ``base`` (a HardwareProfile or None) gives the default dtype and the fit's starting point
    at that dtype; with ``hold_peak`` its peak is kept and only the bandwidth fitted. The
    report also names the file, dtype, fusion, threads asked for and base profile.
    """
    _, rows = measured_models(path, dtype=dtype, threads=threads,
                              default_dtype=base.default_dtype if base else None,
                              check_model=check_model)
    d = rows["dtype"].iloc[0]
    if len(set(rows["dtype"])) > 1:
        raise RooflineError(f"{path}: rows mix dtypes {', '.join(sorted(set(rows['dtype'])))}; "
                            "choose one with --dtype")
    init = None
    if base is not None:
        if d not in base.peak_macs_per_s:
            if hold_peak:
                raise RooflineError(f"--hold-peak: {base.id} has no {d} peak; it has "
                                    f"{', '.join(base.dtypes)}")
        else:
            r = base.roof(d)
            init = (r.peak_macs_per_s, r.mem_bw_bytes_per_s)
    ds, _ = measured_dataset(rows, fusion, layer_tables)
    held = base.roof(d).peak_macs_per_s if hold_peak and base is not None else None
    report = fit_report(ds, overhead=overhead, hold_peak=held, init=init, cv=cv)
    report.update({"measurements": path, "dtype": d, "fusion": fusion, "threads": threads,
                   "base": base.id if base else None})
    base_roof = base.roof(d) if base is not None and d in base.peak_macs_per_s else None
    report["warnings"] += fit_warnings(report, base_roof, rows, base_id=report["base"])
    return report

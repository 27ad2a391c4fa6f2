"""Fit a runtime's parameters, or a device's two scalars under a runtime, to measured latencies.

The model is ``roofline.latency.runtime_model`` (the roofline over the runtime's own graph,
plus per-kind efficiencies and fixed costs). What is fitted is chosen by ``free``:

- ``runtime``: the runtime's parameters (those its file names; all of
  :data:`~roofline.hardware.runtime.PARAMETERS` that the data can determine when it names
  none), with the device's peak and bandwidth held. Efficiencies and the device's scalars
  are the same numbers seen from two sides (only ``peak x efficiency`` enters the model), so
  they are never fitted together.
- ``peak``, ``bandwidth`` (either or both): the device's scalars, with every runtime parameter
  held: how a new device is calibrated from a handful of measured models.

Fitting semantics are those of ``roofline fit`` (``calibration.fit``): the residual of a model
is ``log(predicted / measured)``, every parameter is fitted in log space (all are positive),
``scipy.optimize.least_squares`` with a robust ``soft_l1`` loss (scale 0.05). The start comes
from a linearisation: with each layer's bound (compute or memory) fixed, the latency is linear
in the inverse efficiencies and in the overheads, solved by non-negative least squares on
relative errors, and re-solved until the bounds settle; a few such starts from different
bandwidth scales seed the non-linear fit, and the best wins. A parameter whose term is zero in
every measured model (no delegate partitions, no islands, no depthwise layers, ...) cannot be
determined: it is held at its current value and the report says so.

Leave-one-out: each model is predicted by a fit to all the others (started from the full
fit), as ``roofline fit --cv`` does. Statistics are ``calibration.fit.accuracy``'s.
Pure numpy/scipy/pandas, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from roofline.calibration.dataset import FitError
from roofline.calibration.fit import fit_macs_only
from roofline.calibration.stats import accuracy, spearman
from roofline.errors import did_you_mean
from roofline.hardware.runtime import NEUTRAL, PARAMETERS, Runtime
from roofline.latency.runtime_model import EFFICIENCY_OF, DeviceRoofs, RuntimeData

__all__ = [
    "DEVICE_SCALARS",
    "RuntimeFit",
    "determined",
    "fit_runtime",
    "leave_one_out",
    "parse_free",
    "runtime_fit_report",
]

#: the device's scalars that ``--fit`` may name besides ``runtime``
DEVICE_SCALARS = ("peak", "bandwidth")
_F_SCALE = 0.05
_LOG_BOUNDS = {"eff": (math.log(1e-4), math.log(1e3)), "macs": (math.log(1.0), math.log(1e12)),
               "peak": (math.log(1e3), math.log(1e19)), "bandwidth": (math.log(1e3),
                                                                     math.log(1e19))}


def _bounds(name: str) -> tuple[float, float]:
    if name in DEVICE_SCALARS:
        return _LOG_BOUNDS[name]
    return _LOG_BOUNDS["macs" if name.endswith("_macs") else "eff"]


def parse_free(spec: str, runtime: Runtime) -> tuple[str, ...]:
    """``--fit`` text -> the parameter names to fit: ``runtime`` (its parameters),
    ``peak``, ``bandwidth``, or runtime parameter names, comma-separated."""
    names: list[str] = []
    for word in (w.strip() for w in spec.split(",")):
        if not word:
            continue
        if word == "runtime":
            names += list(runtime.parameters) or list(PARAMETERS)
        elif word in DEVICE_SCALARS or word in PARAMETERS:
            names.append(word)
        else:
            choices = ["runtime", *DEVICE_SCALARS, *PARAMETERS]
            raise FitError(f"--fit: unknown parameter {word!r}{did_you_mean(word, choices)}; "
                           "expected runtime, peak, bandwidth or a runtime parameter")
    out = tuple(dict.fromkeys(names))
    if not out:
        raise FitError("--fit names no parameter; expected runtime, or peak,bandwidth")
    eff = [n for n in out if n in EFFICIENCY_OF or n.endswith("_efficiency")]
    if "peak" in out and any(n in EFFICIENCY_OF for n in eff):
        raise FitError("--fit: peak and the compute efficiencies are not separately "
                       "determined (only their product enters the model); fit one or the other")
    if "bandwidth" in out and any(n in ("memory_efficiency",) for n in eff):
        raise FitError("--fit: bandwidth and memory_efficiency are not separately determined; "
                       "fit one or the other")
    return out


def determined(data: RuntimeData, names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(names the data can determine, names it cannot: their term is zero in every model)."""
    ok, no = [], []
    for n in names:
        if n in EFFICIENCY_OF:
            g = EFFICIENCY_OF.index(n) + 1
            has = bool(np.any((data.group == g) & (data.macs > 0)))
        elif n == "island_memory_efficiency":
            has = bool(np.any(data.is_island & (data.nbytes > 0)))
        elif n == "memory_efficiency":
            has = bool(np.any(~data.is_island & (data.nbytes > 0)))
        elif n in DEVICE_SCALARS:
            has = True
        else:
            has = bool(np.any(data.counts(n) > 0))
        (ok if has else no).append(n)
    return ok, no


@dataclass
class RuntimeFit:
    """The result of a fit: the device and runtime values, and how well they predict."""

    device: DeviceRoofs
    values: dict[str, float]              # every runtime parameter (held ones included)
    free: tuple[str, ...]
    undetermined: tuple[str, ...]
    predicted_s: np.ndarray
    measured_s: np.ndarray
    cost: float
    warnings: list[str] = field(default_factory=list)


def _soft_l1(r: np.ndarray) -> float:
    z = (r / _F_SCALE) ** 2
    return float(np.sum(2.0 * (np.sqrt(1.0 + z) - 1.0)))


def _state(device: DeviceRoofs, values: Mapping[str, float], free: Sequence[str],
           x: np.ndarray) -> tuple[DeviceRoofs, dict[str, float]]:
    v = dict(values)
    peak = bw = None
    for name, lx in zip(free, np.exp(x)):
        if name == "peak":
            peak = float(lx)
        elif name == "bandwidth":
            bw = float(lx)
        else:
            v[name] = float(lx)
    return device.scaled(peak, bw), v


def _x_of(device: DeviceRoofs, values: Mapping[str, float], free: Sequence[str]) -> np.ndarray:
    raw = [device.peak if n == "peak" else device.mem_bw_bytes_per_s if n == "bandwidth"
           else max(values[n], 1.0 if n.endswith("_macs") else 1e-4) for n in free]
    x = np.log(np.asarray(raw, dtype=float))
    lo = np.array([_bounds(n)[0] for n in free])
    hi = np.array([_bounds(n)[1] for n in free])
    return np.clip(x, lo + 1e-9, hi - 1e-9)


def _linear_start(data: RuntimeData, device: DeviceRoofs, values: Mapping[str, float],
                  free: Sequence[str], rounds: int = 4) -> dict[str, float] | None:
    """Runtime values from the linearised model (bounds fixed, NNLS on relative errors)."""
    # deferred: heavy import (scipy.optimize takes ~1.4 s)
    from scipy.optimize import nnls

    v = dict(values)
    t = data.measured_s
    for _ in range(rounds):
        c, m, _ = data._terms(device, v)
        comp = c >= m
        held = np.zeros(data.n)
        cols, names = [], []
        # each layer's term as (coefficient x inverse efficiency) or held
        for g, name in enumerate(EFFICIENCY_OF, start=1):
            term = data._sum(np.where(comp & (data.group == g), c * v[name], 0.0))
            if name in free:
                cols.append(term)
                names.append(name)
            else:
                held += term / v[name]
        term = data._sum(np.where(comp & (data.group == 0), c, 0.0))
        held += term
        for name, mask in (("memory_efficiency", ~data.is_island),
                           ("island_memory_efficiency", data.is_island)):
            term = data._sum(np.where(~comp & mask, m * v[name], 0.0))
            if name in free:
                cols.append(term)
                names.append(name)
            else:
                held += term / v[name]
        for name in ("op_overhead_macs", "partition_overhead_macs", "island_op_overhead_macs"):
            term = data.counts(name) / device.peak
            if name in free:
                cols.append(term)
                names.append(name)
            else:
                held += term * v[name]
        if not cols:
            return v
        a = np.stack(cols, axis=1) / t[:, None]
        b = 1.0 - held / t
        coef, _ = nnls(a, b)
        for name, k in zip(names, coef):
            if name.endswith("_macs"):
                v[name] = max(float(k), 1.0)
            else:
                v[name] = 1.0 / k if k > 0 else 1e3  # an unused term: fast, not infinite
    return v


def fit_runtime(data: RuntimeData, device: DeviceRoofs, runtime: Runtime | Mapping[str, float],
                free: Sequence[str], *, start: Mapping[str, float] | None = None) -> RuntimeFit:
    """Fit ``free`` (runtime parameter names and/or ``peak``, ``bandwidth``) to the measured
    latencies of ``data``; the others are held at ``runtime``'s values and ``device``'s.
    ``start`` (values by name), when given, is the one starting point (leave-one-out starts
    from the full fit); otherwise the linearised starts (see the module docstring)."""
    # deferred: heavy import (scipy.optimize takes ~1.4 s)
    from scipy.optimize import least_squares

    values = runtime.values() if isinstance(runtime, Runtime) else {
        k: float(runtime.get(k, NEUTRAL[k])) for k in PARAMETERS}
    ok, no = determined(data, free)
    if data.n < len(ok):
        raise FitError(f"a fit of {len(ok)} parameters ({', '.join(ok)}) needs at least "
                       f"{len(ok)} measured models; got {data.n}; measure more models")
    if not ok:
        raise FitError(f"none of {', '.join(free)} can be determined from these measurements")
    log_t = np.log(data.measured_s)
    lo = np.array([_bounds(n)[0] for n in ok])
    hi = np.array([_bounds(n)[1] for n in ok])

    def residuals(x: np.ndarray) -> np.ndarray:
        d, v = _state(device, values, ok, x)
        return np.log(data.predict(d, v)) - log_t

    def jacobian(x: np.ndarray) -> np.ndarray:
        d, v = _state(device, values, ok, x)
        return data.jacobian(d, v, ok) / data.predict(d, v)[:, None]

    starts = []
    if start is not None:
        starts.append(({**values, **{k: v for k, v in start.items() if k in PARAMETERS}},
                       device.scaled(start.get("peak"), start.get("bandwidth"))))
    runtime_free = [n for n in ok if n in PARAMETERS]
    if starts:
        pass  # a given start (leave-one-out: the full fit) is the only one
    elif runtime_free:
        for scale in (1.0, 0.1, 10.0):
            v0 = dict(values)
            if "memory_efficiency" in runtime_free:
                v0["memory_efficiency"] = values["memory_efficiency"] * scale
            lin = _linear_start(data, device, v0, runtime_free)
            if lin is not None:
                starts.append((lin, device))
    else:
        starts.append((values, device))
        # the device's scalars: also a start from the MAC-counting scale
        if "peak" in ok:
            ratio = float(np.median(data.predict(device, values) / data.measured_s))
            starts.append((values, device.scaled(device.peak * ratio)))
    best = None
    for v0, d0 in starts:
        x0 = _x_of(d0, v0, ok)
        res = least_squares(residuals, x0, jac=jacobian, bounds=(lo, hi), loss="soft_l1",
                            f_scale=_F_SCALE, method="trf", max_nfev=300)
        cost = _soft_l1(res.fun)
        if best is None or cost < best[0] - 1e-12:
            best = (cost, res.x)
    assert best is not None
    d, v = _state(device, values, ok, best[1])
    pred = data.predict(d, v)
    warnings = []
    for n in no:
        warnings.append(f"{n} is not determined by these measurements (its term is zero in "
                        "every model); held at " + f"{values[n]:.4g}")
    edge = [n for n, x, a, b in zip(ok, best[1], lo, hi)
            if (x - a < 1e-3 or b - x < 1e-3) and not n.endswith("_macs")]
    for n in edge:
        warnings.append(f"{n} ran to the edge of its range: not determined by these "
                        "measurements")
    if data.n == len(ok):
        warnings.append(f"{data.n} models for {len(ok)} parameters: the fit can pass through "
                        "every point; measure more models")
    return RuntimeFit(d, v, tuple(ok), tuple(no), pred, data.measured_s.copy(), best[0],
                      warnings)


def leave_one_out(data: RuntimeData, device: DeviceRoofs, runtime: Runtime | Mapping[str, float],
                  free: Sequence[str], *, full: RuntimeFit | None = None) -> np.ndarray:
    """(M,) each model predicted by a fit to all the others (started from ``full``)."""
    ok, _ = determined(data, free)
    if data.n - 1 < max(len(ok), 1):
        raise FitError(f"leave-one-out with {len(ok)} free parameters needs at least "
                       f"{len(ok) + 1} measured models; got {data.n}")
    start = None
    if full is not None:
        start = {**full.values, "peak": full.device.peak,
                 "bandwidth": full.device.mem_bw_bytes_per_s}
    out = np.empty(data.n)
    for i in range(data.n):
        rest = data.subset([j for j in range(data.n) if j != i])
        f = fit_runtime(rest, device, runtime, free, start=start)
        out[i] = data.subset([i]).predict(f.device, f.values)[0]
    return out


def runtime_fit_report(data: RuntimeData, device: DeviceRoofs,
                       runtime: Runtime | Mapping[str, float], free: Sequence[str], *,
                       cv: bool = False) -> tuple[dict[str, Any], RuntimeFit]:
    """Fit, statistics, the plain roofline and MAC counting beside it, and (with ``cv``)
    leave-one-out statistics, as a JSON-ready dict with one row per model in ``models``;
    and the fit itself."""
    f = fit_runtime(data, device, runtime, free)
    acc = accuracy(data.measured_s, f.predicted_s)
    macs_peak = fit_macs_only(_macs_view(data))
    macs_pred = data.total_macs / macs_peak
    plain = data.plain(f.device)
    acc_m = accuracy(data.measured_s, macs_pred)
    acc_p = accuracy(data.measured_s, plain)
    report: dict[str, Any] = {
        "n_models": data.n,
        "free_parameters": list(f.free),
        "undetermined": list(f.undetermined),
        "peak_macs_per_s": f.device.peak,
        "peaks_macs_per_s": dict(f.device.peaks),
        "mem_bw_bytes_per_s": f.device.mem_bw_bytes_per_s,
        "ridge_point": f.device.peak / f.device.mem_bw_bytes_per_s,
        "runtime_parameters": dict(f.values),
        "overheads_us": {k: f.values[k] / f.device.peak * 1e6 for k in PARAMETERS
                         if k.endswith("_macs")},
        "spearman_runtime": acc["spearman"], "mape": acc["mape"],
        "within_20pct": acc["within_20pct"], "median_ratio": acc["median_ratio"],
        "spearman_plain": acc_p["spearman"], "mape_plain": acc_p["mape"],
        "within_20pct_plain": acc_p["within_20pct"],
        "spearman_macs": spearman(data.total_macs, data.measured_s),
        "mape_macs": acc_m["mape"], "within_20pct_macs": acc_m["within_20pct"],
        "warnings": list(f.warnings),
    }
    rows = {
        "model": data.labels,
        "measured_ms": data.measured_s * 1e3,
        "predicted_ms": f.predicted_s * 1e3,
        "error_pct": (f.predicted_s / data.measured_s - 1) * 100,
        "plain_ms": plain * 1e3,
        "macs_only_ms": macs_pred * 1e3,
        "macs": data.total_macs,
        "ops": data.n_ops,
        "partitions": data.n_partitions,
        "island_ops": data.n_island,
    }
    if data.families:
        rows["family"] = data.families
    if cv:
        loo = leave_one_out(data, device, runtime, free, full=f)
        a = accuracy(data.measured_s, loo)
        report["loo"] = {"mape": a["mape"], "within_20pct": a["within_20pct"],
                         "spearman_runtime": a["spearman"]}
        rows["loo_predicted_ms"] = loo * 1e3
        rows["loo_error_pct"] = (loo / data.measured_s - 1) * 100

    report["models"] = pd.DataFrame(rows).to_dict(orient="records")
    return report, f


def _macs_view(data: RuntimeData) -> Any:
    """What ``fit_macs_only`` reads of a data set: total MACs and measured latencies."""

    class _View:
        total_macs = data.total_macs
        measured_s = data.measured_s

    return _View()

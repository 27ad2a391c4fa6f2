"""Calibration: fit a roofline to measured latencies, and say honestly how good it is.

The model fitted is the toolkit's own (``model.py``), over the same layer tables every other
command uses::

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

Statistics (:func:`accuracy`): MAPE (mean absolute percentage error), the share of models
within +-20 %, Spearman rank correlation of predicted vs measured latency, and the same rank
correlation for plain MAC counting (the MobileNetV4 paper's Table 16 comparison).

Measurements come from a CSV (:func:`read_measurements`) with at least ``model`` and
``latency_ms``; every problem in it is reported as one line naming the file, the CSV line
and the problem (:class:`MeasurementError`).

This module is pure numpy/scipy/pandas: it never imports torch. The layer tables are built by
the caller: functions that need them take a ``layer_tables`` function (:data:`LayerTables`,
e.g. ``measure.layer_tables``, which uses the trace cache), and those that check model names
a ``check_model`` function (e.g. ``zoo.resolve``).
"""

from __future__ import annotations

import csv
import datetime
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roofline.dtypes import canonical_dtype
from roofline.errors import RooflineError
from roofline.hardware.io import check_profile_text, profile_yaml  # noqa: F401 - the writer
from roofline.latency.equation import layer_times

#: columns a measurements CSV must have
REQUIRED_COLUMNS = ("model", "latency_ms")
#: columns it may have (others are ignored)
OPTIONAL_COLUMNS = ("resolution", "dtype", "threads", "runs", "repeats", "spread_pct",
                    "latency_min_ms", "device", "layer_index", "layer", "fusion")
#: a model's key in a data set: (model, resolution or None, dtype)
Key = tuple[str, "int | None", str]

PARAMETERS = ("peak", "bandwidth", "overhead")
WITHIN = 0.20  # the "within +-20 %" band

_LOG_BOUNDS = {  # log-space bounds of each parameter (wide: only to keep the solver finite)
    "peak": (math.log(1e3), math.log(1e19)),
    "bandwidth": (math.log(1e3), math.log(1e19)),
    "overhead": (math.log(1e-10), math.log(10.0)),
}
_GRID = np.logspace(-2, 4, 121)  # ridge points (MACs/byte) tried to start the fit
_F_SCALE = 0.05                  # soft_l1 scale: residuals beyond ~5 % count linearly


class MeasurementError(RooflineError):
    """A measurements CSV that cannot be used: missing columns, bad values, unknown models."""


class FitError(RooflineError):
    """A fit that cannot be made: too few models for the free parameters, no usable data."""


# ----------------------------------------------------------------------- measurements CSV


def read_measurements(path: str | os.PathLike[str], *,
                      check_model: Callable[[str], Any] | None = None,
                      src: str | None = None) -> pd.DataFrame:
    """Read and validate a measurements CSV.

    Returns one row per CSV data row with columns ``model``, ``resolution`` (int or None),
    ``dtype`` (canonical or None), ``threads`` (int or None), ``latency_s``, ``runs``,
    ``layer_index`` (int or None; -1 marks time outside every layer), ``layer``, ``fusion``
    and ``line`` (the CSV line number, header = line 1). ``check_model(name)`` is called once
    per distinct model and may raise a :class:`RooflineError`; its message is passed on with
    the line of the first row naming that model.
    """
    src = src or str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise MeasurementError(f"{src}: no such file") from None
    except IsADirectoryError:
        raise MeasurementError(f"{src}: is a directory; expected a CSV file") from None
    except UnicodeDecodeError as e:
        raise MeasurementError(f"{src}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise MeasurementError(f"{src}: cannot read: {e.strerror or e}") from None
    return parse_measurements(text, src=src, check_model=check_model)


def parse_measurements(text: str, *, src: str = "<measurements>",
                       check_model: Callable[[str], Any] | None = None) -> pd.DataFrame:
    """:func:`read_measurements` on CSV text."""
    import io

    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise MeasurementError(f"{src}: empty file; expected a CSV header with at least "
                               f"{','.join(REQUIRED_COLUMNS)}") from None
    except csv.Error as e:
        raise MeasurementError(f"{src}: line 1: {e}") from None
    names = [h.strip().lower() for h in header]
    for col in REQUIRED_COLUMNS:
        if col not in names:
            from roofline.errors import did_you_mean

            found = ", ".join(h for h in names if h) or "nothing"
            hint = did_you_mean(col, [h for h in names if h])
            raise MeasurementError(f"{src}: missing column {col!r}{hint} (found: {found}); "
                                   f"expected at least {','.join(REQUIRED_COLUMNS)}")
    dupes = sorted({h for h in names if h and names.count(h) > 1})
    if dupes:
        raise MeasurementError(f"{src}: column {dupes[0]!r} appears twice in the header")
    col = {h: i for i, h in enumerate(names)}

    rows: list[dict[str, Any]] = []
    checked: dict[str, bool] = {}
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise MeasurementError(f"{src}: line {reader.line_num}: {e}") from None
        line = reader.line_num
        if not raw or all(not c.strip() for c in raw):
            continue  # blank line
        if len(raw) > len(names):
            raise MeasurementError(f"{src}: line {line}: {len(raw)} fields, but the header has "
                                   f"{len(names)}")
        cell = {h: (raw[i].strip() if i < len(raw) else "") for h, i in col.items()}
        rows.append(_parse_row(cell, line, src))
        model = rows[-1]["model"]
        if check_model is not None and model not in checked:
            try:
                check_model(model)
            except RooflineError as e:
                raise MeasurementError(f"{src}: line {line}: {e}") from None
            checked[model] = True
    if not rows:
        raise MeasurementError(f"{src}: no data rows under the header")
    df = pd.DataFrame(rows)
    for c in ("dtype", "layer", "fusion", "device"):  # missing text stays None, not NaN
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def _parse_row(cell: Mapping[str, str], line: int, src: str) -> dict[str, Any]:
    def bad(message: str) -> MeasurementError:
        return MeasurementError(f"{src}: line {line}: {message}")

    model = cell["model"]
    if not model:
        raise bad("empty model name")
    latency_ms = _number(cell["latency_ms"], "latency_ms", bad)
    if latency_ms is None:
        raise bad("latency_ms is empty; expected a positive number of milliseconds")
    if not latency_ms > 0:
        raise bad(f"latency_ms {cell['latency_ms']!r} must be a positive number of milliseconds")
    out: dict[str, Any] = {"model": model, "latency_s": latency_ms / 1e3, "line": line}
    for name in ("resolution", "threads", "runs", "layer_index"):
        out[name] = _integer(cell.get(name, ""), name, bad,
                             minimum=-1 if name == "layer_index" else 1)
    dtype = cell.get("dtype", "")
    if dtype:
        try:
            dtype = canonical_dtype(dtype)
        except RooflineError as e:
            raise bad(str(e)) from None
    out["dtype"] = dtype or None
    out["layer"] = cell.get("layer", "") or None
    out["fusion"] = cell.get("fusion", "") or None
    out["device"] = cell.get("device", "") or None
    if out["layer"] is not None and out["layer_index"] is None:
        raise bad("a per-layer row needs layer_index as well as layer")
    return out


def _number(text: str, name: str, bad: Callable[[str], MeasurementError]) -> float | None:
    if not text:
        return None
    try:
        x = float(text)
    except ValueError:
        raise bad(f"{name} {text!r} is not a number") from None
    if not math.isfinite(x):
        raise bad(f"{name} {text!r} is not a finite number")
    return x


def _integer(text: str, name: str, bad: Callable[[str], MeasurementError], *,
             minimum: int) -> int | None:
    x = _number(text, name, bad)
    if x is None:
        return None
    if x != int(x) or x < minimum:
        what = "an integer >= -1" if minimum < 0 else "a positive integer"
        raise bad(f"{name} {text!r} must be {what}")
    return int(x)


def model_rows(df: pd.DataFrame, *, dtype: str | None = None,
               threads: int | None = None, src: str = "measurements") -> pd.DataFrame:
    """The whole-model rows of a measurements frame, one per (model, resolution, dtype):
    repeated measurements of the same model are combined by their median. Rows at another
    dtype or thread count than asked are dropped; a mix that was not narrowed is refused."""
    whole = df[df["layer_index"].isna()] if "layer_index" in df else df
    if whole.empty:
        raise MeasurementError(f"{src}: no whole-model rows (every row names a layer)")
    devices = whole["device"].dropna().unique() if "device" in whole else []
    if len(devices) > 1:
        raise MeasurementError(f"{src}: rows mix devices {', '.join(sorted(devices))}; "
                               "fit or validate one device at a time")
    whole = _narrow(whole, "dtype", dtype, src, "--dtype")
    whole = _narrow(whole, "threads", threads, src, "--threads")
    keys = ["model", "resolution", "dtype"]
    g = whole.assign(resolution=whole["resolution"].astype(object),
                     dtype=whole["dtype"].astype(object))
    g = g.where(g.notna(), None)
    out = (g.groupby(keys, dropna=False, sort=False)
           .agg(latency_s=("latency_s", "median"), samples=("latency_s", "size"),
                line=("line", "min"))
           .reset_index())
    # groupby turns a None key back into NaN: an absent resolution or dtype is None again
    for col in ("resolution", "dtype"):
        out[col] = pd.Series([None if pd.isna(v) else v for v in out[col].astype(object)],
                             index=out.index, dtype=object)
    return out


def _narrow(df: pd.DataFrame, column: str, value: Any, src: str, option: str) -> pd.DataFrame:
    if value is not None:
        if column == "dtype":
            value = canonical_dtype(value)
        kept = df[df[column].isna() | (df[column] == value)]
        if kept.empty:
            present = ", ".join(str(v) for v in sorted(df[column].dropna().unique()))
            raise MeasurementError(f"{src}: no rows with {column} {value} (present: {present})")
        return kept
    present = df[column].dropna().unique()
    if len(present) > 1:
        shown = ", ".join(str(v) for v in sorted(present))
        raise MeasurementError(f"{src}: rows mix {column} {shown}; choose one with {option}")
    return df


# ---------------------------------------------------------------------------- data set


@dataclass
class Dataset:
    """Measured models with their layer tables, flattened for vectorised prediction."""

    labels: list[str]             # a model's name (with @resolution when not the default)
    measured_s: np.ndarray        # (M,) measured latency
    macs: np.ndarray              # (L,) MACs of every layer of every model
    nbytes: np.ndarray            # (L,) bytes of every layer
    sizes: np.ndarray             # (M,) layers per model
    keys: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.measured_s = np.asarray(self.measured_s, dtype=float)
        self.macs = np.asarray(self.macs, dtype=float)
        self.nbytes = np.asarray(self.nbytes, dtype=float)
        self.sizes = np.asarray(self.sizes, dtype=np.int64)
        if len(self.measured_s) != len(self.sizes) or len(self.labels) != len(self.sizes):
            raise ValueError("labels, measured_s and sizes must have one entry per model")
        if int(self.sizes.sum()) != len(self.macs) or len(self.macs) != len(self.nbytes):
            raise ValueError("macs and nbytes must have sizes.sum() entries")
        if np.any(self.sizes <= 0):
            empty = [self.labels[i] for i in np.flatnonzero(self.sizes <= 0)]
            raise FitError(f"model {empty[0]} has no layers to fit")
        if not np.all(np.isfinite(self.measured_s)) or np.any(self.measured_s <= 0):
            raise FitError("measured latencies must be positive and finite")
        self._starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])

    @classmethod
    def from_tables(cls, tables: Sequence[pd.DataFrame], measured_s: Sequence[float],
                    labels: Sequence[str], keys: Sequence[Any] = ()) -> Dataset:
        """From one layer table (``macs`` and ``bytes`` columns) per measured model."""
        return cls(
            labels=list(labels),
            measured_s=np.asarray(measured_s, dtype=float),
            macs=np.concatenate([t["macs"].to_numpy(dtype=float) for t in tables]),
            nbytes=np.concatenate([t["bytes"].to_numpy(dtype=float) for t in tables]),
            sizes=np.array([len(t) for t in tables], dtype=np.int64),
            keys=list(keys),
        )

    @property
    def n(self) -> int:
        """Number of models."""
        return len(self.sizes)

    @property
    def total_macs(self) -> np.ndarray:
        """(M,) MACs of each model."""
        return self._sum(self.macs)

    @property
    def total_bytes(self) -> np.ndarray:
        """(M,) bytes of each model."""
        return self._sum(self.nbytes)

    def _sum(self, per_layer: np.ndarray) -> np.ndarray:
        return np.add.reduceat(per_layer, self._starts, axis=0)

    def subset(self, index: Sequence[int] | np.ndarray) -> Dataset:
        """The models at ``index`` (for leave-one-out)."""
        index = np.asarray(index, dtype=np.int64)
        parts = [np.arange(self._starts[i], self._starts[i] + self.sizes[i]) for i in index]
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return Dataset(
            labels=[self.labels[i] for i in index],
            measured_s=self.measured_s[index],
            macs=self.macs[rows], nbytes=self.nbytes[rows], sizes=self.sizes[index],
            keys=[self.keys[i] for i in index] if self.keys else [],
        )

    def predict(self, peak: float, bandwidth: float, overhead: float = 0.0) -> np.ndarray:
        """(M,) roofline latency in seconds: sum_i max(macs/P, bytes/B) + layers x overhead."""
        t = np.maximum(self.macs / peak, self.nbytes / bandwidth)
        return self._sum(t) + self.sizes * overhead

    def compute_bound_share(self, peak: float, bandwidth: float) -> float:
        """The share of the summed roofline time (no overhead) spent in compute-bound layers."""
        c, m = self.macs / peak, self.nbytes / bandwidth
        t = np.maximum(c, m)
        total = t.sum()
        return float(t[c >= m].sum() / total) if total > 0 else 0.0

    def mac_equivalents(self, rps: np.ndarray) -> np.ndarray:
        """(M, G): sum_i max(macs_i, RP x bytes_i) per model at each ridge point."""
        eq = np.maximum(self.macs[:, None], self.nbytes[:, None] * rps[None, :])
        return np.add.reduceat(eq, self._starts, axis=0)


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
        c, m = ds.macs / p, ds.nbytes / b
        comp = c >= m
        pred = ds.predict(p, b, o)
        cols = []
        for name in free:
            if name == "peak":
                d = -ds._sum(np.where(comp, c, 0.0))
            elif name == "bandwidth":
                d = -ds._sum(np.where(comp, 0.0, m))
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


# -------------------------------------------------------------------------- statistics


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation; NaN with fewer than 3 points or a constant input."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def accuracy(measured_s: Sequence[float], predicted_s: Sequence[float]) -> dict[str, float]:
    """MAPE (%), share within +-20 %, Spearman r_s, median and worst ratio predicted/measured."""
    m, p = np.asarray(measured_s, dtype=float), np.asarray(predicted_s, dtype=float)
    ratio = p / m
    err = np.abs(ratio - 1.0)
    return {
        "mape": float(100.0 * err.mean()) if len(m) else float("nan"),
        "within_20pct": float(np.mean(err <= WITHIN)) if len(m) else float("nan"),
        "spearman": spearman(p, m),
        "median_ratio": float(np.median(ratio)) if len(m) else float("nan"),
        "worst_ratio": float(ratio[np.argmax(np.abs(np.log(ratio)))]) if len(m) else float("nan"),
    }


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


def compare(measured_s: Sequence[float], predicted_s: Sequence[float],
            macs: Sequence[float]) -> dict[str, float]:
    """Validation statistics of a profile's predictions (no fitting): MAPE, within +-20 %,
    Spearman r_s of the roofline and of MAC counting."""
    acc = accuracy(measured_s, predicted_s)
    return {"n": len(measured_s), "spearman_roofline": acc["spearman"],
            "spearman_macs": spearman(macs, measured_s), "mape": acc["mape"],
            "within_20pct": acc["within_20pct"], "median_ratio": acc["median_ratio"],
            "worst_ratio": acc["worst_ratio"]}


# ------------------------------------------------------------------- measured models

#: where layer tables come from: ``layer_tables(keys, fusion=...)`` -> {key: layer table}
#: for keys (model, resolution or None, dtype), e.g. ``roofline.calibration.measure.layer_tables``
LayerTables = Callable[..., Mapping[Key, pd.DataFrame]]


def measured_models(path: str, *, dtype: str | None = None, threads: int | None = None,
                    default_dtype: str | None = None,
                    check_model: Callable[[str], Any] | None = None,
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a measurements CSV: (every row, as :func:`read_measurements` gives them; the
    whole-model rows at ``dtype`` and ``threads``, as :func:`model_rows` gives them, with
    a dtype the CSV leaves empty filled in: ``dtype``, else ``default_dtype``, else fp32).
    ``check_model`` is passed to :func:`read_measurements`."""
    df = read_measurements(path, check_model=check_model)
    rows = model_rows(df, dtype=dtype, threads=threads, src=path)
    fill = dtype or default_dtype or "fp32"
    rows["dtype"] = pd.Series([fill if pd.isna(d) else d for d in rows["dtype"]],
                              index=rows.index, dtype=object)
    return df, rows


def measured_threads(path: str) -> int | None:
    """The thread count of a measurements CSV when its rows name exactly one, else None."""
    t = read_measurements(path)["threads"].dropna().unique()
    return int(t[0]) if len(t) == 1 else None


def dataset(rows: pd.DataFrame, fusion: str,
            layer_tables: LayerTables) -> tuple[Dataset, Mapping[Key, pd.DataFrame]]:
    """The data set of whole-model rows (:func:`measured_models`) with the layer table of
    each under ``fusion``: (data set, layer tables by key). A model measured at several
    resolutions is labelled ``model@resolution``."""
    keys = [(r.model, None if r.resolution is None else int(r.resolution), r.dtype)
            for r in rows.itertuples()]
    tables = layer_tables(keys, fusion=fusion)
    multi = {m for m in rows["model"] if (rows["model"] == m).sum() > 1}
    labels = [m if m not in multi or res is None else f"{m}@{res}" for m, res, _ in keys]
    ds = Dataset.from_tables([tables[k] for k in keys], rows["latency_s"].to_numpy(),
                             labels, keys)
    return ds, tables


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
    ds, _ = dataset(rows, fusion, layer_tables)
    held = base.roof(d).peak_macs_per_s if hold_peak and base is not None else None
    report = fit_report(ds, overhead=overhead, hold_peak=held, init=init, cv=cv)
    report.update({"measurements": path, "dtype": d, "fusion": fusion, "threads": threads,
                   "base": base.id if base else None})
    return report


@dataclass
class Validation:
    """A profile's predictions judged against measurements (``roofline validate``)."""

    head: dict[str, Any]                 # the device, the file, the fusion policy
    stats: dict[str, Any]                # :func:`compare` over the whole models
    models: pd.DataFrame                 # model, measured_ms, predicted_ms, error_pct, macs, layers
    layers: pd.DataFrame | None = None   # per layer, when the CSV has per-layer rows
    layer_stats: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the contract of ``roofline validate --format json``)."""
        return {**self.head, **self.stats, "models": self.models.to_dict(orient="records"),
                "layers": None if self.layers is None else self.layers.to_dict(orient="records"),
                "layer_stats": self.layer_stats}


def validation(path: str, profile: Any, *, layer_tables: LayerTables, fusion: str = "none",
               threads: int | None = None, dtype: str | None = None,
               check_model: Callable[[str], Any] | None = None) -> Validation:
    """Predicted (``profile``, a HardwareProfile) vs measured latency of the models of a
    measurements CSV, and of its per-layer rows (:func:`layer_comparison`)."""
    df, rows = measured_models(path, dtype=dtype, threads=threads,
                               default_dtype=profile.default_dtype, check_model=check_model)
    ds, tables = dataset(rows, fusion, layer_tables)
    predicted_s = np.array([float(layer_times(tables[k], profile.roof(k[2]))["latency_s"].sum())
                            for k in ds.keys])
    stats = compare(ds.measured_s, predicted_s, ds.total_macs)
    models = pd.DataFrame({"model": ds.labels, "measured_ms": ds.measured_s * 1e3,
                           "predicted_ms": predicted_s * 1e3,
                           "error_pct": (predicted_s / ds.measured_s - 1) * 100,
                           "macs": ds.total_macs, "layers": ds.sizes})
    layers, layer_stats = layer_comparison(df, profile, layer_tables, threads=threads,
                                           dtype=dtype, src=path)
    r = profile.roof(ds.keys[0][2])
    head = {"hardware": profile.id, "hardware_name": profile.name, "fitted": r.fitted,
            "basis": r.basis, "measurements": path, "fusion": fusion,
            "peak_macs_per_s": r.peak_macs_per_s, "mem_bw_bytes_per_s": r.mem_bw_bytes_per_s,
            "ridge_point": r.ridge_point, "overhead_s_per_layer": r.overhead_s_per_layer}
    return Validation(head, stats, models, layers, layer_stats)


def layer_comparison(df: pd.DataFrame, profile: Any, layer_tables: LayerTables, *,
                     threads: int | None = None, dtype: str | None = None,
                     src: str = "measurements",
                     ) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    """Per-layer predicted vs measured latency, for the per-layer rows (``layer_index`` >= 0,
    at ``threads``) of a measurements frame (:func:`read_measurements`).

    Returns one row per layer (model, layer_index, layer, op, measured_ms, predicted_ms,
    macs) and :func:`compare` over them with ``models`` and ``median_model_spearman`` (the
    median of the per-model r_s); (None, None) when there are no per-layer rows. A row is
    matched to the layer table (under the row's fusion policy, tflite when empty) by index
    and name; a mismatch is a :class:`MeasurementError`.
    """
    per = df[df["layer_index"].notna() & (df["layer_index"] >= 0)]
    if threads is not None:
        per = per[per["threads"].isna() | (per["threads"] == threads)]
    if per.empty:
        return None, None
    out = []
    for (model, res, fusion, d), g in per.groupby(
            [per["model"], per["resolution"].fillna(-1), per["fusion"].fillna("tflite"),
             per["dtype"].fillna(dtype or profile.default_dtype)], sort=False):
        key = (model, None if res == -1 else int(res), d)
        table = layer_times(layer_tables([key], fusion=fusion)[key], profile.roof(d))
        for row in g.itertuples():
            i = int(row.layer_index)
            if i >= len(table) or (row.layer is not None and table["name"].iloc[i] != row.layer):
                found = table["name"].iloc[i] if i < len(table) else "nothing"
                raise MeasurementError(
                    f"{src}: line {row.line}: layer {i} of {model} is {row.layer!r} in the "
                    f"measurements but {found!r} in the layer table (fusion {fusion}); were "
                    "they measured with another model version or fusion policy?")
            out.append({"model": model, "layer_index": i, "layer": row.layer,
                        "op": table["op"].iloc[i],
                        "measured_ms": row.latency_s * 1e3,
                        "predicted_ms": float(table["latency_s"].iloc[i]) * 1e3,
                        "macs": float(table["macs"].iloc[i])})
    layers = pd.DataFrame(out)
    stats = compare(layers["measured_ms"].to_numpy() / 1e3,
                    layers["predicted_ms"].to_numpy() / 1e3, layers["macs"].to_numpy())
    stats["models"] = int(layers["model"].nunique())
    per_model = [compare(g["measured_ms"].to_numpy(), g["predicted_ms"].to_numpy(),
                         g["macs"].to_numpy())["spearman_roofline"]
                 for _, g in layers.groupby("model")]
    stats["median_model_spearman"] = float(np.nanmedian(per_model)) if per_model else None
    return layers, stats


# ------------------------------------------------------------------------ profile files


def fitted_profile(report: Mapping[str, Any], *, base: Any, dtype: str, source: str,
                   fusion: str, threads: int | None, hold_peak: bool) -> dict[str, Any]:
    """The fitted profile as a mapping for :func:`profile_yaml`: the effective peak and
    bandwidth (and overhead) at ``dtype``, basis ``fitted``, naming the measurement file."""
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


# ---------------------------------------------------------------------------- rendering


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f} %"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def _si(x: float, unit: str) -> str:
    from roofline.render.report import si

    return si(x, unit)


def fit_text(report: Mapping[str, Any]) -> str:
    """The human-readable report of ``roofline fit``."""
    from roofline.render.report import render_table

    r = report
    head = (f"fit of {r['n_models']} models ({r.get('measurements', 'measurements')}, "
            f"dtype {r.get('dtype', '?')}, fusion {r.get('fusion', '?')}"
            + (f", base {r['base']}" if r.get("base") else "") + ")")
    loose = r.get("undetermined", [])
    lines = [head, f"  free parameters     {', '.join(r['free_parameters'])}",
             f"  peak (effective)    {_si(r['peak_macs_per_s'], 'MAC/s')}"
             + ("" if "peak" in r["free_parameters"] else "  (held)")
             + ("  (not determined: no layer is compute-bound)" if "peak" in loose else ""),
             "  bandwidth (eff.)    "
             + ("not determined: no layer is memory-bound" if "bandwidth" in loose
                else _si(r["mem_bw_bytes_per_s"], "B/s")),
             f"  ridge point         {r['ridge_point']:.3g} MACs/byte"]
    if "overhead" in r["free_parameters"]:
        lines.append(f"  overhead per layer  {r['overhead_s_per_layer'] * 1e6:.3g} us")
    lines.append(f"  compute-bound share of the roofline time: "
                 f"{100 * r['compute_bound_share']:.0f} %")
    stats = [["Spearman r_s", _num(r["spearman_roofline"]), _num(r["spearman_macs"])],
             ["MAPE", _pct(r["mape"]), _pct(r["mape_macs"])],
             ["within +-20 %", _pct(100 * r["within_20pct"], 0),
              _pct(100 * r["within_20pct_macs"], 0)]]
    if "loo" in r:
        lo = r["loo"]
        stats += [["leave-one-out r_s", _num(lo["spearman_roofline"]), _num(lo["spearman_macs"])],
                  ["leave-one-out MAPE", _pct(lo["mape"]), _pct(lo["mape_macs"])],
                  ["leave-one-out +-20 %", _pct(100 * lo["within_20pct"], 0),
                   _pct(100 * lo["within_20pct_macs"], 0)]]
    lines += ["", render_table(stats, ["in sample", "roofline", "MACs only (scaled)"], "lrr")]
    cols = ["model", "measured ms", "predicted ms", "error"]
    rows = []
    for m in r["models"]:
        row = [m["model"], f"{m['measured_ms']:.4g}", f"{m['predicted_ms']:.4g}",
               f"{m['error_pct']:+.1f} %"]
        if "loo_predicted_ms" in m:
            row += [f"{m['loo_predicted_ms']:.4g}", f"{m['loo_error_pct']:+.1f} %"]
        rows.append(row)
    if rows and len(rows[0]) > 4:
        cols += ["leave-one-out ms", "error"]
    lines += ["", render_table(rows, cols, "l" + "r" * (len(cols) - 1))]
    for w in r.get("warnings", []):
        lines.append(f"warning: {w}")
    lines.append("MACs only = latency proportional to MACs, scaled to these measurements "
                 "(the ranking MAC counting gives).")
    return "\n".join(lines)


def render_validation(v: Validation, fmt: str, plot: str | None = None) -> str:
    """``roofline validate`` output: ``table`` (:func:`validation_text`, naming ``plot`` when
    one was written), ``csv`` (the models) or ``json``."""
    if fmt == "json":
        from roofline.render.report import to_json

        return to_json(v.to_dict())
    if fmt == "csv":
        return v.models.to_csv(index=False, float_format="%.6g")
    return validation_text(v.head, v.stats, v.models, v.layer_stats, plot)


def validation_text(head: Mapping[str, Any], stats: Mapping[str, Any], models: pd.DataFrame,
                    layer_stats: Mapping[str, Any] | None, plot: str | None) -> str:
    """The human-readable report of ``roofline validate``."""
    from roofline.render.report import render_table

    tag = "  [FITTED]" if head.get("fitted") else f"  [{head.get('basis', '')}]"
    lines = [f"{head['hardware']}: {head['hardware_name']}{tag}",
             f"  peak {_si(head['peak_macs_per_s'], 'MAC/s')}, bandwidth "
             f"{_si(head['mem_bw_bytes_per_s'], 'B/s')}, ridge point "
             f"{head['ridge_point']:.3g} MACs/byte"
             + (f", overhead {head['overhead_s_per_layer'] * 1e6:.3g} us/layer"
                if head.get("overhead_s_per_layer") else "")
             + f"; fusion {head['fusion']}", ""]
    rows = [[m.model, f"{m.measured_ms:.4g}", f"{m.predicted_ms:.4g}", f"{m.error_pct:+.1f} %",
             _si(m.macs, "MACs")] for m in models.itertuples()]
    lines.append(render_table(rows, ["model", "measured ms", "predicted ms", "error", "MACs"],
                              "lrrrr"))
    lines += ["", f"{stats['n']} models: Spearman r_s roofline {_num(stats['spearman_roofline'])}"
              f" vs MACs only {_num(stats['spearman_macs'])}; MAPE {_pct(stats['mape'])}; "
              f"within +-20 %: {_pct(100 * stats['within_20pct'], 0)}; median predicted/"
              f"measured {stats['median_ratio']:.3g}"]
    if layer_stats:
        ls = layer_stats
        lines.append(f"{ls['n']} layers of {ls['models']} models: Spearman r_s roofline "
                     f"{_num(ls['spearman_roofline'])} vs MACs only {_num(ls['spearman_macs'])}"
                     f" (median per model {_num(ls['median_model_spearman'])}); MAPE "
                     f"{_pct(ls['mape'])}; within +-20 %: {_pct(100 * ls['within_20pct'], 0)}")
    if not head.get("fitted"):
        lines.append("note: a roofline from peak specs is a lower bound on latency; fit it to "
                     "measurements (`roofline fit`) to predict absolute times")
    if plot:
        lines.append(f"wrote {plot}")
    return "\n".join(lines)

"""Measurements CSVs: read, validated, narrowed to one device, dtype and thread count.

A CSV (from ``roofline measure`` or any other runtime) has at least ``model`` and
``latency_ms``; ``resolution``, ``input_shape`` ('1x3x20x24': the input when it was given
as a shape; older CSVs have no such column), ``dtype``, ``threads``, ``runs``, ``spread_pct``,
``device`` and the per-layer ``layer_index``, ``layer``, ``fusion`` are read when present, other columns
ignored. Every problem is reported as one line naming the file, the CSV line and the problem
(:class:`MeasurementError`). Pure pandas: nothing here imports torch.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from roofline.dtypes import canonical_dtype
from roofline.errors import MeasurementError, RooflineError, did_you_mean
from roofline.models.resolve import parse_shape

__all__ = ["LATENCY_RANGE_MS", "REQUIRED_COLUMNS", "Key", "MeasurementError", "measured_models",
           "measured_threads", "model_rows", "parse_measurements", "read_measurements",
           "shape_text"]

#: columns a measurements CSV must have
REQUIRED_COLUMNS = ("model", "latency_ms")
#: the latencies a measurement can have, in ms: from 1 ns (below any model's forward) to
#: about 11.6 days; values outside (a denormal, 1e300) are typos or broken tools
LATENCY_RANGE_MS = (1e-6, 1e9)
_MAX_INT = 2**31 - 1  # the largest resolution, thread count, run count or layer index read
#: a model's key in a data set: (model, resolution or None, dtype, input shape or None)
Key = tuple[str, "int | None", str, "tuple[int, ...] | None"]


def shape_text(shape: Any) -> str | None:
    """An input shape as a CSV cell, (1, 3, 20, 24) -> '1x3x20x24'; None stays None."""
    return None if shape is None else "x".join(str(int(d)) for d in shape)



def read_measurements(path: str | os.PathLike[str], *,
                      check_model: Callable[[str], Any] | None = None,
                      src: str | None = None) -> pd.DataFrame:
    """Read and validate a measurements CSV.

    Returns one row per CSV data row with columns ``model``, ``resolution`` (int or None),
    ``input_shape`` (a tuple or None),
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
    for c in ("dtype", "layer", "fusion", "device", "input_shape"):  # missing text stays None, not NaN
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
    lo, hi = LATENCY_RANGE_MS
    if not lo <= latency_ms <= hi:
        raise bad(f"latency_ms {cell['latency_ms']!r} is outside the range a measured latency "
                  f"can have ({lo:g} to {hi:g} ms)")
    out: dict[str, Any] = {"model": model, "latency_s": latency_ms / 1e3, "line": line}
    for name in ("resolution", "threads", "runs", "layer_index"):
        out[name] = _integer(cell.get(name, ""), name, bad,
                             minimum=-1 if name == "layer_index" else 1)
    spread = _number(cell.get("spread_pct", ""), "spread_pct", bad)
    if spread is not None and spread < 0:
        raise bad(f"spread_pct {cell['spread_pct']!r} must be a percentage >= 0")
    out["spread_pct"] = spread
    dtype = cell.get("dtype", "")
    if dtype:
        try:
            dtype = canonical_dtype(dtype)
        except RooflineError as e:
            raise bad(str(e)) from None
    out["dtype"] = dtype or None
    shape = cell.get("input_shape", "")
    try:
        out["input_shape"] = parse_shape(shape, "input_shape") if shape else None
    except RooflineError as e:
        raise bad(str(e)) from None
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
    if x != int(x) or not minimum <= x <= _MAX_INT:
        what = "an integer >= -1" if minimum < 0 else "a positive integer"
        raise bad(f"{name} {text!r} must be {what} up to {_MAX_INT}")
    return int(x)


def model_rows(df: pd.DataFrame, *, dtype: str | None = None,
               threads: int | None = None, src: str = "measurements") -> pd.DataFrame:
    """The whole-model rows of a measurements frame, one per (model, resolution, dtype, input
    shape):
    repeated measurements of the same model are combined by their median (``samples`` rows,
    ``rows_spread_pct`` their range over the median, ``spread_pct`` the largest spread between
    repeats a row reports, NaN when none does). Rows at another dtype or thread count than
    asked are dropped; a mix that was not narrowed is refused."""
    whole = df[df["layer_index"].isna()] if "layer_index" in df else df
    if whole.empty:
        raise MeasurementError(f"{src}: no whole-model rows (every row names a layer)")
    devices = whole["device"].dropna().unique() if "device" in whole else []
    if len(devices) > 1:
        raise MeasurementError(f"{src}: rows mix devices {', '.join(sorted(devices))}; "
                               "fit or validate one device at a time")
    whole = _narrow(whole, "dtype", dtype, src, "--dtype")
    whole = _narrow(whole, "threads", threads, src, "--threads")
    keys = ["model", "resolution", "dtype", "input_shape"]
    shapes = whole["input_shape"] if "input_shape" in whole else [None] * len(whole)
    g = whole.assign(resolution=whole["resolution"].astype(object),
                     dtype=whole["dtype"].astype(object),
                     input_shape=pd.Series([shape_text(s) for s in shapes], index=whole.index,
                                           dtype=object))
    g = g.where(g.notna(), None)
    spread = whole["spread_pct"] if "spread_pct" in whole else float("nan")
    g = g.assign(spread_pct=pd.to_numeric(spread, errors="coerce"))
    out = (g.groupby(keys, dropna=False, sort=False)
           .agg(latency_s=("latency_s", "median"), samples=("latency_s", "size"),
                line=("line", "min"), low_s=("latency_s", "min"), high_s=("latency_s", "max"),
                spread_pct=("spread_pct", "max"))
           .reset_index())
    # the spread of a model measured in several rows: (slowest - fastest) / median, in %
    out["rows_spread_pct"] = 100.0 * (out.pop("high_s") - out.pop("low_s")) / out["latency_s"]
    # groupby turns a None key back into NaN: an absent resolution or dtype is None again
    for col in ("resolution", "dtype", "input_shape"):
        out[col] = pd.Series([None if pd.isna(v) else v for v in out[col].astype(object)],
                             index=out.index, dtype=object)
    out["input_shape"] = pd.Series(  # the text grouped on, a tuple again
        [None if s is None else parse_shape(s) for s in out["input_shape"]],
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

"""Measured models as runtime data: the CSV rows, the runtime they ran on, their layer tables.

A measurements CSV (``roofline measure``, ``--runtime litert`` or others; at least
model,latency_ms) is judged against a device *under a runtime*: the runtime the device's
profile names (``runtime: litert_xnnpack``), or the one given. The runtime decides the layer
table each measured model is summed over:

- ``graph: tflite`` / ``onnx``: the deployed file the runtime ran. A row (model, resolution,
  dtype) is exported (``roofline.runtimes.export``, cached: the same file ``roofline measure
  --runtime litert`` timed) and read with ``read_deployed``; one layer per op of the file,
  bytes at the file's dtypes, partitions and float islands as columns.
- ``graph: torch``: the torch trace, grouped by the runtime's fusion policy (the tables of
  ``roofline fit``/``validate``).

A CSV ``runtime`` column (``litert``, ``onnxruntime``, ``torch``), when present, must name the
runtime's own (``measure`` in its file); rows of another runtime are refused, not mixed in.
A ``family`` column, when present, is carried along (the accuracy benchmark splits by it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from roofline.calibration.dataset import LayerTables, measured_keys
from roofline.calibration.measurements import (
    Key,
    MeasurementError,
    measured_models,
    shape_text,
)
from roofline.calibration.stats import compare
from roofline.errors import RooflineError
from roofline.hardware.runtime import Runtime, get_runtime
from roofline.latency.runtime_model import DeviceRoofs, RuntimeData

__all__ = [
    "MEASURED_AS",
    "deployed_tables",
    "profile_runtime",
    "runtime_dataset",
    "runtime_validation",
    "tables_for",
]

#: ``roofline measure --runtime`` name -> the graph that runtime executes
MEASURED_AS = {"litert": "tflite", "onnxruntime": "onnx", "torch": "torch"}
_TABLES: dict[tuple[str, float, int], pd.DataFrame] = {}


def profile_runtime(profile: Any, override: str | Runtime | None = None) -> Runtime | None:
    """The runtime of a profile: ``override`` when given, else the one its file names
    (``runtime:``), else None (the plain roofline over torch traces, as before runtimes)."""
    if override is not None:
        return get_runtime(override)
    name = getattr(profile, "runtime", None)
    return get_runtime(name) if name else None


def _read_table(path: os.PathLike[str] | str) -> pd.DataFrame:
    """The deployed layer table of a file (kept in memory by path, size and mtime)."""
    # deferred: heavy import (the deployed-graph readers load the TFLite/ONNX schemas)
    from roofline.graph.deployed import deployed_layer_table
    from roofline.graph.deployed_file import read_deployed  # deferred: as above

    st = os.stat(path)
    key = (os.fspath(path), st.st_mtime, st.st_size)
    if key not in _TABLES:
        _TABLES[key] = deployed_layer_table(read_deployed(path))
    return _TABLES[key]


def deployed_tables(keys: Sequence[Key], graph: str, *,
                    progress: Callable[[str], None] = lambda _: None,
                    ) -> dict[Key, pd.DataFrame]:
    """The deployed layer table of each (model, resolution, dtype, input shape) in ``graph``
    (``tflite`` or ``onnx``): the model exported (cached) and its file read."""
    # deferred: heavy import (export loads torch and the converters)
    from roofline.runtimes.export import export

    out = {}
    for k, key in enumerate(keys, 1):
        model, res, dtype, shape = key
        at = shape_text(shape) or res
        progress(f"[{k}/{len(keys)}] {graph} {dtype} of {model}" + (f" @{at}" if at else ""))
        path = export(model, graph, dtype, resolution=None if shape else res,
                      input_shape=shape)
        out[key] = _read_table(path)
    return out


def tables_for(runtime: Runtime | None, *, layer_tables: LayerTables,
               fusion: str | None = None) -> tuple[Callable[[Sequence[Key]], Mapping[Key, pd.DataFrame]], str]:
    """(keys -> layer tables, a label of what they are) under ``runtime``: deployed tables for
    a tflite/onnx runtime; else torch traces through ``layer_tables`` at ``fusion`` (default:
    the runtime's fusion, else none)."""
    if runtime is not None and runtime.graph in ("tflite", "onnx"):
        return (lambda keys: deployed_tables(keys, runtime.graph)), f"deployed {runtime.graph}"
    f = fusion or (runtime.fusion if runtime is not None else "none")
    return (lambda keys: layer_tables(keys, fusion=f)), f"torch trace, fusion {f}"


def _extra_columns(path: str) -> pd.DataFrame:
    """The CSV's ``runtime`` and ``family`` columns by model (empty when absent)."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError):
        return pd.DataFrame(columns=["model"])
    raw.columns = [c.strip().lower() for c in raw.columns]
    cols = [c for c in ("runtime", "family") if c in raw]
    if "model" not in raw or not cols:
        return pd.DataFrame(columns=["model"])
    return raw[["model", *cols]].drop_duplicates("model")


def runtime_dataset(path: str, runtime: Runtime | None, *, layer_tables: LayerTables,
                    dtype: str | None = None, threads: int | None = None,
                    default_dtype: str | None = None, fusion: str | None = None,
                    check_model: Callable[[str], Any] | None = None,
                    ) -> tuple[RuntimeData, dict[Key, pd.DataFrame], str]:
    """The whole-model rows of a measurements CSV with the layer table of each under
    ``runtime``: (data, tables by key, what the tables are)."""
    _, rows = measured_models(path, dtype=dtype, threads=threads, default_dtype=default_dtype,
                              check_model=check_model)
    dtypes = sorted(set(rows["dtype"]))
    if len(dtypes) > 1:
        raise MeasurementError(f"{path}: rows mix dtypes {', '.join(dtypes)}; choose one with "
                               "--dtype")
    extra = _extra_columns(path)
    if "runtime" in extra and runtime is not None:
        expected = {"tflite": "litert", "onnx": "onnxruntime", "torch": "torch"}[runtime.graph]
        named = sorted({r for r in extra["runtime"] if r})
        wrong = [r for r in named if r != expected]
        if wrong:
            raise MeasurementError(
                f"{path}: rows measured on runtime {', '.join(wrong)}, but the device's runtime "
                f"{runtime.id} runs {runtime.graph} graphs ({expected}); pass the matching "
                "--hw profile or --runtime")
    keys, labels = measured_keys(rows)
    get, what = tables_for(runtime, layer_tables=layer_tables, fusion=fusion)
    tables = dict(get(keys))
    fam = dict(zip(extra["model"], extra["family"])) if "family" in extra else {}
    families = [fam.get(m, "") for m, *_ in keys] if fam else []
    data = RuntimeData.from_tables([tables[k] for k in keys], rows["latency_s"].to_numpy(),
                                   labels, dtypes[0], keys, families)
    return data, tables, what


def runtime_validation(path: str, profile: Any, runtime: Runtime, *, layer_tables: LayerTables,
                       dtype: str | None = None, threads: int | None = None,
                       fusion: str | None = None,
                       check_model: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Predicted (``profile`` under ``runtime``) vs measured latency of a CSV's models: the
    runtime-aware roofline, with the plain roofline over the same layers and MAC counting's
    rank correlation beside it (the JSON contract of ``roofline validate`` under a runtime)."""
    data, _, what = runtime_dataset(path, runtime, layer_tables=layer_tables, dtype=dtype,
                                         threads=threads, default_dtype=profile.default_dtype,
                                         fusion=fusion, check_model=check_model)
    d = data.keys[0][2]
    try:
        device = DeviceRoofs.of(profile, d)
    except RooflineError as e:
        raise RooflineError(f"{profile.id}: {e}") from None
    pred = data.predict(device, runtime)
    plain = data.plain(device)
    stats = compare(data.measured_s, pred, data.total_macs)
    plain_stats = compare(data.measured_s, plain, data.total_macs)
    models = pd.DataFrame({
        "model": data.labels, "measured_ms": data.measured_s * 1e3,
        "predicted_ms": pred * 1e3, "error_pct": (pred / data.measured_s - 1) * 100,
        "plain_ms": plain * 1e3, "macs": data.total_macs, "layers": data.sizes,
        "partitions": data.n_partitions.astype(int), "island_ops": data.n_island.astype(int),
    })
    if data.families:
        models["family"] = data.families
    roof = profile.roof(d)
    head = {"hardware": profile.id, "hardware_name": profile.name, "fitted": roof.fitted,
            "basis": roof.basis, "measurements": path, "fusion": what, "runtime": runtime.id,
            "runtime_name": runtime.name, "runtime_fitted": runtime.fitted, "dtype": d,
            "peak_macs_per_s": roof.peak_macs_per_s, "mem_bw_bytes_per_s":
            roof.mem_bw_bytes_per_s, "ridge_point": roof.ridge_point,
            "runtime_parameters": runtime.values()}
    out = {**head, **stats,
           "plain": {k: plain_stats[k] for k in ("mape", "within_20pct", "spearman_roofline",
                                                  "median_ratio")},
           "models": models.to_dict(orient="records"), "layers": None, "layer_stats": None}
    return out

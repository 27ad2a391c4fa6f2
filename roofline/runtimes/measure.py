"""Real latency on real runtimes: torch eager, LiteRT (XNNPACK) and ONNX Runtime (CPU).

``measure_runtime`` times each model the way ``roofline measure`` times torch eager (same
warm-up, repeats of at least ``min_time_s``, median of repeats, garbage collector paused; see
``roofline/calibration/measure.py``), on the file ``export`` produces for the runtime (``.tflite`` for
LiteRT, ``.onnx`` for ONNX Runtime; cached), with fixed seeded N(0, 1) inputs (quantised with
the input's own scale for an int8 input). A spec that is a ``.tflite``/``.onnx`` file is run as
it is. Rows have the torch CSV's columns, a ``runtime`` column, and the graph the runtime ran
(:data:`GRAPH_COLUMNS`: delegate partitions, ops left outside the delegate by name, float ops,
TRANSPOSE/QUANTIZE/DEQUANTIZE counts, all op counts of the file).

Per-op times: ONNX Runtime's profiler gives a time per node (``per_op=True``: extra rows with
``layer_index``, ``layer`` = node name, ``op_type``). LiteRT's Python interpreter exposes no
per-op or per-partition times (see ``litert.py``); asking for them is an InputError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from roofline.calibration.measure import CSV_COLUMNS, LAYER_COLUMNS, expand_models
from roofline.calibration.measure import measure as torch_measure
from roofline.calibration.measurements import shape_text
from roofline.calibration.timing import check_threads, time_callable
from roofline.errors import InputError
from roofline.models.zoo import resolve
from roofline.runtimes import litert, ort
from roofline.runtimes.export import check_target, export, require

__all__ = [
    "GRAPH_COLUMNS",
    "RUNTIMES",
    "RUNTIME_COLUMNS",
    "RUNTIME_TARGET",
    "check_runtime",
    "measure_file",
    "measure_runtime",
]

RUNTIMES = ("torch", "litert", "onnxruntime")
#: the file each runtime runs
RUNTIME_TARGET = {"litert": "tflite", "onnxruntime": "onnx"}
GRAPH_COLUMNS = ["partitions", "undelegated_ops", "undelegated", "float_ops", "float_op_counts",
                 "transposes", "quantize_ops", "dequantize_ops", "ops", "op_counts"]
#: the CSV of a runtime measurement: torch's columns, the runtime, the graph it ran, the file
RUNTIME_COLUMNS = [*CSV_COLUMNS, "runtime", *GRAPH_COLUMNS]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def check_runtime(runtime: str) -> str:
    """A runtime name of :data:`RUNTIMES`; InputError otherwise."""
    r = str(runtime).strip().lower()
    aliases = {"tflite": "litert", "ort": "onnxruntime", "onnx": "onnxruntime",
               "eager": "torch"}
    r = aliases.get(r, r)
    if r not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    return r


def _is_file_spec(spec: str) -> bool:
    return Path(spec).suffix.lower() in (".tflite", ".onnx")


def measure_file(path: str | Path, runtime: str, *, threads: int = 1, repeats: int = 7,
                 min_time_s: float = 0.2, warmup_s: float = 0.3,
                 verbose: bool = False) -> tuple[dict[str, Any], Any]:
    """Time one deployed file; (row without model/dtype/resolution/input_shape, GraphStats)."""
    rt = check_runtime(runtime)
    if rt == "torch":
        raise InputError(f"{path}: a deployed file runs on litert or onnxruntime, not torch")
    p = Path(path)
    want = RUNTIME_TARGET[rt]
    if p.suffix.lower() != f".{want}":
        raise InputError(f"{p}: {rt} runs .{want} files; expected a .{want} file")
    require(want)
    runner = litert.runner if rt == "litert" else ort.runner
    with runner(p, threads, verbose=verbose) as (run, stats):
        timing = time_callable(run, repeats=repeats, min_time_s=min_time_s, warmup_s=warmup_s)
    row = {"threads": threads, "latency_ms": timing.latency_s * 1e3, "runs": timing.runs,
           "repeats": timing.repeats, "spread_pct": timing.spread_pct,
           "latency_min_ms": timing.min_s * 1e3, "device": "cpu", "runtime": rt,
           **stats.row()}
    return row, stats


def _file_facts(path: Path, stats: Any) -> tuple[str, int | None]:
    """(dtype, resolution) of a deployed file, read from its graph: int8 when it has int8
    compute (an int8 input, QUANTIZE ops, ORT's QLinear kernels), fp16 when its weights are
    float16 dequantised at load, else fp32; the resolution is the last dimension of a 4-D
    first input."""
    int8 = stats.quantize_ops > 0 or any(k.startswith("QLinear") or k == "QGemm"
                                         for k in stats.op_counts)
    fp16 = False
    if path.suffix.lower() == ".tflite":
        it = litert.open_interpreter(path)
        first = it.get_input_details()[0]
        shape = tuple(int(s) for s in first["shape"])
        int8 = int8 or first["dtype"].__name__ in ("int8", "uint8")
        fp16 = any(o["op_name"] == "DEQUANTIZE" and o["operand_types"]
                   and o["operand_types"][0].__name__ == "float16"
                   for o in it._get_ops_details())
    else:
        import onnx  # deferred: heavy import

        g = onnx.load(str(path), load_external_data=False).graph
        shape = tuple(int(d.dim_value) for d in g.input[0].type.tensor_type.shape.dim)
    dtype = "int8" if int8 else "fp16" if fp16 else "fp32"
    return dtype, (shape[-1] if len(shape) == 4 and shape[-1] > 0 else None)


def measure_runtime(specs: Sequence[str], *, runtime: str = "litert", dtype: str = "int8",
                    threads: int = 1, resolution: int | None = None, repeats: int = 7,
                    min_time_s: float = 0.2, warmup_s: float = 0.3, per_op: bool = False,
                    use_cache: bool = True, verbose: bool = False,
                    progress: Progress = _quiet,
                    input_shape: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Latency of each model on ``runtime`` (rows of :data:`RUNTIME_COLUMNS`); with
    ``per_op`` (ONNX Runtime only) also per-node rows. ``specs`` as ``roofline measure``
    takes them (zoo names, globs, 'all', timm names, file.py:factory), or deployed files.
    ``input_shape`` (instead of ``resolution``) is every named model's input, exported at it;
    rows record it in ``input_shape``."""
    rt = check_runtime(runtime)
    check_threads(threads)
    if rt == "torch":
        df = torch_measure(specs, threads=threads, dtype=dtype, resolution=resolution,
                           repeats=repeats, min_time_s=min_time_s, warmup_s=warmup_s,
                           progress=progress, input_shape=input_shape)
        df["runtime"] = "torch"
        return df.reindex(columns=RUNTIME_COLUMNS)
    if per_op and rt == "litert":
        raise InputError("LiteRT's Python interpreter exposes no per-op times (its op profiler "
                         "is the separate benchmark_model binary); use --runtime onnxruntime "
                         "for per-op times")
    target = RUNTIME_TARGET[rt]
    _, d = check_target(target, dtype)
    require(target)
    jobs: list[tuple[str, bool]] = []  # (model name or file, is a file); typos fail first
    for spec in specs:
        if not _is_file_spec(spec):
            jobs += [(m, False) for m in expand_models([spec])]
        elif Path(spec).is_file():
            jobs.append((spec, True))
        else:
            raise InputError(f"{spec}: no such file; expected a .{target} file or a model name")
    rows: list[dict[str, Any]] = []
    for k, (spec, is_file) in enumerate(jobs, 1):
        if is_file:
            path = Path(spec)
        else:
            path = export(spec, target, d, resolution=resolution, input_shape=input_shape,
                          use_cache=use_cache,
                          verbose=verbose, progress=progress)
        row, stats = measure_file(path, rt, threads=threads, repeats=repeats,
                                  min_time_s=min_time_s, warmup_s=warmup_s, verbose=verbose)
        if is_file:
            fdtype, res = _file_facts(path, stats)
            row.update({"model": str(spec), "dtype": fdtype, "resolution": res})
        else:
            src = resolve(spec)
            res = None if input_shape is not None else \
                resolution if resolution is not None else src.resolution  # as measure's rows
            row.update({"model": src.label, "dtype": d, "resolution": res,
                        "input_shape": shape_text(input_shape)})
        if per_op:
            row.update({"layer_index": None, "layer": None, "fusion": None, "op_type": None})
        rows.append(row)
        outside = f", outside the delegate: {row['undelegated']}" if row.get("undelegated") \
            else ""
        parts = f", {row['partitions']} partition(s)" if row.get("partitions") is not None \
            else ""
        at = row.get("input_shape") or row["resolution"]
        progress(f"[{k}/{len(jobs)}] {row['model']} @{at} {rt} {row['dtype']}: "
                 f"{row['latency_ms']:.3f} ms (spread {row['spread_pct']:.1f} %{parts}"
                 f"{outside})")
        if per_op:
            ops = ort.profile_ops(path, threads)
            base = {"model": row["model"], "resolution": row["resolution"],
                    "input_shape": row.get("input_shape"),
                    "dtype": row["dtype"], "threads": threads, "runs": 10, "repeats": 1,
                    "device": "cpu", "runtime": rt, "fusion": "runtime"}
            rows += [{**base, "layer_index": i, "layer": r.node, "op_type": r.op_type,
                      "latency_ms": r.latency_ms} for i, r in enumerate(ops.itertuples())]
    cols = RUNTIME_COLUMNS + ([*LAYER_COLUMNS, "op_type"] if per_op else [])
    return pd.DataFrame(rows, columns=cols)

"""Real latency of models on this machine, the numbers the roofline is judged against.

How a model is timed (the MobileNetV4 paper's protocol, :mod:`roofline.calibration.timing`):
the model is built with real, deterministic weights (:mod:`roofline.calibration.real_model`);
torch eager, ``eval()``, under ``torch.no_grad()``, at the thread count asked for (restored
afterwards), batch 1, the zoo resolution unless told; denormals flushed to zero while timing,
as mobile runtimes do. The reported latency is the median over repeats of the mean per run,
with the spread (interquartile range / median) and the fastest repeat.

Per-layer times (``per_layer=True``) come from torch.profiler
(:mod:`roofline.calibration.per_layer`), one row per layer of the layer table.
:func:`layer_tables` gives the layer tables a fit or validation compares against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from roofline.analysis import trace_model
from roofline.calibration.measurements import Key, shape_text
from roofline.calibration.per_layer import profile_layers
from roofline.calibration.real_model import EAGER_DTYPES, real_model
from roofline.calibration.timing import (
    Progress,
    TorchThreads,
    check_run_threads,
    check_seconds,
    no_progress,
    time_callable,
)
from roofline.dtypes import canonical_dtype
from roofline.errors import InputError, UnknownModelError, did_you_mean
from roofline.graph.layers import check_fusion, layer_table
from roofline.models import zoo

__all__ = ["CSV_COLUMNS", "LAYER_COLUMNS", "check_eager_dtype", "expand_models",
           "layer_tables", "measure"]

#: columns of the CSV that `roofline measure` writes (per-layer rows add layer_index, layer,
#: fusion; whole-model rows leave them empty); input_shape ('1x3x20x24') is empty unless
#: the input was given as a shape
CSV_COLUMNS = ["model", "resolution", "dtype", "threads", "latency_ms", "runs", "repeats",
               "spread_pct", "latency_min_ms", "device", "input_shape"]
LAYER_COLUMNS = ["layer_index", "layer", "fusion"]


# ------------------------------------------------------------------------------- specs


def expand_models(specs: Sequence[str]) -> list[str]:
    """Model specs with zoo globs expanded ('mnv4*', 'all'); each other spec is resolved
    (zoo alias, timm name, file.py:factory) so a typo fails before anything is timed."""
    out: list[str] = []
    for spec in specs:
        if spec.strip().lower() == "all":
            out += zoo.names()
        elif any(ch in spec for ch in "*?["):
            hits = zoo.names(spec)
            if not hits:
                raise UnknownModelError(f"pattern {spec!r} matches no zoo model"
                                        f"{did_you_mean(spec.strip('*?[]'), zoo.names())}; "
                                        "`roofline zoo list` shows the zoo")
            out += hits
        else:
            out.append(zoo.resolve(spec).label)
    seen: set[str] = set()
    return [m for m in out if not (m in seen or seen.add(m))]


def check_eager_dtype(dtype: str) -> str:
    """Canonical dtype that torch eager can run; InputError otherwise (int8 needs a runtime
    with quantised kernels, which this command does not drive)."""
    d = canonical_dtype(dtype)
    if d not in EAGER_DTYPES:
        raise InputError(f"cannot measure dtype {d!r} in torch eager; expected one of "
                         f"{', '.join(EAGER_DTYPES)} (int8 latency needs a quantising runtime: "
                         "measure there and pass the CSV to `roofline fit`)")
    return d


# ----------------------------------------------------------------------------- measure


def measure(specs: Sequence[str], *, threads: int = 1, dtype: str = "fp32",
            resolution: int | None = None, repeats: int = 7, min_time_s: float = 0.2,
            warmup_s: float = 0.3, per_layer: bool = False, fusion: str = "tflite",
            profile_runs: int = 5, device: str = "cpu",
            progress: Progress = no_progress,
            input_shape: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Latency of each model (rows of :data:`CSV_COLUMNS`), and with ``per_layer`` its
    per-layer rows too (with :data:`LAYER_COLUMNS`); ``specs`` as for :func:`expand_models`.
    ``device='cuda'`` times on the GPU (synchronising before each clock read).
    ``input_shape`` (instead of ``resolution``) is every model's input; rows record it."""
    import torch  # deferred: heavy import

    d = check_eager_dtype(dtype)
    check_run_threads(threads)
    check_seconds(min_time_s, "min_time_s")
    check_seconds(warmup_s, "warmup_s")
    if per_layer:
        check_fusion(fusion)
    sync = None
    if device == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--device cuda: torch sees no CUDA GPU on this machine")
        if per_layer:
            raise InputError("--per-layer maps CPU profiler scopes onto layers; on a GPU use "
                             "the whole-model rows (or profile with Nsight)")
        sync = torch.cuda.synchronize
    elif device != "cpu":
        raise InputError(f"device must be cpu or cuda, got {device!r}")
    models = expand_models(specs)
    rows: list[dict[str, Any]] = []
    for k, spec in enumerate(models, 1):
        rm = real_model(spec, dtype=d, resolution=resolution, device=device,
                        input_shape=input_shape)
        shape = shape_text(rm.input_shape)
        with TorchThreads(threads), torch.no_grad():
            timing = time_callable(lambda m=rm: m.module(m.input), repeats=repeats,
                                   min_time_s=min_time_s, warmup_s=warmup_s, sync=sync)
            finite = _finite(rm.module(rm.input))
        row = {"model": rm.label, "resolution": rm.resolution, "dtype": d, "threads": threads,
               "latency_ms": timing.latency_s * 1e3, "runs": timing.runs,
               "repeats": timing.repeats, "spread_pct": timing.spread_pct,
               "latency_min_ms": timing.min_s * 1e3, "device": device, "input_shape": shape}
        if per_layer:
            row.update({"layer_index": None, "layer": None, "fusion": None})
        rows.append(row)
        note = "" if finite else "  (warning: the output has NaN/inf)"
        progress(f"[{k}/{len(models)}] {rm.label} @{shape or rm.resolution}: "
                 f"{timing.latency_s * 1e3:.3f} ms (spread {timing.spread_pct:.1f} %, "
                 f"{timing.repeats} x {timing.runs} runs){note}")
        if per_layer:
            layers = profile_layers(rm, fusion=fusion, dtype=d, threads=threads,
                                    runs=profile_runs)
            total = layers["latency_ms"].sum()
            progress(f"      per layer: {len(layers) - 1} layers, profiled total "
                     f"{total:.3f} ms ({total / (timing.latency_s * 1e3):.2f}x the timed "
                     "latency: profiler cost)")
            base = {"model": rm.label, "resolution": rm.resolution, "dtype": d,
                    "threads": threads, "repeats": 1, "spread_pct": None,
                    "latency_min_ms": None, "runs": profile_runs, "device": device,
                    "fusion": fusion, "input_shape": shape}
            rows += [{**base, "layer_index": int(r.layer_index), "layer": r.layer,
                      "latency_ms": r.latency_ms} for r in layers.itertuples()]
        del rm
    cols = CSV_COLUMNS + (LAYER_COLUMNS if per_layer else [])
    return pd.DataFrame(rows, columns=cols)


def _finite(out: Any) -> bool:
    import torch  # deferred: heavy import

    if isinstance(out, torch.Tensor):
        return bool(torch.isfinite(out.float()).all())
    if isinstance(out, (list, tuple)):
        return all(_finite(o) for o in out)
    if isinstance(out, dict):
        return all(_finite(o) for o in out.values())
    return True


# ------------------------------------------------------------------------ layer tables


def layer_tables(keys: Sequence[Key], *, fusion: str = "none",
                 progress: Progress = no_progress) -> dict[Key, pd.DataFrame]:
    """The layer table of each (model, resolution, dtype, input shape), from the trace cache
    when it can; the same tables ``roofline analyze`` uses."""
    check_fusion(fusion)
    out = {}
    for k, key in enumerate(keys, 1):
        model, res, dtype, shape = key
        at = shape_text(shape) or res
        progress(f"[{k}/{len(keys)}] layer table of {model}" + (f" @{at}" if at else ""))
        _, tr, _ = trace_model(model, resolution=None if shape else res, input_shape=shape)
        out[key] = layer_table(tr, fusion=fusion, dtype=dtype)
    return out

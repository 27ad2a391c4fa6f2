"""One task, one row: trace a model (or read its trace from the cache), put it on every
device, count its MACs a second way; and the test a row read back from a journal must pass.

This runs inside a worker. It never imports torch itself: a task whose trace (with its
FlopCounterMode count) is in the trace cache runs without torch at all.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from roofline import cache as trace_cache
from roofline.analysis import trace_model
from roofline.errors import NoInputShapeError, RooflineError
from roofline.graph.layers import layer_table
from roofline.graph.records import Trace
from roofline.latency.devices import model_on_devices
from roofline.survey.crosscheck import (
    CHECKS,
    compare,
    flop_counter,
    folded_macs,
    valid_record,
)
from roofline.survey.deadlines import TaskTimeout, deadline, quiet
from roofline.survey.tasks import FORM, Job, Task, one_line, trace_key

__all__ = ["STATUSES", "BASE_COLUMNS", "FCM_COLUMNS", "NO_INPUT_SIZE", "run_task", "failed_row",
           "valid_row"]

STATUSES = ("ok", "failed", "timeout")
#: a row's columns before the per-device ones, in order
BASE_COLUMNS = ("spec", "model", "family", "resolution", "batch", "status", "reason", "macs",
                "macs_fcm", "rel_diff", "fcm_check", "macs_folded", "mac_diff", "fcm_error",
                "params", "unsupported", "coverage", "ops", "seconds", "trace_cached")
#: the reason of a model that declares no input size and was given none (the caller says how
#: to give one: the command line with its options, Python with ``input_shape=``)
NO_INPUT_SIZE = "has no default input size"
#: the columns of the FlopCounterMode check (absent with ``compare`` off)
FCM_COLUMNS = ("macs_fcm", "rel_diff", "fcm_check", "mac_diff", "fcm_error")


def run_task(spec: str, resolution: int | None, job: Job) -> dict[str, Any]:
    """Trace one model and measure it on every device of ``job``: one survey row.

    Never raises for anything the model does: failures come back as a row with
    ``status`` ``failed`` or ``timeout`` and a one-line ``reason`` (a KeyboardInterrupt
    is the user's, and propagates).
    """
    start = time.perf_counter()
    row: dict[str, Any] = {"spec": spec, "resolution": resolution, "batch": job.batch,
                           "status": "ok", "reason": ""}
    main_thread = threading.current_thread() is threading.main_thread()
    try:
        with quiet(main_thread), deadline(job.timeout_s, main_thread):
            row.update(_measure(spec, resolution, job))
    except TaskTimeout:
        row.update(status="timeout", reason=f"took longer than {job.timeout_s:g} s")
    except KeyboardInterrupt:
        raise
    except NoInputShapeError as e:
        row.update(status="failed", reason=f"{e.label} {NO_INPUT_SIZE}")
    except RooflineError as e:
        row.update(status="failed", reason=one_line(str(e)))
    except BaseException as e:  # noqa: BLE001 - whatever the model raises is a row, not a crash
        row.update(status="failed", reason=one_line(f"{type(e).__name__}: {e}"))
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def failed_row(task: Task, job: Job, status: str, reason: str) -> dict[str, Any]:
    """The row of a task that produced none itself (its worker died, timed out, or its
    pattern named no model)."""
    return {"spec": task.spec, "resolution": task.resolution, "batch": job.batch,
            "status": status, "reason": reason, "seconds": None}


def _measure(spec: str, resolution: int | None, job: Job) -> dict[str, Any]:
    label, trace, meta, cached = _traced(spec, resolution, job)
    macs = sum(o.macs for o in trace.ops)
    unsupported = trace.unsupported()
    row: dict[str, Any] = {
        "model": label,
        "resolution": meta.get("resolution", resolution),
        "macs": macs,
        "params": trace.param_count,
        "unsupported": ";".join(f"{k}:{v}" for k, v in sorted(unsupported.items(),
                                                               key=lambda kv: (-kv[1], kv[0]))),
        "coverage": round(trace.coverage(), 6),
        "ops": len(trace.ops),
        "trace_cached": cached,
    }
    row["macs_folded"] = trace.meta["folded_macs"]
    fcm = trace.meta.get("flop_counter")
    if job.compare and fcm is not None:
        row.update(compare(trace, macs, row["macs_folded"], fcm))

    def table(dtype: str) -> Any:
        return layer_table(trace, fusion=job.fusion, dtype=dtype,
                           weight_dtype=job.weight_dtype or dtype)

    times = model_on_devices(table, {d.label: d.roof for d in job.devices})
    for dev, t in zip(job.devices, times.itertuples()):
        row[f"latency_ms@{dev.label}"] = float(t.latency_s) * 1e3
        row[f"memory_bound_fraction@{dev.label}"] = float(t.memory_bound_fraction)
    return row


def _traced(spec: str, resolution: int | None,
            job: Job) -> tuple[str, Trace, dict[str, Any], bool]:
    """(label, trace, meta, from_cache); the trace's meta carries ``folded_macs`` and,
    with ``job.compare``, FlopCounterMode's count of the same model's meta forward, both
    cached with it. A cache entry whose metadata is not what this code wrote is a miss,
    traced again; a damaged record of ours is computed again."""
    key = trace_key(spec, resolution, job.batch, job.input_shape) if job.cache and trace_cache.enabled() else None
    hit = trace_cache.load(key) if key else None
    if hit is not None and isinstance(hit[1].get("label"), str):
        trace, meta = hit
        cached = True
    else:
        label, trace, meta = trace_model(spec, resolution=resolution, batch=job.batch,
                                         input_shape=job.input_shape,
                                         cache=hit is None and job.cache, form=FORM)
        meta = {"label": label, **meta}
        cached = False
        if hit is not None:  # the entry was damaged: this trace replaces it
            trace_cache.store(key, trace, meta)
    # what the survey adds to a trace is cached with it, so a repeat needs no torch
    added = False
    if job.compare and not valid_record(trace.meta.get("flop_counter")):
        trace.meta["flop_counter"] = flop_counter(spec, resolution, job.batch,
                                                       job.input_shape)
        added = True
    folded = trace.meta.get("folded_macs")
    if not (isinstance(folded, int) and not isinstance(folded, bool) and folded >= 0):
        trace.meta["folded_macs"] = folded_macs(trace)
        added = True
    if added and key:
        trace_cache.store(key, trace, meta)
    meta = dict(meta)
    return meta.pop("label"), trace, meta, cached


# --------------------------------------------------------------------------- read back


def _int(x: Any, low: int = 0) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= low


def _num(x: Any, low: float = 0.0, high: float = math.inf) -> bool:
    return (isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
            and low <= x <= high)


def valid_row(row: Any, task: Task, job: Job) -> bool:
    """Whether ``row``, read back from a journal, is a whole row of ``task`` under ``job``:
    the right spec, inputs and devices, and numbers that can be true (counts are
    non-negative integers, fractions lie in [0, 1], times are finite). A row that is not
    is a miss: the task runs again; it is never believed."""
    if not isinstance(row, dict) or row.get("spec") != task.spec:
        return False
    if row.get("batch") != job.batch or row.get("status") not in STATUSES:
        return False
    res = row.get("resolution")
    if not (res is None or _int(res, 1)) or (task.resolution is not None
                                             and res != task.resolution):
        return False
    if not isinstance(row.get("reason"), str) or not isinstance(row.get("family", ""), str):
        return False
    if row.get("seconds") is not None and not _num(row["seconds"]):
        return False
    if row["status"] != "ok":
        return bool(row["reason"])
    if not (_int(row.get("macs")) and _int(row.get("params")) and _int(row.get("ops"))
            and _int(row.get("macs_folded")) and _num(row.get("coverage"), 0, 1)
            and isinstance(row.get("model"), str) and isinstance(row.get("unsupported"), str)
            and isinstance(row.get("trace_cached"), bool)):
        return False
    for d in job.devices:
        if not (_num(row.get(f"latency_ms@{d.label}"))
                and _num(row.get(f"memory_bound_fraction@{d.label}"), 0, 1)):
            return False
    if job.compare:
        fcm = row.get("macs_fcm")
        if row.get("fcm_check") not in CHECKS or not (fcm is None or _int(fcm)):
            return False
        if row.get("rel_diff") is not None and not _num(row["rel_diff"], -math.inf):
            return False
        if not (isinstance(row.get("mac_diff"), str) and isinstance(row.get("fcm_error"), str)):
            return False
    return True

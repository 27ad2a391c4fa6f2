"""A survey from end to end: expand, resume from the journal, run what is left, collect.

A model that fails is a row, never an aborted survey; so is a pattern that names no
model, when others do. Every finished row is appended to the journal at once; an
interrupted survey resumes where it stopped, and a repeated one is read back. A journal
that cannot be written (a read-only cache, a full disk) costs only the resume: the survey
goes on, with a note.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from roofline import cache as trace_cache
from roofline.dtypes import canonical_dtype
from roofline.errors import InputError, OutputError
from roofline.graph.layers import check_fusion
from roofline.models.zoo import check_batch, check_resolution
from roofline.survey.distributed import run_dask
from roofline.survey.journal import Journal, default_journal
from roofline.survey.pool import run_local
from roofline.survey.rows import (
    BASE_COLUMNS,
    FCM_COLUMNS,
    STATUSES,
    failed_row,
    valid_row,
)
from roofline.survey.tasks import (
    Device,
    Job,
    Task,
    expand,
    resolve_devices,
    row_key,
    trace_key,
)

__all__ = ["Survey", "survey"]


@dataclass
class Survey:
    """The rows of a survey (task order) and what produced them; ``notes`` are what the
    user should know that is not a row (a journal that could not be written)."""

    rows: list[dict[str, Any]]
    devices: tuple[Device, ...]
    job: Job
    journal: Path | None = None
    ran: int = 0
    resumed: int = 0
    wall_s: float = 0.0
    total: int = 0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Every row, with the columns in their documented order; counts stay integers
        (nullable) where some rows have none."""
        cols = list(BASE_COLUMNS)
        if not self.job.compare:
            cols = [c for c in cols if c not in FCM_COLUMNS]
        if self.job.input_shape is not None:
            cols.insert(cols.index("batch") + 1, "input_shape")
        for d in self.devices:
            cols += [f"latency_ms@{d.label}", f"memory_bound_fraction@{d.label}"]
        df = pd.DataFrame(self.rows)
        for c in _INT_COLUMNS:
            values = [r.get(c) for r in self.rows]
            if c in df and all(v is None or (isinstance(v, int) and not isinstance(v, bool))
                               for v in values):
                # a failed row's empty cells would turn every count into a float ("224.0")
                df[c] = pd.array(values, dtype="Int64")
        for c in cols:
            if c not in df:
                df[c] = None
        return df[cols + [c for c in df.columns if c not in cols]]

    def leaderboard(self, device: str, top: int | None = None) -> pd.DataFrame:
        """Rows that succeeded, fastest first on ``device`` (a label of :attr:`devices`)."""
        df = self.frame()
        col = f"latency_ms@{device}"
        if col not in df:
            raise InputError(f"no device {device!r} in this survey; it has "
                             f"{', '.join(d.label for d in self.devices)}")
        ok = df[(df["status"] == "ok") & df[col].notna()]
        ok = ok.sort_values([col, "spec"], kind="stable")
        return ok.head(top) if top else ok

    def summary(self) -> dict[str, Any]:
        """Counts by status and against FlopCounterMode."""
        n = {s: sum(r.get("status") == s for r in self.rows) for s in STATUSES}
        out: dict[str, Any] = {"models": len(self.rows), **n, "ran": self.ran,
                               "resumed": self.resumed, "wall_s": round(self.wall_s, 2)}
        if self.job.compare:
            comparable = [r for r in self.rows if r.get("status") == "ok" and r.get("macs_fcm")]
            out["compared"] = len(comparable)
            out["within_1pct"] = sum(abs(r["rel_diff"]) <= 0.01 for r in comparable)
            for check in ("exact", "folded", "differs", "not counted", "fcm failed"):
                out["fcm_" + check.removeprefix("fcm ").replace(" ", "_")] = sum(
                    r.get("status") == "ok" and r.get("fcm_check") == check for r in self.rows)
        out["with_unsupported"] = sum(bool(r.get("unsupported")) for r in self.rows
                                      if r.get("status") == "ok")
        return out


#: columns that hold integers (or nothing, on a failed row)
_INT_COLUMNS = ("resolution", "batch", "macs", "macs_fcm", "macs_folded", "params", "ops")


def survey(
    patterns: Sequence[str],
    hw: Sequence[str] = ("pixel8_cpu",),
    *,
    resolutions: Sequence[int | None] = (None,),
    batch: int = 1,
    dtype: str | None = None,
    weight_dtype: str | None = None,
    fusion: str = "tflite",
    workers: int | None = None,
    dask: Any = None,
    timeout_s: float = 300.0,
    compare: bool = True,
    cache: bool = True,
    journal: str | os.PathLike[str] | None = None,
    fresh: bool = False,
    retry_failed: bool = False,
    progress: Callable[[dict[str, Any], int, int], None] | None = None,
    tasks: Sequence[Task] | None = None,
    input_shape: Sequence[int] | None = None,
) -> Survey:
    """Trace every model matching ``patterns`` at every resolution and put it on every device.

    ``workers`` local processes (default: the number of CPUs, at most 8), or a Dask
    cluster: ``dask`` is a scheduler address or a ``distributed.Client``. ``journal`` is a
    JSON-lines file of finished rows (``"auto"``: a file in the cache directory named
    after the tasks and the job; None: no journal): rows already in it (for the same spec,
    inputs, options and code) are not run again unless ``fresh``; failed and timed-out
    rows are run again with ``retry_failed``. Either way the journal keeps the rows of
    other surveys that share it. ``progress(row, done, total)`` is called as rows finish.
    ``tasks`` replaces the expansion of ``patterns`` (the benchmark picks its own list); a
    task's own resolution applies where ``resolutions`` leaves it to the model (None).
    ``input_shape`` gives every model that input (its first dim is the batch, so ``batch``
    must be 1 or agree); it excludes ``resolutions``, and rows then carry an ``input_shape``.
    Raises :class:`RooflineError` for bad arguments; a model that fails is a row.
    """
    t0 = time.perf_counter()
    check_fusion(fusion)
    check_batch(batch)
    for r in resolutions:
        if r is not None:
            check_resolution(r)
    if timeout_s is not None and (not math.isfinite(timeout_s) or timeout_s < 0):
        raise InputError(f"timeout must be a positive number of seconds, got {timeout_s!r}")
    if workers is not None and (workers < 1 or workers > 512):
        raise InputError(f"workers must be between 1 and 512, got {workers}")
    shape = _shape(input_shape, resolutions, batch)
    if shape is not None:
        batch = shape[0]
    devices = resolve_devices(hw, dtype)
    wd = canonical_dtype(weight_dtype) if weight_dtype else None
    job = Job(devices, batch, fusion, wd, compare, cache, float(timeout_s or 0), shape)
    base = list(tasks) if tasks is not None else expand(patterns, keep_going=True)
    if not base:
        raise InputError("no models to survey")
    all_tasks = list(dict.fromkeys(
        t if t.error else Task(t.spec, r if r is not None else t.resolution, t.family)
        for t in base for r in dict.fromkeys(resolutions)))

    fp = job.fingerprint()
    keys = [None if t.error else row_key(t, job, fp) for t in all_tasks]
    notes: list[str] = []
    auto = journal == "auto"
    if auto:
        journal = default_journal([t.label for t in all_tasks if not t.error], fp)
    jr = Journal(journal) if journal else None
    stored: dict[str, dict[str, Any]] = {}
    if jr is not None:
        jr, stored = _open(jr, auto, keys, all_tasks, job, fresh, retry_failed, notes)

    rows: list[dict[str, Any] | None] = [None] * len(all_tasks)
    todo: list[tuple[int, Task]] = []
    for i, (t, k) in enumerate(zip(all_tasks, keys)):
        prev = stored.get(k) if k is not None else None
        if prev is not None and valid_row(prev, t, job):
            rows[i] = prev
        else:
            todo.append((i, t))
    resumed = len(all_tasks) - len(todo)
    finished = resumed

    def emit(i: int, row: dict[str, Any]) -> None:
        nonlocal finished, jr
        t = all_tasks[i]
        row = {**row, "spec": t.spec, "family": t.family}
        if row.get("resolution") is None:
            row["resolution"] = t.resolution
        if job.input_shape is not None:
            row["input_shape"] = "x".join(map(str, job.input_shape))
        rows[i] = row
        finished += 1
        if jr is not None and keys[i] is not None:
            try:
                jr.append(keys[i], row)
            except OSError as e:
                notes.append(f"survey journal {jr.path} could not be written "
                             f"({e.strerror or e}); the rows finished after that are not "
                             "kept for resuming")
                jr = None
        if progress is not None:
            progress(row, finished, len(all_tasks))

    if progress is not None:
        for i, r in enumerate(rows):
            if r is not None:
                progress({**r, "resumed": True}, i + 1, len(all_tasks))
    result = Survey([], devices, job, jr.path if jr else None, len(todo), resumed,
                    total=len(all_tasks), notes=notes)
    try:
        for i, t in [(i, t) for i, t in todo if t.error]:
            emit(i, failed_row(t, job, "failed", t.error))
        runnable = [(i, t) for i, t in todo if not t.error]
        if runnable:
            if dask is not None:
                run_dask(runnable, job, dask, emit)
            else:
                n = workers or min(os.cpu_count() or 1, 8)
                run_local(runnable, job, n, emit, preload_torch=_needs_torch(runnable, job))
    except KeyboardInterrupt:
        result.interrupted = True
    result.rows = [r for r in rows if r is not None]
    result.ran = sum(r is not None for r in rows) - resumed
    result.journal = jr.path if jr else None
    result.wall_s = time.perf_counter() - t0
    return result


def _open(jr: Journal, auto: bool, keys: Sequence[str | None], tasks: Sequence[Task], job: Job,
          fresh: bool, retry_failed: bool,
          notes: list[str]) -> tuple[Journal | None, dict[str, dict[str, Any]]]:
    """(the journal, or None when it cannot be used; the rows to resume from).

    The rows this run will compute again (all of its own with ``fresh``, its failed ones
    with ``retry_failed``, any that fail :func:`valid_row`) leave the journal now, so an
    interrupted run never resumes from them; every other row, of this survey or another
    that shares the file, is kept. A journal named by the user that cannot be read or
    rewritten is an error; the automatic one is then dropped, with a note.
    """
    try:
        stored = jr.load()
    except OutputError as e:
        if not auto:
            raise
        notes.append(f"{e}; the survey runs without a journal (it cannot resume)")
        return None, {}
    drop = set()
    for t, k in zip(tasks, keys):
        prev = stored.get(k) if k is not None else None
        if prev is not None and (fresh or not valid_row(prev, t, job)
                                 or (retry_failed and prev.get("status") != "ok")):
            drop.add(k)
    if not drop:
        return jr, stored
    try:
        jr.rewrite({k: v for k, v in stored.items() if k not in drop})
    except OSError as e:
        if not auto:
            raise OutputError(f"cannot rewrite survey journal {jr.path}: "
                              f"{e.strerror or e}") from e
        notes.append(f"survey journal {jr.path} could not be written ({e.strerror or e}); "
                     "the survey runs without it (it cannot resume)")
        return None, {}
    return jr, {k: v for k, v in stored.items() if k not in drop}


def _needs_torch(todo: list[tuple[int, Task]], job: Job) -> bool:
    """Whether some task will trace (its trace is not on disk): then workers preload torch."""
    if not (job.cache and trace_cache.enabled()):
        return True
    d = trace_cache.cache_dir()
    return any(not (d / f"{trace_key(t.spec, t.resolution, job.batch, job.input_shape)}.json.gz")
               .exists()
               for _, t in todo)


def _shape(input_shape: Sequence[int] | None, resolutions: Sequence[int | None],
           batch: int) -> tuple[int, ...] | None:
    """``input_shape`` as a tuple of positive integers, checked against the other inputs."""
    if input_shape is None:
        return None
    shape = tuple(input_shape)
    if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                            for d in shape):
        raise InputError(f"input shape {input_shape!r} is not a shape of positive integers, "
                         "e.g. (1, 3, 224, 224)")
    if any(r is not None for r in resolutions):
        raise InputError("give resolutions or an input shape, not both (the shape fixes the "
                         "resolution)")
    if batch != 1 and batch != shape[0]:
        raise InputError(f"batch {batch} disagrees with input shape {shape}: its first dim "
                         "is the batch")
    return shape

"""Many models x resolutions x devices: the leaderboard behind ``roofline survey``.

A survey expands model patterns (zoo names, timm names, timm globs such as
``timm:*mobile*``, ``file.py:factory``) into tasks, one per model x resolution, and runs each
task in a worker: trace the model (or load the trace from the trace cache), put its layer
table on every device's roofline, and count its MACs a second way with torch's
``FlopCounterMode`` on the same meta forward, as a check on our formulas.

This module is orchestration only. It never imports torch itself: the workers import
``analysis`` lazily, and a task whose trace (with its FlopCounterMode count) is in the trace
cache runs without torch at all.

Robustness, which is the point of a survey:

* A model that fails is a row with ``status`` ``failed`` or ``timeout`` and a one-line
  ``reason``, never an aborted survey. That includes a model that kills its worker process
  (a segfault, the out-of-memory killer, ``os._exit``): the pool notices the dead process,
  writes the row, and starts a new worker.
* Each task has a deadline: a soft one inside the worker (an exception raised in the
  forward, so the worker survives) and, for local workers, a hard one (the process is
  killed ``HARD_GRACE_S`` later).
* Every finished row is appended at once to a journal (JSON lines, keyed by the spec, the
  inputs, the options, the device numbers and the versions of the code that computes them).
  A survey that is interrupted resumes where it stopped; a survey that is repeated is read
  back from the journal.

Workers are local processes (``workers``) started from a fork server, which imports torch
once so that a new worker is ready at once, or spawned where there is no fork server;
each is recycled after ``MAX_TASKS_PER_WORKER`` tasks or when it grows past
``MAX_WORKER_RSS_BYTES``, to bound memory. Alternatively the tasks go to a Dask cluster
(``dask=ADDRESS``, needs the ``survey`` extra); there a worker thread cannot be killed, so
only the soft deadline applies, and a task whose worker dies is retried by Dask and then
reported as failed.

Columns of a row: ``spec``, ``model``, ``family``, ``resolution``, ``batch``, ``status``,
``reason``, ``macs``, ``macs_fcm`` (FlopCounterMode's FLOPs / 2), ``rel_diff``
((macs - macs_fcm) / macs_fcm), ``mac_diff`` (the ops on which the two disagree, when they
do), ``params``, ``unsupported`` (``op:count;...``), ``coverage``, ``ops``, ``seconds``,
``trace_cached``, then per device ``latency_ms@<device>`` and
``memory_bound_fraction@<device>``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fnmatch
import hashlib
import io
import json
import math
import os
import signal
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roofline import __version__
from roofline.cache import code_fingerprint
from roofline.errors import InputError, OutputError, RooflineError, UnknownModelError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from roofline.hardware.registry import Roof

__all__ = ["Task", "Job", "Survey", "expand", "survey", "run_task", "render", "FORMATS"]

FORMATS = ("table", "csv", "json", "parquet", "markdown")
STATUSES = ("ok", "failed", "timeout")

#: a worker is replaced after this many tasks (memory of timm/torch caches grows)
MAX_TASKS_PER_WORKER = 40
#: ... or once its resident memory passes this
MAX_WORKER_RSS_BYTES = 6 * 2**30
#: seconds between a task's soft deadline and killing its worker process
HARD_GRACE_S = 15.0
#: seconds a new worker process may take to start (import roofline, maybe torch)
STARTUP_TIMEOUT_S = 180.0
#: seconds to wait for a Dask scheduler to answer
DASK_CONNECT_TIMEOUT_S = 20.0
#: models are surveyed as deployed: re-parameterised where timm can (MobileOne, FastViT)
_FORM = "inference"
#: the version of the FlopCounterMode record kept in a cached trace's meta
_FCM_FORMAT = 3
_GLOB_CHARS = frozenset("*?[")


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    """One model at one resolution (None: the model's default)."""

    spec: str
    resolution: int | None = None
    family: str = ""

    @property
    def label(self) -> str:
        """'resnet50' or 'resnet50@288'."""
        return self.spec if self.resolution is None else f"{self.spec}@{self.resolution}"


@dataclass(frozen=True)
class Device:
    """A device column of the survey: its label (as the user named it) and its roof."""

    label: str
    roof: Roof


@dataclass(frozen=True)
class Job:
    """What every task of a survey shares; sent to the workers, so plain picklable data."""

    devices: tuple[Device, ...]
    batch: int = 1
    fusion: str = "tflite"
    weight_dtype: str | None = None
    compare: bool = True
    cache: bool = True
    timeout_s: float = 300.0

    def fingerprint(self) -> str:
        """Everything of the job that decides a row's numbers, the timeout excepted."""
        parts = {
            "devices": [[d.label, _roof_dict(d.roof)] for d in self.devices],
            "batch": self.batch, "fusion": self.fusion, "weight_dtype": self.weight_dtype,
            "compare": self.compare, "code": code_fingerprint(), "version": __version__,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def _roof_dict(roof: Roof) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(roof)


def expand(patterns: Iterable[str]) -> list[Task]:
    """Tasks (at default resolution) for model patterns, in the order given, duplicates once.

    A pattern is a zoo name or alias, a timm model name, ``path/to/file.py:factory``, or a
    glob: ``timm:*mobile*`` (timm only), ``zoo:mnv4*`` (zoo only) or ``*mobile*`` (both).
    An unknown name or a glob that matches nothing raises :class:`UnknownModelError`.
    """
    from roofline.models import zoo

    tasks: dict[str, Task] = {}
    for raw in patterns:
        pattern = str(raw).strip()
        if not pattern:
            raise InputError("an empty model pattern; expected a zoo or timm name or a glob")
        head = pattern.split(":", 1)[0]
        if ":" in pattern and head.endswith(".py"):
            zoo.resolve(pattern)  # checks the file and the factory name, imports nothing
            tasks.setdefault(pattern, Task(pattern, None, "file"))
            continue
        source = head if head in ("timm", "zoo") and ":" in pattern else ""
        body = pattern[len(source) + 1:] if source else pattern
        if not _GLOB_CHARS & set(body):
            for t in _named(zoo, body, source):
                tasks.setdefault(t.spec, t)
            continue
        found: list[Task] = []
        if source in ("", "zoo"):
            found += [Task(n, None, zoo.get(n).family) for n in zoo.names(body)]
        if source in ("", "timm"):
            found += [Task(_timm_spec(zoo, n), None, fam) for n, fam in _timm_glob(body)]
        if not found:
            where = {"timm": "timm", "zoo": "the zoo"}.get(source, "the zoo or timm")
            raise UnknownModelError(
                f"pattern {pattern!r} matches no model in {where}; globs are "
                "case-sensitive, e.g. 'timm:*mobilenet*' or 'zoo:mnv4*'")
        for t in found:
            tasks.setdefault(t.spec, t)
    return list(tasks.values())


def _named(zoo: Any, name: str, source: str) -> list[Task]:
    if source != "timm":
        entry = zoo.lookup(name)
        if entry is not None:
            return [Task(entry.name, None, entry.family)]
        if source == "zoo":
            zoo.get(name)  # raises with close names
    catalog = timm_catalog()
    if name not in catalog:
        pool = list(catalog) if source == "timm" else zoo.names() + list(catalog)
        where = "timm model" if source == "timm" else "model"
        raise UnknownModelError(
            f"unknown {where} {name!r}{did_you_mean(name, pool)}; expected a zoo name "
            "(`roofline zoo list`), a timm model name, a glob such as 'timm:*mobile*' or "
            "path/to/file.py:factory")
    return [Task(_timm_spec(zoo, name), None, catalog[name])]


def _timm_spec(zoo: Any, name: str) -> str:
    # a timm name that is also a zoo alias keeps its prefix, or it would resolve to the zoo
    return f"timm:{name}" if zoo.lookup(name) is not None else name


def _timm_glob(pattern: str) -> list[tuple[str, str]]:
    catalog = timm_catalog()
    return [(n, catalog[n]) for n in catalog if fnmatch.fnmatchcase(n, pattern)]


def timm_catalog() -> dict[str, str]:
    """Every timm model name -> the timm module that defines it ('resnet', 'vision_transformer').

    Listing timm's models imports timm and torch (seconds), so the list is kept in the
    cache directory per timm version: a repeated survey of timm models never imports torch.
    """
    from importlib import metadata

    from roofline import cache as trace_cache

    try:
        version = metadata.version("timm")
    except metadata.PackageNotFoundError:
        raise InputError("timm is not installed; timm model names need it") from None
    path = trace_cache.cache_dir() / f"timm-models-{version}.json"
    if trace_cache.enabled():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("timm") == version:
                return dict(data["models"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    import timm

    try:
        from timm.models import _registry

        modules = dict(_registry._model_to_module)
    except Exception:  # a timm without that private table: the family is cosmetic
        modules = {}
    catalog = {n: str(modules.get(n, "")) for n in timm.list_models()}
    if trace_cache.enabled():
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"timm": version, "models": catalog}), encoding="utf-8")
            os.replace(tmp, path)
    return catalog


# --------------------------------------------------------------------------- one task


class TaskTimeout(BaseException):
    """Raised inside a worker when a task passes its deadline (BaseException, so that a
    model's own ``except Exception`` cannot swallow it)."""


def run_task(spec: str, resolution: int | None, job: Job) -> dict[str, Any]:
    """Trace one model and measure it on every device of ``job``: one survey row.

    Never raises for anything the model does: failures come back as a row with
    ``status`` ``failed`` or ``timeout`` and a one-line ``reason``.
    """
    start = time.perf_counter()
    row: dict[str, Any] = {"spec": spec, "resolution": resolution, "batch": job.batch,
                           "status": "ok", "reason": ""}
    main_thread = threading.current_thread() is threading.main_thread()
    try:
        with _quiet(main_thread), _deadline(job.timeout_s, main_thread):
            row.update(_measure(spec, resolution, job))
    except TaskTimeout:
        row.update(status="timeout", reason=f"took longer than {job.timeout_s:g} s")
    except RooflineError as e:
        row.update(status="failed", reason=_one_line(str(e)))
    except (Exception, SystemExit, RecursionError) as e:  # noqa: BLE001 - a row, not a crash
        row.update(status="failed", reason=_one_line(f"{type(e).__name__}: {e}"))
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def _quiet(main_thread: bool):
    """Silence warnings and a model's prints (only in a worker's main thread: redirecting
    sys.stdout is process-wide, which a threaded Dask worker cannot afford)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not main_thread:
            yield
            return
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield


@contextlib.contextmanager
def _deadline(seconds: float | None, main_thread: bool):
    """Raise TaskTimeout in this thread after ``seconds``.

    In a process's main thread this is SIGALRM; in any other thread (a Dask worker) the
    exception is set asynchronously on the thread. Both interrupt Python code only: a
    single C call that never returns is stopped by the pool's hard deadline instead.
    """
    if not seconds or seconds <= 0:
        yield
        return
    if main_thread and hasattr(signal, "setitimer"):
        def alarm(_signum: int, _frame: Any) -> None:
            raise TaskTimeout

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    ident = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                           ctypes.py_object(TaskTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["done"] = True
        timer.cancel()


def _measure(spec: str, resolution: int | None, job: Job) -> dict[str, Any]:
    from roofline.graph.layers import layer_table
    from roofline.latency.equation import layer_times, totals

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
    row["macs_folded"] = folded_macs(trace)
    fcm = trace.meta.get("flop_counter")
    if job.compare and fcm is not None:
        row.update(_compare(trace, macs, row["macs_folded"], fcm))
    tables: dict[tuple[str, str], Any] = {}
    for dev in job.devices:
        wd = job.weight_dtype or dev.roof.dtype
        k = (dev.roof.dtype, wd)
        if k not in tables:
            tables[k] = layer_table(trace, fusion=job.fusion, dtype=dev.roof.dtype,
                                    weight_dtype=wd)
        t = totals(layer_times(tables[k], dev.roof))
        row[f"latency_ms@{dev.label}"] = t["latency_s"] * 1e3
        row[f"memory_bound_fraction@{dev.label}"] = t["memory_bound_fraction"]
    return row


def _compare(trace: Any, macs: int, folded: int, fcm: dict[str, Any]) -> dict[str, Any]:
    """The FlopCounterMode columns of a row, with ``fcm_check`` saying how the two relate:
    ``exact``, ``within 1%``, ``folded`` (they differ, but by exactly the MACs of ops on
    weights and constants alone, which we fold and FlopCounterMode counts), ``differs``,
    ``not counted`` (FlopCounterMode counts 0) or ``fcm failed`` (it could not run)."""
    if fcm.get("error"):
        return {"macs_fcm": None, "rel_diff": None, "mac_diff": "",
                "fcm_check": "fcm failed", "fcm_error": fcm["error"]}
    theirs = fcm["macs"]
    rel = (macs - theirs) / theirs if theirs else None
    if not theirs:
        check = "not counted" if macs else "exact"
    elif macs == theirs:
        check = "exact"
    elif folded and macs + folded == theirs:
        check = "folded"
    elif abs(rel) <= 0.01:
        check = "within 1%"
    else:
        check = "differs"
    note = fcm.get("no_grad_error") or ""
    if note:
        note = f"under no_grad: {note}; counted with grad enabled"
    return {"macs_fcm": theirs, "rel_diff": rel, "fcm_check": check,
            "mac_diff": _mac_diff(trace, fcm["ops"]) if check != "exact" else "",
            "fcm_error": note}


def folded_macs(trace: Any) -> int:
    """MACs of the contractions that read only weights and constants (``const`` ops): a
    deployed runtime computes them once, ahead of time, so the trace gives them 0 MACs;
    FlopCounterMode counts them. (A Swin-V2 position-bias MLP, a one-hot position lookup.)"""
    from roofline.graph.formulas import FORMULAS, FormulaError, macs_of  # deferred: heavy import

    total = 0
    for o in trace.ops:
        if o.role != "const" or o.aten not in FORMULAS or not o.outputs:
            continue
        try:
            total += macs_of(o.aten, tuple(r.shape for r in o.inputs), {}, o.outputs[0].shape)
        except FormulaError:  # an operand layout the formula cannot read from shapes alone
            continue
    return total


def _mac_diff(trace: Any, fcm_ops: dict[str, int]) -> str:
    """'op:ours/theirs;...' for the ops whose MAC totals differ (attention is one op for us and
    bmm for FlopCounterMode on meta, so it shows up here whenever the totals differ)."""
    ours: dict[str, int] = {}
    for o in trace.ops:
        if o.macs:
            ours[o.aten] = ours.get(o.aten, 0) + o.macs
    theirs = {k.removeprefix("aten."): v for k, v in fcm_ops.items()}
    parts = []
    for op in sorted(set(ours) | set(theirs)):
        a, b = ours.get(op, 0), theirs.get(op, 0)
        if a != b:
            parts.append(f"{op}:{a}/{b}")
    return ";".join(parts)


def _traced(spec: str, resolution: int | None, job: Job):
    """(label, trace, meta, from_cache); with ``job.compare`` the trace's meta carries
    FlopCounterMode's count of the same model's meta forward, and is cached with it."""
    from roofline import cache as trace_cache
    from roofline.analysis import trace_model

    key = _trace_key(spec, resolution, job.batch) if job.cache and trace_cache.enabled() else None
    hit = trace_cache.load(key) if key else None
    if hit is not None:
        trace, meta = hit
        cached = True
    else:
        label, trace, meta = trace_model(spec, resolution=resolution, batch=job.batch,
                                         cache=job.cache, form=_FORM)
        meta = {"label": label, **meta}
        cached = False
    fcm = trace.meta.get("flop_counter")
    if job.compare and not (fcm and fcm.get("format") == _FCM_FORMAT):
        trace.meta["flop_counter"] = flop_counter(spec, resolution, job.batch)
        if key:
            trace_cache.store(key, trace, meta)
    meta = dict(meta)
    return meta.pop("label"), trace, meta, cached


def _trace_key(spec: str, resolution: int | None, batch: int) -> str:
    """The trace cache key ``analysis.trace_model`` uses for a named model in its inference
    form (tests/test_survey.py checks that the two agree)."""
    from roofline import cache as trace_cache

    return trace_cache.trace_key(spec, resolution=resolution, batch=batch, form=_FORM)


def flop_counter(spec: str, resolution: int | None, batch: int) -> dict[str, Any]:
    """torch's FlopCounterMode on the model's forward on meta: MACs (its FLOPs / 2) in total
    and by aten op, or the error it raised.

    The model is built before the counter starts: some constructors run a forward of a
    sub-network to size a layer (timm's hybrid ViTs, LeViT, RepViT, ...), which a counter
    around the build would add. The forward runs under ``no_grad`` like our trace; where
    FlopCounterMode's module tracker fails under ``no_grad`` (it wants a grad_fn on every
    module input that requires grad: CaiT, PiT, attention-pool heads) it runs again with
    grad enabled, which computes the same forward.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from roofline.models.zoo import resolve

    src = resolve(spec)
    module = src.build(_FORM)
    x = torch.empty(src.input_shape(resolution, batch), device="meta")
    error = ""
    for grad in (False, True):
        try:
            with torch.set_grad_enabled(grad), FlopCounterMode(display=False) as counter:
                module(x)
        except Exception as e:  # noqa: BLE001 - FlopCounterMode's failure is a column
            error = error or _one_line(f"{type(e).__name__}: {e}", 200)
            continue
        ops = {str(k): int(v) // 2
               for k, v in counter.get_flop_counts().get("Global", {}).items()}
        return {"format": _FCM_FORMAT, "macs": int(counter.get_total_flops()) // 2, "ops": ops,
                "grad": grad, "error": "", "no_grad_error": error, "torch": torch.__version__}
    return {"format": _FCM_FORMAT, "macs": None, "ops": {}, "error": error,
            "torch": torch.__version__}


# --------------------------------------------------------------------------- the journal


class Journal:
    """Finished rows, one JSON line each, keyed; the resume and repeat record of a survey."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, dict[str, Any]]:
        """key -> row; a damaged line (a write cut short) is skipped."""
        rows: dict[str, dict[str, Any]] = {}
        try:
            with self.path.open(encoding="utf-8") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                        rows[entry["key"]] = entry["row"]
                    except (ValueError, KeyError, TypeError):
                        continue
        except FileNotFoundError:
            pass
        except OSError as e:
            raise OutputError(f"cannot read survey journal {self.path}: {e.strerror or e}") from e
        return rows

    def rewrite(self, rows: dict[str, dict[str, Any]]) -> None:
        """Replace the journal with exactly these rows (atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for k, row in rows.items():
                f.write(_json_line(k, row))
        os.replace(tmp, self.path)

    def append(self, key: str, row: dict[str, Any]) -> None:
        """Add one row (one write of one line, flushed at once)."""
        with self.path.open("a", encoding="utf-8") as f:
            f.write(_json_line(key, row))


def _json_line(key: str, row: dict[str, Any]) -> str:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in row.items()}
    return json.dumps({"key": key, "row": clean}, separators=(",", ":")) + "\n"


def default_journal(output: str | None, labels: Sequence[str], job_fp: str) -> Path:
    """Next to the output (``OUTPUT.journal.jsonl``), else in the cache directory under a
    name that depends on the tasks and the job."""
    if output and output != "-":
        p = Path(output)
        return p.with_name(f"{p.name}.journal.jsonl")
    from roofline.cache import cache_dir

    h = hashlib.sha256(json.dumps([list(labels), job_fp]).encode()).hexdigest()[:16]
    return cache_dir() / "surveys" / f"{h}.jsonl"


# --------------------------------------------------------------------------- local workers


def _worker_main(conn: Any) -> None:
    """A local worker: run tasks from the pipe until told to stop (None) or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    warnings.filterwarnings("ignore")
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        tid, spec, resolution, job = msg
        row = run_task(spec, resolution, job)
        try:
            conn.send((tid, row, _rss_bytes()))
        except (BrokenPipeError, OSError):
            return


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _mp_context(preload_torch: bool) -> Any:
    """A fork server (preloading torch, so that new workers start at once), else spawn.
    Never plain fork: forking a process that runs threads (ours may) is fragile."""
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        preload = ["roofline.survey.engine", "roofline.analysis"]
        if preload_torch:
            preload += ["torch", "timm"]
        ctx.set_forkserver_preload(preload)
        return ctx
    return mp.get_context("spawn")


class _Slot:
    """One worker process and the task it runs."""

    def __init__(self, ctx: Any) -> None:
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True,
                                name="roofline-survey-worker")
        self.proc.start()
        child.close()
        self.conn = parent
        self.started = time.monotonic()
        self.ready = False
        self.task: tuple[int, Task] | None = None
        self.limit = math.inf
        self.deadline = math.inf
        self.done = 0

    def assign(self, tid: int, task: Task, job: Job) -> None:
        self.task = (tid, task)
        self.limit = job.timeout_s + HARD_GRACE_S if job.timeout_s else math.inf
        # the clock starts once the worker is up (a fresh one may still be importing)
        self.deadline = time.monotonic() + self.limit if self.ready else math.inf
        self.conn.send((tid, task.spec, task.resolution, job))

    def got_ready(self) -> None:
        self.ready = True
        if self.task is not None:
            self.deadline = time.monotonic() + self.limit

    def stop(self, kill: bool = False) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the system may have run out of memory)" if name == "SIGKILL" else ""
        return f"the worker process died with {name}{hint}"
    return f"the worker process exited with code {exitcode} in the middle of the task"


def _run_local(tasks: list[tuple[int, Task]], job: Job, workers: int,
               emit: Callable[[int, dict[str, Any]], None], preload_torch: bool) -> None:
    from multiprocessing.connection import wait

    ctx = _mp_context(preload_torch)
    queue = deque(tasks)
    slots = [_Slot(ctx) for _ in range(min(workers, len(queue)))]
    try:
        while queue or any(s.task for s in slots):
            for i, s in enumerate(slots):
                if s.task is None and queue:
                    if not s.proc.is_alive():
                        s.stop(kill=True)
                        slots[i] = s = _Slot(ctx)
                    tid, task = queue.popleft()
                    try:
                        s.assign(tid, task, job)
                    except OSError:  # the worker died while idle: give the task a new one
                        s.stop(kill=True)
                        slots[i] = s = _Slot(ctx)
                        s.assign(tid, task, job)
            busy = [s for s in slots if s.task]
            soonest = min(s.deadline if s.ready else s.started + STARTUP_TIMEOUT_S for s in busy)
            wait([s.conn for s in busy] + [s.proc.sentinel for s in busy],
                 timeout=max(0.05, min(1.0, soonest - time.monotonic())))
            for i, s in enumerate(slots):
                if s.task is None:
                    continue
                tid, task = s.task
                row = None
                replace = False
                if s.conn.poll():
                    try:
                        msg = s.conn.recv()
                        if msg[0] == "ready":
                            s.got_ready()
                            if not s.conn.poll():
                                continue
                            msg = s.conn.recv()
                        got_tid, row, rss = msg
                        if got_tid != tid:
                            raise RuntimeError(f"survey worker answered task {got_tid}, "
                                               f"expected {tid}")
                        s.done += 1
                        # a task stopped by its deadline may have left state half undone
                        replace = (s.done >= MAX_TASKS_PER_WORKER or rss > MAX_WORKER_RSS_BYTES
                                   or row.get("status") == "timeout")
                    except (EOFError, OSError):
                        row = None
                if row is None:
                    if not s.proc.is_alive() and not s.ready:
                        raise RooflineError(
                            f"survey worker processes cannot start (exit code "
                            f"{s.proc.exitcode}); a script that calls roofline.survey.engine.survey() "
                            "must do so under `if __name__ == '__main__':`")
                    if not s.ready and time.monotonic() > s.started + STARTUP_TIMEOUT_S:
                        raise RooflineError(f"survey worker processes did not start within "
                                            f"{STARTUP_TIMEOUT_S:g} s")
                    if not s.proc.is_alive():
                        s.proc.join(1)
                        row = _failed_row(task, job, "failed", _death_reason(s.proc.exitcode))
                        replace = True
                    elif time.monotonic() > s.deadline:
                        row = _failed_row(task, job, "timeout",
                                          f"took longer than {job.timeout_s:g} s (worker killed)")
                        s.stop(kill=True)
                        replace = True
                    else:
                        continue
                s.task = None
                emit(tid, row)
                if replace:
                    s.stop(kill=not s.proc.is_alive())
                    slots[i] = _Slot(ctx) if queue else s
    finally:
        for s in slots:
            s.stop(kill=s.task is not None)


def _failed_row(task: Task, job: Job, status: str, reason: str) -> dict[str, Any]:
    return {"spec": task.spec, "resolution": task.resolution, "batch": job.batch,
            "status": status, "reason": reason, "seconds": None}


# --------------------------------------------------------------------------- dask


def _run_dask(tasks: list[tuple[int, Task]], job: Job, address: Any,
              emit: Callable[[int, dict[str, Any]], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError("--dask needs dask.distributed; install it with "
                         "pip install 'roofline[survey]'") from None
    try:
        client = address if isinstance(address, Client) else Client(address, timeout=f"{DASK_CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as e:
        raise InputError(f"cannot connect to the Dask scheduler at {address!r}: "
                         f"{_one_line(str(e), 200)}") from None
    own = client is not address
    try:
        futures = {}
        for tid, task in tasks:
            f = client.submit(run_task, task.spec, task.resolution, job, pure=False,
                              key=f"roofline-survey-{tid}-{hashlib.sha1(task.label.encode()).hexdigest()[:8]}-{os.getpid()}")
            futures[f] = (tid, task)
        for f in as_completed(futures):
            tid, task = futures[f]
            try:
                row = f.result()
            except Exception as e:  # KilledWorker and friends: the task took its worker down
                row = _failed_row(task, job, "failed",
                                  _one_line(f"the Dask task failed: {type(e).__name__}: {e}"))
            emit(tid, row)
    finally:
        if own:
            client.close()


# --------------------------------------------------------------------------- the survey


@dataclass
class Survey:
    """The rows of a survey (task order) and what produced them."""

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
        """Every row, with the columns in their documented order."""
        import pandas as pd

        cols = list(_BASE_COLUMNS)
        if not self.job.compare:
            cols = [c for c in cols if c not in _FCM_COLUMNS]
        for d in self.devices:
            cols += [f"latency_ms@{d.label}", f"memory_bound_fraction@{d.label}"]
        df = pd.DataFrame(self.rows)
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


_BASE_COLUMNS = ("spec", "model", "family", "resolution", "batch", "status", "reason", "macs",
                 "macs_fcm", "rel_diff", "fcm_check", "macs_folded", "mac_diff", "fcm_error",
                 "params", "unsupported", "coverage", "ops", "seconds", "trace_cached")
_FCM_COLUMNS = ("macs_fcm", "rel_diff", "fcm_check", "mac_diff", "fcm_error")


def resolve_devices(hw: Sequence[str], dtype: str | None) -> tuple[Device, ...]:
    """Devices for ``--hw`` values: ids, ``id:variant``, YAML paths or globs on ids."""
    from roofline.analysis import resolve_roof
    from roofline.hardware.registry import profile_ids

    labels: list[str] = []
    for spec in hw:
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            if _GLOB_CHARS & set(part) and not Path(part).exists():
                ids = profile_ids(pattern=part)
                if not ids:
                    raise InputError(f"--hw pattern {part!r} matches no device; "
                                     "`roofline hw list` shows the registry")
                labels += ids
            else:
                labels.append(part)
    if not labels:
        raise InputError("no device given; expected --hw with ids from `roofline hw list`")
    devices = []
    for label in dict.fromkeys(labels):
        roof, _profile, _d = resolve_roof(label, dtype)
        devices.append(Device(label, roof))
    return tuple(devices)


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
    output: str | None = None,
    fresh: bool = False,
    retry_failed: bool = False,
    progress: Callable[[dict[str, Any], int, int], None] | None = None,
    tasks: Sequence[Task] | None = None,
) -> Survey:
    """Trace every model matching ``patterns`` at every resolution and put it on every device.

    ``workers`` local processes (default: the number of CPUs, at most 8), or a Dask
    cluster: ``dask`` is a scheduler address or a ``distributed.Client``. ``journal`` is a
    JSON-lines file of finished rows (``"auto"``: next to ``output``, or in the cache
    directory when there is none; None: no journal): rows already in it (for the same spec, inputs,
    options and code) are not run again unless ``fresh``; failed and timed-out rows are run
    again with ``retry_failed``. ``progress(row, done, total)`` is called as rows finish.
    ``tasks`` replaces the expansion of ``patterns`` (the benchmark picks its own list); a
    task's own resolution applies where ``resolutions`` leaves it to the model (None).
    Raises :class:`RooflineError` for bad arguments; a model that fails is a row.
    """
    from roofline.dtypes import canonical_dtype
    from roofline.graph.layers import check_fusion
    from roofline.models.zoo import check_batch, check_resolution

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
    devices = resolve_devices(hw, dtype)
    wd = canonical_dtype(weight_dtype) if weight_dtype else None
    job = Job(devices, batch, fusion, wd, compare, cache, float(timeout_s or 0))
    base = list(tasks) if tasks is not None else expand(patterns)
    if not base:
        raise InputError("no models to survey")
    all_tasks = list(dict.fromkeys(
        Task(t.spec, r if r is not None else t.resolution, t.family)
        for t in base for r in dict.fromkeys(resolutions)))

    fp = job.fingerprint()
    keys = [_row_key(t, job, fp) for t in all_tasks]
    if journal == "auto":
        journal = default_journal(output, [t.label for t in all_tasks], fp)
    jr = Journal(journal) if journal else None
    done: dict[str, dict[str, Any]] = {} if (jr is None or fresh) else jr.load()
    if jr is not None:
        # keep rows of other surveys that share the file; drop nothing this run will redo
        jr.rewrite({k: v for k, v in done.items()
                    if not (retry_failed and v.get("status") != "ok")})
    rows: list[dict[str, Any] | None] = [None] * len(all_tasks)
    todo: list[tuple[int, Task]] = []
    for i, (t, k) in enumerate(zip(all_tasks, keys)):
        prev = done.get(k)
        if prev is not None and not (retry_failed and prev.get("status") != "ok"):
            rows[i] = prev
        else:
            todo.append((i, t))
    resumed = len(all_tasks) - len(todo)
    finished = resumed

    def emit(i: int, row: dict[str, Any]) -> None:
        nonlocal finished
        t = all_tasks[i]
        row = {**row, "spec": t.spec, "family": t.family}
        if row.get("resolution") is None:
            row["resolution"] = t.resolution
        rows[i] = row
        finished += 1
        if jr is not None:
            jr.append(keys[i], row)
        if progress is not None:
            progress(row, finished, len(all_tasks))

    if progress is not None:
        for i, r in enumerate(rows):
            if r is not None:
                progress({**r, "resumed": True}, i + 1, len(all_tasks))
    result = Survey([], devices, job, jr.path if jr else None, len(todo), resumed,
                    total=len(all_tasks))
    try:
        if todo:
            if dask is not None:
                _run_dask(todo, job, dask, emit)
            else:
                n = workers or min(os.cpu_count() or 1, 8)
                _run_local(todo, job, n, emit, preload_torch=_needs_torch(todo, job))
    except KeyboardInterrupt:
        result.interrupted = True
    result.rows = [r for r in rows if r is not None]
    result.ran = sum(r is not None for r in rows) - resumed
    result.wall_s = time.perf_counter() - t0
    return result


def _row_key(task: Task, job: Job, fp: str) -> str:
    trace_key = _trace_key(task.spec, task.resolution, job.batch)
    return hashlib.sha256(f"{trace_key}|{fp}".encode()).hexdigest()[:32]


def _needs_torch(todo: list[tuple[int, Task]], job: Job) -> bool:
    """Whether some task will trace (its trace is not on disk): then workers preload torch."""
    from roofline import cache as trace_cache

    if not (job.cache and trace_cache.enabled()):
        return True
    d = trace_cache.cache_dir()
    return any(not (d / f"{_trace_key(t.spec, t.resolution, job.batch)}.json.gz").exists()
               for _, t in todo)


# --------------------------------------------------------------------------- rendering


def render(s: Survey, fmt: str, top: int = 10) -> str | bytes:
    """The survey in one of :data:`FORMATS`: a leaderboard (table, markdown) or every row
    (csv, json, parquet; raw numbers, units in the column names)."""
    if fmt == "csv":
        return s.frame().to_csv(index=False)
    if fmt == "json":
        from roofline.render.report import to_json

        return to_json({
            "roofline_version": __version__,
            "devices": [_device_dict(d) for d in s.devices],
            "options": {"batch": s.job.batch, "fusion": s.job.fusion,
                        "weight_dtype": s.job.weight_dtype, "compare": s.job.compare},
            "summary": s.summary(),
            "rows": _records(s.frame()),
            "units": {"macs": "multiply-accumulates (1 MAC = 2 FLOPs)", "latency_ms":
                      "milliseconds", "seconds": "seconds of worker time"},
        }) + "\n"
    if fmt == "parquet":
        buf = io.BytesIO()
        try:
            s.frame().to_parquet(buf, index=False)
        except ImportError:
            raise InputError("parquet output needs pyarrow: pip install 'roofline[survey]' (or pyarrow)") from None
        return buf.getvalue()
    if fmt in ("table", "markdown"):
        return _leaderboard_text(s, top, markdown=fmt == "markdown")
    raise InputError(f"unknown format {fmt!r}{did_you_mean(fmt, FORMATS)}; "
                     f"expected one of {', '.join(FORMATS)}")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _device_dict(d: Device) -> dict[str, Any]:
    r = d.roof
    return {"label": d.label, "id": r.hardware_id, "name": r.name, "dtype": r.dtype,
            "peak_macs_per_s": r.peak_macs_per_s, "mem_bw_bytes_per_s": r.mem_bw_bytes_per_s,
            "ridge_point": r.ridge_point, "fitted": r.fitted}


def _leaderboard_text(s: Survey, top: int, markdown: bool) -> str:
    from roofline.render.report import markdown_table, render_table, si

    table = markdown_table if markdown else render_table

    sm = s.summary()
    head = (f"{sm['models']} model runs: {sm['ok']} ok, {sm['failed']} failed, "
            f"{sm['timeout']} timed out ({sm['resumed']} from the journal, {sm['ran']} run now, "
            f"{sm['wall_s']:.1f} s)")
    lines = [f"## roofline survey\n\n{head}" if markdown else head]
    if s.interrupted:
        lines.append("INTERRUPTED: rows shown are the ones finished; run the same command "
                     "again to resume")
    if s.job.compare and sm.get("compared") is not None:
        extra = [f"{sm['fcm_folded']} differ only by ops on constants, which we fold"
                 if sm["fcm_folded"] else "",
                 f"{sm['fcm_not_counted']} where it counts nothing" if sm["fcm_not_counted"]
                 else "",
                 f"{sm['fcm_failed']} where it fails" if sm["fcm_failed"] else ""]
        extra_text = "; ".join(e for e in extra if e)
        lines.append(f"MACs vs torch FlopCounterMode: {sm['within_1pct']} of {sm['compared']} "
                     f"within 1%" + (f" ({extra_text})" if extra_text else ""))
    for d in s.devices:
        board = s.leaderboard(d.label, top or None)
        r = d.roof
        fitted = ", fitted" if r.fitted else ""
        title = (f"top {len(board)} on {d.label} ({r.dtype}, ridge point {r.ridge_point:.3g} "
                 f"MACs/B{fitted})")
        rows = []
        for rank, (_, row) in enumerate(board.iterrows(), 1):
            rows.append([rank, row["spec"], _int(row["resolution"]),
                         f"{row[f'latency_ms@{d.label}']:.3g}", si(row["macs"]),
                         si(row["params"]), f"{row[f'memory_bound_fraction@{d.label}']:.0%}",
                         f"{row['coverage']:.0%}"])
        lines += ["", f"### {title}" if markdown else title]
        lines.append(table(rows, ["#", "model", "res", "latency ms", "MACs", "params",
                                  "mem-bound", "coverage"], "rllrrrrr") if rows
                     else "(no model succeeded)")
    bad = [r for r in s.rows if r.get("status") != "ok"]
    if bad:
        lines += ["", "### failed" if markdown else "failed"]
        lines.append(table([[r["spec"], _int(r.get("resolution")), r["status"],
                             _one_line(r.get("reason") or "", 120)] for r in bad],
                           ["model", "res", "status", "reason"], "llll"))
    partial = [r for r in s.rows if r.get("status") == "ok" and r.get("unsupported")]
    if partial:
        lines += ["", f"{len(partial)} models have ops without a formula (bytes counted, "
                  "MACs unknown); see the `unsupported` column of --format csv"]
    lines += ["", "roofline latency is a bound for ranking, not a measurement; 1 MAC = 2 FLOPs"]
    return "\n".join(lines) + "\n"


def _int(x: Any) -> Any:
    try:
        return "" if x is None or (isinstance(x, float) and math.isnan(x)) else int(x)
    except (TypeError, ValueError):
        return x


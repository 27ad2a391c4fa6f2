"""The local worker pool: tasks run in worker processes that may die, hang or grow.

Workers start from a fork server, which imports torch once so that a new worker is ready
at once, or are spawned where there is no fork server. A worker that dies (a segfault,
the out-of-memory killer, ``os._exit``) becomes a failed row and is replaced; one that
passes its task's deadline by ``HARD_GRACE_S`` is killed and replaced; each is recycled
after ``MAX_TASKS_PER_WORKER`` tasks or once it grows past ``MAX_WORKER_RSS_BYTES``, to
bound memory. A KeyboardInterrupt inside a worker (a model may raise one) stops the
survey as Ctrl-C does, without the worker's traceback.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import os
import signal
import time
import warnings
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from roofline.errors import RooflineError
from roofline.survey.rows import failed_row, run_task
from roofline.survey.tasks import Job, Task

__all__ = ["MAX_TASKS_PER_WORKER", "MAX_WORKER_RSS_BYTES", "HARD_GRACE_S",
           "STARTUP_TIMEOUT_S", "run_local"]

#: a worker is replaced after this many tasks (memory of timm/torch caches grows)
MAX_TASKS_PER_WORKER = 40
#: ... or once its resident memory passes this
MAX_WORKER_RSS_BYTES = 6 * 2**30
#: seconds between a task's soft deadline and killing its worker process
HARD_GRACE_S = 15.0
#: seconds a new worker process may take to start (import roofline, maybe torch)
STARTUP_TIMEOUT_S = 180.0

_INTERRUPTED = "interrupted"


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
        try:
            row = run_task(spec, resolution, job)
        except KeyboardInterrupt:  # raised by the model: the parent stops the survey
            with contextlib.suppress(OSError):
                conn.send((_INTERRUPTED, tid))
            return
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
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        preload = ["roofline.survey.pool", "roofline.analysis"]
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


def run_local(tasks: list[tuple[int, Task]], job: Job, workers: int,
              emit: Callable[[int, dict[str, Any]], None], preload_torch: bool) -> None:
    """Run ``(id, task)`` pairs on ``workers`` local processes; ``emit(id, row)`` as each
    finishes. Raises KeyboardInterrupt when a worker reports one, RooflineError when no
    worker process can start."""
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
                row, replace = _collect(s, job)
                if row is None:
                    continue
                tid = s.task[0]
                s.task = None
                emit(tid, row)
                if replace:
                    s.stop(kill=not s.proc.is_alive())
                    slots[i] = _Slot(ctx) if queue else s
    finally:
        for s in slots:
            s.stop(kill=s.task is not None)


def _collect(s: _Slot, job: Job) -> tuple[dict[str, Any] | None, bool]:
    """(the row of the slot's task if it is settled, else None; whether to replace the
    worker): its answer, or the failed row of a worker that died or passed its deadline."""
    assert s.task is not None
    tid, task = s.task
    if s.conn.poll():
        try:
            msg = s.conn.recv()
            if msg[0] == "ready":
                s.got_ready()
                if not s.conn.poll():
                    return None, False
                msg = s.conn.recv()
            if msg[0] == _INTERRUPTED:
                raise KeyboardInterrupt
            got_tid, row, rss = msg
            if got_tid != tid:
                raise RuntimeError(f"survey worker answered task {got_tid}, expected {tid}")
            s.done += 1
            # a task stopped by its deadline may have left state half undone
            return row, (s.done >= MAX_TASKS_PER_WORKER or rss > MAX_WORKER_RSS_BYTES
                         or row.get("status") == "timeout")
        except (EOFError, OSError):
            pass
    if not s.proc.is_alive() and not s.ready:
        raise RooflineError(
            f"survey worker processes cannot start (exit code {s.proc.exitcode}); a script "
            "that calls roofline.survey.survey() must do so under "
            "`if __name__ == '__main__':`")
    if not s.ready and time.monotonic() > s.started + STARTUP_TIMEOUT_S:
        raise RooflineError(f"survey worker processes did not start within "
                            f"{STARTUP_TIMEOUT_S:g} s")
    if not s.proc.is_alive():
        s.proc.join(1)
        return failed_row(task, job, "failed", _death_reason(s.proc.exitcode)), True
    if time.monotonic() > s.deadline:
        row = failed_row(task, job, "timeout",
                         f"took longer than {job.timeout_s:g} s (worker killed)")
        s.stop(kill=True)
        return row, True
    return None, False

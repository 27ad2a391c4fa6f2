"""A task's soft deadline and a quiet worker: what keeps one model from stalling a survey.

The soft deadline raises :class:`TaskTimeout` in the thread that runs the task, so the
worker survives; a single C call that never returns is stopped by the pool's hard deadline
(the worker process is killed) instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import signal
import threading
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["TaskTimeout", "deadline", "quiet"]


class TaskTimeout(BaseException):
    """Raised inside a worker when a task passes its deadline (BaseException, so that a
    model's own ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def quiet(main_thread: bool) -> Iterator[None]:
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
def deadline(seconds: float | None, main_thread: bool) -> Iterator[None]:
    """Raise TaskTimeout in this thread after ``seconds`` (None or 0: no deadline).

    In a process's main thread this is SIGALRM; in any other thread (a Dask worker) the
    exception is set asynchronously on the thread. Both interrupt Python code only.
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

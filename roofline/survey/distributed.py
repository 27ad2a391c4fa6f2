"""Tasks on a Dask cluster (``survey(dask=ADDRESS)``; needs the ``survey`` extra).

A Dask worker thread cannot be killed, so only the soft deadline applies there; a task
whose worker dies is retried by Dask and then reported as a failed row.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

from roofline.errors import InputError
from roofline.survey.rows import failed_row, run_task
from roofline.survey.tasks import Job, Task, one_line

__all__ = ["DASK_CONNECT_TIMEOUT_S", "run_dask", "run_remote"]

#: seconds to wait for a Dask scheduler to answer
DASK_CONNECT_TIMEOUT_S = 20.0


def run_remote(spec: str, resolution: int | None, job: Job) -> dict[str, Any] | None:
    """:func:`~roofline.survey.rows.run_task` on a Dask worker; None when the model raised
    KeyboardInterrupt (the client then stops the survey, as Ctrl-C would)."""
    try:
        return run_task(spec, resolution, job)
    except KeyboardInterrupt:
        return None


def run_dask(tasks: list[tuple[int, Task]], job: Job, address: Any,
             emit: Callable[[int, dict[str, Any]], None]) -> None:
    """Run ``(id, task)`` pairs on the Dask cluster at ``address`` (or a ``Client``);
    ``emit(id, row)`` as each finishes."""
    try:
        from distributed import Client, as_completed  # deferred: heavy import
    except ImportError:
        raise InputError("--dask needs dask.distributed; install it with "
                         "pip install 'roofline[survey]'") from None
    try:
        client = address if isinstance(address, Client) else Client(
            address, timeout=f"{DASK_CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as e:
        raise InputError(f"cannot connect to the Dask scheduler at {address!r}: "
                         f"{one_line(str(e), 200)}") from None
    own = client is not address
    try:
        futures = {}
        for tid, task in tasks:
            tag = hashlib.sha1(task.label.encode()).hexdigest()[:8]
            f = client.submit(run_remote, task.spec, task.resolution, job, pure=False,
                              key=f"roofline-survey-{tid}-{tag}-{os.getpid()}")
            futures[f] = (tid, task)
        for f in as_completed(futures):
            tid, task = futures[f]
            try:
                row = f.result()
            except Exception as e:  # KilledWorker and friends: the task took its worker down
                row = failed_row(task, job, "failed",
                                 one_line(f"the Dask task failed: {type(e).__name__}: {e}"))
            if row is None:
                raise KeyboardInterrupt
            emit(tid, row)
    finally:
        if own:
            client.close()

"""Keep converter and runtime chatter (absl/TF/XLA logs, progress lines, "Created TensorFlow
Lite XNNPACK delegate") off the user's terminal.

The noise comes from C++ as well as Python, so both file descriptors 1 and 2 are pointed at a
temporary file while the block runs; ``verbose=True`` (or ``ROOFLINE_VERBOSE=1``) lets it
through. Python warnings raised inside are silenced too.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator

__all__ = ["quiet", "verbose_requested"]

#: set before the converters are imported: their C++ loggers read these once
_LOG_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GLOG_minloglevel": "3", "ABSL_MIN_LOG_LEVEL": "3",
            "TF_ENABLE_ONEDNN_OPTS": "0"}


def verbose_requested() -> bool:
    """True when ``ROOFLINE_VERBOSE`` is set to a true value."""
    return os.environ.get("ROOFLINE_VERBOSE", "").strip().lower() in ("1", "true", "yes")


@contextlib.contextmanager
def quiet(verbose: bool = False) -> Iterator[None]:
    """Swallow everything written to stdout/stderr (Python and C++) inside the block."""
    if verbose or verbose_requested():
        yield
        return
    for k, v in _LOG_ENV.items():
        os.environ.setdefault(k, v)
    streams = []
    for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
        try:
            stream.flush()
            streams.append((fd, os.dup(fd)))
        except (AttributeError, OSError, ValueError):  # a replaced stream (pytest, notebooks)
            pass
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fd, _ in streams:
            os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(AttributeError, OSError, ValueError):
                    stream.flush()
            for fd, saved in streams:
                os.dup2(saved, fd)
                os.close(saved)

"""Open a deployed model file (.tflite, .onnx) with the reader for its format.

The readers (``tflite.py``, ``onnx.py``) build on the shared structures of ``deployed.py``;
this module sits above them, so neither format is loaded before a file of it is read.
"""

from __future__ import annotations

from pathlib import Path

from roofline.errors import InputError
from roofline.graph.deployed import DEPLOYED_SUFFIXES, DeployedGraph

__all__ = ["read_deployed"]


def read_deployed(path: str | Path) -> DeployedGraph:
    """Read a .tflite or .onnx file into op records (InputError for anything unreadable)."""
    p = Path(path)
    fmt = DEPLOYED_SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise InputError(f"{p}: not a deployed model; expected a .tflite or .onnx file")
    if not p.exists():
        raise InputError(f"{p}: no such file; expected a .{fmt} model file")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file; expected a .{fmt} model file")
    if fmt == "tflite":
        from roofline.graph.tflite import read_tflite  # deferred: needs the runtimes extra
        return read_tflite(p)
    from roofline.graph.onnx import read_onnx  # deferred: needs the runtimes extra
    return read_onnx(p)

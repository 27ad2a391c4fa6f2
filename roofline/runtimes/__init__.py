"""Deployed graphs on real runtimes: export to .tflite/.onnx, run them on LiteRT (XNNPACK) and
ONNX Runtime, and describe the graph each runtime runs (issue 11).

- ``export.py``: a model -> a cached .tflite (litert-torch; int8 by PT2E static quantisation)
  or .onnx (torch.onnx dynamo; int8 by ONNX Runtime's static QDQ quantisation);
- ``quantize.py``: the int8 quantizer for LiteRT, with litert-torch's gaps closed;
- ``litert.py`` / ``ort.py``: run a file, and its graph statistics (delegate partitions, ops
  outside the delegate, float ops, TRANSPOSE/QUANTIZE/DEQUANTIZE counts);
- ``measure.py``: timed rows in the CSV shape of ``roofline measure``, plus ``runtime``.

Nothing here imports torch or a converter at import time.
"""

from __future__ import annotations

from roofline.runtimes.export import TARGETS, export
from roofline.runtimes.measure import (
    GRAPH_COLUMNS,
    RUNTIME_COLUMNS,
    RUNTIMES,
    measure_file,
    measure_runtime,
)

__all__ = [
    "GRAPH_COLUMNS",
    "RUNTIMES",
    "RUNTIME_COLUMNS",
    "TARGETS",
    "export",
    "measure_file",
    "measure_runtime",
]

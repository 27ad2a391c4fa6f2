"""roofline: per-layer MACs and bytes of any PyTorch model, a hardware registry with
sources, and the roofline latency model of the MobileNetV4 paper.

    >>> import roofline
    >>> a = roofline.analyze("mnv4_conv_medium", hw="pixel8_cpu")
    >>> a.totals["latency_s"], a.layers.head()

Units: ``macs`` are multiply-accumulates (1 MAC = 2 FLOPs), bytes are bytes, time is
seconds, ridge points and intensities are MACs/byte.

Importing the package is cheap: torch is imported only when a model is traced, and every
name below is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "analyze": ("roofline.analysis", "analyze"),
    "Analysis": ("roofline.analysis", "Analysis"),
    "compare": ("roofline.comparison", "compare"),
    "sweep": ("roofline.ridge_sweep", "sweep"),
    "plot": ("roofline.plotting", "plot"),
    "trace_model": ("roofline.analysis", "trace_model"),
    "trace": ("roofline.graph.torch_trace", "trace"),
    "Trace": ("roofline.graph.records", "Trace"),
    "layer_table": ("roofline.graph.layers", "layer_table"),
    "layer_times": ("roofline.latency.equation", "layer_times"),
    "totals": ("roofline.latency.equation", "totals"),
    "get_profile": ("roofline.hardware.registry", "get_profile"),
    "load_profile": ("roofline.hardware.io", "load_profile"),
    "list_profiles": ("roofline.hardware.registry", "list_profiles"),
    "HardwareProfile": ("roofline.hardware.profile", "HardwareProfile"),
    "Roof": ("roofline.hardware.profile", "Roof"),
    "device": ("roofline.hardware.profile", "device"),
    "RooflineError": ("roofline.errors", "RooflineError"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'roofline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""roofline: per-layer MACs and bytes of any PyTorch model, a hardware registry with
sources, and the roofline latency model of the MobileNetV4 paper.

    >>> import roofline
    >>> a = roofline.analyze("mnv4_conv_medium", hw="pixel8_cpu")
    >>> a.totals["latency_s"], a.layers.head()

Units: ``macs`` are multiply-accumulates (1 MAC = 2 FLOPs), bytes are bytes, time is
seconds, ridge points and intensities are MACs/byte.

Importing the package is cheap: torch is imported only when a model is traced. The tracer
itself is ``roofline.trace.trace`` (the submodule ``roofline.trace`` holds it, so it is not
re-exported under the same name).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "analyze": ("analysis", "analyze"),
    "Analysis": ("analysis", "Analysis"),
    "trace_model": ("analysis", "trace_model"),
    "Trace": ("records", "Trace"),
    "layer_table": ("layers", "layer_table"),
    "layer_times": ("model", "layer_times"),
    "totals": ("model", "totals"),
    "get_profile": ("hardware", "get_profile"),
    "load_profile": ("hardware", "load_profile"),
    "list_profiles": ("hardware", "list_profiles"),
    "HardwareProfile": ("hardware", "HardwareProfile"),
    "Roof": ("hardware", "Roof"),
    "device": ("hardware", "device"),
    "RooflineError": ("errors", "RooflineError"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'roofline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""Per-layer latency from torch.profiler, named as the layer table names its layers.

Every module of our own model instance gets a ``record_function`` scope (forward hooks,
removed afterwards); a module's self time (its scope minus its child modules' scopes) is
shared among the layers of the layer table whose ops that module runs, in proportion to the
number of those ops, so the rows line up with ``roofline analyze`` layer by layer (same
trace, same fusion policy). Time in modules with no traced op (containers, identity) is
reported as one row, layer index -1. The profiler adds its own cost per op; the rows report
the profiled times as they are.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from roofline.analysis import trace_model
from roofline.calibration.real_model import RealModel
from roofline.calibration.timing import TorchThreads
from roofline.graph.layers import group_ops, layer_table

if TYPE_CHECKING:  # pragma: no cover
    import torch
    import torch.nn as nn

__all__ = ["module_self_times", "profile_layers"]

_SCOPE = "roofline::"


def module_self_times(module: nn.Module, x: torch.Tensor, *, runs: int = 5,
                      warmup: int = 2) -> dict[str, float]:
    """Seconds per run spent in each module's own code (its profiler scope minus its child
    modules' scopes), keyed by module path ('' is the root)."""
    import torch  # deferred: heavy import

    record_function = torch.autograd.profiler.record_function
    ProfilerActivity, profile = torch.profiler.ProfilerActivity, torch.profiler.profile

    stack: list[Any] = []
    handles = []

    def pre(_m: Any, _i: Any, name: str) -> None:
        rf = record_function(_SCOPE + name)
        rf.__enter__()
        stack.append(rf)

    def post(_m: Any, _i: Any, _o: Any) -> None:
        if stack:
            stack.pop().__exit__(None, None, None)

    try:
        for name, mod in module.named_modules():
            handles.append(mod.register_forward_pre_hook(
                lambda m, i, _n=name: pre(m, i, _n)))
            handles.append(mod.register_forward_hook(post))
        with torch.no_grad(), _kineto_quiet():
            for _ in range(warmup):
                module(x)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(runs):
                    module(x)
            events = prof.events()
    finally:
        for h in handles:
            h.remove()
        while stack:
            stack.pop().__exit__(None, None, None)
    self_us: dict[str, float] = defaultdict(float)
    for e in events:
        if not e.name.startswith(_SCOPE):
            continue
        name = e.name[len(_SCOPE):]
        self_us[name] += e.cpu_time_total
        parent = e.cpu_parent
        while parent is not None and not parent.name.startswith(_SCOPE):
            parent = parent.cpu_parent
        if parent is not None:
            self_us[parent.name[len(_SCOPE):]] -= e.cpu_time_total
    return {k: max(v, 0.0) * 1e-6 / runs for k, v in self_us.items()}


@contextlib.contextmanager
def _kineto_quiet() -> Iterator[None]:
    """Keep the profiler backend's C++ log lines (stage markers, "gpuGetDeviceCount failed" on
    a machine without a GPU) off the user's terminal; they are replayed if anything fails."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (pytest capture, notebooks)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        ok = False
        try:
            yield
            ok = True
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            if not ok:
                tmp.seek(0)
                sys.stderr.write(tmp.read().decode(errors="replace"))


def profile_layers(rm: RealModel, *, fusion: str = "tflite", dtype: str = "fp32",
                   threads: int = 1, runs: int = 5) -> pd.DataFrame:
    """Measured time per layer of the layer table (columns ``layer_index``, ``layer``,
    ``latency_ms``), plus one row (index -1) for time outside every layer."""
    _, tr, _ = trace_model(rm.spec, resolution=rm.resolution, input_shape=rm.input_shape)
    groups = group_ops(tr, fusion)
    with TorchThreads(threads):
        self_s = module_self_times(rm.module, rm.input, runs=runs)
    # module -> [(layer index, ops of that module in the layer)]
    owners: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for li, ops in enumerate(groups):
        for o in ops:
            owners[o.module][li] += 1
    per_layer = [0.0] * len(groups)
    other = 0.0
    for mod, t in self_s.items():
        own = owners.get(mod)
        if not own:
            other += t
            continue
        n = sum(own.values())
        for li, k in own.items():
            per_layer[li] += t * k / n
    names = layer_table(tr, fusion=fusion, dtype=dtype)["name"].tolist()
    df = pd.DataFrame({"layer_index": range(len(groups)), "layer": names,
                       "latency_ms": [t * 1e3 for t in per_layer]})
    extra = pd.DataFrame({"layer_index": [-1], "layer": ["(outside layers)"],
                          "latency_ms": [other * 1e3]})
    return pd.concat([df, extra], ignore_index=True)

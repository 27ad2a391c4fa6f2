"""Real latency of models on this machine, the numbers the roofline is judged against.

How a model is timed (the MobileNetV4 paper's protocol: the mean of many runs, the median of
repeats):

- The model is built from its spec (zoo name, timm name or ``file.py:factory``) on the meta
  device, exactly as the analysis sees it, then materialised on the CPU (``to_empty``) and
  every parameter and buffer initialised deterministically: weights ~ N(0, 1/fan_in), so
  activations keep their scale through deep stacks; biases 0; other 1-D parameters (norm
  scales) 1; integer buffers (index tables that a meta build cannot restore) 0, which are
  valid indices and cost the same. Then a data-dependent pass (:func:`calibrate_scale`)
  rescales each conv/linear to unit output and sets BatchNorm statistics from the (random)
  input, so activations keep a trained network's scale at any depth.
  Uninitialised memory could hold NaNs or denormals, which distort timing; denormals are
  also flushed to zero while timing, as mobile runtimes do.
- torch eager, ``eval()``, under ``torch.no_grad()``, at the thread count asked for
  (``torch.set_num_threads``, restored afterwards), batch 1, the zoo resolution unless told.
- Warm-up: at least 2 runs and ``warmup_s`` seconds. Then ``repeats`` repeats, each of as many
  runs as fill ``min_time_s``; a repeat's latency is its mean per run; the reported latency is
  the median over repeats, with the spread (interquartile range / median) and the fastest
  repeat. The garbage collector is paused while timing.

Per-layer times (``per_layer=True``) come from ``torch.profiler``: every module of our own
model instance gets a ``record_function`` scope (forward hooks, removed afterwards); a
module's self time (its scope minus its child modules' scopes) is shared among the layers of
the layer table whose ops that module runs, in proportion to the number of those ops, so the
rows line up with ``roofline analyze`` layer by layer (same trace, same fusion policy). Time
in modules with no traced op (containers, identity) is reported as one row, layer index -1.
The profiler adds its own cost per op; the rows report the profiled times as they are.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from roofline.dtypes import canonical_dtype
from roofline.errors import InputError, UnknownModelError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import torch
    import torch.nn as nn

#: dtypes torch eager can run a whole model in on a CPU or GPU
EAGER_DTYPES = ("fp32", "bf16", "fp16")
#: columns of the CSV that `roofline measure` writes (per-layer rows add layer_index, layer,
#: fusion; whole-model rows leave them empty)
CSV_COLUMNS = ["model", "resolution", "dtype", "threads", "latency_ms", "runs", "repeats",
               "spread_pct", "latency_min_ms", "device"]
LAYER_COLUMNS = ["layer_index", "layer", "fusion"]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ------------------------------------------------------------------------------- specs


def expand_models(specs: Sequence[str]) -> list[str]:
    """Model specs with zoo globs expanded ('mnv4*', 'all'); each other spec is resolved
    (zoo alias, timm name, file.py:factory) so a typo fails before anything is timed."""
    from roofline.models import zoo

    out: list[str] = []
    for spec in specs:
        if spec.strip().lower() == "all":
            out += zoo.names()
        elif any(ch in spec for ch in "*?["):
            hits = zoo.names(spec)
            if not hits:
                raise UnknownModelError(f"pattern {spec!r} matches no zoo model"
                                        f"{did_you_mean(spec.strip('*?[]'), zoo.names())}; "
                                        "`roofline zoo list` shows the zoo")
            out += hits
        else:
            out.append(zoo.resolve(spec).label)
    seen: set[str] = set()
    return [m for m in out if not (m in seen or seen.add(m))]


def check_eager_dtype(dtype: str) -> str:
    """Canonical dtype that torch eager can run; InputError otherwise (int8 needs a runtime
    with quantised kernels, which this command does not drive)."""
    d = canonical_dtype(dtype)
    if d not in EAGER_DTYPES:
        raise InputError(f"cannot measure dtype {d!r} in torch eager; expected one of "
                         f"{', '.join(EAGER_DTYPES)} (int8 latency needs a quantising runtime: "
                         "measure there and pass the CSV to `roofline fit`)")
    return d


def _torch_dtype(d: str) -> torch.dtype:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[d]


# ----------------------------------------------------------------------------- models


@dataclass
class RealModel:
    """A model with real (deterministic) weights, its input and what the zoo says of it."""

    label: str
    module: nn.Module
    input: torch.Tensor
    resolution: int | None
    spec: str


def real_model(spec: str, *, dtype: str = "fp32", resolution: int | None = None,
               device: str = "cpu", seed: int = 0) -> RealModel:
    """Build ``spec`` as the analysis does (meta), then materialise and initialise it (see the
    module docstring)."""
    import torch

    from roofline.models.zoo import resolve

    src = resolve(spec)
    shape = src.input_shape(resolution, 1)
    module = src.build()
    module = materialise(module, device=device, seed=seed)
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    x = torch.randn(shape, generator=gen).to(device=device)
    calibrate_scale(module, x)
    module = module.to(_torch_dtype(dtype)).eval()
    return RealModel(src.label, module, x.to(_torch_dtype(dtype)), shape[-1], spec)


def calibrate_scale(module: nn.Module, x: torch.Tensor) -> None:
    """Data-dependent initialisation, so activations keep a trained network's scale however
    deep the model (a constant gain per layer drifts towards denormals or overflow, and
    denormal arithmetic is slow: this alone changed one model's latency by 1.7x):

    1. one forward pass in which every conv/linear layer's weights are divided by the standard
       deviation of its output, and its output with them (LSUV in a single pass: each layer
       sees already-normalised inputs);
    2. one forward pass in training mode with momentum 1, so every BatchNorm's running
       statistics are those of the data it sees.

    A model whose forward refuses either pass (batch-1 training mode, say) keeps its weights
    and mean 0 / variance 1 statistics.
    """
    import torch
    from torch import nn
    from torch.nn.modules.batchnorm import _BatchNorm

    def unit_output(m: nn.Module, _inp: Any, out: Any) -> Any:
        if not isinstance(out, torch.Tensor) or not out.is_floating_point() or out.numel() < 2:
            return None
        s = float(out.float().std())
        if not math.isfinite(s) or s <= 0:
            return None
        m.weight.div_(s)
        if getattr(m, "bias", None) is not None:
            m.bias.div_(s)
        return out / s

    layers = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    handles = [m.register_forward_hook(unit_output) for m in module.modules()
               if isinstance(m, layers) and isinstance(getattr(m, "weight", None), torch.Tensor)]
    try:
        module.eval()
        with torch.no_grad():
            module(x)
    except Exception:  # noqa: BLE001, S110 - any model code; the init stays as it was
        pass
    finally:
        for h in handles:
            h.remove()

    norms = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not norms:
        return
    saved = [(m, m.momentum) for m in norms]
    try:
        for m in norms:
            m.momentum = 1.0  # running statistics := this batch's
        module.train()
        with torch.no_grad():
            module(x)
    except Exception:  # noqa: BLE001 - any model code may refuse batch-1 training mode
        for m in norms:
            m.reset_running_stats()
    finally:
        for m, momentum in saved:
            m.momentum = momentum
        module.eval()


def materialise(module: nn.Module, *, device: str = "cpu", seed: int = 0) -> nn.Module:
    """Allocate a meta-device module on ``device`` and initialise every parameter and buffer
    deterministically (see the module docstring). Returns the module."""
    import torch

    module = module.to_empty(device=device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            _init_tensor(p, name, gen, parameter=True)
        for name, b in module.named_buffers():
            _init_tensor(b, name, gen, parameter=False)
    return module


def _init_tensor(t: torch.Tensor, name: str, gen: torch.Generator, *, parameter: bool) -> None:
    import torch

    leaf = name.rsplit(".", 1)[-1]
    if not (t.is_floating_point() or t.is_complex()):
        t.zero_()  # index tables, counters: 0 is always a valid index
    elif not parameter:
        t.fill_(1.0 if leaf in ("running_var", "moving_variance") else 0.0)
    elif t.dim() >= 2:
        fan_in = max(1, t.numel() // t.shape[0])
        values = torch.randn(t.shape, generator=gen, dtype=torch.float32) / math.sqrt(fan_in)
        t.copy_(values.to(t.dtype))
    elif "bias" in leaf:
        t.zero_()
    else:
        t.fill_(1.0)


# ----------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Latency of one callable: the median over repeats of the mean per run."""

    latency_s: float
    runs: int              # runs per repeat
    repeats: int
    spread: float          # interquartile range of the repeats / median
    min_s: float           # fastest repeat
    samples: list[float]

    @property
    def spread_pct(self) -> float:
        """The spread in percent."""
        return 100.0 * self.spread


def time_callable(fn: Callable[[], Any], *, repeats: int = 7, min_time_s: float = 0.2,
                  warmup_s: float = 0.3, min_warmup_runs: int = 2,
                  sync: Callable[[], Any] | None = None) -> Timing:
    """Time ``fn()``: warm-up, then ``repeats`` repeats of enough runs to fill ``min_time_s``;
    ``sync`` (e.g. ``torch.cuda.synchronize``) is called before reading the clock."""
    if repeats < 1:
        raise InputError(f"repeats must be >= 1, got {repeats}")
    sync = sync or (lambda: None)
    clock = time.perf_counter
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        t0 = clock()
        n = 0
        while n < min_warmup_runs or clock() - t0 < warmup_s:
            fn()
            n += 1
            sync()
        per_run = (clock() - t0) / n
        runs = max(1, math.ceil(min_time_s / per_run)) if per_run > 0 else 1
        samples = []
        for _ in range(repeats):
            sync()
            t = clock()
            for _ in range(runs):
                fn()
            sync()
            samples.append((clock() - t) / runs)
    finally:
        if gc_was_enabled:
            gc.enable()
    med = statistics.median(samples)
    q = statistics.quantiles(samples, n=4) if len(samples) >= 2 else [med, med, med]
    return Timing(latency_s=med, runs=runs, repeats=repeats, spread=(q[2] - q[0]) / med,
                  min_s=min(samples), samples=samples)


class _Threads:
    """Context manager: torch intra-op threads set, flush-to-zero on, both restored."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads

    def __enter__(self) -> _Threads:
        import torch

        self.old = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        self.old_flush = torch.set_flush_denormal(True)
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        torch.set_num_threads(self.old)
        torch.set_flush_denormal(False)


def check_threads(threads: int) -> int:
    """A positive thread count; InputError otherwise."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"--threads must be a positive integer, got {threads!r}")
    return threads


def measure(specs: Sequence[str], *, threads: int = 1, dtype: str = "fp32",
            resolution: int | None = None, repeats: int = 7, min_time_s: float = 0.2,
            warmup_s: float = 0.3, per_layer: bool = False, fusion: str = "tflite",
            profile_runs: int = 5, device: str = "cpu",
            progress: Progress = _quiet) -> pd.DataFrame:
    """Latency of each model (rows of :data:`CSV_COLUMNS`), and with ``per_layer`` its
    per-layer rows too (with :data:`LAYER_COLUMNS`); ``specs`` as for :func:`expand_models`.
    ``device='cuda'`` times on the GPU (synchronising before each clock read)."""
    import torch

    from roofline.graph.layers import check_fusion

    d = check_eager_dtype(dtype)
    check_threads(threads)
    if per_layer:
        check_fusion(fusion)
    sync = None
    if device == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--device cuda: torch sees no CUDA GPU on this machine")
        if per_layer:
            raise InputError("--per-layer maps CPU profiler scopes onto layers; on a GPU use "
                             "the whole-model rows (or profile with Nsight)")
        sync = torch.cuda.synchronize
    elif device != "cpu":
        raise InputError(f"device must be cpu or cuda, got {device!r}")
    models = expand_models(specs)
    rows: list[dict[str, Any]] = []
    for k, spec in enumerate(models, 1):
        rm = real_model(spec, dtype=d, resolution=resolution, device=device)
        with _Threads(threads), torch.no_grad():
            timing = time_callable(lambda m=rm: m.module(m.input), repeats=repeats,
                                   min_time_s=min_time_s, warmup_s=warmup_s, sync=sync)
            finite = _finite(rm.module(rm.input))
        row = {"model": rm.label, "resolution": rm.resolution, "dtype": d, "threads": threads,
               "latency_ms": timing.latency_s * 1e3, "runs": timing.runs,
               "repeats": timing.repeats, "spread_pct": timing.spread_pct,
               "latency_min_ms": timing.min_s * 1e3, "device": device}
        if per_layer:
            row.update({"layer_index": None, "layer": None, "fusion": None})
        rows.append(row)
        note = "" if finite else "  (warning: the output has NaN/inf)"
        progress(f"[{k}/{len(models)}] {rm.label} @{rm.resolution}: "
                 f"{timing.latency_s * 1e3:.3f} ms (spread {timing.spread_pct:.1f} %, "
                 f"{timing.repeats} x {timing.runs} runs){note}")
        if per_layer:
            layers = profile_layers(rm, fusion=fusion, dtype=d, threads=threads,
                                    runs=profile_runs)
            total = layers["latency_ms"].sum()
            progress(f"      per layer: {len(layers) - 1} layers, profiled total "
                     f"{total:.3f} ms ({total / (timing.latency_s * 1e3):.2f}x the timed "
                     "latency: profiler cost)")
            base = {"model": rm.label, "resolution": rm.resolution, "dtype": d,
                    "threads": threads, "repeats": 1, "spread_pct": None,
                    "latency_min_ms": None, "runs": profile_runs, "device": device,
                    "fusion": fusion}
            rows += [{**base, "layer_index": int(r.layer_index), "layer": r.layer,
                      "latency_ms": r.latency_ms} for r in layers.itertuples()]
        del rm
    cols = CSV_COLUMNS + (LAYER_COLUMNS if per_layer else [])
    return pd.DataFrame(rows, columns=cols)


def _finite(out: Any) -> bool:
    import torch

    if isinstance(out, torch.Tensor):
        return bool(torch.isfinite(out.float()).all())
    if isinstance(out, (list, tuple)):
        return all(_finite(o) for o in out)
    if isinstance(out, dict):
        return all(_finite(o) for o in out.values())
    return True


# -------------------------------------------------------------------------- per layer


_SCOPE = "roofline::"


def module_self_times(module: nn.Module, x: torch.Tensor, *, runs: int = 5,
                      warmup: int = 2) -> dict[str, float]:
    """Seconds per run spent in each module's own code (its profiler scope minus its child
    modules' scopes), keyed by module path ('' is the root)."""
    import torch
    from torch.autograd.profiler import record_function
    from torch.profiler import ProfilerActivity, profile

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
    import tempfile

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
    from roofline.analysis import trace_model
    from roofline.graph.layers import group_ops, layer_table

    _, tr, _ = trace_model(rm.spec, resolution=rm.resolution)
    groups = group_ops(tr, fusion)
    with _Threads(threads):
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


# ------------------------------------------------------------------------ layer tables


def layer_tables(keys: Sequence[tuple[str, int | None, str]], *, fusion: str = "none",
                 progress: Progress = _quiet) -> dict[tuple[str, int | None, str], pd.DataFrame]:
    """The layer table of each (model, resolution, dtype), from the trace cache when it can;
    the same tables ``roofline analyze`` uses."""
    from roofline.analysis import trace_model
    from roofline.graph.layers import check_fusion, layer_table

    check_fusion(fusion)
    out = {}
    for k, (model, res, dtype) in enumerate(keys, 1):
        progress(f"[{k}/{len(keys)}] layer table of {model}" + (f" @{res}" if res else ""))
        _, tr, _ = trace_model(model, resolution=res)
        out[(model, res, dtype)] = layer_table(tr, fusion=fusion, dtype=dtype)
    return out


def default_threads() -> int:
    """Threads torch would use here (the 'all threads' setting)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1

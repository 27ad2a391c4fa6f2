"""Models with real weights, for timing: built as the analysis sees them, then materialised.

The model is built from its spec (zoo name, timm name or ``file.py:factory``) on the meta
device, exactly as the analysis sees it, then materialised (``to_empty``) and every parameter
and buffer initialised deterministically: weights ~ N(0, 1/fan_in), so activations keep their
scale through deep stacks; biases 0; other 1-D parameters (norm scales) 1; integer buffers
(index tables that a meta build cannot restore) 0, which are valid indices and cost the same.
Then a data-dependent pass (:func:`calibrate_scale`) rescales each conv/linear to unit output
and sets BatchNorm statistics from the (random) input, so activations keep a trained
network's scale at any depth. Uninitialised memory could hold NaNs or denormals, which
distort timing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roofline.analysis import model_input
from roofline.models.zoo import resolve

if TYPE_CHECKING:  # pragma: no cover
    import torch
    import torch.nn as nn

__all__ = ["EAGER_DTYPES", "RealModel", "calibrate_scale", "materialise", "real_model",
           "torch_dtype"]

#: dtypes torch eager can run a whole model in on a CPU or GPU
EAGER_DTYPES = ("fp32", "bf16", "fp16")


def torch_dtype(d: str) -> torch.dtype:
    """The torch dtype of a canonical eager dtype (:data:`EAGER_DTYPES`)."""
    import torch  # deferred: heavy import

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[d]


@dataclass
class RealModel:
    """A model with real (deterministic) weights, its input and what the zoo says of it."""

    label: str
    module: nn.Module
    input: torch.Tensor
    resolution: int | None
    spec: str
    #: the input shape asked for (None: the model's own input, found by the one resolver)
    input_shape: tuple[int, ...] | None = None


def real_model(spec: str, *, dtype: str = "fp32", resolution: int | None = None,
               device: str = "cpu", seed: int = 0,
               input_shape: tuple[int, ...] | None = None) -> RealModel:
    """Build ``spec`` as the analysis does (meta), then materialise and initialise it (see the
    module docstring); its input is ``input_shape`` when given (its first dim the batch)."""
    import torch  # deferred: heavy import

    src = resolve(spec)
    if input_shape is None and (resolution is not None or src.resolution is not None):
        src.input_shape(resolution, 1)  # a bad resolution fails before the build
    module = src.build()
    shape, found = model_input(src, module, label=src.label, resolution=resolution,
                               input_shape=input_shape)  # the one resolver
    module = materialise(module, device=device, seed=seed)
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    x = torch.randn(shape, generator=gen).to(device=device)
    calibrate_scale(module, x)
    module = module.to(torch_dtype(dtype)).eval()
    res = found.get("resolution", shape[-1] if input_shape is None else None)
    return RealModel(src.label, module, x.to(torch_dtype(dtype)), res, spec,
                     None if input_shape is None else tuple(shape))


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
    import torch  # deferred: heavy import

    nn = torch.nn
    batch_norm = torch.nn.modules.batchnorm._BatchNorm

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

    norms = [m for m in module.modules() if isinstance(m, batch_norm) and m.track_running_stats]
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
    import torch  # deferred: heavy import

    module = module.to_empty(device=device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            _init_tensor(p, name, gen, parameter=True)
        for name, b in module.named_buffers():
            _init_tensor(b, name, gen, parameter=False)
    return module


def _init_tensor(t: torch.Tensor, name: str, gen: torch.Generator, *, parameter: bool) -> None:
    import torch  # deferred: heavy import

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

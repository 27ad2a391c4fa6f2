"""The torch tracer's inputs and model state: meta stand-ins that keep the caller's tensors,
objects and model untouched.

Inputs become meta tensors with their identity kept (one tensor passed as several inputs
stays one tensor); objects holding tensors (a KV-cache object in kwargs) are copied with meta
tensors inside; a model with real weights is called through ``functional_call`` with meta
stand-ins; every module's attributes are put back after the forward, so a pre-hook that
rewrites ``m.weight`` (weight_norm, spectral_norm, pruning) leaves no trace on the model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from copy import deepcopy
from typing import Any

import torch
import torch.nn as nn
from torch.func import functional_call
from torch.utils._pytree import tree_map

from roofline.errors import InputError

__all__ = ["InputSpec", "MetaCopier", "ModuleState", "make_args", "meta_call", "storage_key"]

InputSpec = Sequence[int] | Sequence[Sequence[int]]


def make_args(input_shape: InputSpec | None, inputs: Any, dtype: torch.dtype) -> tuple:
    """The positional arguments: meta tensors of ``input_shape``, or ``inputs`` as given."""
    if (input_shape is None) == (inputs is None):
        raise InputError("give exactly one of input_shape (e.g. (1, 3, 224, 224)) or inputs")
    if inputs is not None:
        return inputs if isinstance(inputs, tuple) else (inputs,)
    shapes = _normalise_shapes(input_shape)
    size = torch.empty((), dtype=dtype).element_size()
    for s in shapes:
        if math.prod(s) * size > _MAX_BYTES:
            raise InputError(f"input shape {s} holds {math.prod(s):.3g} elements, more than a "
                             f"tensor can address (2^63 bytes); use a smaller shape or batch")
    return tuple(torch.empty(s, dtype=dtype, device="meta") for s in shapes)


#: the most bytes one torch tensor can span (its storage size is an int64)
_MAX_BYTES = 2**63 - 1


def _normalise_shapes(spec: Any) -> list[tuple[int, ...]]:
    def is_shape(s: Any) -> bool:
        return isinstance(s, (tuple, list, torch.Size)) and all(
            isinstance(d, int) and not isinstance(d, bool) for d in s)

    shapes = [spec] if is_shape(spec) else list(spec) if isinstance(spec, (list, tuple)) else None
    if not shapes or not all(is_shape(s) and len(s) > 0 for s in shapes):
        raise InputError(f"input shape {spec!r} is not a shape; expected e.g. (1, 3, 224, 224)")
    for s in shapes:
        if any(d <= 0 for d in s):
            raise InputError(f"input shape {tuple(s)} has a dimension <= 0; every dim must be positive")
    return [tuple(s) for s in shapes]


class MetaCopier:
    """Inputs as meta tensors, with their identity kept: a tensor passed as several inputs
    (``mha(x, x, x)``) becomes one meta tensor, so self-attention stays self-attention.

    Objects that hold tensors without being pytree nodes (a Hugging Face cache object in
    kwargs) are copied with their tensors swapped for meta ones, so the forward neither sees
    real data nor changes the caller's object; their tensors are inputs (``held``).
    """

    def __init__(self) -> None:
        self.memo: dict[int, torch.Tensor] = {}
        self.held: list[torch.Tensor] = []
        self.storages: dict[tuple[int, torch.dtype], torch.Tensor] = {}

    def tensor(self, x: torch.Tensor) -> torch.Tensor:
        m = self.memo.get(id(x))
        if m is None:
            m = x if x.device.type == "meta" else self._meta_view(x)
            self.memo[id(x)] = m
        return m

    def _meta_view(self, x: torch.Tensor) -> torch.Tensor:
        """A meta tensor like ``x``; views of one storage (x and x.mT) stay views of one."""
        key = storage_key(x)
        if key is None:
            return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device="meta")
        base = self.storages.get((key, x.dtype))
        if base is None:
            n = x.untyped_storage().nbytes() // max(x.element_size(), 1)
            base = self.storages[(key, x.dtype)] = torch.empty(n, dtype=x.dtype, device="meta")
        return base.as_strided(x.shape, x.stride(), x.storage_offset())

    def tree(self, tree: Any) -> Any:
        return tree_map(self.leaf, tree)

    def leaf(self, x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return self.tensor(x)
        found = _held_tensors(x)
        if not found:
            return x
        memo: dict[int, Any] = {id(t): self.tensor(t) for t in found}
        try:
            copy = deepcopy(x, memo)
        except Exception as e:
            raise InputError(f"an input of type {type(x).__name__} holds tensors but cannot "
                             f"be copied to trace it ({type(e).__name__}: {e}); pass its "
                             "tensors directly") from e
        self.held += [self.memo[id(t)] for t in found]
        return copy


def storage_key(t: torch.Tensor) -> int | None:
    """An identity of ``t``'s storage (None for tensors without one: sparse, nested)."""
    try:
        return t.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError, AttributeError):
        return None


def _held_tensors(obj: Any, depth: int = 6) -> list[torch.Tensor]:
    """Tensors reachable from a plain object's attributes and containers (not modules)."""
    found: dict[int, torch.Tensor] = {}
    seen: set[int] = set()

    def walk(x: Any, d: int) -> None:
        if isinstance(x, torch.Tensor):
            found.setdefault(id(x), x)
            return
        if d < 0 or id(x) in seen or isinstance(x, (str, bytes, int, float, bool, type,
                                                     nn.Module)) or x is None:
            return
        seen.add(id(x))
        if isinstance(x, dict):
            for v in x.values():
                walk(v, d - 1)
        elif isinstance(x, (list, tuple, set, frozenset)):
            for v in x:
                walk(v, d - 1)
        else:
            for v in getattr(x, "__dict__", {}).values():
                walk(v, d - 1)
            for cls in type(x).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    if isinstance(slot, str) and hasattr(x, slot):
                        walk(getattr(x, slot), d - 1)

    walk(obj, depth)
    return list(found.values())


class ModuleState:
    """Every module's attributes as they were, put back after the trace: a forward
    pre-hook that replaces ``m.weight`` (old-style weight_norm, spectral_norm, pruning)
    or a forward that caches something on the module must not change the user's model."""

    def __init__(self, model: nn.Module) -> None:
        self.saved = [(m, dict(m.__dict__), dict(m._parameters), dict(m._buffers),
                       dict(m._modules)) for m in model.modules()]

    def restore(self) -> None:
        for m, attrs, params, buffers, modules in self.saved:
            for now, then in ((m._parameters, params), (m._buffers, buffers),
                              (m._modules, modules)):
                if now.keys() != then.keys() or any(now[k] is not v for k, v in then.items()):
                    now.clear()
                    now.update(then)
            d = m.__dict__
            for k in [k for k in d if k not in attrs]:
                del d[k]
            for k, v in attrs.items():
                if d.get(k) is not v:
                    d[k] = v



def meta_call(model: nn.Module) -> tuple[Any, dict[str, torch.Tensor] | None,
                                          dict[int, torch.Tensor]]:
    """How to call the model: directly when it lives on meta, else with meta stand-ins.

    Returns the call, its state argument, and id(original weight) -> the tensor the forward
    will actually read.
    """
    tensors = list(itertools.chain(model.parameters(), model.buffers()))
    if all(t.device.type == "meta" for t in tensors):
        return (lambda _state, a, k: model(*a, **k)), None, {}
    # real weights: substitute meta tensors for the call (functional_call restores them)
    stand_ins: dict[int, torch.Tensor] = {}
    state: dict[str, torch.Tensor] = {}
    for name, t in itertools.chain(model.named_parameters(remove_duplicate=False),
                                   model.named_buffers(remove_duplicate=False)):
        if id(t) not in stand_ins:
            stand_ins[id(t)] = torch.empty_like(t, device="meta")
        state[name] = stand_ins[id(t)]
    return (lambda s, a, k: functional_call(model, s, a, k, strict=False)), state, stand_ins

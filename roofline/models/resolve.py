"""Model specs -> a :class:`ModelSource`: how to build the model and its default input.

A model spec is one of:

- a zoo name (``mnv4_conv_medium``) or one of its aliases (``MNv4-Conv-M``,
  ``mobilenetv4_conv_medium``): a timm constructor at the resolution the MobileNetV4 paper used;
- any timm model name (``resnet50``, or ``timm:mobileone_s0`` to bypass the zoo), at the
  resolution of timm's default config;
- ``path/to/file.py:factory``: a function in a Python file that returns an ``nn.Module``
  (analysed as the factory returns it, in either form).

Models are built without pretrained weights on the meta device, so nothing is downloaded
and nothing is allocated (:mod:`roofline.models.build`).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roofline.errors import (
    InputError,
    NoInputShapeError,
    TraceError,
    UnknownModelError,
    did_you_mean,
)
from roofline.models.build import build_timm, check_batch, check_form, check_resolution
from roofline.models.registry import ZooEntry, close_names, lookup

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

__all__ = ["ModelSource", "parse_shape", "resolve"]


@dataclass(frozen=True)
class ModelSource:
    """A resolved model spec: a label, how to build it, and its default input resolution.

    ``builder(form)`` returns a fresh module on meta; :meth:`build` checks the form.
    """

    label: str
    builder: Callable[[str], nn.Module]
    resolution: int | None
    in_chans: int = 3
    entry: ZooEntry | None = None
    kind: str = "zoo"  # zoo | timm | file
    #: what the last build declared: "input_shape" when a factory returned (model, shape)
    declared: dict[str, Any] = field(default_factory=dict, compare=False)

    def build(self, form: str = "inference") -> nn.Module:
        """A fresh module in the given form (see the module docstring)."""
        check_form(form)
        return self.builder(form)

    def input_shape(self, resolution: int | None = None, batch: int = 1) -> tuple[int, ...]:
        """(batch, channels, H, W) at the given or default resolution."""
        res = self.resolution if resolution is None else resolution
        if res is None:
            raise NoInputShapeError(self.label)
        if self.entry is not None:
            self.entry.check_resolution(res)
        else:
            check_resolution(res)
        check_batch(batch)
        return (batch, self.in_chans, res, res)


def resolve(spec: str) -> ModelSource:
    """Turn a model spec (zoo name, timm name, or ``file.py:factory``) into a ModelSource."""
    spec = str(spec).strip()
    entry = lookup(spec)
    if entry is not None:
        return ModelSource(entry.name, entry.build, entry.resolution, entry=entry, kind="zoo")
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        return _resolve_file(spec)
    name = spec[len("timm:"):] if spec.startswith("timm:") else spec
    timm_names = _timm_names()
    if name in timm_names:
        res, chans = _timm_default_resolution(name)
        return ModelSource(name, lambda form: build_timm(name, form), res, chans, kind="timm")
    raise UnknownModelError(
        f"unknown model {spec!r}{close_names(spec, sorted(timm_names))}; "
        "expected a zoo name (`roofline zoo list`), a timm model name or path/to/file.py:factory"
    )


def _timm_names() -> set[str]:
    """Every model name this timm registers."""
    import timm  # deferred: heavy import

    return set(timm.list_models())


def _timm_default_resolution(name: str) -> tuple[int, int]:
    """(resolution, in_chans) from timm's pretrained config, without building the model."""
    from timm.models import get_pretrained_cfg  # deferred: heavy import

    cfg = get_pretrained_cfg(name)
    size = getattr(cfg, "input_size", None) or (3, 224, 224)
    return int(size[-1]), int(size[0])


def _resolve_file(spec: str) -> ModelSource:
    path_s, factory = spec.rsplit(":", 1)
    path = Path(path_s)
    if not path.is_file():
        raise UnknownModelError(f"model file {path_s!r} does not exist; expected path/to/file.py:factory")
    if not factory.isidentifier():
        raise UnknownModelError(f"{factory!r} in {spec!r} is not a Python name; expected path/to/file.py:factory")

    declared: dict[str, Any] = {}

    def build(form: str = "inference") -> nn.Module:  # the factory decides the form
        import torch  # deferred: heavy import

        module_name = f"_roofline_user_{abs(hash(str(path.resolve())))}"
        try:
            s = importlib.util.spec_from_file_location(module_name, path)
            mod = importlib.util.module_from_spec(s)  # type: ignore[arg-type]
            sys.modules[module_name] = mod
            s.loader.exec_module(mod)  # type: ignore[union-attr]
        except Exception as e:  # a user file may raise anything on import
            raise TraceError(f"importing {path_s} failed: {type(e).__name__}: {e}") from e
        fn = getattr(mod, factory, None)
        if not callable(fn):
            found = [n for n in vars(mod) if callable(vars(mod)[n]) and not n.startswith("_")]
            raise UnknownModelError(
                f"{path_s} has no callable {factory!r}{did_you_mean(factory, found)}"
            )
        try:
            with torch.device("meta"):
                model = fn()
        except Exception as e:
            raise TraceError(f"{path_s}:{factory}() raised {type(e).__name__}: {e}") from e
        declared.pop("input_shape", None)
        if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], torch.nn.Module):
            model, declared["input_shape"] = model  # a factory may return (model, input_shape)
        if not isinstance(model, torch.nn.Module):
            raise TraceError(f"{path_s}:{factory}() returned {type(model).__name__}, expected an "
                             "nn.Module or (nn.Module, input_shape)")
        return model.eval()

    return ModelSource(spec, build, None, kind="file", declared=declared)


def parse_shape(text: str, option: str = "--input-shape") -> tuple[int, ...]:
    """'1,3,224,224' or '1x3x224x224' -> (1, 3, 224, 224): THE shape parser, for the command
    line's ``--input-shape`` and a measurements CSV's ``input_shape`` cells (``option`` names
    where the text came from)."""
    parts = re.split(r"\s*[,x]\s*", text.strip())
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a shape; expected e.g. 1,3,224,224") from None
    if not shape or any(d <= 0 for d in shape):
        raise InputError(f"{option} {text!r} must be positive integers, e.g. 1,3,224,224")
    return shape

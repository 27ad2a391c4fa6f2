"""Model names -> an ``nn.Module`` built on the meta device, its input shape, published facts.

A model spec is one of:

- a zoo name (``mnv4_conv_medium``) or one of its aliases: a timm constructor at the
  resolution the MobileNetV4 paper used, with the paper's published top-1, params and MACs;
- any timm model name (``resnet50``), at the resolution of timm's default config;
- ``path/to/file.py:factory``: a function in a Python file that returns an ``nn.Module``.

Models are built without pretrained weights on the meta device, so nothing is downloaded
and nothing is allocated. torch and timm are imported only when a model is built.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, RooflineError, TraceError, UnknownModelError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

PAPER = "Qin et al., MobileNetV4, arXiv 2404.10518, Table 6 (v2)"
PAPER_URL = "https://arxiv.org/abs/2404.10518"


@dataclass(frozen=True)
class Published:
    """What a paper reports for a model: the numbers the zoo is checked against."""

    top1: float | None
    params_m: float | None
    macs_g: float | None
    source: str = PAPER
    url: str = PAPER_URL


@dataclass(frozen=True)
class ZooEntry:
    """A named model of the zoo: how to build it and what was published about it."""

    name: str
    family: str
    timm_name: str
    resolution: int
    published: Published
    aliases: tuple[str, ...] = ()
    timm_kwargs: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def build(self) -> nn.Module:
        """The model on the meta device, in eval mode, without pretrained weights."""
        return _build_timm(self.timm_name, **self.timm_kwargs)


_REGISTRY: dict[str, ZooEntry] = {}
_ALIASES: dict[str, str] = {}


def _alias_key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register(entry: ZooEntry) -> ZooEntry:
    """Add an entry to the zoo (its name and aliases must be new)."""
    for key in (entry.name, *entry.aliases):
        k = _alias_key(key)
        if k in _ALIASES and _ALIASES[k] != entry.name:
            raise RooflineError(f"zoo name or alias {key!r} is already taken by {_ALIASES[k]!r}")
    _REGISTRY[entry.name] = entry
    for key in (entry.name, *entry.aliases):
        _ALIASES[_alias_key(key)] = entry.name
    return entry


def names(pattern: str = "*") -> list[str]:
    """Zoo names matching a glob pattern, in registration order."""
    return [n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)]


def get(name: str) -> ZooEntry:
    """The zoo entry for a name or alias; UnknownModelError with close names otherwise."""
    key = _alias_key(name)
    if key in _ALIASES:
        return _REGISTRY[_ALIASES[key]]
    raise UnknownModelError(
        f"unknown zoo model {name!r}{did_you_mean(name, list(_REGISTRY) + list(_ALIASES))}; "
        "`roofline zoo list` shows the zoo"
    )


def lookup(name: str) -> ZooEntry | None:
    """The zoo entry for a name or alias, or None."""
    key = _alias_key(name)
    return _REGISTRY[_ALIASES[key]] if key in _ALIASES else None


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class ModelSource:
    """A resolved model spec: a label, how to build it, and its default input resolution."""

    label: str
    build: Callable[[], nn.Module]
    resolution: int | None
    in_chans: int = 3
    entry: ZooEntry | None = None
    kind: str = "zoo"  # zoo | timm | file

    def input_shape(self, resolution: int | None = None, batch: int = 1) -> tuple[int, ...]:
        """(batch, channels, H, W) at the given or default resolution."""
        res = self.resolution if resolution is None else resolution
        if res is None:
            raise InputError(
                f"{self.label} has no default input size; pass --resolution or --input-shape"
            )
        check_resolution(res)
        check_batch(batch)
        return (batch, self.in_chans, res, res)


def check_resolution(resolution: int) -> None:
    """Reject resolutions no image model can take."""
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution <= 0:
        raise InputError(f"resolution must be a positive integer (pixels), got {resolution!r}")
    if resolution > 16384:
        raise InputError(f"resolution {resolution} is larger than 16384 px; expected at most 16384")


def check_batch(batch: int) -> None:
    """Reject batch sizes that are not positive integers."""
    if not isinstance(batch, int) or isinstance(batch, bool) or batch <= 0:
        raise InputError(f"batch must be a positive integer, got {batch!r}")


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
        return ModelSource(name, lambda: _build_timm(name), res, chans, kind="timm")
    raise UnknownModelError(
        f"unknown model {spec!r}{did_you_mean(spec, list(_REGISTRY) + sorted(timm_names))}; "
        "expected a zoo name (`roofline zoo list`), a timm model name or path/to/file.py:factory"
    )


def _timm_names() -> set[str]:
    import timm

    return set(timm.list_models())


def _timm_default_resolution(name: str) -> tuple[int, int]:
    """(resolution, in_chans) from timm's pretrained config, without building the model."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    size = getattr(cfg, "input_size", None) or (3, 224, 224)
    return int(size[-1]), int(size[0])


def _build_timm(name: str, **kwargs: Any) -> nn.Module:
    import timm
    import torch

    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False, **kwargs)
    return model.eval()


def _resolve_file(spec: str) -> ModelSource:
    path_s, factory = spec.rsplit(":", 1)
    path = Path(path_s)
    if not path.is_file():
        raise UnknownModelError(f"model file {path_s!r} does not exist; expected path/to/file.py:factory")
    if not factory.isidentifier():
        raise UnknownModelError(f"{factory!r} in {spec!r} is not a Python name; expected path/to/file.py:factory")

    def build() -> nn.Module:
        import torch

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
        if not isinstance(model, torch.nn.Module):
            raise TraceError(f"{path_s}:{factory}() returned {type(model).__name__}, expected an nn.Module")
        return model.eval()

    return ModelSource(spec, build, None, kind="file")


# --------------------------------------------------------------------------- entries

_MNV4 = "MobileNetV4"
for _e in (
    ZooEntry("mnv4_conv_small", _MNV4, "mobilenetv4_conv_small", 224,
             Published(73.8, 3.8, 0.2), aliases=("MNv4-Conv-S", "mobilenetv4_conv_small")),
    ZooEntry("mnv4_conv_medium", _MNV4, "mobilenetv4_conv_medium", 256,
             Published(79.9, 9.2, 1.0), aliases=("MNv4-Conv-M", "mobilenetv4_conv_medium")),
    ZooEntry("mnv4_conv_large", _MNV4, "mobilenetv4_conv_large", 384,
             Published(82.9, 31.0, 5.9), aliases=("MNv4-Conv-L", "mobilenetv4_conv_large")),
    ZooEntry("mnv4_hybrid_medium", _MNV4, "mobilenetv4_hybrid_medium", 256,
             Published(80.7, 10.5, 1.2), aliases=("MNv4-Hybrid-M", "mobilenetv4_hybrid_medium"),
             note="timm's definition (the official code), which differs from the paper's Table 13"),
    ZooEntry("mnv4_hybrid_large", _MNV4, "mobilenetv4_hybrid_large", 384,
             Published(83.4, 35.9, 7.2), aliases=("MNv4-Hybrid-L", "mobilenetv4_hybrid_large")),
):
    register(_e)

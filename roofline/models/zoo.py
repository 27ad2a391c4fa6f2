"""Model names -> an ``nn.Module`` built on the meta device, its input shape, published facts.

A model spec is one of:

- a zoo name (``mnv4_conv_medium``) or one of its aliases (``MNv4-Conv-M``,
  ``mobilenetv4_conv_medium``): a timm constructor at the resolution the MobileNetV4 paper used,
  with the published top-1, params and MACs, each figure with its source;
- any timm model name (``resnet50``, or ``timm:mobileone_s0`` to bypass the zoo), at the
  resolution of timm's default config;
- ``path/to/file.py:factory``: a function in a Python file that returns an ``nn.Module``.

Models are built without pretrained weights on the meta device, so nothing is downloaded
and nothing is allocated. torch and timm are imported only when a model is built.

Forms. A model is analysed in its *inference* form by default: the form it is deployed in.
For re-parameterisable models (MobileOne, FastViT, RepVGG-style blocks, conv+BN ``fuse()``
modules) that is timm's ``reparameterize_model``, which folds the training-time branches into
one conv; the MobileNetV4 paper measured MobileOne and FastViT that way. The *training* form
is the model as constructed. A ``file.py:factory`` model is analysed as its factory returns it,
in either form.

Published metadata. Every figure (top-1, params, MACs) is a :class:`Cited`: a value with the
paper and table it comes from, or ``None`` with the reason no publication gives it. An entry
whose metadata is incomplete is refused by :func:`register`.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roofline.errors import (InputError, NoInputShapeError, RooflineError, TraceError,
                             UnknownModelError, did_you_mean)

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

FORMS = ("inference", "training")
FIGURES = ("top1", "params_m", "macs_g")   # the published figures every entry carries
FAMILIES = ("MobileNetV1", "MobileNetV2", "MobileNetV3", "MobileNetV4", "MobileOne", "FastViT",
            "EfficientViT", "ConvNeXt", "EfficientNet")


class ZooError(RooflineError):
    """A zoo entry that cannot be registered (incomplete metadata, a name already taken)."""


# --------------------------------------------------------------------------- published facts


@dataclass(frozen=True)
class Source:
    """A publication: a short label for tables, the full citation, a URL."""

    short: str
    citation: str
    url: str = ""


@dataclass(frozen=True)
class Cited:
    """One published figure: its value as printed and where it comes from.

    ``value`` None means no publication gives the figure; ``note`` then says why (required).
    ``decimals`` is how many decimals the source printed: "0.2" G means 0.15-0.25 G, which
    the fidelity report needs to tell rounding from a real difference.
    """

    value: float | None
    source: Source | None
    note: str = ""
    decimals: int | None = None

    @property
    def text(self) -> str:
        """The figure as the source printed it ("1.0", "31"); '-' when there is none."""
        if self.value is None:
            return "-"
        return f"{self.value:.{self.decimals}f}" if self.decimals is not None else f"{self.value:g}"

    @property
    def interval(self) -> tuple[float, float] | None:
        """The values that print as ``value`` at the source's precision."""
        if self.value is None or self.decimals is None:
            return None
        half = 0.5 * 10 ** -self.decimals
        return self.value - half, self.value + half


def cite(text: str | None, source: Source | None, note: str = "") -> Cited:
    """A figure as printed in ``source`` ("0.2", "31"); None with a note when none exists."""
    if text is None:
        return Cited(None, source, note)
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return Cited(float(text), source, note, decimals)


@dataclass(frozen=True)
class Published:
    """What was published about a model: top-1 (%), params (M) and MACs (G), each cited.

    The plain attributes ``top1``, ``params_m`` and ``macs_g`` are the values (None when no
    publication gives one); :meth:`cited` has the source and notes.
    """

    figures: dict[str, Cited]

    @property
    def top1(self) -> float | None:
        """ImageNet-1k top-1 accuracy (%), as published."""
        return self._value("top1")

    @property
    def params_m(self) -> float | None:
        """Parameters (millions), as published."""
        return self._value("params_m")

    @property
    def macs_g(self) -> float | None:
        """Multiply-accumulates (G, 1 MAC = 2 FLOPs), as published."""
        return self._value("macs_g")

    @property
    def source(self) -> str:
        """The distinct sources of the figures, short labels joined with '; '."""
        return "; ".join(s.short for s in self.sources()) or "none published"

    def sources(self) -> list[Source]:
        """Distinct sources of the figures, in figure order."""
        out: list[Source] = []
        for name in FIGURES:
            c = self.figures.get(name)
            if c is not None and c.source is not None and c.source not in out:
                out.append(c.source)
        return out

    def cited(self, figure: str) -> Cited:
        """The cited figure ``top1``, ``params_m`` or ``macs_g``."""
        return self.figures[figure]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: values, and per figure its source, URL and note."""
        out: dict[str, Any] = {name: self._value(name) for name in FIGURES}
        out["source"] = self.source
        out["figures"] = {
            name: {"value": c.value, "source": c.source.citation if c.source else None,
                   "url": c.source.url if c.source else None, "note": c.note}
            for name, c in self.figures.items()}
        return out

    def _value(self, name: str) -> float | None:
        c = self.figures.get(name)
        return None if c is None else c.value


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class ZooEntry:
    """A named model of the zoo: how to build it and what was published about it.

    ``timm_name`` is a timm model name, or with ``generator`` the variant name passed to one
    of timm's architecture generators at ``channel_multiplier`` (for widths timm does not
    register). ``reparameterize``: the inference form is timm's ``reparameterize_model``.
    ``min_resolution`` with ``resolution_rule`` (why) is the smallest input the architecture
    takes. ``differs``: how the built model differs from the published one ("" = it does not).
    The first alias with a capital letter is the paper's display name.
    """

    name: str
    family: str
    timm_name: str
    resolution: int
    published: Published
    aliases: tuple[str, ...] = ()
    generator: str = ""
    channel_multiplier: float | None = None
    timm_kwargs: dict[str, Any] = field(default_factory=dict)
    reparameterize: bool = False
    min_resolution: int = 1
    resolution_rule: str = ""
    differs: str = ""
    note: str = ""

    @property
    def display(self) -> str:
        """The paper's name for the model (first capitalised alias), else the zoo name."""
        return next((a for a in self.aliases if any(c.isupper() for c in a)), self.name)

    @property
    def constructor(self) -> str:
        """How the model is built, as Python a user could type."""
        kw = "".join(f", {k}={v!r}" for k, v in self.timm_kwargs.items())
        if self.generator:
            call = (f"{self.generator}({self.timm_name!r}, channel_multiplier="
                    f"{self.channel_multiplier}{kw})")
        else:
            call = f"timm.create_model({self.timm_name!r}, pretrained=False{kw})"
        return call

    def build(self, form: str = "inference", device: str = "meta") -> nn.Module:
        """The model in eval mode without pretrained weights, on ``device`` (meta: nothing
        allocated), in its inference (re-parameterised) or training form."""
        check_form(form)
        if self.generator:
            fn = _generator(self.generator, self.name)
            # a config of its own: timm would log that the variant has no pretrained config
            cfg = {"architecture": self.timm_name, "num_classes": 1000,
                   "input_size": (3, self.resolution, self.resolution)}

            def make() -> nn.Module:
                return fn(self.timm_name, channel_multiplier=self.channel_multiplier,
                          pretrained=False, pretrained_cfg=cfg, **self.timm_kwargs)
        else:
            def make() -> nn.Module:
                return _create_timm(self.timm_name, **self.timm_kwargs)
        # only entries declared re-parameterisable are (a test checks the declarations)
        return _finish(make, form if self.reparameterize else "training", device, self.name)

    def check_resolution(self, resolution: int) -> None:
        """InputError naming the constraint when the architecture cannot take ``resolution``."""
        check_resolution(resolution)
        if resolution < self.min_resolution:
            tries = " or ".join(map(str, dict.fromkeys((self.min_resolution, self.resolution))))
            raise InputError(
                f"{self.name} needs a resolution of at least {self.min_resolution} px "
                f"({self.resolution_rule}), got {resolution}; try {tries}")

    def summary(self) -> dict[str, Any]:
        """The entry and its published figures in one flat row (a row of ``roofline zoo
        list``): name, display, family, resolution, params_m, macs_g, top1 (None where none
        is published), reparameterize, source."""
        p = self.published
        return {"name": self.name, "display": self.display, "family": self.family,
                "resolution": self.resolution, "params_m": p.params_m, "macs_g": p.macs_g,
                "top1": p.top1, "reparameterize": self.reparameterize, "source": p.source}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (the contract of ``roofline zoo show --format json``)."""
        return {
            "name": self.name, "display": self.display, "family": self.family,
            "resolution": self.resolution, "aliases": list(self.aliases),
            "constructor": self.constructor, "timm_name": self.timm_name,
            "reparameterize": self.reparameterize,
            "forms": {"inference": "re-parameterised (timm reparameterize_model)"
                      if self.reparameterize else "as constructed (nothing to re-parameterise)",
                      "training": "as constructed"},
            "min_resolution": self.min_resolution, "resolution_rule": self.resolution_rule,
            "differs": self.differs, "note": self.note,
            "published": self.published.to_dict(),
        }


_REGISTRY: dict[str, ZooEntry] = {}
_ALIASES: dict[str, str] = {}


def _alias_key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def validate(entry: ZooEntry) -> None:
    """ZooError (one line) when an entry is incomplete: every published figure must have a
    value with a source, or no value and the reason; the family, resolution and constructor
    must be given."""
    where = f"zoo entry {entry.name!r}"
    if not entry.name or _alias_key(entry.name) != entry.name:
        raise ZooError(f"zoo entry name {entry.name!r} must be lower case with underscores, "
                       "e.g. 'mnv4_conv_medium'")
    if not entry.family:
        raise ZooError(f"{where} has no family; expected one like {', '.join(FAMILIES[:4])}")
    if not entry.timm_name:
        raise ZooError(f"{where} has no timm_name; expected the timm model (or generator variant)")
    if not isinstance(entry.resolution, int) or entry.resolution < max(1, entry.min_resolution):
        raise ZooError(f"{where} has resolution {entry.resolution!r}; expected an integer "
                       f">= {max(1, entry.min_resolution)}")
    if entry.min_resolution > 1 and not entry.resolution_rule:
        raise ZooError(f"{where} sets min_resolution without resolution_rule (why)")
    if entry.generator and not entry.channel_multiplier:
        raise ZooError(f"{where} names a generator but no channel_multiplier")
    if not isinstance(entry.published, Published):
        raise ZooError(f"{where} has no published metadata; give Published(figures=...) with "
                       f"{', '.join(FIGURES)}, each cited or None with the reason")
    for name in FIGURES:
        c = entry.published.figures.get(name)
        if c is None:
            raise ZooError(f"{where} is incomplete: published {name} is absent; give it with its "
                           "source, or None with the reason no publication gives it")
        if c.value is None and not c.note.strip():
            raise ZooError(f"{where} is incomplete: published {name} is None without a reason; "
                           "say why no publication gives it")
        if c.value is not None and (c.source is None or not c.source.citation.strip()):
            raise ZooError(f"{where} is incomplete: published {name} = {c.value} has no source")
        if c.value is not None and not (math.isfinite(c.value) and c.value > 0):
            raise ZooError(f"{where}: published {name} = {c.value}; expected a positive number")
    extra = set(entry.published.figures) - set(FIGURES)
    if extra:
        raise ZooError(f"{where}: unknown published figure(s) {sorted(extra)}; expected "
                       f"{', '.join(FIGURES)}")


def register(entry: ZooEntry) -> ZooEntry:
    """Add an entry to the zoo: complete metadata (:func:`validate`), new name and aliases."""
    validate(entry)
    for key in (entry.name, *entry.aliases):
        k = _alias_key(key)
        if k in _ALIASES and _ALIASES[k] != entry.name:
            raise ZooError(f"zoo name or alias {key!r} is already taken by {_ALIASES[k]!r}")
    _REGISTRY[entry.name] = entry
    for key in (entry.name, *entry.aliases):
        _ALIASES[_alias_key(key)] = entry.name
    return entry


def unregister(name: str) -> None:
    """Remove an entry and its aliases (for tests and user scripts that re-register)."""
    entry = _REGISTRY.pop(name, None)
    if entry is not None:
        for key in (entry.name, *entry.aliases):
            _ALIASES.pop(_alias_key(key), None)


def names(pattern: str = "*") -> list[str]:
    """Zoo names matching a glob pattern, in registration order."""
    return [n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)]


def entries(pattern: str = "*") -> list[ZooEntry]:
    """Zoo entries whose name matches a glob pattern, in registration order."""
    return [_REGISTRY[n] for n in names(pattern)]


def matching(pattern: str) -> list[ZooEntry]:
    """:func:`entries` for a pattern that must match: RooflineError when nothing does."""
    found = entries(pattern)
    if not found:
        raise RooflineError(f"no zoo model matches {pattern!r}; `roofline zoo list` shows them all")
    return found


def _suggest(name: str, extra: list[str] | None = None) -> str:
    """' (did you mean a, b?)' over zoo names and aliases (an alias shown as its entry's
    name, each entry once) and ``extra`` names; '' when nothing is close."""
    import difflib

    shown = {a.lower(): e.name for e in _REGISTRY.values() for a in (e.name, *e.aliases)}
    for t in extra or []:
        shown.setdefault(t.lower(), t)
    key = name.strip().lower()
    hits = difflib.get_close_matches(key, list(shown), n=12, cutoff=0.6)
    if len(key) >= 3:  # prefixes difflib scores low ("mnv4" -> mnv4_conv_small)
        hits += [c for c in shown if key in c]
    names = list(dict.fromkeys(shown[h] for h in hits))[:3]
    return f" (did you mean {', '.join(names)}?)" if names else ""


def get(name: str) -> ZooEntry:
    """The zoo entry for a name or alias; UnknownModelError with close names otherwise."""
    key = _alias_key(name)
    if key in _ALIASES:
        return _REGISTRY[_ALIASES[key]]
    raise UnknownModelError(
        f"unknown zoo model {name!r}{_suggest(name)}; `roofline zoo list` shows the zoo")


def lookup(name: str) -> ZooEntry | None:
    """The zoo entry for a name or alias, or None."""
    key = _alias_key(name)
    return _REGISTRY[_ALIASES[key]] if key in _ALIASES else None


# --------------------------------------------------------------------------- resolution


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


def check_form(form: str) -> str:
    """Reject forms other than 'inference' and 'training'."""
    if form not in FORMS:
        raise InputError(f"unknown model form {form!r}; expected one of {', '.join(FORMS)}")
    return form


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
        return ModelSource(name, lambda form: _build_timm(name, form), res, chans, kind="timm")
    raise UnknownModelError(
        f"unknown model {spec!r}{_suggest(spec, sorted(timm_names))}; "
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


# --------------------------------------------------------------------------- building

_REPARAM_METHODS = ("fuse", "reparameterize", "switch_to_deploy")


def reparameterizable(model: nn.Module) -> bool:
    """Whether timm's ``reparameterize_model`` would change the model (a module below the
    root has ``fuse``, ``reparameterize`` or ``switch_to_deploy``)."""
    return any(hasattr(m, a) for m in list(model.modules())[1:] for a in _REPARAM_METHODS)


def _create_timm(name: str, **kwargs: Any) -> nn.Module:
    import timm

    return timm.create_model(name, pretrained=False, **kwargs)


def _generator(path: str, entry: str) -> Callable[..., nn.Module]:
    module, _, fn = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), fn)
    except (ImportError, AttributeError) as e:
        raise TraceError(f"zoo entry {entry!r} needs {path}, which this timm does not have "
                         f"({type(e).__name__}); a timm 1.0 release has it") from e


def _finish(make: Callable[[], nn.Module], form: str, device: str, label: str) -> nn.Module:
    """Build with ``make`` on ``device``, eval mode, re-parameterised in the inference form."""
    import torch

    with torch.device(device):
        model = make().eval()
        if form == "inference" and reparameterizable(model):
            from timm.utils.model import reparameterize_model

            try:
                model = reparameterize_model(model, inplace=True).eval()
            except Exception as e:  # a third-party fuse() may fail on meta tensors
                raise TraceError(
                    f"re-parameterising {label} for inference failed ({type(e).__name__}: "
                    f"{' '.join(str(e).split())[:200]}); pass --training-form to analyse it as "
                    "constructed") from e
    return model


def _build_timm(name: str, form: str = "inference", **kwargs: Any) -> nn.Module:
    return _finish(lambda: _create_timm(name, **kwargs), form, "meta", name)


def _resolve_file(spec: str) -> ModelSource:
    path_s, factory = spec.rsplit(":", 1)
    path = Path(path_s)
    if not path.is_file():
        raise UnknownModelError(f"model file {path_s!r} does not exist; expected path/to/file.py:factory")
    if not factory.isidentifier():
        raise UnknownModelError(f"{factory!r} in {spec!r} is not a Python name; expected path/to/file.py:factory")

    declared: dict[str, Any] = {}

    def build(form: str = "inference") -> nn.Module:  # the factory decides the form
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
        declared.pop("input_shape", None)
        if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], torch.nn.Module):
            model, declared["input_shape"] = model  # a factory may return (model, input_shape)
        if not isinstance(model, torch.nn.Module):
            raise TraceError(f"{path_s}:{factory}() returned {type(model).__name__}, expected an "
                             "nn.Module or (nn.Module, input_shape)")
        return model.eval()

    return ModelSource(spec, build, None, kind="file", declared=declared)


# --------------------------------------------------------------------------- sources

_ARXIV_MNV4 = "https://arxiv.org/abs/2404.10518"
MNV4_TABLE6 = Source(
    "MNv4 Table 6",
    "Qin et al. 2024, MobileNetV4: Universal Models for the Mobile Ecosystem, arXiv 2404.10518, "
    "Table 6 (v2; Table 5 in v1)", _ARXIV_MNV4)
MNV4_TEXT = Source(
    "MNv4 text",
    "Qin et al. 2024, MobileNetV4, arXiv 2404.10518, text on the retrained baselines "
    "(MobileNetV1 74.0%, V2 73.4%, V3 75.5%)", _ARXIV_MNV4)
MNV3_TABLE3 = Source(
    "MNv3 Table 3",
    "Howard et al. 2019, Searching for MobileNetV3, arXiv 1905.02244, Table 3",
    "https://arxiv.org/abs/1905.02244")
EFFNET_TABLE2 = Source(
    "EfficientNet Table 2",
    "Tan & Le 2019, EfficientNet: Rethinking Model Scaling for CNNs, arXiv 1905.11946, Table 2 "
    "(its 'FLOPS' are multiply-adds)", "https://arxiv.org/abs/1905.11946")

#: kept for callers of the first skeleton
PAPER = MNV4_TABLE6.citation
PAPER_URL = _ARXIV_MNV4


def _table6(top1: str, params_m: str, macs_g: str) -> Published:
    return Published({"top1": cite(top1, MNV4_TABLE6), "params_m": cite(params_m, MNV4_TABLE6),
                      "macs_g": cite(macs_g, MNV4_TABLE6)})


def _unpublished(why: str) -> Published:
    return Published({f: cite(None, None, why) for f in FIGURES})


_EFFNET = "timm.models.efficientnet"
_MNV3 = "timm.models.mobilenetv3"
_CONVNEXT_RULE = ("its 4x4 stride-4 stem and three 2x2 stride-2 downsamples need a feature map "
                  "of at least 2 px before each downsample")

_ENTRIES = (
    # ---- MobileNetV4 (the layer tables of v2 Tables 11-15 match timm block for block)
    ZooEntry("mnv4_conv_small", "MobileNetV4", "mobilenetv4_conv_small", 224,
             _table6("73.8", "3.8", "0.2"),
             aliases=("MNv4-Conv-S", "MobileNetV4-Conv-S", "mobilenetv4_conv_small")),
    ZooEntry("mnv4_conv_medium", "MobileNetV4", "mobilenetv4_conv_medium", 256,
             _table6("79.9", "9.2", "1.0"),
             aliases=("MNv4-Conv-M", "MobileNetV4-Conv-M", "mobilenetv4_conv_medium")),
    ZooEntry("mnv4_conv_large", "MobileNetV4", "mobilenetv4_conv_large", 384,
             _table6("82.9", "31", "5.9"),
             aliases=("MNv4-Conv-L", "MobileNetV4-Conv-L", "mobilenetv4_conv_large")),
    ZooEntry("mnv4_hybrid_medium", "MobileNetV4", "mobilenetv4_hybrid_medium", 256,
             _table6("80.7", "10.5", "1.2"),
             aliases=("MNv4-Hybrid-M", "MobileNetV4-Hybrid-M", "mobilenetv4_hybrid_medium"),
             differs="timm's definition follows the official TensorFlow code, which differs from "
                     "the paper's layer table (v2 Table 13); we analyse timm's, the one users run"),
    ZooEntry("mnv4_hybrid_large", "MobileNetV4", "mobilenetv4_hybrid_large", 384,
             _table6("83.4", "35.9", "7.2"),
             aliases=("MNv4-Hybrid-L", "MobileNetV4-Hybrid-L", "mobilenetv4_hybrid_large")),
    # ---- MobileNetV1
    ZooEntry("mobilenetv1_100", "MobileNetV1", "mobilenetv1_100", 224,
             _table6("74.0", "4.2", "0.6"),
             aliases=("MobileNet-V1", "MobileNetV1", "MobileNet-V1-1.0x", "mobilenetv1"),
             note="top-1 as retrained by the MobileNetV4 authors; Howard et al. 2017 "
                  "(arXiv 1704.04861, Table 8) report 70.6% for the original training"),
    ZooEntry("mobilenetv1_150", "MobileNetV1", "mobilenetv1_150", 224,
             _unpublished("no publication gives figures for a 1.5x MobileNetV1: Howard et al. "
                          "2017 stop at width 1.0, and the MobileNetV4 paper plots a 1.5x "
                          "(Figs. 2-3) without printing its numbers"),
             aliases=("MobileNet-V1-1.5x", "MobileNetV1-1.5x"),
             generator=f"{_EFFNET}._gen_mobilenet_v1", channel_multiplier=1.5,
             differs="timm registers no 1.5x MobileNetV1; built with timm's own MobileNetV1 "
                     "generator at channel_multiplier=1.5 (stem and classifier input scaled too)"),
    # ---- MobileNetV2
    ZooEntry("mobilenetv2_050", "MobileNetV2", "mobilenetv2_050", 224,
             _table6("66.0", "2.0", "0.1"), aliases=("MobileNet-V2-0.5x", "MobileNetV2-0.5x")),
    ZooEntry("mobilenetv2_100", "MobileNetV2", "mobilenetv2_100", 224,
             _table6("73.4", "3.5", "0.3"),
             aliases=("MobileNet-V2", "MobileNetV2", "MobileNet-V2-1.0x", "mobilenetv2"),
             note="top-1 as retrained by the MobileNetV4 authors; Sandler et al. 2018 "
                  "(arXiv 1801.04381, Table 4) report 72.0%"),
    ZooEntry("mobilenetv2_150", "MobileNetV2", "mobilenetv2_150", 224,
             _table6("76.8", "6.8", "0.7"), aliases=("MobileNet-V2-1.5x", "MobileNetV2-1.5x"),
             generator=f"{_EFFNET}._gen_mobilenet_v2", channel_multiplier=1.5,
             differs="timm registers no 1.5x MobileNetV2 (it has 1.4x); built with timm's own "
                     "MobileNetV2 generator at channel_multiplier=1.5"),
    ZooEntry("mobilenetv2_200", "MobileNetV2", "mobilenetv2_200", 224,
             _table6("78.4", "11.2", "1.1"), aliases=("MobileNet-V2-2.0x", "MobileNetV2-2.0x"),
             generator=f"{_EFFNET}._gen_mobilenet_v2", channel_multiplier=2.0,
             differs="timm registers no 2.0x MobileNetV2; built with timm's own MobileNetV2 "
                     "generator at channel_multiplier=2.0"),
    # ---- MobileNetV3
    ZooEntry("mobilenetv3_small_100", "MobileNetV3", "mobilenetv3_small_100", 224,
             Published({"top1": cite("67.4", MNV3_TABLE3), "params_m": cite("2.5", MNV3_TABLE3),
                        "macs_g": cite("0.056", MNV3_TABLE3, "printed as 56 M MAdds")}),
             aliases=("MobileNet-V3S", "MobileNetV3-Small", "MobileNet-V3-Small")),
    ZooEntry("mobilenetv3_large_050", "MobileNetV3", "mobilenetv3_large_050", 224,
             _table6("69.2", "2.7", "0.1"),
             aliases=("MobileNet-V3L-0.5x", "MobileNetV3-Large-0.5x"),
             generator=f"{_MNV3}._gen_mobilenet_v3", channel_multiplier=0.5,
             differs="timm registers no 0.5x MobileNetV3-Large; built with timm's own "
                     "MobileNetV3 generator at channel_multiplier=0.5 (stem fixed at 16 channels "
                     "below 0.75x, head 1280 as in every width)"),
    ZooEntry("mobilenetv3_large_100", "MobileNetV3", "mobilenetv3_large_100", 224,
             Published({"top1": cite("75.5", MNV4_TEXT, "retrained by the MobileNetV4 authors; "
                                     "Howard et al. 2019 (Table 3) report 75.2%"),
                        "params_m": cite("5.4", MNV3_TABLE3),
                        "macs_g": cite("0.219", MNV3_TABLE3, "printed as 219 M MAdds")}),
             aliases=("MobileNet-V3L", "MobileNetV3-Large", "MobileNet-V3", "MobileNetV3",
                      "mobilenetv3")),
    ZooEntry("mobilenetv3_large_150", "MobileNetV3", "mobilenetv3_large_150", 224,
             _unpublished("no publication gives figures for the plain 1.5x MobileNetV3-Large: "
                          "Howard et al. 2019 stop at 1.0x, and the MobileNetV4 paper plots it "
                          "(Figs. 2-3) without printing its numbers"),
             aliases=("MobileNet-V3L-1.5x", "MobileNetV3-Large-1.5x", "MobileNet-V3-1.5x"),
             generator=f"{_MNV3}._gen_mobilenet_v3", channel_multiplier=1.5,
             differs="timm's mobilenetv3_large_150d is another design (depth multiplier 1.2); "
                     "this is the plain 1.5x, built with timm's MobileNetV3 generator at "
                     "channel_multiplier=1.5 (head conv stays 1280 wide, as in every width)"),
    # ---- MobileOne (re-parameterised)
    ZooEntry("mobileone_s0", "MobileOne", "mobileone_s0", 224, _table6("71.4", "2.1", "0.3"),
             aliases=("MobileOne-S0",), reparameterize=True),
    ZooEntry("mobileone_s4", "MobileOne", "mobileone_s4", 224, _table6("79.4", "14.8", "1.5"),
             aliases=("MobileOne-S4",), reparameterize=True),
    # ---- FastViT (re-parameterised; trained and measured at 256)
    ZooEntry("fastvit_t8", "FastViT", "fastvit_t8", 256, _table6("75.6", "3.6", "0.7"),
             aliases=("FastViT-T8",), reparameterize=True),
    ZooEntry("fastvit_s12", "FastViT", "fastvit_s12", 256, _table6("79.8", "8.8", "1.8"),
             aliases=("FastViT-S12",), reparameterize=True),
    ZooEntry("fastvit_sa12", "FastViT", "fastvit_sa12", 256, _table6("80.6", "10.9", "1.9"),
             aliases=("FastViT-SA12",), reparameterize=True),
    ZooEntry("fastvit_sa24", "FastViT", "fastvit_sa24", 256, _table6("82.6", "20.6", "3.8"),
             aliases=("FastViT-SA24",), reparameterize=True),
    ZooEntry("fastvit_sa36", "FastViT", "fastvit_sa36", 256, _table6("83.6", "30.4", "5.6"),
             aliases=("FastViT-SA36",), reparameterize=True),
    # ---- EfficientViT (MIT; not Microsoft's efficientvit_m*)
    ZooEntry("efficientvit_b1_r224", "EfficientViT", "efficientvit_b1", 224,
             _table6("79.4", "9.1", "0.5"),
             aliases=("MIT-EfficientViT-B1-r224", "EfficientViT-B1-r224", "efficientvit_b1"),
             note="MIT EfficientViT (Cai et al.), not Microsoft's (timm efficientvit_m*)"),
    ZooEntry("efficientvit_b2_r256", "EfficientViT", "efficientvit_b2", 256,
             _table6("82.7", "24.0", "2.1"),
             aliases=("MIT-EfficientViT-B2-r256", "EfficientViT-B2-r256", "efficientvit_b2"),
             note="MIT EfficientViT (Cai et al.), not Microsoft's (timm efficientvit_m*)"),
    ZooEntry("efficientvit_b3_r224", "EfficientViT", "efficientvit_b3", 224,
             _table6("83.5", "49.0", "4.0"),
             aliases=("MIT-EfficientViT-B3-r224", "EfficientViT-B3-r224", "efficientvit_b3"),
             note="MIT EfficientViT (Cai et al.), not Microsoft's (timm efficientvit_m*)"),
    # ---- ConvNeXt, EfficientNet
    ZooEntry("convnext_small", "ConvNeXt", "convnext_small", 224, _table6("83.1", "50", "8.7"),
             aliases=("ConvNext-S", "ConvNeXt-S", "ConvNeXt-Small"),
             min_resolution=32, resolution_rule=_CONVNEXT_RULE),
    ZooEntry("efficientnet_b0", "EfficientNet", "efficientnet_b0", 224,
             Published({"top1": cite("77.1", EFFNET_TABLE2),
                        "params_m": cite("5.3", EFFNET_TABLE2),
                        "macs_g": cite("0.39", EFFNET_TABLE2, "printed as 0.39B FLOPS, which "
                                       "the paper counts as multiply-adds")}),
             aliases=("EfficientNet-B0",)),
)

for _e in _ENTRIES:
    register(_e)

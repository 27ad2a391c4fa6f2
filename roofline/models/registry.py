"""The zoo's registry: named entries (how to build a model, what was published about it),
their aliases and glob listing, as timm's ``_registry`` does for its models.

An entry whose published metadata is incomplete is refused by :func:`register`. The entries
themselves are data in :mod:`roofline.models.entries`; :mod:`roofline.models.zoo` imports
both, so ``from roofline.models import zoo`` is the zoo with every entry registered.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roofline.errors import InputError, RooflineError, UnknownModelError, ZooError
from roofline.models.build import check_form, check_resolution, create_timm, finish, generator
from roofline.models.published import FIGURES, Published

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

__all__ = ["FAMILIES", "ZooError", "ZooEntry", "validate", "register", "unregister", "names",
           "entries", "matching", "close_names", "get", "lookup"]

FAMILIES = ("MobileNetV1", "MobileNetV2", "MobileNetV3", "MobileNetV4", "MobileOne", "FastViT",
            "EfficientViT", "ConvNeXt", "EfficientNet")



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
            fn = generator(self.generator, self.name)
            # a config of its own: timm would log that the variant has no pretrained config
            cfg = {"architecture": self.timm_name, "num_classes": 1000,
                   "input_size": (3, self.resolution, self.resolution)}

            def make() -> nn.Module:
                return fn(self.timm_name, channel_multiplier=self.channel_multiplier,
                          pretrained=False, pretrained_cfg=cfg, **self.timm_kwargs)
        else:
            def make() -> nn.Module:
                return create_timm(self.timm_name, **self.timm_kwargs)
        # only entries declared re-parameterisable are (a test checks the declarations)
        return finish(make, form if self.reparameterize else "training", device, self.name)

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


def close_names(name: str, extra: list[str] | None = None) -> str:
    """' (did you mean a, b?)' over zoo names and aliases (an alias shown as its entry's
    name, each entry once) and ``extra`` names; '' when nothing is close."""
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
        f"unknown zoo model {name!r}{close_names(name)}; `roofline zoo list` shows the zoo")


def lookup(name: str) -> ZooEntry | None:
    """The zoo entry for a name or alias, or None."""
    key = _alias_key(name)
    return _REGISTRY[_ALIASES[key]] if key in _ALIASES else None

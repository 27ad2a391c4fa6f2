"""The registry of devices: lookup by id, variant or path, listing with globs.

Lookup order: the directories in ``$ROOFLINE_HW_PATH`` (``os.pathsep``-separated, first wins),
then the built-in ``hardware_profiles/``. A user file with the id of a built-in overrides it.
A spec is an id ("pixel8_cpu"), a variant ("pixel6_cpu:fitted") or a path to a YAML file
("my/device.yaml", optionally "my/device.yaml:variant"); a :class:`HardwareProfile` (a
what-if, say) is passed through. The data classes live in :mod:`roofline.hardware.profile`,
files in :mod:`roofline.hardware.io`; the names most callers need are re-exported here.

This module imports neither torch nor pandas, so ``roofline hw list`` stays fast.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from pathlib import Path

from roofline.errors import UnknownHardwareError, did_you_mean
from roofline.hardware.io import SUFFIXES, load_profile, parse_file
from roofline.hardware.paths import ENV_VAR, builtin_dir, env_dirs
from roofline.hardware.profile import BASES, KINDS, Figure, HardwareProfile, Roof, device
from roofline.hardware.schema import PROFILE_ID, ParsedFile

__all__ = [
    "ENV_VAR", "builtin_dir", "get_profile", "list_profiles", "profile_ids",
    # re-exported for callers of the registry
    "BASES", "KINDS", "Figure", "HardwareProfile", "Roof", "device", "load_profile",
]

def _index() -> dict[str, Path]:
    """id -> file, over $ROOFLINE_HW_PATH (first wins) then the built-ins; no file is parsed."""
    index: dict[str, Path] = {}
    for directory in [*env_dirs(), builtin_dir()]:
        try:
            files = sorted(directory.iterdir())
        except OSError:
            continue
        for f in files:
            if f.suffix.lower() in SUFFIXES and f.is_file():
                index.setdefault(f.stem, f)
    return index


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or spec.lower().endswith(SUFFIXES)


def _split_variant(spec: str) -> tuple[str, str | None]:
    """'base:variant' -> ('base', 'variant'), also 'dir/file.yaml:variant'; else (spec, None)."""
    head, sep, tail = spec.rpartition(":")
    if not (sep and head and PROFILE_ID.fullmatch(tail)) or tail.lower().endswith(SUFFIXES):
        return spec, None
    if _looks_like_path(head) and not head.lower().endswith(SUFFIXES):
        return spec, None  # a colon inside a directory name
    return head, tail


def _pick_variant(parsed: ParsedFile, vname: str | None) -> HardwareProfile:
    base, variants = parsed
    if vname is None:
        return base
    if vname not in variants:
        raise UnknownHardwareError(
            f"hardware {base.id!r} has no variant {vname!r}{did_you_mean(vname, variants)}; "
            f"its variants: {', '.join(variants) or 'none'}"
        )
    return variants[vname]


def _unknown(spec: str, index: Mapping[str, Path]) -> UnknownHardwareError:
    dirs = env_dirs()
    searched = f" (also searched {ENV_VAR}: {os.pathsep.join(map(str, dirs))})" if dirs else ""
    return UnknownHardwareError(
        f"unknown hardware {spec!r}{did_you_mean(spec.split(':')[0], index)}; "
        f"run `roofline hw list` to see the registry, or pass a path to a .yaml profile"
        f"{searched}"
    )


def get_profile(spec: str | os.PathLike[str] | HardwareProfile) -> HardwareProfile:
    """A profile by id ("pixel8_cpu"), variant ("pixel6_cpu:fitted") or path to a .yaml file
    ("my/device.yaml", optionally "my/device.yaml:variant"); a profile is returned as is."""
    if isinstance(spec, HardwareProfile):
        return spec
    text = os.fspath(spec).strip()
    base_spec, vname = _split_variant(text)
    if _looks_like_path(base_spec):
        if not Path(base_spec).is_file():
            raise UnknownHardwareError(f"hardware profile file {base_spec!r} not found")
        return _pick_variant(parse_file(base_spec), vname)
    index = _index()
    path = index.get(base_spec)
    if path is None:  # forgive case: "Pixel8_CPU"
        folded = [k for k in index if k.lower() == base_spec.lower()]
        path = index[folded[0]] if len(folded) == 1 else None
    if path is None:
        raise _unknown(text, index)
    return _pick_variant(parse_file(path), vname)


def list_profiles(include_variants: bool = True, *, pattern: str | None = None
                  ) -> list[HardwareProfile]:
    """Every profile (built-ins and $ROOFLINE_HW_PATH), sorted by id, each base followed by its
    variants; ``pattern`` is a glob on the id ("pixel*", "*:fitted")."""
    out: list[HardwareProfile] = []
    for pid, path in sorted(_index().items()):
        base, variants = parse_file(path)
        members = [base, *(variants[v] for v in sorted(variants))] if include_variants else [base]
        out += [p for p in members if pattern is None or fnmatch.fnmatchcase(p.id, pattern)]
    return out


def profile_ids(include_variants: bool = True, *, pattern: str | None = None) -> list[str]:
    """The ids of :func:`list_profiles`."""
    return [p.id for p in list_profiles(include_variants, pattern=pattern)]

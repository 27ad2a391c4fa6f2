"""Profile files: reading (strict YAML, size and encoding checks) and writing.

A profile is one YAML file per device; its id is the file stem. Reading refuses YAML
anchors and aliases (no "billion laughs"), duplicate keys, files over 1 MB and text that is
not UTF-8, each with a one-line :class:`~roofline.errors.ProfileError` naming the file; the
schema (:mod:`roofline.hardware.schema`) then names every bad field. Writing
(:func:`profile_yaml`) produces files the reader accepts (:func:`check_profile_text`), as
``roofline bench`` and ``roofline fit`` do.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roofline.errors import ProfileError
from roofline.hardware.profile import HardwareProfile
from roofline.hardware.schema import ParsedFile, build, check_profile_id

__all__ = ["MAX_FILE_BYTES", "SUFFIXES", "load_profile", "parse_file", "profile_yaml",
           "check_profile_text"]

MAX_FILE_BYTES = 1_000_000
SUFFIXES = (".yaml", ".yml")


class _YamlRefused(Exception):
    """An anchor, alias or duplicate key, with the line it was found on."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@functools.cache
def _loader() -> type:
    """A SafeLoader that refuses anchors/aliases (no YAML bombs) and duplicate keys."""
    import yaml  # deferred: imported when a profile is first read or written

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise _YamlRefused("anchors and aliases (&name, *name) are not allowed",
                                   event.start_mark.line + 1)
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[str] = set()
            for key_node, _ in node.value:
                key = getattr(key_node, "value", None)
                if isinstance(key, str) and key in seen:
                    raise _YamlRefused(f"duplicate key {key!r}", key_node.start_mark.line + 1)
                if isinstance(key, str):
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _parse_yaml(text: str, src: str) -> Any:
    """Parsed YAML, or a one-line ProfileError with the line number."""
    import yaml  # deferred: imported when a profile is first read or written

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except _YamlRefused as exc:
        raise ProfileError(f"{src}: refused YAML: line {exc.line}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}: " if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        raise ProfileError(f"{src}: invalid YAML: {line}{problem}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        detail = "nesting too deep" if isinstance(exc, RecursionError) else str(exc)
        raise ProfileError(f"{src}: invalid YAML: {' '.join(detail.split())}") from None


def _display(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _read(path: Path, src: str) -> str:
    """The file's text; ProfileError when unreadable, too big or not UTF-8."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError(f"{src}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ProfileError(f"{src}: file is larger than {MAX_FILE_BYTES} bytes; "
                           "a profile is a few kB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{src}: not UTF-8 text (byte {exc.start})") from None


@functools.lru_cache(maxsize=256)
def _parse_cached(text: str, src: str, path: str, pid: str) -> ParsedFile:
    """Parsing keyed by content, so an edited file is re-read and an unchanged one is not."""
    return build(_parse_yaml(text, src), src, path, pid)


def parse_file(path: str | os.PathLike[str]) -> ParsedFile:
    """(base profile, its variants by name) of one profile file; ProfileError otherwise."""
    p = Path(path)
    src = _display(p)
    check_profile_id(p.stem, f"{src}: the file name")
    return _parse_cached(_read(p, src), src, str(p), p.stem)


def load_profile(path: str | os.PathLike[str]) -> HardwareProfile:
    """Read and validate one profile file (its id is the file stem); ProfileError otherwise."""
    return parse_file(path)[0]


# ------------------------------------------------------------------------------ writing


def _sig(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def profile_yaml(data: Mapping[str, Any], header: str = "") -> str:
    """A profile as YAML text (keys in the given order; numbers to 4 significant digits),
    with ``header`` as a leading comment."""
    import yaml  # deferred: imported when a profile is first read or written

    def clean(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, float):
            return _sig(v)
        return v

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # the loader refuses anchors
            return True

    body = yaml.dump(clean(dict(data)), Dumper=Dumper, sort_keys=False, allow_unicode=True,
                     width=96, default_flow_style=False)
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comment + body


def check_profile_text(text: str, path: str) -> None:
    """Load ``text`` as the profile file ``path`` would be loaded (the same name), so a file
    is written only when ``--hw`` will accept it; ProfileError otherwise."""
    name = Path(path).name if path and path != "-" else "profile.yaml"
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_text(text, encoding="utf-8")
        load_profile(p)

"""On-disk cache of traces, so a repeated analysis never imports torch.

A trace depends on the model spec, the input (resolution, batch or explicit shape), the
model form, and the code that produced it: the versions of torch and timm (read from
package metadata, without importing them) and a fingerprint of our own tracing code. All
of that goes into the key; a change to any of it is a miss.

Entries are gzip-compressed JSON (no pickle: a cache directory may be shared, and loading
it must not run code). Writes go to a temporary file that is renamed into place, so
concurrent runs never see half an entry; an entry that fails to decompress, parse or
validate is deleted and rebuilt, never trusted.

The directory is ``$ROOFLINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/roofline``, else
``~/.cache/roofline``. ``ROOFLINE_NO_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from roofline import __version__
from roofline.errors import OutputError
from roofline.graph.records import Trace
from roofline.models.zoo import lookup

__all__ = ["FORMAT", "cache_dir", "canonical_spec", "check_trace", "clear", "code_fingerprint",
           "enabled", "info", "key", "load", "store", "trace_key"]

FORMAT = 2


def cache_dir() -> Path:
    """Where entries live (not created until something is written)."""
    env = os.environ.get("ROOFLINE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "roofline"


def enabled() -> bool:
    """False when ``ROOFLINE_NO_CACHE`` is set to a true value."""
    return os.environ.get("ROOFLINE_NO_CACHE", "").strip().lower() not in ("1", "true", "yes")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of every Python file of the package (path and content): any change to the code
    invalidates what was computed with it, with no list of files to keep."""
    package = Path(__file__).resolve().parent
    code = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        code.update(path.relative_to(package).as_posix().encode() + b"\0")
        code.update(path.read_bytes())
    return code.hexdigest()


@lru_cache(maxsize=1)
def _fingerprint() -> dict[str, str]:
    versions = {"roofline": __version__, "code": code_fingerprint()[:16]}
    for pkg in ("torch", "timm"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "none"
    return versions


def canonical_spec(spec: str) -> str:
    """One name per model: a zoo alias becomes its entry, a bare timm name gets ``timm:``."""
    spec = spec.strip()
    entry = lookup(spec)
    if entry is not None:
        return entry.name
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        return spec
    return spec if spec.startswith("timm:") else f"timm:{spec}"


def trace_key(spec: str, *, resolution: int | None = None, batch: int = 1,
              input_shape: Any = None, form: str = "inference") -> str:
    """The key of a named model traced from shapes; every caller must build keys here."""
    if input_shape is not None:
        input_shape = [list(s) if isinstance(s, (list, tuple)) else s for s in input_shape]
    return key(canonical_spec(spec), resolution=resolution, batch=batch,
               input_shape=input_shape, form=form)


def key(spec: str, **inputs: Any) -> str:
    """The cache key of a (canonical) model spec traced with the given input arguments.

    For ``file.py:factory`` specs the file's content is part of the key; modules the file
    imports are not, so ``--no-cache`` (or ``roofline cache clear``) after editing them.
    """
    parts: dict[str, Any] = {"format": FORMAT, "spec": spec, "inputs": inputs,
                             "versions": _fingerprint()}
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        path = Path(spec.rsplit(":", 1)[0])
        if path.is_file():
            parts["file"] = hashlib.sha256(path.read_bytes()).hexdigest()
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:40]


def _path(k: str) -> Path:
    return cache_dir() / f"{k}.json.gz"


def load(k: str) -> tuple[Trace, dict[str, Any]] | None:
    """(trace, metadata) for a key, or None on a miss. An entry that is not exactly what
    :func:`store` wrote (truncated, not gzip/JSON, another format or key, a body whose digest
    does not match, a trace that does not hold together) is a miss: it is removed and rebuilt,
    never believed."""
    path = _path(k)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            entry = json.load(f)
    except FileNotFoundError:
        return None
    except (PermissionError, IsADirectoryError):  # not ours to read, not ours to delete
        return None
    except Exception:  # truncated or not gzip/JSON at all
        _discard(path)
        return None
    try:
        if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != k:
            raise ValueError("stale or foreign entry")
        body = entry["body"]
        if hashlib.sha256(body.encode()).hexdigest() != entry["digest"]:
            raise ValueError("body does not match its digest")
        content = json.loads(body)
        trace = Trace.from_dict(content["trace"])
        check_trace(trace)
        return trace, dict(content["meta"])
    except Exception:  # well-formed JSON that is not a trace of ours: rebuild
        _discard(path)
        return None


def check_trace(trace: Trace) -> None:
    """Raise ValueError unless every count and shape of ``trace`` is a non-negative integer
    and every op names its tensors consistently (what a tracer can produce)."""
    ints = (int,)
    for op in trace.ops:
        if not isinstance(op.macs, ints) or isinstance(op.macs, bool) or op.macs < 0:
            raise ValueError(f"op {op.index}: MACs {op.macs!r}")
        for ref in (*op.inputs, *op.outputs):
            if ref.numel < 0 or any((not isinstance(d, ints)) or d < 0 for d in ref.shape):
                raise ValueError(f"op {op.index}: tensor {ref.value} shape {ref.shape}")
    for name, numel in trace.params:
        if not isinstance(numel, ints) or numel < 0:
            raise ValueError(f"parameter {name}: {numel!r} elements")
    indices = [op.index for op in trace.ops]
    if indices != sorted(set(indices)):
        raise ValueError("op indices are not increasing")


def _discard(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def store(k: str, trace: Trace, meta: dict[str, Any]) -> None:
    """Write an entry atomically; a cache that cannot be written is silently skipped."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json.gz")
        try:
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb",
                                                            compresslevel=5) as f:
                body = json.dumps({"meta": meta, "trace": trace.to_dict()})
                f.write(json.dumps({"format": FORMAT, "key": k, "body": body,
                                    "digest": hashlib.sha256(body.encode()).hexdigest()}).encode())
            os.chmod(tmp, 0o666 & ~_umask())  # shareable like any file the user writes
            os.replace(tmp, _path(k))
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _owned_files() -> tuple[list[Path], list[Path]]:
    """(trace entries, other files this toolkit keeps here: survey journals, model lists)."""
    directory = cache_dir()
    if not directory.is_dir():
        return [], []
    traces = list(directory.glob("*.json.gz"))
    other = [*directory.glob(".tmp-*"), *directory.glob("timm-models-*.json"),
             *(directory / "surveys").glob("*.jsonl"), *(directory / "exports").glob("*.*")]
    return traces, other


def clear() -> int:
    """Delete every cached trace, survey journal, model list and exported file; returns how
    many traces. Files that cannot be removed (a read-only cache) are named in one OutputError."""
    traces, other = _owned_files()
    stuck: list[str] = []
    for p in traces + other:
        try:
            p.unlink(missing_ok=True)
        except OSError as e:
            stuck.append(e.strerror or type(e).__name__)
    if stuck:
        raise OutputError(f"could not remove {len(stuck)} of {len(traces) + len(other)} files "
                          f"from {cache_dir()} ({stuck[0]}); check the directory's permissions")
    return len(traces)


def info() -> dict[str, Any]:
    """Directory, number of traces, other files, and their total size in bytes."""
    traces, other = _owned_files()
    return {"dir": str(cache_dir()), "entries": len(traces), "other_files": len(other),
            "bytes": sum(p.stat().st_size for p in traces + other), "enabled": enabled()}

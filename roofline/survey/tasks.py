"""What a survey runs: model patterns expanded into tasks, the devices, the shared job, keys.

A task is one model at one resolution; the job is what every task shares (devices, batch,
fusion, dtypes, options), sent to the workers as plain picklable data. The keys name a
task's trace in the trace cache and its row in a journal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from roofline import __version__
from roofline import cache as trace_cache
from roofline.analysis import resolve_roof
from roofline.errors import InputError, RooflineError, UnknownModelError, did_you_mean
from roofline.hardware.registry import Roof, profile_ids
from roofline.models import zoo

__all__ = ["FORM", "Task", "Device", "Job", "expand", "timm_catalog", "resolve_devices",
           "trace_key", "row_key", "one_line"]

#: models are surveyed as deployed: re-parameterised where timm can (MobileOne, FastViT)
FORM = "inference"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Task:
    """One model at one resolution (None: the model's default). ``error`` is set on a
    pattern that named no model: it becomes a failed row and never runs."""

    spec: str
    resolution: int | None = None
    family: str = ""
    error: str = ""

    @property
    def label(self) -> str:
        """'resnet50' or 'resnet50@288'."""
        return self.spec if self.resolution is None else f"{self.spec}@{self.resolution}"


@dataclass(frozen=True)
class Device:
    """A device column of the survey: its label (as the user named it) and its roof."""

    label: str
    roof: Roof


@dataclass(frozen=True)
class Job:
    """What every task of a survey shares; sent to the workers, so plain picklable data."""

    devices: tuple[Device, ...]
    batch: int = 1
    fusion: str = "tflite"
    weight_dtype: str | None = None
    compare: bool = True
    cache: bool = True
    timeout_s: float = 300.0
    #: every model's input shape (its first dim the batch); None: each model's own input
    input_shape: tuple[int, ...] | None = None

    def fingerprint(self) -> str:
        """Everything of the job that decides a row's numbers, the timeout excepted."""
        parts = {
            "devices": [[d.label, dataclasses.asdict(d.roof)] for d in self.devices],
            "batch": self.batch, "fusion": self.fusion, "weight_dtype": self.weight_dtype,
            "compare": self.compare, "code": trace_cache.code_fingerprint(),
            "version": __version__,
        }
        if self.input_shape is not None:  # absent when unset: earlier journals stay valid
            parts["input_shape"] = list(self.input_shape)
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- patterns


def expand(patterns: Iterable[str], *, keep_going: bool = False) -> list[Task]:
    """Tasks (at default resolution) for model patterns, in the order given, duplicates once.

    A pattern is a zoo name or alias, a timm model name, ``path/to/file.py:factory``, or a
    glob: ``timm:*mobile*`` (timm only), ``zoo:mnv4*`` (zoo only) or ``*mobile*`` (both).
    A pattern that names no model raises :class:`UnknownModelError` (or the
    :class:`InputError` of a bad file), unless ``keep_going``: then it is a task carrying
    the error (a failed row of the survey), and only when no pattern names a model at all
    is the first error raised.
    """
    tasks: dict[str, Task] = {}
    first: RooflineError | None = None
    for raw in patterns:
        pattern = str(raw).strip()
        try:
            found = _expand_one(pattern)
        except RooflineError as e:
            if not keep_going:
                raise
            first = first or e
            found = [Task(pattern or str(raw), None, "", one_line(str(e)))]
        for t in found:
            tasks.setdefault(t.spec, t)
    if first is not None and all(t.error for t in tasks.values()):
        raise first
    return list(tasks.values())


def _expand_one(pattern: str) -> list[Task]:
    if not pattern:
        raise InputError("an empty model pattern; expected a zoo or timm name or a glob")
    head = pattern.split(":", 1)[0]
    if ":" in pattern and head.endswith(".py"):
        zoo.resolve(pattern)  # checks the file and the factory name, imports nothing
        return [Task(pattern, None, "file")]
    source = head if head in ("timm", "zoo") and ":" in pattern else ""
    body = pattern[len(source) + 1:] if source else pattern
    if not _GLOB_CHARS & set(body):
        return _named(body, source)
    found: list[Task] = []
    if source in ("", "zoo"):
        found += [Task(n, None, zoo.get(n).family) for n in zoo.names(body)]
    if source in ("", "timm"):
        found += [Task(_timm_spec(n), None, fam) for n, fam in _timm_glob(body)]
    if not found:
        where = {"timm": "timm", "zoo": "the zoo"}.get(source, "the zoo or timm")
        raise UnknownModelError(
            f"pattern {pattern!r} matches no model in {where}; globs are "
            "case-sensitive, e.g. 'timm:*mobilenet*' or 'zoo:mnv4*'")
    return found


def _named(name: str, source: str) -> list[Task]:
    if source != "timm":
        entry = zoo.lookup(name)
        if entry is not None:
            return [Task(entry.name, None, entry.family)]
        if source == "zoo":
            zoo.get(name)  # raises with close names
    catalog = timm_catalog()
    if name not in catalog:
        pool = list(catalog) if source == "timm" else zoo.names() + list(catalog)
        where = "timm model" if source == "timm" else "model"
        raise UnknownModelError(
            f"unknown {where} {name!r}{did_you_mean(name, pool)}; expected a zoo name "
            "(`roofline zoo list`), a timm model name, a glob such as 'timm:*mobile*' or "
            "path/to/file.py:factory")
    return [Task(_timm_spec(name), None, catalog[name])]


def _timm_spec(name: str) -> str:
    # a timm name that is also a zoo alias keeps its prefix, or it would resolve to the zoo
    return f"timm:{name}" if zoo.lookup(name) is not None else name


def _timm_glob(pattern: str) -> list[tuple[str, str]]:
    catalog = timm_catalog()
    return [(n, catalog[n]) for n in catalog if fnmatch.fnmatchcase(n, pattern)]


def timm_catalog() -> dict[str, str]:
    """Every timm model name -> the timm module that defines it ('resnet', 'vision_transformer').

    Listing timm's models imports timm and torch (seconds), so the list is kept in the
    cache directory per timm version: a repeated survey of timm models never imports torch.
    A cache directory that cannot be read or written only costs that time.
    """
    try:
        version = metadata.version("timm")
    except metadata.PackageNotFoundError:
        raise InputError("timm is not installed; timm model names need it") from None
    path = trace_cache.cache_dir() / f"timm-models-{version}.json"
    if trace_cache.enabled():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            models = data["models"] if data.get("timm") == version else None
            if isinstance(models, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in models.items()):
                return dict(models)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    import timm  # deferred: heavy import (timm and torch)

    try:
        from timm.models import _registry  # deferred: heavy import

        modules = dict(_registry._model_to_module)
    except Exception:  # a timm without that private table: the family is cosmetic
        modules = {}
    catalog = {n: str(modules.get(n, "")) for n in timm.list_models()}
    if trace_cache.enabled():
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                tmp.write_text(json.dumps({"timm": version, "models": catalog}),
                               encoding="utf-8")
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
    return catalog


# --------------------------------------------------------------------------- devices, keys


def resolve_devices(hw: Sequence[str], dtype: str | None) -> tuple[Device, ...]:
    """Devices for ``--hw`` values: ids, ``id:variant``, YAML paths or globs on ids."""
    labels: list[str] = []
    for spec in hw:
        if not isinstance(spec, str):  # a profile: a what-if made on the command line
            labels.append(spec)
            continue
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            if _GLOB_CHARS & set(part) and not Path(part).exists():
                ids = profile_ids(pattern=part)
                if not ids:
                    raise InputError(f"--hw pattern {part!r} matches no device; "
                                     "`roofline hw list` shows the registry")
                labels += ids
            else:
                labels.append(part)
    if not labels:
        raise InputError("no device given; expected --hw with ids from `roofline hw list`")
    devices = []
    for label in dict.fromkeys(labels):
        roof, _profile, _d = resolve_roof(label, dtype)
        devices.append(Device(label if isinstance(label, str) else roof.hardware_id, roof))
    return tuple(devices)


def trace_key(spec: str, resolution: int | None, batch: int,
              input_shape: tuple[int, ...] | None = None) -> str:
    """The trace cache key ``analysis.trace_model`` uses for a named model in its inference
    form (tests/test_survey.py checks that the two agree)."""
    shape = None if input_shape is None else [list(input_shape)]  # as trace_model keys it
    return trace_cache.trace_key(spec, resolution=resolution, batch=batch, input_shape=shape,
                                 form=FORM)


def row_key(task: Task, job: Job, job_fingerprint: str) -> str:
    """A task's key in a journal: its trace key and everything of the job behind its row
    (``job_fingerprint`` is ``job.fingerprint()``, computed once per survey)."""
    key = trace_key(task.spec, task.resolution, job.batch, job.input_shape)
    return hashlib.sha256(f"{key}|{job_fingerprint}".encode()).hexdigest()[:32]

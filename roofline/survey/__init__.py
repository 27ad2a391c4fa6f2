"""Surveys: many models x resolutions x devices, cross-checked, journaled, in parallel.

A survey expands model patterns (zoo names, timm names, timm globs such as
``timm:*mobile*``, ``file.py:factory``) into tasks, one per model x resolution, and runs each
task in a worker: trace the model (or load the trace from the trace cache), put its layer
table on every device's roofline, and count its MACs a second way with torch's
``FlopCounterMode`` on the same meta forward, as a check on our formulas.

The modules, one job each: ``tasks`` (patterns, tasks, devices, keys), ``deadlines`` (a
task's soft deadline), ``crosscheck`` (FlopCounterMode), ``rows`` (one task -> one row),
``journal`` (finished rows, for resuming), ``pool`` (local worker processes),
``distributed`` (Dask), ``runner`` (the survey end to end). Rendering is
:mod:`roofline.render.survey`.

Columns of a row: ``spec``, ``model``, ``family``, ``resolution``, ``batch``, ``status``,
``reason``, ``macs``, ``macs_fcm`` (FlopCounterMode's FLOPs / 2), ``rel_diff``
((macs - macs_fcm) / macs_fcm), ``fcm_check``, ``macs_folded``, ``mac_diff`` (the ops on
which the two disagree, when they do), ``fcm_error``, ``params``, ``unsupported``
(``op:count;...``), ``coverage``, ``ops``, ``seconds``, ``trace_cached``, then per device
``latency_ms@<device>`` and ``memory_bound_fraction@<device>``.
"""

from __future__ import annotations

from roofline.survey.rows import run_task
from roofline.survey.runner import Survey, survey
from roofline.survey.tasks import (
           Device,
           Job,
           Task,
           expand,
           resolve_devices,
           timm_catalog,
)

__all__ = ["Survey", "survey", "Task", "Job", "Device", "expand", "resolve_devices",
           "timm_catalog", "run_task"]

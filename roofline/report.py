"""One model on several devices, everything a shareable report shows: an analysis per
device, the devices side by side, and a ridge-point sweep of the model's layer table.

``roofline report`` renders it as one self-contained HTML file
(:mod:`roofline.render.html_report`); this module only computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from roofline.analysis import Analysis, analyze
from roofline.errors import InputError
from roofline.hardware.profile import HardwareProfile
from roofline.latency.presets import get_preset

__all__ = ["Report", "build_report", "SWEEP_RPS"]

#: the ridge points of the sweep, MACs/byte: the paper's range, 0 (MAC counting) to 500
SWEEP_RPS = np.arange(0.0, 501.0, 5.0)


@dataclass
class Report:
    """The analyses (one per device, same model and input), the sweep and its label."""

    analyses: list[Analysis]
    sweep: pd.DataFrame  # latency_s per rp (Preset.sweep's tidy frame), one model
    sweep_label: str     # how the sweep's device was made (the preset's label)

    @property
    def first(self) -> Analysis:
        """The analysis on the first device (the model, input and counts are the same)."""
        return self.analyses[0]

    def devices(self) -> pd.DataFrame:
        """A row per device: id, name, basis, dtype, peak, bandwidth, ridge point, latency,
        memory-bound share, compute and memory time (the per-device comparison)."""
        rows = []
        for a in self.analyses:
            r, t = a.roof, a.totals
            mem = float(a.layers.loc[a.layers["bound"] == "memory", "latency_s"].sum())
            rows.append({"id": r.hardware_id, "name": r.name, "basis": r.basis, "dtype": r.dtype,
                         "peak_macs_per_s": r.peak_macs_per_s,
                         "mem_bw_bytes_per_s": r.mem_bw_bytes_per_s,
                         "ridge_point": r.ridge_point, "latency_s": t["latency_s"],
                         "memory_bound_fraction": t["memory_bound_fraction"],
                         "compute_bound_s": t["latency_s"] - mem, "memory_bound_s": mem,
                         "latency_per_image_s": t.get("latency_per_image_s", t["latency_s"])})
        return pd.DataFrame(rows)


def build_report(model: Any, hw: Sequence[str | HardwareProfile], **kwargs: Any) -> Report:
    """Analyse ``model`` on every device of ``hw`` (keywords as :func:`roofline.analyze`:
    dtype, resolution, batch, input_shape, fusion, cache, form) and sweep its layer table
    on the first device's peak, with the bandwidth set by the ridge point (0 to 500)."""
    if not hw:
        raise InputError("no device for the report; pass one or more with --hw")
    analyses = []
    for spec in dict.fromkeys(hw):
        analyses.append(analyze(model, spec, **kwargs))
    first = analyses[0]
    preset = get_preset("default").with_(hold="peak", fusion=first.fusion)
    preset = preset.anchored(first.roof).pinned(first.roof)
    sweep = preset.sweep({first.model: first.layers}, SWEEP_RPS)
    return Report(analyses, sweep, preset.label)

"""The data set a fit works on: measured models with their layer tables, flattened.

Every layer of every model sits in one array (``macs``, ``nbytes``), with ``sizes`` layers
per model, so a prediction for all models is one vectorised roofline
(:func:`roofline.latency.equation.roofline_time`) and one ``np.add.reduceat``. The layer
tables come from the caller (:data:`LayerTables`), so nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from roofline.calibration.measurements import Key, shape_text
from roofline.errors import FitError
from roofline.latency.equation import roofline_time

__all__ = ["MEASURED_RANGE_S", "Dataset", "FitError", "LayerTables", "measured_dataset",
           "measured_keys"]

#: measured latencies a fit accepts, in seconds (see measurements.LATENCY_RANGE_MS)
MEASURED_RANGE_S = (1e-9, 1e6)



#: where layer tables come from: ``layer_tables(keys, fusion=...)`` -> {key: layer table}
#: for keys (model, resolution or None, dtype, input shape or None), e.g. ``roofline.calibration.measure.layer_tables``
LayerTables = Callable[..., Mapping[Key, pd.DataFrame]]


@dataclass
class Dataset:
    """Measured models with their layer tables, flattened for vectorised prediction."""

    labels: list[str]             # a model's name (with @resolution when not the default)
    measured_s: np.ndarray        # (M,) measured latency
    macs: np.ndarray              # (L,) MACs of every layer of every model
    nbytes: np.ndarray            # (L,) bytes of every layer
    sizes: np.ndarray             # (M,) layers per model
    keys: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.measured_s = np.asarray(self.measured_s, dtype=float)
        self.macs = np.asarray(self.macs, dtype=float)
        self.nbytes = np.asarray(self.nbytes, dtype=float)
        self.sizes = np.asarray(self.sizes, dtype=np.int64)
        if len(self.measured_s) != len(self.sizes) or len(self.labels) != len(self.sizes):
            raise ValueError("labels, measured_s and sizes must have one entry per model")
        if int(self.sizes.sum()) != len(self.macs) or len(self.macs) != len(self.nbytes):
            raise ValueError("macs and nbytes must have sizes.sum() entries")
        if np.any(self.sizes <= 0):
            empty = [self.labels[i] for i in np.flatnonzero(self.sizes <= 0)]
            raise FitError(f"model {empty[0]} has no layers to fit")
        lo, hi = MEASURED_RANGE_S
        bad = ~((self.measured_s >= lo) & (self.measured_s <= hi))  # NaN is bad too
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise FitError(f"measured latency {self.measured_s[i]!r} s of {self.labels[i]} is "
                           f"not a latency; expected {lo:g} to {hi:g} s")
        self._starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])

    @classmethod
    def from_tables(cls, tables: Sequence[pd.DataFrame], measured_s: Sequence[float],
                    labels: Sequence[str], keys: Sequence[Any] = ()) -> Dataset:
        """From one layer table (``macs`` and ``bytes`` columns) per measured model."""
        return cls(
            labels=list(labels),
            measured_s=np.asarray(measured_s, dtype=float),
            macs=np.concatenate([t["macs"].to_numpy(dtype=float) for t in tables]),
            nbytes=np.concatenate([t["bytes"].to_numpy(dtype=float) for t in tables]),
            sizes=np.array([len(t) for t in tables], dtype=np.int64),
            keys=list(keys),
        )

    @property
    def n(self) -> int:
        """Number of models."""
        return len(self.sizes)

    @property
    def total_macs(self) -> np.ndarray:
        """(M,) MACs of each model."""
        return self.per_model(self.macs)

    def subset(self, index: Sequence[int] | np.ndarray) -> Dataset:
        """The models at ``index`` (for leave-one-out)."""
        index = np.asarray(index, dtype=np.int64)
        parts = [np.arange(self._starts[i], self._starts[i] + self.sizes[i]) for i in index]
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return Dataset(
            labels=[self.labels[i] for i in index],
            measured_s=self.measured_s[index],
            macs=self.macs[rows], nbytes=self.nbytes[rows], sizes=self.sizes[index],
            keys=[self.keys[i] for i in index] if self.keys else [],
        )

    def layer_times(self, peak: float, bandwidth: float,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(L,) each: compute time, memory time and roofline time of every layer (seconds),
        by :func:`roofline.latency.equation.roofline_time`."""
        return roofline_time(self.macs, self.nbytes, peak, bandwidth)

    def per_model(self, per_layer: np.ndarray) -> np.ndarray:
        """(M, ...) sums of a per-layer array over each model's layers."""
        return np.add.reduceat(per_layer, self._starts, axis=0)

    def predict(self, peak: float, bandwidth: float, overhead: float = 0.0) -> np.ndarray:
        """(M,) roofline latency in seconds: sum_i max(macs/P, bytes/B) + layers x overhead."""
        return self.per_model(self.layer_times(peak, bandwidth)[2]) + self.sizes * overhead

    def compute_bound_share(self, peak: float, bandwidth: float) -> float:
        """The share of the summed roofline time (no overhead) spent in compute-bound layers."""
        c, m, t = self.layer_times(peak, bandwidth)
        total = t.sum()
        return float(t[c >= m].sum() / total) if total > 0 else 0.0

    def mac_equivalents(self, rps: np.ndarray) -> np.ndarray:
        """(M, G): sum_i max(macs_i, RP x bytes_i) per model at each ridge point (the roofline
        time on a device of peak 1 MAC/s and ridge point RP)."""
        _, _, eq = roofline_time(self.macs[:, None], self.nbytes[:, None], 1.0,
                                 ridge_point=np.asarray(rps, dtype=float)[None, :])
        return self.per_model(eq)


def measured_dataset(rows: pd.DataFrame, fusion: str, layer_tables: LayerTables,
                     ) -> tuple[Dataset, Mapping[Key, pd.DataFrame]]:
    """The data set of whole-model rows (from
    :func:`~roofline.calibration.measurements.measured_models`) with the layer table of each
    under ``fusion``: (data set, layer tables by key). A model measured at several
    resolutions (or input shapes) is labelled ``model@resolution`` (``model@1x3x20x24``)."""
    keys, labels = measured_keys(rows)
    tables = layer_tables(keys, fusion=fusion)
    ds = Dataset.from_tables([tables[k] for k in keys], rows["latency_s"].to_numpy(),
                             labels, keys)
    return ds, tables


def measured_keys(rows: pd.DataFrame) -> tuple[list[Key], list[str]]:
    """The key of each whole-model row (model, resolution, dtype, input shape) and its label:
    the model's name, with ``@resolution`` or ``@input shape`` where the model has several
    rows."""
    shapes = rows["input_shape"] if "input_shape" in rows else [None] * len(rows)
    keys = [(r.model, None if r.resolution is None else int(r.resolution), r.dtype,
             None if s is None else tuple(s)) for r, s in zip(rows.itertuples(), shapes)]
    multi = {m for m in rows["model"] if (rows["model"] == m).sum() > 1}
    at = [shape_text(s) or r for _, r, _, s in keys]
    labels = [m if m not in multi or a is None else f"{m}@{a}"
              for (m, *_), a in zip(keys, at)]
    return keys, labels

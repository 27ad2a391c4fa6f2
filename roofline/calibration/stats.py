"""Accuracy statistics of predicted vs measured latencies.

MAPE (mean absolute percentage error), the share within +-20 %, Spearman rank correlation
of predicted vs measured latency, and the same rank correlation for plain MAC counting (the
MobileNetV4 paper's Table 16 comparison).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["WITHIN", "accuracy", "compare", "spearman"]

WITHIN = 0.20  # the "within +-20 %" band


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation; NaN with fewer than 3 points or a constant input."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    # deferred: heavy import (scipy.stats takes ~3 s)
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def accuracy(measured_s: Sequence[float], predicted_s: Sequence[float]) -> dict[str, float]:
    """MAPE (%), share within +-20 %, Spearman r_s, median and worst ratio predicted/measured."""
    m, p = np.asarray(measured_s, dtype=float), np.asarray(predicted_s, dtype=float)
    ratio = p / m
    err = np.abs(ratio - 1.0)
    return {
        "mape": float(100.0 * err.mean()) if len(m) else float("nan"),
        "within_20pct": float(np.mean(err <= WITHIN)) if len(m) else float("nan"),
        "spearman": spearman(p, m),
        "median_ratio": float(np.median(ratio)) if len(m) else float("nan"),
        "worst_ratio": float(ratio[np.argmax(np.abs(np.log(ratio)))]) if len(m) else float("nan"),
    }


def compare(measured_s: Sequence[float], predicted_s: Sequence[float],
            macs: Sequence[float]) -> dict[str, float]:
    """Validation statistics of a profile's predictions (no fitting): MAPE, within +-20 %,
    Spearman r_s of the roofline and of MAC counting."""
    acc = accuracy(measured_s, predicted_s)
    return {"n": len(measured_s), "spearman_roofline": acc["spearman"],
            "spearman_macs": spearman(macs, measured_s), "mape": acc["mape"],
            "within_20pct": acc["within_20pct"], "median_ratio": acc["median_ratio"],
            "worst_ratio": acc["worst_ratio"]}

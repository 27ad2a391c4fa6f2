"""Rendering of the calibration commands: bench, fit and validate reports as text, CSV, JSON.

Numbers in, text out: the calibration modules hand over their results (a
:class:`~roofline.calibration.bench.BenchResult`, a fit report dict, a
:class:`~roofline.calibration.validate.Validation`) and nothing here computes anything but
formatting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from roofline.render.tables import frame_csv, render_table, to_json
from roofline.units import si

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from roofline.calibration.bench import BenchResult
    from roofline.calibration.validate import Validation

__all__ = ["bench_rows", "bench_text", "fit_text", "render_validation", "validation_text"]


# ------------------------------------------------------------------------------ bench


def bench_rows(result: BenchResult) -> list[list[str]]:
    """Rows for the bench's table: roof, dtype/level, threads, value, spread, problem."""
    return [[p.what, p.dtype or f"{p.level} {p.kernel}",
             "-" if p.threads is None else str(p.threads), si(p.value, p.unit),
             f"{100 * p.spread:.1f} %", p.size] for p in result.points]


def bench_text(result: BenchResult, *, profile: str, ridge_points: Mapping[str, float],
               quick: bool = False) -> str:
    """``roofline bench``: what was measured, the ridge points (per dtype, MACs/byte), any
    warnings, and where the profile went."""
    table = render_table(bench_rows(result),
                         ["roof", "dtype / memory", "threads", "median", "spread", "problem"],
                         "lllrrl")
    lines = [f"{result.device_name}, torch {result.torch_version}, {result.elapsed_s:.0f} s",
             "", table, ""]
    if ridge_points:
        lines.append("ridge points (DRAM, " + ("GPU" if result.device == "cuda" else "1 thread")
                     + "): " + ", ".join(f"{d} {v:.3g} MACs/B" for d, v in ridge_points.items()))
    lines += [f"warning: {w}" for w in result.warnings]
    lines += [f"wrote {profile}; use it with --hw {profile}"]
    if quick:
        lines.append("(--quick: tiny problems, these numbers are not this machine's roofs)")
    return "\n".join(lines)


# -------------------------------------------------------------------------- fit / validate


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f} %"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def fit_text(report: Mapping[str, Any]) -> str:
    """The human-readable report of ``roofline fit``."""
    r = report
    head = (f"fit of {r['n_models']} models ({r.get('measurements', 'measurements')}, "
            f"dtype {r.get('dtype', '?')}, fusion {r.get('fusion', '?')}"
            + (f", base {r['base']}" if r.get("base") else "") + ")")
    loose = r.get("undetermined", [])
    lines = [head, f"  free parameters     {', '.join(r['free_parameters'])}",
             f"  peak (effective)    {si(r['peak_macs_per_s'], 'MAC/s')}"
             + ("" if "peak" in r["free_parameters"] else "  (held)")
             + ("  (not determined: no layer is compute-bound)" if "peak" in loose else ""),
             "  bandwidth (eff.)    "
             + ("not determined: no layer is memory-bound" if "bandwidth" in loose
                else si(r["mem_bw_bytes_per_s"], "B/s")),
             f"  ridge point         {r['ridge_point']:.3g} MACs/byte"]
    if "overhead" in r["free_parameters"]:
        lines.append(f"  overhead per layer  {r['overhead_s_per_layer'] * 1e6:.3g} us")
    lines.append(f"  compute-bound share of the roofline time: "
                 f"{100 * r['compute_bound_share']:.0f} %")
    stats = [["Spearman r_s", _num(r["spearman_roofline"]), _num(r["spearman_macs"])],
             ["MAPE", _pct(r["mape"]), _pct(r["mape_macs"])],
             ["within +-20 %", _pct(100 * r["within_20pct"], 0),
              _pct(100 * r["within_20pct_macs"], 0)]]
    if "loo" in r:
        lo = r["loo"]
        stats += [["leave-one-out r_s", _num(lo["spearman_roofline"]), _num(lo["spearman_macs"])],
                  ["leave-one-out MAPE", _pct(lo["mape"]), _pct(lo["mape_macs"])],
                  ["leave-one-out +-20 %", _pct(100 * lo["within_20pct"], 0),
                   _pct(100 * lo["within_20pct_macs"], 0)]]
    lines += ["", render_table(stats, ["in sample", "roofline", "MACs only (scaled)"], "lrr")]
    cols = ["model", "measured ms", "predicted ms", "error"]
    rows = []
    for m in r["models"]:
        row = [m["model"], f"{m['measured_ms']:.4g}", f"{m['predicted_ms']:.4g}",
               f"{m['error_pct']:+.1f} %"]
        if "loo_predicted_ms" in m:
            row += [f"{m['loo_predicted_ms']:.4g}", f"{m['loo_error_pct']:+.1f} %"]
        rows.append(row)
    if rows and len(rows[0]) > 4:
        cols += ["leave-one-out ms", "error"]
    lines += ["", render_table(rows, cols, "l" + "r" * (len(cols) - 1))]
    for w in r.get("warnings", []):
        lines.append(f"warning: {w}")
    lines.append("MACs only = latency proportional to MACs, scaled to these measurements "
                 "(the ranking MAC counting gives).")
    return "\n".join(lines)


def render_validation(v: Validation, fmt: str, plot: str | None = None) -> str:
    """``roofline validate`` output: ``table`` (:func:`validation_text`, naming ``plot`` when
    one was written), ``csv`` (the models) or ``json``."""
    if fmt == "json":
        return to_json(v.to_dict())
    if fmt == "csv":  # MACs are integers: all their digits, not 6 significant ones
        return frame_csv(v.models.astype({"macs": "int64"}), index=False, float_format="%.6g")
    return validation_text(v.head, v.stats, v.models, v.layer_stats, plot)


def validation_text(head: Mapping[str, Any], stats: Mapping[str, Any], models: pd.DataFrame,
                    layer_stats: Mapping[str, Any] | None, plot: str | None) -> str:
    """The human-readable report of ``roofline validate``."""
    tag = "  [FITTED]" if head.get("fitted") else f"  [{head.get('basis', '')}]"
    lines = [f"{head['hardware']}: {head['hardware_name']}{tag}",
             f"  peak {si(head['peak_macs_per_s'], 'MAC/s')}, bandwidth "
             f"{si(head['mem_bw_bytes_per_s'], 'B/s')}, ridge point "
             f"{head['ridge_point']:.3g} MACs/byte"
             + (f", overhead {head['overhead_s_per_layer'] * 1e6:.3g} us/layer"
                if head.get("overhead_s_per_layer") else "")
             + f"; fusion {head['fusion']}", ""]
    rows = [[m.model, f"{m.measured_ms:.4g}", f"{m.predicted_ms:.4g}", f"{m.error_pct:+.1f} %",
             si(m.macs, "MACs")] for m in models.itertuples()]
    lines.append(render_table(rows, ["model", "measured ms", "predicted ms", "error", "MACs"],
                              "lrrrr"))
    lines += ["", f"{stats['n']} models: Spearman r_s roofline {_num(stats['spearman_roofline'])}"
              f" vs MACs only {_num(stats['spearman_macs'])}; MAPE {_pct(stats['mape'])}; "
              f"within +-20 %: {_pct(100 * stats['within_20pct'], 0)}; median predicted/"
              f"measured {stats['median_ratio']:.3g}"]
    if layer_stats:
        ls = layer_stats
        lines.append(f"{ls['n']} layers of {ls['models']} models: Spearman r_s roofline "
                     f"{_num(ls['spearman_roofline'])} vs MACs only {_num(ls['spearman_macs'])}"
                     f" (median per model {_num(ls['median_model_spearman'])}); MAPE "
                     f"{_pct(ls['mape'])}; within +-20 %: {_pct(100 * ls['within_20pct'], 0)}")
    if not head.get("fitted"):
        lines.append("note: a roofline from peak specs is a lower bound on latency; fit it to "
                     "measurements (`roofline fit`) to predict absolute times")
    if plot:
        lines.append(f"wrote {plot}")
    return "\n".join(lines)

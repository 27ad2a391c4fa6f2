"""Text reports of runtime fits and runtime validations (``roofline fit --fit``,
``roofline validate`` under a runtime). Formatting only: numbers arrive as dicts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from roofline.render.report import render_table, si

__all__ = ["parameter_rows", "runtime_fit_text", "runtime_validation_text"]


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f} %"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def parameter_rows(values: Mapping[str, float], peak: float,
                   free: tuple[str, ...] | list[str] = ()) -> list[list[str]]:
    """[name, value, on this device, fitted/held] per runtime parameter."""
    rows = []
    for k, v in values.items():
        here = f"{v / peak * 1e6:.3g} us" if k.endswith("_macs") else f"{v:.3g} x"
        val = si(v, "MAC-eq") if k.endswith("_macs") else f"{v:.4g}"
        rows.append([k, val, here, "fitted" if k in free else "held"])
    return rows


def runtime_fit_text(r: Mapping[str, Any]) -> str:
    """The human-readable report of ``roofline fit --fit ...``."""
    lines = [f"fit of {r['n_models']} models ({r.get('measurements', 'measurements')}, dtype "
             f"{r.get('dtype', '?')}, runtime {r.get('runtime', '?')}, {r.get('graph', '')}"
             + (f", base {r['base']}" if r.get("base") else "") + ")",
             f"  free parameters     {', '.join(r['free_parameters'])}",
             f"  peak                {si(r['peak_macs_per_s'], 'MAC/s')}"
             + ("" if "peak" in r["free_parameters"] else "  (held)"),
             f"  bandwidth           {si(r['mem_bw_bytes_per_s'], 'B/s')}"
             + ("" if "bandwidth" in r["free_parameters"] else "  (held)"),
             f"  ridge point         {r['ridge_point']:.3g} MACs/byte", ""]
    lines.append(render_table(parameter_rows(r["runtime_parameters"], r["peak_macs_per_s"],
                                             r["free_parameters"]),
                              ["runtime parameter", "value", "on this device", ""], "lrrl"))
    stats = [["Spearman r_s", _num(r["spearman_runtime"]), _num(r["spearman_plain"]),
              _num(r["spearman_macs"])],
             ["MAPE", _pct(r["mape"]), _pct(r["mape_plain"]), _pct(r["mape_macs"])],
             ["within +-20 %", _pct(100 * r["within_20pct"], 0),
              _pct(100 * r["within_20pct_plain"], 0), _pct(100 * r["within_20pct_macs"], 0)]]
    if "loo" in r:
        lo = r["loo"]
        stats += [["leave-one-out r_s", _num(lo["spearman_runtime"]), "", ""],
                  ["leave-one-out MAPE", _pct(lo["mape"]), "", ""],
                  ["leave-one-out +-20 %", _pct(100 * lo["within_20pct"], 0), "", ""]]
    lines += ["", render_table(stats, ["in sample", "runtime-aware", "plain roofline",
                                       "MACs only (scaled)"], "lrrr")]
    cols = ["model", "measured ms", "predicted ms", "error", "plain ms"]
    rows = []
    for m in r["models"]:
        row = [m["model"], f"{m['measured_ms']:.4g}", f"{m['predicted_ms']:.4g}",
               f"{m['error_pct']:+.1f} %", f"{m['plain_ms']:.4g}"]
        if "loo_predicted_ms" in m:
            row += [f"{m['loo_predicted_ms']:.4g}", f"{m['loo_error_pct']:+.1f} %"]
        rows.append(row)
    if rows and len(rows[0]) > len(cols):
        cols += ["leave-one-out ms", "error"]
    lines += ["", render_table(rows, cols, "l" + "r" * (len(cols) - 1))]
    for w in r.get("warnings", []):
        lines.append(f"warning: {w}")
    lines.append("plain roofline = the same layers at the fitted device's peak and bandwidth, "
                 "no runtime parameters; MACs only = latency proportional to MACs, scaled to "
                 "these measurements.")
    return "\n".join(lines)


def runtime_validation_text(v: Mapping[str, Any], plot: str | None = None) -> str:
    """The human-readable report of ``roofline validate`` under a runtime."""
    tag = "  [FITTED]" if v.get("fitted") else f"  [{v.get('basis', '')}]"
    lines = [f"{v['hardware']}: {v['hardware_name']}{tag}",
             f"  peak {si(v['peak_macs_per_s'], 'MAC/s')}, bandwidth "
             f"{si(v['mem_bw_bytes_per_s'], 'B/s')}, ridge point {v['ridge_point']:.3g} "
             f"MACs/byte; runtime {v['runtime']} ({v['fusion']}"
             + (", fitted parameters" if v.get("runtime_fitted") else ", no fitted parameters")
             + ")", ""]
    rows = [[m["model"], f"{m['measured_ms']:.4g}", f"{m['predicted_ms']:.4g}",
             f"{m['error_pct']:+.1f} %", f"{m['plain_ms']:.4g}", si(m["macs"], "MACs"),
             str(m["layers"]), str(m["partitions"])] for m in v["models"]]
    lines.append(render_table(rows, ["model", "measured ms", "predicted ms", "error",
                                     "plain ms", "MACs", "ops", "partitions"], "lrrrrrrr"))
    p = v["plain"]
    summary = (f"{v['n']} models: runtime-aware Spearman r_s {_num(v['spearman_roofline'])}, "
               f"MAPE {_pct(v['mape'])}, within +-20 %: {_pct(100 * v['within_20pct'], 0)}; "
               f"plain roofline r_s {_num(p['spearman_roofline'])}, MAPE {_pct(p['mape'])}; "
               f"MACs only r_s {_num(v['spearman_macs'])}")
    lines += ["", summary]
    if plot:
        lines.append(f"wrote {plot}")
    return "\n".join(lines)

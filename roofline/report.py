"""Rendering: numbers in, text / CSV / JSON / markdown out.

Counting and presenting are separate: the analysis hands over DataFrames and dicts of plain
numbers, and units are formatted here, for human eyes only. CSV and JSON keep raw numbers
(seconds, bytes, MACs) with the unit in the column name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .analysis import Analysis

FORMATS = ("table", "csv", "json", "markdown")

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """1.08e9, 'MACs' -> '1.08 GMACs'; keeps three significant digits."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return f"- {unit}".strip()
    for scale, prefix in _SI:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}".strip()


def ms(seconds: float, digits: int = 3) -> str:
    """Seconds -> a millisecond string with sensible precision."""
    v = seconds * 1e3
    if v == 0:
        return "0"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def render_table(rows: Sequence[Sequence[Any]], headers: Sequence[str],
                 align: str | None = None) -> str:
    """A plain fixed-width table; ``align`` is one of 'l'/'r' per column."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(r, widths, align)).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def _markdown_table(rows: Sequence[Sequence[Any]], headers: Sequence[str],
                    align: str | None = None) -> str:
    align = align or "l" + "r" * (len(headers) - 1)
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(":--" if a == "l" else "--:" for a in align) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


# --------------------------------------------------------------------------- analysis


def _device_lines(a: Analysis) -> list[str]:
    r = a.roof
    if r is None:
        return ["device    none (counts only; pass --hw for latency)"]
    label = "FITTED" if r.fitted else r.basis
    lines = [f"device    {r.hardware_id} - {r.name}  [{label}]"]
    peak_basis = bw_basis = ""
    if a.profile is not None:
        fig = a.profile.peak_macs_per_s.get(r.dtype)
        peak_basis = f", {fig.basis}" if fig is not None else ""
        bw_basis = f", {a.profile.mem_bw_bytes_per_s.basis}"
    lines.append(
        f"          peak {si(r.peak_macs_per_s, 'MAC/s')} ({r.dtype}{peak_basis}) | "
        f"DRAM {si(r.mem_bw_bytes_per_s, 'B/s')}{(' (' + bw_basis[2:] + ')') if bw_basis else ''} | "
        f"ridge point {r.ridge_point:.3g} MACs/byte"
    )
    extras = []
    if r.overhead_s_per_layer:
        extras.append(f"overhead {r.overhead_s_per_layer * 1e6:.3g} us/layer")
    if r.compute_efficiency != 1.0 or r.memory_efficiency != 1.0:
        extras.append(f"efficiency compute {r.compute_efficiency:.2f}, memory "
                      f"{r.memory_efficiency:.2f}")
    if extras:
        lines.append("          " + " | ".join(extras))
    return lines


def _top_rows(a: Analysis, k: int) -> tuple[list[list[Any]], list[str], str]:
    top = a.top(k)
    has_time = "latency_s" in top
    total_time = a.totals.get("latency_s") or 0.0
    total_macs = a.totals["macs"] or 1
    rows = []
    for i, r in top.iterrows():
        row = [i, r["name"] or "(model)", r["op"], si(r["macs"]), si(r["bytes"], "B"),
               f"{r['intensity']:.3g}"]
        if has_time:
            share = r["latency_s"] / total_time if total_time else 0.0
            row += [ms(r["latency_s"]), r["bound"], f"{share:.1%}"]
        else:
            row += [f"{r['macs'] / total_macs:.1%}"]
        rows.append(row)
    headers = ["#", "layer", "op", "MACs", "bytes", "MACs/B"]
    headers += ["time ms", "bound", "share"] if has_time else ["share of MACs"]
    align = "rllrrr" + ("rlr" if has_time else "r")
    return rows, headers, align


def _coverage_line(a: Analysis) -> str:
    if not a.unsupported:
        return f"coverage  {a.ops_traced} aten ops traced, every one accounted for"
    listed = ", ".join(f"{k} x{v}" for k, v in sorted(a.unsupported.items(), key=lambda kv: -kv[1]))
    return (f"coverage  {a.coverage:.1%} of data-moving ops understood; unsupported "
            f"(bytes counted, MACs unknown): {listed}")


def analysis_text(a: Analysis, top: int = 10) -> str:
    """The human-readable report of ``roofline analyze``."""
    t = a.totals
    shape = " + ".join("x".join(map(str, s)) for s in a.input_shapes)
    head = f"model     {a.model}"
    if a.family:
        head += f" ({a.family})"
    head += f"   input {shape}"
    if getattr(a, "form", None) == "training":
        head += "   [training form: multi-branch, not re-parameterised]"
    wd = f" (weights {a.weight_dtype})" if a.weight_dtype != a.dtype else ""
    lines = [head, f"dtype     {a.dtype}{wd}   fusion {a.fusion}", *_device_lines(a), ""]
    lines.append(
        f"totals    {si(t['macs'], 'MACs')} ({si(t['flops'], 'FLOPs')})   params "
        f"{si(t['params'])}   layers {t['layers']}")
    lines.append(
        f"          bytes {si(t['bytes'], 'B')} = weights {si(t['weight_bytes'], 'B')} + "
        f"activations {si(t['activation_bytes'], 'B')}   intensity {t['intensity']:.3g} MACs/B")
    if "latency_s" in t:
        lines.append(
            f"          predicted latency {ms(t['latency_s'])} ms   memory-bound "
            f"{t['memory_bound_fraction']:.0%} of the time ({t['memory_bound_layers']} of "
            f"{t['layers']} layers)")
    if a.published and a.published.get("macs_g"):
        p = a.published
        lines.append(f"          paper: {p['params_m']} M params, {p['macs_g']} G MACs, "
                     f"top-1 {p['top1']}%")
    if top > 0:
        rows, headers, align = _top_rows(a, top)
        by = "predicted time" if "latency_s" in t else "MACs"
        lines += ["", f"top {len(rows)} layers by {by}", render_table(rows, headers, align)]
    lines += ["", _coverage_line(a)]
    if a.roof is not None:
        lines.append("note      roofline latency is a bound for ranking, not a measurement; "
                     "1 MAC = 2 FLOPs")
    return "\n".join(lines)


def analysis_markdown(a: Analysis, top: int = 10) -> str:
    """A markdown summary with the top-k table (for docs and issues)."""
    t = a.totals
    lines = [f"## {a.model} ({a.dtype}, fusion {a.fusion})", ""]
    if a.roof is not None:
        r = a.roof
        lines.append(f"Device: **{r.hardware_id}** ({r.name}){' [fitted]' if r.fitted else ''}, "
                     f"peak {si(r.peak_macs_per_s, 'MAC/s')}, DRAM "
                     f"{si(r.mem_bw_bytes_per_s, 'B/s')}, ridge point {r.ridge_point:.3g} MACs/B")
        lines.append("")
    summary = [["MACs", si(t["macs"])], ["FLOPs", si(t["flops"])], ["params", si(t["params"])],
               ["weight bytes", si(t["weight_bytes"], "B")],
               ["activation bytes", si(t["activation_bytes"], "B")],
               ["layers", t["layers"]]]
    if "latency_s" in t:
        summary += [["predicted latency", f"{ms(t['latency_s'])} ms"],
                    ["memory-bound share", f"{t['memory_bound_fraction']:.0%}"]]
    lines += [_markdown_table(summary, ["total", "value"], "lr"), ""]
    if top > 0:
        rows, headers, align = _top_rows(a, top)
        lines += [_markdown_table(rows, headers, align), ""]
    lines.append(_coverage_line(a).replace("coverage  ", "Coverage: "))
    return "\n".join(lines) + "\n"


def analysis_csv(a: Analysis) -> str:
    """The full layer table as CSV (raw numbers; units in the column names)."""
    return a.layers.to_csv(index_label="layer")


def to_json(obj: Any) -> str:
    """JSON with NaN/inf turned into null (strict JSON readers reject them)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if hasattr(x, "item") and not isinstance(x, (str, bytes)):  # numpy scalars
            return clean(x.item())
        return x

    return json.dumps(clean(obj), indent=2)


def render_analysis(a: Analysis, fmt: str, top: int = 10) -> str:
    """Render an analysis in one of :data:`FORMATS`."""
    if fmt == "table":
        return analysis_text(a, top)
    if fmt == "csv":
        return analysis_csv(a)
    if fmt == "json":
        return to_json(a.to_dict())
    if fmt == "markdown":
        return analysis_markdown(a, top)
    raise ValueError(fmt)


def frame_text(df: pd.DataFrame) -> str:
    """A DataFrame as a fixed-width table (numbers formatted to 4 significant digits)."""
    rows = [[f"{v:.4g}" if isinstance(v, float) else v for v in r] for r in df.itertuples(index=False)]
    align = "".join("r" if df[c].dtype.kind in "iuf" else "l" for c in df.columns)
    return render_table(rows, list(df.columns), align)

"""Rendering of ``roofline compare``: a models x devices table as text, CSV, JSON or
markdown. Numbers stay raw (seconds, MACs) in CSV and JSON, with the unit in the name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roofline import __version__
from roofline.render.report import markdown_table, ms, render_table, si, to_json
from roofline.render.tables import frame_csv

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["compare_text", "device_lines"]


def device_lines(devices: dict[str, dict[str, Any]]) -> list[str]:
    """One line per device: id, name, dtype, ridge point, basis (what-if and fitted shown)."""
    width = max(map(len, devices), default=0)
    return [f"{d:{width}}  {v['name']}  ({v['dtype']}, peak {si(v['peak_macs_per_s'], 'MAC/s')}, "
            f"DRAM {si(v['mem_bw_bytes_per_s'], 'B/s')}, ridge point {v['ridge_point']:.3g} "
            f"MACs/B, {v['basis']})" for d, v in devices.items()]


def _rows(df: pd.DataFrame, devices: list[str]) -> tuple[list[list[Any]], list[str], str]:
    headers = ["model", "family", "res", "MACs", "params", "top-1 %"]
    for d in devices:
        headers += [f"{d} ms", "mem-bound"]
    align = "llrrrr" + "rr" * len(devices)
    if "fastest_on" in df:
        headers.append("fastest on")
        align += "l"
    rows = []
    for r in df.to_dict(orient="records"):
        res = r["resolution"]
        row = [r["model"], r["family"] if isinstance(r["family"], str) else "-",
               "-" if res is None or res != res else int(res), si(r["macs"]), si(r["params"]),
               "-" if r["top1"] != r["top1"] else f"{r['top1']:g}"]
        for d in devices:
            row += [ms(r[f"latency_s[{d}]"]), f"{r[f'memory_bound_fraction[{d}]']:.0%}"]
        if "fastest_on" in r:
            row.append(r["fastest_on"].replace(";", ", ") or "")
        rows.append(row)
    return rows, headers, align


def compare_text(df: pd.DataFrame, fmt: str) -> str:
    """``roofline compare`` in one of table, csv, json, markdown."""
    devices = df.attrs.get("devices", {})
    bar = df.attrs.get("min_top1")
    if fmt == "csv":
        return frame_csv(df, index=False, float_format="%.10g")
    if fmt == "json":
        return to_json({"roofline_version": __version__, "devices": devices, "min_top1": bar,
                        "units": {"latency_s": "seconds", "macs": "multiply-accumulates",
                                  "top1": "percent (published)"},
                        "rows": df.astype(object).where(df.notna(), None)
                        .to_dict(orient="records")})
    rows, headers, align = _rows(df, list(devices))
    fastest = []
    if bar is not None:
        for d in devices:
            best = df.loc[df["fastest_on"].str.split(";").map(lambda s, d=d: d in s)]
            if len(best):
                r = best.iloc[0]
                fastest.append(f"{d}: {r['model']} ({ms(r[f'latency_s[{d}]'])} ms, top-1 "
                               f"{r['top1']:g}%)")
    if fmt == "markdown":
        out = ["| device | |", "|:--|:--|"]
        out += [f"| {d} | {line[len(d):].strip()} |" for d, line in
                zip(devices, device_lines(devices))]
        out += ["", markdown_table(rows, headers, align)]
        if fastest:
            out += ["", f"Fastest with a published top-1 of at least {bar:g}%:", ""]
            out += [f"- {f}" for f in fastest]
        return "\n".join(out) + "\n"
    lines = ["devices   " + (("\n" + " " * 10).join(device_lines(devices))), "",
             render_table(rows, headers, align), ""]
    if fastest:
        lines += [f"fastest with a published top-1 >= {bar:g}%:",
                  *(f"  {f}" for f in fastest), ""]
    lines.append("ms: predicted latency (roofline, a bound for ranking); mem-bound: share of "
                 "that time in memory-bound layers; top-1 as published (zoo models)")
    return "\n".join(lines) + "\n"

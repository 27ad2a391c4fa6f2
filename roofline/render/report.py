"""Rendering: numbers in, text / CSV / JSON / markdown out.

Counting and presenting are separate: the analysis hands over DataFrames and dicts of plain
numbers, and units are formatted here, for human eyes only. CSV and JSON keep raw numbers
(seconds, bytes, MACs) with the unit in the column name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from roofline import __version__
from roofline.errors import RooflineError
from roofline.hardware.runtime import get_runtime
from roofline.render.tables import (csv_text, frame_csv, markdown_table, render_table, to_json,
                                    wrap)
from roofline.units import column_decimals, ms, si

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from roofline.analysis import Analysis
    from roofline.hardware.registry import HardwareProfile
    from roofline.latency.presets import Preset
    from roofline.models.fidelity import Counts
    from roofline.models.registry import ZooEntry

__all__ = ["ANALYSIS_FORMATS", "analysis_text", "analysis_markdown", "analysis_csv",
           "render_analysis", "hardware_list_text", "hardware_text", "cache_info_text",
           "zoo_list_text", "zoo_entry_text", "sweep_text",
           # the generic helpers, here for the callers that import them from this module
           "si", "ms", "render_table", "markdown_table", "csv_text", "to_json"]

#: the formats of ``roofline analyze`` (:func:`render_analysis`)
ANALYSIS_FORMATS = ("table", "csv", "json", "markdown")

# --------------------------------------------------------------------------- analysis


def _device_lines(a: Analysis) -> list[str]:
    r = a.roof
    if r is None:
        return ["device    none (counts only; pass --hw for latency)"]
    # the profile's name carries "[fitted]" for fitted variants; the basis of every figure
    # follows it, so a reader sees which numbers are specs, estimates, measured or fitted
    name = r.name if r.fitted or "fitted" in r.name else f"{r.name}  [{r.basis}]"
    lines = [f"device    {r.hardware_id} - {name}"]
    peak_basis = bw_basis = ""
    if a.profile is not None:
        fig = a.profile.peak_macs_per_s.get(r.dtype)
        peak_basis = f", {fig.basis}" if fig is not None else ""
        bw_basis = f" ({a.profile.mem_bw_bytes_per_s.basis})"
    fitted_rp = " (fitted)" if r.fitted else ""
    lines.append(
        f"          peak {si(r.peak_macs_per_s, 'MAC/s')} ({r.dtype}{peak_basis}) | "
        f"DRAM {si(r.mem_bw_bytes_per_s, 'B/s')}{bw_basis} | "
        f"ridge point {r.ridge_point:.3g} MACs/byte{fitted_rp}"
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
    has_runtime = "runtime_latency_s" in top
    total_time = a.totals.get("latency_s") or 0.0
    total_runtime = a.totals.get("runtime_latency_s") or 0.0
    total_macs = a.totals["macs"] or 1
    rows = []
    for i, r in top.iterrows():
        row = [i, r["name"] or "(model)", r["op"], si(r["macs"]), si(r["bytes"], "B"),
               f"{r['intensity']:.3g}"]
        if has_runtime:
            share = r["runtime_latency_s"] / total_runtime if total_runtime else 0.0
            row += [ms(r["latency_s"]), r["bound"], ms(r["runtime_latency_s"]), f"{share:.1%}"]
        elif has_time:
            share = r["latency_s"] / total_time if total_time else 0.0
            row += [ms(r["latency_s"]), r["bound"], f"{share:.1%}"]
        else:
            row += [f"{r['macs'] / total_macs:.1%}"]
        rows.append(row)
    headers = ["#", "layer", "op", "MACs", "bytes", "MACs/B"]
    if has_runtime:
        headers += ["roofline ms", "bound", f"{a.totals['runtime']} ms", "share"]
    else:
        headers += ["time ms", "bound", "share"] if has_time else ["share of MACs"]
    align = "rllrrr" + ("rlrr" if has_runtime else "rlr" if has_time else "r")
    return rows, headers, align


def _coverage_line(a: Analysis) -> str:
    if not a.unsupported:
        what = "ops read from the file" if a.fusion == "deployed" else "aten ops traced"
        return f"coverage  {a.ops_traced} {what}, every one accounted for"
    listed = ", ".join(f"{k} x{v}" for k, v in sorted(a.unsupported.items(), key=lambda kv: -kv[1]))
    return (f"coverage  {a.coverage:.1%} of data-moving ops understood; unsupported "
            f"(bytes counted, MACs unknown): {listed}")


def _deployed_runtime(a: Analysis) -> str | None:
    """The runtime of a torch-traced analysis' device when that runtime runs a deployed file
    (so ``--deployed`` would add its runtime-aware latency); None otherwise."""
    name = getattr(a.profile, "runtime", None)
    if not name or a.fusion == "deployed":
        return None
    try:
        graph = get_runtime(name).graph
    except RooflineError:
        return None
    return name if graph != "torch" else None


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
    if "runtime_latency_s" in t:
        lines.append(
            f"          runtime-aware {ms(t['runtime_latency_s'])} ms on {t['runtime']} (the "
            f"plain roofline above plus the runtime's fitted efficiencies and overheads)")
    if a.batch > 1:
        per = f"          per image (batch {a.batch}): {si(t['macs_per_image'], 'MACs')}"
        if "latency_per_image_s" in t:
            per += (f", {ms(t['latency_per_image_s'])} ms, throughput "
                    f"{si(t['images_per_s'])} images/s")
        lines.append(per)
    if a.published and a.published.get("macs_g"):
        p = a.published
        each = " per image" if a.batch > 1 else ""
        lines.append(f"          paper{each}: {p['params_m']} M params, {p['macs_g']} G MACs, "
                     f"top-1 {p['top1']}%")
    if top > 0:
        rows, headers, align = _top_rows(a, top)
        by = ("runtime-aware time" if "runtime_latency_s" in t else
              "predicted time" if "latency_s" in t else "MACs")
        lines += ["", f"top {len(rows)} layers by {by}", render_table(rows, headers, align)]
    lines += ["", _coverage_line(a)]
    if a.roof is not None:
        lines.append("note      roofline latency is a bound for ranking, not a measurement; "
                     "1 MAC = 2 FLOPs")
        runtime = _deployed_runtime(a)
        if runtime:
            lines.append(f"          {a.roof.hardware_id} is measured with {runtime}: --deployed "
                         "analyses the graph it runs, with its runtime-aware latency")
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
    if "runtime_latency_s" in t:
        summary.append([f"runtime-aware latency ({t['runtime']})",
                        f"{ms(t['runtime_latency_s'])} ms"])
    if a.batch > 1:
        summary.append([f"MACs per image (batch {a.batch})", si(t["macs_per_image"])])
        if "latency_per_image_s" in t:
            summary += [["latency per image", f"{ms(t['latency_per_image_s'])} ms"],
                        ["throughput", f"{si(t['images_per_s'])} images/s"]]
    lines += [markdown_table(summary, ["total", "value"], "lr"), ""]
    if top > 0:
        rows, headers, align = _top_rows(a, top)
        lines += [markdown_table(rows, headers, align), ""]
    lines.append(_coverage_line(a).replace("coverage  ", "Coverage: "))
    return "\n".join(lines) + "\n"


def analysis_csv(a: Analysis) -> str:
    """The full layer table as CSV (raw numbers; units in the column names)."""
    return frame_csv(a.layers, index_label="layer")


def render_analysis(a: Analysis, fmt: str, top: int = 10) -> str:
    """Render an analysis in one of :data:`ANALYSIS_FORMATS`."""
    if fmt == "table":
        return analysis_text(a, top)
    if fmt == "csv":
        return analysis_csv(a)
    if fmt == "json":
        return to_json(a.to_dict())
    if fmt == "markdown":
        return analysis_markdown(a, top)
    raise ValueError(fmt)


# --------------------------------------------------------------------------- hardware


def hardware_list_text(profiles: Sequence[HardwareProfile], fmt: str) -> str:
    """``roofline hw list``: one row per device at its default dtype (table, csv or json)."""
    rows = [p.summary() for p in profiles]
    if fmt == "json":
        return to_json(rows)
    if fmt == "csv":
        return csv_text(rows, None if rows else ["id"])
    table = [[r["id"], r["kind"], r["dtype"], si(r["peak_macs_per_s"], "MAC/s"),
              si(r["mem_bw_bytes_per_s"], "B/s"), f"{r['ridge_point']:.3g}", r["basis"],
              r["name"]] for r in rows]
    return render_table(table, ["id", "kind", "dtype", "peak", "DRAM bw", "ridge MACs/B",
                                "basis", "name"], "llllrrll")


def hardware_text(p: HardwareProfile, runtime: Any = None) -> str:
    """``roofline hw show``: every figure of a device with its basis, source and note, and
    the runtime it is measured with (``runtime``: its Runtime, resolved by the caller)."""
    lines = [f"{p.id}: {p.name}{'  [FITTED]' if p.fitted else ''}", f"kind {p.kind}, default dtype "
             f"{p.default_dtype}" + (f", file {p.path}" if p.path else "")]
    if p.description:
        lines += ["", *wrap(p.description)]
    lines += ["", "peak compute"]
    for d, f in p.peak_macs_per_s.items():
        lines.append(f"  {d:5} {si(f.value, 'MAC/s'):>14}  ridge {p.ridge_point(d):8.3g} MACs/B"
                     f"  [{f.basis}] {f.note}")
        lines.append(f"        {f.source}")
    bw = p.mem_bw_bytes_per_s
    lines += ["DRAM bandwidth", f"  {si(bw.value, 'B/s'):>20}  [{bw.basis}] {bw.note}",
              f"        {bw.source}"]
    for label, fig in (("on-chip memory", p.onchip_bytes),
                       ("overhead per layer (s)", p.overhead_s_per_layer),
                       ("compute efficiency", p.compute_efficiency),
                       ("memory efficiency", p.memory_efficiency)):
        if fig is not None:
            lines += [label, f"  {fig.value:.4g}  [{fig.basis}] {fig.note}", f"        {fig.source}"]
    if runtime is not None:
        lines += ["", f"runtime {runtime.id}: {runtime.name} (runs .{runtime.graph} files; "
                  f"torch traces use '{runtime.fusion}' fusion)"]
        lines += [f"  {k:26} {v.value:10.4g}  [{v.basis}] {v.note}"
                  for k, v in runtime.parameters.items()]
        if runtime.parameters:
            sources = sorted({v.source for v in runtime.parameters.values()})
            lines += [f"        {s}" for s in sources]
    elif p.runtime:
        lines += ["", f"runtime {p.runtime}"]
    if p.variants:
        lines += ["", "variants: " + ", ".join(f"{p.id}:{v}" for v in p.variants)]
    return "\n".join(lines)


def cache_info_text(info: dict[str, Any]) -> str:
    """``roofline cache info``: where the trace cache is, what it holds, whether it is on."""
    state = "on" if info["enabled"] else "off (ROOFLINE_NO_CACHE is set)"
    return (f"{info['dir']}: {info['entries']} traces and {info['other_files']} survey journals "
            f"/ model lists, {si(info['bytes'], 'B')}; cache {state}")


# --------------------------------------------------------------------------- zoo

_PUBLISHED = ("params_m", "macs_g", "top1")


def zoo_list_text(entries: Sequence[ZooEntry], fmt: str) -> str:
    """``roofline zoo list``: each entry's published params, MACs, top-1 and their source
    (table, csv or json)."""
    rows = [e.summary() for e in entries]
    if fmt == "json":
        return to_json(rows)
    if fmt == "csv":
        return csv_text(rows)
    printed = [{f: e.published.cited(f).text for f in _PUBLISHED} for e in entries]
    table = [[r["name"], r["family"], r["resolution"], t["params_m"], t["macs_g"], t["top1"],
              r["source"]] for r, t in zip(rows, printed)]
    text = render_table(table, ["name", "family", "res", "params M", "MACs G", "top-1 %",
                                "source (published figures)"], "llrrrrl")
    return text + ("\n\nParams, MACs and top-1 as published (- : none published). MobileOne and "
                   "FastViT are analysed re-parameterised.\n`roofline zoo show NAME` for sources "
                   "and notes; docs/fidelity.md compares our counts with these.")


def zoo_entry_text(e: ZooEntry, ours: Counts, gaps: Mapping[str, str | None]) -> str:
    """``roofline zoo show``: how an entry is built, its published figures with their
    sources, and our counts beside them, with ``gaps``: figure -> the cause of its gap over
    5 % (:func:`roofline.models.fidelity.explanation`) or None."""
    def field(label: str, text: str) -> list[str]:
        wrapped = wrap(text, 84)
        return [f"{label:12} {wrapped[0]}", *(" " * 13 + w for w in wrapped[1:])]

    res = f"{e.resolution} px (the paper's)"
    if e.min_resolution > 1:
        res += f"; at least {e.min_resolution} px: {e.resolution_rule}"
    form = ("re-parameterised (timm reparameterize_model); --training-form: as constructed"
            if e.reparameterize else "as constructed (nothing to re-parameterise)")
    lines = [f"{e.name}: {e.display} ({e.family})", *field("resolution", res),
             *field("built by", f"{e.constructor}, on meta"), *field("form", f"inference = {form}"),
             *field("aliases", ", ".join(e.aliases) or "-")]
    for label, text in (("differs", e.differs), ("note", e.note)):
        if text:
            lines += field(label, text)
    lines += ["", "published                      ours"]
    pub, said = e.published, set()
    for fig, label, unit, mine in (("top1", "top-1", "%", None),
                                   ("params_m", "params", "M", ours.params / 1e6),
                                   ("macs_g", "MACs", "G", ours.macs / 1e9)):
        c = pub.cited(fig)
        value = "-" if c.value is None else f"{c.text} {unit}"
        mine_s = "" if mine is None else f"{mine:.3f} {unit}"
        if mine is not None and c.value:
            mine_s += f" ({mine / c.value - 1:+.1%})"
        src = c.source.short if c.source and c.value is not None else "none published"
        lines.append(f"  {label:7} {value:>9}  {src:20} {mine_s}".rstrip())
        for text in (c.note, gaps.get(fig) if mine is not None else None):
            if text and text not in said:
                said.add(text)
                lines += ["          " + w for w in wrap(text, 86)]
    if pub.sources():
        lines += ["", "sources"]
        for s in pub.sources():
            lines += ["  " + w for w in wrap(f"{s.short}: {s.citation} {s.url}", 94)]
    lines += ["", f"`roofline analyze {e.name}` for its layer table on a device."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- sweep


def sweep_text(df: pd.DataFrame, preset: Preset, fmt: str) -> str:
    """A ridge-point sweep (:meth:`roofline.latency.presets.Preset.sweep`'s tidy frame).

    table: models x RPs in ms (long rows past 10 RPs); csv: tidy rows, latency in ms;
    json: the preset and tidy rows in seconds."""
    if fmt == "json":
        return to_json({
            "roofline_version": __version__,
            "preset": {**asdict(preset), "label": preset.label},
            "units": {"rp": "MACs/byte", "latency_s": "seconds",
                      "mac_equivalents": "sum_i max(macs_i, RP x bytes_i)"},
            "rows": df.to_dict(orient="records"),
        })
    out = df.assign(latency_ms=df["latency_s"] * 1e3)
    if fmt == "csv":
        cols = ["model", "rp", "latency_ms", "mac_equivalents", "memory_bound_fraction",
                "peak_macs_per_s", "mem_bw_bytes_per_s", "preset"]
        return frame_csv(out[cols], index=False, float_format="%.10g")
    if preset.hold == "bandwidth":
        device = (f"device at RP: PeakMACs = RP x {si(preset.mem_bw_bytes_per_s, 'B/s')}; "
                  f"RP 0 = {si(preset.peak_macs_per_s, 'MAC/s')}, no memory term")
    else:
        device = (f"device at RP: PeakMACs {si(preset.peak_macs_per_s, 'MAC/s')}, "
                  "bandwidth = PeakMACs / RP (infinite at RP 0)")
    lines = [preset.label, device, ""]
    grid = list(dict.fromkeys(out["rp"]))
    if len(grid) <= 10:
        lat = out.pivot(index="model", columns="rp", values="latency_ms").loc[
            list(dict.fromkeys(out["model"]))]
        mem = out.pivot(index="model", columns="rp", values="memory_bound_fraction").loc[lat.index]
        heads = ["model", *(f"RP {r:g}" for r in grid)]
        nd = column_decimals(lat.to_numpy().ravel())
        lines += ["predicted latency (ms)",
                  render_table([[m, *(f"{v:.{nd}f}" for v in row)] for m, row in
                                zip(lat.index, lat.to_numpy())], heads),
                  "", "share of the time in memory-bound layers",
                  render_table([[m, *(f"{v:.0%}" for v in row)] for m, row in
                                zip(mem.index, mem.to_numpy())], heads)]
    else:
        nd = column_decimals(out["latency_ms"])
        rows = [[r.model, f"{r.rp:g}", f"{r.latency_ms:.{nd}f}", si(r.mac_equivalents),
                 f"{r.memory_bound_fraction:.0%}"] for r in out.itertuples()]
        lines.append(render_table(rows, ["model", "RP MACs/B", "latency ms", "MAC-equiv",
                                         "memory-bound"], "lrrrr"))
    return "\n".join(lines) + "\n"

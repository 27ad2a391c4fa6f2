"""``roofline report``: one model on several devices as one self-contained HTML file.

The file holds everything it needs: plotly's JavaScript is inlined once, the charts are
plotly figures (hover shows each layer's name, op, MACs, bytes, time and bound), the layer
table sorts on a click with a few lines of inline script, and nothing is fetched when the
file is opened (no CDN, no fonts, no MathJax). Sections: the summary, the devices side by
side, a roofline chart per device, the ridge-point sweep, the layer table.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from roofline import __version__
from roofline.render.report import ms, si

if TYPE_CHECKING:  # pragma: no cover
    from roofline.analysis import Analysis
    from roofline.report import Report

__all__ = ["report_html"]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;
max-width:1400px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid
#ddd;padding-bottom:4px}.muted{color:#666}table{border-collapse:collapse;margin:8px 0}
td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
td.l,th.l{text-align:left}th{background:#f6f6f6;position:sticky;top:0}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e8eef8}
th.asc::after{content:' \\25B2'}th.desc::after{content:' \\25BC'}
.wide{overflow-x:auto}.memory{color:#b04a00}.compute{color:#205fa8}.scroll{max-height:640px;overflow:auto}
"""

_SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _cell(text: Any, value: Any = None, cls: str = "") -> str:
    v = text if value is None else value
    c = f' class="{cls}"' if cls else ""
    return f'<td{c} data-v="{html.escape(str(v), quote=True)}">{html.escape(str(text))}</td>'


def _table(headers: list[str], rows: list[str], *, sortable: bool = False,
           left: int = 1) -> str:
    heads = "".join(f'<th class="l">{html.escape(h)}</th>' if i < left or h == "bound" else
                    f"<th>{html.escape(h)}</th>" for i, h in enumerate(headers))
    cls = ' class="sortable"' if sortable else ""
    return (f"<table{cls}><thead><tr>{heads}</tr></thead><tbody>"
            + "".join(f"<tr>{r}</tr>" for r in rows) + "</tbody></table>")


def _summary(rep: Report) -> str:
    a, t = rep.first, rep.first.totals
    shape = " + ".join("x".join(map(str, s)) for s in a.input_shapes)
    items = [("model", a.model + (f" ({a.family})" if a.family else "")), ("input", shape),
             ("fusion", a.fusion),
             ("MACs", f"{si(t['macs'], 'MACs')} ({si(t['flops'], 'FLOPs')}; 1 MAC = 2 FLOPs)"),
             ("params", si(t["params"])), ("layers", str(t["layers"])),
             ("bytes", f"{si(t['bytes'], 'B')} = weights {si(t['weight_bytes'], 'B')} + "
                       f"activations {si(t['activation_bytes'], 'B')}")]
    if a.batch > 1:
        items.append((f"per image (batch {a.batch})", si(t["macs_per_image"], "MACs")))
    if a.published and a.published.get("macs_g"):
        p = a.published
        each = " per image" if a.batch > 1 else ""
        items.append((f"published{each}", f"{p['params_m']} M params, {p['macs_g']} G MACs, "
                                          f"top-1 {p['top1']}% ({p['source']})"))
    rows = "".join(f'<tr><th class="l">{html.escape(k)}</th><td class="l">{html.escape(v)}'
                   f"</td></tr>" for k, v in items)
    return f"<table>{rows}</table>"


def _devices(rep: Report) -> tuple[str, Any]:
    import plotly.graph_objects as go  # deferred: heavy import (plotly)

    d = rep.devices()
    per_image = rep.first.batch > 1
    headers = ["device", "name", "basis", "dtype", "peak MAC/s", "DRAM B/s", "ridge MACs/B",
               "latency ms", "memory-bound"] + (["ms per image"] if per_image else [])
    rows = []
    for r in d.to_dict(orient="records"):
        cells = [_cell(r["id"], cls="l"), _cell(r["name"], cls="l"), _cell(r["basis"], cls="l"),
                 _cell(r["dtype"], cls="l"),
                 _cell(si(r["peak_macs_per_s"]), r["peak_macs_per_s"]),
                 _cell(si(r["mem_bw_bytes_per_s"]), r["mem_bw_bytes_per_s"]),
                 _cell(f"{r['ridge_point']:.3g}", r["ridge_point"]),
                 _cell(ms(r["latency_s"]), r["latency_s"]),
                 _cell(f"{r['memory_bound_fraction']:.0%}", r["memory_bound_fraction"])]
        if per_image:
            cells.append(_cell(ms(r["latency_per_image_s"]), r["latency_per_image_s"]))
        rows.append("".join(cells))
    hover = "%{x}: %{y:.4g} ms<extra>%{fullData.name}</extra>"
    fig = go.Figure([
        go.Bar(name="total", x=d["id"], y=d["latency_s"] * 1e3, marker_color="#555",
               hovertemplate=hover),
        go.Bar(name="in compute-bound layers", x=d["id"], y=d["compute_bound_s"] * 1e3,
               marker_color="#205fa8", hovertemplate=hover),
        go.Bar(name="in memory-bound layers", x=d["id"], y=d["memory_bound_s"] * 1e3,
               marker_color="#e07b24", hovertemplate=hover)])
    wide = d["latency_s"].max() > 50 * d["latency_s"].min()
    fig.update_layout(barmode="group", height=380,
                      yaxis_title="predicted latency (ms)" + (", log scale" if wide else ""),
                      title=f"{rep.first.model}: predicted latency per device",
                      legend={"orientation": "h", "y": -0.2}, margin={"t": 50})
    fig.update_yaxes(type="log" if wide else "linear")
    return f'<div class="wide">{_table(headers, rows, sortable=True, left=4)}</div>', fig


def _roofline(a: Analysis) -> Any:
    import numpy as np  # deferred: heavy import (numpy)
    import plotly.graph_objects as go  # deferred: heavy import (plotly)

    r, lay = a.roof, a.layers
    drawn = lay[(lay["macs"] > 0) & (lay["latency_s"] > 0)]
    attained = drawn["macs"] / drawn["latency_s"]
    lo = max(min(drawn["intensity"].min(), r.ridge_point) / 4, 1e-3) if len(drawn) else 0.1
    hi = max(drawn["intensity"].max() if len(drawn) else 1.0, r.ridge_point) * 4
    xs = np.geomspace(lo, hi, 200)
    fig = go.Figure(go.Scatter(x=xs, y=np.minimum(r.peak_macs_per_s, r.mem_bw_bytes_per_s * xs),
                               mode="lines", line={"color": "#444"}, name="roof",
                               hoverinfo="skip"))
    for bound, color in (("compute", "#205fa8"), ("memory", "#e07b24")):
        part = drawn[drawn["bound"] == bound]
        custom = np.stack([part["name"], part["op"], [si(v) for v in part["macs"]],
                           [si(v, "B") for v in part["bytes"]],
                           [ms(v) for v in part["latency_s"]], part["bound"]], axis=-1) \
            if len(part) else None
        fig.add_trace(go.Scatter(
            x=part["intensity"], y=attained[part.index], mode="markers", name=f"{bound}-bound",
            marker={"color": color, "size": 8, "opacity": 0.75}, customdata=custom,
            hovertemplate=("layer %{customdata[0]}<br>op %{customdata[1]}<br>MACs %{customdata[2]}"
                           "<br>bytes %{customdata[3]}<br>time %{customdata[4]} ms<br>"
                           "%{customdata[5]}-bound<extra></extra>")))
    ys = [attained.min() / 2 if len(drawn) else r.peak_macs_per_s / 1e3, r.peak_macs_per_s * 2]
    fig.add_trace(go.Scatter(  # a trace, not add_vline: its label misplaces on log axes
        x=[r.ridge_point] * 2, y=ys, mode="lines+text", line={"color": "#888", "dash": "dot"},
        text=["", f"ridge point {r.ridge_point:.3g}"], textposition="bottom right",
        name="ridge point", hoverinfo="skip"))
    fig.update_layout(
        title=f"{r.hardware_id}: {r.name} ({r.dtype}, {r.basis})", height=460,
        xaxis={"type": "log", "title": "intensity (MACs/byte)",
               "range": [float(np.log10(lo)), float(np.log10(hi))]},
        yaxis={"type": "log", "title": "attained MACs/s (layer MACs / predicted time)"},
        legend={"orientation": "h", "y": -0.2}, margin={"t": 50})
    return fig


def _not_drawn(a: Analysis) -> str:
    """A line on the layers a log-log roofline cannot show (no MACs: memory only)."""
    lay = a.layers
    off = lay[~((lay["macs"] > 0) & (lay["latency_s"] > 0))]
    if off.empty:
        return ""
    share = off["latency_s"].sum() / a.totals["latency_s"] if a.totals["latency_s"] else 0.0
    return (f'<p class="muted">{len(off)} layers without MACs (memory only: '
            f"{', '.join(sorted(set(off['op'])))}) are not drawn; they take {share:.0%} of "
            "the predicted time.</p>")


def _sweep(rep: Report) -> Any:
    import plotly.graph_objects as go  # deferred: heavy import (plotly)

    s = rep.sweep
    fig = go.Figure(go.Scatter(x=s["rp"], y=s["latency_s"] * 1e3, mode="lines",
                               name=rep.first.model,
                               hovertemplate="RP %{x:.3g} MACs/B: %{y:.4g} ms<extra></extra>"))
    for a in rep.analyses:
        fig.add_vline(x=a.roof.ridge_point, line_dash="dot", line_color="#888",
                      annotation_text=a.roof.hardware_id, annotation_textangle=-90)
    fig.update_layout(title="latency vs ridge point (MAC counting at 0, an accelerator at 500)",
                      xaxis_title="ridge point (MACs/byte)", yaxis_title="predicted latency (ms)",
                      height=420, margin={"t": 50})
    return fig


def _layers(rep: Report) -> str:
    a = rep.first
    headers = ["#", "layer", "op", "MACs", "bytes", "MACs/B"]
    for other in rep.analyses:
        headers += [f"{other.roof.hardware_id} ms", "bound"]
    rows = []
    columns = [(o.layers["latency_s"].to_numpy(), o.layers["bound"].to_numpy())
               for o in rep.analyses]
    for i, r in enumerate(a.layers.itertuples()):
        cells = [_cell(r.Index, r.Index), _cell(r.name, cls="l"), _cell(r.op, cls="l"),
                 _cell(si(r.macs), r.macs), _cell(si(r.bytes, "B"), r.bytes),
                 _cell(f"{r.intensity:.3g}", r.intensity)]
        for times, bounds in columns:
            cells += [_cell(ms(times[i]), times[i]), _cell(bounds[i], cls=f"l {bounds[i]}")]
        rows.append("".join(cells))
    return f'<div class="scroll">{_table(headers, rows, sortable=True, left=3)}</div>'


def report_html(rep: Report) -> str:
    """The report as one HTML document (plotly inlined; opens offline)."""
    from plotly.offline import get_plotlyjs  # deferred: heavy import (plotly)

    def div(fig: Any, name: str) -> str:
        return fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                           div_id=name, config={"displaylogo": False, "responsive": True})

    a = rep.first
    device_table, device_fig = _devices(rep)
    ids = ", ".join(x.roof.hardware_id for x in rep.analyses)
    title = f"{a.model} on {ids}"
    charts = "".join(
        f"<h3>{html.escape(x.roof.hardware_id)}</h3>" + _not_drawn(x)
        + div(_roofline(x), f"roofline-{i}") for i, x in enumerate(rep.analyses))
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">roofline {__version__}: predicted latency is a roofline bound for '
        "ranking models and devices, not a measurement. Hover a chart for details; click a "
        "table header to sort.</p>",
        "<h2>Summary</h2>", _summary(rep),
        "<h2>Devices</h2>", device_table, div(device_fig, "devices"),
        "<h2>Roofline per device</h2>",
        '<p class="muted">A dot per layer at its intensity and the MACs/s it attains; the roof '
        "is min(peak, bandwidth x intensity).</p>", charts,
        "<h2>Ridge-point sweep</h2>",
        f'<p class="muted">{html.escape(rep.sweep_label)}. Dotted lines: the devices above.</p>',
        div(_sweep(rep), "sweep"),
        f"<h2>Layers ({len(a.layers)})</h2>", _layers(rep),
    ]
    meta = json.dumps({"roofline_version": __version__, "model": a.model,
                       "devices": [x.roof.hardware_id for x in rep.analyses]})
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>"
            f'<meta name="generator" content="{html.escape(meta, quote=True)}">'
            f"<style>{_STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
            + "\n".join(body) + f"<script>{_SORT_JS}</script></body></html>\n")

"""A survey as text: the leaderboard (table, markdown) or every row (CSV, JSON, parquet).

Reads the :class:`~roofline.survey.runner.Survey` data class only: its rows, devices,
job, counts and the frames it builds.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from roofline import __version__
from roofline.errors import InputError, did_you_mean
from roofline.render.report import markdown_table, render_table, si, to_json
from roofline.render.tables import frame_csv

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from roofline.survey.runner import Survey
    from roofline.survey.tasks import Device

__all__ = ["FORMATS", "render"]

FORMATS = ("table", "csv", "json", "parquet", "markdown")


def render(s: Survey, fmt: str, top: int = 10) -> str | bytes:
    """The survey in one of :data:`FORMATS`: a leaderboard (table, markdown) or every row
    (csv, json, parquet; raw numbers, units in the column names)."""
    if fmt == "csv":
        return frame_csv(s.frame(), index=False)
    if fmt == "json":
        return to_json({
            "roofline_version": __version__,
            "devices": [_device_dict(d) for d in s.devices],
            "options": {"batch": s.job.batch, "fusion": s.job.fusion,
                        "weight_dtype": s.job.weight_dtype, "compare": s.job.compare},
            "summary": s.summary(),
            "rows": _records(s.frame()),
            "units": {"macs": "multiply-accumulates (1 MAC = 2 FLOPs)", "latency_ms":
                      "milliseconds", "seconds": "seconds of worker time"},
        }) + "\n"
    if fmt == "parquet":
        buf = io.BytesIO()
        try:
            s.frame().to_parquet(buf, index=False)
        except ImportError:
            raise InputError("parquet output needs pyarrow: pip install 'roofline[survey]' "
                             "(or pyarrow)") from None
        return buf.getvalue()
    if fmt in ("table", "markdown"):
        return _leaderboard_text(s, top, markdown=fmt == "markdown")
    raise InputError(f"unknown format {fmt!r}{did_you_mean(fmt, FORMATS)}; "
                     f"expected one of {', '.join(FORMATS)}")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _device_dict(d: Device) -> dict[str, Any]:
    r = d.roof
    return {"label": d.label, "id": r.hardware_id, "name": r.name, "dtype": r.dtype,
            "peak_macs_per_s": r.peak_macs_per_s, "mem_bw_bytes_per_s": r.mem_bw_bytes_per_s,
            "ridge_point": r.ridge_point, "fitted": r.fitted}


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _leaderboard_text(s: Survey, top: int, markdown: bool) -> str:
    table = markdown_table if markdown else render_table
    sm = s.summary()
    head = (f"{sm['models']} model runs: {sm['ok']} ok, {sm['failed']} failed, "
            f"{sm['timeout']} timed out ({sm['resumed']} from the journal, {sm['ran']} run now, "
            f"{sm['wall_s']:.1f} s)")
    lines = [f"## roofline survey\n\n{head}" if markdown else head]
    if s.interrupted:
        lines.append("INTERRUPTED: rows shown are the ones finished; run the same command "
                     "again to resume")
    if s.job.compare and sm.get("compared") is not None:
        extra = [f"{sm['fcm_folded']} differ only by ops on constants, which we fold"
                 if sm["fcm_folded"] else "",
                 f"{sm['fcm_not_counted']} where it counts nothing" if sm["fcm_not_counted"]
                 else "",
                 f"{sm['fcm_failed']} where it fails" if sm["fcm_failed"] else ""]
        extra_text = "; ".join(e for e in extra if e)
        lines.append(f"MACs vs torch FlopCounterMode: {sm['within_1pct']} of {sm['compared']} "
                     f"within 1%" + (f" ({extra_text})" if extra_text else ""))
    for d in s.devices:
        board = s.leaderboard(d.label, top or None)
        r = d.roof
        fitted = ", fitted" if r.fitted else ""
        title = (f"top {len(board)} on {d.label} ({r.dtype}, ridge point {r.ridge_point:.3g} "
                 f"MACs/B{fitted})")
        rows = []
        for rank, (_, row) in enumerate(board.iterrows(), 1):
            rows.append([rank, row["spec"], _int(row["resolution"]),
                         f"{row[f'latency_ms@{d.label}']:.3g}", si(row["macs"]),
                         si(row["params"]), f"{row[f'memory_bound_fraction@{d.label}']:.0%}",
                         f"{row['coverage']:.0%}"])
        lines += ["", f"### {title}" if markdown else title]
        lines.append(table(rows, ["#", "model", "res", "latency ms", "MACs", "params",
                                  "mem-bound", "coverage"], "rllrrrrr") if rows
                     else "(no model succeeded)")
    bad = [r for r in s.rows if r.get("status") != "ok"]
    if bad:
        lines += ["", "### failed" if markdown else "failed"]
        lines.append(table([[r["spec"], _int(r.get("resolution")), r["status"],
                             _clip(r.get("reason") or "", 120)] for r in bad],
                           ["model", "res", "status", "reason"], "llll"))
    partial = [r for r in s.rows if r.get("status") == "ok" and r.get("unsupported")]
    if partial:
        lines += ["", f"{len(partial)} models have ops without a formula (bytes counted, "
                  "MACs unknown); see the `unsupported` column of --format csv"]
    lines += ["", "roofline latency is a bound for ranking, not a measurement; 1 MAC = 2 FLOPs"]
    return "\n".join(lines) + "\n"


def _int(x: Any) -> Any:
    """An integer cell; nothing for a missing one (None, NaN, pandas' NA)."""
    try:
        return int(x)
    except (TypeError, ValueError):
        return ""

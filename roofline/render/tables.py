"""Generic text tables: fixed-width, markdown, CSV, and JSON that strict readers accept.

No domain knowledge: rows in, text out. Every renderer of the package builds on these.
"""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from collections.abc import Sequence
from typing import Any

__all__ = ["render_table", "markdown_table", "csv_text", "frame_csv", "spreadsheet_safe", "to_json",
           "wrap"]


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


#: a cell starting with one of these is a formula to a spreadsheet (CSV injection)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (``=cmd|...``, ``+1``, ``@x``)
    gets a leading apostrophe, as OWASP advises; numbers and other text pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Sequence[dict[str, Any]], fieldnames: Sequence[str] | None = None,
             lineterminator: str = "\n") -> str:
    """Rows of dicts as CSV text (raw values, text made spreadsheet-safe); the header is the
    first row's keys unless ``fieldnames`` is given. Lines end in LF, as pandas writes
    them, so every CSV the toolkit writes looks the same."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fieldnames or rows[0]),
                       lineterminator=lineterminator)
    w.writeheader()
    w.writerows({k: spreadsheet_safe(v) for k, v in r.items()} for r in rows)
    return buf.getvalue()


def frame_csv(df: Any, **to_csv: Any) -> str:
    """A DataFrame as CSV text with every text cell made spreadsheet-safe (the one way the
    toolkit writes a frame to CSV)."""
    text_columns = [c for c in df.columns if getattr(df[c].dtype, "kind", "") == "O"]
    if text_columns:
        df = df.copy()
        for c in text_columns:
            df[c] = df[c].map(spreadsheet_safe)
    if to_csv.get("index", True) and getattr(df.index.dtype, "kind", "") == "O":
        df = df.set_axis(df.index.map(spreadsheet_safe), axis=0)
    return df.to_csv(**to_csv)


def wrap(text: str, width: int = 96) -> list[str]:
    """``text`` with its whitespace collapsed, wrapped to ``width`` columns."""
    return textwrap.wrap(" ".join(text.split()), width)


def markdown_table(rows: Sequence[Sequence[Any]], headers: Sequence[str],
                   align: str | None = None) -> str:
    """A markdown (GitHub) table; ``align`` is one of 'l'/'r' per column, ``|`` in a cell
    is escaped."""
    align = align or "l" + "r" * (len(headers) - 1)
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(":--" if a == "l" else "--:" for a in align) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


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

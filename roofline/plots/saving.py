"""Figures to files: the formats we write and reproducible bytes (no dates, no versions).

:func:`figure_suffix` checks a file name before anything is computed and imports nothing
heavy; :func:`figure_bytes` renders.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from roofline.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["FIGURE_SUFFIXES", "figure_suffix", "figure_bytes"]

#: the file formats a figure can be written in
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def figure_suffix(path: str, option: str) -> str:
    """The figure format a file name asks for ('.png', '.svg', '.pdf'); InputError naming the
    option otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise InputError(f"{option} {path!r}: expected a file ending in "
                         f"{', '.join(FIGURE_SUFFIXES)}")
    return suffix


def figure_bytes(fig: Figure, fmt: str, dpi: int = 150) -> bytes:
    """The figure rendered to PNG, SVG or PDF bytes; an unchanged figure gives the same
    bytes every time (no dates or versions in the files, stable SVG ids)."""
    from matplotlib import rc_context  # deferred: heavy import

    fmt = fmt.lower().lstrip(".")
    if f".{fmt}" not in FIGURE_SUFFIXES:
        raise InputError(f"cannot write .{fmt} figures; expected one of "
                         f"{', '.join(FIGURE_SUFFIXES)}")
    buf = io.BytesIO()
    meta = {"png": {"Software": None}, "svg": {"Date": None},
            "pdf": {"CreationDate": None, "ModDate": None}}[fmt]
    with rc_context({"svg.hashsalt": "roofline"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()

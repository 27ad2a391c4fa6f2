"""What was published about a model: each figure with its source, or the reason there is none.

Every figure (top-1, params, MACs) is a :class:`Cited`: the value as the source printed it, with
the paper and table it comes from, or ``None`` with the reason no publication gives it.
Plain data; the zoo entries (:mod:`roofline.models.entries`) carry one :class:`Published` each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FIGURES", "Source", "Cited", "cite", "Published"]

FIGURES = ("top1", "params_m", "macs_g")   # the published figures every entry carries

@dataclass(frozen=True)
class Source:
    """A publication: a short label for tables, the full citation, a URL."""

    short: str
    citation: str
    url: str = ""


@dataclass(frozen=True)
class Cited:
    """One published figure: its value as printed and where it comes from.

    ``value`` None means no publication gives the figure; ``note`` then says why (required).
    ``decimals`` is how many decimals the source printed: "0.2" G means 0.15-0.25 G, which
    the fidelity report needs to tell rounding from a real difference.
    """

    value: float | None
    source: Source | None
    note: str = ""
    decimals: int | None = None

    @property
    def text(self) -> str:
        """The figure as the source printed it ("1.0", "31"); '-' when there is none."""
        if self.value is None:
            return "-"
        return f"{self.value:.{self.decimals}f}" if self.decimals is not None else f"{self.value:g}"

    @property
    def interval(self) -> tuple[float, float] | None:
        """The values that print as ``value`` at the source's precision."""
        if self.value is None or self.decimals is None:
            return None
        half = 0.5 * 10 ** -self.decimals
        return self.value - half, self.value + half


def cite(text: str | None, source: Source | None, note: str = "") -> Cited:
    """A figure as printed in ``source`` ("0.2", "31"); None with a note when none exists."""
    if text is None:
        return Cited(None, source, note)
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return Cited(float(text), source, note, decimals)


@dataclass(frozen=True)
class Published:
    """What was published about a model: top-1 (%), params (M) and MACs (G), each cited.

    The plain attributes ``top1``, ``params_m`` and ``macs_g`` are the values (None when no
    publication gives one); :meth:`cited` has the source and notes.
    """

    figures: dict[str, Cited]

    @property
    def top1(self) -> float | None:
        """ImageNet-1k top-1 accuracy (%), as published."""
        return self._value("top1")

    @property
    def params_m(self) -> float | None:
        """Parameters (millions), as published."""
        return self._value("params_m")

    @property
    def macs_g(self) -> float | None:
        """Multiply-accumulates (G, 1 MAC = 2 FLOPs), as published."""
        return self._value("macs_g")

    @property
    def source(self) -> str:
        """The distinct sources of the figures, short labels joined with '; '."""
        return "; ".join(s.short for s in self.sources()) or "none published"

    def sources(self) -> list[Source]:
        """Distinct sources of the figures, in figure order."""
        out: list[Source] = []
        for name in FIGURES:
            c = self.figures.get(name)
            if c is not None and c.source is not None and c.source not in out:
                out.append(c.source)
        return out

    def cited(self, figure: str) -> Cited:
        """The cited figure ``top1``, ``params_m`` or ``macs_g``."""
        return self.figures[figure]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: values, and per figure its source, URL and note."""
        out: dict[str, Any] = {name: self._value(name) for name in FIGURES}
        out["source"] = self.source
        out["figures"] = {
            name: {"value": c.value, "source": c.source.citation if c.source else None,
                   "url": c.source.url if c.source else None, "note": c.note}
            for name, c in self.figures.items()}
        return out

    def _value(self, name: str) -> float | None:
        c = self.figures.get(name)
        return None if c is None else c.value

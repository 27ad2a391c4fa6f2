"""Numbers for human eyes: SI prefixes and milliseconds.

The lowest room of the package, beside ``errors`` and ``dtypes``: any module may format a
number for a label with these (a preset's label, a table, a figure's axis) without importing
the renderers. Data keeps raw numbers; only the last step formats them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["si", "ms", "ms_label", "column_decimals"]

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
    """Seconds -> a millisecond number without the unit ('0.932', '12.5', '140'), for table
    cells whose header says ms."""
    v = seconds * 1e3
    if v == 0:
        return "0"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def ms_label(seconds: float) -> str:
    """Seconds -> a time with its unit for a figure label ('140 ms', '1.25 ms', '380 µs')."""
    v = seconds * 1e3
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 1:
        return f"{v:.3g} ms"
    return f"{v * 1e3:.3g} \u00b5s"


def column_decimals(values: Iterable[float], digits: int = 3, most: int = 6) -> int:
    """The decimals that give the smallest nonzero magnitude among ``values`` ``digits``
    significant digits (at most ``most``), so that a column of numbers reads evenly
    (0.175 / 0.930 / 5.450 rather than 0.1749 / 0.93 / 5.45)."""
    mags = [abs(float(v)) for v in values if v and math.isfinite(float(v))]
    if not mags:
        return 0
    return max(0, min(most, digits - 1 - math.floor(math.log10(min(mags)))))

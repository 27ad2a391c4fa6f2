"""Figures: the paper's figures redrawn, roofline and device charts, validation scatter."""

__all__: list[str] = []

"""Rendering: text tables, CSV, JSON and markdown from data classes; no domain logic."""

__all__: list[str] = []

"""Calibration against real hardware.

timing (timing a callable, thread settings), machine (this machine's CPU, caches, load),
bench (measured roofs), real_model + measure + per_layer (measured model latency),
measurements (measurements CSVs), dataset (what a fit works on), fit (the effective
roofline), stats (accuracy statistics), validate (a profile judged against measurements),
plausibility (warnings for results that look wrong), profile_writer (results as profiles).
"""

__all__: list[str] = []

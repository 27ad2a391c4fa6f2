"""Calibration against real hardware: timing, bench, measure, fit, validate."""

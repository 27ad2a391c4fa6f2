"""Surveys: many models on several devices, cross-checked, journaled, in parallel."""

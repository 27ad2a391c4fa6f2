"""Test-wide settings: a private trace cache, a headless matplotlib."""

from __future__ import annotations

import os
import tempfile

import matplotlib

matplotlib.use("Agg")

# every test run gets its own trace cache, so tests neither read nor leave a user's cache
os.environ.setdefault("ROOFLINE_CACHE_DIR", tempfile.mkdtemp(prefix="roofline-test-cache-"))

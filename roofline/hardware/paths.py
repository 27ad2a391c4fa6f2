"""Where hardware data lives: the built-in ``hardware_profiles/`` (runtimes in its
``runtimes/``) and the user directories named in ``$ROOFLINE_HW_PATH``. The registry and
the runtime lookup both start here, so neither imports the other."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "builtin_dir", "env_dirs"]

ENV_VAR = "ROOFLINE_HW_PATH"


def builtin_dir() -> Path:
    """The built-in profiles: ``<repo>/hardware_profiles`` in a source checkout or editable
    install, else the installed package data ``roofline/hardware_profiles``."""
    package = Path(__file__).resolve().parent.parent
    checkout = package.parent / "hardware_profiles"
    return checkout if checkout.is_dir() else package / "hardware_profiles"


def env_dirs() -> list[Path]:
    """The directories in ``$ROOFLINE_HW_PATH`` (``os.pathsep``-separated), in order."""
    raw = os.environ.get(ENV_VAR, "")
    return [Path(d).expanduser() for d in raw.split(os.pathsep) if d.strip()]

"""User-facing errors.

Every mistake a user can make (an unknown model or device, a bad resolution, a malformed
profile, an unwritable output path) raises a subclass of :class:`RooflineError` whose message
is one line that names what was wrong and what would be right. The CLI prints that line to
stderr and exits with code 2; API users catch the class.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


__all__ = ["RooflineError", "UnknownModelError", "UnknownHardwareError", "ProfileError",
           "InputError", "NoInputShapeError", "TraceError", "OutputError", "ZooError",
           "MeasurementError", "FitError", "FormulaError", "did_you_mean"]


class RooflineError(ValueError):
    """A mistake in what the user asked for; the message is one self-contained line."""


class UnknownModelError(RooflineError):
    """A model name that is neither a zoo entry, a timm model nor a ``file.py:factory``."""


class UnknownHardwareError(RooflineError):
    """A hardware id that is not in the registry and not a readable profile file."""


class ProfileError(RooflineError):
    """A hardware-profile file that does not follow the schema."""


class InputError(RooflineError):
    """A bad argument: resolution, batch, dtype, fusion policy, format, input shape."""


class NoInputShapeError(InputError):
    """A model with no default input size was given none; ``label`` names the model, and a
    command re-words the message with the options it has."""

    def __init__(self, label: str) -> None:
        self.label = label
        super().__init__(f"{label} has no default input size; give input_shape= or "
                         "resolution=, or let its factory return (model, input_shape)")


class TraceError(RooflineError):
    """The model's forward could not be run on the meta device."""


class OutputError(RooflineError):
    """An output path that cannot be written."""


class ZooError(RooflineError):
    """A zoo entry that cannot be registered (incomplete metadata, a name already taken)."""


class MeasurementError(RooflineError):
    """A measurements CSV that cannot be used: missing columns, bad values, unknown models."""


class FitError(RooflineError):
    """A fit that cannot be made: too few models for the free parameters, no usable data."""


class FormulaError(Exception):
    """A registered MAC formula failed on a call: a bug in the formula, never an unknown op.
    Not a user mistake, so not a RooflineError: the tracer turns it into a TraceError that
    names the op."""


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ' (did you mean a, b?)' for the closest candidates, or '' when none is close."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    hits = [lowered[c] for c in close]
    # substring matches catch prefixes that difflib scores low ("mnv4" -> "mnv4_conv_small")
    if len(hits) < n and len(name) >= 3:
        for c in pool:
            if name.lower() in c.lower() and c not in hits:
                hits.append(c)
            if len(hits) >= n:
                break
    return f" (did you mean {', '.join(hits)}?)" if hits else ""


class ExportError(RooflineError):
    """A model the converter (litert-torch, torch.onnx) rejects; the message names the op."""


class MissingExtraError(RooflineError):
    """An optional dependency that is not installed; the message names the extra to install."""

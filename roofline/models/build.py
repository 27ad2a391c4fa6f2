"""Building a zoo or timm model: on the meta device, in eval mode, in its inference form.

Forms. A model is analysed in its *inference* form by default: the form it is deployed in.
For re-parameterisable models (MobileOne, FastViT, RepVGG-style blocks, conv+BN ``fuse()``
modules) that is timm's ``reparameterize_model``, which folds the training-time branches into
one conv; the MobileNetV4 paper measured MobileOne and FastViT that way. The *training* form
is the model as constructed. torch and timm are imported only when a model is built.

The input checks every model spec shares (form, resolution, batch) live here too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from roofline.errors import InputError, TraceError

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

__all__ = ["FORMS", "check_form", "check_resolution", "check_batch", "reparameterizable",
           "create_timm", "generator", "finish", "build_timm"]

FORMS = ("inference", "training")


def check_form(form: str) -> str:
    """Reject forms other than 'inference' and 'training'."""
    if form not in FORMS:
        raise InputError(f"unknown model form {form!r}; expected one of {', '.join(FORMS)}")
    return form


def check_resolution(resolution: int) -> None:
    """Reject resolutions no image model can take."""
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution <= 0:
        raise InputError(f"resolution must be a positive integer (pixels), got {resolution!r}")
    if resolution > 16384:
        raise InputError(f"resolution {resolution} is larger than 16384 px; expected at most 16384")


def check_batch(batch: int) -> None:
    """Reject batch sizes that are not positive integers."""
    if not isinstance(batch, int) or isinstance(batch, bool) or batch <= 0:
        raise InputError(f"batch must be a positive integer, got {batch!r}")


_REPARAM_METHODS = ("fuse", "reparameterize", "switch_to_deploy")


def reparameterizable(model: nn.Module) -> bool:
    """Whether timm's ``reparameterize_model`` would change the model (a module below the
    root has ``fuse``, ``reparameterize`` or ``switch_to_deploy``)."""
    return any(hasattr(m, a) for m in list(model.modules())[1:] for a in _REPARAM_METHODS)


def create_timm(name: str, **kwargs: Any) -> nn.Module:
    """A timm model without pretrained weights (on the current default device)."""
    import timm  # deferred: heavy import

    return timm.create_model(name, pretrained=False, **kwargs)


def generator(path: str, entry: str) -> Callable[..., nn.Module]:
    """One of timm's architecture generators by dotted path (for widths timm does not
    register); TraceError naming the zoo ``entry`` when this timm lacks it."""
    module, _, fn = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), fn)
    except (ImportError, AttributeError) as e:
        raise TraceError(f"zoo entry {entry!r} needs {path}, which this timm does not have "
                         f"({type(e).__name__}); a timm 1.0 release has it") from e


def finish(make: Callable[[], nn.Module], form: str, device: str, label: str) -> nn.Module:
    """Build with ``make`` on ``device``, eval mode, re-parameterised in the inference form."""
    import torch  # deferred: heavy import

    with torch.device(device):
        model = make().eval()
        if form == "inference" and reparameterizable(model):
            from timm.utils.model import reparameterize_model  # deferred: heavy import

            try:
                model = reparameterize_model(model, inplace=True).eval()
            except Exception as e:  # a third-party fuse() may fail on meta tensors
                raise TraceError(
                    f"re-parameterising {label} for inference failed ({type(e).__name__}: "
                    f"{' '.join(str(e).split())[:200]}); pass --training-form to analyse it as "
                    "constructed") from e
    return model


def build_timm(name: str, form: str = "inference", **kwargs: Any) -> nn.Module:
    """A timm model by name on meta, in ``form``."""
    return finish(lambda: create_timm(name, **kwargs), form, "meta", name)

"""Our MAC count checked against torch's FlopCounterMode on the same meta forward.

:func:`flop_counter` runs the counter and returns a plain record (kept in the cached
trace's meta, so a repeated survey needs no torch); :func:`compare` turns that record and
our count into a row's columns, with ``fcm_check`` saying how the two relate.
"""

from __future__ import annotations

from typing import Any

from roofline.analysis import model_input
from roofline.graph.records import Trace
from roofline.models.zoo import resolve
from roofline.survey.tasks import FORM, one_line

__all__ = ["FCM_FORMAT", "CHECKS", "flop_counter", "valid_record", "compare", "folded_macs",
           "mac_diff"]

#: the version of the FlopCounterMode record kept in a cached trace's meta
FCM_FORMAT = 3
#: the values of ``fcm_check``
CHECKS = ("exact", "within 1%", "folded", "differs", "not counted", "fcm failed")


def flop_counter(spec: str, resolution: int | None, batch: int,
                 input_shape: tuple[int, ...] | None = None) -> dict[str, Any]:
    """torch's FlopCounterMode on the model's forward on meta: MACs (its FLOPs / 2) in total
    and by aten op, or the error it raised.

    The model is built before the counter starts: some constructors run a forward of a
    sub-network to size a layer (timm's hybrid ViTs, LeViT, RepViT, ...), which a counter
    around the build would add. The forward runs under ``no_grad`` like our trace; where
    FlopCounterMode's module tracker fails under ``no_grad`` (it wants a grad_fn on every
    module input that requires grad: CaiT, PiT, attention-pool heads) it runs again with
    grad enabled, which computes the same forward.
    """
    import torch  # deferred: heavy import
    from torch.utils.flop_counter import FlopCounterMode  # deferred: heavy import

    src = resolve(spec)
    module = src.build(FORM)
    shape, _ = model_input(src, module, label=src.label, resolution=resolution, batch=batch,
                           input_shape=input_shape)
    x = torch.empty(shape, device="meta")  # the input the trace used (the one resolver)
    error = ""
    for grad in (False, True):
        try:
            with torch.set_grad_enabled(grad), FlopCounterMode(display=False) as counter:
                module(x)
        except Exception as e:  # noqa: BLE001 - FlopCounterMode's failure is a column
            error = error or one_line(f"{type(e).__name__}: {e}", 200)
            continue
        ops = {str(k): int(v) // 2
               for k, v in counter.get_flop_counts().get("Global", {}).items()}
        return {"format": FCM_FORMAT, "macs": int(counter.get_total_flops()) // 2, "ops": ops,
                "grad": grad, "error": "", "no_grad_error": error, "torch": torch.__version__}
    return {"format": FCM_FORMAT, "macs": None, "ops": {}, "error": error,
            "torch": torch.__version__}


def _count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def valid_record(fcm: Any) -> bool:
    """Whether ``fcm`` is a FlopCounterMode record of the current format, whole and sane (a
    record read back from a cache file may have been damaged or tampered with)."""
    if not isinstance(fcm, dict) or fcm.get("format") != FCM_FORMAT:
        return False
    error, ops = fcm.get("error"), fcm.get("ops")
    if not isinstance(error, str) or not isinstance(ops, dict):
        return False
    if not all(isinstance(k, str) and _count(v) for k, v in ops.items()):
        return False
    if error:
        return fcm.get("macs") is None
    return _count(fcm.get("macs")) and isinstance(fcm.get("no_grad_error", ""), str)


def compare(trace: Trace, macs: int, folded: int, fcm: dict[str, Any]) -> dict[str, Any]:
    """The FlopCounterMode columns of a row, with ``fcm_check`` saying how the two relate:
    ``exact``, ``within 1%``, ``folded`` (they differ, but by exactly the MACs of ops on
    weights and constants alone, which we fold and FlopCounterMode counts), ``differs``,
    ``not counted`` (FlopCounterMode counts 0) or ``fcm failed`` (it could not run)."""
    if fcm.get("error"):
        return {"macs_fcm": None, "rel_diff": None, "mac_diff": "",
                "fcm_check": "fcm failed", "fcm_error": fcm["error"]}
    theirs = fcm["macs"]
    rel = (macs - theirs) / theirs if theirs else None
    if not theirs:
        check = "not counted" if macs else "exact"
    elif macs == theirs:
        check = "exact"
    elif folded and macs + folded == theirs:
        check = "folded"
    elif abs(rel) <= 0.01:
        check = "within 1%"
    else:
        check = "differs"
    note = fcm.get("no_grad_error") or ""
    if note:
        note = f"under no_grad: {note}; counted with grad enabled"
    return {"macs_fcm": theirs, "rel_diff": rel, "fcm_check": check,
            "mac_diff": mac_diff(trace, fcm["ops"]) if check != "exact" else "",
            "fcm_error": note}


def folded_macs(trace: Trace) -> int:
    """MACs of the contractions that read only weights and constants (``const`` ops): a
    deployed runtime computes them once, ahead of time, so the trace gives them 0 MACs;
    FlopCounterMode counts them. (A Swin-V2 position-bias MLP, a one-hot position lookup.)
    Computed from the recorded shapes; the registry of formulas (and torch) is loaded only
    when the trace has such ops."""
    consts = [o for o in trace.ops if o.role == "const" and o.outputs]
    if not consts:
        return 0
    from roofline.graph.formulas import (  # deferred: heavy import (torch)
        FORMULAS,
        FormulaError,
        macs_of,
    )

    total = 0
    for o in consts:
        if o.aten not in FORMULAS:
            continue
        try:
            total += macs_of(o.aten, tuple(r.shape for r in o.inputs), {}, o.outputs[0].shape)
        except FormulaError:  # an operand layout the formula cannot read from shapes alone
            continue
    return total


def mac_diff(trace: Trace, fcm_ops: dict[str, int]) -> str:
    """'op:ours/theirs;...' for the ops whose MAC totals differ (attention is one op for us and
    bmm for FlopCounterMode on meta, so it shows up here whenever the totals differ)."""
    ours: dict[str, int] = {}
    for o in trace.ops:
        if o.macs:
            ours[o.aten] = ours.get(o.aten, 0) + o.macs
    theirs = {k.removeprefix("aten."): v for k, v in fcm_ops.items()}
    parts = []
    for op in sorted(set(ours) | set(theirs)):
        a, b = ours.get(op, 0), theirs.get(op, 0)
        if a != b:
            parts.append(f"{op}:{a}/{b}")
    return ";".join(parts)

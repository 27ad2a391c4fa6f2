"""The trace as plain data: op records and the tensors they read and write.

This is the contract between the torch side (``trace.py``) and the analysis side
(``layers.py`` onwards): nothing here imports torch, so a cached trace can be loaded and
analysed without it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Ref", "OpRecord", "Trace"]


@dataclass(frozen=True, slots=True)
class Ref:
    """One tensor operand of an op, as read or written."""

    value: int                     # tensor version id, unique within the trace
    shape: tuple[int, ...]
    dtype: str                     # torch dtype name: 'float32', 'int64', ...
    numel: int                     # distinct elements touched
    offset: int = 0                # storage offset: tells slices of one tensor apart
    weight: bool = False           # parameter, buffer, constant, or derived from them only
    params: tuple[int, ...] = ()   # indices into Trace.params this tensor derives from


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One aten op of the forward."""

    index: int
    aten: str            # schema name without 'aten::', in-place folded: 'relu', 'convolution'
    kind: str            # conv2d, dwconv2d, linear, matmul, attention, elementwise, norm, ...
    role: str            # compute | view | const | alloc
    module: str          # module path ('' is the root module)
    module_type: str     # class name of that module
    macs: int
    inputs: tuple[Ref, ...]
    outputs: tuple[Ref, ...]
    known: bool = True   # False: no formula and no category (listed as unsupported)


@dataclass
class Trace:
    """Everything the layer builder needs; plain data, so it can be cached without torch."""

    model: str                                 # class name of the traced module
    inputs: tuple[Ref, ...]
    outputs: tuple[Ref, ...]
    ops: list[OpRecord]
    params: list[tuple[str, int]]              # (name, numel) of each distinct parameter
    buffers: int = 0                           # number of distinct buffer elements
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def param_count(self) -> int:
        """Parameters of the model (each shared tensor once)."""
        return sum(n for _, n in self.params)

    def unsupported(self) -> dict[str, int]:
        """Op name -> number of calls, for ops the tracer could not account for."""
        return dict(Counter(o.aten for o in self.ops if not o.known))

    def coverage(self) -> float:
        """Share of data-moving ops with known semantics (1.0 = everything accounted for)."""
        compute = [o for o in self.ops if o.role == "compute"]
        return sum(o.known for o in compute) / len(compute) if compute else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the trace cache)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        """Inverse of :meth:`to_dict`."""

        def ref(r: dict[str, Any]) -> Ref:
            return Ref(r["value"], tuple(r["shape"]), r["dtype"], r["numel"], r["offset"],
                       r["weight"], tuple(r["params"]))

        def op(o: dict[str, Any]) -> OpRecord:
            return OpRecord(o["index"], o["aten"], o["kind"], o["role"], o["module"],
                            o["module_type"], o["macs"], tuple(map(ref, o["inputs"])),
                            tuple(map(ref, o["outputs"])), o["known"])

        return cls(d["model"], tuple(map(ref, d["inputs"])), tuple(map(ref, d["outputs"])),
                   [op(o) for o in d["ops"]], [tuple(p) for p in d["params"]],
                   d.get("buffers", 0), d.get("meta", {}))

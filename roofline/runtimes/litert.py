"""Run a ``.tflite`` file on LiteRT (``ai_edge_litert`` Interpreter, XNNPACK) and describe
the graph it runs.

The interpreter applies the XNNPACK delegate by default; ``num_threads`` sets its threads.
After ``allocate_tensors()``, ``_get_ops_details()`` lists every op of the file followed by one
``DELEGATE`` node per XNNPACK partition. Which ops a partition swallowed is not reported, so it
is recovered from the tensors: a partition's ops are those reached walking back from its
output tensors to its input tensors. Ops reached by no partition run outside the delegate on
TFLite's own kernels (:attr:`GraphStats.undelegated`).

Per-op times: the Python interpreter exposes none. LiteRT's op profiler (``benchmark_model
--enable_op_profiling``) is a separate binary, not in the ``ai-edge-litert`` wheel, and the
``experimental_force_delegate_node_profiling`` flag only feeds that C++ profiler. So LiteRT
measurements are whole-model latencies; the per-partition and per-op structure is reported
from the graph (:class:`GraphStats`), not timed.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from roofline.errors import InputError
from roofline.runtimes.quiet import quiet

__all__ = ["GraphStats", "check_tflite", "graph_stats", "open_interpreter", "runner"]

#: op names that only move data between dtypes
_QUANT_OPS = ("QUANTIZE", "DEQUANTIZE")


@dataclass
class GraphStats:
    """What a runtime runs: op counts of the file and how the delegate split it."""

    ops: int                                   # ops in the file (before delegation)
    op_counts: dict[str, int]                  # op name -> count in the file
    partitions: int | None                     # delegate partitions (None: not applicable)
    undelegated: dict[str, int] = field(default_factory=dict)  # ops outside the delegate
    float_ops: int = 0                         # compute ops with a float activation input
    float_op_counts: dict[str, int] = field(default_factory=dict)

    @property
    def transposes(self) -> int:
        """TRANSPOSE (LiteRT) / Transpose (ONNX) ops in the file."""
        return self.op_counts.get("TRANSPOSE", 0) + self.op_counts.get("Transpose", 0)

    @property
    def quantize_ops(self) -> int:
        """QUANTIZE / QuantizeLinear ops."""
        return self.op_counts.get("QUANTIZE", 0) + self.op_counts.get("QuantizeLinear", 0)

    @property
    def dequantize_ops(self) -> int:
        """DEQUANTIZE / DequantizeLinear ops."""
        return self.op_counts.get("DEQUANTIZE", 0) + self.op_counts.get("DequantizeLinear", 0)

    def row(self) -> dict[str, Any]:
        """The columns a measurement row carries."""
        return {"partitions": self.partitions, "undelegated_ops": sum(self.undelegated.values()),
                "undelegated": counts_text(self.undelegated), "float_ops": self.float_ops,
                "float_op_counts": counts_text(self.float_op_counts),
                "transposes": self.transposes, "quantize_ops": self.quantize_ops,
                "dequantize_ops": self.dequantize_ops, "ops": self.ops,
                "op_counts": counts_text(self.op_counts)}


def counts_text(counts: dict[str, int]) -> str:
    """'CONV_2D:31;DEPTHWISE_CONV_2D:15' (most frequent first; '' when empty)."""
    return ";".join(f"{k}:{v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def check_tflite(path: str | Path) -> Path:
    """The path of a readable .tflite file; InputError (one line) otherwise."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file; expected a .tflite file")
    with open(p, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise InputError(f"{p} is not a TFLite flatbuffer (no TFL3 identifier); expected a "
                         ".tflite file from `roofline export`")
    return p


def open_interpreter(path: str | Path, threads: int = 1, *, verbose: bool = False) -> Any:
    """An allocated LiteRT interpreter (XNNPACK on); InputError for a corrupt file."""
    p = check_tflite(path)
    with quiet(verbose):
        from ai_edge_litert.interpreter import Interpreter  # deferred: heavy import

        try:
            it = Interpreter(model_path=str(p), num_threads=threads)
            it.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            first = " ".join(str(e).split())[:160]
            raise InputError(f"LiteRT cannot load {p}: {first}; expected an intact .tflite "
                             "file (re-export it)") from None
    return it


def graph_stats(interpreter: Any) -> GraphStats:
    """Op counts, delegate partitions and the ops left outside them (see module docstring)."""
    details = interpreter._get_ops_details()
    ops = [o for o in details if o["op_name"] != "DELEGATE"]
    delegates = [o for o in details if o["op_name"] == "DELEGATE"]
    producer = {int(t): o["index"] for o in ops for t in o["outputs"]}
    by_index = {o["index"]: o for o in ops}
    inside: set[int] = set()
    for d in delegates:
        boundary = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        seen: set[int] = set()
        while stack:
            t = stack.pop()
            if t in boundary or t in seen:
                continue
            seen.add(t)
            p = producer.get(t)
            if p is None or p in inside:
                continue
            inside.add(p)
            stack.extend(int(u) for u in by_index[p]["inputs"] if u >= 0)
    outside = Counter(o["op_name"] for o in ops if o["index"] not in inside)
    floats = Counter(o["op_name"] for o in ops
                     if o["op_name"] not in _QUANT_OPS and o["operand_types"]
                     and np.dtype(o["operand_types"][0]).kind == "f")
    return GraphStats(ops=len(ops), op_counts=dict(Counter(o["op_name"] for o in ops)),
                      partitions=len(delegates), undelegated=dict(outside),
                      float_ops=sum(floats.values()), float_op_counts=dict(floats))


def _fill(interpreter: Any, seed: int) -> None:
    """Every input set to seeded N(0, 1) noise, quantised with the input's own parameters."""
    rng = np.random.default_rng(seed)
    for d in interpreter.get_input_details():
        x = rng.standard_normal(tuple(d["shape"])).astype(np.float32)
        dtype = np.dtype(d["dtype"])
        if dtype.kind in "iu":
            scale, zero = d["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(x / (scale or 1.0) + zero), info.min, info.max)
        interpreter.set_tensor(d["index"], x.astype(dtype))


@contextlib.contextmanager
def runner(path: str | Path, threads: int = 1, *, seed: int = 1,
           verbose: bool = False) -> Iterator[tuple[Any, GraphStats]]:
    """(invoke, stats) for a file: ``invoke()`` runs one inference on fixed inputs."""
    it = open_interpreter(path, threads, verbose=verbose)
    stats = graph_stats(it)
    _fill(it, seed)
    with quiet(verbose):
        it.invoke()  # the first run prepares XNNPACK's operators
    yield it.invoke, stats

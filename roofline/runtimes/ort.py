"""Run an ``.onnx`` file on ONNX Runtime (CPUExecutionProvider) and describe the graph it runs.

The session uses all graph optimisations (ORT fuses a QDQ int8 graph into QLinearConv,
QGemm, ... at load time) and ``intra_op_num_threads`` threads, one inter-op thread. The graph
statistics are taken from the *optimised* graph ORT writes out, i.e. the kernels it runs, not
the file as exported. There are no delegate partitions with the CPU provider alone.

Per-op times come from ORT's own profiler (``enable_profiling``): its JSON trace has one
``Node`` event per kernel run, ``<node>_kernel_time`` with the op type in ``args.op_name``;
:func:`profile_ops` averages them over runs.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roofline.errors import InputError
from roofline.runtimes.litert import GraphStats
from roofline.runtimes.quiet import quiet

__all__ = ["check_onnx", "graph_stats", "open_session", "profile_ops", "runner"]

_NP = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8,
       "tensor(int8)": np.int8, "tensor(int64)": np.int64, "tensor(int32)": np.int32}
#: op types whose kernels compute on quantised integers
_INT_OPS = {"QLinearConv", "QLinearMatMul", "QGemm", "QLinearAdd", "QLinearMul",
            "QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearSigmoid",
            "QLinearLeakyRelu", "QLinearConcat", "QLinearSoftmax", "QLinearReduceMean",
            "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QAttention",
            "QuantizeLinear", "DequantizeLinear"}
#: op types that only move or reinterpret data
_DATA_OPS = {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Gather",
             "Concat", "Slice", "Split", "Identity", "Constant", "Expand", "Cast", "Pad",
             "MaxPool"}


def check_onnx(path: str | Path) -> Path:
    """The path of an ONNX file that parses; InputError (one line) otherwise."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file; expected an .onnx file")
    import onnx  # deferred: heavy import

    try:
        onnx.load(str(p), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        first = " ".join(str(e).split())[:120] or type(e).__name__
        raise InputError(f"{p} is not a readable ONNX model ({first}); expected an intact .onnx "
                         "file (re-export it)") from None
    return p


def open_session(path: str | Path, threads: int = 1, *, profile_dir: str | None = None,
                 optimized_path: str | None = None, verbose: bool = False) -> Any:
    """An ORT InferenceSession on the CPU provider; InputError for a corrupt file."""
    p = check_onnx(path)
    with quiet(verbose):
        import onnxruntime as ort  # deferred: heavy import

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if optimized_path:
            so.optimized_model_filepath = optimized_path
        if profile_dir:
            so.enable_profiling = True
            so.profile_file_prefix = str(Path(profile_dir) / "ort")
        try:
            return ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ORT's own Fail/InvalidGraph/NotImplemented
            first = " ".join(str(e).split())[:160]
            raise InputError(f"ONNX Runtime cannot run {p}: {first}") from None


def graph_stats(path: str | Path, threads: int = 1) -> GraphStats:
    """Op counts of the graph ORT runs (after its optimisations); float ops are compute ops
    outside the quantised kernels, with a float input."""
    import onnx  # deferred: heavy import

    with tempfile.TemporaryDirectory(prefix="roofline-ort-") as tmp:
        opt = str(Path(tmp) / "optimized.onnx")
        open_session(path, threads, optimized_path=opt)
        graph = onnx.load(opt, load_external_data=False).graph
    counts = Counter(n.op_type for n in graph.node)
    # dtype of each tensor: inputs and initialisers, then forward through the nodes
    elem: dict[str, int] = {v.name: v.type.tensor_type.elem_type for v in graph.input}
    elem.update({t.name: t.data_type for t in graph.initializer})
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    floats: Counter[str] = Counter()
    for n in graph.node:
        first = elem.get(n.input[0]) if n.input else None
        if n.op_type == "QuantizeLinear" or n.op_type == "DynamicQuantizeLinear":
            out = onnx.TensorProto.UINT8
        elif n.op_type == "DequantizeLinear":
            out = onnx.TensorProto.FLOAT
        elif n.op_type.startswith("QLinear") or n.op_type in ("QGemm",):
            out = onnx.TensorProto.UINT8
        else:
            out = first
        for o in n.output:
            if out is not None:
                elem[o] = out
        if (n.op_type not in _INT_OPS and n.op_type not in _DATA_OPS
                and first in float_types):
            floats[n.op_type] += 1
    return GraphStats(ops=len(graph.node), op_counts=dict(counts), partitions=None,
                      float_ops=sum(floats.values()), float_op_counts=dict(floats))


def _feeds(session: Any, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in session.get_inputs():
        shape = tuple(d if isinstance(d, int) else 1 for d in i.shape)
        feeds[i.name] = rng.standard_normal(shape).astype(_NP.get(i.type, np.float32))
    return feeds


@contextlib.contextmanager
def runner(path: str | Path, threads: int = 1, *, seed: int = 1,
           verbose: bool = False) -> Iterator[tuple[Any, GraphStats]]:
    """(run, stats): ``run()`` is one inference on fixed inputs."""
    stats = graph_stats(path, threads)
    session = open_session(path, threads, verbose=verbose)
    feeds = _feeds(session, seed)
    session.run(None, feeds)

    def run() -> Any:
        return session.run(None, feeds)

    yield run, stats


def profile_ops(path: str | Path, threads: int = 1, *, runs: int = 10,
                seed: int = 1) -> pd.DataFrame:
    """Per-node time from ORT's profiler: columns ``node``, ``op_type``, ``latency_ms`` (mean
    per run), in execution order."""
    with tempfile.TemporaryDirectory(prefix="roofline-ort-prof-") as tmp:
        session = open_session(path, threads, profile_dir=tmp)
        feeds = _feeds(session, seed)
        session.run(None, feeds)  # warm-up, not counted below
        for _ in range(runs):
            session.run(None, feeds)
        trace = Path(session.end_profiling())
        events = json.loads(trace.read_text())
    durations: dict[str, list[float]] = defaultdict(list)
    kind: dict[str, str] = {}
    for e in events:
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        node = name[: -len("_kernel_time")]
        durations[node].append(float(e.get("dur", 0.0)))  # microseconds, in run order
        kind[node] = e.get("args", {}).get("op_name", "")
    # each node's first event is the warm-up run: dropped
    rows = [{"node": n, "op_type": kind[n],
             "latency_ms": float(np.mean(d[1:] or d)) / 1e3} for n, d in durations.items()]
    return pd.DataFrame(rows, columns=["node", "op_type", "latency_ms"])

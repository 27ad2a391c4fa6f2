"""LiteRT int8 latency on a shared machine, timed in thread CPU time (a load-robust stand-in).

    python benchmarks/litert_cputime.py -o docs/runtime_cputime_litert_int8.csv
    python benchmarks/litert_cputime.py --models resnet18 vit_tiny_patch16_224 -o x.csv

Why CPU time. On a machine that other processes share, wall-clock latency includes the time
the timing thread waits for a core: with the 1-minute load average near 11 on 2 cores, the
fastest of many single invocations was 2.3x the quiet latency for 2 ms models but 6-7x for
25-130 ms models, which no latency model can absorb. LiteRT with one thread runs XNNPACK's
kernels on the calling thread, so ``time.thread_time()`` around ``invoke()`` counts only the
time the inference ran. It still includes what sharing a core costs (a busy hyper-thread
sibling, caches thrashed by others): the same models' CPU times were 1.3-2.4x the quiet
latencies, a far narrower band. Use ``roofline measure --runtime litert`` on a quiet machine;
use this when the machine cannot be had quiet.

Each model is exported by ``roofline.runtimes.export`` (int8 .tflite, cached: the file
``roofline measure --runtime litert`` times) and invoked on zeros for at least ``--seconds``
(at least 8 runs) after 3 warm-up runs; ``latency_ms`` is the smallest per-invoke CPU time,
``latency_wall_min_ms`` the smallest wall time beside it, ``load1`` the load average after.
A model that fails to export is a row with status failed and the reason. The CSV is
rewritten after every model, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofline.errors import RooflineError

#: (timm model, architecture class), interleaved by class so a partial run covers each
MODELS = [
    ("resnet18", "convnet"), ("vit_tiny_patch16_224", "vit"), ("mobilevit_xxs", "hybrid"),
    ("poolformer_s12", "metaformer"), ("regnetx_002", "convnet"),
    ("deit_tiny_patch16_224", "vit"), ("efficientvit_m0", "hybrid"),
    ("poolformerv2_s12", "metaformer"), ("efficientnet_lite0", "convnet"),
    ("pit_ti_224", "vit"), ("edgenext_xx_small", "hybrid"), ("convformer_s18", "metaformer"),
    ("mnasnet_100", "convnet"), ("vit_small_patch32_224", "vit"), ("levit_128s", "hybrid"),
    ("caformer_s18", "metaformer"), ("ghostnet_100", "convnet"),
    ("deit_small_patch16_224", "vit"), ("efficientvit_b0", "hybrid"), ("lcnet_100", "convnet"),
    ("mobilevitv2_050", "hybrid"), ("regnety_008", "convnet"), ("fastvit_t12", "hybrid"),
    ("mobilenetv3_small_075", "convnet"), ("efficientformerv2_s0", "hybrid"),
    ("repvit_m1", "convnet"), ("tiny_vit_5m_224", "hybrid"), ("convnext_atto", "convnet"),
    ("efficientformer_l1", "hybrid"), ("mobilenetv2_140", "convnet"), ("fbnetc_100", "convnet"),
    ("resnet50", "convnet"),
]
COLUMNS = ["model", "arch", "resolution", "dtype", "runtime", "threads", "latency_ms",
           "latency_wall_min_ms", "runs", "load1", "status", "error"]


def cpu_time(path: Path, seconds: float) -> tuple[float, float, int]:
    """(smallest CPU time, smallest wall time, runs) per invoke, in ms; 1 thread, XNNPACK."""
    from ai_edge_litert.interpreter import Interpreter  # deferred: heavy import

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    for _ in range(3):
        it.invoke()
    wall, cpu = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(wall) < 8:
        c, t = time.thread_time(), time.perf_counter()
        it.invoke()
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    return min(cpu) * 1e3, min(wall) * 1e3, len(wall)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=None, help="default: the built-in list")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("-o", "--output", type=Path, required=True)
    a = ap.parse_args(argv)
    from roofline.runtimes.export import export

    from roofline.models.zoo import resolve

    arch = dict(MODELS)
    models = a.models or [m for m, _ in MODELS]
    rows = []
    for k, m in enumerate(models, 1):
        row = {"model": m, "arch": arch.get(m, ""), "dtype": "int8", "runtime": "litert",
               "threads": 1}
        try:
            row["resolution"] = resolve(m).resolution
            path = export(m, "tflite", "int8")
            cpu, wall, runs = cpu_time(path, a.seconds)
            row.update(latency_ms=round(cpu, 4), latency_wall_min_ms=round(wall, 4), runs=runs,
                       status="ok")
        except RooflineError as e:
            row.update(status="failed", error=" ".join(str(e).split()))
        row["load1"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        print(f"[{k}/{len(models)}] {m}: {row['status']} "
              f"{row.get('latency_ms', '')} ms (wall min {row.get('latency_wall_min_ms', '')})",
              file=sys.stderr, flush=True)
        tmp = a.output.with_suffix(".tmp")
        pd.DataFrame(rows, columns=COLUMNS).to_csv(tmp, index=False, lineterminator="\n")
        tmp.replace(a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

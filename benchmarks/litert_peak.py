"""This machine's compute peak as LiteRT (XNNPACK, 1 thread) reaches it: int8 and fp32.

    python benchmarks/litert_peak.py                  # ~1 minute: convert, then time
    python benchmarks/litert_peak.py --json peak.json

The peak of a runtime is what its best kernel reaches on a compute-bound layer whose data
stays in cache (as the Empirical Roofline Toolkit measures a compute roof), so it is measured
through the runtime itself, not through torch: 1x1 convolutions (GEMMs) are converted with
litert-torch (int8: PT2E static quantisation, per-channel symmetric weights, as `roofline
export` does) and timed with ``ai_edge_litert``'s interpreter, one thread, XNNPACK. Five
shapes, from cache-resident (256 -> 256 channels over 28x28: 51 M MACs, 200 KB of int8
activations, 64 KB of weights) to DRAM-sized (512 -> 512 over 56x56, 822 M MACs); the peak
of a dtype is the best of them, and the table shows how much the shape matters.

Timing: ``--repeats`` repeats of ``--runs`` invocations after a warm-up; a repeat's time is
its mean per invocation. The peak is the MACs over the *fastest* repeat (other processes on
a shared machine only ever add time), the median is reported beside it with the spread
(interquartile range / median). Nothing is tuned: the figures printed are what the
interpreter did. They go into the profile (basis measured) with this command as source.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPES = [  # (name, in channels, out channels, spatial)
    ("conv1x1_256_28", 256, 256, 28),
    ("conv1x1_512_14", 512, 512, 14),
    ("conv1x1_512_56", 512, 512, 56),
    ("conv1x1_1024_28", 1024, 1024, 28),
    ("conv1x1_2048_14", 2048, 2048, 14),
]


def convert(cin: int, cout: int, hw: int, int8: bool, path: Path) -> Path:
    """A 1x1 conv as .tflite (int8 by PT2E static quantisation, as the export command)."""
    import litert_torch  # deferred: heavy import
    import torch  # deferred: heavy import

    torch.manual_seed(0)
    module = torch.nn.Conv2d(cin, cout, 1).eval()
    args = (torch.randn(1, cin, hw, hw),)
    if not int8:
        litert_torch.convert(module, args).export(str(path))
        return path
    from litert_torch.quantize.pt2e_quantizer import (
        PT2EQuantizer,
        get_symmetric_quantization_config,
    )
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    q = PT2EQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
    gm = prepare_pt2e(torch.export.export(module, args).module(), q)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        gm(torch.randn(args[0].shape, generator=g))
    gm = convert_pt2e(gm, fold_quantize=False)
    litert_torch.convert(gm, args, quant_config=QuantConfig(pt2e_quantizer=q)).export(str(path))
    return path


def time_file(path: Path, repeats: int, runs: int) -> np.ndarray:
    """Seconds per invocation of each repeat (1 thread, XNNPACK)."""
    from ai_edge_litert.interpreter import Interpreter  # deferred: heavy import

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    rng = np.random.default_rng(0)
    if np.issubdtype(inp["dtype"], np.integer):
        x = rng.integers(-100, 100, size=inp["shape"]).astype(inp["dtype"])
    else:
        x = rng.standard_normal(inp["shape"]).astype(inp["dtype"])
    it.set_tensor(inp["index"], x)
    for _ in range(max(3, runs // 2)):
        it.invoke()
    out = np.empty(repeats)
    for r in range(repeats):
        t0 = time.perf_counter()
        for _ in range(runs):
            it.invoke()
        out[r] = (time.perf_counter() - t0) / runs
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--runs", type=int, default=0,
                    help="invocations per repeat; default: as many as take ~5 ms")
    ap.add_argument("--json", default=None, help="also write the figures here")
    a = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as d:
        for name, cin, cout, hw in SHAPES:
            macs = cin * cout * hw * hw
            for dtype in ("int8", "fp32"):
                path = convert(cin, cout, hw, dtype == "int8", Path(d) / f"{name}_{dtype}.tflite")
                runs = a.runs or max(1, round(5e-3 / (macs / 8e10)))
                t = time_file(path, a.repeats, runs)
                q1, med, q3 = np.percentile(t, [25, 50, 75])
                results.append({"shape": name, "dtype": dtype, "macs": macs,
                                "best_s": float(t.min()), "median_s": float(med),
                                "spread_pct": float(100 * (q3 - q1) / med),
                                "peak_macs_per_s": macs / float(t.min()),
                                "median_macs_per_s": macs / float(med)})
    import ai_edge_litert  # deferred: heavy import

    version = getattr(ai_edge_litert, "__version__", "?")
    print(f"LiteRT (ai-edge-litert {version}) XNNPACK, 1 thread; {a.repeats} repeats of ~5 ms "
          "each; peak = MACs / fastest repeat")
    print(f"{'shape':<18} {'dtype':<5} {'MACs':>10} {'best ms':>9} {'median ms':>10} "
          f"{'spread':>7} {'peak GMAC/s':>12} {'median GMAC/s':>14}")
    for r in results:
        print(f"{r['shape']:<18} {r['dtype']:<5} {r['macs'] / 1e6:>9.0f}M "
              f"{r['best_s'] * 1e3:>9.3f} {r['median_s'] * 1e3:>10.3f} "
              f"{r['spread_pct']:>6.1f}% {r['peak_macs_per_s'] / 1e9:>12.1f} "
              f"{r['median_macs_per_s'] / 1e9:>14.1f}")
    for dtype in ("int8", "fp32"):
        best = max((r for r in results if r["dtype"] == dtype),
                   key=lambda r: r["peak_macs_per_s"])
        print(f"peak {dtype}: {best['peak_macs_per_s']:.4g} MAC/s ({best['shape']})")
    if a.json:
        Path(a.json).write_text(json.dumps({"litert": version, "repeats": a.repeats,
                                            "runs": a.runs, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

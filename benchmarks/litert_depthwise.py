"""Depthwise convolutions through LiteRT (int8, XNNPACK, 1 thread) by kernel size.

    python benchmarks/litert_depthwise.py          # ~1 minute: export six convs, time them

Why: fitted to 122 measured models, the runtime-aware roofline (``benchmarks/accuracy_runtime.py``)
puts 7x7 depthwise convolutions at a tenth of the per-MAC speed of 3x3 ones
(``large_depthwise_efficiency``): ConvNeXt, FastViT and ConvFormer were 2-3x slower than
predicted without that split. This checks the parameter against the kernels alone: a 3x3, 5x5
and 7x7 depthwise conv, each over a large (96 x 56 x 56) and a small (384 x 14 x 14) tensor,
exported by ``roofline.runtimes.export`` (int8 PT2E) and timed like ``litert_peak.py`` (the
fastest of 30 repeats of ~5 ms). XNNPACK's single-pass depthwise kernels go up to 25 taps
(5x5); larger kernels take its multi-pass path.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from litert_peak import time_file  # noqa: E402


def main() -> int:
    import torch  # deferred: heavy import

    export = importlib.import_module("roofline.runtimes.export").export
    print("kernel  channels  spatial   MACs      best ms   GMAC/s  (median GMAC/s)")
    with tempfile.TemporaryDirectory() as d:
        for k in (3, 5, 7):
            for c, hw in ((96, 56), (384, 14)):
                torch.manual_seed(0)
                conv = torch.nn.Conv2d(c, c, k, padding=k // 2, groups=c).eval()
                path = export(conv, "tflite", "int8", input_shape=(1, c, hw, hw),
                              path=Path(d) / f"dw{k}_{c}.tflite", use_cache=False)
                macs = c * hw * hw * k * k
                t = time_file(path, 30, max(1, round(5e-3 / (macs / 5e9))))
                print(f"{k}x{k}     {c:>8}  {hw:>3}x{hw:<3} {macs / 1e6:>6.1f} M  "
                      f"{t.min() * 1e3:>8.3f}  {macs / t.min() / 1e9:>7.1f}  "
                      f"({macs / np.median(t) / 1e9:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

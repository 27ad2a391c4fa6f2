"""Tracer speed against the plain meta forward, FlopCounterMode and fvcore, same models, same run.

    python benchmarks/trace_speed.py [--repeats 7]

For each MobileNetV4 model at its paper resolution, the median wall time of:

- floor:      the model's forward on meta tensors under no_grad, nothing recorded;
- roofline:   roofline.graph.torch_trace.trace() (every aten op with shapes, weights and module paths);
- +layers:    trace() plus the tflite layer table (what `roofline analyze` needs);
- FlopCounterMode: torch's counter on the same meta model;
- fvcore:     FlopCountAnalysis(...).total(); fvcore JIT-traces real tensors, so it runs
              on a CPU copy of the model and its time includes the real forward.

Model construction is not timed. Ratios are against the floor and against fvcore.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import timm
import torch
from torch.utils.flop_counter import FlopCounterMode

from roofline.graph.layers import layer_table
from roofline.graph.torch_trace import trace

MODELS = [
    ("mobilenetv4_conv_small", 224),
    ("mobilenetv4_conv_medium", 256),
    ("mobilenetv4_conv_large", 384),
    ("mobilenetv4_hybrid_medium", 256),
    ("mobilenetv4_hybrid_large", 384),
]


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: first calls pay for caches and lazy imports
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--fvcore-repeats", type=int, default=3)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from fvcore.nn import FlopCountAnalysis

    print(f"torch {torch.__version__}, timm {timm.__version__}, threads {torch.get_num_threads()}, "
          f"median of {args.repeats} (fvcore {args.fvcore_repeats})\n")
    header = (f"{'model':28} {'floor ms':>9} {'roofline':>9} {'+layers':>9} {'FCM':>9} "
              f"{'fvcore':>9} {'ours/floor':>10} {'fvcore/ours':>11} {'FCM/ours':>9}")
    print(header)
    print("-" * len(header))
    for name, res in MODELS:
        shape = (1, 3, res, res)
        with torch.device("meta"):
            meta_model = timm.create_model(name).eval()
        x = torch.empty(shape, device="meta")

        def floor():
            with torch.no_grad():
                meta_model(x)

        def fcm():
            with FlopCounterMode(display=False), torch.no_grad():
                meta_model(x)

        t_floor = median_time(floor, args.repeats)
        t_ours = median_time(lambda: trace(meta_model, shape), args.repeats)
        t_layers = median_time(lambda: layer_table(trace(meta_model, shape)), args.repeats)
        t_fcm = median_time(fcm, args.repeats)

        cpu_model = timm.create_model(name).eval()
        xr = torch.zeros(shape)

        def fv():
            FlopCountAnalysis(cpu_model, xr).unsupported_ops_warnings(False) \
                .uncalled_modules_warnings(False).total()

        t_fv = median_time(fv, args.fvcore_repeats)
        print(f"{name + '@' + str(res):28} {t_floor*1e3:9.1f} {t_ours*1e3:9.1f} {t_layers*1e3:9.1f} "
              f"{t_fcm*1e3:9.1f} {t_fv*1e3:9.1f} {t_ours/t_floor:10.2f} {t_fv/t_ours:11.1f} "
              f"{t_fcm/t_ours:9.2f}")
    print("\ntargets: roofline within 1.5x of the floor; at least 3x faster than fvcore on "
          "mobilenetv4_conv_large@384")


if __name__ == "__main__":
    main()

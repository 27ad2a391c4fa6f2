"""How good are the roofline's predictions on this machine? bench -> measure -> fit -> validate.

    python benchmarks/accuracy_local.py                       # the whole loop, ~4 minutes
    python benchmarks/accuracy_local.py --reuse               # refit from saved measurements

1. `roofline bench`: this machine's roofs (default settings), written as a measured profile
   (``--profile``, default hardware_profiles/ci_x86_2core.yaml).
2. `roofline measure`: every zoo model, 1 thread, fp32, torch eager, default protocol (median
   of 7 repeats, each >= 0.2 s of runs). ``--rounds`` passes over the zoo (default 2), and
   ``--pool`` adds the rounds of earlier runs; a model's latency is the median of its fastest
   round, so a burst of load from other processes during one round does not count (load can
   only add time). Per-layer times of a few models with torch.profiler (fusion none: eager
   runs every op as its own kernel).
3. `roofline fit`, each with leave-one-out: peak + bandwidth; + per-layer overhead; the
   bench peak held (bandwidth, +- overhead); and the same under TFLite fusion; the
   MAC-counting baseline alongside.
4. `roofline validate`: the unfitted bench profile (a lower bound), and the fitted one.
5. The scatter (leave-one-out predictions) to docs/figures/accuracy_local.png, a JSON of
   every number to <out>/accuracy_local.json, a summary on stdout. The fitted roofline +
   overhead is written as its own profile (``--fitted``; basis fitted, so it stays out of the
   built-in registry, whose only fitted entries are the paper's). ``--redraw`` redraws the
   figure alone from the measurements kept in docs/ (refit, nothing measured).

The load average before and after each step is recorded: on a shared machine it says how
much to trust the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofline.calibration import bench, measure  # noqa: E402
from roofline.calibration.dataset import Dataset  # noqa: E402
from roofline.calibration.fit import fit_report, leave_one_out_macs  # noqa: E402
from roofline.calibration.measurements import model_rows, read_measurements  # noqa: E402
from roofline.calibration.profile_writer import (  # noqa: E402
    bench_profile,
    bench_profile_header,
    fitted_profile,
)
from roofline.calibration.stats import compare  # noqa: E402
from roofline.hardware.io import check_profile_text, profile_yaml  # noqa: E402
from roofline.hardware.registry import load_profile  # noqa: E402
from roofline.latency.equation import layer_times  # noqa: E402

PER_LAYER = ("mnv4_conv_small", "mobilenetv2_100", "mobilenetv3_large_100", "fastvit_t8")
CONFIGS = [  # name, fusion, overhead, hold the bench peak
    ("roofline", "none", False, False),
    ("roofline + overhead", "none", True, False),
    ("bench peak held", "none", False, True),
    ("bench peak held + overhead", "none", True, True),
    ("roofline, tflite fusion", "tflite", False, False),
    ("roofline + overhead, tflite fusion", "tflite", True, False),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "out" / "accuracy"), help="working directory")
    ap.add_argument("--profile", default=str(ROOT / "hardware_profiles" / "ci_x86_2core.yaml"))
    ap.add_argument("--docs", default=str(ROOT / "docs"),
                    help="where the measurements (CSV) and the fitted profile are kept")
    ap.add_argument("--figure", default=str(ROOT / "docs" / "figures" / "accuracy_local.png"))
    ap.add_argument("--models", nargs="*", default=["all"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pool", nargs="*", default=[],
                    help="rounds CSVs (<out>/zoo_fp32_1t_rounds.csv) of earlier runs on this "
                         "machine to pool with this run's rounds")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the bench result and the measurements saved in --out")
    ap.add_argument("--reuse-measurements", action="store_true",
                    help="reuse the measurements saved in --out, but bench again")
    ap.add_argument("--redraw", action="store_true",
                    help="only redraw --figure from the measurements kept in --docs "
                         "(refits them; measures nothing)")
    args = ap.parse_args()
    if args.redraw:
        redraw(args)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "load": {"start": loadavg()}}

    # 1. bench -------------------------------------------------------------------------
    bench_json = out / "bench.json"
    if args.reuse and bench_json.exists():
        result = bench.BenchResult(**{k: v for k, v in json.loads(bench_json.read_text()).items()
                                      if k != "points"})
        result.points = [bench.Point(**{k: v for k, v in p.items() if k != "unit"})
                         for p in json.loads(bench_json.read_text())["points"]]
    else:
        log("== bench")
        result = bench.run(device="cpu", progress=log)
        bench_json.write_text(json.dumps(result.to_dict(), indent=1))
    record["load"]["after_bench"] = loadavg()
    record["bench"] = result.to_dict()
    record["bench"]["ridge_points"] = bench.bench_ridge_points(result)

    # 2. measure -----------------------------------------------------------------------
    csv_path = out / "zoo_fp32_1t.csv"
    rounds_path = out / "zoo_fp32_1t_rounds.csv"
    layers_path = out / "layers_fp32_1t.csv"
    reuse = (args.reuse or args.reuse_measurements) and rounds_path.exists()
    if reuse:
        allr = pd.read_csv(rounds_path)
    else:
        rounds = []
        for r in range(args.rounds):
            log(f"== measure, round {r + 1}/{args.rounds} (load {loadavg()})")
            df = measure.measure(args.models, threads=1, dtype="fp32", progress=log)
            df["round"] = f"{out.name}:{r + 1}"
            rounds.append(df)
            record["load"][f"after_measure_round_{r + 1}"] = loadavg()
        allr = pd.concat(rounds, ignore_index=True)
        allr.to_csv(rounds_path, index=False, float_format="%.6g")
    pooled = [allr] + [pd.read_csv(p) for p in args.pool]
    allr = pd.concat(pooled, ignore_index=True)
    allr["round"] = allr["round"].astype(str)
    record["rounds"] = sorted(allr["round"].unique())
    # each round is the protocol's median of repeats; a model's latency is its fastest round
    best = allr.loc[allr.groupby("model", sort=False)["latency_ms"].idxmin()]
    best = best.set_index("model").loc[allr["model"].unique()].reset_index()
    record["fastest_round_by_model"] = dict(zip(best["model"], best["round"]))
    best.drop(columns="round").to_csv(csv_path, index=False, float_format="%.6g")
    if not ((args.reuse or args.reuse_measurements) and layers_path.exists()):
        log(f"== per-layer profiles of {', '.join(PER_LAYER)}")
        per = measure.measure([m for m in PER_LAYER if m in set(best["model"])], threads=1,
                              repeats=3, per_layer=True, fusion="none", progress=log)
        per["layer_index"] = per["layer_index"].astype("Int64")
        per.to_csv(layers_path, index=False, float_format="%.6g")
    record["load"]["after_measure"] = loadavg()
    rows_all = read_measurements(csv_path)
    rows = model_rows(rows_all)
    rows["dtype"] = "fp32"
    record["measurements"] = pd.read_csv(csv_path).to_dict(orient="records")

    # 3. fit ---------------------------------------------------------------------------
    data = bench_profile(result)
    bench_peak = data["peak_macs_per_s"]["fp32"]["value"]
    datasets = {}
    fits = {}
    for name, fusion, overhead, hold in CONFIGS:
        if fusion not in datasets:
            keys = [(m, int(r), "fp32") for m, r in zip(rows["model"], rows["resolution"])]
            tables = measure.layer_tables(keys, fusion=fusion)
            datasets[fusion] = (Dataset.from_tables(
                [tables[k] for k in keys], rows["latency_s"].to_numpy(), list(rows["model"]),
                keys), tables)
        ds = datasets[fusion][0]
        log(f"== fit: {name}")
        rep = fit_report(ds, overhead=overhead, hold_peak=bench_peak if hold else None,
                                   cv=True)
        rep.update(fusion=fusion, held_peak=hold)
        fits[name] = rep
    record["fits"] = fits

    # 4. validate ----------------------------------------------------------------------
    ds, tables = datasets["none"]
    raw_roof = load_profile_from(data, out / "bench_profile.yaml").roof("fp32")
    raw_pred = np.array([layer_times(tables[k], raw_roof)["latency_s"].sum() for k in ds.keys])
    record["validate_bench_profile"] = compare(ds.measured_s, raw_pred, ds.total_macs)
    best = fits["roofline + overhead"]
    per_layer = None
    if layers_path.exists():
        per_layer = layer_comparison(layers_path, best)
        record["per_layer"] = per_layer[1]

    # the profiles: bench roofs, and the fit -------------------------------------------
    text = profile_yaml(data, bench_profile_header(
        result, "python benchmarks/accuracy_local.py"))
    check_profile_text(text, args.profile)
    Path(args.profile).write_text(text)
    log(f"wrote {args.profile}")
    base = load_profile(args.profile)
    stem = Path(args.profile).stem
    docs = Path(args.docs)
    kept_csv = docs / f"accuracy_measured_{stem}.csv"
    kept_csv.write_text(csv_path.read_text())
    if layers_path.exists():
        (docs / f"accuracy_layers_{stem}.csv").write_text(layers_path.read_text())
    fitted_path = docs / f"accuracy_fitted_{stem}.yaml"
    fitted = fitted_profile(best, base=base, dtype="fp32",
                                      source=str(kept_csv.relative_to(ROOT)), fusion="none",
                                      threads=1, hold_peak=False)
    text = profile_yaml(fitted, "Fitted by benchmarks/accuracy_local.py (roofline + "
                                  "per-layer overhead, fusion none); see docs/accuracy.md.\n"
                                  f"Use it with --fusion none: roofline analyze MODEL --hw "
                                  f"{fitted_path.relative_to(ROOT)} --fusion none")
    check_profile_text(text, str(fitted_path))
    fitted_path.write_text(text)
    log(f"wrote {kept_csv}, {fitted_path}")

    # 5. figure ------------------------------------------------------------------------
    draw_figure(best, ds, per_layer, f"{result.device_name}, 1 thread, fp32, torch "
                f"{result.torch_version.split('+')[0]}", Path(args.figure))

    record["load"]["end"] = loadavg()
    (out / "accuracy_local.json").write_text(json.dumps(record, indent=1, default=float))
    (out / "accuracy_tables.md").write_text(markdown_tables(record))
    print(summary(record))


def draw_figure(best: dict, ds: Dataset, per_layer: tuple | None, setup: str,
                path: Path) -> None:
    """The scatter of docs/accuracy.md: leave-one-out predictions of ``best`` (the fitted
    roofline + overhead) and of scaled MAC counting; per layer when measured."""
    # deferred: heavy import (matplotlib)
    from roofline.plots.saving import figure_bytes
    from roofline.plots.validation import scatter  # deferred: heavy import (matplotlib)

    models = pd.DataFrame(best["models"])
    loo_stats = {"spearman_roofline": best["loo"]["spearman_roofline"],
                 "spearman_macs": best["spearman_macs"], "mape": best["loo"]["mape"],
                 "within_20pct": best["loo"]["within_20pct"]}
    macs_stats = {"mape": best["loo"]["mape_macs"],
                  "within_20pct": best["loo"]["within_20pct_macs"]}
    models["macs_only_loo_ms"] = leave_one_out_macs(ds) * 1e3
    fig = scatter(
        models, predicted_column="loo_predicted_ms", baseline_column="macs_only_loo_ms",
        stats=loo_stats, baseline_stats={**macs_stats, "spearman_macs": best["spearman_macs"]},
        layers=None if per_layer is None else per_layer[0],
        layer_stats=None if per_layer is None else per_layer[1],
        title=f"{setup} eager: leave-one-out predictions of the fitted roofline + overhead")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(figure_bytes(fig, path.suffix))
    log(f"wrote {path}")


def redraw(args: argparse.Namespace) -> None:
    """The figure alone, from the kept measurements in --docs (nothing is measured): the
    fit (roofline + overhead, fusion none, leave-one-out) is redone from them."""
    stem = Path(args.profile).stem
    docs = Path(args.docs)
    rows = model_rows(read_measurements(docs / f"accuracy_measured_{stem}.csv"))
    keys = [(m, int(r), "fp32") for m, r in zip(rows["model"], rows["resolution"])]
    tables = measure.layer_tables(keys, fusion="none")
    ds = Dataset.from_tables([tables[k] for k in keys], rows["latency_s"].to_numpy(),
                             list(rows["model"]), keys)
    best = fit_report(ds, overhead=True, cv=True)
    layers_csv = docs / f"accuracy_layers_{stem}.csv"
    per_layer = layer_comparison(layers_csv, best) if layers_csv.exists() else None
    base = load_profile(args.profile)
    device = re.sub(r", \d+ threads? \(measured\)$", "", base.name)
    torch_version = next((w for w in base.description.split() if w[:1].isdigit()
                          and "+" in w), "").split("+")[0]
    draw_figure(best, ds, per_layer, f"{device}, 1 thread, fp32, torch {torch_version}",
                Path(args.figure))
    print(f"LOO: r_s {best['loo']['spearman_roofline']:.3f}, MAPE {best['loo']['mape']:.1f} %, "
          f"{100 * best['loo']['within_20pct']:.0f} % within 20 %")


def markdown_tables(rec: dict) -> str:
    """The tables of docs/accuracy.md, from this run's numbers."""
    b = rec["bench"]
    out = ["| roof | 1 thread | spread | best repeat | " f"{b['threads_all']} threads | spread |",
           "|---|---:|---:|---:|---:|---:|"]
    for what, key, level in (("peak fp32", "fp32", None), ("peak bf16", "bf16", None),
                             ("peak int8", "int8", None), ("DRAM triad", None, "dram"),
                             ("DRAM copy", None, "dram"), ("LLC triad", None, "llc")):
        kernel = "copy" if "copy" in what else ("triad" if level else None)
        cells = []
        for th in (1, b["threads_all"]):
            p = next((p for p in b["points"] if p["threads"] == th
                      and (p["dtype"] == key if key else (p["level"] == level
                                                          and p["kernel"] == kernel))), None)
            unit = "GMAC/s" if key else "GB/s"
            cells.append(None if p is None else (f"{p['value'] / 1e9:.1f} {unit}",
                                                 f"{100 * p['spread']:.1f} %",
                                                 f"{p['best'] / 1e9:.1f}"))
        one, all_ = cells
        out.append(f"| {what} | {one[0]} | {one[1]} | {one[2]} | {all_[0]} | {all_[1]} |")
    out += ["", "| fit (fusion) | free | RP MACs/B | peak GMAC/s | BW GB/s | overhead us/layer "
            "| r_s | MAPE | ±20 % | LOO r_s | LOO MAPE | LOO ±20 % |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, f in rec["fits"].items():
        lo = f["loo"]
        bw = ("not determined" if "bandwidth" in f.get("undetermined", [])
              else f"{f['mem_bw_bytes_per_s'] / 1e9:.2f}")
        out.append(f"| {name} ({f['fusion']}) | {', '.join(f['free_parameters'])} | "
                   f"{f['ridge_point']:.2f} | {f['peak_macs_per_s'] / 1e9:.1f} | {bw} | "
                   f"{f['overhead_s_per_layer'] * 1e6:.1f} | {f['spearman_roofline']:.3f} | "
                   f"{f['mape']:.1f} % | {100 * f['within_20pct']:.0f} % | "
                   f"{lo['spearman_roofline']:.3f} | {lo['mape']:.1f} % | "
                   f"{100 * lo['within_20pct']:.0f} % |")
    f = rec["fits"]["roofline"]
    out.append(f"| MACs only, scaled | peak | 0 | {f['macs_only_peak_macs_per_s'] / 1e9:.1f} | - | "
               f"- | {f['spearman_macs']:.3f} | {f['mape_macs']:.1f} % | "
               f"{100 * f['within_20pct_macs']:.0f} % | {f['spearman_macs']:.3f} | "
               f"{f['loo']['mape_macs']:.1f} % | {100 * f['loo']['within_20pct_macs']:.0f} % |")
    v = rec["validate_bench_profile"]
    out.append(f"| bench roofs as measured, no fit | - | {rec['bench']['ridge_points']['fp32']:.2f}"
               f" | - | - | - | {v['spearman_roofline']:.3f} | {v['mape']:.1f} % | "
               f"{100 * v['within_20pct']:.0f} % | - | - | - |")
    plain = {m["model"]: m for m in rec["fits"]["roofline"]["models"]}
    out += ["", "| model | measured ms | roofline | LOO | + overhead | LOO | MACs only | layers |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in rec["fits"]["roofline + overhead"]["models"]:
        p = plain[m["model"]]
        out.append(f"| {m['model']} | {m['measured_ms']:.2f} | {p['error_pct']:+.1f} % | "
                   f"{p['loo_error_pct']:+.1f} % | {m['error_pct']:+.1f} % | "
                   f"{m['loo_error_pct']:+.1f} % | {m['macs_only_ms'] / m['measured_ms'] - 1:+.1%}"
                   f" | {m['layers']} |")
    if "per_layer" in rec:
        p = rec["per_layer"]
        out += ["", "| op | share of measured time | median predicted / measured |",
                "|---|---:|---:|"]
        for op, share in sorted(p["measured_share_by_op"].items(), key=lambda kv: -kv[1]):
            out.append(f"| {op} | {100 * share:.1f} % | {p['median_ratio_by_op'][op]:.2f} |")
    return "\n".join(out) + "\n"


def load_profile_from(data: dict, path: Path):
    path.write_text(profile_yaml(data))
    return load_profile(path)


def layer_comparison(path: Path, rep: dict):
    """Per-layer measured vs predicted (the fitted roofline + overhead, fusion none)."""
    from roofline.hardware.registry import Roof

    df = read_measurements(path)
    per = df[df["layer_index"].notna() & (df["layer_index"] >= 0)]
    roof = Roof("fit", "fit", "cpu", "fp32", rep["peak_macs_per_s"], rep["mem_bw_bytes_per_s"],
                True, "fitted", overhead_s_per_layer=rep["overhead_s_per_layer"])
    out = []
    for model, g in per.groupby("model", sort=False):
        key = (model, int(g["resolution"].iloc[0]), "fp32")
        table = layer_times(measure.layer_tables([key], fusion="none")[key], roof)
        for r in g.itertuples():
            i = int(r.layer_index)
            assert table["name"].iloc[i] == r.layer, (model, i)
            out.append({"model": model, "layer": r.layer, "op": table["op"].iloc[i],
                        "measured_ms": r.latency_s * 1e3,
                        "predicted_ms": table["latency_s"].iloc[i] * 1e3,
                        "macs": float(table["macs"].iloc[i])})
    layers = pd.DataFrame(out)
    stats = compare(layers["measured_ms"].to_numpy(), layers["predicted_ms"].to_numpy(),
                              layers["macs"].to_numpy())
    stats["models"] = int(layers["model"].nunique())
    by_op = layers.assign(ratio=layers["predicted_ms"] / layers["measured_ms"]).groupby("op")
    stats["median_ratio_by_op"] = by_op["ratio"].median().round(3).to_dict()
    stats["measured_share_by_op"] = (by_op["measured_ms"].sum()
                                     / layers["measured_ms"].sum()).round(3).to_dict()
    total = df[df["layer_index"].isna()].set_index("model")["latency_s"] * 1e3
    stats["profiled_over_timed"] = {
        m: round(float(g["latency_s"].sum() * 1e3 / total[m]), 3)
        for m, g in df[df["layer_index"].notna()].groupby("model")}
    return layers, stats


def summary(rec: dict) -> str:
    b = rec["bench"]
    lines = [f"machine: {b['device_name']}, {b['logical_cpus']} CPUs, torch {b['torch_version']}",
             f"load average: {rec['load']}"]
    for p in b["points"]:
        unit = p["unit"]
        scale = 1e9
        lines.append(f"  {p['what']:9} {p['dtype'] or p['level'] + ' ' + p['kernel']:12} "
                     f"{p['threads']} thr  {p['value'] / scale:8.2f} G{unit}  "
                     f"spread {100 * p['spread']:.1f} %")
    lines.append(f"  ridge points (1 thread, DRAM): {b['ridge_points']}")
    v = rec["validate_bench_profile"]
    lines.append(f"bench profile as is (no fit): r_s {v['spearman_roofline']:.3f} (MACs "
                 f"{v['spearman_macs']:.3f}), MAPE {v['mape']:.1f} %, within 20 % "
                 f"{100 * v['within_20pct']:.0f} %, median predicted/measured "
                 f"{v['median_ratio']:.2f}")
    lines.append("")
    lines.append(f"{'fit':36} {'RP':>6} {'peak G':>7} {'BW GB/s':>8} {'o us':>6} | "
                 f"{'r_s':>6} {'MAPE':>6} {'20%':>4} | {'LOO r_s':>7} {'MAPE':>6} {'20%':>4}")
    for name, f in rec["fits"].items():
        lo = f["loo"]
        lines.append(
            f"{name:36} {f['ridge_point']:6.2f} {f['peak_macs_per_s'] / 1e9:7.1f} "
            f"{f['mem_bw_bytes_per_s'] / 1e9:8.2f} {f['overhead_s_per_layer'] * 1e6:6.1f} | "
            f"{f['spearman_roofline']:6.3f} {f['mape']:5.1f}% {100 * f['within_20pct']:3.0f}% | "
            f"{lo['spearman_roofline']:7.3f} {lo['mape']:5.1f}% {100 * lo['within_20pct']:3.0f}%")
    f = rec["fits"]["roofline"]
    lines.append(f"{'MACs only (scaled)':36} {'0':>6} {f['macs_only_peak_macs_per_s'] / 1e9:7.1f}"
                 f" {'inf':>8} {'-':>6} | {f['spearman_macs']:6.3f} {f['mape_macs']:5.1f}% "
                 f"{100 * f['within_20pct_macs']:3.0f}% | {f['spearman_macs']:7.3f} "
                 f"{f['loo']['mape_macs']:5.1f}% {100 * f['loo']['within_20pct_macs']:3.0f}%")
    if "per_layer" in rec:
        p = rec["per_layer"]
        lines.append(f"per layer ({p['n']} layers of {p['models']} models, fitted roofline + "
                     f"overhead): r_s {p['spearman_roofline']:.3f} (MACs "
                     f"{p['spearman_macs']:.3f}), MAPE {p['mape']:.0f} %, within 20 % "
                     f"{100 * p['within_20pct']:.0f} %")
        lines.append(f"  median predicted/measured by op: {p['median_ratio_by_op']}")
        lines.append(f"  profiled / timed latency: {p['profiled_over_timed']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""How well does the runtime-aware roofline predict LiteRT int8 latency? By family, honestly.

    python benchmarks/accuracy_runtime.py                  # the table, ~2 min once traces are cached (x5 with the ablation)
    python benchmarks/accuracy_runtime.py --json out.json  # every number as JSON too

Data: ``docs/runtime_measured_litert_int8.csv`` (``benchmarks/measure_runtime.py``: every zoo
model and timm models of every family, exported to int8 .tflite and timed on LiteRT/XNNPACK,
one thread, on this machine). Rows with status ok; the latency column is ``--latency``.
Families by the CSV's ``arch``: convnets, ViTs, hybrids, MetaFormers.

Device: ``--hw`` (default ``docs/ci_x86_2core_litert.yaml``: this machine's int8 and fp32 peaks measured
through LiteRT by ``benchmarks/litert_peak.py``, its DRAM bandwidth by ``roofline bench``).

Four predictors, each fitted to measured latencies and judged out of sample:

- MACs only: latency = MACs / P, one fitted P (the MAC-counting baseline).
- plain roofline, torch graph: sum_i max(macs_i / P, bytes_i / B) over the torch trace under
  the runtime's fusion (tflite: BatchNorm folded, ReLU fused), int8 bytes; P and B fitted
  (``roofline fit``'s fit). What the toolkit predicted before runtimes.
- plain roofline, deployed graph: the same equation over the .tflite's own ops and bytes.
- runtime-aware: ``roofline.latency.runtime_model`` over the .tflite's ops with the runtime's
  parameters fitted, the device's peaks and bandwidth held at their measured values
  (``roofline fit ... --fit runtime``).

Splits: leave-one-out over all models (each model predicted by a fit to all the others), with
statistics over all and by family; and trained on convnets only, predicting the ViTs, hybrids
and MetaFormers. Statistics: MAPE, share within +-20 %, Spearman r_s of predicted vs measured.
An ablation drops each runtime parameter in turn (leave-one-out MAPE without it): the
parameters kept are those the data needs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofline.calibration.dataset import Dataset, FitError
from roofline.calibration.fit import fit_macs_only, fit_roofline
from roofline.calibration.runtime_fit import fit_runtime
from roofline.calibration.stats import accuracy
from roofline.hardware.registry import get_profile
from roofline.hardware.runtime import NEUTRAL, PARAMETERS, get_runtime
from roofline.latency.runtime_model import DeviceRoofs, RuntimeData

CSV = ROOT / "docs" / "runtime_measured_litert_int8.csv"
FAMILIES = {"convnet": "convnets", "vit": "ViTs", "hybrid": "hybrids", "metaformer": "MetaFormers"}
ORDER = ["convnets", "ViTs", "hybrids", "MetaFormers"]
METHODS = ["MACs only", "plain roofline, torch graph", "plain roofline, deployed graph",
           "runtime-aware"]


def load(csv: Path, latency: str) -> pd.DataFrame:
    """The usable rows: status ok, int8, LiteRT, one per model."""
    df = pd.read_csv(csv)
    if "status" in df:
        df = df[df["status"] == "ok"]
    df = df[(df["dtype"] == "int8") & (df["runtime"] == "litert")]
    df = df[df[latency].notna() & (df[latency] > 0)].drop_duplicates("model", keep="last")
    df = df.assign(group=df["arch"].map(FAMILIES).fillna("other"),
                   latency_s=df[latency] / 1e3)
    return df.reset_index(drop=True)


def timed_files(df: pd.DataFrame, root: Path) -> dict[str, Path]:
    """model -> the very .tflite its latency was measured on, found in ``root`` (the export
    cache) by the CSV's ``file_sha256``; models whose file is not there are left out."""
    if "file_sha256" not in df or not root.is_dir():
        return {}
    want = dict(zip(df["file_sha256"].dropna(), df.loc[df["file_sha256"].notna(), "model"]))
    found = {}
    for f in root.glob("*.tflite"):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        if digest in want:
            found[want[digest]] = f
    return found


def tables(df: pd.DataFrame, fusion: str, progress: Callable[[str], None]
           ) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """(deployed .tflite tables, torch tables) of every row, in row order. A row's deployed
    table is read from the file that was timed when the export cache holds it; otherwise the
    model is exported again (the same file when the export code is unchanged)."""
    from roofline.calibration.measure import layer_tables
    from roofline.calibration.runtime_data import deployed_tables
    from roofline.graph.deployed import deployed_layer_table
    from roofline.graph.deployed_file import read_deployed
    from roofline.runtimes.export import exports_dir

    keys = [(m, int(r) if pd.notna(r) else None, "int8", None)
            for m, r in zip(df["model"], df["resolution"])]
    files = timed_files(df, exports_dir())
    dep = {k: deployed_layer_table(read_deployed(files[k[0]])) for k in keys if k[0] in files}
    missing = [k for k in keys if k not in dep]
    if missing:
        progress(f"{len(missing)} of {len(keys)} timed files are not in the export cache: "
                 "exporting them again")
        dep.update(deployed_tables(missing, "tflite", progress=progress))
    torch_t = layer_tables(keys, fusion=fusion, progress=progress)
    return [dep[k] for k in keys], [torch_t[k] for k in keys]


# ------------------------------------------------------------------------------ predictors


class Predictor:
    """fit(index) -> a function predicting the models at another index."""

    def __init__(self, name: str, fit: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]):
        self.name, self.fit = name, fit


def macs_only(total_macs: np.ndarray, measured: np.ndarray) -> Predictor:
    class _View:
        pass

    def fit(train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        v = _View()
        v.total_macs, v.measured_s = total_macs[train], measured[train]
        p = fit_macs_only(v)
        return lambda idx: total_macs[idx] / p

    return Predictor("MACs only", fit)


def plain(ds: Dataset, name: str) -> Predictor:
    def fit(train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        f = fit_roofline(ds.subset(train))
        return lambda idx: ds.subset(idx).predict(f.peak_macs_per_s, f.mem_bw_bytes_per_s)

    return Predictor(name, fit)


def runtime_aware(data: RuntimeData, device: DeviceRoofs, free: Sequence[str],
                  start: dict[str, float] | None = None) -> Predictor:
    def fit(train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        f = fit_runtime(data.subset(train), device, dict(NEUTRAL), free, start=start)
        return lambda idx: data.subset(idx).predict(f.device, f.values)

    return Predictor("runtime-aware", fit)


def leave_one_out(p: Predictor, n: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        out[i] = p.fit(np.array([j for j in range(n) if j != i]))(np.array([i]))[0]
    return out


def stats(measured: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    a = accuracy(measured, predicted)
    return {"n": len(measured), "mape": a["mape"], "within_20pct": a["within_20pct"],
            "spearman": a["spearman"], "median_ratio": a["median_ratio"]}


def by_group(groups: np.ndarray, measured: np.ndarray, predicted: np.ndarray,
             names: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {"all": stats(measured, predicted)}
    for g in names:
        m = groups == g
        if m.any():
            out[g] = stats(measured[m], predicted[m])
    return out


def fmt_row(name: str, s: dict[str, float]) -> str:
    r = "-" if not np.isfinite(s["spearman"]) else f"{s['spearman']:.3f}"
    return (f"| {name} | {s['n']} | {s['mape']:.1f} % | {100 * s['within_20pct']:.0f} % | {r} "
            f"| {s['median_ratio']:.2f} |")


def write_runtime(a: argparse.Namespace, runtime: Any, full: Any, result: dict[str, Any]
                  ) -> None:
    """The runtime file with the parameters fitted to every model (basis fitted, source this
    command), each with its leave-one-out context in the header."""
    import datetime

    from roofline.hardware.runtime import runtime_yaml

    today = datetime.date.today().isoformat()
    def rel(x: Any) -> str:  # repository paths as the repository names them
        x = Path(x)
        return str(x.relative_to(ROOT)) if x.is_absolute() and x.is_relative_to(ROOT) else str(x)

    cmd = (f"python benchmarks/accuracy_runtime.py --csv {rel(a.csv)} --hw {rel(a.hw)} --latency "
           f"{a.latency} --params {a.params} --write-runtime {rel(a.write_runtime)}")
    notes = {k: PARAMETERS[k] + (f"; {full.values[k] / full.device.peak * 1e6:.3g} us at "
                                 f"{full.device.peak / 1e9:.3g} GMAC/s"
                                 if k.endswith("_macs") else "") for k in full.free}
    new = runtime.with_parameters({k: full.values[k] for k in full.free}, basis="fitted",
                                  source=f"`{cmd}` ({today}, {result['n_models']} models)",
                                  notes=notes)
    lo = result["loo"].get("runtime-aware", {}).get("all")
    header = (f"Parameters fitted by `{cmd}` on {today} to {result['n_models']} models"
              + (f" (leave-one-out MAPE {lo['mape']:.1f} %, r_s {lo['spearman']:.3f})"
                 if lo else "") + ".\nSee docs/accuracy.md (LiteRT int8) for what they mean "
              "and how well they predict.")
    a.write_runtime.write_text(runtime_yaml(new, header), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--hw", default=str(ROOT / "docs" / "ci_x86_2core_litert.yaml"))
    ap.add_argument("--latency", default="latency_ms",
                    help="the CSV column of the measured latency (ms)")
    ap.add_argument("--params", default=",".join(PARAMETERS),
                    help="runtime parameters to fit (comma-separated)")
    ap.add_argument("--no-ablation", action="store_true")
    ap.add_argument("--write-runtime", type=Path, default=None,
                    help="write the runtime with the parameters fitted to all models here")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    t0 = time.time()
    log = lambda m: print(m, file=sys.stderr, flush=True)
    profile = get_profile(a.hw)
    runtime = get_runtime(profile.runtime or "litert_xnnpack")
    device = DeviceRoofs.of(profile, "int8")
    df = load(a.csv, a.latency)
    log(f"{len(df)} models from {a.csv} ({a.latency}); device {profile.id}, runtime {runtime.id}")
    dep, tor = tables(df, runtime.fusion, log)
    measured = df["latency_s"].to_numpy()
    groups = df["group"].to_numpy()
    labels = list(df["model"])
    data = RuntimeData.from_tables(dep, measured, labels, "int8", families=list(groups))
    ds_dep = Dataset.from_tables(dep, measured, labels)
    ds_tor = Dataset.from_tables(tor, measured, labels)
    free = [p for p in a.params.split(",") if p]
    skipped: dict[str, str] = {}
    predictors = [macs_only(ds_tor.total_macs, measured),
                  plain(ds_tor, "plain roofline, torch graph"),
                  plain(ds_dep, "plain roofline, deployed graph")]
    try:
        full = fit_runtime(data, device, dict(NEUTRAL), free)
    except FitError as e:
        full, skipped["runtime-aware"] = None, str(e)
    else:
        start = dict(full.values)
        predictors.append(runtime_aware(data, device, free, start))
    n = len(df)
    result: dict[str, Any] = {"csv": str(a.csv), "latency_column": a.latency, "hw": profile.id,
                              "runtime": runtime.id, "n_models": n, "params": free,
                              "full_fit": None if full is None else {
                                  "values": full.values, "warnings": full.warnings,
                                  "undetermined": list(full.undetermined)},
                              "models": {"model": labels, "group": list(groups),
                                         "measured_ms": list(measured * 1e3)}}
    loo, conv = {}, {}
    train = np.flatnonzero(groups == "convnets")
    test = np.flatnonzero(groups != "convnets")
    for p in predictors:
        log(f"leave-one-out: {p.name}")
        try:
            pred = leave_one_out(p, n)
        except FitError as e:  # too few models for this predictor's parameters
            skipped[p.name] = str(e)
            continue
        loo[p.name] = by_group(groups, measured, pred, ORDER)
        result["models"][f"loo_{p.name}_ms"] = list(pred * 1e3)
        if len(train) and len(test):
            try:
                cp = p.fit(train)(test)
            except FitError as e:
                skipped[f"{p.name}, convnets only"] = str(e)
                continue
            conv[p.name] = by_group(groups[test], measured[test], cp, ORDER[1:])
    result["skipped"] = skipped
    result["loo"], result["convnets_only"] = loo, conv
    if not a.no_ablation and "runtime-aware" in loo:
        abl = {}
        for drop in free:
            rest = [q for q in free if q != drop]
            log(f"ablation: without {drop}")
            st = {k: v for k, v in start.items()}
            st[drop] = NEUTRAL[drop]
            pred = leave_one_out(runtime_aware(data, device, rest, st), n)
            abl[drop] = stats(measured, pred)
        result["ablation"] = abl
    result["seconds"] = time.time() - t0

    lines = [f"# LiteRT int8, {n} models, device {profile.id}, runtime {runtime.id}",
             f"latency column: {a.latency}; fitted parameters: {', '.join(free)}", "",
             "## Leave-one-out", ""]
    for g in ["all", *ORDER]:
        lines += [f"### {g}", ("| predictor | n | MAPE | within +-20 % | Spearman r_s | "
                  "median pred/meas |"), "|---|---:|---:|---:|---:|---:|"]
        lines += [fmt_row(m, loo[m][g]) for m in loo if g in loo[m]]
        lines.append("")
    if conv:
        lines += ["## Trained on convnets only, predicting the others", ""]
        for g in ["all", *ORDER[1:]]:
            lines += [f"### {g}", ("| predictor | n | MAPE | within +-20 % | Spearman r_s | "
                      "median pred/meas |"), "|---|---:|---:|---:|---:|---:|"]
            lines += [fmt_row(m, conv[m][g]) for m in conv if g in conv[m]]
            lines.append("")
    if full is not None:
        lines += ["## Runtime parameters (fitted to all models)", "",
                  "| parameter | value | on this device |", "|---|---:|---:|"]
        for k in free:
            v = full.values[k]
            here = (f"{v / full.device.peak * 1e6:.3g} us" if k.endswith("_macs")
                    else f"{v:.3g} x")
            lines.append(f"| {k} | {v:.4g} | {here} |")
    if "ablation" in result:
        lines += ["", "## Ablation: leave-one-out without each parameter", "",
                  "| without | MAPE | within +-20 % | Spearman r_s |", "|---|---:|---:|---:|",
                  (f"| (none) | {loo['runtime-aware']['all']['mape']:.1f} % | "
                  f"{100 * loo['runtime-aware']['all']['within_20pct']:.0f} % | "
                  f"{loo['runtime-aware']['all']['spearman']:.3f} |")]
        for k, s in result["ablation"].items():
            lines.append(f"| {k} | {s['mape']:.1f} % | {100 * s['within_20pct']:.0f} % | "
                         f"{s['spearman']:.3f} |")
    for w in full.warnings if full is not None else []:
        lines.append(f"\nwarning: {w}")
    for k, why in skipped.items():
        lines.append(f"\nnot evaluated: {k}: {why}")
    if "load1" in df:
        lines.append(f"\n1-minute load average while the models were timed: median "
                     f"{df['load1'].median():.1f}, range {df['load1'].min():.1f}-"
                     f"{df['load1'].max():.1f} (2 cores)")
    lines.append(f"\n({result['seconds']:.0f} s)")
    print("\n".join(lines))
    result["load1"] = list(df["load1"]) if "load1" in df else None
    if a.write_runtime and full is not None:
        write_runtime(a, runtime, full, result)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

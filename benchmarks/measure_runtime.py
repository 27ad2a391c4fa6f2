"""The measured dataset of issue 11: LiteRT int8 latency of many models on this machine.

Every zoo model and 99 timm models of every family (convnets, ViTs, hybrids, MetaFormers) at
their default resolutions (models over ``--max-gmacs`` are listed as skipped) are exported to
int8 .tflite (``roofline.runtimes.export``: PT2E static quantisation, seeded calibration) and
timed on LiteRT with XNNPACK, one thread (``roofline.runtimes.measure``: warm-up, 7 repeats of
>= 0.2 s, median). Each row also carries the graph LiteRT ran (delegate partitions, ops outside
the delegate, float ops, TRANSPOSE/QUANTIZE/DEQUANTIZE counts, all op counts), the model's MACs
from the roofline trace, and the 1-minute load average when it was timed (this machine is
shared; a load above the core count inflates latencies).

A model the converter rejects is a row with ``status`` failed and the reason, never dropped.
Each row carries ``file_sha256``, the digest of the .tflite it timed
(``benchmarks/accuracy_runtime.py`` reads that file from the export cache when it is there).
Rows are journalled (JSONL) as they land, so an interrupted run resumes where it stopped; a
model during which a previous run died is recorded as ``crashed`` (``--retry`` tries failed
and crashed models again). The CSV is rewritten (atomically) after every model.
``latency_p10_ms`` (the 10th percentile of single runs) is robust to a busy machine where the
median of repeats is not; ``--retime-load L`` re-times rows measured above load L.

    nice -n 5 python benchmarks/measure_runtime.py            # all, resumable
    python benchmarks/measure_runtime.py --models mnv4_conv_small fastvit_t8 -o /tmp/x.csv
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roofline.analysis import analyze
from roofline.cache import cache_dir
from roofline.errors import RooflineError
from roofline.models import zoo
from roofline.runtimes.export import export
from roofline.runtimes.litert import runner
from roofline.runtimes.measure import measure_file

OUT = Path(__file__).resolve().parent.parent / "docs" / "runtime_measured_litert_int8.csv"
COLUMNS = ["model", "family", "arch", "resolution", "gmacs", "dtype", "runtime", "threads",
           "latency_ms", "latency_min_ms", "latency_p10_ms", "latency_cpu_ms", "spread_pct",
           "runs", "repeats", "partitions",
           "undelegated_ops", "undelegated", "float_ops", "float_op_counts", "transposes",
           "quantize_ops", "dequantize_ops", "ops", "op_counts", "load1", "status", "error",
           "device", "file_sha256"]  # the journal also keeps "file", the export a row timed (--retime-load)

# timm models by family; (family, architecture class). Interleaved when run, so a partial
# dataset covers every family.
TIMM: dict[tuple[str, str], list[str]] = {
    ("ResNet", "convnet"): ["resnet18", "resnet34", "resnet50", "resnet50d", "resnet101",
                            "resnext50_32x4d", "cspresnet50"],
    ("RegNet", "convnet"): ["regnetx_002", "regnetx_016", "regnety_002", "regnety_008",
                            "regnety_016", "regnety_032"],
    ("EfficientNet", "convnet"): ["efficientnet_b1", "efficientnet_b2", "efficientnet_lite0",
                                  "tf_efficientnetv2_b0", "tinynet_a", "mixnet_s", "mixnet_m"],
    ("MobileNet", "convnet"): ["mobilenetv2_140", "mobilenetv3_small_050",
                               "mobilenetv3_small_075", "mobilenetv3_large_075", "lcnet_100"],
    ("NAS", "convnet"): ["mnasnet_100", "mnasnet_small", "semnasnet_100", "fbnetc_100",
                         "spnasnet_100", "hardcorenas_a"],
    ("GhostNet", "convnet"): ["ghostnet_100", "ghostnetv2_100", "repghostnet_100"],
    ("DenseNet", "convnet"): ["densenet121", "densenet169", "dla34"],
    ("RepConv", "convnet"): ["mobileone_s1", "mobileone_s2", "repvgg_a2", "repvit_m1",
                             "rexnet_100"],
    ("ConvNeXt", "convnet"): ["convnext_atto", "convnext_femto", "convnext_nano",
                              "convnext_tiny"],
    ("Inception", "convnet"): ["inception_v3"],
    ("ViT", "vit"): ["vit_tiny_patch16_224", "vit_small_patch16_224", "vit_small_patch32_224",
                     "vit_base_patch32_224", "deit_tiny_patch16_224", "deit_small_patch16_224",
                     "deit_tiny_distilled_patch16_224", "deit3_small_patch16_224",
                     "cait_xxs24_224", "xcit_nano_12_p16_224", "crossvit_tiny_240",
                     "eva02_tiny_patch14_224"],
    ("HierarchicalViT", "vit"): ["pit_ti_224", "pit_xs_224", "swin_tiny_patch4_window7_224",
                                 "pvt_v2_b0", "pvt_v2_b1", "twins_svt_small", "coat_lite_tiny"],
    ("MobileViT", "hybrid"): ["mobilevit_xxs", "mobilevit_xs", "mobilevit_s", "mobilevitv2_050",
                              "mobilevitv2_100"],
    ("EfficientViT", "hybrid"): ["efficientvit_m0", "efficientvit_m2", "efficientvit_m4",
                                 "efficientvit_b0"],
    ("MaxViT", "hybrid"): ["coatnet_nano_rw_224", "maxvit_nano_rw_256", "gcvit_xxtiny"],
    ("FastViT", "hybrid"): ["fastvit_t12", "fastvit_mci0"],
    ("LeViT", "hybrid"): ["levit_128s", "levit_128", "levit_256"],
    ("EdgeNeXt", "hybrid"): ["edgenext_xx_small", "edgenext_x_small", "edgenext_small"],
    ("EfficientFormer", "hybrid"): ["efficientformer_l1", "efficientformerv2_s0",
                                    "efficientformerv2_s1", "tiny_vit_5m_224"],
    ("MetaFormer", "metaformer"): ["poolformer_s12", "poolformerv2_s12", "convformer_s18",
                                   "caformer_s18", "poolformer_s24", "poolformerv2_s24"],
    ("MLP-Mixer", "metaformer"): ["mixer_s16_224", "resmlp_12_224", "gmlp_s16_224"],
}
#: zoo families by architecture class
ZOO_ARCH = {"FastViT": "hybrid", "EfficientViT": "hybrid"}


def model_list() -> list[tuple[str, str, str]]:
    """(model, family, arch): the zoo first, then timm families interleaved."""
    out = [(e.name, e.family, "hybrid" if e.name.startswith("mnv4_hybrid")
            else ZOO_ARCH.get(e.family, "convnet")) for e in zoo.entries()]
    queues = [[(m, fam, arch) for m in names] for (fam, arch), names in TIMM.items()]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _gmacs(model: str) -> float | None:
    try:
        return analyze(model).totals["macs"] / 1e9
    except RooflineError:
        return None


def single_runs(path: Path, seconds: float = 1.0) -> dict[str, float]:
    """Single-invoke times (ms): the 10th percentile of wall times (on a shared machine a single
    run often completes without being preempted, so this is robust to load where means are
    not) and the smallest thread CPU time (one thread: XNNPACK runs on the calling thread)."""
    with runner(path, 1) as (run, _):
        times, cpu = [], []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or len(times) < 20:
            c, t = time.thread_time(), time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
            cpu.append(time.thread_time() - c)
    return {"latency_p10_ms": float(np.percentile(times, 10)) * 1e3,
            "latency_cpu_ms": min(cpu) * 1e3}


def retime(row: dict[str, Any]) -> dict[str, Any]:
    """Time an already exported model again (the export is a cache hit)."""
    file = Path(row.get("file") or "")
    path = file if file.is_file() else export(row["model"], "tflite", "int8")
    load = os.getloadavg()[0]
    measured, _ = measure_file(path, "litert", threads=1, repeats=7, min_time_s=0.2,
                               warmup_s=0.3)
    return {**row, **measured, **single_runs(path),
            "load1": round(max(load, os.getloadavg()[0]), 2)}


def measure_one(model: str, family: str, arch: str, max_gmacs: float) -> dict[str, Any]:
    """One dataset row (measured, skipped or failed)."""
    src = zoo.resolve(model)
    row: dict[str, Any] = {"model": src.label, "family": family, "arch": arch,
                           "resolution": src.resolution, "dtype": "int8", "runtime": "litert",
                           "threads": 1, "device": "cpu"}
    row["gmacs"] = g = _gmacs(model)
    if g is not None and g > max_gmacs:
        return {**row, "status": "skipped", "error": f"{g:.1f} GMACs > {max_gmacs:g}"}
    try:
        path = export(model, "tflite", "int8")
        load = os.getloadavg()[0]
        measured, _ = measure_file(path, "litert", threads=1, repeats=7, min_time_s=0.2,
                                   warmup_s=0.3)
        measured.update(single_runs(path))
        load = max(load, os.getloadavg()[0])
    except RooflineError as e:
        return {**row, "status": "failed", "error": str(e)}
    except Exception as e:  # noqa: BLE001 - a dataset row says what happened, whatever it was
        return {**row, "status": "failed",
                "error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"}
    return {**row, **measured, "runtime": "litert", "load1": round(load, 2), "status": "ok",
            "error": "", "file": str(path), "file_sha256": sha256(path)}


def sha256(path: Path) -> str:
    """The digest of the file that was timed: the accuracy benchmark analyses that very file
    when the export cache still holds it (a later export may differ)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_only(todo: list[tuple[str, str, str]], shard: str, max_gmacs: float) -> int:
    """Fill the export cache for shard K/N of the list (no timing), so the timed pass runs on
    cache hits in a quiet window; failures are printed and left for the timed pass to record."""
    k, n = (int(x) for x in shard.split("/"))
    for i, (model, _, _) in enumerate(todo):
        if i % n != k - 1:
            continue
        t = time.time()
        g = _gmacs(model)
        if g is not None and g > max_gmacs:
            print(f"{model}: skipped ({g:.1f} GMACs)", flush=True)
            continue
        try:
            export(model, "tflite", "int8")
            status = "exported"
        except Exception as e:  # noqa: BLE001 - report and go on; the timed pass records it
            status = f"failed: {type(e).__name__}: {' '.join(str(e).split())[:200]}"
        print(f"{model}: {status} ({time.time() - t:.0f} s)", flush=True)
    return 0


def read_journal(path: Path) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """(rows by model, models started but never finished)."""
    rows: dict[str, dict[str, Any]] = {}
    started: set[str] = set()
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            if rec.get("event") == "start":
                started.add(rec["model"])
            elif rec.get("event") == "row":
                rows[rec["key"]] = rec["row"]
                started.discard(rec["key"])
    return rows, started


def append(path: Path, rec: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(rec, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_csv(rows: list[dict[str, Any]], out: Path) -> None:
    df = pd.DataFrame(rows).reindex(columns=COLUMNS)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    with os.fdopen(fd, "w", newline="") as f:
        df.to_csv(f, index=False, float_format="%.6g", lineterminator="\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", help="only these (default: zoo + the timm list)")
    ap.add_argument("-o", "--output", type=Path, default=OUT)
    ap.add_argument("--journal", type=Path, default=None,
                    help="JSONL journal (default: in the roofline cache dir)")
    ap.add_argument("--max-gmacs", type=float, default=15.0)
    ap.add_argument("--retry", action="store_true", help="retry failed and crashed models")
    ap.add_argument("--retime-load", type=float, default=None, metavar="L",
                    help="only re-time measured rows whose load average was above L (exports "
                    "are cached: seconds per model), for a quieter moment")
    ap.add_argument("--export-only", metavar="K/N", default=None,
                    help="only export shard K of N of the list (fill the cache; no timing, no "
                    "journal), e.g. run 1/2 and 2/2 side by side, then time on a quiet machine")
    args = ap.parse_args(argv)

    todo = model_list()
    if args.models:
        known = {m: (m, f, a) for m, f, a in todo}
        todo = [known.get(m, (m, "other", "other")) for m in args.models]
    if args.export_only:
        return export_only(todo, args.export_only, args.max_gmacs)
    journal = args.journal or cache_dir() / f"journal-{args.output.stem}.jsonl"
    journal.parent.mkdir(parents=True, exist_ok=True)
    done, died = read_journal(journal)
    for m in died:  # the previous run died inside this model (a crash or a kill)
        if m not in done:
            append(journal, {"event": "row", "key": m, "row": {
                "model": m, "status": "crashed",
                "error": "a previous run died while converting or timing this model"}})
    done, _ = read_journal(journal)
    print(f"journal {journal}: {len(done)} rows already, {len(todo)} models in the list",
          flush=True)
    t0 = time.time()
    if args.retime_load is not None:
        for k, (model, _, _) in enumerate(todo, 1):
            row = done.get(model)
            if not row or row.get("status") != "ok" or (row.get("load1") or 0) <= args.retime_load:
                continue
            row = retime(row)
            append(journal, {"event": "row", "key": model, "row": row})
            done[model] = row
            print(f"[{k}/{len(todo)}] {model}: re-timed {row['latency_ms']:.2f} ms "
                  f"(load {row['load1']})", flush=True)
        write_csv([done[m] for m, _, _ in todo if m in done], args.output)
        return 0
    for k, (model, family, arch) in enumerate(todo, 1):
        prev = done.get(model)
        if prev is not None and not (args.retry and prev.get("status") in ("failed", "crashed")):
            continue
        append(journal, {"event": "start", "model": model})
        t = time.time()
        row = measure_one(model, family, arch, args.max_gmacs)
        append(journal, {"event": "row", "key": model, "row": row})
        done[model] = row
        write_csv([done[m] for m, _, _ in todo if m in done], args.output)
        lat = f"{row['latency_ms']:.2f} ms" if row.get("status") == "ok" else row["status"]
        print(f"[{k}/{len(todo)}] {model}: {lat} ({time.time() - t:.0f} s; "
              f"{row.get('partitions', '-')} partitions; load {row.get('load1', '-')}) "
              f"{row.get('error') or ''}", flush=True)
    rows = [done[m] for m, _, _ in todo if m in done]
    write_csv(rows, args.output)
    ok = sum(r.get("status") == "ok" for r in rows)
    print(f"wrote {args.output}: {len(rows)} rows, {ok} measured ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

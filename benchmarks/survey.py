"""Survey of timm: hundreds of models across families, our MACs against FlopCounterMode.

    python benchmarks/survey.py [--models 300] [--workers 2] [--hw pixel8_cpu h100_sxm]
                                [--csv docs/survey.csv] [--md docs/survey.md] [--fresh]

Picks ``--models`` timm models spread over every timm module (a module is a family:
``resnet``, ``vision_transformer``, ``cspnet``, ...; each gets its share, models evenly
spaced through its sorted list; timm's ``test_*`` models are left out), runs them through
``roofline survey`` at timm's default resolution, and writes

* ``docs/survey.csv``: one row per model: category, family, status and reason, our MACs,
  FlopCounterMode's MACs and the relative difference, the ops on which they differ,
  unsupported ops and the share of ops covered, time taken, and predicted latency per device;
* ``docs/survey.md``: the summary: counts, agreement with FlopCounterMode, every gap with
  its cause, failures with their reasons, the slowest models, wall time.

Rows are journaled next to the CSV (``survey.csv.journal.jsonl``, not committed), so an
interrupted run resumes, and a repeated run only re-renders; ``--fresh`` runs everything
again (the trace cache still applies; ROOFLINE_NO_CACHE=1 turns it off).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from roofline import __version__
from roofline.survey import Task, survey, timm_catalog

ROOT = Path(__file__).resolve().parent.parent

#: timm module -> category (modules not listed are convnets)
CATEGORIES = {
    "vit": {
        "vision_transformer", "deit", "beit", "eva", "cait", "crossvit", "pit", "tnt", "xcit",
        "volo", "swin_transformer", "swin_transformer_v2", "swin_transformer_v2_cr", "twins",
        "nest", "hiera", "mvitv2", "naflexvit", "deepseek_vit", "qwen3_vit", "gemma4_vit",
        "vision_transformer_relpos", "vision_transformer_sam", "davit", "gcvit", "focalnet",
        "pvt_v2",
    },
    "hybrid": {
        "vision_transformer_hybrid", "coat", "convit", "levit", "mobilevit", "efficientformer",
        "efficientformer_v2", "efficientvit_mit", "efficientvit_msra", "fastvit", "edgenext",
        "maxxvit", "tiny_vit", "nextvit", "visformer", "byoanet", "swiftformer", "iformer",
        "lowformer", "shvit", "vitamin", "efficientvim", "csatv2", "hieradet_sam2", "metaformer",
        "mobilenetv5",
    },
    "mlp": {"mlp_mixer", "sequencer"},
    "detection-backbone": {"cspnet", "cspnext", "dla", "hrnet", "tresnet", "vovnet", "selecsls"},
}


def category(module: str) -> str:
    for cat, modules in CATEGORIES.items():
        if module in modules:
            return cat
    return "convnet"


def pick(n: int) -> list[Task]:
    """``n`` timm models, every module represented, each module's share evenly spaced."""
    by_module: dict[str, list[str]] = defaultdict(list)
    for name, module in timm_catalog().items():
        if not name.startswith("test_"):
            by_module[module].append(name)
    sizes = {m: len(v) for m, v in by_module.items()}
    # water-filling: the largest per-module quota q with sum(min(size, q)) <= n
    q = 0
    while sum(min(s, q + 1) for s in sizes.values()) <= n and q < max(sizes.values()):
        q += 1
    quota = {m: min(s, q) for m, s in sizes.items()}
    spare = n - sum(quota.values())
    for m in sorted(sizes, key=lambda m: -sizes[m]):  # the rest to the biggest families
        if spare and sizes[m] > quota[m]:
            quota[m] += 1
            spare -= 1
    tasks = []
    for m in sorted(by_module):
        names = sorted(by_module[m])
        k = quota[m]
        idx = sorted({round(i * (len(names) - 1) / max(k - 1, 1)) for i in range(k)})
        tasks += [Task(names[i], None, m) for i in idx]
    return tasks


# -------------------------------------------------------------------- explanations of gaps
#
# Written after reading the survey's rows (the `mac_diff` column says on which ops the two
# counts differ). Each entry: a test on a row -> the cause. A gap that no entry explains is
# listed as UNEXPLAINED in the markdown, so a new one cannot hide.

def _has(row: dict, op: str) -> bool:
    return any(part.split(":")[0] == op for part in str(row.get("mac_diff") or "").split(";"))


EXPLANATIONS: list[tuple[str, callable, str]] = [
    ("constant-folded weight-only ops", lambda r: r.get("rel_diff", 0) < 0 and "folded" in str(r.get("gap_hint", "")),
     "FlopCounterMode counts matrix products whose operands are all weights or constants "
     "(e.g. Swin-V2's continuous position-bias MLP, which maps a fixed coordinate table to "
     "bias values). A deployed runtime folds them into constants before inference; the "
     "tracer records them as `const` ops with 0 MACs."),
]


def explain(row: dict) -> str:
    for _name, test, text in EXPLANATIONS:
        try:
            if test(row):
                return text
        except Exception:
            continue
    return ""


# -------------------------------------------------------------------- the report


def fmt_g(x) -> str:
    return "" if x is None or x != x else f"{x / 1e9:.3f}"


def write_markdown(path: Path, df, s, args, picked: int) -> None:
    sm = s.summary()
    ok = df[df.status == "ok"]
    comparable = ok[ok.macs_fcm.fillna(0) > 0]
    within = comparable[comparable.rel_diff.abs() <= 0.01]
    differ = comparable[comparable.rel_diff.abs() > 0.01]
    small = comparable[(comparable.rel_diff.abs() > 0) & (comparable.rel_diff.abs() <= 0.01)]
    zero = ok[ok.macs_fcm.fillna(0) == 0]
    unsup = ok[ok.unsupported.fillna("") != ""]
    lines = [
        "# Survey of timm models",
        "",
        f"Generated by `python benchmarks/survey.py --models {args.models} --workers "
        f"{args.workers}` (roofline {__version__}, {platform.python_version()}, "
        f"{os.cpu_count()} CPUs). Each model is built without weights on the meta device at "
        "timm's default resolution, traced by `roofline survey`, and counted a second time by "
        "torch's `FlopCounterMode` on the same meta forward (MACs = its FLOPs / 2). Rows: "
        "[`survey.csv`](survey.csv).",
        "",
        "## Summary",
        "",
        "| | models |",
        "|:--|--:|",
        f"| surveyed | {len(df)} ({picked} picked from {len(timm_catalog())} timm models) |",
        f"| ok | {sm['ok']} |",
        f"| failed | {sm['failed']} |",
        f"| timed out | {sm['timeout']} |",
        f"| FlopCounterMode counts something (comparable) | {len(comparable)} |",
        f"| ... our MACs within 1% of it | {len(within)} ({len(within) / max(len(comparable), 1):.1%}) |",
        f"| ... of which not identical | {len(small)} |",
        f"| ... differing by more than 1% | {len(differ)} |",
        f"| FlopCounterMode counts 0 MACs | {len(zero)} |",
        f"| with ops we have no formula for | {len(unsup)} |",
        "",
        f"Wall time: {s.wall_s / 60:.1f} min for the models run in this pass "
        f"({s.ran} run, {s.resumed} read back from the journal) with {args.workers} worker "
        f"processes; worker time per model: median {ok.seconds.median():.2f} s, "
        f"max {ok.seconds.max():.1f} s.",
        "",
        "By category:",
        "",
        "| category | models | ok | within 1% of FlopCounterMode |",
        "|:--|--:|--:|--:|",
    ]
    for cat, g in df.groupby("category"):
        gc = g[(g.status == "ok") & (g.macs_fcm.fillna(0) > 0)]
        w = int((gc.rel_diff.abs() <= 0.01).sum())
        lines.append(f"| {cat} | {len(g)} | {int((g.status == 'ok').sum())} | {w} of {len(gc)} |")
    lines += ["", "## Where our MACs and FlopCounterMode's differ", ""]
    if len(differ) == 0 and len(small) == 0:
        lines.append("Nowhere: every comparable model matches exactly.")
    else:
        lines += ["| model | ours GMACs | FlopCounterMode GMACs | diff | ops (ours/theirs MACs) | cause |",
                  "|:--|--:|--:|--:|:--|:--|"]
        for _, r in comparable[comparable.rel_diff != 0].sort_values("rel_diff").iterrows():
            cause = explain(r.to_dict()) or "UNEXPLAINED"
            lines.append(f"| {r.spec} | {fmt_g(r.macs)} | {fmt_g(r.macs_fcm)} | "
                         f"{r.rel_diff:+.2%} | {str(r.mac_diff).replace(';', '; ')} | {cause} |")
    lines += ["", "## Models FlopCounterMode counts as 0", ""]
    if len(zero):
        lines.append("| model | ours GMACs | cause |")
        lines.append("|:--|--:|:--|")
        for _, r in zero.iterrows():
            lines.append(f"| {r.spec} | {fmt_g(r.macs)} | {explain(r.to_dict()) or 'UNEXPLAINED'} |")
    else:
        lines.append("None.")
    lines += ["", "## Failures", ""]
    bad = df[df.status != "ok"]
    if len(bad):
        lines += ["| model | status | reason |", "|:--|:--|:--|"]
        for _, r in bad.iterrows():
            lines.append(f"| {r.spec} | {r.status} | {str(r.reason).replace('|', '/')} |")
    else:
        lines.append("None.")
    lines += ["", "## Ops without a formula", ""]
    if len(unsup):
        ops = Counter()
        for u in unsup.unsupported:
            for part in u.split(";"):
                op, n = part.rsplit(":", 1)
                ops[op] += 1
        lines += ["| op | models |", "|:--|--:|"]
        lines += [f"| `{op}` | {n} |" for op, n in ops.most_common()]
    else:
        lines.append("None: every op of every model that traced has a formula or a zero-MAC "
                     "category.")
    lines += ["", "## Slowest models (worker seconds: build, trace, FlopCounterMode, layer "
              "tables)", "", "| model | seconds | ops traced |", "|:--|--:|--:|"]
    for _, r in ok.sort_values("seconds", ascending=False).head(10).iterrows():
        lines.append(f"| {r.spec} | {r.seconds:.1f} | {int(r.ops)} |")
    lines.append("")
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hw", nargs="+", default=["pixel8_cpu", "h100_sxm"])
    ap.add_argument("--csv", type=Path, default=ROOT / "docs" / "survey.csv")
    ap.add_argument("--md", type=Path, default=ROOT / "docs" / "survey.md")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--only", nargs="*", help="restrict to these timm modules (development)")
    args = ap.parse_args()

    tasks = pick(args.models)
    if args.only:
        tasks = [t for t in tasks if t.family in args.only]
    cats = Counter(category(t.family) for t in tasks)
    print(f"{len(tasks)} models from {len({t.family for t in tasks})} timm modules: "
          + ", ".join(f"{c} {n}" for c, n in sorted(cats.items())), file=sys.stderr)

    def progress(row, done, total):
        if row.get("resumed"):
            return
        extra = "" if row["status"] == "ok" else f"  {row.get('reason', '')[:120]}"
        diff = row.get("rel_diff")
        d = f" diff {diff:+.2%}" if isinstance(diff, float) and diff else ""
        print(f"[{done:>3}/{total}] {row['status']:7} {row['spec']} "
              f"({row.get('seconds') or 0:.1f} s){d}{extra}", file=sys.stderr, flush=True)

    args.csv.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    s = survey([], args.hw, tasks=tasks, workers=args.workers, timeout_s=args.timeout,
               journal=args.csv.with_name(args.csv.name + ".journal.jsonl"), fresh=args.fresh,
               progress=progress)
    if s.interrupted:
        sys.exit("interrupted; run again to resume")
    df = s.frame()
    df.insert(2, "category", [category(f) for f in df.family])
    df.to_csv(args.csv, index=False)
    write_markdown(args.md, df, s, args, len(tasks))
    sm = s.summary()
    print(f"{sm} in {time.perf_counter() - t0:.0f} s -> {args.csv}, {args.md}", file=sys.stderr)


if __name__ == "__main__":
    main()

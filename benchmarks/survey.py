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

Rows are journaled (``--journal``, default ``surveys/benchmark-timm.jsonl`` in the trace
cache directory), so an interrupted run resumes and a repeated run only re-renders;
``--fresh`` runs everything again (the trace cache still applies; ROOFLINE_NO_CACHE=1 turns
it off).
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
from roofline.cache import cache_dir
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
# Where our count and FlopCounterMode's differ, `fcm_check` says how: `folded` means the
# difference is exactly `macs_folded`, the MACs of contractions whose operands are all weights
# or constants (the tracer records them as `const` ops with 0 MACs: a deployed runtime
# computes them once, ahead of time; FlopCounterMode counts them on every forward). What
# those constant products are, per timm module, read off the traces (`mac_diff` and the
# module types of the const ops):

FOLDED_CAUSES = {
    "swin_transformer_v2": "continuous position-bias MLP (`cpb_mlp`) on the constant "
                           "log-spaced coordinate table",
    "swin_transformer_v2_cr": "meta-network position-bias MLP on the constant relative "
                              "coordinates",
    "gemma4_vit": "2-D position embedding gathered as a one-hot matmul on constant position "
                  "ids, and the rotary-embedding frequencies",
    "convit": "GPSA positional projection (`pos_proj`) of the constant relative indices",
    "edgenext": "Fourier positional encoding: a 1x1 conv on a constant coordinate grid",
    "xcit": "Fourier positional encoding: a 1x1 conv on a constant coordinate grid",
    "maxxvit": "relative-position bias: an MLP (rmlp variants) or a one-hot einsum (tf "
               "variants) on constant coordinates",
    "vision_transformer_relpos": "relative-position MLP on the constant coordinate table",
    "sequencer": "nn.LSTM's first recurrent product, which multiplies the zero initial state "
                 "by a weight",
    "eva": "attention-pool head: the query projection of a learned latent (a parameter)",
    "naflexvit": "attention-pool head: the query projection of a learned latent (a parameter)",
    "vision_transformer": "attention-pool head: the query projection of a learned latent "
                          "(a parameter)",
}


# -------------------------------------------------------------------- the report


def fmt_g(x) -> str:
    return "" if x is None or x != x else f"{x / 1e9:.3f}"


def _table(headers: list[str], rows: list[list], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(headers) - 1)
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(":--" if a == "l" else "--:" for a in align) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows]
    return out


def write_markdown(path: Path, df, s, args, timing: dict) -> None:
    ok = df[df.status == "ok"]
    counted = ok[ok.macs_fcm.fillna(0) > 0]
    within = counted[counted.rel_diff.abs() <= 0.01]
    by_check = {c: ok[ok.fcm_check == c] for c in
                ("exact", "folded", "within 1%", "differs", "not counted", "fcm failed")}
    grad = ok[ok.fcm_error.fillna("").str.startswith("under no_grad")]
    unsup = ok[ok.unsupported.fillna("") != ""]
    bad = df[df.status != "ok"]
    n_ok = len(ok)
    lines = [
        "# Survey of timm models",
        "",
        f"Generated by `python benchmarks/survey.py --models {args.models} --workers "
        f"{args.workers}` (roofline {__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs). Each model is built without weights on the meta device at "
        "timm's default resolution, traced by `roofline survey` and put on "
        f"{' and '.join(f'`{h}`' for h in args.hw)}; torch's `FlopCounterMode` counts the "
        "same model's meta forward a second time (its FLOPs / 2 = MACs). One row per model: "
        "[`survey.csv`](survey.csv).",
        "",
        "## Summary",
        "",
        *_table(["", "models"], [
            ["surveyed", f"{len(df)}, picked from {df.family.nunique()} timm modules "
                         f"(timm has {len(timm_catalog())} models in "
                         f"{len(set(timm_catalog().values()))})"],
            ["ok", n_ok], ["failed", int((df.status == "failed").sum())],
            ["timed out", int((df.status == "timeout").sum())],
            ["FlopCounterMode counts MACs (comparable)", len(counted)],
            ["our MACs within 1% of FlopCounterMode",
             f"**{len(within)} of {len(counted)}** ({len(within) / max(len(counted), 1):.1%})"],
            ["identical", len(by_check["exact"])],
            ["different only by constant-folded MACs (explained below)",
             len(by_check["folded"])],
            ["different otherwise", len(by_check["within 1%"]) + len(by_check["differs"])],
            ["FlopCounterMode counts 0 / cannot run", f"{len(by_check['not counted'])} / "
                                                      f"{len(by_check['fcm failed'])}"],
            ["with ops we have no formula for", len(unsup)],
        ]),
        "",
        f"Wall time: **{timing['wall_s'] / 60:.1f} min** for {timing['ran']} models with "
        f"{timing['workers']} worker processes ({timing['date']}, "
        + ("every model traced afresh" if timing["traced"] == timing["ran"] else
           f"{timing['traced']} traced afresh, the rest from the trace cache")
        + "). Worker time per model "
        "(build, trace, FlopCounterMode, a layer table per dtype): median "
        f"{ok.seconds.median():.2f} s, max {ok.seconds.max():.1f} s.",
        "",
        *_table(["category", "models", "ok", "within 1% of FlopCounterMode", "identical"],
                [[cat, len(g), int((g.status == "ok").sum()),
                  f"{int((gc.rel_diff.abs() <= 0.01).sum())} of {len(gc)}",
                  int((gc.fcm_check == "exact").sum())]
                 for cat, g in df.groupby("category")
                 for gc in [g[(g.status == "ok") & (g.macs_fcm.fillna(0) > 0)]]]),
        "",
        "## Where the two counts differ",
        "",
    ]
    folded = by_check["folded"]
    if len(folded):
        lines += [
            f"**Constant folding ({len(folded)} models).** For each of these our MACs plus "
            "`macs_folded` equal FlopCounterMode's exactly. `macs_folded` are the MACs of "
            "contractions whose operands are all weights or constants: the tracer marks them "
            "`const` (0 MACs, no bytes), since a deployed runtime computes them once, ahead "
            "of time, while FlopCounterMode counts them on every forward. Neither count is "
            "wrong; ours is the inference cost. What is folded, per family:",
            "",
            *_table(["model", "ours GMACs", "FlopCounterMode GMACs", "diff", "folded GMACs",
                     "what is constant"],
                    [[r.spec, fmt_g(r.macs), fmt_g(r.macs_fcm), f"{r.rel_diff:+.2%}",
                      fmt_g(r.macs_folded),
                      FOLDED_CAUSES.get(r.family, f"UNEXPLAINED ({r.mac_diff})")]
                     for r in folded.sort_values(["family", "spec"]).itertuples()],
                    "lrrrrl"),
            "",
        ]
    other = ok[ok.fcm_check.isin(["within 1%", "differs"])]
    lines.append(f"**Other differences: {len(other)}.**" + ("" if len(other) else
                 " Everywhere else the two counts are identical."))
    if len(other):
        lines += ["", *_table(["model", "ours GMACs", "FlopCounterMode GMACs", "diff",
                               "ops (ours/theirs MACs)"],
                              [[r.spec, fmt_g(r.macs), fmt_g(r.macs_fcm), f"{r.rel_diff:+.2%}",
                                r.mac_diff] for r in other.itertuples()], "lrrrl")]
    lines += [
        "",
        "**Gaps found and fixed along the way** (see tests/test_survey_fixes.py):",
        "",
        "- `as_strided_` (an in-place restride after the channels-last global pool of "
        "ConvNeXt-V2, FocalNet, NesT, SAM ViT and Swin-V2-CR heads) and `unsafe_split` "
        "(nn.LSTM's gate split, 1408-2816 calls per Sequencer2d) were *unsupported*: they "
        "are metadata-only views now, as are the other in-place restrides (`squeeze_`, "
        "`unsqueeze_`, `transpose_`, `t_`, `swapdims_`, `swapaxes_`) and `unsafe_chunk` / "
        "`unsafe_split_with_sizes`.",
        "- FlopCounterMode wrapped around the whole trace (model build included) over-counted "
        "every model whose constructor runs a forward to size a layer (timm's hybrid ViTs, "
        "LeViT, RepViT, SHViT, EfficientViT, iFormer: up to 2x the conv MACs). The survey "
        "now builds the model first and counts only its forward.",
        "",
        f"**FlopCounterMode needs grad mode ({len(grad)} models).** Under `no_grad` (how both "
        "counters run inference) FlopCounterMode's module tracker raises `AssertionError: "
        "Expected gradient function to be set` when a module's input is a view of a "
        "parameter (CaiT's class token, PiT's position embedding, attention-pool latents). "
        "The survey counts those again with grad enabled (the same forward); our tracer has "
        "no such failure." + ("" if not len(grad) else " Models: "
                              + ", ".join(f"`{x}`" for x in grad.spec) + "."),
        "",
        "## Failures",
        "",
    ]
    if len(bad):
        lines += _table(["model", "status", "reason"],
                        [[r.spec, r.status, r.reason] for r in bad.itertuples()], "lll")
    else:
        lines.append(f"None: all {len(df)} models traced.")
    lines += ["", "## Ops without a formula", ""]
    if len(unsup):
        ops = Counter()
        for u in unsup.unsupported:
            for part in u.split(";"):
                ops[part.rsplit(":", 1)[0]] += 1
        lines += _table(["op", "models"], [[f"`{op}`", n] for op, n in ops.most_common()])
    else:
        lines.append("None: every op of every model has a MAC formula or a zero-MAC category "
                     "(coverage 100% everywhere).")
    lines += ["", "## Slowest models", "",
              *_table(["model", "worker seconds", "aten ops traced"],
                      [[r.spec, f"{r.seconds:.1f}", int(r.ops)]
                       for r in ok.sort_values("seconds", ascending=False).head(10).itertuples()]),
              ""]
    path.write_text("\n".join(lines))


def timing_of(s, journal: Path, workers: int) -> dict:
    """Wall time of the last pass that ran most of the models (kept beside the journal, so a
    pass that only re-renders from the journal reports the real run, not its own 0 s)."""
    import datetime
    import json

    side = Path(f"{journal}.timing.json")
    if s.ran >= 0.9 * len(s.rows):
        timing = {"wall_s": s.wall_s, "ran": s.ran, "workers": workers,
                  "traced": sum(not r.get("trace_cached") for r in s.rows),
                  "date": datetime.date.today().isoformat()}
        side.write_text(json.dumps(timing))
        return timing
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError):
        return {"wall_s": s.wall_s, "ran": s.ran, "workers": workers,
                "traced": sum(not r.get("trace_cached") for r in s.rows), "date": "unknown"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hw", nargs="+", default=["pixel8_cpu", "h100_sxm"])
    ap.add_argument("--csv", type=Path, default=ROOT / "docs" / "survey.csv")
    ap.add_argument("--md", type=Path, default=ROOT / "docs" / "survey.md")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--fresh", action="store_true", help="run every model again")
    ap.add_argument("--journal", type=Path, default=None,
                    help="finished rows (default: surveys/benchmark-timm.jsonl in the cache "
                    "directory)")
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
    journal = args.journal or cache_dir() / "surveys" / "benchmark-timm.jsonl"
    print(f"journal {journal}", file=sys.stderr)
    s = survey([], args.hw, tasks=tasks, workers=args.workers, timeout_s=args.timeout,
               journal=journal, fresh=args.fresh, progress=progress)
    if s.interrupted:
        sys.exit("interrupted; run again to resume")
    df = s.frame()
    df.insert(2, "category", [category(f) for f in df.family])
    df.to_csv(args.csv, index=False)
    write_markdown(args.md, df, s, args, timing_of(s, journal, args.workers))
    sm = s.summary()
    print(f"{sm} in {time.perf_counter() - t0:.0f} s -> {args.csv}, {args.md}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""The golden-output cases: CLI outputs and figure data that a refactor must leave unchanged.

``python tests/golden_cases.py`` rewrites tests/golden/ from the current code; the test in
test_golden.py compares against those files. Regenerate only when an output is meant to
change, and say so in the commit.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).with_name("golden")
ROOT = Path(__file__).resolve().parents[1]
#: relative to ROOT, where the cases run, so outputs that echo the path do not depend on
#: where the checkout lies
MEAS = "docs/accuracy_measured_ci_x86_2core.csv"

MODELS = ("mnv4_conv_small", "mnv4_hybrid_medium", "mobilenetv3_large_100", "fastvit_t8")
DEVICES = ("pixel8_cpu", "pixel8_edgetpu", "h100_sxm")

CLI_CASES: dict[str, list[str]] = {}
for _m in MODELS:
    for _hw in DEVICES:
        CLI_CASES[f"analyze_{_m}_{_hw}.txt"] = ["analyze", _m, "--hw", _hw]
        CLI_CASES[f"analyze_{_m}_{_hw}.json"] = ["analyze", _m, "--hw", _hw, "-f", "json"]
    CLI_CASES[f"analyze_{_m}.csv"] = ["analyze", _m, "-f", "csv", "--fusion", "none"]
    CLI_CASES[f"analyze_{_m}_full.md"] = ["analyze", _m, "--fusion", "full", "-f", "markdown"]
CLI_CASES.update({
    "sweep.txt": ["sweep", *MODELS, "--rp", "0,5,50,500"],
    "sweep.csv": ["sweep", *MODELS, "--rp", "0:500:50", "-f", "csv"],
    "sweep_hw.json": ["sweep", *MODELS[:2], "--hw", "pixel8_cpu", "--hold", "peak", "-f", "json"],
    "sweep_paper.txt": ["sweep", *MODELS[:2], "--preset", "paper"],
    "hw_list.txt": ["hw", "list"],
    "hw_list.csv": ["hw", "list", "-f", "csv"],
    "hw_show.json": ["hw", "show", "pixel8_edgetpu", "-f", "json"],
    "hw_show_fitted.txt": ["hw", "show", "pixel6_cpu:fitted"],
    "zoo_list.txt": ["zoo", "list"],
    "zoo_show.json": ["zoo", "show", "mnv4_conv_medium", "-f", "json"],
    "zoo_show.txt": ["zoo", "show", "fastvit_t8"],
    "fit.json": ["fit", MEAS, "--hw", "ci_x86_2core", "--fusion", "none", "-f", "json"],
    "fit_cv.txt": ["fit", MEAS, "--hw", "ci_x86_2core", "--cv", "--overhead"],
    "validate.json": ["validate", "--hw", "ci_x86_2core", "-m", MEAS, "-f", "json"],
    "validate.csv": ["validate", "--hw", "ci_x86_2core", "-m", MEAS, "-f", "csv"],
})

PLOT_CASES: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "plot_pareto.json": ("pareto", (), {}),
    "plot_opcost.json": ("opcost", (), {}),
    "plot_ridge.json": ("ridge", (), {}),
    "plot_roofline.json": ("roofline", ("mnv4_conv_medium",), {"hw": ("pixel6_cpu:fitted",)}),
    "plot_devices.json": ("devices", ("mnv4_conv_medium",), {}),
}


def cli_output(args: list[str]) -> str:
    """What the CLI prints for ``args`` (exit code and stdout; the checkout's path as
    ``<repo>``)."""
    from click.testing import CliRunner

    from roofline.cli import main

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(here)
    return f"exit {result.exit_code}\n{result.stdout}".replace(str(ROOT), "<repo>")


def _round(v: Any) -> Any:
    import numbers

    if isinstance(v, numbers.Real):
        return float(f"{float(v):.10g}")
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    return v


def figure_data(fig: Any) -> dict[str, Any]:
    """What a figure shows, independent of rendering: per axes its title, labels, scales,
    limits, lines, point sets, bars and texts."""
    import numpy as np

    axes = []
    for ax in fig.axes:
        axes.append({
            "title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "xscale": ax.get_xscale(), "yscale": ax.get_yscale(),
            "xlim": _round(list(ax.get_xlim())), "ylim": _round(list(ax.get_ylim())),
            "lines": [{"label": ln.get_label(), "color": str(ln.get_color()),
                       "xy": _round(np.asarray(ln.get_xydata(), float).tolist())}
                      for ln in ax.get_lines()],
            "collections": [_round(np.asarray(c.get_offsets(), float).tolist())
                            for c in ax.collections],
            "patches": [_round([p.get_x(), p.get_y(), p.get_width(), p.get_height()])
                        for p in ax.patches if hasattr(p, "get_width")],
            "texts": [t.get_text() for t in ax.texts],
        })
    return {"suptitle": fig._suptitle.get_text() if fig._suptitle else None,
            "texts": [t.get_text() for t in fig.texts], "axes": axes}


def plot_output(kind: str, models: tuple[str, ...], options: dict[str, Any]) -> str:
    """The data of ``roofline plot KIND MODELS`` as JSON text."""
    import matplotlib

    matplotlib.use("Agg")
    from roofline.plots import figures as plots

    fig = plots.figure(kind, list(models) or plots.default_models(kind)[0], **options)
    return json.dumps(figure_data(fig), indent=1, sort_keys=True) + "\n"


def outputs() -> dict[str, str]:
    """Every golden case, name -> text."""
    out = {name: cli_output(args) for name, args in CLI_CASES.items()}
    out.update({name: plot_output(*case) for name, case in PLOT_CASES.items()})
    return out


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for name, text in outputs().items():
        (GOLDEN / name).write_text(text)
    print(f"wrote {len(CLI_CASES) + len(PLOT_CASES)} golden files to {GOLDEN}", file=sys.stderr)

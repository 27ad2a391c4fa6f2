"""roofline report: one model on several devices as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import click

from roofline.cli.base import check_output, user_errors, write_output
from roofline.cli.options import (GreedyOptions, expand_devices, model_input_options,
                                  what_if_options)
from roofline.errors import InputError

__all__ = ["report"]


@click.command(cls=GreedyOptions)
@what_if_options(hw_param="hws")
@click.argument("model")
@click.option("--hw", "hws", multiple=True, default=("pixel8_cpu",), show_default=True,
              help="Devices (repeat, or list after one --hw; globs on ids such as 'pixel8*').")
@click.option("--output", "-o", required=True, help="The HTML file to write (.html).")
@click.option("--dtype", default=None, help="Analysis dtype on every device; default: each "
              "device's default dtype.")
@click.option("--batch", "-b", type=int, default=1, show_default=True)
@click.option("--fusion", type=click.Choice(["none", "tflite", "full"]), default="tflite",
              show_default=True, help="What counts as one layer (see README).")
@click.option("--no-cache", is_flag=True, help="Trace afresh instead of using the trace cache.")
@click.option("--training-form", is_flag=True,
              help="Analyse the model as constructed instead of re-parameterised.")
@user_errors
@model_input_options()
def report(model: str, hws: tuple, output: str, dtype: str | None, batch: int, fusion: str,
           no_cache: bool, training_form: bool, resolution: int | None,
           input_shape: tuple[int, ...] | None) -> None:
    """MODEL on every device as one HTML file to share: the summary, the devices side by
    side, an interactive roofline chart per device, the ridge-point sweep and the sortable
    layer table. The file is self-contained (plotly inlined) and opens offline.

    \b
    roofline report mnv4_conv_medium --hw pixel8_cpu pixel8_edgetpu h100_sxm -o report.html
    """
    from roofline.render.html_report import report_html  # deferred: heavy import (plotly)
    from roofline.report import build_report  # deferred: heavy import (pandas, torch)

    try:
        import plotly  # noqa: F401  # deferred: heavy import, optional (the report extra)
    except ImportError:
        raise InputError("roofline report draws with plotly, which is not installed: "
                         "pip install 'roofline[report]'") from None
    if Path(output).suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--output {output!r}: expected an .html file")
    check_output(output, [getattr(h, "path", h) for h in hws] + [model.rpartition(":")[0] or None])
    rep = build_report(model, expand_devices(hws), dtype=dtype, resolution=resolution,
                       batch=batch, input_shape=input_shape, fusion=fusion, cache=not no_cache,
                       form="training" if training_form else "inference")
    write_output(output, report_html(rep))

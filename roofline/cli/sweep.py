"""roofline sweep and roofline plot: ridge-point sweeps and figures."""

from __future__ import annotations

from typing import Any

import click

from roofline.cli.base import check_output, user_errors, write_output
from roofline.cli.options import (GreedyOptions, expand_devices, model_input_options,
                                  what_if_options)
from roofline.errors import InputError
from roofline.plots.saving import figure_suffix

__all__ = ["sweep", "plot", "PLOT_KINDS"]

# --------------------------------------------------------------------------- sweep / plot
# Ridge-point sweeps and the paper's figures: latency/presets.py (conventions),
# latency/equation.py (numbers), plots/ (figures). Every table and figure names the preset
# that made it.

_RP_HELP = ("Ridge points in MACs/byte: start:stop:step (stop included) or a list, e.g. "
            "0:500:5 or 0,5,50,500.")
_PRESET_HELP = ("Counting conventions: 'paper' (the MobileNetV4 figures: int8, weights+input "
                "bytes of conv/dw/FC layers, 40 GB/s held) or 'default' (full layer table, "
                "PeakMACs held).")
_HOLD_HELP = ("How a ridge point becomes a device: hold the bandwidth (PeakMACs = RP x BW) or "
              "hold PeakMACs (BW = PeakMACs / RP). Default: the preset's.")


@click.command()
@what_if_options()
@click.argument("models", nargs=-1, required=True)
@click.option("--rp", default="0:500:5", show_default=True, help=_RP_HELP)
@click.option("--preset", type=click.Choice(["default", "paper"]), default="default",
              show_default=True, help=_PRESET_HELP)
@click.option("--hw", default=None, help="Anchor the sweep to this device's PeakMACs "
              "(--hold peak) or bandwidth (--hold bandwidth).")
@click.option("--hold", type=click.Choice(["bandwidth", "peak"]), default=None, help=_HOLD_HELP)
@click.option("--dtype", default=None, help="Override the preset's dtype (int8, fp16, ...).")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@click.option("--output", "-o", default=None, help="Write to this file instead of stdout.")
@user_errors
@model_input_options()
def sweep(models: tuple[str, ...], rp: str, preset: str, hw: Any, hold: str | None,
          dtype: str | None, fmt: str, output: str | None, resolution: int | None,
          input_shape: tuple[int, ...] | None) -> None:
    """Latency of MODELS at every ridge point: from compute-bound (RP 0, MAC counting) to
    bandwidth-starved (RP 500, an accelerator).

    \b
    roofline sweep mnv4_conv_small mnv4_conv_medium --preset paper --rp 0,5,50,500
    roofline sweep mnv4_conv_medium --hw pixel8_cpu --hold peak --format csv -o sweep.csv
    """
    from roofline.latency.presets import parse_ridge_points  # deferred: heavy import
    from roofline.plots.tables import sweep_models  # deferred: heavy import (pandas, analysis)
    from roofline.render.report import sweep_text  # deferred: heavy import

    check_output(output)
    grid = parse_ridge_points(rp)
    p, df = sweep_models(models, grid, preset, hw=hw, hold=hold, dtype=dtype,
                         trace_options=_trace_options(resolution, input_shape))
    write_output(output, sweep_text(df, p, fmt))


PLOT_KINDS = ["ridge", "pareto", "opcost", "roofline", "devices"]


@click.command(cls=GreedyOptions)
@what_if_options(hw_param="hws")
@click.argument("kind", type=click.Choice(PLOT_KINDS))
@click.argument("models", nargs=-1)
@click.option("--output", "-o", required=True, help="Figure file: .png, .svg or .pdf.")
@click.option("--rp", default=None, help=_RP_HELP + " Default: 0:500:5 (ridge), 0,5,50,500 "
              "(pareto), 5,500 (opcost).")
@click.option("--preset", type=click.Choice(["default", "paper"]), default=None,
              help=_PRESET_HELP + " Default: paper for ridge/pareto/opcost, default otherwise.")
@click.option("--hw", "hws", multiple=True, help="ridge/opcost: anchor the sweep to this "
              "device; pareto: one panel per device (repeat) instead of ridge points; roofline: "
              "the device (default pixel8_cpu); devices: the devices to show (repeat; default "
              "the registered ones).")
@click.option("--hold", type=click.Choice(["bandwidth", "peak"]), default=None, help=_HOLD_HELP)
@click.option("--dtype", default=None, help="Override the preset's dtype (int8, fp16, ...).")
@click.option("--title", default=None, help="Replace the figure's title.")
@click.option("--dpi", type=click.IntRange(30, 600), default=150, show_default=True,
              help="Resolution of PNG output.")
@user_errors
@model_input_options()
def plot(kind: str, models: tuple[str, ...], output: str, rp: str | None, preset: str | None,
         hws: tuple[Any, ...], hold: str | None, dtype: str | None, title: str | None,
         dpi: int, resolution: int | None, input_shape: tuple[int, ...] | None) -> None:
    """Draw a figure into a file. KIND is one of:

    \b
    ridge     latency vs ridge point, one curve per model, registry devices marked
    pareto    the paper's Fig. 2: latency vs top-1 at RP 0/5/50/500 (or one panel per
              --hw device), Pareto front
    opcost    the paper's Fig. 3: per-layer latency vs layer index at RP 5 and 500
    roofline  one model on one device: attainable MACs/s vs intensity, a dot per layer
    devices   models' latency on the registered (or --hw) devices, compute vs memory time

    MODELS default to the paper's set for the figure (MobileNetV4 and its MobileNet
    baselines; one model, MNv4-Conv-M, for roofline and devices).

    \b
    roofline plot pareto -o fig2.png
    roofline plot pareto mnv4_conv_small efficientnet_b0 --hw pixel8_cpu --hw h100_sxm -o p.png
    roofline plot devices mnv4_conv_medium efficientnet_b0 --hw pixel8_cpu --hw h100_sxm -o d.png
    roofline plot roofline mnv4_conv_large --hw pixel8_edgetpu -o roof.svg
    roofline plot roofline mynet.py:tiny --input-shape 1,3,64,64 --hw pixel8_cpu -o tiny.png
    roofline plot ridge mnv4_conv_medium --hw pixel8_cpu --bw-scale 2 -o whatif.png
    """
    check_output(output)
    suffix = figure_suffix(output, "--output")
    from roofline.plots import figures as plots  # deferred: heavy import (matplotlib)

    names = list(models)
    if not names:
        names, missing = plots.default_models(kind)
        if missing:
            click.echo(f"note: not in the zoo, left out: {', '.join(missing)}", err=True)
        if not names:
            raise InputError(f"none of the default models of {kind} is in the zoo; name models")
    fig = plots.figure(kind, names, rps=rp, preset=preset, hw=expand_devices(hws), hold=hold,
                       dtype=dtype, title=title,
                       trace_options=_trace_options(resolution, input_shape))
    write_output(output, plots.figure_bytes(fig, suffix, dpi=dpi))


def _trace_options(resolution: int | None, input_shape: tuple[int, ...] | None
                   ) -> dict[str, Any]:
    """The model-input options given, as :func:`roofline.analysis.analyze` keywords."""
    return {k: v for k, v in (("resolution", resolution), ("input_shape", input_shape))
            if v is not None}

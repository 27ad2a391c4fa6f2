"""roofline compare: many models on many devices, one table."""

from __future__ import annotations

import click

from roofline.cli.base import FORMATS, check_output, user_errors, write_output
from roofline.cli.options import (GreedyOptions, expand_devices, model_input_options,
                                  what_if_options)
from roofline.errors import InputError

__all__ = ["compare"]


@click.command(cls=GreedyOptions)
@what_if_options(hw_param="hws")
@click.argument("models", nargs=-1, required=True)
@click.option("--hw", "hws", multiple=True, default=("pixel8_cpu",), show_default=True,
              help="Devices (repeat, or comma-separate; globs on ids such as 'pixel8*').")
@click.option("--dtype", default=None, help="Analysis dtype on every device; default: each "
              "device's default dtype.")
@click.option("--batch", "-b", type=int, default=1, show_default=True)
@click.option("--fusion", type=click.Choice(["none", "tflite", "full"]), default="tflite",
              show_default=True, help="What counts as one layer (see README).")
@click.option("--sort", default=None, help="Sort by a device id (latency there, fastest "
              "first), model, macs, params or top1 (best first); default: the order given.")
@click.option("--min-top1", type=float, default=None, metavar="PERCENT",
              help="Keep models with a published top-1 of at least this, and name the "
              "fastest of them on each device.")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True)
@click.option("--output", "-o", default=None, help="Write to this file instead of stdout.")
@click.option("--no-cache", is_flag=True, help="Trace afresh instead of using the trace cache.")
@user_errors
@model_input_options()
def compare(models: tuple[str, ...], hws: tuple, dtype: str | None, batch: int, fusion: str,
            sort: str | None, min_top1: float | None, fmt: str, output: str | None,
            no_cache: bool, resolution: int | None, input_shape: tuple[int, ...] | None) -> None:
    """MODELS side by side on every device: predicted latency, memory-bound share, MACs,
    params and published top-1, a row per model.

    \b
    roofline compare mnv4_conv_small mnv4_conv_medium efficientnet_b0 --hw pixel8_cpu h100_sxm
    roofline compare mnv4_conv_* mobilenetv3_large_100 --hw pixel8_cpu --min-top1 75
    roofline compare mnv4_conv_medium --hw pixel8_edgetpu --bw-scale 2     # a what-if
    """
    from roofline.comparison import compare as run  # deferred: heavy import (pandas)
    from roofline.render.compare import compare_text  # deferred: heavy import (pandas)

    check_output(output, [getattr(h, "path", h) for h in hws] + [
        m.rpartition(":")[0] or None for m in models])
    df = run(_expand(models), expand_devices(hws), dtype=dtype, fusion=fusion, resolution=resolution,
             batch=batch, input_shape=input_shape, cache=not no_cache, sort=sort,
             min_top1=min_top1)
    write_output(output, compare_text(df, fmt))


def _expand(models: tuple[str, ...]) -> list[str]:
    """Zoo globs ('mnv4_conv_*') expanded in zoo order; other names as given."""
    from roofline.models import zoo  # deferred: heavy import (timm on lookups)

    out: list[str] = []
    for m in models:
        if set("*?[") & set(m) and ":" not in m:
            hits = zoo.names(m)
            if not hits:
                raise InputError(f"model pattern {m!r} matches no zoo model; "
                                 "`roofline zoo list` shows the zoo")
            out += hits
        else:
            out.append(m)
    return out

"""roofline analyze: one model on one device, per layer."""

from __future__ import annotations

import re

import click

from roofline.cli.base import (FORMATS, Deadline, check_output, check_timeout, user_errors,
                               write_output)
from roofline.errors import RooflineError

# --------------------------------------------------------------------------- analyze


@click.command()
@click.argument("model")
@click.option("--hw", "hw", default="pixel8_cpu", show_default=True,
              help="Device id (`roofline hw list`), id:variant (pixel6_cpu:fitted) or a YAML file.")
@click.option("--dtype", default=None, help="Analysis dtype (int8, fp16, bf16, fp32, ...); "
              "default: the device's default dtype.")
@click.option("--weight-dtype", default=None, help="Weight dtype when it differs (e.g. int4).")
@click.option("--resolution", "-r", type=int, default=None,
              help="Input resolution in pixels; default: the zoo's (paper's) or timm's.")
@click.option("--batch", "-b", type=int, default=1, show_default=True)
@click.option("--input-shape", default=None,
              help="Explicit input shape, e.g. 1,3,224,224 (overrides --resolution/--batch).")
@click.option("--fusion", type=click.Choice(["none", "tflite", "full"]), default="tflite",
              show_default=True, help="What counts as one layer (see README).")
@click.option("--top", "-k", type=int, default=10, show_default=True,
              help="How many of the costliest layers to show.")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True)
@click.option("--output", "-o", default=None, help="Write to this file instead of stdout.")
@click.option("--no-cache", is_flag=True, help="Trace afresh instead of using the trace cache.")
@click.option("--training-form", is_flag=True,
              help="Analyse the model as constructed (MobileOne/FastViT multi-branch) instead of "
              "re-parameterised for inference, as deployed.")
@click.option("--timeout", "timeout_s", type=float, default=None, metavar="SECONDS",
              help="Give up when building and tracing the model takes longer (default: no limit).")
@user_errors
def analyze(model: str, hw: str, dtype: str | None, weight_dtype: str | None,
            resolution: int | None, batch: int, input_shape: str | None, fusion: str, top: int,
            fmt: str, output: str | None, no_cache: bool, training_form: bool,
            timeout_s: float | None) -> None:
    """Per-layer MACs, bytes and predicted latency of MODEL on a device.

    MODEL is a zoo name (`roofline zoo list`), any timm model name, or path/to/file.py:factory.
    """
    from roofline.analysis import analyze as run
    from roofline.hardware.registry import get_profile
    from roofline.render.report import render_analysis

    check_output(output, [hw, model.rpartition(":")[0] or None])
    if top < 0:
        raise RooflineError(f"--top must be >= 0, got {top}")
    profile = get_profile(hw)  # unknown devices fail before the model is built
    shape = parse_shape(input_shape) if input_shape else None
    with Deadline(check_timeout(timeout_s), f"analyzing {model}"):
        result = run(model, profile, dtype=dtype, weight_dtype=weight_dtype, resolution=resolution,
                     batch=batch, fusion=fusion, input_shape=shape, cache=not no_cache,
                     form="training" if training_form else "inference")
    write_output(output, render_analysis(result, fmt, top))


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,3,224,224' or '1x3x224x224' -> (1, 3, 224, 224)."""
    parts = re.split(r"\s*[,x]\s*", text.strip())
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise RooflineError(f"--input-shape {text!r} is not a shape; expected e.g. 1,3,224,224") from None
    if not shape or any(d <= 0 for d in shape):
        raise RooflineError(f"--input-shape {text!r} must be positive integers, e.g. 1,3,224,224")
    return shape

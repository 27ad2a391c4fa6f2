"""roofline analyze: one model on one device, per layer."""

from __future__ import annotations

import click

from roofline.cli.base import (FORMATS, Deadline, check_output, check_timeout, user_errors,
                               write_output)
from roofline.cli.options import model_input_options, parse_shape, what_if_options
from roofline.errors import RooflineError

__all__ = ["analyze", "parse_shape"]

# --------------------------------------------------------------------------- analyze


@click.command()
@what_if_options()
@click.argument("model")
@click.option("--hw", "hw", default="pixel8_cpu", show_default=True,
              help="Device id (`roofline hw list`), id:variant (pixel6_cpu:fitted) or a YAML file.")
@click.option("--dtype", default=None, help="Analysis dtype (int8, fp16, bf16, fp32, ...); "
              "default: the device's default dtype.")
@click.option("--weight-dtype", default=None, help="Weight dtype when it differs (e.g. int4).")
@click.option("--batch", "-b", type=int, default=1, show_default=True)
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
@click.option("--deployed", is_flag=True,
              help="Analyse the graph the device's runtime runs: MODEL exported for it (LiteRT: "
              ".tflite; cached after the first time), one layer per op, with the runtime-aware "
              "latency beside the plain roofline.")
@user_errors
@model_input_options()
def analyze(model: str, hw: str, dtype: str | None, weight_dtype: str | None,
            resolution: int | None, batch: int, input_shape: tuple[int, ...] | None,
            fusion: str, top: int,
            fmt: str, output: str | None, no_cache: bool, training_form: bool,
            timeout_s: float | None, deployed: bool) -> None:
    """Per-layer MACs, bytes and predicted latency of MODEL on a device.

    MODEL is a zoo name (`roofline zoo list`), any timm model name, or path/to/file.py:factory,
    or a deployed model file (.tflite, .onnx): one layer per op of the file, bytes at each
    tensor's own dtype, delegate partitions and float islands as columns.
    """
    from roofline.analysis import analyze as run  # deferred: heavy import (pandas)
    from roofline.hardware.registry import get_profile  # deferred: with the analysis
    from roofline.render.report import render_analysis  # deferred: with the analysis

    check_output(output, [getattr(hw, "path", hw), model.rpartition(":")[0] or None])
    if top < 0:
        raise RooflineError(f"--top must be >= 0, got {top}")
    profile = get_profile(hw)  # unknown devices fail before the model is built
    label = None
    if deployed:
        model, label = _deployed_file(model, profile, dtype, resolution, input_shape, batch,
                                      fusion, training_form, weight_dtype)
        dtype = resolution = input_shape = None
    with Deadline(check_timeout(timeout_s), f"analyzing {model}"):
        result = run(model, profile, dtype=dtype, weight_dtype=weight_dtype, resolution=resolution,
                     batch=batch, fusion=fusion, input_shape=input_shape, cache=not no_cache,
                     form="training" if training_form else "inference")
    if label:
        result.model = label
    write_output(output, render_analysis(result, fmt, top))


def _deployed_file(model: str, profile: object, dtype: str | None, resolution: int | None,
                   input_shape: tuple[int, ...] | None, batch: int, fusion: str,
                   training_form: bool, weight_dtype: str | None) -> tuple[str, str]:
    """``--deployed``: MODEL exported for the device's runtime (cached); (the file's path,
    the label the analysis shows)."""
    from roofline.hardware.runtime import get_runtime  # deferred: with the analysis
    from roofline.runtimes.export import export  # deferred: heavy import (torch)

    for opt, given in (("--batch", batch != 1), ("--fusion", fusion != "tflite"),
                       ("--training-form", training_form), ("--weight-dtype", weight_dtype)):
        if given:
            raise RooflineError(f"{opt} does not apply with --deployed: the exported file fixes "
                                f"its ops and dtypes; drop {opt}")
    if model.lower().endswith((".tflite", ".onnx")):
        raise RooflineError(f"{model} is already a deployed file; drop --deployed")
    name = getattr(profile, "runtime", None)
    graph = get_runtime(name).graph if name else "torch"
    if graph == "torch":
        raise RooflineError(f"--deployed needs a device measured with a runtime that runs a "
                            f"deployed file (runtime: litert_xnnpack, onnxruntime_cpu); "
                            f"{getattr(profile, 'id', profile)} has runtime {name or 'none'}")
    d = dtype or getattr(profile, "default_dtype", "int8")
    path = export(model, graph, d, resolution=resolution, input_shape=input_shape,
                  progress=lambda m: click.echo(f"{m} for {name} (cached after the first "
                                                "time)", err=True))
    return str(path), f"{model} (deployed .{graph} {d})"

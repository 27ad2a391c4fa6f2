"""roofline export, and the runtime half of roofline measure (--runtime litert|onnxruntime):
deployed files on real runtimes (roofline/runtimes/)."""

from __future__ import annotations

import click

from roofline.cli.base import user_errors, write_output
from roofline.cli.options import parse_shape
from roofline.errors import RooflineError

__all__ = ["RUNTIME_CHOICES", "export_cmd", "measure_on_runtime"]

RUNTIME_CHOICES = ["torch", "litert", "onnxruntime"]


def _progress(message: str) -> None:
    click.echo(message, err=True)


def measure_on_runtime(models: tuple[str, ...], runtime: str, *, threads: int,
                       dtype: str | None, resolution: int | None, repeats: int,
                       min_time: float, warmup: float, per_layer: bool, per_op: bool,
                       device: str, output: str | None,
                       input_shape: tuple[int, ...] | None = None) -> None:
    """`roofline measure --runtime litert|onnxruntime`: export (cached), time, write CSV."""
    # deferred: pandas and the converters stay out of `roofline --help`
    from roofline.runtimes.export import check_target, require
    from roofline.runtimes.measure import RUNTIME_TARGET, measure_runtime

    if per_layer:
        raise RooflineError(f"--per-layer maps torch profiler scopes; with --runtime {runtime} "
                            "use --per-op (onnxruntime)")
    if device != "cpu":
        raise RooflineError(f"--runtime {runtime} runs on the CPU; drop --device {device}")
    if repeats < 1:
        raise RooflineError(f"--repeats must be >= 1, got {repeats}")
    if min_time < 0 or warmup < 0:
        raise RooflineError("--min-time and --warmup must be >= 0 seconds")
    dtype = dtype or "int8"
    check_target(RUNTIME_TARGET[runtime], dtype)
    require(RUNTIME_TARGET[runtime])
    df = measure_runtime(models, runtime=runtime, dtype=dtype, threads=threads,
                         resolution=resolution, repeats=repeats, min_time_s=min_time,
                         warmup_s=warmup, per_op=per_op, progress=_progress,
                         input_shape=input_shape)
    for col in ("layer_index", "resolution", "partitions", "undelegated_ops", "float_ops",
                "transposes", "quantize_ops", "dequantize_ops", "ops"):
        if col in df:
            df[col] = df[col].astype("Int64")
    write_output(output, df.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    if output and output != "-":
        _progress(f"wrote {output}")


@click.command("export")
@click.argument("model")
@click.option("--to", "target", type=click.Choice(["tflite", "onnx"]), required=True,
              help="tflite (LiteRT, via litert-torch) or onnx (torch.onnx, dynamo).")
@click.option("--dtype", default="int8", show_default=True,
              help="int8 (static, calibrated), fp16 (tflite) or fp32.")
@click.option("--resolution", "-r", type=int, default=None,
              help="Input resolution; default: the zoo's (paper's) or timm's.")
@click.option("--input-shape", default=None, help="Explicit input shape, e.g. 1,3,224,224.")
@click.option("--output", "-o", required=True, help="The .tflite/.onnx file to write.")
@click.option("--no-cache", is_flag=True, help="Convert afresh instead of using the cache.")
@click.option("--verbose", is_flag=True, help="Show the converters' own log output.")
@user_errors
def export_cmd(model: str, target: str, dtype: str, resolution: int | None,
               input_shape: str | None, output: str, no_cache: bool, verbose: bool) -> None:
    """Export MODEL to the file a runtime deploys (.tflite for LiteRT, .onnx for ONNX Runtime).

    MODEL is a zoo name, a timm name or path/to/file.py:factory. Weights are random but
    deterministic (as `roofline measure`); int8 is static quantisation calibrated on seeded
    random batches. Exports are cached.

    \b
    roofline export mnv4_conv_small --to tflite --dtype int8 -o s.tflite
    roofline export mnv4_conv_small --to onnx -o s.onnx
    """
    # deferred: pandas and the converters stay out of `roofline --help`
    from roofline.runtimes.export import check_target, export, require

    check_target(target, dtype)
    require(target)
    shape = parse_shape(input_shape) if input_shape else None
    path = export(model, target, dtype, resolution=resolution, input_shape=shape, path=output,
                  use_cache=not no_cache, verbose=verbose, progress=_progress)
    _progress(f"wrote {path}")

"""roofline bench, measure, fit, validate: the model against real hardware.

Calibration against real hardware: calibration.bench (this machine's roofs), .measure (real
latency), .fit (fit and statistics, no torch), .validate (a profile judged), plots.validation
(the scatter); rendering in render.calibration.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from roofline.calibration.machine import busy_note, cpu_busy
from roofline.calibration.timing import check_run_threads, check_seconds, check_threads
from roofline.cli.base import check_output, user_errors, write_output
from roofline.cli.options import model_input_options
from roofline.cli.runtime_fit import (
    default_fusion,
    fit_command,
    runtime_applies,
    validate_command,
)
from roofline.cli.runtimes import RUNTIME_CHOICES, measure_on_runtime
from roofline.errors import RooflineError
from roofline.graph.kinds import FUSION_POLICIES
from roofline.hardware.io import check_profile_text, profile_yaml
from roofline.hardware.registry import get_profile
from roofline.hardware.schema import check_profile_id
from roofline.models.zoo import resolve
from roofline.plots.saving import figure_bytes, figure_suffix
from roofline.render.report import to_json
from roofline.render.tables import frame_csv

__all__ = ["bench", "fit", "measure", "validate"]


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.option("--output", "-o", default=None,
              help="Profile YAML to write; default: <id>.yaml in this directory ('-': stdout).")
@click.option("--id", "profile_id", default=None,
              help="Profile id, the file name without .yaml; default from the CPU/GPU name.")
@click.option("--threads", "-t", type=int, default=None,
              help="The 'all threads' count; default: every CPU this process may run on.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="auto: the CUDA GPU when torch sees one, else the CPU.")
@click.option("--quick", is_flag=True,
              help="Tiny problems that finish in seconds: checks the setup, not for use.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def bench(output: str | None, profile_id: str | None, threads: int | None, device: str,
          quick: bool, fmt: str) -> None:
    """Measure this machine's roofs and write them as a hardware profile.

    Peak MACs/s per dtype (large matrix products: fp32, bf16/fp16 where the CPU has native
    kernels, int8), DRAM bandwidth (STREAM triad over buffers 8x the last-level cache) and
    last-level-cache bandwidth, at 1 thread and at all threads; the median of repeats.
    The profile (basis: measured) works with --hw:

    \b
    roofline bench -o my_machine.yaml
    roofline analyze mnv4_conv_small --hw my_machine.yaml
    """
    # deferred: pandas and torch stay out of `roofline --help`
    from roofline.calibration.bench import (QUICK_BENCH, STANDARD_BENCH, bench_ridge_points, run as
                                            run_bench)
    from roofline.calibration.profile_writer import (bench_profile, bench_profile_header,
                                                     default_profile_id)
    from roofline.render.calibration import bench_text

    if threads is not None:
        check_run_threads(threads)
    if profile_id is not None:
        check_profile_id(profile_id, "--id")
    check_output(output)
    _progress("measuring: close other heavy programs for steadier numbers")
    if busy := busy_note(cpu_busy()):
        _progress(f"warning: {busy}")
    settings = QUICK_BENCH if quick else STANDARD_BENCH
    result = run_bench(device=device, threads=threads, settings=settings, progress=_progress)
    path = output or f"{profile_id or default_profile_id(result)}.yaml"
    text = profile_yaml(bench_profile(result), bench_profile_header(result))
    check_profile_text(text, path)
    write_output(path, text)
    if path == "-":
        for w in result.warnings:
            _progress(f"warning: {w}")
        return
    ridge_points = bench_ridge_points(result)
    if fmt == "json":
        click.echo(to_json({**result.to_dict(), "ridge_point": ridge_points, "profile": path}))
    else:
        click.echo(bench_text(result, profile=path, ridge_points=ridge_points, quick=quick))


@click.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--threads", "-t", type=int, default=1, show_default=True,
              help="torch intra-op threads.")
@click.option("--dtype", default=None,
              help="torch: fp32 (default), bf16 or fp16; litert: int8 (default), fp16, fp32; "
              "onnxruntime: int8 (default) or fp32.")
@click.option("--resolution", "-r", type=int, default=None,
              help="Input resolution; default: each model's zoo (paper) resolution. Not with "
              "--input-shape.")
@click.option("--repeats", type=int, default=7, show_default=True,
              help="Timed repeats; the latency is their median.")
@click.option("--min-time", type=float, default=0.2, show_default=True,
              help="Seconds each repeat lasts at least (its latency is the mean per run).")
@click.option("--warmup", type=float, default=0.3, show_default=True,
              help="Seconds of warm-up runs (at least 2 runs).")
@click.option("--per-layer", is_flag=True,
              help="Also measure each layer with torch.profiler, named as in `analyze`.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where the model runs.")
@click.option("--fusion", type=click.Choice(FUSION_POLICIES), default="tflite",
              show_default=True, help="Layer grouping of the --per-layer rows.")
@click.option("--output", "-o", default=None, help="CSV file to write; default: stdout.")
@click.option("--runtime", type=click.Choice(RUNTIME_CHOICES), default="torch",
              show_default=True, help="torch eager, LiteRT (XNNPACK; runs the exported "
              ".tflite) or ONNX Runtime (CPU; runs the exported .onnx).")
@click.option("--per-op", is_flag=True,
              help="With --runtime onnxruntime: also each node's time from ORT's profiler.")
@user_errors
@model_input_options(resolution=False)  # its own -r
def measure(models: tuple[str, ...], threads: int, dtype: str | None, resolution: int | None,
            repeats: int, min_time: float, warmup: float, per_layer: bool, device: str,
            fusion: str, output: str | None, runtime: str, per_op: bool,
            input_shape: tuple[int, ...] | None) -> None:
    """Measure the real latency of MODELS on this machine (batch 1).

    MODELS are zoo names, globs over the zoo ('mnv4*'), 'all', timm names or
    file.py:factory; with --runtime litert/onnxruntime also .tflite/.onnx files. Weights are
    random but deterministic; the latency is the median of --repeats repeats, each the mean
    of many runs, after a warm-up. --input-shape gives every model that input (its first
    dim the batch), e.g. a file.py:factory model with no default size. Writes CSV:
    model,resolution,dtype,threads,latency_ms,runs,...,input_shape for `roofline fit` and
    `validate` (they rebuild the same input); a runtime's rows add `runtime` and the graph
    it ran (delegate partitions, ops outside the delegate, float/TRANSPOSE/QUANTIZE ops).

    \b
    roofline measure mnv4_conv_small mobilenetv2_100 --threads 1 -o measured.csv
    roofline measure mnv4_conv_small fastvit_t8 --runtime litert --dtype int8
    roofline measure mynet.py:tiny --input-shape 1,3,64,64 -o measured.csv
    """
    # deferred: pandas and torch stay out of `roofline --help`
    from roofline.calibration.measure import (check_eager_dtype, expand_models, measure as
                                              measure_models)

    if input_shape is not None and resolution is not None:
        raise RooflineError("--resolution and --input-shape conflict: give one (the shape "
                            "fixes the resolution)")
    if runtime != "torch":
        check_output(output)
        return measure_on_runtime(models, runtime, threads=threads, dtype=dtype,
                                  resolution=resolution, repeats=repeats, min_time=min_time,
                                  warmup=warmup, per_layer=per_layer, per_op=per_op,
                                  device=device, output=output, input_shape=input_shape)
    if per_op:
        raise RooflineError("--per-op times a runtime's own ops; with torch use --per-layer")
    dtype = dtype or "fp32"
    check_output(output)
    check_run_threads(threads)
    check_eager_dtype(dtype)
    if repeats < 1:
        raise RooflineError(f"--repeats must be >= 1, got {repeats}")
    check_seconds(min_time, "--min-time")
    check_seconds(warmup, "--warmup")
    cpus = os.cpu_count() or 1
    if threads > cpus:
        _progress(f"warning: --threads {threads} is more than the {cpus} CPUs here")
    expand_models(models)  # a typo fails before anything is built
    if busy := busy_note(cpu_busy()):
        _progress(f"warning: {busy}")
    df = measure_models(models, threads=threads, dtype=dtype, resolution=resolution,
                     repeats=repeats, min_time_s=min_time, warmup_s=warmup,
                     per_layer=per_layer, fusion=fusion, device=device, progress=_progress,
                     input_shape=input_shape)
    if "layer_index" in df:
        df["layer_index"] = df["layer_index"].astype("Int64")
    write_output(output, frame_csv(df, index=False, float_format="%.6g"))
    if output and output != "-":
        _progress(f"wrote {output}")


_FUSION_HELP = ("Layer grouping the roofline sums over. Default: the fusion of the profile's "
                "runtime (tflite for LiteRT), else none: torch eager runs every op as its own "
                "kernel, as `roofline measure` times it.")
_FIT_HELP = ("Fit under the base profile's runtime (the model summed over the runtime's own "
             "graph): 'runtime' learns the runtime's parameters with the device held; "
             "'peak,bandwidth' keeps the runtime's parameters and fits the device's two scalars.")
_RUNTIME_HELP = "The runtime (id or .yaml file) instead of the one the profile names."


@click.command()
@click.argument("measurements")
@click.option("--hw", "hw", default=None,
              help="Base profile: the device's name and kind, the starting point, and with "
                   "--hold-peak the peak kept. Default: none (a generic start).")
@click.option("--dtype", default=None, help="Fit the rows at this dtype (needed when the CSV "
              "mixes dtypes); default: the CSV's, else the base profile's default.")
@click.option("--threads", "-t", type=int, default=None,
              help="Fit the rows at this thread count (needed when the CSV mixes them).")
@click.option("--fusion", type=click.Choice(FUSION_POLICIES), default=None,
              help=_FUSION_HELP)
@click.option("--overhead/--no-overhead", default=False, show_default=True,
              help="Also fit a fixed cost per layer (framework/dispatch overhead).")
@click.option("--hold-peak", is_flag=True,
              help="Keep the base profile's peak; fit the bandwidth (the ridge point) only.")
@click.option("--cv", is_flag=True, help="Leave-one-out: each model predicted by a fit to the "
              "others, so the fit is judged out of sample.")
@click.option("--fit", "fit_spec", default=None, help=_FIT_HELP)
@click.option("--runtime", default=None, help=_RUNTIME_HELP)
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--output", "-o", default=None, help="Write the fitted profile YAML here "
              "(basis: fitted); use it with --hw.")
@user_errors
def fit(measurements: str, hw: str | None, dtype: str | None, threads: int | None,
        fusion: str | None, overhead: bool, hold_peak: bool, cv: bool, fit_spec: str | None,
        runtime: str | None, fmt: str, output: str | None) -> None:
    """Fit a roofline (effective peak, bandwidth, optionally per-layer overhead) to measured
    latencies, and report how well it ranks and predicts them.

    MEASUREMENTS is a CSV with at least model,latency_ms (model = zoo or timm name; optional
    resolution, dtype, threads columns), e.g. from `roofline measure`. Minimises relative
    (log) error with a robust loss.

    \b
    roofline fit measured.csv --hw my_machine.yaml --cv -o fitted.yaml
    """
    # deferred: pandas and torch stay out of `roofline --help`
    from roofline.calibration.fit import fit_measured
    from roofline.calibration.measure import layer_tables
    from roofline.calibration.measurements import measured_threads
    from roofline.calibration.profile_writer import fitted_profile
    from roofline.render.calibration import fit_text

    if fit_spec is not None:
        if fusion or overhead or hold_peak:
            raise RooflineError("--fit fits under the runtime: --fusion, --overhead and "
                                "--hold-peak do not apply (the runtime has its own)")
        return fit_command(measurements, hw, fit_spec, runtime, dtype, threads, cv, fmt, output)
    check_output(output, [measurements, hw])
    if threads is not None:
        check_threads(threads)
    base = get_profile(hw) if hw else None
    fusion = default_fusion(base, fusion, runtime)
    if hold_peak and base is None:
        raise RooflineError("--hold-peak keeps the base profile's peak: pass --hw")
    report = fit_measured(measurements, base=base, dtype=dtype, threads=threads, fusion=fusion,
                          overhead=overhead, hold_peak=hold_peak, cv=cv, check_model=resolve,
                          layer_tables=layer_tables)
    report["fitted_profile"] = output
    if output:
        th = threads if threads is not None else measured_threads(measurements)
        data = fitted_profile(report, base=base, dtype=report["dtype"], source=measurements,
                              fusion=fusion, threads=th, hold_peak=hold_peak)
        header = (f"Fitted by `roofline fit {measurements}" + (f" --hw {hw}" if hw else "")
                  + (" --overhead" if overhead else "") + (" --hold-peak" if hold_peak else "")
                  + f" --fusion {fusion}`.")
        text = profile_yaml(data, header)
        check_profile_text(text, output)
    click.echo(to_json(report) if fmt == "json" else fit_text(report))
    if output:
        write_output(output, text, [measurements, hw])
        if fmt != "json":
            click.echo(f"wrote {output}; use it with --hw {output}")


@click.command()
@click.option("--hw", "hw", required=True, help="The profile to judge (id, id:variant or YAML).")
@click.option("--measurements", "-m", required=True,
              help="CSV with at least model,latency_ms; per-layer rows (layer_index, layer) "
                   "from `roofline measure --per-layer` are compared layer by layer.")
@click.option("--dtype", default=None, help="Default: the CSV's, else the profile's.")
@click.option("--threads", "-t", type=int, default=None,
              help="Use the rows at this thread count (needed when the CSV mixes them).")
@click.option("--fusion", type=click.Choice(FUSION_POLICIES), default=None,
              help=_FUSION_HELP)
@click.option("--runtime", default=None, help=_RUNTIME_HELP)
@click.option("--plot", default=None,
              help="Write the predicted-vs-measured scatter (log-log) to this .png/.svg/.pdf.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json", "csv"]),
              default="table", show_default=True)
@click.option("--output", "-o", default=None, help="Write the report here instead of stdout.")
@user_errors
def validate(hw: str, measurements: str, dtype: str | None, threads: int | None,
             fusion: str | None, runtime: str | None, plot: str | None, fmt: str,
             output: str | None) -> None:
    """Predicted vs measured latency per model (and per layer): a table, Spearman r_s of the
    roofline and of MAC counting, MAPE, share within +-20 %, and a scatter plot.

    \b
    roofline validate --hw fitted.yaml --measurements measured.csv --plot accuracy.png
    """
    # deferred: pandas and torch stay out of `roofline --help`
    from roofline.calibration.measure import layer_tables
    from roofline.calibration.runtime_data import profile_runtime
    from roofline.calibration.validate import validate_profile
    from roofline.plots.validation import scatter
    from roofline.render.calibration import render_validation

    check_output(output, [measurements, hw])
    if plot:
        figure_suffix(plot, "--plot")
        check_output(plot, [measurements, hw])
    if threads is not None:
        check_threads(threads)
    profile = get_profile(hw)
    rt = profile_runtime(profile, runtime)
    if runtime_applies(rt) and not fusion:
        return validate_command(profile, rt, measurements, dtype, threads, plot, fmt, output)
    fusion = fusion or (rt.fusion if rt is not None else "none")
    v = validate_profile(measurements, profile, fusion=fusion, threads=threads, dtype=dtype,
                         check_model=resolve, layer_tables=layer_tables)
    if plot:
        title = (f"{profile.name}: predicted vs measured ({Path(measurements).name}, "
                 f"fusion {fusion})")
        fig = scatter(v.models, title=title, stats=v.stats, layers=v.layers,
                      layer_stats=v.layer_stats)
        write_output(plot, figure_bytes(fig, Path(plot).suffix))
    write_output(output, render_validation(v, fmt, plot))

"""The ``roofline`` command line: parse, call the library, render. Nothing else.

Every user mistake surfaces as one line on stderr and exit code 2 (``RooflineError``);
output files are written atomically, so a failed command leaves nothing half-written.
Heavy imports (torch, pandas) happen inside the commands that need them, so ``--help`` and
``hw list`` start fast.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import OutputError, RooflineError

FORMATS = ["table", "csv", "json", "markdown"]


# --------------------------------------------------------------------------- plumbing


def fail(message: str) -> None:
    """Print one error line and exit with code 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn RooflineError into one stderr line and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RooflineError as e:
            fail(str(e))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def check_output(path: str | None) -> None:
    """Fail before any work when ``path`` cannot be written."""
    if not path or path == "-":
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory; expected a file path")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {path}: directory {parent} is not writable")


def write_output(path: str | None, text: str | bytes) -> None:
    """Write to ``path`` atomically (temp file + rename), or to stdout when no path."""
    if not path or path == "-":
        click.echo(text if isinstance(text, str) else text.decode(), nl=not str(text).endswith("\n"))
        return
    check_output(path)
    p = Path(path)
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a plain file respects umask
        os.replace(tmp, p)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- root


class _UsageLine(click.ClickException):
    """A usage error shown as one line, like every other user mistake."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class _OneLineErrors(click.Group):
    """The root group: click's usage errors (an unknown option or command, a value that is
    not among the choices, a missing argument) become one stderr line and exit code 2, not
    a usage block; bare `roofline` and `roofline hw` still print their help."""

    @staticmethod
    def _line(e: click.UsageError) -> _UsageLine:
        hint = f"; see `{e.ctx.command_path} --help`" if e.ctx is not None else ""
        return _UsageLine(" ".join(e.format_message().split()).rstrip(".") + hint)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:
            raise self._line(e) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:
            raise self._line(e) from None


@click.group(cls=_OneLineErrors,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="roofline")
def main() -> None:
    """Roofline analysis of neural networks: MACs and bytes per layer, hardware profiles,
    predicted latency (the MobileNetV4 paper's model). 1 MAC = 2 FLOPs.

    \b
    roofline analyze mnv4_conv_medium --hw pixel8_cpu
    roofline hw list
    """
    # library warnings (timm deprecations, torch meta-kernel notes) would break the promise
    # of one clean stderr line; -W or PYTHONWARNINGS still turn them back on
    if not sys.warnoptions:
        warnings.simplefilter("ignore")


# --------------------------------------------------------------------------- analyze


@main.command()
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
@user_errors
def analyze(model: str, hw: str, dtype: str | None, weight_dtype: str | None,
            resolution: int | None, batch: int, input_shape: str | None, fusion: str, top: int,
            fmt: str, output: str | None, no_cache: bool, training_form: bool) -> None:
    """Per-layer MACs, bytes and predicted latency of MODEL on a device.

    MODEL is a zoo name (`roofline zoo list`), any timm model name, or path/to/file.py:factory.
    """
    from .analysis import analyze as run
    from .hardware import get_profile
    from .report import render_analysis

    check_output(output)
    if top < 0:
        raise RooflineError(f"--top must be >= 0, got {top}")
    profile = get_profile(hw)  # unknown devices fail before the model is built
    shape = parse_shape(input_shape) if input_shape else None
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


# --------------------------------------------------------------------------- hw


@main.group()
def hw() -> None:
    """The hardware registry: list devices, show one with its sources."""


@hw.command("list")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@click.option("--output", "-o", default=None, help="Write to this file instead of stdout.")
@user_errors
def hw_list(fmt: str, output: str | None) -> None:
    """Every registered device at its default dtype (variants included)."""
    from .hardware import list_profiles
    from .report import hardware_list_text

    check_output(output)
    write_output(output, hardware_list_text(list_profiles(), fmt))


@hw.command("show")
@click.argument("hardware_id")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def hw_show(hardware_id: str, fmt: str) -> None:
    """One device: every figure with its basis, source and note, and its ridge points."""
    from .hardware import get_profile
    from .report import hardware_text, to_json

    p = get_profile(hardware_id)
    click.echo(to_json(p.to_dict()) if fmt == "json" else hardware_text(p))


# --------------------------------------------------------------------------- cache


@main.group("cache")
def cache_group() -> None:
    """The trace cache: repeated analyses skip tracing and never import torch."""


@cache_group.command("info")
@user_errors
def cache_info() -> None:
    """Where the cache lives, how many traces it holds and their size."""
    from .cache import info
    from .report import cache_info_text

    click.echo(cache_info_text(info()))


@cache_group.command("clear")
@user_errors
def cache_clear() -> None:
    """Delete every cached trace."""
    from .cache import cache_dir, clear

    click.echo(f"removed {clear()} cached traces from {cache_dir()}")


# ---- survey
#
# `roofline survey`: many models x resolutions x devices, in parallel, resumable. The engine
# is roofline/survey.py; this section parses, reports progress and writes the leaderboard.

SURVEY_FORMATS = ["table", "csv", "json", "parquet", "markdown"]
_SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".md": "markdown",
                   ".txt": "table"}
_NEGATIVE_NUMBER = re.compile(r"-\d+(\.\d*)?")


class _GreedyOptions(click.Command):
    """Lets ``--hw a b c`` and ``-r 224 256`` take several values, as a user types them:
    every word up to the next option belongs to the option (``--hw a --hw b`` also works)."""

    greedy = ("--hw", "--resolution", "-r")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        owner: str | None = None
        first = False
        for i, a in enumerate(args):
            if a == "--":
                out += args[i:]
                break
            if owner and (first or not a.startswith("-") or _NEGATIVE_NUMBER.fullmatch(a)):
                out += [a] if first else [owner, a]
                first = False
                continue
            owner = a if a in self.greedy else None
            first = owner is not None
            out.append(a)
        return super().parse_args(ctx, out)


class _SurveyProgress:
    """Progress on stderr: one updating line on a terminal, one line per model otherwise."""

    def __init__(self, quiet: bool) -> None:
        import time

        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.counts = {"ok": 0, "failed": 0, "timeout": 0}
        self.fresh = 0

    def __call__(self, row: dict[str, Any], done: int, total: int) -> None:
        import time

        status = row.get("status", "failed")
        self.counts[status] = self.counts.get(status, 0) + 1
        if self.quiet:
            return
        resumed = row.get("resumed", False)
        if not resumed:
            self.fresh += 1
        elapsed = time.monotonic() - self.start
        left = total - done
        eta = f", ~{_duration(elapsed / self.fresh * left)} left" if self.fresh and left else ""
        width = len(str(total))
        if self.tty:
            c = self.counts
            line = (f"[{done:>{width}}/{total}] {c['ok']} ok, {c['failed']} failed, "
                    f"{c['timeout']} timed out, {_duration(elapsed)}{eta}  {row['spec']}")
            click.echo("\r" + line[:118].ljust(118), err=True, nl=done == total)
        elif not resumed:
            secs = row.get("seconds")
            took = f"{secs:.1f} s" if isinstance(secs, (int, float)) else "-"
            reason = f"  {row.get('reason', '')[:100]}" if status != "ok" else ""
            click.echo(f"[{done:>{width}}/{total}] {status:7} {row['spec']} ({took}){reason}",
                       err=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


@main.command(cls=_GreedyOptions)
@click.argument("patterns", nargs=-1, required=True)
@click.option("--hw", "hw", multiple=True, default=("pixel8_cpu",), show_default=True,
              help="Devices: ids, id:variant, YAML files or globs ('pixel*'); several may "
              "follow one --hw.")
@click.option("--resolution", "-r", "resolutions", type=int, multiple=True,
              help="Input resolutions in pixels, several allowed; default: each model's own.")
@click.option("--batch", "-b", type=int, default=1, show_default=True)
@click.option("--dtype", default=None, help="Analysis dtype; default: each device's default.")
@click.option("--weight-dtype", default=None, help="Weight dtype when it differs (e.g. int4).")
@click.option("--fusion", type=click.Choice(["none", "tflite", "full"]), default="tflite",
              show_default=True, help="What counts as one layer (see README).")
@click.option("--workers", "-j", type=int, default=None,
              help="Local worker processes; default: one per CPU (at most 8).")
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS",
              help="Run on a Dask cluster (scheduler address, e.g. tcp://host:8786).")
@click.option("--timeout", "timeout_s", type=float, default=300.0, show_default=True,
              help="Seconds one model may take before it is a 'timeout' row (0: none).")
@click.option("--no-compare", is_flag=True,
              help="Skip the MAC check against torch's FlopCounterMode.")
@click.option("--no-cache", is_flag=True, help="Trace afresh instead of using the trace cache.")
@click.option("--journal", default=None, metavar="PATH",
              help="Finished rows, for resuming; default: OUTPUT.journal.jsonl, or a file in "
              "the cache directory.")
@click.option("--fresh", is_flag=True, help="Ignore rows already in the journal.")
@click.option("--retry-failed", is_flag=True, help="Run failed and timed-out models again.")
@click.option("--top", "-k", type=int, default=10, show_default=True,
              help="Models per device in the leaderboard table (0: all).")
@click.option("--format", "-f", "fmt", type=click.Choice(SURVEY_FORMATS), default=None,
              help="Output format; default: from the --output suffix, else table.")
@click.option("--output", "-o", default=None, help="Write to this file instead of stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@user_errors
def survey(patterns: tuple[str, ...], hw: tuple[str, ...], resolutions: tuple[int, ...],
           batch: int, dtype: str | None, weight_dtype: str | None, fusion: str,
           workers: int | None, dask_address: str | None, timeout_s: float, no_compare: bool,
           no_cache: bool, journal: str | None, fresh: bool, retry_failed: bool, top: int,
           fmt: str | None, output: str | None, quiet: bool) -> None:
    """Trace many models and rank them on every device: a leaderboard.

    PATTERNS are zoo names, timm names, timm globs ('timm:*mobilenet*', 'timm:*'),
    zoo globs ('zoo:mnv4*') or path/to/file.py:factory. A model that fails is a row with
    its reason; an interrupted survey resumes where it stopped when run again.

    \b
    roofline survey 'timm:*mobilenet*' --hw pixel8_cpu h100_sxm --workers 2
    roofline survey 'zoo:*' -r 224 256 --hw 'pixel*' -o survey.csv
    """
    from . import survey as engine

    if fmt is None:
        fmt = _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "table") if output else "table"
    if fmt == "parquet" and not output:
        raise RooflineError("--format parquet is binary; give --output FILE.parquet")
    if top < 0:
        raise RooflineError(f"--top must be >= 0, got {top}")
    check_output(output)
    if journal:
        check_output(journal)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise RooflineError("--format parquet needs pyarrow: pip install pyarrow") from None
    tasks = engine.expand(patterns)
    result = engine.survey(
        patterns, hw, resolutions=resolutions or (None,), batch=batch, dtype=dtype,
        weight_dtype=weight_dtype, fusion=fusion, workers=workers, dask=dask_address,
        timeout_s=timeout_s, compare=not no_compare, cache=not no_cache,
        journal=journal or "auto", output=output, fresh=fresh, retry_failed=retry_failed,
        progress=_SurveyProgress(quiet), tasks=tasks)
    if result.interrupted:
        click.echo(f"interrupted: {len(result.rows)} of {result.total} rows finished, kept in "
                   f"{result.journal}; run the same command again to resume", err=True)
        sys.exit(130)
    write_output(output, engine.render(result, fmt, top))


# --------------------------------------------------------------------------- sweep / plot
# Ridge-point sweeps and the paper's figures: presets.py (conventions), model.sweep (numbers),
# plots.py (figures). Every table and figure names the preset that made it.

_RP_HELP = ("Ridge points in MACs/byte: start:stop:step (stop included) or a list, e.g. "
            "0:500:5 or 0,5,50,500.")
_PRESET_HELP = ("Counting conventions: 'paper' (the MobileNetV4 figures: int8, weights+input "
                "bytes of conv/dw/FC layers, 40 GB/s held) or 'default' (full layer table, "
                "PeakMACs held).")
_HOLD_HELP = ("How a ridge point becomes a device: hold the bandwidth (PeakMACs = RP x BW) or "
              "hold PeakMACs (BW = PeakMACs / RP). Default: the preset's.")


@main.command()
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
def sweep(models: tuple[str, ...], rp: str, preset: str, hw: str | None, hold: str | None,
          dtype: str | None, fmt: str, output: str | None) -> None:
    """Latency of MODELS at every ridge point: from compute-bound (RP 0, MAC counting) to
    bandwidth-starved (RP 500, an accelerator).

    \b
    roofline sweep mnv4_conv_small mnv4_conv_medium --preset paper --rp 0,5,50,500
    roofline sweep mnv4_conv_medium --hw pixel8_cpu --hold peak --format csv -o sweep.csv
    """
    from .presets import ridge_points, sweep_models
    from .report import sweep_text

    check_output(output)
    grid = ridge_points(rp)
    p, df = sweep_models(models, grid, preset, hw=hw, hold=hold, dtype=dtype)
    write_output(output, sweep_text(df, p, fmt))


PLOT_KINDS = ["ridge", "pareto", "opcost", "roofline", "devices"]


@main.command()
@click.argument("kind", type=click.Choice(PLOT_KINDS))
@click.argument("models", nargs=-1)
@click.option("--output", "-o", required=True, help="Figure file: .png, .svg or .pdf.")
@click.option("--rp", default=None, help=_RP_HELP + " Default: 0:500:5 (ridge), 0,5,50,500 "
              "(pareto), 5,500 (opcost).")
@click.option("--preset", type=click.Choice(["default", "paper"]), default=None,
              help=_PRESET_HELP + " Default: paper for ridge/pareto/opcost, default otherwise.")
@click.option("--hw", "hws", multiple=True, help="ridge/pareto/opcost: anchor the sweep to "
              "this device; roofline: the device (default pixel8_cpu); devices: the devices "
              "to show (repeat; default all).")
@click.option("--hold", type=click.Choice(["bandwidth", "peak"]), default=None, help=_HOLD_HELP)
@click.option("--dtype", default=None, help="Override the preset's dtype (int8, fp16, ...).")
@click.option("--title", default=None, help="Replace the figure's title.")
@click.option("--dpi", type=click.IntRange(30, 600), default=150, show_default=True,
              help="Resolution of PNG output.")
@user_errors
def plot(kind: str, models: tuple[str, ...], output: str, rp: str | None, preset: str | None,
         hws: tuple[str, ...], hold: str | None, dtype: str | None, title: str | None,
         dpi: int) -> None:
    """Draw a figure into a file. KIND is one of:

    \b
    ridge     latency vs ridge point, one curve per model, registry devices marked
    pareto    the paper's Fig. 2: latency vs top-1 at RP 0/5/50/500, Pareto front
    opcost    the paper's Fig. 3: per-layer latency vs layer index at RP 5 and 500
    roofline  one model on one device: attainable MACs/s vs intensity, a dot per layer
    devices   one model's latency on every registered device, compute vs memory time

    MODELS default to the paper's set for the figure (MobileNetV4 and its MobileNet
    baselines; one model, MNv4-Conv-M, for roofline and devices).

    \b
    roofline plot pareto -o fig2.png
    roofline plot roofline mnv4_conv_large --hw pixel8_edgetpu -o roof.svg
    """
    from . import plots
    from .errors import InputError

    check_output(output)
    suffix = plots.figure_suffix(output, "--output")
    if len(hws) > 1 and kind != "devices":
        raise InputError(f"--hw takes one device for {kind} (several only for devices)")
    if kind in ("roofline", "devices") and len(models) > 1:
        raise InputError(f"{kind} draws one model; got {len(models)}")
    names = list(models)
    if not names:
        names, missing = plots.default_models(kind)
        if missing:
            click.echo(f"note: not in the zoo, left out: {', '.join(missing)}", err=True)
        if not names:
            raise InputError(f"none of the default models of {kind} is in the zoo; name models")
    fig = plots.figure(kind, names, rps=rp, preset=preset, hw=hws, hold=hold, dtype=dtype,
                       title=title)
    write_output(output, plots.figure_bytes(fig, suffix, dpi=dpi))


# --------------------------------------------------------------------------- bench / measure / fit / validate
# Calibration against real hardware: bench.py (this machine's roofs), measure.py (real latency),
# calibrate.py (fit and statistics, no torch), validation_plot.py (the scatter).


def _progress(message: str) -> None:
    click.echo(message, err=True)


@main.command()
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
    from . import bench as b
    from .calibrate import check_profile_text, profile_yaml
    from .measure import check_threads
    from .report import bench_text, to_json

    if threads is not None:
        check_threads(threads)
    if profile_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", profile_id):
        raise RooflineError(f"--id {profile_id!r} is not a valid profile id; use letters, "
                            "digits, '_', '-', '.'")
    check_output(output)
    _progress("measuring: close other heavy programs for steadier numbers")
    if busy := b.busy_note(b.cpu_busy()):
        _progress(f"warning: {busy}")
    result = b.run(device=device, threads=threads, settings=b.QUICK if quick else b.DEFAULT,
                   progress=_progress)
    path = output or f"{profile_id or b.default_id(result)}.yaml"
    text = profile_yaml(b.profile_data(result), b.profile_header(result))
    check_profile_text(text, path)
    write_output(path, text)
    if path == "-":
        return
    if fmt == "json":
        click.echo(to_json({**result.to_dict(), "ridge_point": b.ridge_points(result),
                            "profile": path}))
    else:
        click.echo(bench_text(result, profile=path, quick=quick))


@main.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--threads", "-t", type=int, default=1, show_default=True,
              help="torch intra-op threads.")
@click.option("--dtype", default="fp32", show_default=True, help="fp32, bf16 or fp16.")
@click.option("--resolution", "-r", type=int, default=None,
              help="Input resolution; default: each model's zoo (paper) resolution.")
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
@click.option("--fusion", type=click.Choice(["none", "tflite", "full"]), default="tflite",
              show_default=True, help="Layer grouping of the --per-layer rows.")
@click.option("--output", "-o", default=None, help="CSV file to write; default: stdout.")
@user_errors
def measure(models: tuple[str, ...], threads: int, dtype: str, resolution: int | None,
            repeats: int, min_time: float, warmup: float, per_layer: bool, device: str,
            fusion: str, output: str | None) -> None:
    """Measure the real latency of MODELS on this machine (torch eager, batch 1).

    MODELS are zoo names, globs over the zoo ('mnv4*'), 'all', timm names or
    file.py:factory. Weights are random but deterministic; the latency is the median of
    --repeats repeats, each the mean of many runs, after a warm-up. Writes CSV:
    model,resolution,dtype,threads,latency_ms,runs,... for `roofline fit` and `validate`.

    \b
    roofline measure mnv4_conv_small mobilenetv2_100 --threads 1 -o measured.csv
    """
    from .measure import check_eager_dtype, check_threads, expand_models
    from .measure import measure as run_measure

    check_output(output)
    check_threads(threads)
    check_eager_dtype(dtype)
    if repeats < 1:
        raise RooflineError(f"--repeats must be >= 1, got {repeats}")
    if min_time < 0 or warmup < 0:
        raise RooflineError("--min-time and --warmup must be >= 0 seconds")
    cpus = os.cpu_count() or 1
    if threads > cpus:
        _progress(f"warning: --threads {threads} is more than the {cpus} CPUs here")
    expand_models(models)  # a typo fails before anything is built
    from .bench import busy_note, cpu_busy

    if busy := busy_note(cpu_busy()):
        _progress(f"warning: {busy}")
    df = run_measure(models, threads=threads, dtype=dtype, resolution=resolution,
                     repeats=repeats, min_time_s=min_time, warmup_s=warmup,
                     per_layer=per_layer, fusion=fusion, device=device, progress=_progress)
    if "layer_index" in df:
        df["layer_index"] = df["layer_index"].astype("Int64")
    write_output(output, df.to_csv(index=False, float_format="%.6g"))
    if output and output != "-":
        _progress(f"wrote {output}")


_FUSION_HELP = ("Layer grouping the roofline sums over. Default none: torch eager runs every "
                "op as its own kernel, as `roofline measure` times it.")


@main.command()
@click.argument("measurements")
@click.option("--hw", "hw", default=None,
              help="Base profile: the device's name and kind, the starting point, and with "
                   "--hold-peak the peak kept. Default: none (a generic start).")
@click.option("--dtype", default=None, help="Fit the rows at this dtype (needed when the CSV "
              "mixes dtypes); default: the CSV's, else the base profile's default.")
@click.option("--threads", "-t", type=int, default=None,
              help="Fit the rows at this thread count (needed when the CSV mixes them).")
@click.option("--fusion", type=click.Choice(["none", "tflite", "full"]), default="none",
              show_default=True, help=_FUSION_HELP)
@click.option("--overhead/--no-overhead", default=False, show_default=True,
              help="Also fit a fixed cost per layer (framework/dispatch overhead).")
@click.option("--hold-peak", is_flag=True,
              help="Keep the base profile's peak; fit the bandwidth (the ridge point) only.")
@click.option("--cv", is_flag=True, help="Leave-one-out: each model predicted by a fit to the "
              "others, so the fit is judged out of sample.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--output", "-o", default=None, help="Write the fitted profile YAML here "
              "(basis: fitted); use it with --hw.")
@user_errors
def fit(measurements: str, hw: str | None, dtype: str | None, threads: int | None,
        fusion: str, overhead: bool, hold_peak: bool, cv: bool, fmt: str,
        output: str | None) -> None:
    """Fit a roofline (effective peak, bandwidth, optionally per-layer overhead) to measured
    latencies, and report how well it ranks and predicts them.

    MEASUREMENTS is a CSV with at least model,latency_ms (model = zoo or timm name; optional
    resolution, dtype, threads columns), e.g. from `roofline measure`. Minimises relative
    (log) error with a robust loss.

    \b
    roofline fit measured.csv --hw my_machine.yaml --cv -o fitted.yaml
    """
    from .calibrate import (check_profile_text, fit_measured, fit_text, fitted_profile,
                            measured_threads, profile_yaml)
    from .hardware import get_profile
    from .measure import check_threads, layer_tables
    from .report import to_json
    from .zoo import resolve

    check_output(output)
    if threads is not None:
        check_threads(threads)
    base = get_profile(hw) if hw else None
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
        write_output(output, text)
        if fmt != "json":
            click.echo(f"wrote {output}; use it with --hw {output}")


@main.command()
@click.option("--hw", "hw", required=True, help="The profile to judge (id, id:variant or YAML).")
@click.option("--measurements", "-m", required=True,
              help="CSV with at least model,latency_ms; per-layer rows (layer_index, layer) "
                   "from `roofline measure --per-layer` are compared layer by layer.")
@click.option("--dtype", default=None, help="Default: the CSV's, else the profile's.")
@click.option("--threads", "-t", type=int, default=None,
              help="Use the rows at this thread count (needed when the CSV mixes them).")
@click.option("--fusion", type=click.Choice(["none", "tflite", "full"]), default="none",
              show_default=True, help=_FUSION_HELP)
@click.option("--plot", default=None,
              help="Write the predicted-vs-measured scatter (log-log) to this .png/.svg/.pdf.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json", "csv"]),
              default="table", show_default=True)
@click.option("--output", "-o", default=None, help="Write the report here instead of stdout.")
@user_errors
def validate(hw: str, measurements: str, dtype: str | None, threads: int | None, fusion: str,
             plot: str | None, fmt: str, output: str | None) -> None:
    """Predicted vs measured latency per model (and per layer): a table, Spearman r_s of the
    roofline and of MAC counting, MAPE, share within +-20 %, and a scatter plot.

    \b
    roofline validate --hw fitted.yaml --measurements measured.csv --plot accuracy.png
    """
    from .calibrate import render_validation, validation
    from .hardware import get_profile
    from .measure import layer_tables
    from .zoo import resolve

    check_output(output)
    if plot:
        from .plots import figure_suffix

        figure_suffix(plot, "--plot")
        check_output(plot)
    if threads is not None:
        from .measure import check_threads

        check_threads(threads)
    profile = get_profile(hw)
    v = validation(measurements, profile, fusion=fusion, threads=threads, dtype=dtype,
                   check_model=resolve, layer_tables=layer_tables)
    if plot:
        from .plots import figure_bytes
        from .validation_plot import scatter

        title = (f"{profile.name}: predicted vs measured ({Path(measurements).name}, "
                 f"fusion {fusion})")
        fig = scatter(v.models, title=title, stats=v.stats, layers=v.layers,
                      layer_stats=v.layer_stats)
        write_output(plot, figure_bytes(fig, Path(plot).suffix))
    write_output(output, render_validation(v, fmt, plot))


# --------------------------------------------------------------------------- zoo
# The model zoo (zoo.py: names, constructors, published figures with sources) and its
# fidelity report (fidelity.py: our counts beside the published ones and fvcore's).


@main.group()
def zoo() -> None:
    """The model zoo: MobileNetV4 and the paper's baselines at the paper's resolutions."""


@zoo.command("list")
@click.argument("pattern", default="*")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@click.option("--output", "-o", default=None, help="Write to this file instead of stdout.")
@user_errors
def zoo_list(pattern: str, fmt: str, output: str | None) -> None:
    """Every zoo model with its published params, MACs, top-1 and their source.

    PATTERN is a glob on zoo names, e.g. 'mnv4*'.
    """
    from . import zoo as z
    from .report import zoo_list_text

    check_output(output)
    write_output(output, zoo_list_text(z.matching(pattern), fmt))


@zoo.command("show")
@click.argument("name")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def zoo_show(name: str, fmt: str) -> None:
    """One zoo model: constructor, resolution, forms, published figures with their sources,
    and our counts beside them."""
    from . import zoo as z
    from .fidelity import our_counts
    from .report import to_json, zoo_entry_text

    e = z.get(name)
    ours = our_counts(e)
    if fmt == "json":
        click.echo(to_json({**e.to_dict(), "ours": {"params": ours.params, "macs": ours.macs}}))
    else:
        click.echo(zoo_entry_text(e, ours))


@zoo.command("fidelity")
@click.option("--output", "-o", default="docs/fidelity.md", show_default=True,
              help="Where to write the report ('-' for stdout).")
@click.option("--check", is_flag=True,
              help="Only check that OUTPUT matches our live counts (fvcore numbers read from "
              "it); exit 1 when it is out of date.")
@user_errors
def zoo_fidelity(output: str, check: bool) -> None:
    """Our params and MACs for every zoo model beside the published ones and fvcore's,
    with a cause for every gap over 5% (docs/fidelity.md; about a minute)."""
    from . import fidelity

    if check:
        problem = fidelity.stale(output)
        if problem:
            click.echo(problem, err=True)
            sys.exit(1)
        click.echo(f"{output} is up to date")
        return
    check_output(output)
    text = fidelity.generate(progress=lambda s: click.echo(f"fvcore and ours: {s}", err=True))
    write_output(output, text)
    if output != "-":
        click.echo(f"wrote {output}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()

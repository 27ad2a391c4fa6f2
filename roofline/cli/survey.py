"""roofline survey: many models on several devices, checked against FlopCounterMode."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from roofline.cli.base import check_output, user_errors, write_output
from roofline.cli.options import GreedyOptions, model_input_options, what_if_options
from roofline.errors import RooflineError
from roofline.render.survey import FORMATS, render

__all__ = ["survey"]

# `roofline survey`: many models x resolutions x devices, in parallel, resumable. The
# library is roofline/survey/ (rendering: roofline/render/survey.py); this module parses,
# reports progress and writes the leaderboard.

_SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".md": "markdown",
                   ".txt": "table"}


class _GreedyOptions(GreedyOptions):
    """``--hw a b c`` and ``-r 224 256`` take several values (see GreedyOptions)."""

    greedy = ("--hw", "--resolution", "-r")


class _SurveyProgress:
    """Progress on stderr: one updating line on a terminal, one line per model otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.counts = {"ok": 0, "failed": 0, "timeout": 0}
        self.fresh = 0

    def __call__(self, row: dict[str, Any], done: int, total: int) -> None:
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


@click.command(cls=_GreedyOptions)
@what_if_options()
@click.argument("patterns", nargs=-1, required=True)
@click.option("--hw", "hw", multiple=True, default=("pixel8_cpu",), show_default=True,
              help="Devices: ids, id:variant, YAML files or globs ('pixel*'); several may "
              "follow one --hw.")
@click.option("--resolution", "-r", "resolutions", type=int, multiple=True,
              help="Input resolutions in pixels, several allowed; default: each model's own. "
              "Not with --input-shape, which fixes the resolution.")
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
              help="Finished rows, for resuming; default: a file in the cache directory "
              "(`roofline cache info`).")
@click.option("--fresh", is_flag=True,
              help="Run every model again (rows of other surveys in the journal are kept).")
@click.option("--retry-failed", is_flag=True, help="Run failed and timed-out models again.")
@click.option("--top", "-k", type=int, default=10, show_default=True,
              help="Models per device in the leaderboard table (0: all).")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format; default: from the --output suffix, else table.")
@click.option("--output", "-o", default=None, help="Write to this file instead of stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@user_errors
@model_input_options(resolution=False)  # its own -r (several values); --input-shape: one
def survey(patterns: tuple[str, ...], hw: tuple[str, ...], resolutions: tuple[int, ...],
           batch: int, dtype: str | None, weight_dtype: str | None, fusion: str,
           workers: int | None, dask_address: str | None, timeout_s: float, no_compare: bool,
           no_cache: bool, journal: str | None, fresh: bool, retry_failed: bool, top: int,
           fmt: str | None, output: str | None, quiet: bool,
           input_shape: tuple[int, ...] | None) -> None:
    """Trace many models and rank them on every device: a leaderboard.

    PATTERNS are zoo names, timm names, timm globs ('timm:*mobilenet*', 'timm:*'),
    zoo globs ('zoo:mnv4*') or path/to/file.py:factory. A model that fails is a row with
    its reason; an interrupted survey resumes where it stopped when run again.

    \b
    roofline survey 'timm:*mobilenet*' --hw pixel8_cpu h100_sxm --workers 2
    roofline survey 'zoo:*' -r 224 256 --hw 'pixel*' -o survey.csv
    roofline survey mynet.py:tiny --input-shape 1,3,64,64
    """
    # deferred: heavy import (pandas, with the survey modules; `--help` stays fast)
    from roofline import survey as library
    from roofline.survey.rows import NO_INPUT_SIZE  # deferred: as above

    if fmt is None:
        fmt = _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "table") if output else "table"
    if fmt == "parquet" and not output:
        raise RooflineError("--format parquet is binary; give --output FILE.parquet")
    if input_shape is not None and resolutions:
        raise RooflineError("--resolution and --input-shape conflict: give one (the shape "
                            "fixes the resolution; its first dim is the batch)")
    if input_shape is not None and batch != 1 and batch != input_shape[0]:
        raise RooflineError(f"--batch {batch} disagrees with --input-shape "
                            f"{','.join(map(str, input_shape))}: its first dim is the batch")
    if top < 0:
        raise RooflineError(f"--top must be >= 0, got {top}")
    check_output(output, inputs=[journal])
    if journal:
        check_output(journal)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401  # deferred: heavy import, only to fail early
        except ImportError:
            raise RooflineError("--format parquet needs pyarrow: pip install pyarrow") from None
    tasks = library.expand(patterns, keep_going=True)  # a name that is no model is a failed row
    result = library.survey(
        patterns, hw, resolutions=resolutions or (None,), batch=batch, dtype=dtype,
        weight_dtype=weight_dtype, fusion=fusion, workers=workers, dask=dask_address,
        timeout_s=timeout_s, compare=not no_compare, cache=not no_cache,
        journal=journal or "auto", fresh=fresh, retry_failed=retry_failed,
        progress=_SurveyProgress(quiet), tasks=tasks, input_shape=input_shape)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    sizeless = sum(str(r.get("reason", "")).endswith(NO_INPUT_SIZE) for r in result.rows)
    if sizeless:
        click.echo(f"note: {sizeless} model(s) have no default input size: pass --resolution "
                   "or --input-shape, or let the factory return (model, input_shape)", err=True)
    if result.interrupted:
        done = f"interrupted: {len(result.rows)} of {result.total} rows finished"
        click.echo(f"{done}, kept in {result.journal}; run the same command again to resume"
                   if result.journal else f"{done}; no journal kept them, so a new run starts "
                   "over", err=True)
        raise click.exceptions.Exit(130)  # not sys.exit: user_errors reads that as the model's
    write_output(output, render(result, fmt, top))

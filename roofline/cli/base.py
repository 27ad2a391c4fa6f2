"""The command line's plumbing: one-line errors, atomic output files, the root group.

Every user mistake surfaces as one line on stderr and exit code 2 (``RooflineError``);
output files are written atomically, so a failed command leaves nothing half-written.
Heavy imports (torch, pandas) happen inside the commands that need them, so ``--help`` and
``hw list`` start fast.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import stat
import sys
import threading
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from roofline import __version__
from roofline.errors import InputError, OutputError, RooflineError, TraceError

__all__ = ["FORMATS", "Deadline", "check_output", "check_timeout", "fail", "main", "user_errors",
           "write_output"]

FORMATS = ["table", "csv", "json", "markdown"]


# --------------------------------------------------------------------------- plumbing


def fail(message: str) -> None:
    """Print one error line (a multi-line message is folded onto it) and exit with code 2."""
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(2)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command at the boundary with the user's code: RooflineError becomes one stderr
    line and exit code 2, Ctrl-C exit 130, and a ``sys.exit()`` called by a model's factory
    or forward (which would otherwise end the command silently, with nothing written) an
    error that names it. No traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RooflineError as e:
            fail(str(e))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except SystemExit as e:
            fail(f"the model's code called sys.exit({e.code!r}) before the command finished; "
                 "nothing was written")

    return wrapper


class Deadline:
    """``with Deadline(seconds, what):`` raises TraceError when the block runs longer (a
    model whose forward never returns). Uses SIGALRM, so it works in the main thread; where
    that is not possible (another thread, no SIGALRM) the block runs without a deadline."""

    def __init__(self, seconds: float | None, what: str) -> None:
        self.seconds, self.what = seconds, what
        self._armed = False

    def _expire(self, signum: int, frame: Any) -> None:
        raise TraceError(f"{self.what} did not finish within {self.seconds:g} s (--timeout); "
                         "a forward that never returns, or raise --timeout")

    def __enter__(self) -> Deadline:
        if self.seconds and hasattr(signal, "SIGALRM") \
                and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self._armed = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)


def check_timeout(seconds: float | None) -> float | None:
    """A --timeout value: positive and finite, or None for no deadline."""
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise InputError(f"--timeout must be a positive number of seconds, got {seconds}")
    return seconds


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | None, inputs: Iterable[str | os.PathLike[str] | None] = ()) -> None:
    """Fail before any work when ``path`` cannot be written, or is one of the command's
    ``inputs`` (writing it would destroy what the command reads)."""
    if not path or path == "-":
        return
    p = Path(path)
    for source in inputs:
        if source and Path(source).is_file() and (
                _same_file(p, Path(source)) or os.path.realpath(p) == os.path.realpath(source)):
            raise OutputError(f"cannot write {path}: it is also an input of this command "
                              f"({source}); choose another output path")
    if p.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory; expected a file path")
    if p.exists() and not stat.S_ISREG(os.stat(p).st_mode):
        return  # a device, FIFO or terminal: written to directly, its directory is not touched
    target = p.resolve() if p.is_symlink() else p
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {path}: directory {parent} is not writable")


def write_output(path: str | None, text: str | bytes,
                 inputs: Iterable[str | os.PathLike[str] | None] = ()) -> None:
    """Write ``text`` to ``path``, or to stdout when no path is given.

    A regular file (or a new one) is replaced atomically: a temp file beside it, then a
    rename, keeping an existing file's permissions; a symlink to a regular file keeps the
    link and replaces the file it points to. Anything else (/dev/null, a FIFO, a terminal,
    a link to one) is opened and written to directly, never replaced. An output that is
    also one of ``inputs`` is refused."""
    if not path or path == "-":
        click.echo(text if isinstance(text, str) else text.decode(), nl=not str(text).endswith("\n"))
        return
    check_output(path, inputs)
    p = Path(path)
    data = text.encode() if isinstance(text, str) else text
    try:
        st = os.stat(p) if p.exists() else None
        if st is not None and not stat.S_ISREG(st.st_mode):
            with open(p, "wb") as f:
                f.write(data)
            return
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e
    target = p.resolve() if p.is_symlink() else p
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".",
                               prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)  # mkstemp makes 0600: a new file respects the umask, an old keeps its mode
        os.replace(tmp, target)
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

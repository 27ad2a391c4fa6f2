"""Options shared by several commands, defined once: what-if devices (``--peak``,
``--mem-bw``, ``--peak-scale``, ``--bw-scale``) wherever ``--hw`` is taken, and the model's
input (``--resolution``, ``--input-shape``) wherever a model is named."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import click

from roofline.cli.base import user_errors
from roofline.errors import InputError, NoInputShapeError
from roofline.models.resolve import parse_shape

__all__ = ["GreedyOptions", "what_if_options", "what_if_devices", "expand_devices", "model_input_options", "parse_shape",
           "WHAT_IF_OPTIONS"]

WHAT_IF_OPTIONS = ("--peak", "--mem-bw", "--peak-scale", "--bw-scale")
_GLOB_CHARS = frozenset("*?[")
_NEGATIVE_NUMBER = re.compile(r"-\d+(\.\d*)?")


class GreedyOptions(click.Command):
    """Lets ``--hw a b c`` (and the other options in ``greedy``) take several values, as a
    user types them: every word up to the next option belongs to the option (``--hw a --hw
    b`` also works). Subclass with the command's own ``greedy``."""

    greedy: tuple[str, ...] = ("--hw",)

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


def what_if_devices(hw: Any, *, peak: float | None = None, mem_bw: float | None = None,
                    peak_scale: float | None = None, bw_scale: float | None = None,
                    dtype: str | None = None) -> Any:
    """``hw`` (one spec, or a sequence of specs and globs) as what-if profiles; unchanged
    when no what-if is asked."""
    from roofline.hardware.registry import get_profile  # deferred: reads the registry
    from roofline.hardware.whatif import what_if  # deferred: with the registry

    asked = {"--peak": peak, "--mem-bw": mem_bw, "--peak-scale": peak_scale,
             "--bw-scale": bw_scale}
    if all(v is None for v in asked.values()):
        return hw
    given = ", ".join(k for k, v in asked.items() if v is not None)
    if not hw:
        raise InputError(f"{given} changes a device: pass --hw too")

    def one(spec: Any) -> Any:
        return what_if(get_profile(spec), peak=peak, mem_bw=mem_bw, peak_scale=peak_scale,
                       bw_scale=bw_scale, dtype=dtype)

    if isinstance(hw, str) or not isinstance(hw, Sequence):
        return one(hw)
    return tuple(one(s) for s in expand_devices(hw))


def expand_devices(hw: Sequence[Any]) -> list[Any]:
    """``--hw`` values as a list of specs: comma lists split, globs on ids expanded
    ("pixel8*"), profiles passed through, duplicates once."""
    from roofline.hardware.registry import profile_ids  # deferred: reads the registry

    specs: list[Any] = []
    for spec in hw:
        parts = [p.strip() for p in spec.split(",") if p.strip()] if isinstance(spec, str) \
            else [spec]
        for part in parts:
            matches = profile_ids(pattern=part) if isinstance(part, str) and \
                _GLOB_CHARS & set(part) else []
            if isinstance(part, str) and _GLOB_CHARS & set(part) and not matches:
                raise InputError(f"--hw pattern {part!r} matches no device; "
                                 "`roofline hw list` shows the registry")
            specs += matches or [part]
    return list(dict.fromkeys(specs))


def what_if_options(hw_param: str = "hw", dtype_param: str | None = "dtype"
                    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``--peak``, ``--mem-bw``, ``--peak-scale``, ``--bw-scale`` to a command: the
    command's ``hw_param`` then arrives as what-if profiles (:func:`what_if_devices`), which
    every lookup (``get_profile``) passes through. Place it below ``@click.command()``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, peak: float | None, mem_bw: float | None,
                    peak_scale: float | None, bw_scale: float | None, **kwargs: Any) -> Any:
            def apply() -> None:
                kwargs[hw_param] = what_if_devices(
                    kwargs.get(hw_param), peak=peak, mem_bw=mem_bw, peak_scale=peak_scale,
                    bw_scale=bw_scale, dtype=kwargs.get(dtype_param) if dtype_param else None)

            user_errors(apply)()
            return fn(*args, **kwargs)

        for option in reversed((
                click.option("--peak", type=float, default=None, metavar="MACS_PER_S",
                             help="What-if: the device's peak MACs/s at the analysed dtype, "
                             "e.g. 2e12 (the device is labelled a what-if)."),
                click.option("--mem-bw", type=float, default=None, metavar="BYTES_PER_S",
                             help="What-if: the device's DRAM bandwidth in bytes/s, e.g. 1e11."),
                click.option("--peak-scale", type=float, default=None, metavar="X",
                             help="What-if: multiply the device's peak MACs/s by X."),
                click.option("--bw-scale", type=float, default=None, metavar="X",
                             help="What-if: multiply the device's DRAM bandwidth by X."))):
            wrapper = option(wrapper)
        return wrapper

    return decorate


def model_input_options(*, resolution: bool = True, input_shape: bool = True
                        ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The model's input, the same on every command: ``--resolution`` / ``-r`` (pixels) and
    ``--input-shape`` (e.g. 1,3,224,224; parsed here into a tuple). Leave out an option the
    command already declares (``resolution=False``). A model without a default input size
    then gets an error naming this command's options. Place it directly above the
    function, below ``@user_errors``."""
    names = [o for o, on in (("--resolution", resolution), ("--input-shape", input_shape)) if on]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if input_shape and kwargs.get("input_shape") is not None:
                kwargs["input_shape"] = parse_shape(kwargs["input_shape"])
            try:
                return fn(*args, **kwargs)
            except NoInputShapeError as e:
                have = _command_options(names)
                ways = f"pass {' or '.join(have)}, or " if have else ""
                raise InputError(f"{e.label} has no default input size; {ways}let its factory "
                                 "return (model, input_shape) or give the module an "
                                 "input_shape attribute") from None

        if input_shape:
            wrapper = click.option(
                "--input-shape", default=None, metavar="SHAPE",
                help="The model's input shape, e.g. 1,3,224,224 (overrides --resolution; its "
                "first dim is the batch).")(wrapper)
        if resolution:
            wrapper = click.option(
                "--resolution", "-r", type=int, default=None,
                help="Input resolution in pixels; default: the zoo's (paper's), timm's, or "
                "what a file's factory declares.")(wrapper)
        return wrapper

    return decorate


def _command_options(added: Sequence[str]) -> list[str]:
    """The input options of the running command: those added here and those it declares."""
    ctx = click.get_current_context(silent=True)
    have = {o for p in (ctx.command.params if ctx else ()) for o in getattr(p, "opts", ())}
    return [o for o in ("--resolution", "--input-shape") if o in have or o in added]

"""roofline cache: the trace cache."""

from __future__ import annotations

import click

from roofline.cli.base import user_errors

# --------------------------------------------------------------------------- cache


__all__ = ["cache_group"]


@click.group("cache")
def cache_group() -> None:
    """The trace cache: repeated analyses skip tracing and never import torch."""


@cache_group.command("info")
@user_errors
def cache_info() -> None:
    """Where the cache lives, how many traces it holds and their size."""
    # deferred: keeps `roofline --help` fast
    from roofline.cache import info
    from roofline.render.report import cache_info_text

    click.echo(cache_info_text(info()))


@cache_group.command("clear")
@user_errors
def cache_clear() -> None:
    """Delete every cached trace."""
    from roofline.cache import cache_dir, clear  # deferred: keeps `roofline --help` fast

    click.echo(f"removed {clear()} cached traces from {cache_dir()}")

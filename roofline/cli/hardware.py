"""roofline hw: the hardware registry."""

from __future__ import annotations

import click

from roofline.cli.base import check_output, user_errors, write_output
from roofline.hardware.registry import get_profile, list_profiles
from roofline.hardware.runtime import get_runtime
from roofline.render.report import hardware_list_text, hardware_text, to_json

__all__ = ["hw", "hw_list", "hw_show"]

# --------------------------------------------------------------------------- hw


@click.group()
def hw() -> None:
    """The hardware registry: list devices, show one with its sources."""


@hw.command("list")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@click.option("--output", "-o", default=None, help="Write to this file instead of stdout.")
@user_errors
def hw_list(fmt: str, output: str | None) -> None:
    """Every registered device at its default dtype (variants included)."""
    check_output(output)
    write_output(output, hardware_list_text(list_profiles(), fmt))


@hw.command("show")
@click.argument("hardware_id")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def hw_show(hardware_id: str, fmt: str) -> None:
    """One device: every figure with its basis, source and note, and its ridge points."""
    p = get_profile(hardware_id)
    if fmt == "json":
        click.echo(to_json(p.to_dict()))
        return
    click.echo(hardware_text(p, get_runtime(p.runtime) if p.runtime else None))

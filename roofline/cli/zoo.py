"""roofline zoo: the model zoo and its published figures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from roofline.cli.base import check_output, user_errors, write_output

__all__ = ["zoo", "zoo_list", "zoo_show", "zoo_fidelity", "fidelity_document", "fidelity_stale"]

# --------------------------------------------------------------------------- zoo
# The model zoo (zoo.py: names, constructors, published figures with sources) and its
# fidelity report (fidelity.py: our counts beside the published ones and fvcore's).


@click.group()
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
    from roofline.models import zoo as z  # deferred: heavy import (pandas via render)
    from roofline.render.report import zoo_list_text  # deferred: heavy import

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
    from roofline.models import zoo as z  # deferred: heavy import
    from roofline.models.fidelity import Row, explanation, our_counts  # deferred: heavy import
    from roofline.render.report import to_json, zoo_entry_text  # deferred: heavy import

    e = z.get(name)
    ours = our_counts(e)
    if fmt == "json":
        click.echo(to_json({**e.to_dict(), "ours": {"params": ours.params, "macs": ours.macs}}))
    else:
        row = Row(e, ours, None)
        gaps = {fig: explanation(row, fig) for fig in ("params_m", "macs_g")}
        click.echo(zoo_entry_text(e, ours, gaps))


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
    if check:
        problem = fidelity_stale(output)
        if problem:
            click.echo(problem, err=True)
            sys.exit(1)
        click.echo(f"{output} is up to date")
        return
    check_output(output)
    text = fidelity_document(progress=lambda s: click.echo(f"fvcore and ours: {s}", err=True))
    write_output(output, text)
    if output != "-":
        click.echo(f"wrote {output}", err=True)



def fidelity_document(rows: list[Any] | None = None,
                      progress: Callable[[str], None] | None = None) -> str:
    """The markdown of docs/fidelity.md for ``rows`` (default: the whole zoo, fvcore counted,
    about a minute)."""
    from roofline.models import fidelity  # deferred: heavy import (pandas, analysis)
    from roofline.render.fidelity import fidelity_markdown  # deferred: heavy import

    rows = fidelity.collect(progress=progress) if rows is None else rows
    return fidelity_markdown(rows, fidelity.explanations(rows), fidelity.versions(),
                             fidelity.GAP)


def fidelity_stale(path: str | Path = "docs/fidelity.md") -> str | None:
    """None when the file at ``path`` matches our live counts (fvcore numbers read from the
    file), else one line saying what differs."""
    from roofline.models import fidelity, zoo  # deferred: heavy import
    from roofline.render.fidelity import first_difference  # deferred: heavy import

    p = Path(path)
    if not p.is_file():
        return f"{path} does not exist; run `roofline zoo fidelity` (make fidelity)"
    text = p.read_text()
    cached = fidelity.read_fvcore(text)
    missing = [e.name for e in zoo.entries() if e.name not in cached]
    if missing:
        return (f"{path} has no fvcore counts for {', '.join(missing)}; run `roofline zoo "
                "fidelity` (make fidelity)")
    return first_difference(str(path), text, fidelity_document(fidelity.collect(fvcore=cached)))

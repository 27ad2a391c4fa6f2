"""The notebooks in notebooks/: git holds them without outputs, and each runs top to bottom.

Each notebook is executed in a fresh ``python3`` kernel (this interpreter's ipykernel), with
the working directory at notebooks/ and the environment of the test run, so the private trace
cache of conftest.py applies: a fresh clone traces every model from scratch. A notebook's
prose is kept honest by its own ``# check:`` cells (one per section, tagged ``checks``, with
the asserts behind the numbers its prose quotes), so any error, a failed check included, fails
the test.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ("01_tour.ipynb", "02_ridge_point_sweep.ipynb", "03_custom_hardware.ipynb")
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))

# private names of the package: notebooks show the public API only
PRIVATE = re.compile(r"\broofline(\.\w+)*\._\w|\bfrom roofline(\.\w+)* import .*\b_\w")


def committed(name: str) -> nbformat.NotebookNode:
    """The notebook as git holds it (the index, i.e. what a commit would record); the file
    itself when git does not track it (a new notebook, or a checkout without git).

    ``make notebooks`` executes the working copies in place for viewing; what must stay
    stripped is what reaches git.
    """
    path = NOTEBOOKS / name
    git = shutil.which("git")
    if git is not None:
        rel = path.relative_to(ROOT).as_posix()
        shown = subprocess.run([git, "show", f":{rel}"], cwd=ROOT, capture_output=True,
                               text=True, check=False)
        if shown.returncode == 0:
            return nbformat.reads(shown.stdout, as_version=4)
    return nbformat.read(path, as_version=4)


def test_the_three_notebooks_are_there():
    assert set(EXPECTED) <= set(ALL), f"missing: {sorted(set(EXPECTED) - set(ALL))}"


@pytest.mark.parametrize("name", ALL)
def test_git_holds_no_outputs(name):
    nb = committed(name)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name} cell {i}"
        hint = "strip it: `git checkout notebooks/` after `make notebooks`, or clear outputs"
        assert cell.outputs == [], f"{where} has outputs; {hint}"
        assert cell.execution_count is None, f"{where} has an execution count; {hint}"
        assert "execution" not in cell.metadata, f"{where} has execution timings; {hint}"


@pytest.mark.parametrize("name", ALL)
def test_notebook_uses_the_public_api(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not PRIVATE.search(cell.source), f"{name} cell {i} uses a private name"


@pytest.mark.parametrize("name", ALL)
def test_checks_are_compact_one_tagged_cell_per_section(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    per_section: dict[str, int] = {}
    section = "(top)"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## "):
            section = cell.source.lstrip().splitlines()[0]
        if cell.cell_type != "code":
            continue
        tagged = "checks" in cell.metadata.get("tags", [])
        assert tagged == ("assert " in cell.source), \
            f"{name} cell {i}: asserts belong in the section's cell tagged 'checks', only there"
        per_section[section] = per_section.get(section, 0) + tagged
    assert max(per_section.values()) == 1, f"{name}: more than one checks cell in a section"


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_notebook_runs_top_to_bottom(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError on any error, a failed `# check:` included

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    data = [o.get("data", {}) for o in outputs]
    assert any("image/png" in d for d in data), f"{name} shows no figure"
    assert any("<table" in d.get("text/html", "") for d in data), f"{name} shows no table"
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors

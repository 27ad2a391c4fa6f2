"""Outputs that refactors must leave byte-identical: CLI tables, JSON, CSV, markdown, and the
data every figure draws (tests/golden_cases.py lists the cases and regenerates the files)."""

from __future__ import annotations

import pytest

import golden_cases as cases


#: cases that trace all 27 zoo models on a cold cache (fit and validate read the measured CSV)
SLOW = {"fit.json", "fit_cv.txt", "validate.json", "validate.csv"}
#: the inner loop keeps one model's analyses; `make test` checks all four
SLOW |= {n for n in cases.CLI_CASES if n.startswith("analyze_") and "mnv4_conv_small" not in n}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in sorted(cases.CLI_CASES)])
def test_cli_output_unchanged(name: str) -> None:
    expected = (cases.GOLDEN / name).read_text()
    assert cases.cli_output(cases.CLI_CASES[name]) == expected


@pytest.mark.parametrize("name", sorted(cases.PLOT_CASES))
def test_figure_data_unchanged(name: str) -> None:
    expected = (cases.GOLDEN / name).read_text()
    assert cases.plot_output(*cases.PLOT_CASES[name]) == expected

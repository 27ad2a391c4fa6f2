"""roofline report: one self-contained HTML file, checked as text and in a real headless
browser (Debian's chromium; the browser test skips when it is not installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import roofline
from roofline.cli import main
from roofline.render.html_report import report_html
from roofline.report import SWEEP_RPS, build_report

MODEL, DEVICES = "mnv4_conv_small", ["pixel8_cpu", "h100_sxm"]


@pytest.fixture(scope="module")
def html_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    res = CliRunner().invoke(main, ["report", MODEL, "--hw", *DEVICES, "--batch", "4",
                                    "-o", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


def test_report_is_self_contained(html_file: Path) -> None:
    text = html_file.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # nothing to fetch: no external script, stylesheet, image or font
    assert not re.search(r"<(script|img|iframe)[^>]+src=|<link[^>]+href=|@import|url\(http",
                         text, re.I)
    assert "Plotly.newPlot" in text and len(text) > 3_000_000  # plotly.js inlined
    for section in ("Summary", "Devices", "Roofline per device", "Ridge-point sweep",
                    "Layers ("):
        assert f"<h2>{section}" in text
    for div in ("devices", "roofline-0", "roofline-1", "sweep"):
        assert f'id="{div}"' in text
    assert "per image (batch 4)" in text and "published per image" in text


def test_report_numbers_match_analyze() -> None:
    rep = build_report(MODEL, DEVICES)
    d = rep.devices()
    for i, dev in enumerate(DEVICES):
        a = roofline.analyze(MODEL, hw=dev)
        assert d["latency_s"][i] == pytest.approx(a.totals["latency_s"], rel=1e-12)
        assert d["compute_bound_s"][i] + d["memory_bound_s"][i] == pytest.approx(
            a.totals["latency_s"])
    # the sweep holds the first device's peak: at its own ridge point it is that device
    s = rep.sweep
    assert list(s["rp"]) == list(SWEEP_RPS)
    roof = rep.first.roof
    macs, nbytes = rep.first.layers["macs"], rep.first.layers["bytes"]
    for rp in (0.0, 5.0, 250.0):
        by_hand = (macs.clip(lower=nbytes * rp)).sum() / roof.peak_macs_per_s
        assert s.loc[s["rp"] == rp, "latency_s"].iloc[0] == pytest.approx(by_hand, rel=1e-12)
    html = report_html(rep)
    rows = re.search(r"<h2>Layers \((\d+)\)</h2>", html)
    assert int(rows.group(1)) == len(rep.first.layers)
    for hover in ("layer %{customdata[0]}", "op %{customdata[1]}", "MACs %{customdata[2]}",
                  "bytes %{customdata[3]}", "time %{customdata[4]} ms", "%{customdata[5]}-bound"):
        assert hover in html


def test_report_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["report", MODEL, "-o", str(tmp_path / "r.txt")])
    assert res.exit_code == 2 and "expected an .html file" in res.stderr
    assert not (tmp_path / "r.txt").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                    "(apt-get install chromium) for the headless-browser check")
def test_report_draws_offline_in_a_browser(html_file: Path) -> None:
    """Loads with every host unresolvable (offline), draws every chart (plotly's svg in each
    chart's div) and logs no script error."""
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
             "--dump-dom", html_file.as_uri()],
            capture_output=True, text=True, timeout=120)
    dom, log = res.stdout, res.stderr
    assert res.returncode == 0, log[-2000:]
    assert "Uncaught" not in log and "net::ERR" not in log, log[-2000:]
    for div in ("devices", "roofline-0", "roofline-1", "sweep"):
        start = dom.index(f'id="{div}"')
        chart = dom[start:start + 200_000]
        assert 'class="main-svg"' in chart[:chart.find('<h', 1) if '<h' in chart else None], div
    assert dom.count('class="main-svg"') >= 2 * 4  # plotly draws two svg layers per chart
    assert dom.count("scatterlayer") >= 3 and dom.count("barlayer") >= 1



@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                    "(apt-get install chromium) for the headless-browser check")
def test_layer_table_sorts_on_a_click(html_file: Path, tmp_path: Path) -> None:
    """Two clicks on the layer table's MACs header sort it by MACs, largest first."""
    probe = """<script>
    var t = document.querySelectorAll('table.sortable');
    var layers = t[t.length - 1], th = layers.querySelectorAll('th')[3];
    th.click(); th.click();
    document.body.setAttribute('data-first',
        layers.tBodies[0].rows[0].cells[3].dataset.v + ',' + th.className);
    </script></body>"""
    page = tmp_path / "probe.html"
    page.write_text(html_file.read_text(encoding="utf-8").replace("</body>", probe))
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120)
    first = re.search(r'data-first="([^"]*)"', res.stdout)
    assert first, res.stderr[-2000:]
    macs, cls = first.group(1).split(",")
    a = roofline.analyze(MODEL, hw=DEVICES[0], batch=4)
    assert int(float(macs)) == int(a.layers["macs"].max()) and cls == "desc"

"""report: one self-contained HTML file that a real browser renders with all its parts."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from fake_results import write_synthetic_run

from fedsim.cli import main
from fedsim.record.report import write_comparison_report, write_report

CHROMIUM = next(
    (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)"
)


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return write_report(write_synthetic_run(tmp_path, name="farm", rounds=12))


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html
    urls = set(re.findall(r"""(?:src|href)=["']([^"']+)""", html))
    assert all(u.startswith(("#", "data:")) for u in urls), urls
    assert "http://" not in html.replace("http://www.w3.org/", "")
    assert "https://" not in html


def test_report_is_deterministic(report: Path) -> None:
    first = report.read_bytes()
    assert write_report(report.parent).read_bytes() == first


@needs_chromium
def test_chromium_renders_report(report: Path, tmp_path: Path) -> None:
    dom = _chromium("--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "<title>fedsim report — farm</title>" in html
    assert html.count("<figure") == 6  # metric/time, metric/bytes, participation, timeline, links
    assert html.count("<svg") >= 6  # + topology
    assert 'class="topology"' in html
    assert html.count("<table") >= 4  # summary, rounds, clients, links
    for heading in ("Plots", "Topology", "Summary", "Tables", "Configuration"):
        assert f">{heading}</h2>" in html
    shot = tmp_path / "report.png"
    res = _chromium(
        "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", report.as_uri()
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a blank page is a few kB


@needs_chromium
def test_chromium_renders_comparison(tmp_path: Path) -> None:
    runs = [
        write_synthetic_run(tmp_path, name="a", rounds=8),
        write_synthetic_run(tmp_path, name="b", rounds=8, codec="int8"),
        write_synthetic_run(tmp_path, name="c", rounds=8, metric_name="mean_return"),
    ]
    path = write_comparison_report(runs, tmp_path / "cmp")
    dom = _chromium("--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'class="warn"' in dom.stdout  # the mismatched run is flagged
    assert 'class="compare"' in dom.stdout
    assert dom.stdout.count("<svg") >= 2 + 3 * 6


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_synthetic_run(tmp_path, name="a", rounds=5)
    b = write_synthetic_run(tmp_path, name="b", rounds=5)
    assert main(["report", str(a)]) == 0
    assert (a / "report.html").is_file()
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "report.html").is_file()
    assert "wrote" in capsys.readouterr().out


def test_table_cells_are_escaped_text_numbers_as_written_and_none_a_dash() -> None:
    from fedsim.record.html import html_table

    got = html_table(["a<b", "n"], [["x & <y>", 3], [None, 0.25], [True, -1.5e-07], []], "t")
    assert got == (
        '<div class="scroll"><table class="t"><thead><tr><th>a&lt;b</th><th>n</th></tr>'
        "</thead><tbody><tr><td>x &amp; &lt;y&gt;</td><td>3</td></tr>"
        "<tr><td>—</td><td>0.25</td></tr><tr><td>True</td><td>-1.5e-07</td></tr><tr></tr>"
        "</tbody></table></div>"
    )
    assert "<td><b>1</b></td>" in html_table(["h"], [["<b>1</b>"]], raw=True)

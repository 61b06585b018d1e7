"""What `fedsim run` draws and imports: nothing the user did not ask for.

Plots are SVG unless `--png`; report.html inlines those very files instead of drawing
every figure a second time; the figures are drawn by a helper process (the run's own
process never imports matplotlib) and `--no-plots` starts none; commands that only read
a topology file import neither the network stack nor the plotting or data libraries.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_results import write_synthetic_run

from fedsim.record.plots import plot_run
from fedsim.record.report import write_report

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["--set", "fl.rounds=2", "--set", "fl.target=null"]
HEAVY = ("matplotlib", "sklearn", "numba", "aiohttp", "rich", "scipy")
UNUSED = ("scipy.linalg", "numpy.f2py")
"""Imported only for Numba's BLAS table by SciPy's own import (fedsim.blas_preload)."""


def _modules_after(argv: list[str]) -> dict[str, object]:
    """Run `fedsim ARGV` in a fresh interpreter; its exit code and the heavy packages it
    imported."""
    code = (
        "import json, sys\n"
        "from fedsim.cli import main\n"
        f"rc = main({argv!r}, own_process=True)\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        f"unused = sorted(set(sys.modules) & set({UNUSED!r}))\n"
        "print('MODULES ' + json.dumps({'rc': rc, 'heavy': heavy, 'unused': unused}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    lines = proc.stdout.splitlines()
    line = next(ln for ln in lines if ln.startswith("MODULES "))
    return {**json.loads(line[len("MODULES ") :]), "stdout": lines[:-1]}


def test_run_without_plots_imports_no_matplotlib(tmp_path: Path) -> None:
    argv = ["run", "topologies/default.yaml", *SHORT, "--quiet", "--no-plots",
            "--out", str(tmp_path)]  # fmt: skip
    got = _modules_after(argv)
    assert got["rc"] == 0
    assert [ln.split(":")[0] for ln in got["stdout"]] == ["results", "default (sync, fedavg)"]
    assert "matplotlib" not in got["heavy"]
    assert "sklearn" not in got["heavy"]  # digits come from the CSV, not sklearn.datasets
    assert "rich" not in got["heavy"]  # --quiet: no progress display to draw
    assert got["unused"] == []  # Numba's BLAS table is loaded alone
    (run,) = tmp_path.iterdir()
    assert (run / "summary.json").is_file()
    assert not (run / "plots").exists()
    assert not (run / "report.html").exists()


def _console_script(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`fedsim ARGS` as the console script runs it, with an atexit handler that prints
    TEARDOWN if the interpreter's teardown runs."""
    code = (
        "import atexit, sys\n"
        "atexit.register(print, 'TEARDOWN')\n"
        "from fedsim.cli import main\n"
        f"sys.argv[1:] = {args!r}\n"
        "sys.exit(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_console_script_run_skips_the_teardown_and_loses_no_output(tmp_path: Path) -> None:
    """As the console script, `fedsim run` ends its process once the results are written
    and printed (no atexit handler runs); what it printed through a pipe still arrives."""
    args = ["run", "topologies/default.yaml", *SHORT, "--quiet", "--no-plots",
            "--out", str(tmp_path)]  # fmt: skip
    proc = _console_script(args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["results", "default (sync, fedavg)"]
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "audit.json").read_text())["violations"] == []
    assert json.loads((run / "summary.json").read_text())["rounds"] == 2
    for table in run.glob("*.csv"):
        assert table.read_text().endswith("\n"), table.name


def test_console_script_run_under_a_profiler_exits_as_usual(tmp_path: Path) -> None:
    """`python -m cProfile -o FILE -m fedsim run ...` writes FILE when the run ends."""
    stats = tmp_path / "run.prof"
    argv = ["run", "topologies/default.yaml", *SHORT, "--quiet", "--no-plots",
            "--out", str(tmp_path / "out")]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "fedsim", *argv],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert stats.stat().st_size > 0


def test_console_script_error_exits_as_usual(tmp_path: Path) -> None:
    proc = _console_script(["run", str(tmp_path / "missing.yaml")])
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == ["TEARDOWN"]
    assert proc.stderr.startswith("fedsim: error: ")


def test_commands_that_read_a_file_import_only_what_they_need() -> None:
    for argv in (["validate", "topologies/default.yaml"], ["schema"]):
        got = _modules_after(argv)
        assert (got["rc"], got["heavy"]) == (0, []), argv


def test_run_writes_svg_plots_and_png_only_when_asked(tmp_path: Path) -> None:
    from fedsim.cli import main

    for name, extra in (("svg", []), ("png", ["--png"])):
        out = tmp_path / name
        argv = ["run", str(ROOT / "topologies/default.yaml"), *SHORT, "--quiet",
                "--out", str(out), *extra]  # fmt: skip
        assert main(argv) == 0
        (run,) = out.iterdir()
        suffixes = {p.suffix for p in (run / "plots").iterdir()}
        assert suffixes == ({".svg", ".png"} if extra else {".svg"})
        assert (run / "report.html").is_file()


def test_report_from_written_svgs_equals_report_drawn_afresh(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path, name="farm", rounds=12)
    svgs = plot_run(run, run / "plots", ["svg"])
    reused = write_report(run, svgs).read_bytes()
    assert write_report(run).read_bytes() == reused
    assert reused.count(b"<figure id=") == len(svgs) == 6


def test_run_draws_in_a_helper_the_files_plot_run_draws(tmp_path: Path) -> None:
    """`fedsim run` leaves matplotlib to its plot helper process; the figures it writes
    are byte for byte what `plot_run` draws in-process, and report.html inlines all six."""
    argv = ["run", "topologies/default.yaml", *SHORT, "--quiet", "--out", str(tmp_path / "r")]
    got = _modules_after(argv)
    assert got["rc"] == 0
    assert "matplotlib" not in got["heavy"]
    (run,) = (tmp_path / "r").iterdir()
    in_process = plot_run(run, tmp_path / "in-process", ["svg"])
    assert len(in_process) == 6
    for drawn in in_process:
        assert (run / "plots" / drawn.name).read_bytes() == drawn.read_bytes(), drawn.name
    page = (run / "report.html").read_bytes()
    assert page.count(b"<figure id=") == 6
    # the run builds the page from the tables it reads back (not timeline.csv, which the
    # page does not show): the very page `fedsim report` builds from the whole folder
    assert write_report(run, in_process).read_bytes() == page


def test_plot_helper_reports_a_bad_folder_in_one_line(tmp_path: Path) -> None:
    from fedsim.errors import FedsimError
    from fedsim.record.plot_helper import FIGURE_SHARES, PlotHelper

    helper = PlotHelper(["svg"], FIGURE_SHARES)
    helper.prepare(tmp_path / "gone")
    helper.start()
    with pytest.raises(FedsimError) as caught:
        helper.finish()
    assert str(caught.value) == f"no run folder at {tmp_path / 'gone'}"


def test_plot_helper_writes_nothing_for_a_run_that_failed(tmp_path: Path) -> None:
    """The helper reads the run and builds its figures while the run is audited; a run
    that fails (no `start`) gets no plots, and the helper does not outlive it."""
    from fedsim.record.plot_helper import FIGURE_SHARES, PlotHelper

    run = write_synthetic_run(tmp_path, name="a")
    with PlotHelper(["svg"], FIGURE_SHARES) as helper:
        proc = helper._proc
        helper.prepare(run)
    assert proc is not None
    assert proc.poll() is not None
    assert not (run / "plots").exists()
    with PlotHelper(["svg"], FIGURE_SHARES) as helper:  # killed before any job
        proc = helper._proc
    assert proc is not None
    assert proc.poll() is not None


def test_one_core_draws_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from fedsim.record.plot_helper import start_plot_helper

    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert start_plot_helper(["svg"]) is None

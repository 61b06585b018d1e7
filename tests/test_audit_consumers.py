"""Every reader of a results folder says whether the run passed its audit: load_run,
compare (its column, its CSV row, a warning on stderr), report.html (a banner) and sweep
aggregation (failed runs left out and counted). A run whose audit failed still has a
summary.json, so without this its wrong numbers would be shown as if checked."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from fake_results import write_synthetic_run
from topo import tiny_topology

from fedsim.audit import INVARIANTS, AuditError
from fedsim.cli import main
from fedsim.record.aggregate import aggregate, aggregate_markdown, audit_warnings, seed_warnings
from fedsim.record.compare import compare_runs
from fedsim.record.report import write_report
from fedsim.record.runs import load_run
from fedsim.run import run_scenario
from fedsim.sweep import SweepRun

ROUNDS_COMPLETED = "rounds-completed: 0 rounds completed: fl.time_limit (0.001 s)"


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three real runs of a tiny topology: audited clean, audit failed, not audited."""
    root = tmp_path_factory.mktemp("runs")
    base = root / "tiny.yaml"
    base.write_text(yaml.safe_dump(tiny_topology()))
    passed = run_scenario(base, out_root=root, run_name="passed")
    with pytest.raises(AuditError):
        run_scenario(base, overrides=["fl.time_limit=1ms"], out_root=root, run_name="failed")
    unaudited = run_scenario(base, out_root=root, run_name="unaudited", audit=False)
    return {"passed": passed, "failed": root / "failed", "unaudited": unaudited}


def test_load_run_reads_the_audit(folders: dict[str, Path], tmp_path: Path) -> None:
    passed, failed = load_run(folders["passed"]).audit, load_run(folders["failed"]).audit
    assert passed.passed
    assert passed.invariants == len(INVARIANTS)
    assert passed.line() == f"audit passed: {len(INVARIANTS)} invariants"
    assert failed.failed
    assert failed.violations[0].startswith(ROUNDS_COMPLETED)
    unaudited = load_run(folders["unaudited"]).audit
    assert unaudited.state == "not audited"
    assert "no audit.json" in unaudited.line()
    broken = shutil.copytree(folders["passed"], tmp_path / "broken")
    (broken / "audit.json").write_text("{not json", encoding="utf-8")
    assert load_run(broken).audit.state == "not audited"  # it vouches for nothing
    deployed = shutil.copytree(folders["unaudited"], tmp_path / "deployed")
    summary = json.loads((deployed / "summary.json").read_text())
    (deployed / "summary.json").write_text(json.dumps({**summary, "fidelity": "deployment"}))
    assert "a deployment run" in load_run(deployed).audit.line()  # why it has no audit


def test_compare_marks_failed_and_unaudited_runs(folders: dict[str, Path]) -> None:
    table = compare_runs([folders["passed"], folders["failed"], folders["unaudited"]])
    assert table.mismatched == [False, False, False]  # the runs measure the same thing ...
    # (the failed run's time limit ended it early, before its first round: it says so)
    ended, rounds, no_rounds = table.warnings
    assert rounds.startswith("runs did different numbers of rounds")  # 0 in `failed`
    assert "`failed` (rounds.csv is empty)" in no_rounds
    assert ended.startswith("1 of 3 runs ended before their job was done")
    assert "`failed` (time_limit: " in ended
    failed_line, unaudited_line = table.audit_warnings  # ... but two were not checked
    assert "`failed` FAILED its audit" in failed_line
    assert ROUNDS_COMPLETED in failed_line
    assert unaudited_line.startswith("1 of 3 runs were not audited (`unaudited`: no audit.json")
    assert table.quantity("audit").values == [
        f"passed ({len(INVARIANTS)})",
        "FAILED (1 violation)",
        "NOT AUDITED",
    ]
    md = table.to_markdown()
    assert "FAILED its audit" in md
    header = next(line for line in md.splitlines() if line.startswith("| quantity"))
    assert "✗ AUDIT FAILED" in header
    assert "(not audited)" in header
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert [r["audit"] for r in rows] == [f"passed ({len(INVARIANTS)})", "FAILED (1 violation)",
                                          "NOT AUDITED"]  # fmt: skip


def test_compare_command_warns_on_stderr(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(folders["passed"]), str(folders["failed"])]
    assert main(["compare", *args, "--out", str(tmp_path / "cmp"), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert "WARNING: `failed` FAILED its audit" in err
    assert ROUNDS_COMPLETED in err


def test_report_shows_the_audit(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copies = {k: shutil.copytree(v, tmp_path / k) for k, v in folders.items()}
    html = write_report(copies["passed"]).read_text(encoding="utf-8")
    assert f"audit passed: {len(INVARIANTS)} invariants" in html
    assert "AUDIT FAILED" not in html
    assert "NOT AUDITED" not in html
    assert main(["report", str(copies["failed"])]) == 0
    assert "audit FAILED: rounds-completed" in capsys.readouterr().err
    html = (copies["failed"] / "report.html").read_text(encoding="utf-8")
    assert "<title>AUDIT FAILED" in html
    assert 'class="audit-bad"><b>✗ AUDIT FAILED' in html
    assert ROUNDS_COMPLETED in html
    html = write_report(copies["unaudited"]).read_text(encoding="utf-8")
    assert "NOT AUDITED" in html
    assert "no audit.json" in html


def _sweep_runs(points: dict[str, list[Path]], root: Path) -> list[SweepRun]:
    """Sweep entries for run folders copied into `root`, point by point."""
    runs = []
    for label, sources in points.items():
        for seed, source in enumerate(sources, start=1):
            name = f"{label}-seed{seed}"
            shutil.copytree(source, root / name)
            runs.append(SweepRun((("p", label),), seed, (), label, name))
    return runs


def test_sweep_aggregation_leaves_out_runs_whose_audit_failed(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    runs = _sweep_runs(
        {"a": [folders["passed"], folders["failed"]], "b": [folders["passed"]] * 2}, root
    )
    points = aggregate(runs, root)
    assert [len(p.runs) for p in points] == [1, 2]
    assert [d.name for d in points[0].audit_failed] == ["a-seed2"]
    (line,) = audit_warnings(points)
    assert line.startswith("1 of 4 finished runs failed their audit and are left out")
    assert ROUNDS_COMPLETED in line
    spec = SimpleNamespace(name="s", base="tiny.yaml", seeds=[1, 2])
    assert "## Audit" in aggregate_markdown(spec, points)


def test_sweep_aggregation_counts_unaudited_runs(folders: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "runs"
    runs = _sweep_runs({"a": [folders["passed"], folders["unaudited"]]}, root)
    (line,) = audit_warnings(aggregate(runs, root))
    assert line.startswith("1 of 2 aggregated runs were not audited (a-seed2: no audit.json")


def test_to_target_ratios_carry_reach_counts_and_no_false_interval(tmp_path: Path) -> None:
    """The reference reaches the target in 2 of 3 seeds, the other point in 1 of 3 (as
    codec float32 vs topk did): its ratio compares different seeds and has no interval."""
    root = tmp_path / "runs"
    targets = {"ref": [0.8, 0.8, 0.99], "other": [0.8, 0.99, 0.99]}
    runs = []
    for label, per_seed in targets.items():
        for seed, target in enumerate(per_seed, start=1):
            name = f"{label}-seed{seed}"
            write_synthetic_run(root, name=name, seed=seed + (10 if label == "other" else 0),
                                target_metric=target)  # fmt: skip
            runs.append(SweepRun((("p", label),), seed, (), label, name))
    points = aggregate(runs, root, reference="ref")
    assert points[0].reached("bytes_to_target") == [1, 2]
    assert points[1].reached("bytes_to_target") == [1]
    spec = SimpleNamespace(name="s", base="b.yaml", seeds=[1, 2, 3])
    md = aggregate_markdown(spec, points)
    effects = md[md.index("## Against the reference point") :]
    row = next(line for line in effects.splitlines() if line.startswith("| other"))
    cell = row.split(" | ")[4]  # bytes to target
    assert cell.startswith("×")
    assert "n = 1: no interval" in cell
    assert "1/3 vs 2/3 reached" in cell
    assert "not a paired comparison" in cell
    lines = [w for w in seed_warnings(points) if w.startswith("bytes to target")]
    assert lines, seed_warnings(points)
    assert all("with 1 seeds" not in w for w in seed_warnings(points))
    assert "n = 1: no interval" in lines[0]
    assert "1/3 vs 2/3 reached" in lines[0]


def test_audit_json_is_what_the_reader_expects(folders: dict[str, Path]) -> None:
    record = json.loads((folders["failed"] / "audit.json").read_text())
    assert set(record) >= {"invariants", "violations"}  # the format docs/results.md gives

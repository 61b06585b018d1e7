"""compare: the table, its Markdown/CSV files, and how mismatched runs are flagged."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fake_results import write_synthetic_run

from fedsim.cli import main
from fedsim.errors import FedsimError
from fedsim.record.compare import compare_runs, write_compare
from fedsim.record.runs import load_run, parse_causes


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [
        write_synthetic_run(tmp_path, name="base", seed=1),
        write_synthetic_run(tmp_path, name="int8", seed=2, codec="int8"),
        write_synthetic_run(tmp_path, name="rl", task="cartpole", metric_name="mean_return"),
    ]


def test_csv_numbers_equal_summary_exactly(runs: list[Path], tmp_path: Path) -> None:
    _, csv_path = write_compare(compare_runs(runs), tmp_path / "cmp")
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert [r["run"] for r in rows] == ["base", "int8", "rl"]
    for row, run in zip(rows, runs, strict=True):
        summary = json.loads((run / "summary.json").read_text())
        for key in ("final_metric", "best_metric", "time_to_target_s", "sim_time_s"):
            assert float(row[key]) == summary[key]
        for key in ("bytes_to_target", "bytes_up", "bytes_down", "wire_bytes_up", "rounds"):
            assert int(row[key]) == summary[key]
        for cause, n in summary["dropouts"].items():
            assert int(row[f"dropouts.{cause}"]) == n


def test_deltas_against_first_run(runs: list[Path]) -> None:
    table = compare_runs(runs)
    q = table.quantity("bytes_up")
    base, other = q.values[0], q.values[1]
    diff, pct = q.delta(1)
    assert diff == other - base
    assert pct == pytest.approx(100 * (other - base) / base)
    assert q.delta(0) == (0, 0.0)


def test_bytes_to_target_split_adds_up(runs: list[Path]) -> None:
    table = compare_runs(runs[:2])
    up = table.quantity("bytes_up_to_target").values
    down = table.quantity("bytes_down_to_target").values
    total = table.quantity("bytes_to_target").values
    assert [u + d for u, d in zip(up, down, strict=True)] == total


def test_mismatched_runs_are_flagged_not_silent(runs: list[Path], tmp_path: Path) -> None:
    table = compare_runs(runs)
    assert table.mismatched == [False, False, True]
    # the mismatch, then the seed caveat (base is seed 1, int8 seed 2)
    assert len(table.warnings) == 2
    assert "seed noise" in table.warnings[1]
    assert "task" in table.warnings[0]
    assert "metric_name" in table.warnings[0]
    md, csv_path = write_compare(table, tmp_path / "cmp")
    assert "**Warning:**" in md.read_text()
    assert f"⚠ {table.labels[2]}" in md.read_text()
    assert "name=rl" in table.labels[2]
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert [r["mismatch"] for r in rows] == ["", "", "yes"]


def test_missing_run_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(FedsimError, match="no run folder"):
        compare_runs([tmp_path / "nope"])
    partial = write_synthetic_run(tmp_path, name="crashed", complete=False)
    with pytest.raises(FedsimError, match=r"no summary\.json"):
        load_run(partial)


def test_compare_command_writes_files_and_prints(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", *map(str, runs), "--out", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert "WARNING" in printed
    assert "final metric" in printed
    assert (out / "compare.md").is_file()
    assert (out / "compare.csv").is_file()


def test_compare_output_is_deterministic(runs: list[Path], tmp_path: Path) -> None:
    a = write_compare(compare_runs(runs), tmp_path / "a")
    b = write_compare(compare_runs(runs), tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_parse_causes() -> None:
    assert parse_causes("deadline:3;link_down:2") == {"deadline": 3, "link_down": 2}
    assert parse_causes("") == {}
    assert parse_causes(None) == {}

"""An audit.json vouches only for the files it checked, and only when it is whole.

Outside findings: a run folder whose summary.json was edited after the audit (final
accuracy typed in, dropouts changed) still read "✓ audit passed: 28"; an audit.json cut to
3 of its invariants read "audit passed: 3 invariants" in report, compare and sweep
aggregation. audit.json now records every file's SHA-256, the code that audited, and how
many invariants it had; every reader checks them (fedsim.record.audit_status).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from fake_results import write_synthetic_run
from topo import tiny_topology

from fedsim.cli import main
from fedsim.errors import FedsimError
from fedsim.record.aggregate import audit_warnings
from fedsim.record.audit_files import RESULT_FILES, write_audit_json
from fedsim.record.audit_status import INCOMPLETE, NOT_AUDITED, VOID, read_audit_status
from fedsim.record.compare import compare_runs
from fedsim.record.invariant_names import KNOWN_INVARIANTS
from fedsim.record.report import write_report
from fedsim.record.runs import VoidRunError, load_run
from fedsim.run import run_scenario

ALL = len(KNOWN_INVARIANTS)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    base = root / "tiny.yaml"
    base.write_text(yaml.safe_dump(tiny_topology()))
    return run_scenario(base, out_root=root, run_name="passed")


@pytest.fixture
def run(real_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(real_run, tmp_path / "run"))


def _audit(folder: Path) -> dict:
    return json.loads((folder / "audit.json").read_text(encoding="utf-8"))


def _edit_summary(folder: Path, **fields: object) -> None:
    path = folder / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}), encoding="utf-8")


def test_a_run_records_a_digest_of_every_results_file(run: Path) -> None:
    record = _audit(run)
    assert set(record["files"]) == set(RESULT_FILES)
    assert all(len(d) == 64 for d in record["files"].values())
    assert record["registered"] == ALL
    assert record["code"] == json.loads((run / "summary.json").read_text())["code"]
    assert read_audit_status(run).line() == f"audit passed: {ALL} invariants"


def test_an_edited_summary_voids_the_audit_everywhere(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit_summary(run, final_metric=0.99)
    status = read_audit_status(run)
    assert status.state == VOID
    assert status.failed
    assert not status.passed
    assert status.violations == ("AUDIT VOID: summary.json changed since the audit",)
    assert status.short() == "AUDIT VOID"
    assert status.mark() == " ✗ AUDIT VOID"
    html = write_report(run).read_text(encoding="utf-8")
    assert "<title>AUDIT VOID" in html
    assert "✗ AUDIT VOID: summary.json changed since the audit" in html
    assert "audit passed" not in html
    assert main(["report", str(run)]) == 0
    assert "AUDIT VOID: summary.json changed since the audit" in capsys.readouterr().err
    table = compare_runs([run, run])
    assert table.quantity("audit").values == ["AUDIT VOID", "AUDIT VOID"]
    assert "AUDIT VOID: summary.json changed" in table.audit_warnings[0]


@pytest.mark.parametrize("name", ["rounds.csv", "clients.csv", "ledger.csv", "timeline.csv"])
def test_an_edited_or_removed_table_voids_the_audit(run: Path, name: str) -> None:
    with (run / name).open("a", encoding="utf-8") as f:
        f.write("\n")
    assert read_audit_status(run).violations[0] == f"AUDIT VOID: {name} changed since the audit"
    (run / name).unlink()
    assert read_audit_status(run).violations[0] == f"AUDIT VOID: {name} is missing since the audit"


def test_a_void_run_is_left_out_of_a_sweep_like_a_failed_one(run: Path) -> None:
    from types import SimpleNamespace

    _edit_summary(run, dropouts={"deadline": 5})
    data = load_run(run)
    assert data.audit.failed
    point = SimpleNamespace(runs=(), audit_failed=(data,), label="p")
    (line,) = audit_warnings([point])  # type: ignore[list-item]
    assert "AUDIT VOID: summary.json changed since the audit" in line


def test_an_audit_with_invariants_deleted_is_incomplete(run: Path) -> None:
    record = _audit(run)
    (run / "audit.json").write_text(json.dumps({**record, "invariants": record["invariants"][:3]}))
    status = read_audit_status(run)
    assert status.state == INCOMPLETE
    assert not status.passed
    assert not status.failed
    assert (
        status.line()
        == f"incomplete audit: 3 of {ALL} invariants; its numbers were not all checked"
    )
    assert status.short() == f"INCOMPLETE (3 of {ALL} invariants)"
    assert status.mark() == " (incomplete audit)"
    html = write_report(run).read_text(encoding="utf-8")
    assert "INCOMPLETE AUDIT" in html
    assert f"3 of {ALL} invariants" in html
    assert (
        compare_runs([run, run]).quantity("audit").values[0]
        == f"INCOMPLETE (3 of {ALL} invariants)"
    )


def test_deleting_invariants_and_the_count_is_still_incomplete(run: Path) -> None:
    """Without a `registered` count, this fedsim's own list is the yardstick."""
    record = _audit(run)
    del record["registered"]
    (run / "audit.json").write_text(json.dumps({**record, "invariants": record["invariants"][:3]}))
    assert read_audit_status(run).note == f"incomplete audit: 3 of {ALL} invariants"


def test_an_older_fedsim_with_fewer_invariants_passes_and_says_so(tmp_path: Path) -> None:
    run = Path(write_synthetic_run(tmp_path, name="old", seed=1))
    fewer = sorted(KNOWN_INVARIANTS)[:20]
    write_audit_json(run, fewer, code="0123456789ab")
    status = read_audit_status(run)
    assert status.passed
    assert status.line() == (
        f"audit passed: 20 invariants (by fedsim code 0123456789ab; this fedsim has {ALL})"
    )
    record = _audit(run)
    (run / "audit.json").write_text(json.dumps({**record, "invariants": fewer[:3]}))
    assert read_audit_status(run).note == "incomplete audit: 3 of 20 invariants"


def test_this_fedsim_with_fewer_invariants_is_incomplete(tmp_path: Path) -> None:
    run = Path(write_synthetic_run(tmp_path, name="cut", seed=1))
    write_audit_json(run, sorted(KNOWN_INVARIANTS)[:20])  # its own code: it has them all
    assert read_audit_status(run).note == f"incomplete audit: 20 of {ALL} invariants"


def test_an_audit_json_without_digests_is_not_audited(run: Path) -> None:
    record = _audit(run)
    del record["files"]
    (run / "audit.json").write_text(json.dumps(record))
    status = read_audit_status(run)
    assert status.state == NOT_AUDITED
    assert "records no digests of the files it checked" in status.line()


def test_an_audit_json_without_the_summary_digest_does_not_vouch(run: Path) -> None:
    record = _audit(run)
    del record["files"]["summary.json"]
    (run / "audit.json").write_text(json.dumps(record))
    status = read_audit_status(run)
    assert status.state == NOT_AUDITED
    assert "holds no digest of summary.json" in status.line()


def test_a_digest_name_may_not_leave_the_folder(run: Path) -> None:
    record = _audit(run)
    record["files"]["../outside.json"] = "0" * 64
    (run / "audit.json").write_text(json.dumps(record))
    assert "'../outside.json' is not a file of the folder" in read_audit_status(run).violations[0]


def test_a_report_written_later_does_not_void_the_audit(run: Path) -> None:
    write_report(run)  # report.html and plots/ come after the audit
    assert read_audit_status(run).passed


def test_the_wall_clock_field_is_not_in_the_digest(run: Path) -> None:
    """Two runs of one file and seed differ only in wall_time_s: same audit.json."""
    _edit_summary(run, wall_time_s=123.0)
    assert read_audit_status(run).passed
    _edit_summary(run, sim_time_s=1.0)
    assert read_audit_status(run).state == VOID


def test_a_run_with_no_round_measured_nothing_but_nothing_is_wrong(tmp_path: Path) -> None:
    """A 0-round run fails `rounds-completed` (nothing measured: exit 2, left out of
    sweeps), but its numbers are an empty run's, not wrong ones: the report says so."""
    from fedsim.audit import AuditError

    base = tmp_path / "tiny.yaml"
    base.write_text(yaml.safe_dump(tiny_topology()))
    with pytest.raises(AuditError):
        run_scenario(base, overrides=["fl.time_limit=1ms"], out_root=tmp_path, run_name="none")
    status = read_audit_status(tmp_path / "none")
    assert status.failed
    assert status.measured_nothing
    assert "its numbers measure nothing" in status.line()
    html = write_report(tmp_path / "none").read_text(encoding="utf-8")
    assert "this run completed no round, so it measured nothing" in html
    assert "are wrong" not in html
    (line,) = compare_runs([tmp_path / "none"]).audit_warnings
    assert "FAILED its audit, it completed no round" in line


@pytest.mark.parametrize("name", ["rounds.csv", "clients.csv", "links.csv", "ledger.csv"])
@pytest.mark.parametrize("blank", ["\n", "\n\n", "\r\n", "   \n"])
def test_a_trailing_blank_line_reads_as_a_void_audit_not_an_error(
    run: Path, name: str, blank: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside audit redteam8, finding 3: a "\\n" appended to clients.csv made report and
    compare fail on `line 5, column ...: expected an integer, got ''`."""
    rows = len(getattr(load_run(run), name.removesuffix(".csv")))
    with (run / name).open("a", encoding="utf-8", newline="") as f:
        f.write(blank)
    data = load_run(run)
    assert len(getattr(data, name.removesuffix(".csv"))) == rows
    assert data.audit.violations == (f"AUDIT VOID: {name} changed since the audit",)
    assert main(["report", str(run)]) == 0
    assert f"AUDIT VOID: {name} changed since the audit" in capsys.readouterr().err


def _unreadable(run: Path, name: str = "rounds.csv") -> None:
    lines = (run / name).read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "x" + lines[1]  # a round number that is not one
    (run / name).write_text("".join(lines), encoding="utf-8")


def test_an_unreadable_file_edited_since_the_audit_is_void_in_one_line(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _unreadable(run)
    with pytest.raises(VoidRunError) as caught:
        load_run(run)
    assert str(caught.value) == (
        f"{run}: AUDIT VOID: rounds.csv changed since the audit, and cannot be read (rounds.csv: "
        "line 2, column 'round': expected an integer, got 'x1')"
    )
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [f"fedsim: error: {caught.value}"]


def test_compare_leaves_out_an_unreadable_void_run_and_compares_the_others(
    real_run: Path, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _unreadable(run)
    other = Path(shutil.copytree(real_run, tmp_path / "other"))
    table = compare_runs([real_run, run, other])
    assert [r.path for r in table.runs] == [real_run, other]
    assert table.audit_warnings[0].startswith(
        "`run` ✗ AUDIT VOID, left out of the comparison: rounds.csv changed since the audit"
    )
    assert main(["compare", str(run), str(other), "--no-plots", "--out", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err
    assert "`run` ✗ AUDIT VOID, left out of the comparison" in err
    assert "the baseline is `other`, the first run that can be read" in err
    (tmp_path / "lone").mkdir()
    assert main(["compare", str(run), "--no-plots", "--out", str(tmp_path / "lone")]) == 2
    assert "no run can be read: `run` ✗ AUDIT VOID" in capsys.readouterr().err


def test_an_unreadable_file_of_a_folder_never_audited_is_still_an_error(run: Path) -> None:
    (run / "audit.json").unlink()
    _unreadable(run)
    with pytest.raises(FedsimError) as caught:
        load_run(run)
    assert not isinstance(caught.value, VoidRunError)
    assert "rounds.csv: line 2, column 'round'" in str(caught.value)


def test_a_topology_json_of_another_shape_is_void_not_a_traceback(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run / "topology.json").write_text('{"nodes": 5}', encoding="utf-8")
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fedsim: error: {run}: AUDIT VOID: topology.json changed")
    assert "`nodes` is not a list of objects" in err


def test_a_sweep_leaves_out_an_unreadable_void_run_as_a_failed_one(
    real_run: Path, tmp_path: Path
) -> None:
    from fedsim.record.aggregate import aggregate
    from fedsim.sweep import SweepRun

    root = tmp_path / "runs"
    for seed in (1, 2):
        shutil.copytree(real_run, root / f"p-s{seed}")
    _unreadable(root / "p-s2")
    runs = [SweepRun((("x", 1),), seed, (), "x=1", f"p-s{seed}") for seed in (1, 2)]
    (point,) = aggregate(runs, root)
    assert [d.name for d in point.runs] == ["p-s1"]
    (line,) = audit_warnings([point])
    assert line.startswith("1 of 2 finished runs failed their audit and are left out")
    assert "p-s2 (x=1): AUDIT VOID: rounds.csv changed since the audit, and cannot be" in line

"""A run whose every request times out (outside audit redteam8, finding 1): no device
ever polls, no round starts, and the audit fails. The explanation must name the request
timeouts (not "it needs clients polling"), and the warnings about the devices must print
although the audit failed, before its error, which stays last (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedsim.cli import main
from fedsim.record.schema import ClientRow
from fedsim.record.tables import read_table

TOPOLOGY = Path(__file__).resolve().parent / "redteam8" / "every_request_times_out.yaml"


@pytest.mark.parametrize("transport", ["http", "mqtt"])
def test_the_audit_failure_names_the_timeouts_and_the_warnings_still_print(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], transport: str
) -> None:
    args = ["run", str(TOPOLOGY), "--quiet", "--no-plots", "--out", str(tmp_path)]
    assert main([*args, "--set", f"fl.transport={transport}"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    error = lines[-1]
    assert error.startswith("fedsim: error: audit failed: rounds-completed: 0 rounds completed")
    assert "clients polling" not in error
    assert "timed out (cause request_timeout" in error
    assert "raise fl.request_timeout" in error
    absent = [w for w in lines[:-1] if "never had an update accepted" in w]
    assert absent == [
        w for w in lines if "2 of 2 devices never had an update accepted: 2 timed out" in w
    ]
    assert [w for w in lines[:-1] if "timed out (cause request_timeout; none during a task" in w]
    (folder,) = tmp_path.iterdir()
    assert f"results: {folder} (see audit.json)" in captured.out
    clients = read_table(folder / "clients.csv", ClientRow)
    assert all(c.requests_timed_out > 0 and not c.rounds_selected for c in clients)


def test_a_run_that_passes_prints_no_timeout_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", str(TOPOLOGY), "--quiet", "--no-plots", "--out", str(tmp_path)]
    assert main([*args, "--set", "fl.request_timeout=2min"]) == 0
    err = capsys.readouterr().err
    assert "timed out" not in err
    (folder,) = tmp_path.iterdir()
    assert not any(c.requests_timed_out for c in read_table(folder / "clients.csv", ClientRow))

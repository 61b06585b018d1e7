"""`fedsim compare` says in one line when an async folder from before summary.json's
`dropouts_after_rounds` is compared with one that has it: the older fedsim counted an
async task that failed after the last aggregation as surplus, the newer counts it as a
dropout, so their dropouts are under two rules and would otherwise sit side by side
without a word."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fake_results import write_synthetic_run

from fedsim.record.compare import compare_runs
from fedsim.record.runs import RunData, load_run


def _run(tmp_path: Path, name: str, *, engine: str, after: dict[str, int] | None) -> RunData:
    run = load_run(write_synthetic_run(tmp_path, name=name, seed=1))
    summary = dataclasses.replace(run.summary, engine=engine, dropouts_after_rounds=after)
    return dataclasses.replace(run, summary=summary)


def _rule(runs: list[RunData]) -> list[str]:
    return [w for w in compare_runs(runs).warnings if "dropouts_after_rounds" in w]


def test_an_old_async_folder_beside_a_new_one_is_named(tmp_path: Path) -> None:
    old = _run(tmp_path, "old", engine="async", after=None)
    new = _run(tmp_path, "new", engine="async", after={"battery": 2})
    (line,) = _rule([old, new])
    assert line.startswith("`old` (async) has no summary.json `dropouts_after_rounds`")
    assert "`new`" in line
    assert "\n" not in line
    (line,) = _rule([new, old])  # whichever is the baseline
    assert "`old` (async) has no" in line


def test_runs_counted_under_one_rule_need_no_caveat(tmp_path: Path) -> None:
    old = _run(tmp_path, "old", engine="async", after=None)
    older = _run(tmp_path, "older", engine="async", after=None)
    new = _run(tmp_path, "new", engine="async", after={})
    sync_old = _run(tmp_path, "sync-old", engine="sync", after=None)  # sync: no such rule
    assert _rule([old, older]) == []
    assert _rule([new, sync_old]) == []
    assert _rule([new, _run(tmp_path, "new2", engine="async", after={"lost": 1})]) == []

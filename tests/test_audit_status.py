"""An audit.json that checked nothing never reads as passed.

An outside tester's finding: a hand-written or truncated audit.json with no invariants
(`{"invariants": [], "violations": []}`) read "audit passed (0 invariants)" in compare,
report and sweep aggregation. Such a file vouches for nothing: not audited, and why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_results import write_synthetic_run

from fedsim.record.audit_files import write_audit_json
from fedsim.record.audit_status import read_audit_status
from fedsim.record.compare import compare_runs
from fedsim.record.invariant_names import KNOWN_INVARIANTS

INVALID: list[Any] = [
    {"invariants": [], "violations": []},
    {"invariants": [], "violations": [], "bytes_after_rounds": None},
    {"invariants": [""], "violations": []},
    {"invariants": [3], "violations": []},
    {"invariants": ["timeline-no-overlap", "timeline-no-overlap"], "violations": []},
    {"invariants": ["timeline-no-overlap"], "violations": [{"detail": "x"}]},
    {"invariants": ["timeline-no-overlap"], "violations": [7]},
    {"invariants": ["not-a-thing"], "violations": []},
    {"invariants": ["timeline-no-overlap", "timeline-overlaps-fine"], "violations": []},
    {},
    [],
]


@pytest.mark.parametrize("content", INVALID, ids=[json.dumps(c)[:40] for c in INVALID])
def test_an_audit_json_that_checked_nothing_is_not_audited(tmp_path: Path, content: Any) -> None:
    (tmp_path / "audit.json").write_text(json.dumps(content), encoding="utf-8")
    status = read_audit_status(tmp_path)
    assert not status.passed
    assert not status.failed
    assert status.short() == "NOT AUDITED"
    assert "not audited" in status.line()


def test_an_empty_invariant_list_says_why(tmp_path: Path) -> None:
    (tmp_path / "audit.json").write_text('{"invariants": [], "violations": []}', "utf-8")
    line = read_audit_status(tmp_path).line()
    assert "audit.json is invalid (it lists no invariants: nothing was checked" in line


def test_an_unknown_invariant_says_so(tmp_path: Path) -> None:
    """An outside finding: `{"invariants": ["not-a-thing"], ...}` read `passed (1)`."""
    (tmp_path / "audit.json").write_text('{"invariants": ["not-a-thing"], "violations": []}')
    line = read_audit_status(tmp_path).line()
    assert "an invariant fedsim does not have: 'not-a-thing'" in line


def test_the_known_names_are_the_auditors() -> None:
    """The readers' list (fedsim.record.invariant_names) spells out the registry: add a
    new invariant's name there too."""
    from fedsim.audit import INVARIANTS, _load
    from fedsim.record.invariant_names import KNOWN_INVARIANTS

    _load()
    assert set(INVARIANTS) == KNOWN_INVARIANTS


def test_a_real_audit_still_passes_or_fails(tmp_path: Path) -> None:
    run = Path(write_synthetic_run(tmp_path, name="run", seed=1))
    write_audit_json(run)
    assert read_audit_status(run).short() == f"passed ({len(KNOWN_INVARIANTS)})"
    bad = {"invariant": "timeline-no-overlap", "detail": "client a overlaps"}
    write_audit_json(run, violations=[bad])
    assert read_audit_status(run).short() == "FAILED (1 violation)"


def test_compare_shows_an_empty_audit_as_not_audited(tmp_path: Path) -> None:
    base = write_synthetic_run(tmp_path, name="base", seed=1)
    other = write_synthetic_run(tmp_path, name="other", seed=2)
    write_audit_json(Path(base))
    (Path(other) / "audit.json").write_text('{"invariants": [], "violations": []}')
    table = compare_runs([base, other])
    assert table.quantity("audit").values == [f"passed ({len(KNOWN_INVARIANTS)})", "NOT AUDITED"]
    (line,) = table.audit_warnings
    assert "1 of 2 runs were not audited" in line
    assert "audit.json is invalid" in line


def test_comparison_legends_mark_failed_and_unaudited_runs(tmp_path: Path) -> None:
    """The compare table and stderr named such runs; the figures' legends did not."""
    from fedsim.record.plots import comparison_figures
    from fedsim.record.runs import load_run

    folders = [write_synthetic_run(tmp_path, name=n, seed=i) for i, n in enumerate("abc")]
    write_audit_json(Path(folders[0]))
    write_audit_json(Path(folders[1]), violations=[{"invariant": "x", "detail": "y"}])
    figures = dict(comparison_figures([load_run(f) for f in folders]))
    for stem in ("compare_metric_vs_time", "compare_metric_vs_bytes"):
        legend = [t.get_text() for t in figures[stem].legends[0].get_texts()]
        assert not any("AUDIT" in t or "audited" in t for t in legend[:1]), legend
        assert legend[1].endswith("✗ AUDIT FAILED"), legend
        assert legend[2].endswith("(not audited)"), legend
    ticks = [t.get_text() for t in figures["compare_energy"].axes[0].get_yticklabels()]
    assert ticks[1].endswith("✗ AUDIT FAILED")
    assert ticks[2].endswith("(not audited)")

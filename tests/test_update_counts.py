"""`accepted_updates` counts the updates that entered a model, not every upload stored.

Last stop's finding: summary.json `accepted_updates` counted the uploads of a round that
then missed its quorum (435 "accepted" where 432 were aggregated), and rounds.csv
`reported` read "aggregated" for them. Now rounds.csv `aggregated` says per round how
many entered its candidate model, summary.json splits `accepted_updates` (aggregated)
from `discarded_updates`, and the auditor's `updates-reconcile` ties them together.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.audit.update_counts import check
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario


@pytest.fixture(scope="module")
def missed_quorum() -> RunResult:
    """Round 2 waits its deadline for dev-1 (its link down 100 s) and misses quorum 1.0
    with three uploads stored: they are discarded."""
    topo = tiny_topology(fl__rounds=3, fl__quorum=1.0, fl__min_available=3)
    topo["failures"] = [{"link": "dev-1", "at": "100ms", "duration": "100s"}]
    return simulate(parse_scenario(topo), audit=True)  # raises on any violation


def test_a_round_that_missed_its_quorum_discards_its_uploads(missed_quorum: RunResult) -> None:
    rounds = missed_quorum.rounds
    assert [(r.reported, r.aggregated, r.accepted) for r in rounds] == [
        (3, 3, 1),
        (3, 0, 0),
        (3, 3, 1),
    ]
    s = missed_quorum.summary
    assert (s.accepted_updates, s.discarded_updates) == (6, 3)
    assert sum(c.rounds_reported for c in missed_quorum.clients) == 9
    wire = sum(r.wire_bytes_up + r.wire_bytes_down for r in rounds)
    assert s.wire_bytes_per_update == pytest.approx(wire / 6)


def _view(result: RunResult, **changes: Any) -> SimpleNamespace:
    """What the check reads of a run, with some of it doctored."""
    parts = {"summary": result.summary, "rounds": result.rounds, "clients": result.clients,
             "evidence": result.evidence}  # fmt: skip
    return SimpleNamespace(**(parts | changes))


def test_the_auditor_reconciles_the_counts(missed_quorum: RunResult) -> None:
    assert not audit(missed_quorum)
    old_meaning = replace(missed_quorum.summary, accepted_updates=9, discarded_updates=0)
    found = [v.detail for v in check(_view(missed_quorum, summary=old_meaning))]
    assert "summary.json accepted_updates 9 != rounds.csv aggregated sum 6" in found
    assert "summary.json discarded_updates 0 != rounds.csv reported - aggregated (9 - 6)" in found
    part = [replace(r, aggregated=1) if r.round == 2 else r for r in missed_quorum.rounds]
    found = [v.detail for v in check(_view(missed_quorum, rounds=part))]
    assert (
        "rounds.csv round 2: aggregated 1 of 3 (a sync round aggregates all its uploads or none)"
        in found
    )
    fewer = [replace(r, reported=2) if r.round == 2 else r for r in missed_quorum.rounds]
    found = [v.detail for v in check(_view(missed_quorum, rounds=fewer))]
    assert "rounds.csv round 2: reported 2 but the server accepted 3 updates for it" in found

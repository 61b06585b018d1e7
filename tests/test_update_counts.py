"""`accepted_updates` counts the updates that entered a model, not every upload stored.

Last stop's finding: summary.json `accepted_updates` counted the uploads of a round that
then missed its quorum (435 "accepted" where 432 were aggregated), and rounds.csv
`reported` read "aggregated" for them. Now rounds.csv `aggregated` says per round how
many entered its candidate model, summary.json splits `accepted_updates` (aggregated)
from `discarded_updates`, and the auditor's `updates-reconcile` ties them together.
clients.csv `rounds_discarded` says whose uploads were thrown away, device by device.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.audit.update_counts import check, check_against_server
from fedsim.record.schema import ClientRow
from fedsim.record.tables import read_table, write_table
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


def _checks(view: Any) -> list[Any]:
    """Both update-count invariants: the tables' (updates-reconcile) and the server's
    record (updates-match-server)."""
    return [*check(view), *check_against_server(view)]


def test_the_auditor_reconciles_the_counts(missed_quorum: RunResult) -> None:
    assert not audit(missed_quorum)
    old_meaning = replace(missed_quorum.summary, accepted_updates=9, discarded_updates=0)
    found = [v.detail for v in _checks(_view(missed_quorum, summary=old_meaning))]
    assert "summary.json accepted_updates 9 != rounds.csv aggregated sum 6" in found
    assert "summary.json discarded_updates 0 != rounds.csv reported - aggregated (9 - 6)" in found
    part = [replace(r, aggregated=1) if r.round == 2 else r for r in missed_quorum.rounds]
    found = [v.detail for v in _checks(_view(missed_quorum, rounds=part))]
    assert (
        "rounds.csv round 2: aggregated 1 of 3 (a sync round aggregates all its uploads or none)"
        in found
    )
    fewer = [replace(r, reported=2) if r.round == 2 else r for r in missed_quorum.rounds]
    found = [v.detail for v in _checks(_view(missed_quorum, rounds=fewer))]
    assert "rounds.csv round 2: reported 2 but the server accepted 3 updates for it" in found


def test_clients_csv_names_whose_uploads_were_discarded(missed_quorum: RunResult) -> None:
    """Round 2's three uploads (dev-1's link was down, so it never sent one) were stored
    and thrown away with the round: one each for dev-2..4, none for dev-1."""
    clients = {c.client: c for c in missed_quorum.clients}
    assert {n: c.rounds_discarded for n, c in clients.items()} == {
        "dev-1": 0, "dev-2": 1, "dev-3": 1, "dev-4": 1,
    }  # fmt: skip
    assert {n: c.rounds_reported for n, c in clients.items()} == {
        "dev-1": 1, "dev-2": 3, "dev-3": 3, "dev-4": 2,
    }  # fmt: skip
    assert sum(c.rounds_discarded or 0 for c in clients.values()) == 3
    server = Counter(a.client for a in missed_quorum.evidence.accepted if a.round == 2)
    assert server == {"dev-2": 1, "dev-3": 1, "dev-4": 1}


def test_a_clean_run_and_an_async_run_discard_nothing() -> None:
    """An async aggregation takes its whole buffer: what is left after the last one is
    surplus, not discarded (the column is 0, not blank)."""
    for topo in (tiny_topology(fl__rounds=2), tiny_topology(fl__engine="async", fl__rounds=3)):
        result = simulate(parse_scenario(topo), audit=True)
        assert [c.rounds_discarded for c in result.clients] == [0, 0, 0, 0]
        assert result.summary.discarded_updates == 0


def test_a_failed_async_aggregation_discards_its_buffer_as_sync_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second aggregation's kernel fails: that window is still a round, with
    `aggregated` 0, its uploads discarded (not surplus), the model kept; the audit passes."""
    import fedsim.fl.async_engine as async_engine

    kernel, calls = async_engine.weighted_mean, []

    def fails_second(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise FloatingPointError("a kernel failing, for the test")
        return kernel(*args)

    monkeypatch.setattr(async_engine, "weighted_mean", fails_second)
    topo = tiny_topology(fl__engine="async", fl__rounds=3)
    result = simulate(parse_scenario(topo), audit=True)  # raises on any violation
    rounds = result.rounds
    assert len(rounds) == 3
    failed = rounds[1]
    assert failed.reported > 0
    assert (failed.aggregated, failed.accepted) == (0, False)
    assert rounds[1].deployed_version == rounds[0].deployed_version  # the model stayed
    assert result.summary.discarded_updates == failed.reported
    assert sum(c.rounds_discarded for c in result.clients) == failed.reported


def _tampered(result: RunResult, tmp_path: Path, edit: dict[str, dict[str, str]]) -> list[str]:
    """Write clients.csv, change cells by hand ({client: {column: text}}), read it back
    and check the run with it."""
    path = tmp_path / "clients.csv"
    write_table(path, ClientRow, result.clients)
    with path.open(newline="") as fh:
        table = list(csv.DictReader(fh))
    for row in table:
        row.update(edit.get(row["client"], {}))
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, list(table[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(table)
    return [v.detail for v in _checks(_view(result, clients=read_table(path, ClientRow)))]


def test_a_tampered_clients_csv_fails_the_invariant(
    missed_quorum: RunResult, tmp_path: Path
) -> None:
    assert _tampered(missed_quorum, tmp_path, {}) == []
    found = _tampered(missed_quorum, tmp_path, {"dev-2": {"rounds_discarded": "0"}})
    assert found == [
        "clients.csv rounds_discarded sum 2 != summary.json discarded_updates 3",
        "clients.csv dev-2: rounds_discarded 0 but the server accepted 1 of its updates for "
        "rounds that aggregated none",
    ]
    moved = {"dev-1": {"rounds_discarded": "1"}, "dev-2": {"rounds_discarded": "0"}}
    found = _tampered(missed_quorum, tmp_path, moved)  # the sum holds, the server disagrees
    assert found == [
        "clients.csv dev-1: rounds_discarded 1 but the server accepted 0 of its updates for "
        "rounds that aggregated none",
        "clients.csv dev-2: rounds_discarded 0 but the server accepted 1 of its updates for "
        "rounds that aggregated none",
    ]
    found = _tampered(missed_quorum, tmp_path, {"dev-1": {"rounds_discarded": "2"}})
    assert "clients.csv dev-1: rounds_discarded 2 outside [0, rounds_reported 1]" in found
    found = _tampered(missed_quorum, tmp_path, {"dev-3": {"rounds_discarded": ""}})
    assert "clients.csv dev-3: rounds_discarded is blank" in found


def test_an_older_clients_csv_without_the_column_still_loads(
    missed_quorum: RunResult, tmp_path: Path
) -> None:
    path = tmp_path / "clients.csv"
    write_table(path, ClientRow, missed_quorum.clients)
    with path.open(newline="") as fh:
        table = list(csv.DictReader(fh))
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, [c for c in table[0] if c != "rounds_discarded"])
        w.writeheader()
        w.writerows({k: v for k, v in r.items() if k != "rounds_discarded"} for r in table)
    older = read_table(path, ClientRow)
    assert [c.rounds_discarded for c in older] == [None] * 4
    assert [c.rounds_reported for c in older] == [1, 3, 3, 2]
    assert _checks(_view(missed_quorum, clients=older)) == []  # not checked: not recorded


def test_the_report_shows_discarded_uploads_per_group_and_member(
    missed_quorum: RunResult, tmp_path: Path
) -> None:
    """report.html's participation section: every group's and member's discarded count is
    clients.csv's `rounds_discarded`; a run older than the column shows a dash, not 0."""
    import re

    from fedsim.record.device_groups import device_groups
    from fedsim.record.participation import participation_html
    from fedsim.record.runs import load_run
    from fedsim.record.writer import write_run

    r = missed_quorum
    run = load_run(
        write_run(
            tmp_path / "run", config=r.scenario.raw, rounds=r.rounds, links=r.links,
            timeline=r.timeline, clients=r.clients, topology=r.topology, summary=r.summary,
        )
    )  # fmt: skip
    groups = device_groups(run)
    assert sum(g.discarded or 0 for g in groups) == r.summary.discarded_updates == 3
    html = participation_html(run)
    for c in run.clients:
        row = re.search(rf"<tr><td>{re.escape(c.client)}</td>.*?</tr>", html)
        assert row, html
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))
        assert cells[:5] == [c.client, str(c.rounds_selected), str(c.rounds_reported),
                             str(c.rounds_discarded), str(c.rounds_surplus)], cells  # fmt: skip
    older = replace(run, clients=[replace(c, rounds_discarded=None) for c in run.clients])
    assert [g.discarded for g in device_groups(older)] == [None] * len(groups)
    assert "<th>discarded</th>" in participation_html(older)

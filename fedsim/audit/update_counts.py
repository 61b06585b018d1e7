"""Accepted, aggregated, discarded: the update counts tell one story.

An upload the server accepted (stored) either entered its round's candidate model or was
discarded with a round that aggregated nothing (its quorum missed, its aggregation
failed). summary.json's `accepted_updates` used to count both (a measured case: 435
"accepted" where 432 were aggregated); now rounds.csv says per round how many were
aggregated, summary.json counts `accepted_updates` (aggregated) and `discarded_updates`
apart, clients.csv names whose uploads were discarded (`rounds_discarded`), and this
check makes them agree with each other and with clients.csv (`updates-reconcile`, on the
tables alone: a deployment runs it too) and with the server's record of every update it
accepted (`updates-match-server`, on the simulator's evidence). An async aggregation
takes its whole buffer or, when it fails, discards it (a round with `aggregated` 0, as a
sync round whose aggregation failed); the uploads stored after its last aggregation are
in no round, and clients.csv counts them as surplus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant

NAME = "updates-reconcile"


@invariant(
    NAME,
    "per round 0 <= aggregated <= reported (sync: all or none; a deployed aggregate "
    "aggregated some); summary.json accepted_updates = sum of aggregated, discarded_updates "
    "= reported - aggregated, and together clients.csv rounds_reported; clients.csv "
    "rounds_discarded sums to discarded_updates, each at most its rounds_reported",
    needs=("summary", "rounds", "clients"),
)
def check(result: Any) -> Iterator[Violation]:
    summary, rounds, clients = result.summary, result.rounds, result.clients
    sync = summary.engine == "sync"
    for r in rounds:
        if r.aggregated is None:
            yield Violation(NAME, f"rounds.csv round {r.round}: aggregated is blank")
            continue
        if not 0 <= r.aggregated <= r.reported:
            yield Violation(
                NAME,
                f"rounds.csv round {r.round}: aggregated {r.aggregated} outside "
                f"[0, reported {r.reported}]",
            )
        elif sync and r.aggregated not in (0, r.reported):
            yield Violation(
                NAME,
                f"rounds.csv round {r.round}: aggregated {r.aggregated} of {r.reported} "
                "(a sync round aggregates all its uploads or none)",
            )
        if r.accepted and not r.aggregated:
            yield Violation(
                NAME, f"rounds.csv round {r.round}: the gate deployed an aggregate of no update"
            )
    if any(r.aggregated is None for r in rounds):
        return
    aggregated = sum(r.aggregated for r in rounds)
    reported = sum(r.reported for r in rounds)
    if summary.accepted_updates != aggregated:
        yield Violation(
            NAME,
            f"summary.json accepted_updates {summary.accepted_updates} != rounds.csv "
            f"aggregated sum {aggregated}",
        )
    if summary.discarded_updates != reported - aggregated:
        yield Violation(
            NAME,
            f"summary.json discarded_updates {summary.discarded_updates} != rounds.csv "
            f"reported - aggregated ({reported} - {aggregated})",
        )
    stored = sum(c.rounds_reported for c in clients)
    if clients and (summary.accepted_updates or 0) + (summary.discarded_updates or 0) != stored:
        yield Violation(
            NAME,
            f"summary.json accepted_updates {summary.accepted_updates} + discarded_updates "
            f"{summary.discarded_updates} != clients.csv rounds_reported sum {stored}",
        )
    yield from _per_client(summary, clients)


SERVER = "updates-match-server"


@invariant(
    SERVER,
    "sync: each round's reported (rounds.csv) = the updates the server accepted for it, and "
    "each client's rounds_discarded = its accepted updates in rounds that aggregated none; "
    "async: rounds.csv reports at most the updates the server accepted (evidence)",
    needs=("summary", "rounds", "clients", "evidence"),
)
def check_against_server(result: Any) -> Iterator[Violation]:
    rounds = result.rounds
    if any(r.aggregated is None for r in rounds):
        return  # a blank cell: updates-reconcile names it
    yield from _against_evidence(result, rounds, result.summary.engine == "sync")


def _per_client(summary: Any, clients: list[Any]) -> Iterator[Violation]:
    """clients.csv `rounds_discarded`: at most each client's `rounds_reported`, summing to
    summary.json `discarded_updates`. A folder whose every row is blank predates the
    column; a blank among numbers is a cell gone missing."""
    counts = [c.rounds_discarded for c in clients]
    if all(n is None for n in counts):
        return
    for c in clients:
        if c.rounds_discarded is None:
            yield Violation(NAME, f"clients.csv {c.client}: rounds_discarded is blank")
        elif not 0 <= c.rounds_discarded <= c.rounds_reported:
            yield Violation(
                NAME,
                f"clients.csv {c.client}: rounds_discarded {c.rounds_discarded} outside "
                f"[0, rounds_reported {c.rounds_reported}]",
            )
    total = sum(n or 0 for n in counts)
    if total != (summary.discarded_updates or 0):
        yield Violation(
            NAME,
            f"clients.csv rounds_discarded sum {total} != summary.json discarded_updates "
            f"{summary.discarded_updates}",
        )


def _against_evidence(result: Any, rounds: list[Any], sync: bool) -> Iterator[Violation]:
    """The server's own record of each update it accepted: a sync round reports exactly
    those of its round (async: the last buffer, left as surplus, is in no round)."""
    ev = result.evidence
    if ev is None:
        return
    per_round = Counter(a.round for a in ev.accepted)
    if sync:
        for r in rounds:
            if per_round.get(r.round, 0) != r.reported:
                yield Violation(
                    SERVER,
                    f"rounds.csv round {r.round}: reported {r.reported} but the server "
                    f"accepted {per_round.get(r.round, 0)} updates for it",
                )
        yield from _discarded_against_evidence(ev, rounds, result.clients)
    elif sum(r.reported for r in rounds) > len(ev.accepted):
        yield Violation(
            SERVER,
            f"rounds.csv reports {sum(r.reported for r in rounds)} updates but the server "
            f"accepted {len(ev.accepted)}",
        )


def _discarded_against_evidence(
    ev: Any, rounds: list[Any], clients: list[Any]
) -> Iterator[Violation]:
    """Sync: a client's `rounds_discarded` is the number of updates the server accepted
    from it for rounds that aggregated none (rounds.csv `aggregated` 0)."""
    if any(c.rounds_discarded is None for c in clients):
        return  # an older folder (or a blank cell, which `_per_client` names)
    empty = {r.round for r in rounds if not r.aggregated}
    thrown = Counter(a.client for a in ev.accepted if a.round in empty)
    for c in clients:
        if thrown.get(c.client, 0) != c.rounds_discarded:
            yield Violation(
                SERVER,
                f"clients.csv {c.client}: rounds_discarded {c.rounds_discarded} but the server "
                f"accepted {thrown.get(c.client, 0)} of its updates for rounds that "
                "aggregated none",
            )

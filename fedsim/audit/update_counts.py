"""Accepted, aggregated, discarded: the update counts tell one story.

An upload the server accepted (stored) either entered its round's candidate model or was
discarded with a round that aggregated nothing (its quorum missed, its aggregation
failed). summary.json's `accepted_updates` used to count both (a measured case: 435
"accepted" where 432 were aggregated); now rounds.csv says per round how many were
aggregated, summary.json counts `accepted_updates` (aggregated) and `discarded_updates`
apart, and this check makes them agree with each other, with clients.csv and with the
server's record of every update it accepted (the evidence).
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
    "= reported - aggregated, and together clients.csv rounds_reported; sync: each round's "
    "reported = the updates the server accepted for it (evidence)",
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
    yield from _against_evidence(result, rounds, sync)


def _against_evidence(result: Any, rounds: list[Any], sync: bool) -> Iterator[Violation]:
    """The server's own record of each update it accepted: a sync round reports exactly
    those of its round (async: the last buffer, left as surplus, is in no round)."""
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    per_round = Counter(a.round for a in ev.accepted)
    if sync:
        for r in rounds:
            if per_round.get(r.round, 0) != r.reported:
                yield Violation(
                    NAME,
                    f"rounds.csv round {r.round}: reported {r.reported} but the server "
                    f"accepted {per_round.get(r.round, 0)} updates for it",
                )
    elif sum(r.reported for r in rounds) > len(ev.accepted):
        yield Violation(
            NAME,
            f"rounds.csv reports {sum(r.reported for r in rounds)} updates but the server "
            f"accepted {len(ev.accepted)}",
        )

"""Dropouts and participation reconcile: rounds.csv, clients.csv and summary.json tell
one story.

A dropout is a selected client that did not report, with a cause (docs/results.md). The
same failures are counted three times, per round, per client and in total; if any two
disagree, one of them is wrong. Checked on anything with `summary`, `rounds` and `clients`
in the row types of `fedsim.record.schema` (a `fedsim.run.RunResult` or a loaded
`fedsim.record.runs.RunData`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.record.dropouts import by_known_cause

NAME = "dropouts-reconcile"


def _sum(counts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counts:
        for cause, n in c.items():
            if n:
                out[cause] = out.get(cause, 0) + n
    return dict(sorted(out.items()))


def _text(causes: dict[str, int]) -> str:
    return ", ".join(f"{k}:{v}" for k, v in causes.items()) or "none"


@invariant(
    NAME,
    "dropouts per cause agree between rounds.csv (failed, failed_causes) + summary.json "
    "dropouts_after_rounds (async; sync: none), clients.csv (dropouts, dropouts_*, and "
    "selected = reported + dropouts + surplus + not yet settled) and summary.json dropouts",
    needs=("summary", "rounds", "clients", "unsettled"),
)
def check(result: Any) -> Iterator[Violation]:
    summary, rounds, clients = result.summary, result.rounds, result.clients
    unsettled = result.unsettled
    for r in rounds:
        if sum(r.failed_causes.values()) != r.failed:
            yield Violation(
                NAME,
                f"rounds.csv round {r.round}: failed {r.failed} but failed_causes "
                f"sum to {sum(r.failed_causes.values())} ({_text(r.failed_causes)})",
            )
    for c in clients:
        per_cause = c.dropouts_by_cause()
        if sum(per_cause.values()) != c.dropouts:
            yield Violation(
                NAME,
                f"clients.csv {c.client}: dropouts {c.dropouts} but dropouts_* sum to "
                f"{sum(per_cause.values())}",
            )
        out = unsettled.get(c.client, 0)
        if c.rounds_reported + c.dropouts + c.rounds_surplus + out != c.rounds_selected:
            yield Violation(
                NAME,
                f"clients.csv {c.client}: selected {c.rounds_selected} != reported "
                f"{c.rounds_reported} + dropouts {c.dropouts} + surplus {c.rounds_surplus}"
                + (f" + not yet settled {out}" if out else ""),
            )
    after = summary.dropouts_after_rounds or {}  # null: an older folder, none counted
    if after and summary.engine != "async":
        yield Violation(
            NAME,
            f"summary.json dropouts_after_rounds {_text(after)} under the {summary.engine} "
            "engine (only an async run has tasks after its last round)",
        )
    by_round = _sum([by_known_cause(r.failed_causes) for r in rounds] + [by_known_cause(after)])
    by_client = _sum([c.dropouts_by_cause() for c in clients])
    total = _sum([by_known_cause(summary.dropouts)])
    if by_round != total:
        tail = f" + dropouts_after_rounds {_text(after)}" if after else ""
        yield Violation(
            NAME,
            f"summary.json dropouts {_text(total)} != rounds.csv failed_causes{tail} "
            f"{_text(by_round)}",
        )
    if by_client != total:
        yield Violation(
            NAME,
            f"summary.json dropouts {_text(total)} != clients.csv dropouts_* {_text(by_client)}",
        )
    surplus = sum(c.rounds_surplus for c in clients)
    if clients and surplus != summary.rounds_surplus:
        yield Violation(
            NAME,
            f"summary.json rounds_surplus {summary.rounds_surplus} != clients.csv sum {surplus}",
        )


PARTICIPATION = "participation-reconcile"


@invariant(
    PARTICIPATION,
    "reports agree between rounds.csv (reported) and clients.csv (rounds_reported); for the "
    "sync engine, selections too (selected vs rounds_selected)",
    needs=("summary", "rounds", "clients"),
)
def check_participation(result: Any) -> Iterator[Violation]:
    summary, rounds, clients = result.summary, result.rounds, result.clients
    if not clients:
        return
    pairs = [("reported", "rounds_reported")]
    if summary.engine == "sync":  # async windows leave the last tasks in no round
        pairs.append(("selected", "rounds_selected"))
    for round_col, client_col in pairs:
        per_round = sum(getattr(r, round_col) for r in rounds)
        per_client = sum(getattr(c, client_col) for c in clients)
        if per_round != per_client:
            yield Violation(
                PARTICIPATION,
                f"rounds.csv {round_col} sums to {per_round} but clients.csv {client_col} "
                f"to {per_client}",
            )

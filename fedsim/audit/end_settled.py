"""An async run's end settles each selection by what happened to it.

When an async run ends, what its last aggregation left is in no round. An update the
server stored in the buffer did report: surplus (the run ended before its window was
aggregated). A task still out, or one that failed since, on a device that left for good
before the end (a battery on its path ran dry, churn) could never report: a dropout with
its cause, not surplus (docs/results.md: a dropout is a selected client that did not
report, with a cause). The engine once turned both into surplus, so a battery death
during an upload vanished from the dropouts while every table still reconciled.

The evidence says when each battery ran dry and which updates the server accepted, so
for such a device `rounds_surplus` can be at most its updates stored after the last
aggregation: those the server accepted (evidence) beyond its `rounds_reported`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant

NAME = "async-end-settled"

_FOR_GOOD = ("battery", "churn")
"""Node-down causes that never lift (fedsim.net.network: a retirement)."""


def gone_at(ev: Any, device: str) -> float | None:
    """When a node on `device`'s path left for good (its battery ran dry, churn), if it
    did before the run's end; None otherwise."""
    nodes = set(ev.path_nodes.get(device, (device,)))
    times = [
        e.empty_at for n in nodes if (e := ev.energy.get(n)) is not None and e.empty_at is not None
    ]
    times += [
        d.start
        for d in ev.node_down
        if d.element in nodes and d.cause.split(":", 1)[0] in _FOR_GOOD and d.end >= ev.end_s
    ]
    first = min(times, default=None)
    # Strictly before the end: a battery that runs dry at the very instant the run ends
    # may do so after the engine settled its tasks (the same instant, a later event).
    return first if first is not None and first < ev.end_s else None


@invariant(
    NAME,
    "async: a client whose device (or a node on its path) left for good before the end "
    "(battery, churn) has no surplus but updates the server stored after the last "
    "aggregation (evidence accepted - clients.csv rounds_reported): a task it had out "
    "then is a dropout with its cause",
    needs=("summary", "clients", "evidence"),
)
def check(result: Any) -> Iterator[Violation]:
    ev = result.evidence
    if ev is None or result.summary.engine != "async":
        return
    stored = Counter(a.client for a in ev.accepted)
    for c in result.clients:
        gone = gone_at(ev, c.client)
        if gone is None:
            continue
        buffered = max(0, stored.get(c.client, 0) - c.rounds_reported)
        if c.rounds_surplus > buffered:
            yield Violation(
                NAME,
                f"clients.csv {c.client}: rounds_surplus {c.rounds_surplus} but its path left "
                f"for good at t={gone:.6g} s and only {buffered} of its updates were stored "
                "after the last aggregation: the rest were tasks it could never report "
                "(dropouts, with their cause)",
            )

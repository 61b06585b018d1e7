"""An async run's end settles each selection by what happened to it.

When an async run ends, what its last aggregation left is in no round. An update the
server stored in the buffer did report: surplus (the run ended before its window was
aggregated). A task still out, or one that failed since, on a device that can never
report again could never report: a dropout with its cause, not surplus (docs/results.md:
a dropout is a selected client that did not report, with a cause). The engine once
turned both into surplus, so a battery death during an upload vanished from the dropouts
while every table still reconciled.

"Can never report again" is the network's `lost` (fedsim.run_end.lost_for_good): a node
or link on the device's path down for a cause that is never lifted. The auditor derives
it from the scenario, not from the network (fedsim.audit.scenario_down.for_good_links):
a battery that ran dry (the energy ledger's `empty_at`), churn, a `forever` failure, one
that would end only after `fl.time_limit`, a trace's open last interval, each begun
before the run's end. A run that ended `devices_lost` was proved to have no device left
that could ever report, so there it holds for every device (a device whose battery
would run dry before its path comes back, one that can never connect). For such a device
`rounds_surplus` can be at most its updates stored after the last aggregation: those
the server accepted (evidence) beyond its `rounds_reported`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.scenario_down import for_good_links

NAME = "async-end-settled"


def gone_at(result: Any, device: str) -> tuple[float, str] | None:
    """When and why `device`'s path went down for good (a cause that is never lifted),
    if it did before the run's end; None otherwise."""
    ev = result.evidence
    nodes = ev.path_nodes.get(device, (device,))
    times = [
        (e.empty_at, f"battery of {n} ran dry")
        for n in nodes
        if (e := ev.energy.get(n)) is not None and e.empty_at is not None
    ]
    lasting = for_good_links(result)
    times += [lasting[link][::2] for link in ev.paths.get(device, ()) if link in lasting]
    first = min(times, default=None)
    # Strictly before the end: a battery that runs dry at the very instant the run ends
    # may do so after the engine settled its tasks (the same instant, a later event).
    return first if first is not None and first[0] < ev.end_s else None


@invariant(
    NAME,
    "async: a client whose path went down for good before the end (a battery ran dry, "
    "churn, a failure never lifted or lasting past fl.time_limit; every client when the "
    "run ended devices_lost) has no surplus but updates the server stored after the last "
    "aggregation (evidence accepted - clients.csv rounds_reported): a task it had out "
    "then is a dropout with its cause",
    needs=("summary", "clients", "evidence", "scenario"),
)
def check(result: Any) -> Iterator[Violation]:
    ev = result.evidence
    if ev is None or result.summary.engine != "async":
        return
    stored = Counter(a.client for a in ev.accepted)
    all_lost = result.summary.end_reason == "devices_lost"
    for c in result.clients:
        gone = gone_at(result, c.client)
        if gone is None and not all_lost:
            continue
        buffered = max(0, stored.get(c.client, 0) - c.rounds_reported)
        if c.rounds_surplus > buffered:
            why = (
                f"its path went down for good at t={gone[0]:.6g} s ({gone[1]})"
                if gone is not None
                else "the run ended devices_lost (no device could ever report again)"
            )
            yield Violation(
                NAME,
                f"clients.csv {c.client}: rounds_surplus {c.rounds_surplus} but {why} and "
                f"only {buffered} of its updates were stored after the last aggregation: "
                "the rest were tasks it could never report (dropouts, with their cause)",
            )

"""A selection counted surplus had nothing fail it.

Surplus means the round filled up without the device (over-selection), or an async run
ended before the task's window was aggregated: it lost the race, nothing failed it. A
device whose task an outage killed meanwhile (its gateway down, its link cut, itself
offline, its battery dry) failed, and is a dropout with that cause (docs/results.md).
The engine once counted every leftover of a filled round as surplus, so a gateway
outage under over-selection reported no dropout while every table still reconciled.

The evidence keeps each selection the engine settled as surplus with its task's window
(fedsim.net.evidence `Surplus`). This check finds, for each, whether the device's path
was down at any instant of the window: per the evidence's outages and per the scenario
itself (fedsim.audit.paths, fedsim.audit.scenario_down), not the engine's own
explanation. It also ties the windows to clients.csv: each client's `rounds_surplus` is
its recorded windows plus its updates stored after the last aggregation (async: the
server accepted them, evidence, beyond `rounds_reported`), so no surplus goes unchecked.
A cause only the client knows (its request timeout, a CoAP give-up) has no time in the
evidence and is not checked here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.intervals import first_overlap, fmt
from fedsim.audit.paths import path_spans

__all__ = ["surplus_had_no_cause"]

NAME = "surplus-had-no-cause"


@invariant(
    NAME,
    "a selection counted surplus (clients.csv rounds_surplus) had no outage on its "
    "device's path (per the evidence and the scenario) at any instant of its task's "
    "window: one an outage cut is a dropout with that cause; and each client's "
    "rounds_surplus is its recorded surplus windows plus its updates stored after the "
    "last aggregation (evidence accepted - rounds_reported)",
    needs=("clients", "evidence", "scenario", "summary"),
)
def surplus_had_no_cause(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    windows = getattr(ev, "surplus", None)
    if windows is None:
        return  # not recorded
    spans = path_spans(ev, result=result)
    for s in windows:
        hit = first_overlap(spans.get(s.client, []), s.start, s.end)
        if hit is not None:
            yield Violation(
                NAME,
                f"client {s.client}, round {s.round}: counted surplus, but its path was down "
                f"{fmt(hit[0])}-{fmt(hit[1])} ({hit[2]}) inside its task's window "
                f"{fmt(s.start)}-{fmt(s.end)}: a dropout with that cause, not surplus",
            )
    recorded = Counter(s.client for s in windows)
    stored = Counter(a.client for a in ev.accepted)
    for c in result.clients:
        buffered = max(0, stored.get(c.client, 0) - c.rounds_reported)
        want = recorded.get(c.client, 0) + buffered
        if c.rounds_surplus != want:
            yield Violation(
                NAME,
                f"clients.csv {c.client}: rounds_surplus {c.rounds_surplus}, but the evidence "
                f"has {recorded.get(c.client, 0)} surplus selections with their windows and "
                f"{buffered} updates stored after the last aggregation: a surplus the audit "
                "cannot check, or one not counted",
            )

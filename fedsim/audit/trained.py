"""Accepted updates against trainings: the server stored no update twice.

A device trains a task once and uploads what it trained. When the answer to an upload
is lost it sends the same bytes again (fedsim.fl.client `_update_for`); the server
that already stored them acknowledges them again and stores nothing (`Engine.repeat`).
Had it stored them again, one training would count twice (a FedBuff buffer holding two
copies doubles that device's weight) and no count of updates would notice: each copy
is an accepted update with its own acknowledgement, and a device's trainings whose
uploads were lost leave room in any per-device total. So the evidence notes, with each
accepted update, how many trainings its device had begun by then
(`fedsim.net.evidence.Accepted.trained`), and per device that number rises strictly from
one accepted update to the next: a training of its own between any two.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.intervals import fmt

__all__ = ["accepted_was_trained"]

NAME = "accepted-was-trained"


@invariant(
    NAME,
    "every update the server accepted from a device follows a training the device began "
    "after its previous accepted update: an upload sent again after its answer was lost "
    "is acknowledged again, never stored twice",
    needs=("evidence",),
)
def accepted_was_trained(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    last: dict[str, tuple[int, float]] = {}
    for a in sorted(ev.accepted, key=lambda a: a.accepted):  # (stable: ties keep order)
        if a.trained is None:
            continue
        before = last.get(a.client)
        if before is not None and a.trained <= before[0]:
            yield Violation(
                NAME,
                f"client {a.client}, round {a.round}: update accepted at {fmt(a.accepted)} "
                f"with no training begun since its update accepted at {fmt(before[1])} "
                f"({a.trained} trainings by then): one training stored twice",
            )
        last[a.client] = (a.trained, a.accepted)

"""A run that completed no round measured nothing: it must say so, loudly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant

__all__ = ["completed_a_round"]

NAME = "rounds-completed"


def _why(result: Any) -> str:
    sc = result.scenario
    fl = sc.fl
    end = float(result.summary["sim_time_s"])
    devices = len(sc.device_nodes)
    if devices == 0:
        return "the topology has no devices"
    reason, note = result.summary.get("end_reason"), result.summary.get("end_note")
    if note and reason != "time_limit":  # (the time limit is explained below)
        return f"the run ended at {end:g} s ({reason}): {note}"
    if fl.time_limit_s is not None and end >= fl.time_limit_s:
        return (
            f"fl.time_limit ({fl.time_limit_s:g} s) ran out at {end:g} s before round 1 "
            f"could start (it needs fl.min_available={fl.min_available} clients polling)"
        )
    if fl.min_available > devices:
        return f"fl.min_available={fl.min_available} but there are only {devices} devices"
    return f"no round finished in {end:g} s of simulated time"


@invariant(NAME, "a run completes at least one round (a 0-round run measured nothing)")
def completed_a_round(result: Any) -> Iterator[Violation]:
    if int(result.summary.get("rounds", 0)) == 0 and not result.recorder.rounds:
        yield Violation(NAME, f"0 rounds completed: {_why(result)}")

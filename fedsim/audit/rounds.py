"""A run that completed no round measured nothing: it must say so, loudly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.record.absent_devices import plural

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
        ran_out = f"fl.time_limit ({fl.time_limit_s:g} s) ran out at {end:g} s before round 1 "
        timed_out = _timed_out(result.clients, fl)
        if timed_out:
            return f"{ran_out}could start: {timed_out}"
        return (
            f"{ran_out}could start (it needs fl.min_available={fl.min_available} clients polling)"
        )
    if fl.min_available > devices:
        return f"fl.min_available={fl.min_available} but there are only {devices} devices"
    if result.summary.get("fidelity") == "deployment":
        return f"no round finished in {end:g} s of the deployment"
    return f"no round finished in {end:g} s of simulated time"


def _timed_out(clients: list[Any], fl: Any) -> str | None:
    """The cause when devices never polled because each of their requests outlasted the
    client's patience (not the polling: nothing could ever answer it in time); None when
    no unselected device abandoned a request."""
    stuck = [c for c in clients if c.requests_timed_out and not c.rounds_selected]
    if not stuck:
        return None
    names = ", ".join(c.client for c in stuck[:3]) + (
        f" and {len(stuck) - 3} more" if len(stuck) > 3 else ""
    )
    requests = sum(c.requests_timed_out for c in stuck)
    return (
        f"{plural(requests, 'request')} of {plural(len(stuck), 'device')} ({names}) timed out "
        f"(cause request_timeout: each outlasted fl.request_timeout {_secs(fl.request_timeout_s)}"
        f" + fl.poll_wait {_secs(fl.poll_wait_s)}), so fewer than "
        f"fl.min_available={fl.min_available} clients were ever polling; raise "
        "fl.request_timeout (`fedsim show` estimates each path's exchanges)"
    )


def _secs(s: float) -> str:
    return f"{s * 1000:g} ms" if s < 1 else f"{s:g} s"


@invariant(
    NAME,
    "a run completes at least one round (a 0-round run measured nothing)",
    needs=("summary", "rounds", "clients", "scenario"),
)
def completed_a_round(result: Any) -> Iterator[Violation]:
    if int(result.summary.get("rounds", 0)) == 0 and not result.rounds:
        yield Violation(NAME, f"0 rounds completed: {_why(result)}")

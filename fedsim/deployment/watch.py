"""What a deployed server is waiting for, in one line (printed every few seconds)."""

from __future__ import annotations

from typing import Any

__all__ = ["waiting_line"]


def waiting_line(engine: Any, loop_time: float) -> str | None:
    """`waiting for 6 devices, 3 registered, 3 polling`, or None when nothing waits."""
    if engine.finished:
        return None
    registered = len(engine.clients)
    polling = len(engine.polls)
    rnd = getattr(engine, "current", None)
    if rnd is not None and rnd.open:
        left = max(0.0, rnd.start + engine.deadline_s - loop_time)
        return (
            f"round {rnd.number}: waiting for {rnd.want - len(rnd.results)} of {rnd.want} "
            f"updates ({left:.0f} s to the deadline; {registered} registered, {polling} polling)"
        )
    need = getattr(engine, "min_available", 1)
    if polling < need:
        return f"waiting for {need} devices, {registered} registered, {polling} polling"
    return None

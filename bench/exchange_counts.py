"""What one client-round costs the emulator, counted, not timed: HTTP requests, messages
handed to the network, event-loop iterations, tasks and timers, for the bench-flower
job with the upload's answer carrying the next task (`fl.task_on_answer`, default)
and with the two-exchange protocol (upload, then poll). Counts are deterministic, so
they compare across machines and loaded hosts where wall time cannot.

    python bench/exchange_counts.py [DEVICES ROUNDS]    (default: 100 20)
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from flower_job import job_topology

from fedsim.clock import VirtualTimeLoop
from fedsim.run import simulate
from fedsim.scenario import apply_overrides, parse_scenario

__all__ = ["count"]


class _Counter:
    """Counts the loop's iterations, tasks and timers while installed."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(("loop iterations", "tasks", "timers"), 0)
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, owner: Any, name: str, key: str) -> None:
        inner = getattr(owner, name)
        counts = self.counts

        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[key] += 1
            return inner(*args, **kwargs)

        self._saved.append((owner, name, inner))
        setattr(owner, name, counted)

    def __enter__(self) -> _Counter:
        loop_type = VirtualTimeLoop  # its own methods where it overrides asyncio's
        self._wrap(loop_type, "_run_once", "loop iterations")
        self._wrap(loop_type, "create_task", "tasks")
        self._wrap(loop_type, "call_at", "timers")
        return self

    def __exit__(self, *_exc: object) -> None:
        for owner, name, inner in reversed(self._saved):
            setattr(owner, name, inner)


def count(devices: int, rounds: int, task_on_answer: bool) -> dict[str, float]:
    """Per client-round counts of one run of the job."""
    topo = apply_overrides(
        job_topology(devices, rounds), [f"fl.task_on_answer={str(task_on_answer).lower()}"]
    )
    with _Counter() as counter:
        result = simulate(parse_scenario(topo))
    client_rounds = sum(r.reported for r in result.rounds)
    messages = result.evidence.messages
    up = int(np.count_nonzero(messages.direction == 0))
    out = {
        "requests": up,
        "messages": len(messages),
        **counter.counts,
        "payload bytes": int(messages.payload.sum()),
    }
    return {k: v / client_rounds for k, v in out.items()}


def main(argv: list[str]) -> None:
    devices, rounds = (int(argv[0]), int(argv[1])) if len(argv) == 2 else (100, 20)
    one, two = count(devices, rounds, True), count(devices, rounds, False)
    print(f"per client-round, N={devices} x {rounds} (bench/flower_job.py)")
    print(f"{'':18} {'one exchange':>13} {'two exchanges':>14} {'one / two':>10}")
    for key in one:
        print(f"{key:18} {one[key]:13.2f} {two[key]:14.2f} {one[key] / two[key]:10.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])

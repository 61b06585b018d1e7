"""Calls on SimPy's event heap without a `Timeout` object each.

Why: every emulated message and every asyncio timer used to be a `simpy.Timeout`
(an object, a callbacks list, `Environment.schedule`) whose only job was to run one
callback at a time. `call_at` puts a slotted stand-in in exactly the heap entry
`env.timeout(max(0, t - now)).callbacks.append(fn)` would make: the same time
(computed with the same float operations), priority and event id, so the order of
everything the heap runs is unchanged. SimPy's own `Environment.step` processes it as
an event (it reads `callbacks` and `_ok`), and so does `fedsim.clock`'s stepping.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL

__all__ = ["DueCall", "call_at"]


class DueCall:
    """A heap entry's event: `fn(self)` runs when SimPy processes it (as a Timeout's
    one callback would)."""

    __slots__ = ("callbacks",)
    _ok = True
    _value = None

    def __init__(self, fn: Callable[[Any], object]) -> None:
        self.callbacks: tuple[Callable[[Any], object], ...] | None = (fn,)


def call_at(env: simpy.Environment, t: float, fn: Callable[[Any], object]) -> None:
    """Run `fn(event)` at `t` (now, if t is past), ordered as a Timeout made now."""
    now = env._now
    heappush(env._queue, (now + max(0.0, t - now), NORMAL, next(env._eid), DueCall(fn)))

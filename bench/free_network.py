"""A network model that costs nothing, to measure how much of a client-round the real one is.

Inside the context, every message a flow-fidelity connection sends is delivered a fixed
`delay_s` after it is sent (after the previous message of its direction, in order), with
none of the network model's per-message work: no segments, bookings, ACKs, loss draws,
meters or radio energy. Connection set-up still runs the real model (once per device per
run). Everything else in the run (the clock, aiohttp on both ends, signing, the codec,
the FL protocol, training) is untouched, so a run's loop time inside the context is what
fedsim would cost if its network model were free: an upper bound on what making that
model faster (compiling it, say) can buy.

A measuring device for benchmarks, never a mode of fedsim: the counts a run records
inside it are not a network's, so run it with `--no-audit` and throw its results away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import simpy

from fedsim.net.flow import FlowChannel
from fedsim.sim_heap import call_at

__all__ = ["free_network"]


@contextmanager
def free_network(delay_s: float = 1e-4) -> Iterator[None]:
    """Replace `FlowChannel.send` by a fixed delay while the context is open."""
    real = FlowChannel.send

    def send(self: FlowChannel, direction: int, nbytes: int) -> simpy.Event:
        env = self.env
        ev = env.event()
        sender = self._senders[direction]
        t = max(env._now + delay_s, sender.delivered_at)  # in order, as the real one
        sender.delivered_at = t
        self._pending[ev] = None
        call_at(env, t, partial(self._finish, ev, nbytes))
        return ev

    FlowChannel.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        FlowChannel.send = real  # type: ignore[method-assign]

"""The contract between the emulated transport and a fidelity of the network model.

A `Channel` is one reliable, ordered byte stream (a TCP connection) between a
client node and the server over a path of hops. The transport calls only these
methods; the flow and packet fidelities implement them. Every method works in
SimPy events: the transport bridges each returned event to asyncio once.
"""

from __future__ import annotations

from typing import Protocol

import simpy

__all__ = ["DOWN", "UP", "Channel"]

UP = 0
"""Client -> server."""
DOWN = 1
"""Server -> client."""


class Channel(Protocol):
    """One TCP connection over a path. `path[0]` is the client's first hop."""

    def connect(self) -> simpy.Event:
        """Handshake. Succeeds when the client may send; fails with an OSError."""
        ...

    def send(self, direction: int, nbytes: int) -> simpy.Event:
        """Carry `nbytes` of application data; succeeds when the receiver has the last
        byte. Events of one direction succeed in the order `send` was called. Fails
        with ConnectionResetError once the channel is broken."""
        ...

    def break_(self, cause: str) -> None:
        """The path failed (`cause` names the element): fail every pending and future
        event with ConnectionResetError(cause), now. Bytes the model had counted
        ahead of time for after this instant are taken back off the links, and the
        model bytes among them: a cut link carried none of them."""
        ...

    def close(self) -> None:
        """Orderly close; pending sends still complete."""
        ...

    def head(self, event: simpy.Event) -> tuple[simpy.Event, int] | None:
        """For the message sent as `event`, when longer than a segment: (an event that
        succeeds when its first segment reaches the receiver, that segment's payload
        size); None otherwise. Lets the receiver see a response's headers before its
        body (a client knows it is downloading); the event never fires once broken.
        Optional: a channel without it hands every message over at its last byte."""
        ...

    def count_model(self, direction: int, nbytes: int) -> None:
        """Of the payload just sent in `direction`, the last `nbytes` are model
        envelopes' tensors (`LinkCounters.model_bytes` on every hop, the byte ledger; a
        later `break_` takes back those it keeps off a hop, `fedsim.net.model_spans`).
        Optional: without it a channel's payload all counts as protocol."""
        ...

    @property
    def finished(self) -> bool:
        """Broken, or closed with nothing left to deliver: the network may forget it."""
        ...

"""Long polls: the registered clients and the ones waiting for work right now.

Both round engines hand out work the same way: a polling client parks a future,
the engine resolves it with instructions (or `None`: no work), and a poll that
times out at the very instant work was handed to it still gets that work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from fedsim.fl.messages import ClientInfo, TrainIns

__all__ = ["LongPolls"]


class LongPolls:
    """Registered clients, and one parked future per client that is polling now."""

    def __init__(self) -> None:
        self.clients: dict[str, ClientInfo] = {}
        self._waiting: dict[str, asyncio.Future[TrainIns | None]] = {}

    def register(self, info: ClientInfo) -> None:
        known = self.clients.get(info.client_id)
        if known is None:
            self.clients[info.client_id] = info
        else:
            known.num_examples = info.num_examples

    def seen(self, client_id: str) -> None:
        """Count a poll: the availability evidence a selection policy can use."""
        self.clients[client_id].polls += 1

    def __len__(self) -> int:
        return len(self._waiting)

    def __iter__(self) -> Iterator[str]:
        """Waiting client ids in arrival order (first come, first served)."""
        return iter(list(self._waiting))

    async def wait(
        self, client_id: str, wait_s: float, parked: Callable[[], None] | None = None
    ) -> TrainIns | None:
        """Park `client_id` for up to `wait_s`; `parked` runs once it is waiting."""
        self.hand(client_id, None)  # a client polls once at a time: drop a stale poll
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[TrainIns | None] = loop.create_future()
        self._waiting[client_id] = fut
        # One timer resolves the poll empty; whichever comes first (work or timer)
        # decides, so work handed out at the timeout instant is never lost.
        timer = loop.call_later(wait_s, _expire, fut)
        if parked is not None:
            parked()
        try:
            return await fut
        finally:
            timer.cancel()
            if self._waiting.get(client_id) is fut:
                del self._waiting[client_id]

    def is_waiting(self, client_id: str) -> bool:
        fut = self._waiting.get(client_id)
        return fut is not None and not fut.done()

    def hand(self, client_id: str, ins: TrainIns | None) -> bool:
        """Resolve `client_id`'s poll with `ins`; False if it was not waiting."""
        fut = self._waiting.pop(client_id, None)
        if fut is None or fut.done():
            return False
        fut.set_result(ins)
        return True

    def release_all(self) -> None:
        """No more work: every parked poll returns empty."""
        for cid in list(self._waiting):
            self.hand(cid, None)


def _expire(fut: asyncio.Future[TrainIns | None]) -> None:
    if not fut.done():
        fut.set_result(None)

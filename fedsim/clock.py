"""One clock: an asyncio event loop whose time is a SimPy environment's `now`.

`asyncio.sleep`, `wait_for`, `asyncio.timeout` and aiohttp's `ClientTimeout` all
read `loop.time()` and schedule through `call_at`, so they run in simulated time.
When the loop has nothing ready it would block in `selector.select(None)`; our
selector turns that moment into "step SimPy to its next event". While real work
is pending (a training job in a worker thread) it blocks for real instead and the
clock stands still, so compute on the host never costs simulated time.

Rules for code that bridges the two worlds:
- SimPy callbacks run inside `select()`, outside any asyncio handle: they may only
  call `loop.sim_call_soon(...)`, never protocol methods directly.
- A failed SimPy event handed to asyncio must be defused (`event.defused = True`),
  or `Environment.step()` re-raises it and ends the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import selectors
import threading
from asyncio import format_helpers
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from functools import partial
from heapq import heappop, heappush
from typing import Any, TypeVar

import simpy
from simpy.core import Infinity, StopSimulation
from simpy.events import NORMAL, EventPriority

from fedsim.errors import SimulationDeadlock

__all__ = ["SimSelector", "VirtualTimeLoop", "sim_event_to_future"]

T = TypeVar("T")


class SimSelector(selectors.BaseSelector):
    """A real selector for real fds, plus "advance SimPy" when the loop is idle.

    An emulated run has no real fd but asyncio's self-pipe, which only wakes a loop
    blocked while a worker thread runs (`call_soon_threadsafe` queues its callback
    itself). So the real selector is polled only while something else is registered
    or real work is pending: a syscall per loop turn was a tenth of the loop."""

    def __init__(self, env: simpy.Environment) -> None:
        self._real = selectors.DefaultSelector()
        self.env = env
        self.kicked = False
        self.pending_real_work = 0
        self._lock = threading.Lock()
        self._wake_fds: frozenset[int] = frozenset()
        self._polls = False
        """Something besides the wake-up fds is registered: poll on every turn."""
        self.on_idle: Callable[[float], None] | None = None
        """Called once, with the time, when nothing is scheduled and no work is pending:
        a run's last chance to end itself (`sim_call_soon`) rather than deadlock."""

    def set_wake_fds(self, fds: frozenset[int]) -> None:
        """The loop's self-pipe: bytes on it need reading only while real work runs."""
        self._wake_fds = fds
        self._update_polls()

    def _update_polls(self) -> None:
        fds = {key.fd for key in self._real.get_map().values()}
        self._polls = not fds <= self._wake_fds

    # -- delegated registration -------------------------------------------------
    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._real.register(fileobj, events, data)
        self._update_polls()
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._real.unregister(fileobj)
        self._update_polls()
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.get_key(fileobj)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    # -- the idle hook ------------------------------------------------------------
    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self._polls or self.pending_real_work:
            if timeout is not None:
                # asyncio's own timer heap is always empty (call_at is SimPy's), so the
                # loop only ever polls (0) or idles (None).
                return self._real.select(timeout)
            ready = self._real.select(0)
            if ready:
                return ready
            if self.pending_real_work:
                return self._real.select(None)  # woken by call_soon_threadsafe
        elif timeout is not None:
            return []
        self.kicked = False
        env = self.env
        queue = env._queue
        # `Environment.step`, inline (one call per SimPy event): step until a callback
        # kicked the loop, then everything else due at that same instant, so that their
        # asyncio callbacks queue behind the first ones in one loop iteration.
        while True:
            if not queue or queue[0][0] == Infinity:
                if self.kicked:
                    return []
                on_idle, self.on_idle = self.on_idle, None
                if on_idle is not None:
                    on_idle(env.now)  # once: it may kick the loop (`sim_call_soon`)
                    if self.kicked:
                        return []
                raise SimulationDeadlock(
                    f"nothing is scheduled at t={env.now:.6f} s and no work is pending: "
                    "every task waits for something that can never happen"
                )
            if self.kicked and queue[0][0] != env._now:
                return []
            env._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:  # as `Environment.step` (an `env.run(until=...)` event)
                event.callbacks = callbacks[callbacks.index(callback) + 1 :]
                env.schedule(event, EventPriority(-1))
                raise
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)  # as `Environment.step`
                exc.__cause__ = event._value
                raise exc


class _SimTimer(asyncio.TimerHandle):
    """A timer that is its own entry in SimPy's heap: an event to SimPy (`callbacks`,
    `_ok`) whose one callback fires it, where a `simpy.Timeout` made at the same moment
    would sit (same time, priority and event id: `VirtualTimeLoop.call_at`).
    Fired, it joins the ready queue itself, as asyncio moves a due timer there. Its
    context is the one given, or else a copy taken when it fires (`VirtualTimeLoop._fire`,
    outside any handle, as the bridge always ran timers): `_context` stays None until
    then, which also spares the copy for the many timers that are cancelled (aiohttp's
    timeouts). cancel() drops the callback, as asyncio's does: a cancelled timer waits
    in the heap until `VirtualTimeLoop` purges it, and must not keep a request's objects
    alive meanwhile."""

    __slots__ = ("callbacks",)
    _ok = True  # as a succeeded SimPy event

    def __init__(
        self,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        if loop._debug:  # type: ignore[attr-defined]
            super().__init__(when, callback, args, loop, context)
            self._context = context  # (copied when it fires, as below)
        else:  # `TimerHandle.__init__` without debug mode, in one frame (~6 timers a request)
            self._context = context  # type: ignore[assignment]
            self._loop = loop
            self._callback = callback
            self._args = args
            self._cancelled = False
            self._repr = None
            self._source_traceback = None
            self._when = when
            self._scheduled = False  # (never in asyncio's own timer heap)
        self.callbacks: tuple[Callable[[_SimTimer], None], ...] | None = _FIRE
        """What SimPy runs when it processes this entry (shared: no cycle per timer)."""

    def cancel(self) -> None:
        if self._cancelled:
            return
        if self._loop._debug:  # type: ignore[attr-defined]
            super().cancel()  # (keeps a repr)
        else:  # `TimerHandle.cancel`: asyncio's count of its own heap's timers is not ours
            self._cancelled = True
            self._callback = None
            self._args = None
        if self.callbacks is not None:  # still in the heap (`asyncio.sleep` cancels after)
            loop = self._loop  # `VirtualTimeLoop._timer_cancelled`'s count, inline
            loop._sim_cancelled += 1  # type: ignore[attr-defined]
            if loop._sim_cancelled >= PURGE_MIN_CANCELLED:  # type: ignore[attr-defined]
                loop._timer_cancelled(None)  # type: ignore[attr-defined]


class _Handle(asyncio.Handle):
    """`asyncio.Handle` made without asyncio's frames: `VirtualTimeLoop.call_soon` (outside
    debug mode) creates it and fills its fields, the only place one is made. The loop
    queues about twenty-five per client-round, aiohttp's and the wire's."""

    __slots__ = ()


_new_handle = object.__new__


def _fire_timer(handle: _SimTimer) -> None:
    handle._loop._fire(handle)  # type: ignore[attr-defined]


_FIRE = (_fire_timer,)
_RUN_INLINE = frozenset({_Handle, _SimTimer})
"""Handles whose `_run` is asyncio's `Handle._run`: `_run_once` runs them in its frame."""


PURGE_MIN_CANCELLED = 1024
"""Cancelled timers are purged from SimPy's heap once there are at least this many and
they are at least half of it (asyncio's own loop has the same rule for its heap)."""


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on SimPy's clock. `loop.env` is the simulation environment."""

    def __init__(self, env: simpy.Environment | None = None) -> None:
        self.env = env if env is not None else simpy.Environment()
        self._sim_selector = SimSelector(self.env)
        self._sim_cancelled = 0
        super().__init__(selector=self._sim_selector)
        self._sim_selector.set_wake_fds(frozenset({self._ssock.fileno()}))
        # Called from C for every future and task (`Future.__init__` asks `get_debug`;
        # aiohttp makes its futures with `create_future`): C callables on the instance
        # answer as asyncio's one-line methods do, without a Python frame. `close` drops
        # them (they refer back to the loop).
        self.get_debug = partial(getattr, self, "_debug")  # type: ignore[method-assign]
        self.create_future = partial(asyncio.Future, loop=self)  # type: ignore[method-assign]

    def close(self) -> None:
        super().close()
        self.__dict__.pop("get_debug", None)
        self.__dict__.pop("create_future", None)

    def time(self) -> float:
        return float(self.env._now)

    @property
    def on_idle(self) -> Callable[[float], None] | None:
        """See `SimSelector.on_idle`: without one, an idle loop raises `SimulationDeadlock`."""
        return self._sim_selector.on_idle

    @on_idle.setter
    def on_idle(self, hook: Callable[[float], None] | None) -> None:
        self._sim_selector.on_idle = hook

    def _run_once(self) -> None:
        """`BaseEventLoop._run_once` without what this loop never has: asyncio's own
        timer heap stays empty (`call_at` is SimPy's), so there are no due timers to move
        and no clock to read; the selector is asked only when it can matter (the loop is
        idle, so SimPy steps, or real fds or real work need a poll). The ready handles
        run as asyncio runs them, in order, those queued meanwhile after them. While
        handles are queued and nothing needs a poll, the turns asyncio would make next
        (a `select(0)` answering [], then those handles) are made here, in the same
        order, until the loop is idle or asked to stop (`run_forever` checks that after
        each turn). Debug mode, or a timer asyncio itself holds, takes asyncio's own."""
        if self._debug or self._scheduled:  # type: ignore[attr-defined]
            super()._run_once()  # type: ignore[misc]
            return
        ready = self._ready  # type: ignore[attr-defined]
        selector = self._sim_selector
        if not (ready or self._stopping):  # type: ignore[attr-defined]
            event_list = selector.select(None)
        elif selector._polls or selector.pending_real_work:
            event_list = selector.select(0)
        else:
            event_list = None  # `select(0)` answers [] without looking
        if event_list:
            self._process_events(event_list)  # type: ignore[attr-defined]
            event_list = None  # as asyncio: no cycle through a raised exception's frame
        popleft = ready.popleft
        while True:
            for _ in range(len(ready)):
                handle = popleft()
                if handle._cancelled:
                    continue
                if type(handle) in _RUN_INLINE:  # `Handle._run`, without its frame
                    try:
                        handle._context.run(handle._callback, *handle._args)
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        self._callback_failed(handle, exc)
                else:
                    handle._run()
            handle = None  # as asyncio: drop the last handle before the next turn
            if (
                not ready
                or self._stopping  # type: ignore[attr-defined]
                or selector._polls
                or selector.pending_real_work
                or self._debug  # type: ignore[attr-defined]
                or self._scheduled  # type: ignore[attr-defined]
            ):
                return

    def create_task(  # type: ignore[override]
        self,
        coro: Any,
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        """`BaseEventLoop.create_task` without its `_check_closed` frame (no task factory,
        no debug mode: there it only makes the task)."""
        if self._debug or self._task_factory is not None:  # type: ignore[attr-defined]
            return super().create_task(coro, name=name, context=context)
        if self._closed:  # type: ignore[attr-defined]
            raise RuntimeError("Event loop is closed")
        return asyncio.Task(coro, loop=self, name=name, context=context)

    def _callback_failed(self, handle: asyncio.Handle, exc: BaseException) -> None:
        """What `Handle._run` does when its callback raises (`_run_once` runs it inline)."""
        cb = format_helpers._format_callback_source(handle._callback, handle._args)  # type: ignore[attr-defined]
        context: dict[str, Any] = {
            "message": f"Exception in callback {cb}",
            "exception": exc,
            "handle": handle,
        }
        if handle._source_traceback:  # type: ignore[attr-defined]
            context["source_traceback"] = handle._source_traceback  # type: ignore[attr-defined]
        self.call_exception_handler(context)

    def call_soon(  # type: ignore[override]
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        """`BaseEventLoop.call_soon` (checks, a `Handle`, the ready queue) in one frame
        instead of five; debug mode keeps asyncio's own, with its checks."""
        if self._debug:  # type: ignore[attr-defined]
            return super().call_soon(callback, *args, context=context)
        if self._closed:  # type: ignore[attr-defined]
            raise RuntimeError("Event loop is closed")
        handle = _new_handle(_Handle)  # its fields, here: its one construction site
        handle._context = contextvars.copy_context() if context is None else context
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._repr = None
        handle._source_traceback = None
        self._ready.append(handle)  # type: ignore[attr-defined]
        return handle

    def sim_call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        """Schedule `callback` on the loop from inside a SimPy callback (`call_soon`'s
        body: the wire's deliveries come this way)."""
        self._sim_selector.kicked = True
        self.call_soon(callback, *args)

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        handle = _SimTimer(when, callback, args, self, context)
        env = self.env
        now = env._now  # the heap entry `env.timeout(max(0, when - now))` would make
        heappush(env._queue, (now + max(0.0, when - now), NORMAL, next(env._eid), handle))
        return handle

    def call_later(  # type: ignore[override]
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """`BaseEventLoop.call_later`: `call_at(time() + delay)`, without `time`'s frame."""
        if delay is None:
            raise TypeError("delay must not be None")
        if self._debug:  # type: ignore[attr-defined]
            return super().call_later(delay, callback, *args, context=context)
        return self.call_at(float(self.env._now) + delay, callback, *args, context=context)

    def _timer_cancelled(self, _handle: _SimTimer | None) -> None:
        """Most timers are cancelled long before their deadline (aiohttp's request and
        long-poll timeouts: minutes, where a round on fast links takes milliseconds), so
        their SimPy events would pile up at about 1 KB each. Purging them changes no
        result: a cancelled timer's event does nothing when it is processed.
        `_SimTimer.cancel` has counted it already (the count inline, this call only past
        the threshold)."""
        if self._sim_cancelled >= PURGE_MIN_CANCELLED:
            queue = self.env._queue  # SimPy's heap of (time, priority, id, event)
            if 2 * self._sim_cancelled >= len(queue):
                self._purge_cancelled(queue)

    def _purge_cancelled(self, queue: list[tuple[Any, ...]]) -> None:
        queue[:] = [
            entry
            for entry in queue
            if type(timer := entry[3]) is not _SimTimer or not timer._cancelled
        ]
        heapq.heapify(queue)  # (time, priority, id) keys are unique: same order as before
        self._sim_cancelled = 0

    def _fire(self, handle: _SimTimer) -> None:
        """SimPy reached a timer: it joins the ready queue (a cancel before it runs is
        seen there), in a copy of the context taken now if it was given none."""
        if handle._cancelled:
            return
        self._sim_selector.kicked = True
        if handle._context is None:
            handle._context = contextvars.copy_context()
        self._ready.append(handle)  # type: ignore[attr-defined]

    # -- real work keeps the clock still -----------------------------------------
    @contextlib.contextmanager
    def hold_clock(self) -> Iterator[None]:
        """While inside, simulated time cannot advance (for foreign threads' work)."""
        self._sim_selector.pending_real_work += 1
        try:
            yield
        finally:
            self._sim_selector.pending_real_work -= 1
            self._write_to_self()

    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        fut = super().run_in_executor(executor, func, *args)
        self._sim_selector.pending_real_work += 1

        def done(_f: asyncio.Future[T]) -> None:
            self._sim_selector.pending_real_work -= 1

        fut.add_done_callback(done)
        return fut

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        # 3.11 joins the executor in a bare thread: count it, or the idle loop would
        # step SimPy through leftover timers and report a deadlock at teardown.
        with self.hold_clock():
            await super().shutdown_default_executor()


def sim_event_to_future(loop: VirtualTimeLoop, event: simpy.Event) -> asyncio.Future[Any]:
    """An asyncio future resolved when `event` is processed (a failure is defused)."""
    fut: asyncio.Future[Any] = loop.create_future()

    def resolve(ev: simpy.Event) -> None:
        if ev.ok:
            loop.sim_call_soon(_set_result, fut, ev.value)
        else:
            ev.defused = True
            loop.sim_call_soon(_set_exception, fut, ev.value)

    if event.callbacks is None:  # already processed
        resolve(event)
    else:
        event.callbacks.append(resolve)
    return fut


def _set_result(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)

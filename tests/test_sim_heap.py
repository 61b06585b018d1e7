"""Calls and asyncio timers put straight on SimPy's heap (`fedsim.sim_heap`, the clock's
`call_at`) run in exactly the order `simpy.Timeout`s made at the same moments did, and the
clock's inline stepping processes them as `Environment.step` does."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.clock import SimSelector, VirtualTimeLoop, _SimTimer
from fedsim.errors import SimulationDeadlock
from fedsim.sim_heap import call_at


def _timeout_call_at(env: simpy.Environment, t: float, fn: Callable[[Any], object]) -> None:
    """What `call_at` replaces: a Timeout whose one callback is `fn`."""
    env.timeout(max(0.0, t - env.now)).callbacks.append(fn)


def test_a_call_takes_the_heap_entry_a_timeout_would() -> None:
    env = simpy.Environment()
    env.timeout(2.9)
    env.step()  # now 2.9: 2.9 + (7.7 - 2.9) is not 7.7 in floats; the entry keeps SimPy's sum
    env.timeout(7.7 - 2.9)
    call_at(env, 7.7, lambda _ev: None)
    call_at(env, 1.5, lambda _ev: None)  # in the past: now
    entries = sorted(env._queue, key=lambda e: e[2])
    assert 2.9 + (7.7 - 2.9) != 7.7
    assert [(e[0], e[1]) for e in entries] == [(2.9 + (7.7 - 2.9), 1)] * 2 + [(2.9, 1)]
    assert [e[2] for e in entries] == [entries[0][2], entries[0][2] + 1, entries[0][2] + 2]


_delay = st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.0 / 3.0])
_op = st.tuples(st.sampled_from(["timeout", "call", "nested"]), _delay)


def _sim_program(ops: list[tuple[str, float]], at: Callable[..., None]) -> list[tuple[int, float]]:
    env = simpy.Environment()
    seen: list[tuple[int, float]] = []

    def record(i: int) -> Callable[[Any], None]:
        return lambda _ev: seen.append((i, env.now))

    for i, (kind, delay) in enumerate(ops):
        if kind == "timeout":
            env.timeout(delay).callbacks.append(record(i))
        elif kind == "call":
            at(env, env.now + delay, record(i))
        else:  # a call that schedules another call and a timeout when it runs

            def nested(_ev: Any, i: int = i, delay: float = delay) -> None:
                seen.append((i, env.now))
                at(env, env.now + delay, record(-i - 1))
                env.timeout(delay).callbacks.append(record(-i - 1000))

            at(env, env.now + delay, nested)
    env.run()
    return seen


@settings(max_examples=200, deadline=None)
@given(st.lists(_op, max_size=40))
def test_calls_run_in_the_order_timeouts_ran(ops: list[tuple[str, float]]) -> None:
    assert _sim_program(ops, call_at) == _sim_program(ops, _timeout_call_at)


# -- the clock: timers as heap entries, inline stepping ------------------------------------
class _SteppingSelector(SimSelector):
    """The selector as it was: `Environment.peek` and `Environment.step` per event."""

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is not None:
            return []
        self.kicked = False
        env = self.env
        while not self.kicked:
            if env.peek() == simpy.core.Infinity:
                raise SimulationDeadlock("deadlock")
            env.step()
        now = env.now
        while env.peek() == now:
            env.step()
        return []


class _TimeoutTimerLoop(VirtualTimeLoop):
    """The clock as it was: every timer a `simpy.Timeout`, stepped by SimPy."""

    def __init__(self) -> None:
        super().__init__()
        self._selector = self._sim_selector = _SteppingSelector(self.env)

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> Any:  # type: ignore[override]
        handle = _SimTimer(when, callback, args, self, context)
        handle.callbacks = None  # not a heap entry itself here
        fire = self._fire
        self.env.timeout(max(0.0, when - self.env.now)).callbacks.append(lambda _e: fire(handle))
        return handle

    def _purge_cancelled(self, queue: list[tuple[Any, ...]]) -> None:
        pass  # (purging changes no order; nothing to purge among Timeouts)


_loop_op = st.tuples(st.sampled_from(["timer", "cancelled", "sleep", "simpy", "call"]), _delay)


def _loop_program(loop: VirtualTimeLoop, ops: list[tuple[str, float]]) -> list[tuple[int, float]]:
    seen: list[tuple[int, float]] = []
    env = loop.env

    def note(i: int) -> None:
        seen.append((i, loop.time()))

    def kick(i: int) -> Callable[[Any], None]:
        def fn(_ev: Any) -> None:
            seen.append((-i - 1, env.now))
            loop.sim_call_soon(note, i)

        return fn

    async def sleeper(i: int, delay: float) -> None:
        await asyncio.sleep(delay)
        note(i)
        await asyncio.sleep(delay)
        note(i + 10_000)

    async def main() -> None:
        tasks = []
        for i, (kind, delay) in enumerate(ops):
            if kind == "timer":
                loop.call_later(delay, note, i)
            elif kind == "cancelled":
                loop.call_later(delay, note, i).cancel()
            elif kind == "sleep":
                tasks.append(asyncio.ensure_future(sleeper(i, delay)))
            elif kind == "simpy":
                env.timeout(delay).callbacks.append(kick(i))
            else:
                call_at(env, env.now + delay, kick(i))
            if i % 7 == 6:
                await asyncio.sleep(0.25)
        await asyncio.gather(*tasks)
        await asyncio.sleep(2.0)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return seen


@settings(max_examples=100, deadline=None)
@given(st.lists(_loop_op, max_size=30))
def test_timers_on_the_heap_fire_as_timeout_timers_did(ops: list[tuple[str, float]]) -> None:
    assert _loop_program(VirtualTimeLoop(), ops) == _loop_program(_TimeoutTimerLoop(), ops)


def test_a_failed_event_that_nobody_defused_ends_the_run_as_simpy_would() -> None:
    loop = VirtualTimeLoop()
    try:
        loop.env.event().fail(ValueError("boom"))
        with pytest.raises(ValueError, match="boom") as caught:
            loop.run_until_complete(asyncio.sleep(1.0))
        assert isinstance(caught.value.__cause__, ValueError)  # a copy, as SimPy raises it
    finally:
        loop.close()


def test_a_timer_cancelled_after_it_fired_does_not_run() -> None:
    """A fired timer waits in the ready queue: a cancel from a callback queued before
    it (same instant) still stops it, as in asyncio."""
    loop = VirtualTimeLoop()
    try:
        fired: list[int] = []
        timers: list[asyncio.TimerHandle] = []
        loop.call_later(1.0, lambda: timers[0].cancel())  # runs first: same time, earlier id
        timers.append(loop.call_later(1.0, fired.append, 2))
        loop.call_later(1.0, fired.append, 3)
        loop.run_until_complete(asyncio.sleep(2.0))
        assert fired == [3]
    finally:
        loop.close()


def test_a_timer_runs_in_the_context_it_was_given_or_a_copy_taken_when_it_fires() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="loop")
    loop = VirtualTimeLoop()
    try:
        seen: list[str] = []
        given = contextvars.copy_context()
        given.run(var.set, "given")

        async def main() -> None:
            var.set("task")  # not seen by a timer made without a context (the bridge's rule)
            loop.call_later(1.0, lambda: seen.append(var.get()))
            loop.call_later(1.0, lambda: seen.append(var.get()), context=given)
            await asyncio.sleep(2.0)

        loop.run_until_complete(main())
        assert seen == ["loop", "given"]
    finally:
        loop.close()


def test_a_timer_made_and_cancelled_without_asyncio_s_frames_is_a_timer_handle() -> None:
    """`_SimTimer` sets `TimerHandle`'s fields itself (debug mode goes through asyncio):
    asyncio's own accessors and cancel semantics hold in both modes."""
    for debug in (False, True):
        loop = VirtualTimeLoop()
        try:
            loop.set_debug(debug)
            fired: list[int] = []
            keep = loop.call_later(2.0, fired.append, 1)
            drop = loop.call_later(1.0, fired.append, 2)
            assert (keep.when(), drop.when()) == (2.0, 1.0)
            assert not drop.cancelled()
            drop.cancel()
            drop.cancel()  # twice: counted once
            assert drop.cancelled()
            assert loop._sim_cancelled == 1
            assert drop._args is None
            loop.run_until_complete(asyncio.sleep(3.0))
            assert fired == [1]
            keep.cancel()  # after it fired (as `asyncio.sleep` does): not in the heap
            assert loop._sim_cancelled == 1
        finally:
            loop.close()

"""The virtual clock: asyncio and aiohttp timers run in simulated time."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.clock import VirtualTimeLoop
from fedsim.errors import SimulationDeadlock


async def test_an_hour_of_sleep_is_an_hour_of_simulated_time() -> None:
    """(Its wall-clock cost is a ratio in bench/run_all.py, not a test assertion.)"""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    t0 = loop.time()
    await asyncio.sleep(3600)
    assert loop.time() - t0 == pytest.approx(3600.0, abs=1e-9)


async def test_wait_for_and_timeout_fire_at_simulated_deadlines() -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.sleep(100), 5)
    assert loop.time() - t0 == pytest.approx(5.0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(7):
            await asyncio.sleep(100)
    assert loop.time() - t0 == pytest.approx(12.0)


async def test_simultaneous_timers_fire_in_scheduling_order() -> None:
    order: list[str] = []

    async def nap(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        order.append(name)

    await asyncio.gather(nap("a", 2), nap("b", 1), nap("c", 1), nap("d", 2))
    assert order == ["b", "c", "a", "d"]


async def test_worker_thread_work_does_not_advance_the_clock() -> None:
    loop = asyncio.get_running_loop()
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(3):
            await asyncio.sleep(0.001)
            ticks.append(loop.time())

    def job() -> float:
        a = np.random.default_rng(0).random((400, 400))
        return float((a @ a).sum())

    t0 = loop.time()
    tick = asyncio.create_task(ticker())
    await loop.run_in_executor(None, job)
    assert loop.time() == t0  # the job took real time, zero simulated time
    await tick
    assert ticks == pytest.approx([t0 + 0.001, t0 + 0.002, t0 + 0.003])


async def test_aiohttp_client_timeout_follows_simulated_time() -> None:
    """A stalled server: the client's ClientTimeout fires at exactly +30 s simulated."""
    from fedsim.net.transport import EmulatedConnector, EmulatedSite, Wire

    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)

    class Instant:
        def __init__(self, env: object) -> None:
            self.env = env

        def connect(self) -> object:
            return loop.env.timeout(0)

        def send(self, direction: int, nbytes: int) -> object:
            return loop.env.timeout(0)

        def break_(self, cause: str) -> None:
            pass

        def close(self) -> None:
            pass

    wire = Wire(loop, lambda c, s: (Instant(loop.env), 0.0))

    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(10_000)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/", stall)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await EmulatedSite(runner, wire, "srv", "server", 80).start()
    await asyncio.sleep(9.27)  # not a whole second: aiohttp would round without ceil_threshold
    timeout = aiohttp.ClientTimeout(total=30, ceil_threshold=float("inf"))
    t0 = loop.time()
    async with aiohttp.ClientSession(connector=EmulatedConnector(wire, "dev")) as s:
        with pytest.raises(TimeoutError):
            await s.get("http://server/", timeout=timeout)
    assert loop.time() - t0 == pytest.approx(30.0, abs=1e-9)
    await runner.cleanup()


def test_the_real_selector_is_polled_only_for_real_fds_or_real_work() -> None:
    """An emulated run has no real fd but asyncio's self-pipe: no syscall per loop turn.
    A real fd, or a job in a worker thread, is polled (and its wake-up seen) as before."""
    polls: list[float | None] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        real = loop._sim_selector._real
        plain = real.select

        def counted(timeout: float | None = None) -> list:
            polls.append(timeout)
            return plain(timeout)

        real.select = counted  # type: ignore[method-assign]
        for _ in range(50):
            await asyncio.sleep(0.01)
        assert polls == []
        assert await loop.run_in_executor(None, sum, [1, 2, 3]) == 6
        assert polls  # it blocked for the worker's wake-up
        polls.clear()
        a, b = socket.socketpair()
        got = loop.create_future()
        loop.add_reader(a.fileno(), lambda: got.set_result(a.recv(1)))
        b.send(b"x")
        assert await got == b"x"
        loop.remove_reader(a.fileno())
        a.close()
        b.close()
        assert polls
        polls.clear()
        await asyncio.sleep(1)
        assert polls == []

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        runner.run(main())


def test_deadlock_is_reported_not_hung() -> None:
    async def forever() -> None:
        await asyncio.get_running_loop().create_future()

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner, pytest.raises(SimulationDeadlock):
        runner.run(forever())


def test_an_idle_hook_gets_one_chance_to_end_the_wait() -> None:
    """`on_idle` runs once when nothing is scheduled (a run ends itself there); idle
    again, the loop raises as before."""
    loop = VirtualTimeLoop()
    seen: list[float] = []

    async def main() -> str:
        await asyncio.sleep(5)
        fut = loop.create_future()

        def idle(now: float) -> None:
            seen.append(now)
            loop.sim_call_soon(fut.set_result, "ended")

        loop.on_idle = idle
        got = await fut
        await loop.create_future()  # idle again: no hook any more
        return got

    with asyncio.Runner(loop_factory=lambda: loop) as runner, pytest.raises(SimulationDeadlock):
        runner.run(main())
    assert seen == [5.0]
    assert loop.on_idle is None


def test_a_cancelled_timer_keeps_nothing_alive() -> None:
    """A cancelled timer's SimPy event waits in the heap until its deadline; it must not
    hold the callback's arguments (aiohttp cancels most timeouts: at scale this was ~2 KB
    per client-round)."""
    import gc
    import weakref

    class Payload:
        pass

    loop = VirtualTimeLoop()
    try:
        payload = Payload()
        alive = weakref.ref(payload)
        fired: list[object] = []
        handle = loop.call_later(600.0, fired.append, payload)
        del payload
        handle.cancel()
        gc.collect()
        assert alive() is None
        loop.run_until_complete(asyncio.sleep(601.0))
        assert fired == []
        assert loop.time() == pytest.approx(601.0)
    finally:
        loop.close()


def test_cancelled_timers_are_purged_from_the_simpy_heap() -> None:
    """Thousands of long timeouts cancelled at once (aiohttp's request timeouts after a
    fast exchange) must not stay in SimPy's heap until their deadlines; a live timer
    among them still fires at its time, after the purge."""
    from fedsim.clock import PURGE_MIN_CANCELLED, VirtualTimeLoop

    loop = VirtualTimeLoop()
    fired: list[float] = []
    try:
        live = loop.call_at(5.0, lambda: fired.append(loop.time()))
        doomed = [loop.call_at(600.0, fired.append, i) for i in range(2 * PURGE_MIN_CANCELLED)]
        assert len(loop.env._queue) == 2 * PURGE_MIN_CANCELLED + 1
        for handle in doomed:
            handle.cancel()
        assert len(loop.env._queue) <= PURGE_MIN_CANCELLED  # purged, not left to expire
        loop.run_until_complete(asyncio.sleep(10.0))
    finally:
        loop.close()
    assert not live.cancelled()
    assert fired == [5.0]


def test_call_soon_keeps_asyncio_s_order_context_and_checks() -> None:
    """`VirtualTimeLoop.call_soon` builds its handle in one frame: FIFO order, the
    caller's context (or a copy of the current one), a handle that can be cancelled,
    a closed loop refused; debug mode is asyncio's own (with its thread check)."""
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")
    for debug in (False, True):
        loop = VirtualTimeLoop()
        seen: list[tuple[int, str]] = []
        try:
            loop.set_debug(debug)
            ctx = contextvars.copy_context()
            ctx.run(var.set, "inner")
            note = seen.append
            loop.call_soon(lambda note=note: note((1, var.get())))
            loop.call_soon(lambda note=note: note((2, var.get())), context=ctx)
            loop.call_soon(seen.append, (3, "x")).cancel()
            handle = loop.call_soon(seen.append, (4, "y"))
            assert isinstance(handle, asyncio.Handle)
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            loop.close()
        assert seen == [(1, "outer"), (2, "inner"), (4, "y")]
        with pytest.raises(RuntimeError, match="closed"):
            loop.call_soon(seen.append, 5)


def _program_trace(program: list[tuple[int, int, float]], own_turns: bool) -> list:
    """Run a random program of callbacks on a VirtualTimeLoop: each step queues
    callbacks (`call_soon`), timers (`call_later`: SimPy's heap) or a stop; return the
    order in which everything ran, with the clock and where each `run_forever` ended."""
    loop = VirtualTimeLoop()
    trace: list = []
    if not own_turns:  # asyncio's own turn, one batch at a time
        loop._run_once = lambda: asyncio.BaseEventLoop._run_once(loop)  # type: ignore[method-assign]
    steps = iter(program)

    def step(name: int) -> None:
        trace.append((name, loop.time()))
        for _ in range(2):
            op, arg, delay = next(steps, (-1, 0, 0.0))
            if op == 0:
                loop.call_soon(step, arg)
            elif op == 1:
                loop.call_later(delay, step, arg)
            elif op == 2:
                loop.call_soon(step, arg).cancel()
            elif op == 3:
                loop.stop()
                trace.append(("stop", name))

    try:
        loop.call_soon(step, -1)
        for _ in range(len(program) + 1):  # each run ends at a stop, or when nothing is left
            loop.call_soon(loop.stop)
            loop.run_forever()
            trace.append(("ran", loop.time()))
    finally:
        loop.close()
    return trace


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 0, 0, 1, 2, 3]),
            st.integers(0, 99),
            st.sampled_from([0.0, 0.5, 1.0]),
        ),
        max_size=60,
    )
)
def test_a_turn_running_the_next_turns_batches_keeps_asyncio_s_order(program) -> None:
    """`VirtualTimeLoop._run_once` runs, in one turn, the batches asyncio's next turns
    would (nothing to poll in between): the same callbacks in the same order at the same
    simulated times, and every `run_forever` ends where asyncio's ends."""
    assert _program_trace(program, own_turns=True) == _program_trace(program, own_turns=False)

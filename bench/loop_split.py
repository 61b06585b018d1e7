"""Which side of the emulated wire the event loop's time goes to: devices, server, network.

Runs bench-flower's job (bench/flower_job.py) with `fedsim run` in this process twice
(the first fills Numba's caches) and, in the second run, times every callback the loop
runs and puts it in one bucket:

* **devices**: the FL client's tasks (training, encoding, signing) and aiohttp's client
  (requests, the connector, its response parser);
* **server**: aiohttp's server (request parsing, routing, middlewares), the FL
  server's handlers (authentication, checks, decoding) and the run's own task (the round
  engine: selection, aggregation, evaluation, the results' rows);
* **network**: the emulated wire (a message handed to the network model, its bookings,
  ACKs and meters, its delivery) and SimPy's steps (the network model's timers);
* **loop**: the rest of the loop's own turns (taking handles, the clock, asyncio's
  futures waking their waiters, a device's compute time ending).

A delivery's callback is the network's until it gives the bytes to the receiving end's
protocol; that call is timed apart and goes to the receiver's side. Callbacks that are
neither a task's step nor a known module's (rare) are counted as `other`.

Why it matters: a run's loop is one thread. If the devices' side and the server's side
(with the network model) ran in two processes on two cores, synchronised on the
simulated clock with the wire's latency as look-ahead (conservative parallel
simulation), the loop could take at best max(devices, server + network) + the loop's
own share instead of their sum; with the work cut into two perfectly equal halves, half
of the three sides + the loop's own share. This measures those bounds (before any cost
of synchronising the two processes); it builds nothing of them.

    python bench/loop_split.py [DEVICES ROUNDS ...]     (default: 1000 5  100 20)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from flower_job import write_topology  # noqa: E402

import fedsim.cli  # noqa: E402
from fedsim.clock import SimSelector, VirtualTimeLoop  # noqa: E402
from fedsim.net.transport import EmulatedTransport  # noqa: E402

__all__ = ["measure_split", "side_of"]

BUCKETS = ("devices", "server", "network", "loop", "other")
_PREFIXES = (
    ("fedsim.fl.client", "devices"),
    ("fedsim.tasks", "devices"),
    ("fedsim.kernels.train", "devices"),
    ("aiohttp.client", "devices"),
    ("aiohttp.connector", "devices"),
    ("aiohttp.web", "server"),
    ("fedsim.fl", "server"),
    ("fedsim.run", "server"),  # the run's task drives the round engine
    ("fedsim.kernels", "server"),
    ("fedsim.net", "network"),
    ("fedsim.sim_heap", "network"),
    ("simpy", "network"),
    ("fedsim.clock", "loop"),
    ("asyncio", "loop"),
)


def side_of(module: str) -> str:
    """The bucket of code defined in `module` (the first prefix that matches)."""
    for prefix, side in _PREFIXES:
        if module.startswith(prefix):
            return side
    return "other"


def _callback_side(callback: object) -> str:
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):  # a task's step or wake-up: its coroutine's module
        coro = owner.get_coro()
        frame = getattr(coro, "cr_frame", None)
        module = frame.f_globals.get("__name__", "") if frame is not None else ""
        if module:
            return side_of(module)
        code = getattr(coro, "cr_code", None)
        return side_of(_module_of_file(code.co_filename)) if code is not None else "other"
    func = getattr(callback, "func", callback)  # functools.partial
    func = getattr(func, "__func__", func)
    return side_of(getattr(func, "__module__", "") or "")


def _module_of_file(filename: str) -> str:
    for marker, name in (("/aiohttp/client", "aiohttp.client"), ("/aiohttp/web", "aiohttp.web")):
        if marker in filename:
            return name
    if "/fedsim/" in filename:
        return "fedsim." + filename.split("/fedsim/")[-1].removesuffix(".py").replace("/", ".")
    return ""


class _Split:
    """Exclusive time per bucket, with a stack so a nested timed call is taken out of
    its caller's bucket."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.stack: list[list] = []  # [bucket, start, time of nested calls]

    def enter(self, bucket: str) -> None:
        self.stack.append([bucket, time.perf_counter(), 0.0])

    def leave(self) -> None:
        bucket, start, nested = self.stack.pop()
        took = time.perf_counter() - start
        self.spent[bucket] += took - nested
        if self.stack:
            self.stack[-1][2] += took


def _instrumented(split: _Split):
    """Patches: every handle the loop runs, SimPy's steps (inside `select`) and each
    delivery to a protocol are timed into `split`. Returns an undo function.

    The loop then takes asyncio's own turn (`BaseEventLoop._run_once`, which calls each
    handle's `_run`) instead of its inline one: the same handles in the same order
    (fedsim/clock.py), slower, but every callback passes through `Handle._run`."""
    real = {
        (VirtualTimeLoop, "_run_once"): VirtualTimeLoop._run_once,
        (SimSelector, "select"): SimSelector.select,
        (EmulatedTransport, "_data_received"): EmulatedTransport._data_received,
        (EmulatedTransport, "_eof_received"): EmulatedTransport._eof_received,
        (asyncio.Handle, "_run"): asyncio.Handle._run,
    }

    def timed(bucket_of, inner):
        def wrapper(self, *args):
            split.enter(bucket_of(self))
            try:
                return inner(self, *args)
            finally:
                split.leave()

        return wrapper

    def run_once(self: VirtualTimeLoop) -> None:
        split.enter("loop")
        try:
            asyncio.SelectorEventLoop._run_once(self)  # type: ignore[attr-defined]
        finally:
            split.leave()

    VirtualTimeLoop._run_once = run_once  # type: ignore[method-assign]
    SimSelector.select = timed(lambda _: "network", real[(SimSelector, "select")])
    for name in ("_data_received", "_eof_received"):
        setattr(EmulatedTransport, name, timed(
            lambda t: side_of(type(t._protocol).__module__), real[(EmulatedTransport, name)]
        ))  # fmt: skip
    asyncio.Handle._run = timed(  # type: ignore[method-assign]
        lambda h: _callback_side(h._callback), real[(asyncio.Handle, "_run")]
    )

    def undo() -> None:
        for (owner, name), value in real.items():
            setattr(owner, name, value)

    return undo


def _run(topology: Path, out: Path) -> None:
    try:
        code = fedsim.cli.main(["run", str(topology), "--quiet", "--no-plots", "--out", str(out)])
    except SystemExit as exc:
        code = exc.code
    if code not in (0, None):
        raise RuntimeError(f"fedsim run {topology} exited {code}")


def measure_split(devices: int, rounds: int, folder: Path | None = None) -> dict[str, float]:
    """Seconds per bucket of the measured run's loop, `total` (their sum) and `wall`
    (around the whole measured run). The two runs' folders are `folder`/warm and
    /measured (a temporary folder without one)."""
    if folder is None:  # a 1000-device run's folders are not kept
        with tempfile.TemporaryDirectory(prefix="loop-split-") as tmp:
            return measure_split(devices, rounds, Path(tmp))
    tmp = folder
    topology = write_topology(devices, rounds, tmp)
    _run(topology, tmp / "warm")
    split = _Split()
    undo = _instrumented(split)
    t0 = time.perf_counter()
    try:
        _run(topology, tmp / "measured")
    finally:
        undo()
    out = {b: split.spent.get(b, 0.0) for b in BUCKETS}
    out["total"] = sum(out.values())
    out["wall"] = time.perf_counter() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    args = [int(a) for a in (argv if argv is not None else sys.argv[1:])] or [1000, 5, 100, 20]
    print(
        "| case | devices | server | network | loop | other "
        "| two cores: devices / server + network | two cores: perfect halves |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for devices, rounds in zip(args[::2], args[1::2], strict=True):
        s = measure_split(devices, rounds)
        print(f"(N={devices} x {rounds}: loop {s['total']:.2f} s)", file=sys.stderr)
        total = s["total"]
        pct = {b: 100 * s[b] / total for b in BUCKETS}
        serial = s["loop"] + s["other"]  # each process turns its own loop
        split = (max(s["devices"], s["server"] + s["network"]) + serial) / total
        halves = ((s["devices"] + s["server"] + s["network"]) / 2 + serial) / total
        print(
            f"| N={devices} x {rounds} | "
            + " | ".join(f"{pct[b]:.0f} %" for b in BUCKETS)
            + "".join(f" | {100 * b:.0f} % of the loop ({1 / b:.2f}x)" for b in (split, halves))
            + " |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

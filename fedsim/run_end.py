"""Ending a run that can no longer make progress, loudly (docs/topology.md, `fl.stall_limit`).

Unattended sweeps need every run to end, with results, and to say why. Three checks
end a run the engines alone would wait on forever:

- `devices_lost` (proved): the network knows which devices are gone for good
  (`Network.lost`: retired, failed `forever`, down past the horizon); a device whose
  battery runs dry before its path's scheduled return is lost too (`stranded`), and
  one whose path's round trip outlasts the client's connect timeout never connects
  (`unreachable`); once fewer can ever be online again than a round needs, the
  engine stops waiting for them.
- `stall_limit` (a safety net for what cannot be proved): no round closed for
  `fl.stall_limit` of simulated time, counted from the last round's close or from the
  last return of a device the topology schedules (a failure's or a trace's end),
  whichever is later: the run waits for everything scheduled to bring devices back.
- `no_events` (the last resort): nothing is scheduled and no work is pending, which
  `fedsim.clock` would otherwise report as a `SimulationDeadlock` traceback.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from fedsim.clock import VirtualTimeLoop
from fedsim.fl.client import BACKOFF_S
from fedsim.fl.engine import Prospects, RoundRecord
from fedsim.fl.timeouts import connect_timeout
from fedsim.net.network import Network
from fedsim.net.reach import min_connect_s
from fedsim.scenario import Scenario

__all__ = [
    "STALL_FACTOR",
    "StallWatch",
    "auto_stall_limit",
    "last_scheduled_return",
    "lost_for_good",
    "watch_run",
]

STALL_FACTOR = 10.0
"""`fl.stall_limit: auto` is this many times the longest a round may take while the
federation works (`auto_stall_limit`): a round ten times later than that is stuck."""


def auto_stall_limit(sc: Scenario) -> float:
    """STALL_FACTOR x (the round's wait for reports: `deadline`, x `buffer` for async,
    whose aggregation may need K tasks one after the other; + `round_interval` +
    `poll_wait` + the clients' longest backoff + the longest up-down cycle of a
    `markov` or `periodic` node, the wait for devices to be awake together)."""
    fl = sc.fl
    work = fl.deadline_s * (fl.buffer if fl.engine == "async" else 1)
    cycle = max((_cycle_s(n.connectivity) for n in sc.nodes), default=0.0)
    return STALL_FACTOR * (work + fl.round_interval_s + fl.poll_wait_s + BACKOFF_S[1] + cycle)


def _cycle_s(spec: Any) -> float:
    if spec.kind == "markov":
        return float(spec.mean_up_s + spec.mean_down_s)
    if spec.kind == "periodic":
        return float(spec.period_s)
    return 0.0


def last_scheduled_return(sc: Scenario) -> float:
    """The last moment before the horizon (`fl.time_limit`) at which the topology brings
    a node or link back: a failure's end, a trace's down interval's end (0: none)."""
    ends = [f.at_s + f.duration_s for f in sc.failures]
    ends += [
        e for n in sc.nodes if n.connectivity.kind == "trace" for _s, e, _w in n.connectivity.trace
    ]
    return max((e for e in ends if not sc.fl.lasts_for_good(e)), default=0.0)


def unreachable(net: Network, sc: Scenario) -> dict[str, str]:
    """Devices that can never open a connection -> `connect_timeout`: the least time a
    connect takes on their path is longer than the client's connect timeout."""
    limit = connect_timeout(sc.fl.transport)
    if limit is None:
        return {}
    return {
        d.name: "connect_timeout"
        for d in sc.device_nodes
        if min_connect_s(net.path(d.name)) > limit
    }


def stranded(
    net: Network, runs_dry_by: Callable[[str], float], lost: dict[str, str]
) -> dict[str, str]:
    """Devices not yet `lost` whose path is down until a scheduled return (a failure's or
    a trace interval's end) that their battery cannot wait for -> `battery`."""
    return {
        dev: "battery"
        for dev in net.down_devices()
        if dev not in lost and _strands(net, runs_dry_by, dev)
    }


def _strands(net: Network, runs_dry_by: Callable[[str], float], dev: str) -> bool:
    """`dev`'s path is down until a scheduled return its battery runs dry before."""
    back = net.back_at(dev)
    return back is not None and runs_dry_by(dev) < back


def lost_for_good(
    net: Network, never: dict[str, str] | None = None,
    runs_dry_by: Callable[[str], float] | None = None,
) -> Callable[[str], str | None]:  # fmt: skip
    """One device's answer to "can it never be online again?" -> the cause, else None:
    in `Network.lost` (a cause never lifted: a retirement, a `forever` failure, an outage
    past the horizon), among those that can `never` connect, or stranded (its battery
    `runs_dry_by` its path's return). The same answer `prospects_of` counts, so the async
    engine settles a task out on such a device as a dropout (`BufferedAsync.gone`)
    exactly when it would count the device as lost."""
    never = never or {}

    def gone(dev: str) -> str | None:
        cause = net.lost.get(dev, never.get(dev))
        if cause is None and runs_dry_by is not None and _strands(net, runs_dry_by, dev):
            return "battery"
        return cause

    return gone


def prospects_of(
    net: Network, devices: int, never: dict[str, str] | None = None,
    runs_dry_by: Callable[[str], float] | None = None,
) -> Prospects:  # fmt: skip
    """The engines' view of `Network.lost` (and of the devices that can `never` connect,
    and of those whose battery `runs_dry_by` their path's return): how many devices may
    still be online, and why the others never will be ("4 lost for good: battery 3,
    churn 1"). Per device, the same answer as `lost_for_good`."""
    never = never or {}

    def prospects() -> tuple[int, str]:
        lost = {**never, **net.lost}
        if runs_dry_by is not None:
            lost.update(stranded(net, runs_dry_by, lost))
        causes = ", ".join(f"{c} {n}" for c, n in sorted(Counter(lost.values()).items()))
        why = f"{len(lost)} of {devices} lost for good: {causes}" if lost else "none lost"
        return devices - len(lost), why

    return prospects


class StallWatch:
    """`fl.stall_limit`: one timer, pushed back by every round that closes; when it
    fires with no round closed for the limit, the engine stops with `stall_limit`."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, engine: Any, limit_s: float, since_s: float,
        auto: bool,
    ) -> None:  # fmt: skip
        self.loop = loop
        self.engine = engine
        self.limit_s = limit_s
        self.auto = auto
        self.progress_s = since_s
        """The later of the last round's close and the last scheduled return."""
        self._timer: asyncio.TimerHandle | None = loop.call_at(since_s + limit_s, self._fire)

    def round_closed(self, rec: RoundRecord) -> None:
        self.progress_s = max(self.progress_s, rec.end_s)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        due = self.progress_s + self.limit_s
        if self.loop.time() < due:
            self._timer = self.loop.call_at(due, self._fire)
            return
        self._timer = None
        how = "auto: 10 x the longest a round may take" if self.auto else "set in the topology"
        self.engine.stop(
            "stall_limit",
            f"no round closed for fl.stall_limit ({self.limit_s:g} s, {how}) since "
            f"t={self.progress_s:g} s; raise fl.stall_limit, or set it to `forever`, if "
            "this run needs longer",
        )


def watch_run(
    loop: VirtualTimeLoop, net: Network, engine: Any, sc: Scenario,
    runs_dry_by: Callable[[str], float] | None = None,
) -> StallWatch | None:  # fmt: skip
    """Wire the three checks into a run about to start; the returned watch (None:
    `fl.stall_limit: forever`) is cancelled once the engine has finished.
    `runs_dry_by`: the energy ledgers' `Batteries.runs_dry_by`."""
    never = unreachable(net, sc)
    engine.prospects = prospects_of(net, len(sc.device_nodes), never, runs_dry_by)
    if hasattr(engine, "gone"):  # async: a task out on a device gone for good failed
        engine.gone = lost_for_good(net, never, runs_dry_by)
    wake: Callable[[], None] = engine.reconsider
    net.lost_observers.append(lambda: loop.sim_call_soon(wake))

    def idle(now: float) -> None:
        loop.sim_call_soon(
            engine.stop,
            "no_events",
            f"nothing was scheduled and no work was pending at t={now:g} s: every client "
            "waited for something that could never happen",
        )

    loop.on_idle = idle
    limit = sc.fl.stall_limit_s
    if limit == math.inf:
        return None
    auto = limit is None
    limit_s = auto_stall_limit(sc) if limit is None else limit
    since = max(loop.time(), last_scheduled_return(sc))
    stall = StallWatch(loop, engine, limit_s, since, auto)
    engine.observers.append(stall.round_closed)
    return stall

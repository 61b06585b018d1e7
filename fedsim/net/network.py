"""The SimPy network: nodes in a tree (devices -> gateways -> server), links, outages.

Every non-server node has one uplink toward its parent, so a device's path to the
server is the chain of uplinks; direction 0 of every link points at the server.
Nodes and links go down and up (connectivity processes, traces, scheduled
failures, partitions); while any element of a path is down, connections over it
are reset and new connects fail, the way a detached radio or a dead gateway
behaves. A node that leaves for good (churn, an empty battery) is `retire`d: it
goes down with a permanent cause and never comes back.

A cause that lasts for good (a retirement, a `forever` failure, a trace's last down
interval without an end, anything that would end only after `fl.time_limit`) is never
lifted, and every device behind it is `lost`: nothing scheduled can bring it back, which
the round engines use to end a run that can no longer make progress (fedsim.run_end).

Every channel opened over a path is kept until it is finished, and a path element
going down breaks every channel that crosses it, established or still in its
handshake: whatever the flow or packet model had scheduled to arrive later fails at
the cut instant instead (nothing arrives over a path that was down in between).

A down element carries a set of causes (`category:name`, e.g. `gateway_down:gw1`,
`partition:east`, `battery:dev-3`); it is up again only when every cause is gone,
so overlapping failures compose. Every source of an outage (each scheduled failure,
each connectivity process, each departure) holds its own cause: `cause_for` issues a
fresh one per call (`link_down:d`, then `link_down:d#2`, ...), and `set_down` refuses a
cause that already holds, so one outage's end can never lift another's hold on the
same element. Results report the category (before the colon).
"""

from __future__ import annotations

import errno
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import simpy

from fedsim.net.channel import Channel
from fedsim.net.connectivity import start_churn, start_connectivity
from fedsim.net.flow import FlowChannel
from fedsim.net.jitter import NormalJitter, ParetoJitter, UniformJitter
from fedsim.net.link import Hop, Jitter, Link, LossModel, NoLoss, Transmitter, transmitter
from fedsim.net.loss import Bernoulli, GilbertElliott
from fedsim.net.metered import MeteredCounters
from fedsim.net.radio_table import class_radio
from fedsim.net.tcp import TcpParams
from fedsim.rng import Streams
from fedsim.scenario import LinkClassSpec, Scenario

__all__ = ["Network", "Outage"]

StateObserver = Callable[[str, bool, float, str], None]
"""(device, path_up, time, cause) whenever a device's path to the server changes, and
again (path_up False) when a path that stays down is down for a new cause."""
ElementObserver = Callable[[str, str, str, bool], None]
"""(target, name, cause, down) after every `set_down`/`set_up` (run evidence)."""


@dataclass
class Outage:
    device: str
    start: float
    end: float | None
    cause: str


@dataclass
class NodeState:
    name: str
    kind: str
    parent: str | None
    children: list[str] = field(default_factory=list)
    down_causes: set[str] = field(default_factory=set)


class Network:
    """Links, paths and the up/down state of one scenario's network."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, streams: Streams) -> None:
        self.env = env
        self.scenario = scenario
        self.streams = streams
        self.tcp = TcpParams(hystart=scenario.hystart)
        """The TCP stack of every channel (`tcp:` in the topology)."""
        self.nodes: dict[str, NodeState] = {}
        self.links: dict[str, Link] = {}
        self.uplink: dict[str, Link] = {}
        self.link_class: dict[str, LinkClassSpec] = {}
        self.observers: list[StateObserver] = []
        self.element_observers: list[ElementObserver] = []
        self.breaker: Callable[[Callable[[Any], bool], str], int] | None = None
        self.outages: dict[str, list[Outage]] = {}
        self.retired: dict[str, str] = {}
        """Nodes gone for good, with the cause (churn, battery)."""
        self.partitions: dict[str, tuple[str, ...]] = {
            f.name: f.links for f in scenario.failures if f.target == "partition"
        }
        """Partition name -> the child nodes whose uplinks it cuts."""
        self._paths: dict[str, tuple[Hop, ...]] = {}
        self._path_up: dict[str, bool] = {}
        self._gone: set[str] = set()
        """The causes in `retired` (departures for good)."""
        self._for_good: set[str] = set()
        """Causes that are never lifted: retirements, `forever` failures, down intervals
        that end only after the run's horizon."""
        self.lost: dict[str, str] = {}
        """Devices whose path is down for good -> the cause's category (churn, battery,
        gateway_down, ...): nothing scheduled can bring them back."""
        self._lifts_at: dict[str, float] = {}
        """When a down cause is scheduled to lift (a failure's or a trace interval's end)."""
        self.lost_observers: list[Callable[[], None]] = []
        """Called (inside SimPy) whenever devices join `lost`."""
        self._held_since: dict[str, tuple[float, int]] = {}
        """Every cause holding an element down now -> (when it began, its order): the
        timeline labels a path with the earliest that still holds (`_path_cause`)."""
        self._holds_begun = 0
        self._issued: dict[str, int] = {}
        """`category:name` -> how many causes `cause_for` issued under it."""
        self._cause_now: dict[str, str] = {}
        """The cause reported for each device whose path is down."""
        self._channels: dict[str, list[Channel]] = {}
        """Channels opened per device and not finished yet, in opening order."""
        self._link_waiters: dict[str, list[simpy.Event]] = {}
        """Per device: events to succeed when its own link (first hop) is up again."""
        self._datagram_paths: list[Any] = []
        """Every datagram path made (a break untracks one from `_channels` until its
        next send; the run's end must close them all)."""
        self.ended_at: float | None = None
        """When the run's window closed (`end_run`): nothing is sent after it."""
        self._build()

    # -- construction --------------------------------------------------------------
    def _build(self) -> None:
        sc = self.scenario
        for spec in sc.nodes:
            self.nodes[spec.name] = NodeState(spec.name, spec.kind, spec.parent)
        for spec in sc.nodes:
            if spec.parent is not None:
                self.nodes[spec.parent].children.append(spec.name)
        shared: dict[tuple[str, str, int], Transmitter] = {}
        clock = partial(getattr, self.env, "_now")  # `env.now` without a Python frame
        for spec in sc.nodes:
            if spec.parent is None or spec.link_class is None:
                continue
            cls = sc.links[spec.link_class]
            name = f"{spec.name}-{spec.parent}"
            tx = self._transmitters(cls, spec.parent, name, shared, clock)
            # A device's own link is its radio: the energy ledger meters what crosses it.
            metered = spec.kind == "device"
            link = Link(
                name=name,
                a=spec.name,
                b=spec.parent,
                tx=tx,
                latency_s=cls.latency_s,
                mtu=cls.mtu,
                loss=(self._loss(cls), self._loss(cls)),
                jitter=self._jitter(cls),
                queue_limit=cls.queue_limit,
                kind=cls.kind,
                **({"counters": (MeteredCounters(0), MeteredCounters(1))} if metered else {}),
            )
            self.links[name] = link
            self.uplink[spec.name] = link
            self.link_class[name] = cls
        for spec in sc.device_nodes:
            hops: list[Hop] = []
            cur: str | None = spec.name
            while cur is not None and cur in self.uplink:
                hops.append(Hop(self.uplink[cur], 0))
                cur = self.nodes[cur].parent
            self._paths[spec.name] = tuple(hops)
            self._path_up[spec.name] = True
            self.outages[spec.name] = []

    @staticmethod
    def _transmitters(
        cls: LinkClassSpec,
        parent: str,
        name: str,
        shared: dict[tuple[str, str, int], Transmitter],
        clock: Callable[[], float],
    ) -> tuple[Transmitter, Transmitter]:
        # Every frame is on air for the airtime its radio's energy is charged for
        # (RadioProfile.airtime): its bytes at the link rate plus the kind's per-frame
        # part (Wi-Fi's inter-frame spaces, PLCP and MAC ACK and 36 B of MAC framing,
        # Ethernet's 38 B, LoRa's Semtech time on air, whose rate is its SF's).
        bws = (cls.bandwidth_up_bps, cls.bandwidth_down_bps)
        radio = class_radio(cls)
        lora = cls.kind == "lora"
        (up, up_frame), (down, down_frame) = (
            radio.link_rate(d, None if lora else bws[d]) for d in (0, 1)
        )
        dc = cls.duty_cycle
        if not cls.shared:
            if cls.half_duplex:
                one = transmitter(name, up, up_frame, duty_cycle=dc, clock=clock)
                return one, one
            return (
                transmitter(f"{name}/up", up, up_frame, duty_cycle=dc, clock=clock),
                transmitter(f"{name}/down", down, down_frame, clock=clock),
            )
        out = []
        for d in (0, 1):
            key = (cls.name, parent, 0 if cls.half_duplex else d)
            if key not in shared:
                label = f"{cls.name}@{parent}" + ("" if cls.half_duplex else ("/up", "/down")[d])
                rate, frame = ((up, up_frame), (down, down_frame))[0 if cls.half_duplex else d]
                shared[key] = transmitter(label, rate, frame, duty_cycle=dc, clock=clock)
            out.append(shared[key])
        return out[0], out[1]

    def _loss(self, cls: LinkClassSpec) -> LossModel:
        """The link class's typed loss model (fedsim.config.links), one per direction."""
        model = cls.loss_model
        if getattr(model, "kind", "bernoulli") == "gilbert-elliott":
            return GilbertElliott(model.p, model.r, model.one_minus_h, model.one_minus_k)
        return Bernoulli(cls.loss) if cls.loss > 0 else NoLoss()

    @staticmethod
    def _jitter(cls: LinkClassSpec) -> Jitter | None:
        """The link class's typed jitter (fedsim.config.links), or None."""
        spec = cls.jitter
        kind = getattr(spec, "kind", None)
        if kind == "uniform":
            return UniformJitter(spec.max)
        if kind == "normal":
            return NormalJitter(spec.std)
        if kind == "pareto":
            return ParetoJitter(spec.scale, spec.alpha)
        return None

    # -- paths and channels --------------------------------------------------------
    def path(self, device: str) -> tuple[Hop, ...]:
        return self._paths[device]

    def path_latency(self, device: str) -> float:
        return sum(h.link.latency_s for h in self._paths[device])

    def fidelity_for(self, device: str) -> str:
        """The access link's class decides when it says so; else the scenario default."""
        hops = self._paths[device]
        if hops:
            cls = self.link_class[hops[0].link.name]
            if cls.fidelity is not None:
                return cls.fidelity
        return self.scenario.fidelity

    def open_route(self, client: str, server: str) -> tuple[Channel, float]:
        """`open_channel` as a device's network stack does it (the wire's opener): with
        its own link down it answers ENETUNREACH at once (no carrier, no route), the
        error the channel's connect would give, without building a channel. A device
        retrying through a dead gateway costs one exception per attempt."""
        if self.ended_at is not None:
            raise OSError(errno.ENETDOWN, f"network down: the run ended at t={self.ended_at:g} s")
        path = self._paths.get(client)
        if path and not path[0].link.up:
            first = path[0].link.name
            raise OSError(errno.ENETUNREACH, f"network unreachable: {first} is down")
        return self.open_channel(client, server)

    def open_channel(self, client: str, server: str) -> tuple[Channel, float]:
        if client not in self._paths or server != self.scenario.server.name:
            raise ConnectionRefusedError(f"no route from {client} to {server}")
        path = self._paths[client]
        channel: Channel
        if self.fidelity_for(client) == "packet":
            from fedsim.net.packet import PacketChannel

            channel = PacketChannel(self.env, path, self.streams.get("channel", client), self.tcp)
        else:  # its generator is made only if its path can draw (a named stream: no shift)
            channel = FlowChannel(self.env, path, partial(self.streams.get, "channel", client),
                                  self.tcp)  # fmt: skip
        live = [c for c in self._channels.get(client, ()) if not c.finished]
        live.append(channel)
        self._channels[client] = live
        return channel, self.path_latency(client)

    def datagram_path(self, device: str, on_access: Callable[[int, int], None]) -> Any:
        """`device`'s datagram path to the server (fedsim.net.datagram), tracked among
        its channels so outages break it as they break TCP connections."""
        from fedsim.net.datagram import DatagramPath

        def track(path: Any) -> None:
            self._channels.setdefault(device, []).append(path)

        path = DatagramPath(
            self.env,
            self._paths[device],
            self.streams.get("datagram", device),
            track=track,
            on_access=on_access,
        )
        path.ended_at = self.ended_at
        self._datagram_paths.append(path)
        return path

    def end_run(self, cause: str = "run_end") -> None:
        """Close the run's window now: every connection and channel is reset, as a cut
        resets them (what had not gone out by now is taken back: bytes, airtime, its
        hold of the medium, its energy), and nothing is sent after: a device's stack
        answers ENETDOWN. So every count a run reports covers [0, end] and no more
        (docs/results.md, "The run's window"); the auditor checks that nothing was
        counted after (`nothing-after-end`)."""
        now = self.env.now
        self.ended_at = now
        if self.breaker is not None:
            self.breaker(lambda _conn: True, cause)
        broken: set[int] = set()
        for dev in sorted(self._channels):
            for channel in self._channels.pop(dev):
                channel.break_(cause)
                broken.add(id(channel))
        for path in self._datagram_paths:
            if id(path) not in broken:
                path.break_(cause)
            path.ended_at = now
        shared = {id(tx): tx for link in self.links.values() for tx in link.tx}
        for tx in shared.values():  # (a shared medium's transmitter serves many links)
            tx.held_past_end = tx.held_after(now)

    def live_channels(self) -> Iterator[Channel]:
        """Every channel opened and not known to be finished (for byte accounting: what
        they booked ahead of the clock)."""
        for channels in self._channels.values():
            yield from channels

    def channels_of(self, device: str) -> list[Channel]:
        """`device`'s live channels and datagram paths (what it booked ahead: a battery
        that cannot pay for it runs dry inside it, `Batteries`)."""
        return list(self._channels.get(device, ()))

    def is_path_up(self, device: str) -> bool:
        return self._path_up[device]

    def link_up(self, device: str) -> simpy.Event:
        """An event that succeeds once `device`'s own link (its first hop) is up: what
        a device's network stack reports as carrier or association. Already succeeded
        when the link is up now."""
        ev = self.env.event()
        path = self._paths[device]
        if not path or path[0].link.up:
            return ev.succeed()
        self._link_waiters.setdefault(device, []).append(ev)
        return ev

    def _wake_link_waiters(self, devices: Iterable[str]) -> None:
        for dev in devices:
            if dev in self._link_waiters and self._paths[dev][0].link.up:
                for ev in self._link_waiters.pop(dev):
                    ev.succeed()

    # -- up and down -----------------------------------------------------------------
    def start(self) -> None:
        """Start connectivity processes, churn and scheduled failures."""
        sc = self.scenario
        groups: dict[str, list[str]] = {}
        for spec in sc.nodes:
            start_connectivity(self, spec.name, spec.connectivity, self.streams)
            groups.setdefault(spec.group, []).append(spec.name)
        for spec in sc.nodes:
            if spec.connectivity.churn_fraction > 0 and groups.get(spec.group):
                start_churn(
                    self, spec.group, groups.pop(spec.group), spec.connectivity, self.streams
                )
        for f in sc.failures:
            self.env.process(self._scheduled(f.at_s, f.duration_s, f.target, f.name))

    def _scheduled(self, at: float, duration: float, target: str, name: str) -> Any:
        yield self.env.timeout(at)
        cause = self.cause_for(target, name, scheduled=True)
        until = at + duration
        self.set_down(
            target, name, cause, for_good=self.scenario.fl.lasts_for_good(until), until=until
        )
        if duration == math.inf:
            return  # `duration: forever`: it never comes back
        yield self.env.timeout(duration)
        self.set_up(target, name, cause)

    def cause_for(self, target: str, name: str, *, scheduled: bool = False) -> str:
        """A new cause for one source of outages on `name` (one failure, one process):
        `category:name` the first time, `category:name#k` for the k-th, so two sources
        on one element never share a hold."""
        if target == "link":
            base = f"link_down:{name}"
        elif target == "partition":
            base = f"partition:{name}"
        else:
            kind = self.nodes[name].kind
            category = {"device": "device_offline", "gateway": "gateway_down"}.get(
                kind, "server_down"
            )
            if scheduled and kind == "device":
                category = "device_failure"
            base = f"{category}:{name}"
        n = self._issued.get(base, 0) + 1
        self._issued[base] = n
        return base if n == 1 else f"{base}#{n}"

    def _links_of(self, target: str, name: str) -> list[Link]:
        if target == "link":
            return [self.uplink[name]]
        if target == "partition":
            return [self.uplink[c] for c in self.partitions[name]]
        links = [self.uplink[c] for c in self.nodes[name].children]
        if name in self.uplink:
            links.append(self.uplink[name])
        return links

    def set_down(
        self, target: str, name: str, cause: str, *, for_good: bool = False,
        until: float | None = None,
    ) -> None:  # fmt: skip
        """`cause` takes a node, a link or a partition down. Every connection and every
        channel (even one still in its handshake) crossing it is reset now, so no
        transfer scheduled before this instant completes after it. `for_good`: the
        cause is never lifted (see `lost`); `until`: when it is scheduled to lift."""
        if cause in self._held_since:
            raise RuntimeError(  # a second hold under one name would be lifted by the first's end
                f"internal error: outage cause {cause!r} is already holding an element down"
            )
        self._holds_begun += 1
        self._held_since[cause] = (self.env.now, self._holds_begun)
        if for_good:
            self._for_good.add(cause)
        if until is None:
            self._lifts_at.pop(cause, None)
        else:
            self._lifts_at[cause] = until
        now = self.env.now
        links = self._links_of(target, name)
        for link in links:
            if not link.down_causes:
                link.down_log.append([now, None])
            link.down_causes.add(cause)
        devices = self._devices_under(target, name)
        if self.breaker is not None:
            doomed = set(devices)
            self.breaker(lambda conn: conn.client_node in doomed, cause)
        for dev in devices:
            for channel in self._channels.pop(dev, ()):
                channel.break_(cause)
        self._refresh(devices, cause)
        if cause in self._for_good:
            self._lose(devices, cause)
        for see in self.element_observers:
            see(target, name, cause, True)

    def down_devices(self) -> list[str]:
        """The devices whose path is down now."""
        return list(self._cause_now)

    def back_at(self, device: str) -> float | None:
        """The earliest `device`'s path can be up again (None: it is up): every down
        cause on it must lift, a scheduled one at its end, any other one now at the
        earliest (a sleeping radio, a churned device that may rejoin)."""
        if self._path_up[device]:
            return None
        now = self.env.now
        causes = (c for h in self._paths[device] for c in h.link.down_causes)
        return max((self._lifts_at.get(c, now) for c in causes), default=now)

    def _lose(self, devices: Iterable[str], cause: str) -> None:
        category = cause.split(":", 1)[0]
        new = [dev for dev in devices if dev not in self.lost]
        for dev in new:
            self.lost[dev] = category
        if new:
            for see in self.lost_observers:
                see()

    def set_up(self, target: str, name: str, cause: str) -> None:
        if cause in self._for_good:
            return  # never lifted
        if self._held_since.pop(cause, None) is None:
            raise RuntimeError(f"internal error: outage cause {cause!r} lifted but not holding")
        now = self.env.now
        for link in self._links_of(target, name):
            link.down_causes.discard(cause)
            if not link.down_causes and link.down_log and link.down_log[-1][1] is None:
                link.down_log[-1][1] = now
        devices = self._devices_under(target, name)
        self._refresh(devices, cause)
        self._wake_link_waiters(devices)
        for see in self.element_observers:
            see(target, name, cause, False)

    def _devices_under(self, target: str, name: str) -> list[str]:
        out: list[str] = []
        if target == "partition":
            stack = list(self.partitions[name])
        elif target == "link":
            stack = [name]
        else:
            stack = [name, *self.nodes[name].children]
        seen: set[str] = set()
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            if self.nodes[cur].kind == "device":
                out.append(cur)
            stack.extend(self.nodes[cur].children)
        return sorted(out)

    def retire(self, node: str, cause: str) -> None:
        """`node` leaves for good (churn, an empty battery): down with `cause`, forever.

        Devices behind it whose path was already down for another reason (a sleeping
        radio, a gateway outage) now count as down for `cause`, since that is why
        they will not come back.
        """
        if node in self.retired:
            return
        self.retired[node] = cause
        self._gone.add(cause)
        self._for_good.add(cause)
        now = self.env.now
        devices = self._devices_under("node", node)
        for dev in devices:
            log = self.outages[dev]
            if not self._path_up[dev] and log and log[-1].end is None:
                log[-1].end = now
                log.append(Outage(dev, now, None, cause))
        self.set_down("node", node, cause)

    def _refresh(self, devices: Iterable[str], cause: str) -> None:
        """Log path changes and tell observers; a path that stays down but for another
        reason now (a sleeping meter wakes into a cut backhaul) is reported again with
        its new cause."""
        now = self.env.now
        for dev in devices:
            up = all(h.link.up for h in self._paths[dev])
            if up == self._path_up[dev]:
                if not up:
                    now_cause = self._path_cause(dev)
                    if now_cause != self._cause_now[dev]:
                        self._cause_now[dev] = now_cause
                        for obs in self.observers:
                            obs(dev, False, now, now_cause)
                continue
            self._path_up[dev] = up
            log = self.outages[dev]
            if up:
                log[-1].end = now
                self._cause_now.pop(dev, None)
            else:
                log.append(Outage(dev, now, None, cause))
                self._cause_now[dev] = cause
            for obs in self.observers:
                obs(dev, up, now, self._cause_now.get(dev, cause))

    def _path_cause(self, dev: str) -> str:
        """Why `dev`'s path is down now: a departure for good (churn, battery) first,
        else, on the down element nearest the device, the cause that began first of
        those still holding it (so a second outage overlapping the first takes over the
        label when the first ends, docs/connectivity.md)."""
        gone = [c for h in self._paths[dev] for c in h.link.down_causes
                if c in self._gone]  # fmt: skip
        if gone:
            return min(gone)
        for h in self._paths[dev]:
            if h.link.down_causes:
                return min(h.link.down_causes, key=self._began)
        return self._cause_now.get(dev, "")

    def _began(self, cause: str) -> tuple[float, int, str]:
        return (*self._held_since.get(cause, (math.inf, 0)), cause)

    def outage_cause(self, device: str, start: float, end: float) -> str | None:
        """The category of the first outage on `device`'s path overlapping [start, end]."""
        for o in self.outages.get(device, ()):
            if o.start <= end and (o.end is None or o.end >= start):
                return o.cause.split(":", 1)[0]
        return None

    def finish(self, end: float | None = None) -> None:
        """Set every link's down time: its down intervals clipped to [0, end] (the run's
        end; default now), an interval still open counted up to `end`. Calling it
        again recomputes the same numbers (nothing is counted twice); the network may
        run on after `end` (clients winding down), which never counts."""
        end = self.env.now if end is None else end
        for link in self.links.values():
            link.down_time = sum(
                max(0.0, min(end, end if e is None else e) - min(end, max(0.0, s)))
                for s, e in link.down_log
            )

"""Run evidence: what the auditor needs that the results files do not keep.

The results say how many bytes crossed a link and when a device was offline; they
cannot say whether a byte crossed a link *while* it was down. So a run also keeps,
cheaply (typed columns or flat lists appended per message or per state change, no
per-byte work):

* every down interval of every link and node, with the cause that opened it, and
  every device's path-down interval as the network reported it;
* for every link direction, each interval in which it could not carry bytes (the
  link, or the node that transmits on it, was down) with what its counters gained
  meanwhile (a dead carrier must gain nothing but drops);
* every message handed to a channel: the device whose connection it is, direction,
  time sent, time delivered (NaN: never), payload bytes (0 for a copy sent again,
  CoAP's retransmissions: payload counts once) and the wire bytes that
  send booked on the device's access link (flow fidelity books a whole transfer at
  once; packet fidelity books per packet as it travels, so 0 there);
* how many uploads each device began, and the model bytes of one update envelope;
* how many times each device began training and scored a model on its own data
  (federated evaluation), and the FLOPs its learner declares for each (the
  `compute-matches-work` check of its compute energy);
* every accepted update: device, round, when its upload exchange started (the first
  byte of the update's POST leaving the device: its first upstream message after the
  client began uploading; a connect whose SYNs are retried before it is not part of the
  exchange) and when the server accepted it;
* every selection the engine settled as surplus without a report (a round that filled
  up without it; an async task still out at the end), with its task's window;
* every device's energy ledger at the end (fedsim.net.battery): what it held, what
  it spent on compute and radio, when its battery ran dry.
* how far the deployed model moved in each round (the L2 norm of the model after the
  round's row minus the model before), measured on the engine's model itself, apart
  from the engine's own `update_norm`.

`EvidenceRecorder` hooks the network's observer points (`Network.element_observers`,
`Network.observers`, `Wire.tap`); `finish` returns the frozen `Evidence`.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from fedsim.net.counts import Counts, Group
from fedsim.net.link import Link, LinkCounters
from fedsim.net.network import Network

__all__ = [
    "Accepted",
    "CarrierDown",
    "Down",
    "Energy",
    "Evidence",
    "EvidenceRecorder",
    "Messages",
    "Surplus",
    "counted_now",
]


@dataclass(frozen=True)
class Down:
    """One interval in which `element` (a link, a node, or a device's path) was down."""

    element: str
    start: float
    end: float
    cause: str


@dataclass(frozen=True)
class CarrierDown:
    """An interval in which one direction of a link could not carry bytes, and what its
    counters gained meanwhile: (payload bytes, wire bytes, packets)."""

    link: str
    direction: int
    start: float
    end: float
    cause: str
    carried: tuple[int, int, int]


@dataclass(frozen=True)
class Accepted:
    """An update the server accepted: its upload exchange ran from `start` (the POST's
    first byte leaving the device) to `accepted`."""

    client: str
    round: int
    start: float
    accepted: float
    trained: int | None = field(default=None, compare=False)
    """How many trainings the device had begun by then (None: not recorded): each
    accepted update follows a training of its own (`accepted-was-trained`)."""


@dataclass(frozen=True)
class Surplus:
    """A selection the engine counted surplus, not a dropout: nothing failed it in its
    task's window, from `start` (its round opened; an async task was issued) to `end`
    (the round closed; the run ended)."""

    client: str
    round: int
    start: float
    end: float


@dataclass(frozen=True)
class Energy:
    """One device's energy ledger at the end of the run."""

    initial_j: float | None
    """What its battery held at the start; None: mains powered."""
    compute_j: float
    radio_j: float
    empty_at: float | None
    """When its battery ran dry (None: it did not)."""
    radio: dict[str, float] = field(default_factory=dict)
    """The radio's part of the ledger (fedsim.net.battery.Battery.radio_ledger): joules,
    seconds, wire bytes and frames per state and direction, and the seconds accounted."""


@dataclass(frozen=True)
class Messages:
    """Every message handed to a channel, one array element each (columns)."""

    device: np.ndarray
    """Index into `Evidence.devices`."""
    direction: np.ndarray
    """0: device -> server, 1: server -> device."""
    sent: np.ndarray
    delivered: np.ndarray
    """NaN: the channel failed it (never delivered)."""
    payload: np.ndarray
    wire: np.ndarray

    def __len__(self) -> int:
        return int(self.sent.size)


@dataclass(frozen=True)
class Evidence:
    end_s: float
    """The run's simulated end (summary.json's sim_time_s)."""
    closed_s: float
    """The network clock when recording stopped (clients shut down after `end_s`)."""
    devices: tuple[str, ...]
    paths: dict[str, tuple[str, ...]]
    """Device -> the links of its path to the server, its access link first."""
    path_nodes: dict[str, tuple[str, ...]]
    """Device -> the nodes of its path: itself, its gateways, the server."""
    link_down: list[Down]
    node_down: list[Down]
    path_down: list[Down]
    carrier_down: list[CarrierDown]
    messages: Messages
    accepted: list[Accepted]
    bytes_after_rounds: dict[str, int] = field(default_factory=dict)
    """Bytes counted after the last round's row was written (final polls, the 410s,
    connection closes): rounds.csv plus these equal the per-client and per-link
    totals. Keys: up, down (payload), wire_up, wire_down (first hops)."""
    energy: dict[str, Energy] = field(default_factory=dict)
    """Device -> its energy ledger (clients.csv's energy columns come from it)."""
    model_moves: tuple[float, ...] | None = None
    """Per round row, in order: the L2 norm of the deployed model after the round minus
    the model before it (None: not recorded)."""
    uploads: dict[str, int] = field(default_factory=dict)
    """Device -> how many uploads it began (each hands one update envelope, or part of
    one when the path breaks, to its transport)."""
    trainings: dict[str, int] = field(default_factory=dict)
    """Device -> how many times it began training a task."""
    evaluations: dict[str, int] = field(default_factory=dict)
    """Device -> how many times it scored a model on its own data (federated
    evaluation), as the client reported each scoring (not its charge)."""
    computing_at_end: frozenset[str] | None = None
    """Devices whose client was `training` (scoring, then training) when the run's window
    closed: the part of their last compute job past the end is refunded. Their own
    state, not timeline.csv's, which says `offline` for a device whose path is down
    while it computes (None: not recorded)."""
    work: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    """Device -> (FLOPs of one training: its learner's `work` of the run's config, FLOPs
    of one scoring: its `evaluate_work()`, None without one), for learners whose cost
    is known before training (no `work_done`: not RL); devices absent: not recorded."""
    task_model_bytes: int | None = None
    """The model bytes of one task envelope (the downlink's codec); None: not recorded."""
    update_model_bytes: int | None = None
    """The model bytes of one update envelope (`fedsim.fl.codec.payload_size` of the
    model and the upload codec); None: not recorded."""
    acknowledged: dict[str, int] | None = None
    """Device -> how many of its uploads the server's answer acknowledged, as the
    device counted them (None: the transport's acknowledgement is not the server's,
    e.g. an MQTT broker's PUBACK)."""
    surplus: tuple[Surplus, ...] | None = None
    """Every selection settled as surplus without a report, in order (None: not
    recorded)."""
    refusals: dict[str, tuple[int, int, int]] | None = None
    """MQTT only (None otherwise): device -> (updates of it the server refused, refusal
    notices the device read, its failed exchanges). A PUBACK is the broker's, so only
    a notice tells a device that the server refused an update (`refusals-told`)."""
    counted_at_end: Mapping[str, float] = field(default_factory=dict)
    """Everything the run counts (`counted_now`), the instant its window closed ..."""
    counted_at_close: Mapping[str, float] = field(default_factory=dict)
    """... and again when recording stopped, after the clients shut down: equal, or
    something was counted after the run's end (`nothing-after-end`)."""


_COUNTED = tuple(
    f.name for f in dataclasses.fields(LinkCounters) if f.name != "transmitter"
)  # payload, wire, packets, retransmissions, drops and the byte ledger's classes (not
# the class-level `wake` hook, which `__dataclass_fields__` lists: it is no count)
_HELD = ("busy_s", "held_s")  # a transmitter's


def counted_now(net: Network, ledgers: dict[str, Any], like: Counts | None = None) -> Counts:
    """Every count a run's results are made of, by name: each link direction's
    counters, each transmitter's busy and held time, each device's energy by use and
    radio time by state. Taken when the run's window closes and again when recording
    stops (`like`: the first, whose names the second shares when they are the same); a
    difference is traffic or energy counted after the run's end."""
    groups: list[Group] = []
    values: array[float] = array("d")
    seen: set[int] = set()
    for name in sorted(net.links):
        link = net.links[name]
        for d, label in ((0, f"{link.a}->{link.b}"), (1, f"{link.b}->{link.a}")):
            c = link.counters[d]
            groups.append((f"link {name} {label}", _COUNTED))
            values.extend([getattr(c, f) for f in _COUNTED])
            tx = link.tx[d]
            if id(tx) not in seen:
                seen.add(id(tx))
                groups.append((f"transmitter {tx.name}", _HELD))
                values.extend((tx.busy_time, tx.held_time))
    energy_fields: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per kind of ledger
    for node in sorted(ledgers):
        b = ledgers[node]
        fields = (*(f"{k}_j" for k in b.spent), *(f"{k}_s" for k in b.seconds))
        groups.append((f"energy {node}", energy_fields.setdefault(fields, fields)))
        values.extend(b.spent.values())
        values.extend(b.seconds.values())
    if like is not None and like.groups == groups:
        groups = like.groups
    return Counts(groups, values)


def _snapshot(link: Link, d: int) -> tuple[int, int, int]:
    c = link.counters[d]
    return (c.payload_bytes, c.wire_bytes, c.packets)


class EvidenceRecorder:
    """Collects a run's evidence from the network's and the wire's observer points."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.env = net.env
        devices = [d.name for d in net.scenario.device_nodes]
        self.devices = tuple(devices)
        self._index = {name: i for i, name in enumerate(devices)}
        self.paths: dict[str, tuple[str, ...]] = {}
        self.path_nodes: dict[str, tuple[str, ...]] = {}
        self._access: dict[str, tuple[LinkCounters, LinkCounters]] = {}
        for dev in devices:
            hops = net.path(dev)
            self.paths[dev] = tuple(h.link.name for h in hops)
            self.path_nodes[dev] = (dev, *(h.link.b for h in hops))
            if hops:
                self._access[dev] = hops[0].link.counters
        self.link_down: list[Down] = []
        self.node_down: list[Down] = []
        self.path_down: list[Down] = []
        self.carrier_down: list[CarrierDown] = []
        self.accepted: list[Accepted] = []
        self._open_link: dict[str, tuple[float, str]] = {}
        self._open_node: dict[str, tuple[float, str]] = {}
        self._open_path: dict[str, tuple[float, str]] = {}
        self._open_carrier: dict[tuple[str, int], tuple[float, str, tuple[int, int, int]]] = {}
        self._node_causes: dict[str, set[str]] = {}
        self._upload_start: dict[str, float] = {}
        """Client -> when the first message of its update's POST left it."""
        self._uploading: dict[str, float] = {}
        """Client -> when it began uploading, until its POST's first message is sent."""
        self._uploads: dict[str, int] = {}
        """Client -> uploads it began."""
        self._trainings: dict[str, int] = {}
        self._evaluations: dict[str, int] = {}
        self._computing_at_end: frozenset[str] | None = None
        self.work: dict[str, tuple[float, float | None]] = {}
        """Set by the run for each device whose learner's costs are known (`Evidence.work`)."""
        self._model_moves: list[float] | None = None
        self._surplus: list[Surplus] | None = None
        self._client_state: dict[str, str] = {}
        """Client -> its last state (a state set again is no new training)."""
        # Typed columns (8 bytes or less a value, not a Python object each): a million
        # messages (10,000 devices x 20 rounds) in ~40 MB instead of ~150 MB.
        self._m_device = array("i")
        self._m_direction = array("b")
        self._m_sent = array("d")
        self._m_delivered = array("d")
        self._m_payload = array("q")
        self._m_wire = array("q")
        net.element_observers.append(self.element)
        net.observers.append(self.path)

    # -- the network: elements and paths -------------------------------------------------
    def element(self, target: str, name: str, cause: str, down: bool) -> None:
        net, now = self.net, self.env.now
        affected: list[tuple[Link, int]] = []
        if target == "node":
            causes = self._node_causes.setdefault(name, set())
            before = bool(causes)
            if down:
                causes.add(cause)
            else:
                causes.discard(cause)
            if bool(causes) != before:
                self._toggle(self._open_node, self.node_down, name, now, cause, bool(causes))
            if name in net.uplink:
                affected.append((net.uplink[name], 0))
            affected.extend((net.uplink[c], 1) for c in net.nodes[name].children)
        for link in net._links_of(target, name):
            if link.up == (link.name in self._open_link):
                self._toggle(self._open_link, self.link_down, link.name, now, cause, not link.up)
            affected.extend(((link, 0), (link, 1)))
        for link, d in affected:
            self._carrier(link, d, now, cause)

    @staticmethod
    def _toggle(
        open_: dict[str, tuple[float, str]],
        out: list[Down],
        name: str,
        now: float,
        cause: str,
        down: bool,
    ) -> None:
        if down:
            open_.setdefault(name, (now, cause))
        elif name in open_:
            start, why = open_.pop(name)
            out.append(Down(name, start, now, why))

    def _carrier(self, link: Link, d: int, now: float, cause: str) -> None:
        sender = link.a if d == 0 else link.b
        down = not link.up or bool(self._node_causes.get(sender))
        key = (link.name, d)
        opened = self._open_carrier.get(key)
        if down and opened is None:
            self._open_carrier[key] = (now, cause, _snapshot(link, d))
        elif not down and opened is not None:
            self._close_carrier(link, d, now)

    def _close_carrier(self, link: Link, d: int, now: float) -> None:
        start, cause, before = self._open_carrier.pop((link.name, d))
        after = _snapshot(link, d)
        carried = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
        self.carrier_down.append(CarrierDown(link.name, d, start, now, cause, carried))

    def path(self, device: str, up: bool, t: float, cause: str) -> None:
        self._toggle(self._open_path, self.path_down, device, t, cause, not up)

    # -- the wire: every message (Wire.tap) ----------------------------------------------
    def mark(self, node: str, direction: int) -> int:
        counters = self._access.get(node)
        return counters[direction].wire_bytes if counters is not None else 0

    def sent(self, node: str, direction: int, nbytes: int, mark: int, event: Any) -> None:
        counters = self._access.get(node)
        now = self.env._now  # (`now` without the property: this runs for every message)
        i = len(self._m_sent)
        self._m_device.append(self._index.get(node, -1))
        self._m_direction.append(direction)
        self._m_sent.append(now)
        self._m_delivered.append(math.nan)
        self._m_payload.append(nbytes)
        self._m_wire.append(counters[direction].wire_bytes - mark if counters is not None else 0)
        event.callbacks.append(partial(self._delivered, i))
        if direction == 0 and self._uploading and self._uploading.pop(node, None) is not None:
            self._upload_start[node] = now

    def _delivered(self, i: int, event: Any) -> None:
        if event._ok:
            self._m_delivered[i] = self.env._now

    # -- the FL side: uploads and acceptances ----------------------------------------------
    def client_state(self, client: str, state: str) -> None:
        """A client that begins uploading opens (connects, or reuses a connection) and
        then writes its POST: the exchange starts at that POST's first message."""
        before = self._client_state.get(client)
        self._client_state[client] = state
        if state == "training" and before != state:
            self._trainings[client] = self._trainings.get(client, 0) + 1
        if state == "uploading":
            self._uploads[client] = self._uploads.get(client, 0) + 1
            self._uploading[client] = self.env.now
            self._upload_start.pop(client, None)

    def window_closed(self) -> None:
        """The run's window closes: note which clients are computing (`training`)."""
        self._computing_at_end = frozenset(
            c for c, state in self._client_state.items() if state == "training"
        )

    def evaluated(self, client: str) -> None:
        """The client scored a model on its own data (federated evaluation)."""
        self._evaluations[client] = self._evaluations.get(client, 0) + 1

    def accepted_update(self, client: str, server_round: int) -> None:
        """The exchange started at its POST's first message (`sent`); had none been
        seen, at the start of uploading (the earlier, stricter bound)."""
        now = self.env.now
        start = self._upload_start.get(client, self._uploading.get(client, now))
        trained = self._trainings.get(client, 0)
        self.accepted.append(Accepted(client, int(server_round), start, now, trained))

    def watch_submit(self, engine: Any) -> None:
        """Record every update `engine.submit` accepts (it raises on a rejection)."""
        submit: Callable[..., None] = engine.submit

        def audited_submit(client_id: str, server_round: int, *args: Any, **kw: Any) -> None:
            submit(client_id, server_round, *args, **kw)
            self.accepted_update(client_id, server_round)

        engine.submit = audited_submit

    def watch_model(self, engine: Any) -> None:
        """Measure, at every round's record, how far `engine.params` (the deployed model)
        moved since the last, from a copy of it: the `update_norm` check's evidence."""
        last = np.array(engine.params, dtype=np.float64)
        moves: list[float] = []
        self._model_moves = moves

        def moved(_record: Any) -> None:
            nonlocal last
            now = np.array(engine.params, dtype=np.float64)
            moves.append(float(np.linalg.norm(now - last)))
            last = now

        engine.observers.append(moved)

    def watch_surplus(self, engine: Any) -> None:
        """Keep every selection `engine` settles as surplus, with its task's window."""
        found: list[Surplus] = []
        self._surplus = found

        def surplus(client: str, server_round: int, start: float, end: float) -> None:
            found.append(Surplus(client, int(server_round), float(start), float(end)))

        engine.surplus_observers.append(surplus)

    # -- the end -------------------------------------------------------------------------
    def finish(
        self,
        end_s: float,
        bytes_after_rounds: dict[str, int],
        energy: dict[str, Energy] | None = None,
        counted_at_end: Mapping[str, float] | None = None,
        counted_at_close: Mapping[str, float] | None = None,
    ) -> Evidence:
        """Close every open interval at the network's clock and freeze the evidence."""
        now = self.env.now
        for open_, out in (
            (self._open_link, self.link_down),
            (self._open_node, self.node_down),
            (self._open_path, self.path_down),
        ):
            for name in sorted(open_):
                self._toggle(open_, out, name, now, "", down=False)
        for link_name, d in sorted(self._open_carrier):
            self._close_carrier(self.net.links[link_name], d, now)
        messages = Messages(
            device=np.asarray(self._m_device, dtype=np.int32),
            direction=np.asarray(self._m_direction, dtype=np.int8),
            sent=np.asarray(self._m_sent, dtype=np.float64),
            delivered=np.asarray(self._m_delivered, dtype=np.float64),
            payload=np.asarray(self._m_payload, dtype=np.int64),
            wire=np.asarray(self._m_wire, dtype=np.int64),
        )
        return Evidence(
            end_s=end_s,
            closed_s=now,
            devices=self.devices,
            paths=self.paths,
            path_nodes=self.path_nodes,
            link_down=self.link_down,
            node_down=self.node_down,
            path_down=self.path_down,
            carrier_down=self.carrier_down,
            messages=messages,
            accepted=self.accepted,
            uploads=dict(self._uploads),
            model_moves=None if self._model_moves is None else tuple(self._model_moves),
            trainings=dict(self._trainings),
            evaluations=dict(self._evaluations),
            computing_at_end=self._computing_at_end,
            work=dict(self.work),
            surplus=None if self._surplus is None else tuple(self._surplus),
            bytes_after_rounds=dict(bytes_after_rounds),
            energy=dict(energy or {}),
            counted_at_end=counted_at_end or {},  # (read-only: not copied, ~4 KB a device)
            counted_at_close=counted_at_close or {},
        )

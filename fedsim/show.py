"""`fedsim show FILE`: a topology as a readable tree, with the figures people derive
by hand: devices per gateway, each device group's path latency, its bottleneck
rate, and what one model upload and download cost on that path (lossless flow
model, duty cycles included), with a warning where that exceeds the round deadline
or the client's request timeout.

The sizes are the real ones: the task's parameter vector in the envelope the
clients send (`fl.codec`) and the server returns (float32), plus the framing of
`fl.transport`: HTTP heads, or MQTT PUBLISH heads (both over TCP), or CoAP blocks
over UDP, stop-and-wait (fedsim.show_coap)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from fedsim.fidelity_used import fidelity_used, uses_tcp
from fedsim.fl.timeouts import connect_timeout
from fedsim.net.flow import lossless_transfer_time
from fedsim.net.link import Hop
from fedsim.net.network import Network
from fedsim.net.reach import min_connect_s
from fedsim.net.tcp import TcpParams
from fedsim.rng import Streams
from fedsim.scenario import FLSpec, LinkClassSpec, NodeSpec, Scenario

if TYPE_CHECKING:
    from rich.tree import Tree

__all__ = ["Direction", "GroupCost", "ModelSizes", "describe", "group_costs",
           "model_sizes", "upload_warnings"]  # fmt: skip


def _rate(bps: float) -> str:
    for unit, f in (("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if bps >= f:
            return f"{bps / f:.3g} {unit}"
    return f"{bps:.3g} bps"


def _rates(cls: LinkClassSpec) -> str:
    """A link class's rate, or both when the directions differ."""
    up, down = cls.bandwidth_up_bps, cls.bandwidth_down_bps
    return _rate(up) if up == down else f"{_rate(up)} up / {_rate(down)} down"


def _secs(s: float) -> str:
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s" if s < 1000 else f"{s:.0f} s"


def _pct(x: float) -> str:
    return f"{x * 100:.3g} %"


# ------------------------------------------------------------------------ sizes
@dataclass(frozen=True)
class ModelSizes:
    """Bytes of one model transfer. `*_body`: the envelope (fedsim.fl.codec); the
    totals add the HTTP request (upload) or response (download) head (with
    `fl.task_on_answer`, the head of the upload's answer and the chunk framing)."""

    params: int
    codec: str
    upload_payload: int
    upload_body: int
    upload: int
    download_body: int
    download: int
    framing: str = "HTTP head"
    """What the totals add to the envelopes, per `fl.transport`: `HTTP head`, `MQTT
    PUBLISH head`, or nothing for CoAP (its blocks' headers are in the time estimate)."""


def _request_head(
    body: bytes, client_id: str, server_round: int, wait: str | None, signer: Any
) -> int:
    """The head aiohttp writes for the client's POST /v1/update (fedsim/fl/client.py);
    `wait`: the X-Fedsim-Wait it sends when the answer is to carry the next task;
    `signer`: the device's (fedsim.fl.auth), whose Authorization header every simulated
    client sends (~100 B)."""
    from aiohttp.http import SERVER_SOFTWARE

    from fedsim.fl.server import CLIENT_HEADER, ROUND_HEADER, WAIT_HEADER
    from fedsim.run import SERVER_HOST, SERVER_PORT

    fields = {CLIENT_HEADER: client_id, ROUND_HEADER: str(server_round)}
    if wait is not None:
        fields[WAIT_HEADER] = wait
    auth = signer.sign("POST", "/v1/update", None, fields, body)
    lines = [
        "POST /v1/update HTTP/1.1",
        f"Host: {SERVER_HOST}:{SERVER_PORT}",
        *(f"{k}: {v}" for k, v in fields.items()),
        f"Authorization: {auth}",
        "Content-Type: application/octet-stream",
        "Accept: */*",
        "Accept-Encoding: gzip, deflate",
        f"User-Agent: {SERVER_SOFTWARE}",
        f"Content-Length: {len(body)}",
    ]
    return len("\r\n".join(lines)) + 4


def _response_head(body: int, server_round: int | None) -> int:
    """The head of the server's 200 answer that carries a task (fedsim/fl/server.py):
    a poll's, or (`server_round`) the streamed answer to that round's upload, whose
    chunked body adds its framing."""
    from aiohttp.http import SERVER_SOFTWARE

    from fedsim.fl.server import ACCEPTED_HEADER

    framing = (
        [f"Content-Length: {body}"]
        if server_round is None
        else [f"{ACCEPTED_HEADER}: {server_round}", "Transfer-Encoding: chunked"]
    )
    lines = [
        "HTTP/1.1 200 OK",
        "Content-Type: application/octet-stream",
        *framing,
        "Date: Thu, 01 Jan 2026 00:00:00 GMT",
        f"Server: {SERVER_SOFTWARE}",
    ]
    chunks = 0 if server_round is None else len(f"{body:x}\r\n\r\n0\r\n\r\n")
    return len("\r\n".join(lines)) + 4 + chunks


def _publish_head(topic: str, payload: int) -> int:
    """MQTT 3.1.1 PUBLISH at QoS 1 (fedsim.transports.mqtt_*): fixed header, its
    Remaining Length, the topic and the packet id."""
    remaining = 2 + len(topic.encode()) + 2 + payload
    varint = 1 + (remaining >= 128) + (remaining >= 16384) + (remaining >= 2097152)
    return 1 + varint + remaining - payload


def _upload_metrics(learner: Any, params: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The metrics an update carries, as FLClient._train_and_encode gathers them: one
    local training of `learner` from `params` (a private generator: the run's draws are
    untouched), and with `federated_eval` the global model's local scores."""
    import numpy as np

    _, metrics = learner.train(params.copy(), config, np.random.default_rng(0))
    score = getattr(learner, "evaluate", None)
    if config.get("federated_eval") and score is not None:
        metrics = {**metrics, **{f"fed_{k}": float(v) for k, v in score(params).items()}}
    return dict(metrics)


def model_sizes(sc: Scenario, task: Any = None) -> ModelSizes:
    """What one client uploads and downloads per round: the task's initial parameters
    encoded as the client (fl.codec) and the server (float32) encode them, the upload
    with the meta the client builds (`fedsim.fl.client.update_meta`: its metrics from
    one local training) and, over HTTP, the device's signature. Within a few bytes of a
    run's uploads (the metrics' and the signature's digits vary)."""
    import numpy as np

    from fedsim.fl.auth import Keyring
    from fedsim.fl.client import update_meta
    from fedsim.fl.codec import encode
    from fedsim.tasks.registry import build_task

    devices = sc.device_nodes
    if task is None:
        task = build_task(sc.task, len(devices), Streams(sc.seed))
    params = np.asarray(task.initial_params(), dtype=np.float32)
    client = max((d.name for d in devices), key=len, default="device")
    rounds = sc.fl.rounds
    codec = sc.fl.codec
    delta = codec in ("int8", "topk")  # as FLClient._train_and_upload
    metrics: dict[str, Any] = {}
    meta: dict[str, Any] = {"client_id": client, "round": rounds, "version": rounds,
                            "num_examples": 0, "metrics": metrics}  # fmt: skip
    if devices:
        learner = task.learner(0)
        metrics = _upload_metrics(learner, params, dict(sc.fl.local))
        meta = update_meta(client, rounds, rounds, learner, metrics)
    up = encode(params, meta, codec=codec, delta=delta, rng=np.random.default_rng(0))
    down_meta = {"round": rounds, "version": rounds, "config": dict(sc.fl.local)}
    down = len(encode(params, down_meta, codec="float32").body)
    body = len(up.body)
    transport = sc.fl.transport
    if transport == "coap":
        up_total, down_total, framing = body, down, ""
    elif transport == "mqtt":  # topics as fedsim.transports.mqtt_client/server write them
        up_total = body + _publish_head(f"fl/u/{client}/{rounds}", body)
        down_total = down + _publish_head(f"fl/t/{client}", down)
        framing = "MQTT PUBLISH head"
    else:
        wait = str(sc.fl.poll_wait_s) if sc.fl.task_on_answer else None  # as FLClient sends it
        late = rounds * sc.fl.deadline_s + 1 / 3  # a clock reading with all its digits
        signer = Keyring.from_seed(sc.seed, [client]).signer(client, lambda: late)
        up_total = body + _request_head(up.body, client, rounds, wait, signer)
        down_total = down + _response_head(down, rounds if sc.fl.task_on_answer else None)
        framing = "HTTP head"
    return ModelSizes(
        params=int(params.size),
        codec=codec,
        upload_payload=up.payload_bytes,
        upload_body=body,
        upload=up_total,
        download_body=down,
        download=down_total,
        framing=framing,
    )


# ------------------------------------------------------------------------ costs
@dataclass(frozen=True)
class Direction:
    """One direction of a group's path: the limiting hop and the transfer time."""

    size: int
    rate_bps: float
    """Effective bottleneck: min over hops of rate x duty cycle."""
    raw_bps: float
    """That hop's rate without its duty cycle."""
    duty_cycle: float
    duty_limited: bool
    """The limiting hop is limited by its duty cycle (the fastest hop by rate might not be)."""
    time_s: float
    frame: int
    """Bytes of a full-size segment on the wire."""
    ack_gap_s: float
    """How long the limiting hop takes to let through the segments one ACK covers
    (delayed ACKs: two), silences included: TCP's timer must outlast it (0: no TCP)."""
    blocks: int = 0
    """CoAP: blocks of `fl.coap.block_size` (or the path's fit) the transfer takes; 0: TCP."""
    exchange_s: float = 0.0
    """CoAP: one block's datagram and its answer on the idle path (0: TCP)."""


@dataclass(frozen=True)
class GroupCost:
    parent: str
    group: str
    nodes: tuple[NodeSpec, ...]
    hops: int
    latency_s: float
    up: Direction
    down: Direction
    connect_s: float
    """The least time a TCP connect takes on the path (`fedsim.net.reach`)."""
    latencies: tuple[tuple[str, float], ...]
    """(link class key, one-way latency) of the path's hops with a latency."""

    @property
    def round_trip_s(self) -> float:
        return self.up.time_s + self.down.time_s


def _direction(hops: Sequence[Hop], size: int, d: int, latency: float) -> Direction:
    """d = 0: device to server (each hop's own direction), 1: the reverse.

    TCP (handshake, slow start, headers) comes from `lossless_transfer_time` at the
    slowest radio rate; a duty-cycled limiting hop adds its silences as a throughput
    bound: everything that hop sends (SYN, ACK, data segments) at rate x duty. Not
    `lossless_transfer_time` at rate x duty itself: a 242-byte frame at 17.6 bit/s
    holds the medium longer than TCP's timers, so that call replays spurious
    timeouts (a 6 KB upload at 1 % of SF9 came out at 31 h instead of ~1 h, and a
    21 KB one ran for minutes of wall time)."""
    txs = [h.link.tx[h.direction if d == 0 else 1 - h.direction] for h in hops]
    eff = [tx.rate_bps * tx.duty_cycle for tx in txs]
    i = min(range(len(txs)), key=eff.__getitem__)
    mtu = min(h.link.mtu for h in hops)
    # TCP at the hop that holds a full frame longest, with its per-frame airtime
    full = TcpParams().wire(TcpParams().mss(mtu))
    slow = max(txs, key=lambda tx: tx.airtime(full, 1))
    t = lossless_transfer_time(size, slow.rate_bps, latency, mtu, frame_bits=slow.frame_bits)
    limited = txs[i].duty_cycle < 1.0
    if limited:
        p = TcpParams()
        mss = p.mss(mtu)
        nseg = max(1, -(-size // mss))
        fbits = txs[i].frame_bits  # a frame's fixed airtime (LoRa's preamble, headers), as bits
        last = 8.0 * p.wire(size - (nseg - 1) * mss) + fbits  # no silence needed after it
        bits = 8.0 * (p.syn_bytes + p.ack_bytes + nseg * p.wire(0) + size) + (nseg + 2) * fbits
        t = max(t, (bits - last) / eff[i] + last / txs[i].rate_bps + latency)
    frame = TcpParams().wire(TcpParams().mss(mtu))
    gap = TcpParams().delack_segments * (8.0 * frame + txs[i].frame_bits) / eff[i]
    return Direction(size, eff[i], txs[i].rate_bps, txs[i].duty_cycle, limited, t, frame, gap)


def _coap_direction(
    hops: Sequence[Hop], size: int, d: int, latency: float, block: int | None
) -> Direction:
    """A blockwise CoAP transfer (fedsim.show_coap) as a `Direction`."""
    from fedsim.show_coap import coap_block_size, coap_transfer

    c = coap_transfer(hops, size, coap_block_size(hops, block), d, latency)
    return Direction(size, c.rate_bps, c.raw_bps, c.duty_cycle, c.duty_limited, c.time_s,
                     c.frame, 0.0, c.blocks, c.exchange_s)  # fmt: skip


def group_costs(
    sc: Scenario, sizes: ModelSizes | None = None, upload_bytes: int | None = None
) -> list[GroupCost]:
    """Per device group (parent, group): one device's model download and upload on
    an otherwise idle path (no contention, no loss)."""
    import simpy

    sizes = sizes or model_sizes(sc)
    up_size = upload_bytes or sizes.upload
    net = Network(simpy.Environment(), sc, Streams(sc.seed))
    groups: dict[tuple[str, str], list[NodeSpec]] = defaultdict(list)
    for node in sc.device_nodes:
        groups[(node.parent or "", node.group)].append(node)
    link_key = {n.name: n.link_class for n in sc.nodes}  # a link is named after its child
    along = _direction if sc.fl.transport != "coap" else partial(
        _coap_direction, block=sc.fl.coap.get("block_size"))  # fmt: skip
    out = []
    for (parent, group), nodes in groups.items():
        hops = net.path(nodes[0].name)
        if not hops:
            continue
        latency = sum(h.link.latency_s for h in hops)
        latencies = tuple((str(link_key[h.link.a]), h.link.latency_s) for h in hops
                          if h.link.latency_s > 0)  # fmt: skip
        out.append(
            GroupCost(
                parent, group, tuple(nodes), len(hops), latency,
                along(hops, up_size, 0, latency),
                along(hops, sizes.download, 1, latency),
                min_connect_s(hops), latencies,
            )
        )  # fmt: skip
    return out


def _connect_warnings(g: GroupCost, transport: str) -> list[str]:
    """These devices can never open a connection: the round trip outlasts the client's
    connect timeout, so every attempt is abandoned before its SYN-ACK arrives."""
    limit = connect_timeout(transport)
    if limit is None or g.connect_s <= limit:
        return []
    keys = ", ".join(f"links.{k}.latency {_secs(s)}" for k, s in g.latencies)
    return [
        f"a TCP connect takes at least {_secs(g.connect_s)} (SYN and SYN-ACK; {keys} each "
        f"way), longer than the HTTP client's {limit:g} s connect timeout: these devices "
        "can never connect (lower the latency, or use fl.transport: mqtt or coap, which "
        "have no such timeout)"
    ]


def _requests(g: GroupCost, fl: FLSpec) -> list[tuple[str, float, bool]]:
    """(what, estimated time, whether the same request also waits out a long poll) of
    each request the client bounds by `fl.request_timeout` + `fl.poll_wait`."""
    if fl.transport == "mqtt":  # a task is a message waited for (`poll_wait`): not bounded
        return [("upload", g.up.time_s, False)]
    if fl.task_on_answer:  # the upload's answer is the long poll, then the next task
        return [("upload + download (one request)", g.round_trip_s, True)]
    return [("upload", g.up.time_s, False), ("download", g.down.time_s, True)]


def _timeout_warnings(g: GroupCost, fl: FLSpec) -> list[str]:
    """The HTTP and MQTT clients abandon a request that outlasts `fl.request_timeout` +
    `fl.poll_wait` (fedsim.fl.client): a request that also waits out a long poll has
    the whole budget only when its task comes at once, `fl.request_timeout` when it
    comes at the end of the poll. CoAP has no such timeout (its own retransmissions)."""
    if fl.transport == "coap":
        return []
    limit, total = fl.request_timeout_s, fl.request_timeout_s + fl.poll_wait_s
    out = []
    for what, took, waits in _requests(g, fl):
        if took > total:
            fate = "every such exchange is abandoned: these devices cannot report"
        elif waits and took > limit:
            fate = (f"an exchange whose task comes later than {_secs(total - took)} into the "
                    "long poll is abandoned")  # fmt: skip
        else:
            continue
        out.append(
            f"{what} ≈ {_secs(took)}, longer than the client allows (fl.request_timeout "
            f"{_secs(limit)} + fl.poll_wait {_secs(fl.poll_wait_s)}"
            f"{', less the wait for its task' if waits else ''}): {fate} (dropout cause "
            "request_timeout); raise fl.request_timeout"
        )
    return out


def _warnings(g: GroupCost, deadline: float) -> list[str]:
    """Why this group's devices cannot finish a round in time, if they cannot."""
    out = []
    what = "these devices cannot report"
    if g.up.time_s > deadline:
        out.append(f"upload ≈ {_secs(g.up.time_s)}")
    elif g.down.time_s > deadline:
        out.append(f"download ≈ {_secs(g.down.time_s)}")
        what = "these devices cannot get the model"
    elif g.round_trip_s > deadline:
        out.append(f"download + upload ≈ {_secs(g.round_trip_s)}")
    if out:
        out[0] += f" exceeds the round deadline ({_secs(deadline)}): {what}"
    max_rto = TcpParams().max_rto
    for name, d in (("upload", g.up), ("download", g.down)):
        if d.ack_gap_s > max_rto:
            out.append(
                f"{name}: two {d.frame} B segments need {_secs(d.ack_gap_s)} at "
                f"{_rate(d.rate_bps)}, longer than TCP's {max_rto:.0f} s maximum retransmission "
                "timeout: spurious retransmissions make it far slower than estimated"
            )
    return out


def upload_warnings(
    sc: Scenario, costs: Sequence[GroupCost] | None = None, task: Any = None
) -> list[str]:
    """One line per problem of a device group: its model download and upload alone,
    on an idle path, take longer than `fl.deadline` (training time not even counted),
    or a path too slow for TCP's timers; then `fidelity_warnings`. `task`: the
    scenario's task if already built (saves building it again)."""
    if costs is None:
        costs = group_costs(sc, model_sizes(sc, task))
    out: list[str] = []
    for g in costs:
        d = g.up if g.up.time_s >= g.down.time_s else g.down
        why = (f"{_rate(d.raw_bps)} at {_pct(d.duty_cycle)} duty cycle" if d.duty_limited
               else f"bottleneck {_rate(d.rate_bps)}")  # fmt: skip
        where = f"{g.group} × {len(g.nodes)} under {g.parent}"
        out.extend(f"{where}: {w}" for w in _connect_warnings(g, sc.fl.transport))
        out.extend(f"{where}: {w} ({why})" for w in _warnings(g, sc.fl.deadline_s))
        out.extend(f"{where}: {w} ({why})" for w in _timeout_warnings(g, sc.fl))
        out.extend(f"{where}: {w}" for w in _coap_warnings(g, sc.fl))
    return out + fidelity_warnings(sc)


def _coap_warnings(g: GroupCost, fl: FLSpec) -> list[str]:
    """CoAP: a block exchange longer than the ACK timeout (fedsim.show_coap)."""
    if fl.transport != "coap":
        return []
    from fedsim.show_coap import ack_timeout_warning

    warning = ack_timeout_warning(max(g.up.exchange_s, g.down.exchange_s), fl.coap, g.latencies)
    return [warning] if warning else []


def fidelity_warnings(sc: Scenario) -> list[str]:
    """Link classes the chosen fidelity models poorly: flow fidelity on a shared
    duty-cycled channel is ~5x slower than packet fidelity (docs/network-model.md).
    None under CoAP: its datagrams are modelled one by one whatever `fidelity` says
    (fedsim.fidelity_used), so switching it would change nothing."""
    if not uses_tcp(sc):
        return []
    return [
        f"links.{name}: a shared channel with a {_pct(cls.duty_cycle)} duty cycle is modelled "
        f"poorly by flow fidelity (~5x too slow); use --set links.{name}.fidelity=packet"
        for name, cls in sc.links.items()
        if cls.shared and cls.duty_cycle < 1.0 and (cls.fidelity or sc.fidelity) == "flow"
    ]


# ------------------------------------------------------------------------ tree
def _bottleneck(d: Direction) -> str:
    if not d.duty_limited:
        return _rate(d.rate_bps)
    return f"{_rate(d.rate_bps)} (duty-cycle limited: {_rate(d.raw_bps)} × {_pct(d.duty_cycle)})"


def describe(sc: Scenario, model_bytes: int | None = None) -> Tree:
    """A rich Tree of the topology. `model_bytes`: upload size for the cost column
    (default: the real one, see `model_sizes`; CoAP: the envelope, cut into blocks)."""
    sizes = model_sizes(sc)
    costs = {(g.parent, g.group): g for g in group_costs(sc, sizes, model_bytes)}
    groups: dict[str, list[NodeSpec]] = defaultdict(list)
    children: dict[str | None, list[str]] = defaultdict(list)
    for node in sc.nodes:
        if node.kind == "device":
            groups[f"{node.parent}/{node.group}"].append(node)
        else:
            children[node.parent].append(node.name)
    from rich.tree import Tree  # only to print: `fedsim run` reads the estimates above

    root = Tree(
        f"[bold]{sc.name}[/] (seed {sc.seed}, {fidelity_used(sc)} fidelity, task {sc.task.kind}, "
        f"{_engine_text(sc)}, {len(sc.device_nodes)} devices)"
    )
    plus = f" + {sizes.framing}" if sizes.framing else ""
    up_what = (
        f"{model_bytes} B (--model-bytes)"
        if model_bytes
        else f"{sizes.upload} B ({sizes.codec} envelope {sizes.upload_body} B{plus})"
    )
    down_what = f"{sizes.download} B (float32 envelope {sizes.download_body} B{plus})"
    root.add(
        f"[bold]model[/] {sizes.params} parameters; upload {up_what}; download {down_what}; "
        f"round deadline {_secs(sc.fl.deadline_s)}; {_transport_text(sc)}"
    )

    def add(parent_tree: Tree, name: str) -> None:
        node = next(n for n in sc.nodes if n.name == name)
        devs = [g for key, g in groups.items() if key.startswith(f"{name}/")]
        n_dev = sum(len(g) for g in devs)
        label = f"[bold]{name}[/] ({node.kind}"
        if node.link_class:
            cls = sc.links[node.link_class]
            label += f", uplink {node.link_class}: {_rates(cls)}, "
            label += f"{_secs(cls.latency_s)}"
            if cls.duty_cycle < 1:
                label += f", duty cycle {_pct(cls.duty_cycle)}"
        label += f", {n_dev} devices directly below)" if node.kind != "server" else ")"
        branch = parent_tree.add(label)
        for child in children.get(name, []):
            add(branch, child)
        for group in devs:
            first = group[0]
            cls = sc.links[first.link_class or ""]
            conn = first.connectivity.kind
            shared = ", shared medium" if cls.shared else ""
            head = (
                f"{first.group} × {len(group)} ({first.device}, {first.link_class}{shared}, "
                f"connectivity {conn})"
            )
            g = costs.get((name, first.group))
            if g is None:
                branch.add(f"{head}: no path")
                continue
            text = (
                f"{head}: path {g.hops} hops, latency {_secs(g.latency_s)}, "
                f"bottleneck {_bottleneck(g.up)}, {g.up.size} B upload{_blocks(g.up)} ≈ "
                f"{_secs(g.up.time_s)}"
            )
            if g.down.rate_bps != g.up.rate_bps:
                text += f"; downlink bottleneck {_bottleneck(g.down)}"
            text += f", {g.down.size} B download{_blocks(g.down)} ≈ {_secs(g.down.time_s)}"
            leaf = branch.add(text)
            for warning in (
                _connect_warnings(g, sc.fl.transport)
                + _warnings(g, sc.fl.deadline_s)
                + _timeout_warnings(g, sc.fl)
                + _coap_warnings(g, sc.fl)
            ):
                leaf.add(f"[bold yellow]⚠ {warning}[/]")

    for top in children.get(None, []):
        add(root, top)
    if sc.failures:
        fails = root.add("[bold]scheduled failures[/]")
        for f in sc.failures:
            for_ = "for good" if f.duration_s == float("inf") else f"for {f.duration_s:.0f} s"
            fails.add(f"{f.target} {f.name} down at {f.at_s:.0f} s {for_}")
    return root


def _transport_text(sc: Scenario) -> str:
    """How the estimates below model `fl.transport`."""
    if sc.fl.transport == "coap":
        return "CoAP over UDP: blockwise, one block and its answer per round trip"
    what = "MQTT over TCP (QoS 1)" if sc.fl.transport == "mqtt" else "HTTP over TCP"
    return f"{what}: lossless TCP estimates"


def _blocks(d: Direction) -> str:
    return f" ({d.blocks} CoAP blocks)" if d.blocks else ""


def _engine_text(sc: Scenario) -> str:
    """`fedavg (sync)` or `fedbuff (async)`: FedBuff ignores `fl.strategy`, so never show it."""
    return "fedbuff (async)" if sc.fl.engine == "async" else f"{sc.fl.strategy} (sync)"

"""CoAP over the emulated UDP wire: RFC 7252 retransmission timing for a lost
confirmable message, and one model transfer's bytes equal to a hand count from the
RFCs' header sizes. Runs on the virtual-time loop (conftest)."""

from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace

import numpy as np
import pytest

from fedsim.coap.blockwise import fetch_rest, post_blocks
from fedsim.coap.endpoint import CoapTimeoutError, Endpoint, Params
from fedsim.coap.message import (
    BLOCK1,
    CHANGED,
    CONTENT,
    CONTINUE,
    GET,
    Message,
    block_value,
    parse_block,
    uint,
)
from fedsim.net.datagram import DatagramPath, UdpParams
from fedsim.net.link import Hop, Link, Transmitter
from fedsim.net.transport import Wire
from fedsim.net.udp import UdpWire
from fedsim.transports.coap_server import CoapFLServer, _Observer

BPS = 1e6
LATENCY = 0.01


class Scripted:
    """A loss model that loses the packets whose index is in `lost` (0-based)."""

    mean_rate = 0.0

    def __init__(self, lost: set[int] | None = None, *, all_lost: bool = False) -> None:
        self.lost = lost or set()
        self.all_lost = all_lost
        self.seen = 0

    def drop(self, rng: np.random.Generator) -> bool:
        i, self.seen = self.seen, self.seen + 1
        return self.all_lost or i in self.lost


def _network(
    up_loss: Scripted | None = None, down_loss: Scripted | None = None
) -> tuple[UdpWire, Link]:
    loop = asyncio.get_running_loop()
    link = Link(
        "dev-server", "dev", "server", (Transmitter("up", BPS), Transmitter("down", BPS)), LATENCY
    )
    if up_loss is not None:
        link.loss = (up_loss, link.loss[1])
    if down_loss is not None:
        link.loss = (link.loss[0], down_loss)

    def opener(device: str, on_access):
        return DatagramPath(
            loop.env, (Hop(link, 0),), np.random.default_rng(0), on_access=on_access
        )

    return UdpWire(loop, opener, Wire(loop, None), ("server", 5683)), link


def _content(msg: Message, peer: object) -> tuple[int, tuple, bytes]:
    return CONTENT, (), b"ok"


def _first_timeout(seed: int) -> float:
    """The endpoint's first draw after its message id and token (section 4.2)."""
    rng = np.random.default_rng(seed)
    rng.integers(0, 65536)
    rng.integers(0, 65536)
    return float(rng.uniform(2.0, 3.0))


def _airtime(coap_bytes: int) -> float:
    p = UdpParams()
    return (coap_bytes + p.header_bytes + p.framing_bytes) * 8 / BPS


async def test_a_lost_confirmable_is_retransmitted_on_rfc7252_timing() -> None:
    udp, link = _network(Scripted(all_lost=True))
    client = Endpoint(udp.socket("dev"), np.random.default_rng(7))
    sent: list[float] = []
    real_send = client.socket.send

    def recording_send(data, peer, **kw):
        sent.append(asyncio.get_running_loop().time())
        return real_send(data, peer, **kw)

    client.socket.send = recording_send
    start = asyncio.get_running_loop().time()
    with pytest.raises(CoapTimeoutError):
        await client.request(udp.server.address, GET, ())
    t = _first_timeout(7)
    assert 2.0 <= t <= 3.0  # [ACK_TIMEOUT, ACK_TIMEOUT x ACK_RANDOM_FACTOR]
    air = _airtime(4 + 2)  # header + token, no options
    # MAX_RETRANSMIT = 4 retransmissions, each after the doubled timeout from the
    # moment the previous copy left the radio
    expected = [start + k * air + t * (2**k - 1) for k in range(5)]
    assert sent == pytest.approx(expected, rel=1e-12, abs=1e-9)
    # then the last timeout (16 T) runs out: MAX_TRANSMIT_WAIT after the first copy left
    gave_up = asyncio.get_running_loop().time()
    assert gave_up == pytest.approx(sent[-1] + air + 16 * t, abs=1e-9)
    assert link.counters[0].packets == 5
    assert link.counters[0].retransmissions == 4
    assert link.counters[0].drops == 5  # every copy lost, and counted


async def test_one_lost_confirmable_then_the_piggybacked_response() -> None:
    udp, link = _network(Scripted({0}))
    Endpoint(udp.server, np.random.default_rng(1), handler=_content)
    client = Endpoint(udp.socket("dev"), np.random.default_rng(7))
    start = asyncio.get_running_loop().time()
    response = await client.request(udp.server.address, GET, ())
    assert (response.code, response.payload) == (CONTENT, b"ok")
    t = _first_timeout(7)
    request, reply = _airtime(6), _airtime(6 + 3)  # the reply: header, token, 0xFF, "ok"
    done = asyncio.get_running_loop().time()
    assert done == pytest.approx(start + 2 * request + t + LATENCY + reply + LATENCY, abs=1e-9)
    assert (link.counters[0].packets, link.counters[0].drops) == (2, 1)
    assert link.counters[0].retransmissions == 1


async def test_a_retransmitted_copy_counts_as_retx_not_payload() -> None:
    """Payload is what the application handed over, once (as TCP counts it): the lost
    request's copy adds its wire bytes to `retx`, not to payload or data."""
    udp, link = _network(Scripted({0}))
    Endpoint(udp.server, np.random.default_rng(1), handler=_content)
    client = Endpoint(udp.socket("dev"), np.random.default_rng(7))
    await client.request(udp.server.address, GET, ())
    up = link.counters[0]
    wire = 6 + 30  # header + token, IPv4 + UDP + framing
    assert (up.payload_bytes, up.data_bytes, up.header_bytes) == (6, 6, 30)
    assert (up.retx_bytes, up.wire_bytes, up.retransmissions) == (wire, 2 * wire, 1)
    assert udp.wire.node_bytes["dev"][0] == 6  # the device's own count: once


async def test_the_reply_to_a_duplicate_is_a_retransmission() -> None:
    """The reply is lost, so the client sends its request again and the server answers
    the duplicate with the same reply (RFC 7252 section 4.5): a copy, counted in wire
    and `retx` bytes, not as new payload."""
    udp, link = _network(down_loss=Scripted({0}))
    Endpoint(udp.server, np.random.default_rng(1), handler=_content)
    client = Endpoint(udp.socket("dev"), np.random.default_rng(7))
    response = await client.request(udp.server.address, GET, ())
    assert response.payload == b"ok"
    down = link.counters[1]
    wire = 6 + 3 + 30
    assert (down.payload_bytes, down.data_bytes) == (9, 9)
    assert (down.retx_bytes, down.wire_bytes, down.retransmissions) == (wire, 2 * wire, 1)
    assert udp.wire.node_bytes["dev"][1] == 9


def test_rfc7252_derived_parameters() -> None:
    p = Params()
    assert (p.ack_timeout, p.ack_random_factor, p.max_retransmit, p.nstart) == (2.0, 1.5, 4, 1)
    assert p.max_transmit_span == 45.0
    assert p.max_transmit_wait == 93.0
    assert p.exchange_lifetime == 247.0


def _uint_len(value: int) -> int:
    return len(uint(value))


async def test_one_model_download_costs_the_hand_counted_bytes() -> None:
    """A notification with block 0 (RFC 7959 section 2.6), then a Block2 GET per
    further block, every message counted from RFC 7252's sizes: 4-byte header,
    2-byte token, options (1 byte of delta/length nibbles, +1 extension byte for a
    delta of 13-268, then the value), 0xFF before a payload. On the wire each
    datagram adds IPv4 + UDP (28) and link framing (2)."""
    udp, link = _network()
    engine = SimpleNamespace(params=np.zeros(650, dtype=np.float32), finished=False)
    server = CoapFLServer(engine, udp.server, np.random.default_rng(1))  # type: ignore[arg-type]
    client_socket = udp.socket("dev")
    client = Endpoint(client_socket, np.random.default_rng(2))
    model = bytes(range(256)) * 10 + b"tail"  # 2564 bytes: a float32 envelope's size
    size, szx = 64, 2
    server.clients[client_socket.address] = "dev"
    server.tasks["dev"] = model
    token = client.new_token()
    note: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    client.observe(token, note.set_result)
    assert await server._notify(_Observer(client_socket.address, token, szx, math.inf), model)
    body = await fetch_rest(client, udp.server.address, b"t", await note)
    assert body == model

    n = -(-len(model) // size)
    down = 4 + 2 + (1 + 1) + (1 + 1 + 1) + 1 + size  # Observe=1 (delta 6), Block2 (delta 17)
    up = 4  # the empty ACK of the confirmable notification
    for k in range(1, n):
        chunk = min(size, len(model) - k * size)
        more = (k + 1) * size < len(model)
        # GET: Uri-Path "t" (delta 11, length 1), Block2 (delta 12, NUM k, SZX 2)
        up += 4 + 2 + (1 + 1) + (1 + _uint_len(block_value(k, False, szx)))
        # 2.05 piggybacked on the ACK: Block2 (delta 23: 13 + 1 extension byte), 0xFF
        down += 4 + 2 + (1 + 1 + _uint_len(block_value(k, more, szx))) + 1 + chunk
    per_datagram = UdpParams().header_bytes + UdpParams().framing_bytes
    assert (link.counters[0].payload_bytes, link.counters[1].payload_bytes) == (up, down)
    assert link.counters[0].packets == link.counters[1].packets == n
    assert link.counters[0].wire_bytes == up + n * per_datagram
    assert link.counters[1].wire_bytes == down + n * per_datagram
    assert udp.wire.node_bytes["dev"] == [up, down]


async def test_block1_upload_reassembles_and_echoes() -> None:
    udp, _link = _network(Scripted({1, 3}))  # two blocks lost once each
    received: list[bytes] = []

    def sink(msg: Message, peer: object) -> tuple[int, tuple, bytes]:
        _num, more, _ = parse_block(msg.uint_option(BLOCK1) or 0)
        received.append(msg.payload)
        return (CONTINUE if more else CHANGED), ((BLOCK1, msg.option(BLOCK1) or b""),), b""

    Endpoint(udp.server, np.random.default_rng(1), handler=sink)
    client = Endpoint(udp.socket("dev"), np.random.default_rng(2))
    body = bytes(range(200))
    response = await post_blocks(client, udp.server.address, b"u", body, 64)
    assert response.code == CHANGED
    assert b"".join(received) == body  # duplicates are answered from the cache, once
    assert client.retransmissions == 2

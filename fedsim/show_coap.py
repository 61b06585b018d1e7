"""What one model transfer costs over CoAP, for `fedsim show`: blockwise transfer
(RFC 7959) is stop-and-wait, one confirmable block datagram and one small answer per
block, so the path's round trip and each radio's duty cycle set the pace, not TCP's
window (fedsim.show models HTTP's and MQTT's TCP).

An estimate on an idle, lossless path: a lost datagram costs an ACK timeout
(`fl.coap.ack_timeout`, 2 s and more) on top."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fedsim.net.datagram import UdpParams
from fedsim.net.link import Hop, Transmitter
from fedsim.transports.coap_api import OVERHEAD, block_size_for

__all__ = [
    "ANSWER_BYTES",
    "DatagramCost",
    "ack_timeout_warning",
    "coap_block_size",
    "coap_transfer",
]

ANSWER_BYTES = 12
"""A block's answer or request without payload (header, 2-byte token, Block option,
Uri-Path `t`): 2.31 Continue to an uploaded block, the GET of a downloaded one."""


@dataclass(frozen=True)
class DatagramCost:
    """One direction's blockwise transfer on a path."""

    blocks: int
    block_size: int
    time_s: float
    frame: int
    """Bytes of a full block's datagram (CoAP message + UDP/IP)."""
    rate_bps: float
    """Effective bottleneck of the data direction: min over hops of rate x duty cycle."""
    raw_bps: float
    duty_cycle: float
    duty_limited: bool
    exchange_s: float = 0.0
    """One block's confirmable datagram and its answer on the idle path: the least time
    the sender's ACK timer must outlast (no duty-cycle silence counted)."""


def coap_block_size(hops: Sequence[Hop], wanted: int | None) -> int:
    """The block size the client uses on this path (as fedsim.run's CoAP side picks it)."""
    mtu = min(h.link.mtu for h in hops)
    return block_size_for(UdpParams().max_payload(mtu), wanted)


def coap_transfer(
    hops: Sequence[Hop], size: int, block: int, d: int, latency: float
) -> DatagramCost:
    """`size` bytes in blocks of `block`; d = 0: device to server, 1: the reverse. Each
    block is a cycle: its datagram one way, the small answer (or next request) back;
    a duty-cycled transmitter stretches the cycle to its airtime over its duty cycle.
    An upload's last cycle ends with the server's answer. A download starts with the
    observe notification, which carries block 0 one way (no request before it): then a
    GET and its block per further block, so 3 blocks are one way and 2 round trips
    (redteam8: 3 round trips were counted; a run took 179 ms where 212 ms was shown)."""
    udp = UdpParams()
    data = block + OVERHEAD + udp.header_bytes + udp.framing_bytes
    answer = ANSWER_BYTES + udp.header_bytes + udp.framing_bytes
    forward = [h.link.tx[h.direction if d == 0 else 1 - h.direction] for h in hops]
    back = [h.link.tx[1 - h.direction if d == 0 else h.direction] for h in hops]
    busy: dict[int, tuple[Transmitter, float]] = {}
    transit = 2.0 * latency
    one_way = latency  # a data datagram's delivery alone: the notification's block 0
    for txs, nbytes in ((forward, data), (back, answer)):
        for tx in txs:
            air = tx.airtime(nbytes, 1)
            transit += air
            one_way += air if txs is forward else 0.0
            prior = busy.get(id(tx), (tx, 0.0))[1]
            busy[id(tx)] = (tx, prior + air)  # a half-duplex radio sends both ways
    cycle = max([transit, *(air / tx.duty_cycle for tx, air in busy.values())])
    blocks = max(1, -(-size // block))
    eff = [tx.rate_bps * tx.duty_cycle for tx in forward]
    i = min(range(len(forward)), key=eff.__getitem__)
    return DatagramCost(
        blocks=blocks,
        block_size=block,
        # no silence to wait out after the last block
        time_s=(blocks - 1) * cycle + (transit if d == 0 else one_way),
        frame=data,
        rate_bps=eff[i],
        raw_bps=forward[i].rate_bps,
        duty_cycle=forward[i].duty_cycle,
        duty_limited=forward[i].duty_cycle < 1.0,
        exchange_s=transit,
    )


def ack_timeout_warning(
    exchange_s: float, coap: Mapping[str, object], latencies: Sequence[tuple[str, float]]
) -> str | None:
    """A block exchange that outlasts CoAP's first ACK timeout (drawn from
    [ACK_TIMEOUT, ACK_TIMEOUT x ACK_RANDOM_FACTOR], RFC 7252 4.8) is sent again before its
    answer can arrive: spurious retransmissions, wire bytes well above payload (redteam9:
    a 2.5 s satellite link sent 48 of 94 uplink packets again, wire 2.2x payload).
    `latencies`: (link class key, one-way latency) of the path's hops; None if it fits."""
    timeout = float(coap.get("ack_timeout") or 2.0)  # type: ignore[arg-type]
    factor = float(coap.get("ack_random_factor") or 1.5)  # type: ignore[arg-type]
    if exchange_s <= timeout:
        return None
    share = (
        "every block's first timeout expires"
        if exchange_s > timeout * factor
        else f"a block whose timeout is drawn below {exchange_s:.2g} s times out"
    )
    links = ", ".join(f"links.{k}.latency {s:g} s each way" for k, s in latencies)
    suggest = math.floor(exchange_s) + 1
    return (
        f"a CoAP block and its answer take ≈ {exchange_s:.2g} s"
        f"{f' ({links})' if links else ''}, longer than the ACK timeout (fl.coap.ack_timeout "
        f"{timeout:g} s, the first drawn up to x{factor:g}, fl.coap.ack_random_factor): "
        f"{share} before its answer can arrive and it is sent again (spurious "
        f"retransmissions, wire bytes well above payload); set fl.coap.ack_timeout above "
        f"the round trip (--set fl.coap.ack_timeout={suggest}s; RFC 7252 4.8.1 allows it)"
    )

"""What one model transfer costs over CoAP, for `fedsim show`: blockwise transfer
(RFC 7959) is stop-and-wait, one confirmable block datagram and one small answer per
block, so the path's round trip and each radio's duty cycle set the pace, not TCP's
window (fedsim.show models HTTP's and MQTT's TCP).

An estimate on an idle, lossless path: a lost datagram costs an ACK timeout
(`fl.coap.ack_timeout`, 2 s and more) on top."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fedsim.net.datagram import UdpParams
from fedsim.net.link import Hop, Transmitter
from fedsim.transports.coap_api import OVERHEAD, block_size_for

__all__ = ["ANSWER_BYTES", "DatagramCost", "coap_block_size", "coap_transfer"]

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
    )

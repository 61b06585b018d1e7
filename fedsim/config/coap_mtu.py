"""`fl.coap.block_size` against the path MTU of every device.

A CoAP block travels in one UDP datagram and fedsim does not model IP fragmentation:
a block whose message does not fit the smallest MTU on a device's path can never be
sent (the socket refuses it, EMSGSIZE), so every exchange of that device fails and
the run reports dropouts instead of the mistake. Refused here, naming the link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedsim.config.base import at_key

if TYPE_CHECKING:
    from fedsim.config.topology import Topology

__all__ = ["UDP_IP_HEADER", "check_coap_blocks", "coap_block_overhead"]

UDP_IP_HEADER = 28
"""IPv4 (20) + UDP (8): fedsim.net.datagram.UdpParams.header_bytes (a test pins them)."""


def coap_block_overhead() -> int:
    """CoAP header, token and options around a block (fedsim.transports.coap_api)."""
    from fedsim.transports.coap_api import OVERHEAD  # light: only the CoAP message codes

    return OVERHEAD


def check_coap_blocks(topology: Topology) -> None:
    """With `fl.transport: coap` and a `block_size`, every device's path carries it."""
    fl = topology.fl
    size = fl.coap.block_size
    if fl.transport != "coap" or size is None:
        return
    need = size + coap_block_overhead() + UDP_IP_HEADER
    parents = {item.name: item for item in topology.nodes}
    seen: set[str] = set()
    for item in topology.nodes:
        if item.kind != "device":
            continue
        cur = item
        while cur.uplink is not None and cur.name not in seen:
            seen.add(cur.name)
            link = cur.uplink.link
            mtu = topology.links[link].mtu
            if need > mtu:
                fit = _largest_block(mtu)
                raise at_key(
                    "fl.coap.block_size",
                    f"{size}-byte blocks need {need}-byte datagrams ({size} + "
                    f"{coap_block_overhead()} CoAP + {UDP_IP_HEADER} UDP/IP), more than "
                    f"links.{link}.mtu ({mtu}) on {cur.name}'s uplink: use block_size "
                    f"{fit} or less, or leave it out (it then fits each path's MTU)",
                )
            cur = parents[cur.uplink.to]


def _largest_block(mtu: int) -> int:
    size = 1024
    while size > 16 and size + coap_block_overhead() + UDP_IP_HEADER > mtu:
        size //= 2
    return size

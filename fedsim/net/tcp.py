"""TCP constants and helpers shared by the flow and packet fidelities.

The defaults mirror the ns-3 configuration behind the reference data
(`shared/reference/README.md`), which is also close to a modern Linux stack:
timestamps on (52 B of IP+TCP header per segment), 2 B of PPP framing, an
initial window of 10 segments, RFC 6298 retransmission timer with a 1 s floor,
SYN retry after 3 s with exponential backoff, delayed ACK every 2 segments or
200 ms, and 131072 B socket buffers (about 90 full segments in flight).
Both fidelities read the same `TcpParams` so that they differ only in how they
model the mechanism, never in its constants.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedsim.net.link import Hop

__all__ = [
    "RtoEstimator",
    "TcpParams",
    "ceil_div",
    "path_mtu",
    "reverse_path",
    "segment_sizes",
]


@dataclass(frozen=True)
class TcpParams:
    """Everything both fidelities need to know about the TCP stack."""

    header_bytes: int = 52
    """IP (20) + TCP (20) + timestamp option (12): MSS = MTU - header_bytes."""
    framing_bytes: int = 2
    """Link-layer framing per packet (PPP, as in ns-3's point-to-point device)."""
    syn_bytes: int = 58
    """SYN and SYN-ACK on the wire (extra options: MSS, SACK-permitted, wscale)."""
    ack_bytes: int = 54
    """A pure ACK (or FIN) on the wire."""
    initial_window: int = 10
    """Initial congestion window in segments (RFC 6928)."""
    buffer_bytes: int = 131072
    """Send/receive buffer: caps the bytes in flight."""
    min_rto: float = 1.0
    initial_rto: float = 1.0
    max_rto: float = 60.0
    syn_retry: float = 3.0
    """First SYN retransmission timeout; doubles on each retry."""
    syn_tries: int = 6
    """SYN transmissions before connect() fails with ETIMEDOUT."""
    delack_segments: int = 2
    delack_timeout: float = 0.2
    dupack_threshold: int = 3
    beta: float = 0.7
    """Multiplicative decrease on fast retransmit (Cubic's 0.7, as in ns-3 and Linux)."""

    def mss(self, mtu: int) -> int:
        """Payload bytes of a full segment on a path whose smallest MTU is `mtu`."""
        m = int(mtu) - self.header_bytes
        if m <= 0:
            raise ValueError(f"MTU {mtu} leaves no room for TCP payload")
        return m

    def wire(self, payload: int) -> int:
        """Bytes on the wire for a data segment carrying `payload` bytes."""
        return payload + self.header_bytes + self.framing_bytes

    def max_window(self, mtu: int) -> int:
        """Segments in flight allowed by the socket buffer (at least 1)."""
        return max(1, self.buffer_bytes // self.mss(mtu))


class RtoEstimator:
    """RFC 6298 retransmission timer: SRTT/RTTVAR, a floor, and exponential backoff."""

    __slots__ = ("backoff", "max_rto", "min_rto", "rto", "rttvar", "srtt")

    def __init__(self, params: TcpParams) -> None:
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.min_rto = params.min_rto
        self.max_rto = params.max_rto
        self.rto = params.initial_rto
        self.backoff = 0

    def sample(self, rtt: float) -> None:
        """Fold in one RTT measurement (never from a retransmitted segment: Karn)."""
        if self.srtt is None:
            self.srtt = rtt
            self.rttvar = rtt / 2.0
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.rto = min(self.max_rto, max(self.min_rto, self.srtt + 4.0 * self.rttvar))
        self.backoff = 0

    @property
    def current(self) -> float:
        """The timeout to arm now, including backoff."""
        return min(self.max_rto, self.rto * (2.0**self.backoff))

    def expire(self) -> float:
        """The timer fired: return the timeout just used and double the next one."""
        used = self.current
        self.backoff += 1
        return used


def segment_sizes(nbytes: int, mss: int) -> list[int]:
    """Payload sizes of the segments carrying `nbytes` (full ones, then the rest)."""
    if nbytes <= 0:
        return []
    full, rest = divmod(int(nbytes), mss)
    return [mss] * full + ([rest] if rest else [])


def path_mtu(path: tuple[Hop, ...]) -> int:
    """The smallest MTU along a path (what path-MTU discovery would settle on)."""
    return min(h.link.mtu for h in path)


def reverse_path(path: tuple[Hop, ...]) -> tuple[Hop, ...]:
    """The same links walked the other way (server -> client for a client path)."""
    return tuple(Hop(h.link, 1 - h.direction) for h in reversed(path))


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling division (ACK counts, segment counts)."""
    return -(-a // b) if b else 0

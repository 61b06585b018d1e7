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
    "Cubic",
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
    """Multiplicative decrease on loss (Cubic's 0.7, as in ns-3 and Linux)."""
    cubic_c: float = 0.4
    """Cubic scaling constant C (segments / s^3)."""
    cubic_friendly: bool = True
    """Cubic's TCP-friendly region (Reno-speed growth floor)."""
    clock_granularity: float = 0.001
    """G in RTO = SRTT + max(G, 4 RTTVAR) (ns-3's 1 ms)."""

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
    """RFC 6298 retransmission timer as ns-3 runs it.

    `base` = max(min_rto, SRTT + max(G, 4 RTTVAR)) with clock granularity G = 1 ms.
    A timeout doubles the armed value (`current`, capped at `max_rto`); the next
    RTT sample *or* the next ACK that advances SND.UNA (ns-3's `NewAck`) resets it
    to `base`. So backoff accumulates only while the retransmitted head keeps
    getting lost. Before the first sample `base` is the initial RTO (1 s).
    """

    __slots__ = ("backoff", "cur", "granularity", "initial", "max_rto", "min_rto", "rttvar", "srtt")

    def __init__(self, params: TcpParams) -> None:
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.min_rto = params.min_rto
        self.max_rto = params.max_rto
        self.granularity = params.clock_granularity
        self.initial = params.initial_rto
        self.cur = params.initial_rto
        self.backoff = 0

    @property
    def base(self) -> float:
        if self.srtt is None:
            return self.initial
        return max(self.min_rto, self.srtt + max(self.granularity, 4.0 * self.rttvar))

    def sample(self, rtt: float) -> None:
        """Fold in one RTT measurement (RFC 6298: first sets SRTT=R, RTTVAR=R/2)."""
        if self.srtt is None:
            self.srtt = rtt
            self.rttvar = rtt / 2.0
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.reset()

    def reset(self) -> None:
        """An ACK advanced SND.UNA (or a sample came in): back to the un-backed-off RTO."""
        self.cur = min(self.max_rto, self.base)
        self.backoff = 0

    @property
    def current(self) -> float:
        """The timeout to arm now, including backoff."""
        return self.cur

    def expire(self) -> float:
        """The timer fired: return the timeout just used and double the next one."""
        used = self.cur
        self.cur = min(self.max_rto, 2.0 * self.cur)
        self.backoff += 1
        return used


class Cubic:
    """ns-3's TcpCubic window arithmetic (in segments), shared by both fidelities.

    * slow start (cwnd < ssthresh): cwnd += segments newly ACKed (byte counting,
      not capped at ssthresh, as ns-3 approximates Linux's quick-ack);
    * congestion avoidance: cwnd += 1 every `cnt` ACKed segments, where
      cnt = cwnd / (W_cubic(t) - cwnd) from the cubic curve
      W(t) = W_max + C (t - K)^3 (integer arithmetic as in ns-3, so the target
      moves in whole segments), clamped to at least 2, and to 20 while no
      W_max is known (after a timeout, `reset`): after an RTO the window grows
      by only one segment per 20 ACKed, which is what keeps ns-3's windows tiny
      and its timeouts frequent at high loss;
    * ssthresh on loss = max(floor(cwnd * beta), 2) from *cwnd* (not flight size),
      with fast convergence of W_max. HyStart is not modelled (it matters only
      when queueing delay builds up inside slow start).
    """

    __slots__ = (
        "alpha", "beta", "c", "cnt_acc", "delay_min", "epoch", "friendly", "k", "last_max",
        "origin",
    )  # fmt: skip

    def __init__(self, params: TcpParams) -> None:
        self.beta = params.beta
        self.c = params.cubic_c
        self.friendly = params.cubic_friendly
        self.alpha = 3.0 * (1.0 - self.beta) / (1.0 + self.beta)
        self.cnt_acc = 0
        self.last_max = 0
        self.origin = 0
        self.k = 0.0
        self.epoch: float | None = None
        self.delay_min: float | None = None

    def ssthresh(self, cwnd: float) -> float:
        seg = int(cwnd)
        if seg < self.last_max:
            self.last_max = int(seg * (1 + self.beta) / 2)
        else:
            self.last_max = seg
        self.epoch = None
        return float(max(int(seg * self.beta), 2))

    def reset(self) -> None:
        """Entering loss state after a timeout (ns-3 CubicReset)."""
        self.last_max = 0
        self.origin = 0
        self.k = 0.0
        self.delay_min = None

    def rtt(self, srtt: float | None) -> None:
        if srtt is not None and (self.delay_min is None or srtt < self.delay_min):
            self.delay_min = srtt

    def increase(self, cwnd: float, ssthresh: float, acked: int, now: float) -> float:
        """The new cwnd after `acked` segments were newly ACKed at time `now`."""
        if acked <= 0:
            return cwnd
        if cwnd < ssthresh:
            return cwnd + acked
        self.cnt_acc += acked
        seg = int(cwnd)
        if self.epoch is None:
            self.epoch = now
            if self.last_max <= seg:
                self.k, self.origin = 0.0, seg
            else:
                self.k = ((self.last_max - seg) / self.c) ** (1.0 / 3.0)
                self.origin = self.last_max
        t = now + (self.delay_min or 0.0) - self.epoch
        offs = abs(t - self.k)
        delta = int(self.c * offs**3)
        target = self.origin - delta if t < self.k else self.origin + delta
        cnt = seg // (target - seg) if target > seg else 100 * seg
        if self.last_max == 0 and cnt > 20:
            cnt = 20
        if self.friendly:
            # TCP-friendly region (RFC 8312 4.2): never slower than AIMD with
            # alpha = 3 (1 - beta) / (1 + beta) segments per round trip.
            cnt = min(cnt, int(seg / self.alpha))
        cnt = max(cnt, 2)
        if self.cnt_acc >= cnt:
            self.cnt_acc -= cnt
            return cwnd + 1
        return cwnd


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

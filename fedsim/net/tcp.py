"""TCP constants and helpers shared by the flow and packet fidelities.

The defaults mirror the ns-3 configuration behind the reference data
(`tests/data/README.md`), which is also close to a modern Linux stack:
timestamps on (52 B of IP+TCP header per segment), 2 B of PPP framing, an
initial window of 10 segments, RFC 6298 retransmission timer with a 1 s floor,
SYN retry after 3 s with exponential backoff, delayed ACK every 2 segments or
200 ms, and 131072 B socket buffers (about 90 full segments in flight).
Both fidelities read the same `TcpParams` so that they differ only in how they
model the mechanism, never in its constants.

`TcpSender` is the sender's state machine (ns-3 3.44: SACK scoreboard, NextSeg,
congestion states, PRR, Cubic via `Cubic`, the RTO via `RtoEstimator`,
cwnd-limited growth), written once and run by both fidelities. They differ only
in the hooks: how a released segment reaches the wire (packet.py: one packet per
segment on the first hop; flow.py: added to the open flight) and how ACKs and
timer expiries come back (packet.py: SimPy events; flow.py: a replay loop over
each flight's ACK stream).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from fedsim.net.link import Hop

__all__ = [
    "DISORDER",
    "LOSS",
    "OPEN",
    "RECOVERY",
    "Cubic",
    "HyStart",
    "RtoEstimator",
    "TcpParams",
    "TcpSender",
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
    hystart: bool = True
    """Cubic's hybrid slow start (ns-3 3.44 TcpCubic::HyStart, on by default)."""
    hystart_low_window: int = 16
    """HyStart looks for an exit only once cwnd reaches this many segments."""
    hystart_min_samples: int = 8
    """RTT samples per round whose minimum the delay test compares."""
    hystart_ack_delta: float = 0.002
    """ACKs at most this far apart form a train."""
    hystart_delay_min: float = 0.004
    hystart_delay_max: float = 1.0
    """The delay test's threshold is the minimum RTT clamped to [min, max]."""
    cubic_delta: float = 0.010
    """Cubic ignores delay samples this soon after an epoch starts (ns-3 CubicDelta)."""

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
        # max(min_rto, srtt + max(G, 4 rttvar)), spelled out: this runs on every ACK
        v = 4.0 * self.rttvar
        b = self.srtt + (self.granularity if self.granularity >= v else v)
        return self.min_rto if self.min_rto >= b else b

    def sample(self, rtt: float) -> None:
        """Fold in one RTT measurement (RFC 6298: first sets SRTT=R, RTTVAR=R/2)."""
        srtt = self.srtt
        if srtt is None:
            self.srtt = srtt = rtt
            self.rttvar = rttvar = rtt / 2.0
        else:
            self.rttvar = rttvar = 0.75 * self.rttvar + 0.25 * abs(srtt - rtt)
            self.srtt = srtt = 0.875 * srtt + 0.125 * rtt
        # `reset` and `base`, inline (a flow send samples twice a round)
        v = 4.0 * rttvar
        b = srtt + (self.granularity if self.granularity >= v else v)
        if self.min_rto >= b:
            b = self.min_rto
        self.cur = b if b < self.max_rto else self.max_rto
        self.backoff = 0

    def sample_pair(self, first: float, second: float) -> float:
        """`sample(first)`, then `sample(second)` (a round's first and last segments);
        returns the SRTT between the two (what the round's Cubic and HyStart see)."""
        self.sample(first)
        between = self.srtt
        self.sample(second)
        return between  # type: ignore[return-value]

    def reset(self) -> None:
        """An ACK advanced SND.UNA (or a sample came in): back to the un-backed-off RTO."""
        b = self.base
        self.cur = b if b < self.max_rto else self.max_rto
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
      W_max is known (before the first loss; ns-3 3.44 keeps W_max across a
      timeout, #1085);
    * ssthresh on loss = max(floor(cwnd * beta), 2) from *cwnd* (not flight size),
      with fast convergence of W_max;
    * HyStart (`pkts_acked`, `new_round`): ns-3 3.44's hybrid slow start, see `HyStart`.
    """

    __slots__ = (
        "alpha", "beta", "c", "cnt_acc", "delay_min", "delta", "epoch", "friendly", "hs", "k",
        "last_max", "origin",
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
        self.delta = params.cubic_delta
        self.hs = HyStart(params) if params.hystart else None

    def ssthresh(self, cwnd: float) -> float:
        seg = int(cwnd)
        if seg < self.last_max:
            self.last_max = int(seg * (1 + self.beta) / 2)
        else:
            self.last_max = seg
        self.epoch = None
        return float(max(int(seg * self.beta), 2))

    def reset(self) -> None:
        """Entering loss state after a timeout (ns-3 3.44 CubicReset). W_max survives the
        timeout (ns-3 #1085, in 3.42): growth after an RTO aims back at it."""
        self.origin = 0
        self.k = 0.0
        self.delay_min = None
        if self.hs is not None:
            self.hs.found = False

    def loss_state(self, now: float, high: int) -> None:
        """The sender entered LOSS (a timeout): ns-3 CubicReset + HystartReset."""
        self.reset()
        if self.hs is not None:
            self.hs.reset(now, high)

    def pkts_acked(self, cwnd: float, ssthresh: float, srtt: float | None, now: float) -> float:
        """ns-3 TcpCubic::PktsAcked, called on every ACK ns-3 calls it on, with the
        smoothed RTT: track the minimum delay, let HyStart look for the exit. Returns the
        new ssthresh (cwnd when HyStart ends slow start now)."""
        if srtt is None or (self.epoch is not None and now - self.epoch < self.delta):
            return ssthresh
        dmin = self.delay_min
        if dmin is None or srtt < dmin:
            self.delay_min = dmin = srtt
        hs = self.hs
        found = hs is not None and not hs.found and hs.low <= cwnd <= ssthresh
        return cwnd if found and hs.update(srtt, dmin, now) else ssthresh

    def new_round(self, ack: int, high: int, now: float) -> None:
        """Slow start took an ACK for `ack` with `high` segments sent: past the round's
        end, HyStart starts a new round (ns-3 IncreaseWindow)."""
        hs = self.hs
        if hs is not None and ack > hs.end:
            hs.reset(now, high)

    def rebase(self) -> None:
        """A new message whose segments are numbered from 0 (flow fidelity): its first
        ACK ends HyStart's round, as ns-3's ever-growing sequence numbers would."""
        if self.hs is not None:
            self.hs.end = 0

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


class HyStart:
    """ns-3 3.44's hybrid slow start (TcpCubic HystartUpdate, HyStartDetect BOTH).

    A round starts at the first slow-start ACK past the previous round's last sent
    segment. While cwnd is at least `hystart_low_window` and below ssthresh, each ACK
    is tested twice: the ACK train (ACKs at most `hystart_ack_delta` apart that span
    more than the minimum delay since the round started: the pipe is full) and the
    delay increase (the minimum of the round's first `hystart_min_samples` smoothed
    RTTs exceeds the all-time minimum by that minimum clamped to [4 ms, 1 s]). Either
    one ends slow start: ssthresh = cwnd. Found stays set until a timeout."""

    __slots__ = (
        "ack_delta", "curr", "dmax", "dmin", "end", "found", "last_ack", "low", "min_samples",
        "round_start", "samples",
    )  # fmt: skip

    def __init__(self, params: TcpParams) -> None:
        self.low = params.hystart_low_window
        self.min_samples = params.hystart_min_samples
        self.ack_delta = params.hystart_ack_delta
        self.dmin = params.hystart_delay_min
        self.dmax = params.hystart_delay_max
        self.found = False
        self.reset(0.0, 0)

    def reset(self, now: float, high: int) -> None:
        """A new round (ns-3 HystartReset): it ends with segment `high`."""
        self.round_start = self.last_ack = now
        self.end = high
        self.curr: float | None = None
        self.samples = 0

    def update(self, delay: float, delay_min: float, now: float) -> bool:
        """One ACK's tests; True when slow start should end now."""
        if now - self.last_ack <= self.ack_delta:
            self.last_ack = now
            if now - self.round_start > delay_min:
                self.found = True
        if self.samples < self.min_samples:
            if self.curr is None or self.curr > delay:
                self.curr = delay
            self.samples += 1
        elif self.curr is not None:
            th = min(max(delay_min, self.dmin), self.dmax)
            if self.curr > delay_min + th:
                self.found = True
        return self.found


OPEN, DISORDER, RECOVERY, LOSS = range(4)
"""Congestion states of `TcpSender` (ns-3 TcpSocketState: OPEN, DISORDER, RECOVERY, LOSS)."""


class TcpSender:
    """The sender side of one TCP direction: ns-3 3.44's TcpSocketBase + TcpTxBuffer +
    TcpCubic + TcpPrrRecovery, in segments. Both fidelities run this one object.

    What it decides: the SACK scoreboard (flags per segment in [una, nxt): SACKed, lost,
    retransmitted; pipe = sent - SACKed - lost + retransmitted, so a SACKed
    retransmission stays in pipe until cumulatively ACKed, as in ns-3's
    `TcpTxBuffer::Update`); a hole with `dupack_threshold` SACKed segments above it is
    lost; NextSeg (ns-3.44, RFC 6675 with #805); the congestion states OPEN / DISORDER /
    RECOVERY / LOSS with fast retransmit and PRR; Cubic's increase (only while the last
    send found the flight cwnd-limited, ns-3 >= 3.42) and decrease; RTT samples from the
    timestamp echo (only for data first sent since the last timeout); the retransmission
    timer (started when data is sent and none is running, restarted by every ACK that
    advances SND.UNA, in recovery only by the first partial ACK; a timeout marks every
    un-SACKed segment lost, ssthresh = 0.7 cwnd, cwnd = 1, LOSS state).

    What it leaves to the fidelity (the hooks a subclass implements):

    * `transmit(q, retx)`: put segment q on the wire now (a retransmission if `retx`);
    * `transmit_new(first, k)`: put the k new segments first .. first + k - 1 on the
      wire now, in order (NextSeg rule 2 releases them together);
    * `arm()` may be extended to schedule the timer's expiry (packet.py); the
      timer's state is `armed` and `deadline`.

    And the driver's side of the contract: set `now` (the sender's clock) before
    calling `try_send`, `on_ack` or `on_rto`; call `on_rto` when `deadline` passes
    with `armed` set; raise `n` as the application hands over segments.
    """

    def __init__(
        self,
        params: TcpParams,
        maxwin: int,
        rto: RtoEstimator,
        cc: Cubic,
        cwnd: float,
        ssthresh: float = math.inf,
        now: float = 0.0,
    ) -> None:
        self.rto = rto
        self.cc = cc
        self.cwnd = cwnd
        self.ssthresh = ssthresh
        self.maxwin = maxwin
        """Segments in flight allowed by the receive window."""
        self.dupthresh = params.dupack_threshold
        self.now = now
        self.n = 0
        """Segments handed over by the application so far (data exists below n)."""
        # scoreboard (ns-3 TcpTxBuffer flags), all within [una, nxt)
        self.una = 0
        self.nxt = 0
        self.sacked: set[int] = set()
        self.lost: set[int] = set()
        self.retrans: set[int] = set()
        self.state = OPEN
        self.dupacks = 0
        self.recover = 0
        self.recover_active = False
        self.first_partial = True
        self.prr_delivered = 0
        self.prr_out = 0
        self.prr_flight = 1
        self.cwnd_limited = False
        """ns-3 m_isCwndLimited: cwnd - pipe < 1 segment after the last data send."""
        self.hist_lo = 0
        """Segments [hist_lo, nxt) were first sent since the last timeout (RTT samples)."""
        self.armed = False
        self.deadline = math.inf

    # -- hooks (the fidelity) -------------------------------------------------------------------
    def transmit(self, q: int, retx: bool) -> None:
        """Put segment q on the wire now."""
        raise NotImplementedError

    def transmit_new(self, first: int, k: int) -> None:
        """Put the new segments first .. first + k - 1 on the wire now, in order."""
        raise NotImplementedError

    def arm(self) -> None:
        """(Re)start the retransmission timer: it expires one RTO from now."""
        self.armed = True
        self.deadline = self.now + self.rto.cur

    # -- sending --------------------------------------------------------------------------------
    def pipe(self) -> int:
        """RFC 6675 pipe as ns-3 counts it: sent - SACKed - lost + retransmitted."""
        return (self.nxt - self.una) - len(self.sacked) - len(self.lost) + len(self.retrans)

    def next_seg(self) -> int | None:
        """NextSeg rules 1 and 2 (the partial-ACK retransmission in recovery)."""
        high = max(self.sacked) if self.sacked else None
        cand = [q for q in self.lost if q not in self.retrans and (high is None or q < high)]
        if cand:
            return min(cand)
        if self.nxt < self.n and self.nxt - self.una < self.maxwin:
            return self.nxt
        return None

    def send_seg(self, q: int) -> None:
        retx = q < self.nxt
        if retx:
            self.retrans.add(q)
        else:
            self.nxt = q + 1
        if self.state == RECOVERY:
            self.prr_out += 1
        if not self.armed:
            self.arm()
        # ns-3 (>= 3.42) SendDataPacket: the window is "cwnd limited" only if less than
        # one segment of it is left unused; Cubic grows cwnd only while it is.
        self.cwnd_limited = self.cwnd < self.pipe() + 1
        self.transmit(q, retx)

    def try_send(self) -> None:
        """NextSeg as ns-3.44's TcpTxBuffer runs it (RFC 6675 with ns-3 #805) while
        cwnd - pipe >= 1 segment.

        Once a SACK has been seen, rules 1 and 3 consider only segments below the
        highest SACKed one (criterion 1.b). Rule 1: the first lost, not yet
        retransmitted segment. Rule 2: new data within the receive window (all that
        cwnd allows at once). Rule 3 (only in fast recovery): the first segment below
        the highest SACK that is neither SACKed, lost nor retransmitted."""
        while True:
            sk, lo = self.sacked, self.lost
            pipe = (self.nxt - self.una) - len(sk) - len(lo) + len(self.retrans)  # self.pipe()
            room = self.cwnd - pipe
            if room < 1.0:
                return
            recovery = self.state == RECOVERY
            high = max(sk) if sk and (lo or recovery) else None
            if lo:  # rule 1
                cand = [q for q in lo if q not in self.retrans and (high is None or q < high)]
                if cand:
                    self.send_seg(min(cand))
                    continue
            nx = self.nxt
            k = min(int(room), self.n - nx, self.maxwin - (nx - self.una))
            if k > 0:  # rule 2: new data, k segments at once
                self.nxt = nx + k
                if recovery:
                    self.prr_out += k
                if not self.armed:
                    self.arm()
                self.cwnd_limited = self.cwnd < pipe + k + 1
                self.transmit_new(nx, k)
                continue
            if recovery:  # rule 3
                top = nx if high is None else high
                rt = self.retrans
                q = next(
                    (
                        q
                        for q in range(self.una, top)
                        if q not in sk and q not in lo and q not in rt
                    ),
                    None,
                )
                if q is not None:
                    self.send_seg(q)
                    continue
            return

    # -- ACK processing -------------------------------------------------------------------------
    def new_ack(self, reset: bool) -> None:
        if reset:
            self.rto.reset()
            self.arm()
        if self.una >= self.n:
            self.armed = False

    def increase(self, acked: int) -> None:
        # ns-3 >= 3.42 (issue #966): TcpCubic::IncreaseWindow returns at once unless the
        # last send found the flight cwnd-limited, so cwnd stops growing while the
        # receive window (or the application) limits the flight.
        if self.cwnd_limited:
            if self.cwnd < self.ssthresh:
                self.cc.new_round(self.una, self.nxt, self.now)
            self.cwnd = self.cc.increase(self.cwnd, self.ssthresh, acked, self.now)

    def pkts_acked(self) -> None:
        """ns-3 PktsAcked: Cubic's delay tracking and HyStart, on the ACKs ns-3 calls it."""
        self.ssthresh = self.cc.pkts_acked(self.cwnd, self.ssthresh, self.rto.srtt, self.now)

    def prr(self, delivered: int, dupack: bool, safe: bool) -> None:
        """Proportional rate reduction as ns-3.44's TcpPrrRecovery runs it (RFC 6937bis-08,
        ns-3 !2059 in 3.43), in segments.

        `delivered` is SACK-derived (newly SACKed + newly cumulatively ACKed). On a
        duplicate ACK (and on entering recovery) ns-3 adds one more segment while
        prr_delivered < RecoverFS, even with SACK on. The +1 of PRR-SSRB applies only
        when the ACK cumulatively covers a retransmitted segment (m_isRetransDataAcked)."""
        if dupack and self.prr_delivered < self.prr_flight:
            delivered += 1
        if delivered == 0:
            return
        self.prr_delivered += delivered
        pipe = self.pipe()
        if pipe > self.ssthresh:
            sndcnt = math.ceil(self.prr_delivered * self.ssthresh / self.prr_flight) - self.prr_out
        else:
            limit = max(self.prr_delivered - self.prr_out, delivered) + (1 if safe else 0)
            sndcnt = min(limit, int(self.ssthresh - pipe))
        sndcnt = max(sndcnt, 0 if self.prr_out > 0 else 1)
        self.cwnd = float(pipe + sndcnt)

    def enter_recovery(self, delivered: int) -> None:
        self.lost.add(self.una)  # the head is presumed lost (MarkHeadAsLost)
        self.recover = self.nxt
        self.recover_active = True
        self.state = RECOVERY
        self.ssthresh = self.cc.ssthresh(self.cwnd)
        self.prr_out = 0
        self.prr_delivered = 0
        self.prr_flight = max(1, self.pipe())
        self.prr(delivered, True, False)
        if self.una not in self.retrans:  # fast retransmit, outside the window
            self.send_seg(self.una)

    def update_lost(self) -> None:
        """A hole with `dupack_threshold` SACKed segments above it is lost."""
        dup = self.dupthresh
        sk = self.sacked
        if len(sk) < dup:
            return
        count = 0
        for q in range(max(sk), self.una - 1, -1):
            if q in sk:
                count += 1
            elif count >= dup and q not in self.lost:
                self.lost.add(q)
        if count >= dup:
            self.lost.add(self.una)

    def on_ack(self, ack: int, sacks: Iterable[int], echo: float) -> None:
        """An ACK arrives now: cumulative `ack`, SACKed segments `sacks`, timestamp echo."""
        # RTT sample from the timestamp echo (ns-3 EstimateRtt), before anything else.
        if self.hist_lo < self.nxt and ack >= self.hist_lo + 1:
            self.rto.sample(max(1e-6, self.now - echo))
            self.hist_lo = ack
        una, nxt, sk, lo, rt = self.una, self.nxt, self.sacked, self.lost, self.retrans
        nnew = 0
        for q in sacks:
            if una <= q < nxt and q not in sk:
                # ns-3 TcpTxBuffer::Update clears the lost flag, not the retransmitted one:
                # a SACKed retransmission still counts in pipe until it is cumulatively ACKed.
                sk.add(q)
                lo.discard(q)
                nnew += 1
        if nnew:
            self.update_lost()
        if ack < una:
            return
        old = una
        old_dupacks = self.dupacks
        delivered = nnew
        # ns-3 m_isRetransDataAcked: a partial ACK in recovery covers an un-SACKed
        # retransmitted segment (PRR's "safe ACK").
        safe = (
            self.state == RECOVERY
            and old < ack < self.recover
            and any(q in rt and q not in sk for q in range(old, ack))
        )
        for q in range(old, ack):
            if q not in sk:
                delivered += 1
            else:
                sk.discard(q)
            lo.discard(q)
            rt.discard(q)
        self.una = ack
        dup = nnew > 0
        if dup and self.state != LOSS:
            if self.state != RECOVERY:
                self.dupacks += 1
            if self.state == OPEN:
                self.state = DISORDER
            if self.state == RECOVERY:
                self.prr(delivered, True, safe)
            elif self.state == DISORDER and (
                (
                    self.dupacks == self.dupthresh
                    and (ack >= self.recover or not self.recover_active)
                )
                or self.una in self.lost
            ):
                self.enter_recovery(delivered)
        if ack == old and ack < self.nxt:
            self.pkts_acked()  # a duplicate ACK: ns-3 calls PktsAcked for one segment
        if ack > old:
            acked = delivered
            if not dup:
                self.dupacks = 0
            if ack < self.recover and self.state == RECOVERY:
                if acked >= 1:
                    self.prr(delivered, False, safe)
                if ack not in self.retrans and ack < self.nxt:
                    q = self.next_seg()
                    self.send_seg(ack if q is None else q)
                self.pkts_acked()
                self.new_ack(self.first_partial)
                self.first_partial = False
            elif ack < self.recover and self.state == LOSS:
                self.pkts_acked()
                self.increase(acked)
                self.new_ack(True)
            else:
                exited = False
                if self.state != DISORDER or delivered >= old_dupacks:
                    self.pkts_acked()
                if self.state == DISORDER and not dup:
                    self.state = OPEN
                elif self.state == RECOVERY:
                    self.first_partial = True
                    acked = ack - old
                    self.state = OPEN
                    self.dupacks = 0
                    exited = True
                elif self.state == LOSS:
                    self.first_partial = True
                    acked = max(0, ack - self.recover)
                    self.state = OPEN
                if ack >= self.recover:
                    self.recover_active = False
                if exited:
                    self.new_ack(True)
                    self.cwnd = self.ssthresh
                if self.state == OPEN:
                    self.increase(acked)
                    self.new_ack(True)
        self.try_send()

    def on_rto(self) -> None:
        """The retransmission timer expired now (ns-3 ReTxTimeout)."""
        self.armed = False
        if self.una >= self.nxt:
            return
        self.dupacks = 0
        self.retrans.clear()
        self.lost = {q for q in range(self.una, self.nxt) if q not in self.sacked}
        self.recover = self.nxt
        self.recover_active = True
        self.rto.expire()
        self.hist_lo = self.nxt
        self.ssthresh = self.cc.ssthresh(self.cwnd)
        self.cc.loss_state(self.now, self.nxt)
        self.state = LOSS
        self.cwnd = 1.0
        self.try_send()


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

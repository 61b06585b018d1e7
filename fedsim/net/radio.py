"""A device's radio: what its airtime costs and what it draws between transmissions.

Why: a radio's energy is power x time in each state, not a price per application byte.
A device transmits for the airtime of every frame it sends on its own (first-hop)
link and receives for the airtime of every frame sent to it, headers, ACKs,
handshakes, retransmissions and lost frames included; between frames its radio
lingers in a high-power tail (LTE's RRC_CONNECTED inactivity timer, Wi-Fi's PSM
timeout, NB-IoT's connected state, LoRa's receive windows), then listens idly
(DRX/eDRX paging, DTIM beacons), then sleeps (NB-IoT PSM, LoRa sleep) where the
technology has a sleep state, waking every `wake_period_s` for a periodic update
(NB-IoT's T3412 TAU).

Airtime is linear in bytes and frames (`airtime`), so a burst of n frames of B bytes
(flow fidelity books whole windows) costs exactly what the same frames cost one at a
time (packet fidelity): both fidelities charge the same for the same wire bytes and
packets on the link's counters. The figures and their sources are in
fedsim/net/radio_table.py and docs/energy.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["GapEnergy", "RadioProfile"]


@dataclass(frozen=True)
class GapEnergy:
    """What the radio spent between two activities, by state."""

    idle_s: float = 0.0
    idle_j: float = 0.0
    sleep_s: float = 0.0
    sleep_j: float = 0.0
    wakes: int = 0
    """Periodic wake-ups (TAU) in the sleep part; their energy is in idle_j."""


@dataclass(frozen=True)
class RadioProfile:
    """One link's radio as the device sees it (direction 0: the device transmits)."""

    kind: str
    tx_w: float
    """Draw while transmitting."""
    rx_w: float
    """Draw while receiving (a frame sent to the device, lost or not)."""
    per_frame_s: tuple[float, float]
    """Airtime of a frame beyond its bytes (preamble, PHY header, MAC overhead), up/down."""
    per_byte_s: tuple[float, float]
    """Airtime of one wire byte, up/down (8 / PHY rate)."""
    windows_s: float = 0.0
    """Receive windows after every frame the device sends, at `tail_w` (LoRaWAN Class A's
    RX1 and RX2): per frame, so a burst of n frames costs n pairs in either fidelity."""
    tail_s: float = 0.0
    """After activity: seconds at `tail_w` (RRC inactivity, PSM timeout, RX windows)."""
    tail_w: float = 0.0
    idle_s: float = math.inf
    """Then seconds listening at `idle_w` (DRX/eDRX paging, NB-IoT T3324); inf: no sleep."""
    idle_w: float = 0.0
    sleep_w: float = 0.0
    """Then asleep (PSM, deep sleep) until the next activity."""
    wake_period_s: float = math.inf
    """While asleep, a periodic wake every this many seconds (NB-IoT T3412)."""
    wake_j: float = 0.0
    """Energy of one periodic wake (a TAU)."""
    promotion_s: float = 0.0
    """Activity after the tail ran out first pays a promotion (LTE RRC_IDLE -> CONNECTED)."""
    promotion_w: float = 0.0
    source: str = ""
    """Where the figures come from (docs/energy.md has the full list)."""
    _only_idles: bool = field(init=False, repr=False, compare=False)
    """No tail, never asleep (Ethernet, LoRa, BLE): a quiet gap is all idle, and
    `gap_parts` reduces to one subtraction (each term it drops is an exact 0.0)."""

    def __post_init__(self) -> None:
        finite = all(map(math.isfinite, (self.tail_w, self.sleep_w, self.wake_j, self.idle_w)))
        only_idles = self.tail_s == 0.0 and self.idle_s == math.inf and self.idle_w >= 0.0
        object.__setattr__(self, "_only_idles", only_idles and finite)  # (frozen)

    def airtime(self, direction: int, nbytes: float, frames: float) -> float:
        """Seconds on air for `frames` frames carrying `nbytes` wire bytes in total."""
        return frames * self.per_frame_s[direction] + nbytes * self.per_byte_s[direction]

    def link_rate(self, direction: int, rate_bps: float | None = None) -> tuple[float, float]:
        """(rate_bps, frame_bits) for a `Transmitter` that books this airtime: a frame of
        b wire bytes is on air (8 b + frame_bits) / rate_bps = `airtime(d, b, 1)`.
        `rate_bps`: the link's own rate, where the radio's per-byte airtime is 8 / it
        (every kind but LoRa), kept as given rather than recomputed from its inverse."""
        rate = 8.0 / self.per_byte_s[direction] if rate_bps is None else rate_bps
        return rate, self.per_frame_s[direction] * rate

    def power(self, direction: int) -> float:
        return self.tx_w if direction == 0 else self.rx_w

    @property
    def awake_s(self) -> float:
        """Seconds after activity until the radio sleeps (inf: it never does)."""
        return self.tail_s + self.idle_s

    @property
    def rest_s(self) -> float:
        """Seconds since the last activity at which the radio is at rest (asleep, or idle
        where it never sleeps): where every run starts it."""
        return self.awake_s if math.isfinite(self.awake_s) else self.tail_s

    def unpromoted_gap(
        self, start: float, before: float, promotion_s: float
    ) -> tuple[float, float, float, float, int]:
        """The quiet gap a promotion paid at `start` replaced (activity before it ended at
        `before`): what giving that promotion back charges instead."""
        return self.gap_parts(start - promotion_s - before, start - before)

    def gap(self, start: float, end: float) -> GapEnergy:
        """Energy of the part [start, end] (seconds since the last activity ended) of a
        quiet gap: tail, then idle listening, then sleep with periodic wakes."""
        return GapEnergy(*self.gap_parts(start, end))

    def gap_parts(self, start: float, end: float) -> tuple[float, float, float, float, int]:
        """`gap` as a plain tuple (idle_s, idle_j, sleep_s, sleep_j, wakes): the energy
        ledger asks this on every activity."""
        if end <= start:
            return 0.0, 0.0, 0.0, 0.0, 0
        if self._only_idles:  # the arithmetic below with no tail and no sleep: same floats
            lo = start if start >= 0.0 else 0.0
            idle = end - lo if end - lo > 0.0 else 0.0
            return idle, idle * self.idle_w, 0.0, 0.0, 0
        tail_s = self.tail_s
        awake = tail_s + self.idle_s
        # [start, end] overlapping the tail, the idle and the sleep span, by comparisons
        # (not min/max calls): this runs on every activity
        hi = end if end <= tail_s else tail_s
        lo = start if start >= 0.0 else 0.0
        tail = hi - lo if hi - lo > 0.0 else 0.0
        hi = end if end <= awake else awake
        lo = start if start >= tail_s else tail_s
        idle = hi - lo if hi - lo > 0.0 else 0.0
        lo = start if start >= awake else awake
        sleep = end - lo if end - lo > 0.0 else 0.0
        wakes = 0
        if sleep > 0 and math.isfinite(self.wake_period_s) and self.wake_period_s > 0:
            wakes = math.floor((end - awake) / self.wake_period_s) - math.floor(
                max(start - awake, 0.0) / self.wake_period_s
            )
        idle_j = tail * self.tail_w + idle * self.idle_w + wakes * self.wake_j
        return tail + idle, idle_j, sleep, sleep * self.sleep_w, wakes if wakes > 0 else 0

    @property
    def timed(self) -> bool:
        """Its draw between activities depends on the time since the last one (a tail, an
        idle span before sleep, promotions, periodic wakes): where its activity sits in
        time changes its energy. Not so for a radio that idles (or sleeps) at one power
        from the moment a frame ends (Ethernet, LoRa, BLE): waiting costs what idling does."""
        return (
            self.tail_s > 0.0
            or 0.0 < self.idle_s < math.inf
            or self.promotion_s > 0.0
            or math.isfinite(self.wake_period_s)
        )

    def wait_parts(self, seconds: float) -> tuple[float, float, float, float]:
        """(idle_s, idle_j, sleep_s, sleep_j) of `seconds` waiting with frames queued (a
        shared medium busy, a duty-cycle silence): the radio stays in the state it enters
        right after activity, which does not run out while it waits: its tail (Wi-Fi
        listening, LTE/NB-IoT connected), else idle listening, else asleep (LoRa between
        frames)."""
        if seconds <= 0.0:
            return 0.0, 0.0, 0.0, 0.0
        if self.tail_s > 0.0:
            return seconds, seconds * self.tail_w, 0.0, 0.0
        if self.idle_s > 0.0:
            return seconds, seconds * self.idle_w, 0.0, 0.0
        return 0.0, 0.0, seconds, seconds * self.sleep_w

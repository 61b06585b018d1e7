"""Energy ledgers: every device is charged as its radio and CPU work; a battery-powered
one drains, and when its battery is empty it leaves the network for good (cause
`battery:<node>`).

One `Battery` per device node. A profile with `battery_j` gives it a capacity; a
mains-powered device's ledger counts without one (it never runs dry). The ledger is
the one source of a device's energy: clients.csv's `energy_*_j` columns are what it
charged, so a battery device can never be reported as spending more than it held.
`Batteries` is the run's ledger:

- radio, by airtime (fedsim.net.radio): the network gives each device's own link
  (first hop) metered counters (fedsim.net.metered); every frame either fidelity puts
  on that link (data, TCP/IP headers, SYNs, ACKs, FINs, retransmissions, frames lost
  on it) charges the device TX power x airtime when it sends (direction 0) and RX
  power x airtime when it is sent to (direction 1); frames a cut takes back before
  they left are refunded. Each booking there also reports when its frames were ready
  and when the last went out (`wake`): the radio is awake in between, waiting for the
  medium, and its tail starts after (fedsim.net.awake). Between activities the radio's
  quiet states are charged for their time: tail and idle listening (`idle`), sleep with
  periodic wakes
  (`sleep`, wakes in `idle`); an LTE-style promotion after the tail ran out is idle
  energy. The gap is charged when the next activity starts, when the battery would run
  dry in it (a lazy timer), and at the end of the run (`finish`);
- `compute(node, flops, seconds)` has the signature of `FLClient.on_work`
  (`compute_j_per_flop`);
- `charge(node, joules)` takes any other energy.

A battery runs dry when what its device had spent by then reaches what it held, not at
the charge: some charges pay for time ahead of the clock (a booked window's or a
duty-cycle queue's airtime, a wait for the medium, a training at its start). A charge
past the level is taken in full; a zero-delay event (charges arrive from inside the
transport's send path, before the channel recorded the booking, and breaking
connections there would re-enter it) finds the instant at which the ledger, as a cut
then would leave it (fedsim.net.spent_by), reaches the initial charge, and a timer
retires the node there (`Network.retire`): the cut refunds what had not gone out, and
the charge that emptied it pays for what was left. The initial level is
`nodes[i].initial_charge` (a fraction, or a range drawn per device from the stream
`("node", <name>, "battery")`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from fedsim.devices import DeviceProfile
from fedsim.net.awake import WaitsAhead
from fedsim.net.drain import DRY_REL, quiet_empty_at
from fedsim.net.evidence import Energy
from fedsim.net.metered import MeteredCounters
from fedsim.net.radio import RadioProfile
from fedsim.net.radio_table import radio_profile
from fedsim.net.rest import Run, Runs, begin, rewind
from fedsim.net.spent_by import Unsent, spent_by
from fedsim.rng import Streams

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fedsim.net.network import Network

__all__ = ["ENERGY_KINDS", "Batteries", "Battery"]

ENERGY_KINDS = ("compute", "tx", "rx", "idle", "sleep", "other")
RADIO_KINDS = ("tx", "rx", "idle", "sleep")
_WATCH_SLACK = 0.01
"""A drain timer is set this fraction of the time left ahead of its prediction, so a
busy device's charges (each moving the prediction a little earlier) do not reschedule
it per frame; it then looks again and is set at the instant (`Batteries._watch`)."""


def _quiet_bound_j(radio: RadioProfile, seconds: float) -> float:
    """At least what `seconds` of quiet time can draw: the highest quiet power over them,
    and one periodic wake more than their average counts (a wake is a step)."""
    wake = radio.wake_period_s
    wakes = math.isfinite(wake) and wake > 0.0
    power = max(radio.tail_w, radio.idle_w, radio.sleep_w + (radio.wake_j / wake if wakes else 0.0))
    bound = power * seconds + (radio.wake_j if wakes else 0.0)
    return bound * (1.0 + 1e-9) + 1e-12  # (the ledger's floors and sums round)


@dataclass(slots=True)  # (one per device: no __dict__)
class Battery:
    """What one device has left, and what it spent on what."""

    node: str
    capacity_j: float | None
    """None: mains powered (the ledger counts, nothing runs dry)."""
    level_j: float
    """math.inf for a mains-powered device."""
    compute_j_per_flop: float = 0.0
    radio: RadioProfile | None = None
    spent: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ENERGY_KINDS, 0.0))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(RADIO_KINDS, 0.0))
    """Radio time per state (tx, rx: airtime; idle: tail, listening, promotions)."""
    wire: list[int] = field(default_factory=lambda: [0, 0])
    """Wire bytes charged, sent / received."""
    frames: list[int] = field(default_factory=lambda: [0, 0])
    activity_end: float = 0.0
    """When the last transmission or reception ends."""
    accounted_until: float = 0.0
    """The radio's time is charged up to here."""
    runs: Runs = field(default_factory=list)
    """The spans of activity begun after a quiet gap that a take-back can still reach
    (fedsim.net.rest): one taken back whole leaves the radio as it was before it."""
    empty_at: float | None = None
    dying_at: float | None = None
    """When what it spent reaches what it held: its charges exceed its level, and some
    of them pay for time ahead of the clock (a booked window, a training)."""
    death_gen: int = 0
    emptied_by: str = "other"
    """The kind of the charge that took the level to zero (it pays for what was left)."""
    foreseeing: bool = False
    """A zero-delay event will foresee its death (`Batteries._foresee_death`)."""
    watch_at: float | None = None
    watch_gen: int = 0
    placed: float = 0.0
    """Seconds of airtime a booking's interval placed in time (`Batteries.wake`) that
    the counters have not charged yet: when they do, that time is not placed again."""
    uncharged_s: float = 0.0
    """Of `placed`, what no counter charged by the end of the run (the auditor's
    `booked-airtime-charged`: it must be none)."""
    waited_s: float = 0.0
    """Seconds bookings on its link waited with frames queued (a busy or duty-cycled
    medium), the radio awake for them whether they then left or were taken back: such a
    radio was not at rest all run even if no frame left (`silent-radio-at-rest`)."""
    waits: WaitsAhead | None = None
    """Waits charged for after the clock (a cut refunds them); made at the first."""
    computing: tuple[float, float, float] | None = None
    """(start, end, joules) of the last training charged: the part of it past the run's
    end is refunded (`Batteries.finish`)."""
    initial_j: float = field(init=False)
    """`level_j` at the start."""

    def __post_init__(self) -> None:
        self.initial_j = self.level_j
        if self.radio is not None:  # the run starts with the radio at rest
            r = self.radio
            self.activity_end = -r.rest_s

    @property
    def spent_j(self) -> dict[str, float]:
        return dict(self.spent)

    @property
    def radio_j(self) -> float:
        return sum(self.spent[k] for k in RADIO_KINDS)

    @property
    def fraction(self) -> float:
        if self.capacity_j is None:
            return 1.0
        return max(self.level_j, 0.0) / self.capacity_j if self.capacity_j > 0 else 0.0

    def compute_after(self, t: float) -> float:
        """Joules of the last training charged that pay for its time after `t` (charged
        at its start, spread evenly over it): what an end, a death or a round's close at
        `t` does not count."""
        job = self.computing
        if job is None or job[1] <= t:
            return 0.0
        start, stop, joules = job
        return joules * (stop - max(start, t)) / (stop - start)

    @property
    def empty(self) -> bool:
        return self.empty_at is not None

    def radio_ledger(self) -> dict[str, float]:
        """Joules, seconds, bytes and frames of the radio (the auditor's evidence)."""
        out = {f"{k}_j": self.spent[k] for k in RADIO_KINDS}
        out.update({f"{k}_s": self.seconds[k] for k in RADIO_KINDS})
        out.update(tx_bytes=self.wire[0], rx_bytes=self.wire[1])
        out.update(tx_frames=self.frames[0], rx_frames=self.frames[1])
        out["accounted_s"] = self.accounted_until
        out["uncharged_s"] = self.uncharged_s
        out["waited_s"] = self.waited_s
        return out


class Batteries:
    """The energy ledger of one run's devices."""

    def __init__(self, net: Network, streams: Streams | None = None) -> None:
        self.net = net
        self._env = net.env
        self.ledgers: dict[str, Battery] = {}
        """Every device's ledger, mains powered or not."""
        sc = net.scenario
        streams = streams if streams is not None else net.streams
        self.horizon = sc.fl.horizon_s
        """Drain timers beyond the run's time limit are not scheduled."""
        self.closed_at: float | None = None
        """The run's end once `finish` closed the ledgers."""
        self.metered: dict[int, tuple[Battery, int]] = {}
        """id(counters) of a device's own link -> (its ledger, direction)."""
        for spec in sc.device_nodes:
            assert spec.device is not None
            profile: DeviceProfile = sc.devices[spec.device]
            radio = self._radio(spec.name)
            if profile.battery_j is None:
                battery = Battery(spec.name, None, math.inf, profile.compute_j_per_flop, radio)
            else:
                lo, hi = spec.connectivity.initial_charge
                frac = (
                    lo
                    if hi <= lo
                    else float(streams.get("node", spec.name, "battery").uniform(lo, hi))
                )
                battery = Battery(
                    spec.name,
                    profile.battery_j,
                    profile.battery_j * frac,
                    profile.compute_j_per_flop,
                    radio,
                )
            self.ledgers[spec.name] = battery
            link = net.uplink.get(spec.name)
            if link is not None and radio is not None:
                for c in link.counters:
                    if isinstance(c, MeteredCounters):
                        c.meter = self._meter(battery)
                        self.metered[id(c)] = (battery, c.direction)
                        if radio.timed:  # (else where its activity sits changes no joule)
                            c.wake = partial(self.wake, battery, c.direction)
        self.batteries: dict[str, Battery] = {
            n: b for n, b in self.ledgers.items() if b.capacity_j is not None
        }
        """The battery-powered devices' ledgers (they can run dry)."""
        for battery in self.batteries.values():
            if battery.level_j <= 0:
                self._drained(battery)
            else:
                self._watch(battery)

    def _radio(self, node: str) -> RadioProfile | None:
        link = self.net.uplink.get(node)
        if link is None:
            return None
        cls = self.net.link_class[link.name]
        if cls.radio is not None:
            return cls.radio
        return radio_profile(cls.kind, cls.bandwidth_up_bps, cls.bandwidth_down_bps)

    # -- hooks ------------------------------------------------------------------------
    def _meter(self, battery: Battery) -> Any:
        return partial(self.airtime, battery)

    def airtime(self, battery: Battery, direction: int, nbytes: int, frames: int) -> None:
        """Charge (or, negative, refund) the airtime of `nbytes` wire bytes, then of
        `frames` frames, sent (direction 0) or received (1) by `battery`'s device: each
        part a change of its own, as a counter's two setters report them (a metered
        counter's change, `fedsim.net.metered.Meter`, is one call: the bytes, then the
        frames). A part that is zero charges nothing.

        The common charge takes one pass (`_charge_both`): a mains ledger (it only counts)
        charging some bytes, then some frames (both with airtime; nothing placed ahead
        by `wake`, no LoRa receive windows). The bytes leave the radio active past now,
        so the frames find no quiet gap and start where the bytes end: the same float
        operations in the same order as `_charge_parts`' two parts, without its per-part
        tests. Any other charge takes `_charge_parts`."""
        radio = battery.radio
        if radio is None:
            return
        if (
            battery.capacity_j is None
            and battery.placed == 0.0
            and battery.empty_at is None
            and not (radio.windows_s and not direction)
        ):
            dt_bytes = nbytes * radio.per_byte_s[direction]
            dt_frames = frames * radio.per_frame_s[direction]
            if dt_bytes > 0.0 and dt_frames > 0.0:
                self._charge_both(battery, radio, direction, dt_bytes, dt_frames)
                battery.wire[direction] += nbytes
                battery.frames[direction] += frames
                return
        self._charge_parts(battery, radio, direction, nbytes, frames)

    def _charge_both(
        self, battery: Battery, radio: RadioProfile, direction: int, dt_bytes: float,
        dt_frames: float,
    ) -> None:  # fmt: skip
        """`_charge_parts`' two parts for a mains ledger (see `airtime`), in one pass."""
        now = self._env._now
        kind = RADIO_KINDS[direction]  # "tx", "rx"
        power = radio.rx_w if direction else radio.tx_w
        active = battery.activity_end  # (`_quiet_until` leaves it as it is)
        promo = 0.0
        if now > battery.accounted_until:
            promo = self._quiet_until(battery, now, activity=True)
        if now > active:  # activity after a quiet gap: a take-back of all of it restores it
            begin(battery.runs, Run(now, active, promo), now)
        seconds, spent = battery.seconds, battery.spent
        x = seconds[kind] + dt_bytes
        x = (x if x > 0.0 else 0.0) + dt_frames
        seconds[kind] = x if x > 0.0 else 0.0
        end = (now if now > active else active) + dt_bytes
        end = (now if now > end else end) + dt_frames
        battery.activity_end = end
        if end > battery.accounted_until:
            battery.accounted_until = end
        x = spent[kind] + dt_bytes * power
        x = (x if x > 0.0 else 0.0) + dt_frames * power
        spent[kind] = x if x > 0.0 else 0.0

    def _charge_parts(
        self, battery: Battery, radio: RadioProfile, direction: int, nbytes: int, frames: int
    ) -> None:
        """`airtime`, part by part: the bytes, then the frames."""
        now = self._env._now
        kind = RADIO_KINDS[direction]  # "tx", "rx"
        power = radio.rx_w if direction else radio.tx_w
        per_frame, per_byte = radio.per_frame_s[direction], radio.per_byte_s[direction]
        seconds, spent = battery.seconds, battery.spent
        mains = battery.capacity_j is None  # (the ledger only counts: `_take`, inline)
        for nb, fr in ((nbytes, 0), (0, frames)):
            if not (nb or fr):
                continue
            if battery.empty_at is not None:  # a ledger stops when it ran dry
                return
            # RadioProfile.airtime, inline (this runs for every flight on a device's link)
            dt = fr * per_frame + nb * per_byte
            active = battery.activity_end  # (`_quiet_until` leaves it as it is)
            free = dt  # the part whose time is still to place
            placed = battery.placed
            if placed > 0.0 and dt > 0:  # its booking placed it already (`wake`)
                if placed >= dt:
                    battery.placed, free = placed - dt, 0.0
                else:
                    battery.placed, free = 0.0, dt - placed
            promo = 0.0
            if free > 0 and now > battery.accounted_until:
                promo = self._quiet_until(battery, now, activity=True)
                if battery.empty_at is not None:
                    return
            if nb:
                battery.wire[direction] += nb
            else:
                battery.frames[direction] += fr
            # A refund can leave -1e-20 of rounding behind (charged in parts, refunded at
            # once); nothing refunds more than was charged, so below zero is that residue.
            x = seconds[kind] + dt
            seconds[kind] = x if x > 0.0 else 0.0  # (`max(0.0, x)`, without the call)
            if free > 0:  # (no airtime, e.g. frames taken back without bytes: no activity)
                if now > active:  # after a quiet gap: a take-back of all of it restores it
                    begin(battery.runs, Run(now, active, promo), now)
                end = (now if now > active else active) + free
                battery.activity_end = end
                if end > battery.accounted_until:
                    battery.accounted_until = end
            elif dt < 0:  # taken back: those frames never left (that time is quiet again)
                battery.accounted_until += dt
                if battery.waits is not None:  # nor did they wait after the cut
                    self._refund_waits(battery, now)
                self._rewind(battery)
            if mains:
                x = spent[kind] + dt * power
                spent[kind] = x if x > 0.0 else 0.0
            else:
                self._take(battery, kind, dt * power)
            if fr and not direction and radio.windows_s:  # LoRa Class A: RX1 + RX2 per frame
                self._windows(battery, fr * radio.windows_s, radio.tail_w)
            if not mains:
                self._watch(battery)

    def _windows(self, battery: Battery, dt: float, power: float) -> None:
        """Charge (negative: refund, with the frames a cut took back) `dt` seconds of
        receive windows at `power`, right after the frames that opened them: they are
        the radio's time as the frames' airtime is, so they move the activity's end."""
        if battery.empty_at is not None:
            return
        seconds = battery.seconds
        x = seconds["idle"] + dt
        seconds["idle"] = x if x > 0.0 else 0.0
        if dt > 0:
            battery.activity_end += dt
            if battery.activity_end > battery.accounted_until:
                battery.accounted_until = battery.activity_end
        else:
            battery.accounted_until += dt
            self._rewind(battery)
        self._take(battery, "idle", dt * power)

    def wake(
        self, battery: Battery, direction: int, ready: float, out: float, nbytes: int, frames: int
    ) -> None:
        """A booking on `battery`'s link (direction 0: the device sends): `frames` frames
        of `nbytes` wire bytes, ready at `ready`, the last out by `out`. The radio is
        awake in between: place its airtime there and charge the rest as waiting
        (fedsim.net.awake); the counters charge the airtime's energy next."""
        radio = battery.radio
        if radio is None or battery.empty_at is not None:
            return
        air = radio.airtime(direction, nbytes, frames)
        start = battery.accounted_until
        promo = 0.0  # (one charged ahead is refunded with the waits ahead)
        if ready > start:  # the quiet gap before it (and a promotion after the tail)
            if ready > self._env._now:
                self._quiet_ahead(battery, ready)
            else:
                promo = self._quiet_until(battery, ready, activity=True)
            if battery.empty_at is not None:
                return
            start = ready
        if start > battery.activity_end:  # after a quiet gap: a take-back of it all restores it
            begin(battery.runs, Run(start, battery.activity_end, promo), self._env._now)
        end = start + air
        wait = out - end
        battery.placed += air
        if wait > 0.0:
            battery.waited_s += wait
            idle_s, idle_j, sleep_s, sleep_j = radio.wait_parts(wait)
            kind, seconds, joules = (
                ("idle", idle_s, idle_j) if idle_s else ("sleep", sleep_s, sleep_j)
            )
            waits = battery.waits
            if waits is None:
                waits = battery.waits = WaitsAhead()
            waits.add(end, out, kind, joules / seconds, self._env._now)
            battery.seconds[kind] += seconds
            battery.activity_end = battery.accounted_until = out
            self._take(battery, kind, joules)
            if battery.capacity_j is not None:
                self._watch(battery)
            return
        battery.activity_end = battery.accounted_until = end

    def _quiet_ahead(self, battery: Battery, ready: float) -> None:
        """Charge the quiet gap up to a booking ready after the clock (a window flow
        fidelity times later), and keep its part after the clock among the waits: a cut
        before `ready` refunds it, as the booking's airtime and wait."""
        radio = battery.radio
        assert radio is not None
        now = self._env._now
        start, base = battery.accounted_until, battery.activity_end
        seconds, spent = battery.seconds, battery.spent
        before = (seconds["idle"], spent["idle"], seconds["sleep"], spent["sleep"])
        self._quiet_until(battery, ready, activity=True)
        cut = start if start > now else now
        idle_s, idle_j, sleep_s, sleep_j, _ = radio.gap_parts(start - base, cut - base)
        ahead_idle = seconds["idle"] - before[0] - idle_s
        ahead_sleep = seconds["sleep"] - before[2] - sleep_s
        waits = battery.waits
        if waits is None:
            waits = battery.waits = WaitsAhead()
        if ahead_idle > 0.0:
            joules = spent["idle"] - before[1] - idle_j
            waits.add(cut, cut + ahead_idle, "idle", joules / ahead_idle, now)
        if ahead_sleep > 0.0:
            joules = spent["sleep"] - before[3] - sleep_j
            waits.add(cut + max(ahead_idle, 0.0), ready, "sleep", joules / ahead_sleep, now)

    def _refund_waits(self, battery: Battery, now: float) -> None:
        """A cut at `now` ended the waits charged for after it: refund them, and that
        time is quiet again."""
        assert battery.waits is not None
        seconds = battery.seconds
        for dt, kind, power in battery.waits.after(now):
            x = seconds[kind] - dt
            seconds[kind] = x if x > 0.0 else 0.0
            battery.accounted_until -= dt
            self._take(battery, kind, -dt * power)
        self._rewind(battery)

    def _rewind(self, battery: Battery) -> None:
        """A take-back moved the accounted time back: the spans of activity it reached
        back to the start of are gone (fedsim.net.rest), so the activity ends where it
        ended before them, and a promotion one paid is quiet time again."""
        runs = battery.runs
        gone, end = rewind(runs, battery.activity_end, battery.accounted_until)
        for _ in range(gone):
            run = runs.pop()
            if run.promotion_s > 0.0 and battery.empty_at is None:
                self._unpromote(battery, run)
        battery.activity_end = end

    def _unpromote(self, battery: Battery, run: Run) -> None:
        """Give back the promotion a span taken back whole paid at its start, and charge
        the quiet time it replaced (the gap from where the activity before had ended)."""
        radio = battery.radio
        assert radio is not None
        promo = run.promotion_s
        idle_s, idle_j, sleep_s, sleep_j, _ = radio.unpromoted_gap(run.start, run.before, promo)
        seconds = battery.seconds
        x = seconds["idle"] - promo + idle_s
        seconds["idle"] = x if x > 0.0 else 0.0
        seconds["sleep"] += sleep_s
        self._take(battery, "idle", idle_j - promo * radio.promotion_w)
        self._take(battery, "sleep", sleep_j)

    def compute(self, node: str, flops: float, seconds: float = 0.0) -> None:
        """Charge `flops` of training on `node`, done over the next `seconds`: charged at
        its start (a battery that cannot pay for it runs dry inside it); the part past
        the run's end, or its death, is refunded, and nothing is charged after it."""
        battery = self.ledgers.get(node)
        if battery is None or battery.empty or flops <= 0 or self.closed_at is not None:
            return
        joules = float(flops) * battery.compute_j_per_flop
        self._take(battery, "compute", joules)
        if seconds > 0.0 and battery.empty_at is None:
            now = self._env._now
            battery.computing = (now, now + seconds, joules)
        self._watch(battery)

    def charge(self, node: str, joules: float, kind: str = "other") -> None:
        """Take `joules` from `node`'s battery (a mains-powered node's ledger counts them)."""
        battery = self.ledgers.get(node)
        if battery is None or battery.empty or joules <= 0:
            return
        self._take(battery, kind, joules)

    def finish(self, end: float) -> None:
        """Close every ledger at `end` (the run's last instant): each radio's quiet time
        is charged up to it, the part of a training past it is refunded, and nothing is
        charged after (a compute charge is refused; the network sends nothing). A battery
        that has then spent all it held runs dry at the end (`_die`: its death is in the
        timeline), as a drain timer due then would have found it: its ledger is never
        just cut to its charge with the device counted alive."""
        self.closed_at = end  # (no death is foreseen past it)
        for battery in self.ledgers.values():
            after = battery.compute_after(end)
            if after and battery.empty_at is None:
                self._take(battery, "compute", -after)
            if battery.waits is not None and battery.empty_at is None:
                self._refund_waits(battery, end)  # (a cut at the end refunded them already)
            if not battery.empty:
                self._quiet_until(battery, end)
            if battery.placed > 0.0:  # booked, never counted: no airtime, so no time
                battery.uncharged_s = battery.placed
                battery.accounted_until -= battery.placed
                battery.placed = 0.0
                self._rewind(battery)
            if (
                battery.capacity_j is not None
                and battery.empty_at is None
                and self._dry_by(battery, end)
            ):
                self._die(battery, battery.death_gen)  # (the network's window closed first)
            battery.watch_gen += 1  # no drain timer fires after the run
            battery.death_gen += 1

    def _dry_by(self, battery: Battery, end: float) -> bool:
        """Whether `battery`, its time charged up to `end`, has spent all it held: less
        than `DRY_REL` of it is left, or a rounding residue its quiet radio spends by
        `end` itself (`_on_watch` runs it dry then too)."""
        if battery.level_j <= DRY_REL * battery.initial_j:
            return True
        if battery.radio is None:
            return False
        at = self._predict_empty(battery)
        return at is not None and at <= end

    # -- the radio's quiet time -----------------------------------------------------------
    def _quiet_until(self, battery: Battery, now: float, activity: bool = False) -> float:
        """Charge the tail, idle and sleep time from what is accounted up to `now`; with
        `activity`, a radio past its tail first pays the promotion back to active (the
        seconds of promotion charged are returned)."""
        radio = battery.radio
        start = battery.accounted_until
        if radio is None or now <= start:
            return 0.0
        base = battery.activity_end
        promo = 0.0
        if activity and radio.promotion_s > 0 and now - base > radio.tail_s:
            promo = min(radio.promotion_s, now - start)
        idle_s, idle_j, sleep_s, sleep_j, _ = radio.gap_parts(start - base, now - promo - base)
        battery.accounted_until = now
        if battery.empty_at is not None:
            return 0.0
        seconds = battery.seconds
        seconds["idle"] += idle_s + promo
        self._take(battery, "idle", idle_j + promo * radio.promotion_w)
        if battery.empty_at is not None:  # the idle time emptied it
            return promo
        seconds["sleep"] += sleep_s
        self._take(battery, "sleep", sleep_j)
        return promo

    def _watch(self, battery: Battery, exact: bool = False) -> None:
        """Make sure a timer fires no later than the instant a quiet radio would empty
        the battery (`_predict_empty`, wake steps included). Set ahead of a prediction
        by `_WATCH_SLACK` of the time left to it, so the predictions every later charge
        makes (each earlier by a little) move it only when they moved by more; when it
        fires it looks again and, `exact`, is set at the prediction itself. Never late:
        a timer past the instant found the battery dry after the fact (it waited for
        the wakes' average power, and a run ending in between left it undead)."""
        radio = battery.radio
        if battery.capacity_j is None or battery.empty or radio is None:
            return
        if battery.dying_at is not None or battery.level_j <= 0.0:
            return  # its death is foreseen (`_foresee_death`)
        now = self._env._now
        pending = battery.watch_at
        until = self.horizon if pending is None else min(pending, self.horizon)
        start = battery.accounted_until if battery.accounted_until < now else now
        if battery.level_j > _quiet_bound_j(radio, until - start):
            return  # a quiet radio cannot empty it before the time limit (or the timer)
        at = self._predict_empty(battery)
        if at is None or at > self.horizon:
            return
        if pending is not None and pending <= at:
            return  # the timer fires first, and looks again
        if not exact and at > now:
            at = now + (1.0 - _WATCH_SLACK) * (at - now)
        battery.watch_at = at
        battery.watch_gen += 1
        gen = battery.watch_gen
        ev = self._env.timeout(at - now if at > now else 0.0)
        ev.callbacks.append(lambda _ev: self._on_watch(battery, gen))

    def _on_watch(self, battery: Battery, gen: int) -> None:
        if gen != battery.watch_gen or battery.empty or battery.dying_at is not None:
            return
        battery.watch_at = None
        now = self._env.now
        self._quiet_until(battery, now)
        if battery.level_j <= 0.0:
            return  # the quiet time emptied it (`_take` foresees its death: now)
        at = self._predict_empty(battery)
        if at is not None and at <= now:
            # What the quiet time left is a rounding residue (it lasts less than the
            # clock can tell apart): nothing is left, and it runs dry now. Waiting a
            # wake period (or a second) instead let a dry device work on, and the run's
            # end cut what it then charged off the ledger after its rounds had counted
            # it (the fuzzer's round_energy_dry_late). (At zero, a later charge cannot
            # cancel the death.)
            battery.level_j = 0.0
            self._foresee_death(battery)
            return
        self._watch(battery, exact=True)

    @staticmethod
    def _predict_empty(battery: Battery) -> float | None:
        """When the battery empties if the radio stays quiet from its accounted time on
        (None: never), each periodic wake charged at its instant (fedsim.net.drain)."""
        radio = battery.radio
        assert radio is not None
        return quiet_empty_at(radio, battery.activity_end, battery.accounted_until, battery.level_j)

    # -- charging ---------------------------------------------------------------------
    def _take(self, battery: Battery, kind: str, joules: float) -> None:
        """Charge in full; a negative charge (frames taken back) refunds. A charge past
        what the battery holds may pay for time ahead of the clock (a booked window, a
        training at its start): the battery runs dry when what was spent by then
        reaches what it held (`_foresee_death`), not at the charge."""
        spent = battery.spent
        x = spent[kind] + joules
        spent[kind] = x if x > 0.0 else 0.0  # (`max(0.0, x)`) no -1e-20 residue
        if battery.capacity_j is not None:  # (mains: the ledger only counts)
            level = battery.level_j - joules
            if level > battery.capacity_j:
                level = battery.capacity_j
            if level <= 0.0 < battery.level_j:
                battery.emptied_by = kind
            battery.level_j = level
            if (level <= 0.0 or battery.dying_at is not None) and not battery.foreseeing:
                # Not now: a charge comes from inside the send path, before its channel
                # recorded the booking it pays for (what is ahead is known after it).
                battery.foreseeing = True
                ev = self._env.timeout(0)
                ev.callbacks.append(lambda _ev: self._foresee_death(battery))

    def _foresee_death(self, battery: Battery) -> None:
        """Its charges passed what it held (or a refund took them back under it): when
        does what it spent reach its initial charge? A timer retires it then (`_die`)."""
        battery.foreseeing = False
        if battery.empty_at is not None or self.closed_at is not None:
            return
        if battery.level_j > 0.0:  # a cut took back enough: it lives on
            if battery.dying_at is not None:
                battery.dying_at = None
                battery.death_gen += 1
                self._watch(battery)
            return
        at = self._death_time(battery)
        if at == battery.dying_at:
            return
        battery.dying_at = at
        battery.death_gen += 1
        gen = battery.death_gen
        if at <= self._env.now:
            self._die(battery, gen)
            return
        ev = self._env.timeout(at - self._env.now)
        ev.callbacks.append(lambda _ev: self._die(battery, gen))

    def _spent_by(self, battery: Battery, at: float) -> float:
        """What `battery`'s device had spent by `at` (fedsim.net.spent_by, uncapped)."""
        node = battery.node
        unsent = [u for ch in self.net.channels_of(node) for u in ch.booked_after(at)]
        return spent_by({node: battery}, self.metered, (node,), at, unsent, cap=False)

    def _death_time(self, battery: Battery) -> float:
        """The first instant (from now) at which what it spent reaches its initial
        charge: inside the booked activity its charges paid for, to a nanosecond."""
        now = self._env.now
        full = battery.initial_j
        if self._spent_by(battery, now) >= full:
            return now
        # Frames a duty-cycled radio queues go out long after the radio's accounted time
        # (a LoRa radio's activity is not placed in time): look ahead by doubling.
        lo, step = now, 1.0
        hi = now + step
        while self._spent_by(battery, hi) < full:
            lo, step = hi, 2.0 * step
            hi = now + step
            if step > 1e12:  # (never: by then everything booked went out)
                return hi
        while hi - lo > 1e-9 * max(1.0, hi):
            mid = 0.5 * (lo + hi)
            if self._spent_by(battery, mid) >= full:
                hi = mid
            else:
                lo = mid
        return hi

    def _die(self, battery: Battery, gen: int) -> None:
        """What it spent reached what it held now: the device leaves the network (the
        cut takes back what it had not sent, and refunds it), the rest of a training is
        refunded, its quiet time is charged up to now, and the ledger stops. Any joule
        charged past its initial charge (the rest of the frame or the wake that emptied
        it) is not paid: the charge that emptied it paid for what was left."""
        if gen != battery.death_gen or battery.empty_at is not None:
            return
        now = self._env.now
        battery.foreseeing = True  # (its refunds foresee nothing)
        self.net.retire(battery.node, f"battery:{battery.node}")
        after = battery.compute_after(now)
        if after:
            self._take(battery, "compute", -after)
        battery.computing = None
        if battery.waits is not None:
            self._refund_waits(battery, now)
        self._quiet_until(battery, now)
        self._settle_empty(battery)
        battery.dying_at = None
        battery.level_j = 0.0
        battery.empty_at = now
        battery.watch_gen += 1

    @staticmethod
    def _settle_empty(battery: Battery) -> None:
        """Take what it was charged past its initial charge off the charge that emptied
        it (then off the largest others): a battery never spends more than it held."""
        spent = battery.spent
        excess = sum(spent.values()) - battery.initial_j
        for kind in (battery.emptied_by, *sorted(spent, key=spent.__getitem__, reverse=True)):
            if excess <= 0.0:
                return
            cut = min(excess, spent[kind])
            spent[kind] -= cut
            excess -= cut

    def _drained(self, battery: Battery) -> None:
        """It starts empty (`initial_charge` 0): it leaves at once."""
        battery.level_j = 0.0
        battery.empty_at = self.net.env.now
        event = self.net.env.timeout(0)
        event.callbacks.append(lambda _ev: self.net.retire(battery.node, f"battery:{battery.node}"))

    def runs_dry_by(self, node: str) -> float:
        """The latest `node`'s battery runs dry (inf: mains, or it never would): when it
        did, or when it would with its radio quiet from now on (anything else the device
        does only spends more; each periodic wake at its instant)."""
        battery = self.ledgers.get(node)
        if battery is None or battery.capacity_j is None or battery.radio is None:
            return math.inf
        if battery.empty_at is not None:
            return battery.empty_at
        if battery.dying_at is not None:
            return battery.dying_at
        radio = battery.radio
        left = battery.level_j + battery.compute_after(self._env._now)  # (spent by its end)
        at = quiet_empty_at(radio, battery.activity_end, battery.accounted_until, left)
        return math.inf if at is None else at

    # -- state --------------------------------------------------------------------------
    def parts(self, node: str) -> dict[str, float]:
        """Joules `node` spent on compute, tx, rx, idle and sleep (other is compute)."""
        battery = self.ledgers.get(node)
        if battery is None:
            return dict.fromkeys(("compute", *RADIO_KINDS), 0.0)
        s = battery.spent
        return {"compute": s["compute"] + s["other"], **{k: s[k] for k in RADIO_KINDS}}

    def energy(self, node: str) -> tuple[float, float]:
        """(compute, radio) joules `node` spent."""
        p = self.parts(node)
        return p["compute"], p["tx"] + p["rx"] + p["idle"] + p["sleep"]

    def total_j(self, nodes: Iterable[str], at: float | None = None) -> float:
        """`sum(sum(self.energy(n)) for n in nodes)`, to the last bit, without a dict and
        a tuple per node (the byte ledger asks at every round's end). With `at`, plus
        the quiet time (tail, idle, sleep) each radio has accrued since its ledger was
        last charged: that is charged lazily, at the radio's next activity, so without
        it a round's energy would hold quiet time of earlier rounds and miss its own.
        Nothing is charged here (a split charge would cut a promotion short)."""
        total = 0
        for node in nodes:
            battery = self.ledgers.get(node)
            if battery is None:
                total += 0.0
                continue
            s = battery.spent
            total += (s["compute"] + s["other"]) + (s["tx"] + s["rx"] + s["idle"] + s["sleep"])
            if at is not None and at > battery.accounted_until:
                total += self._quiet_pending_j(battery, at)
        return total

    def spent_by(self, nodes: Iterable[str], at: float | None, unsent: Iterable[Unsent]) -> float:
        """Joules `nodes` had spent by `at`: what a cut at `at` and the ledgers' close
        would leave (fedsim.net.spent_by; `unsent`: what the live channels had booked
        and not sent by then). Without `at`, what the ledgers charged (`total_j`)."""
        if at is None:
            return self.total_j(nodes)
        return spent_by(self.ledgers, self.metered, nodes, at, unsent)

    @staticmethod
    def _quiet_pending_j(battery: Battery, at: float) -> float:
        """The joules `_quiet_until(battery, at)` would charge (without a promotion), at
        most what the battery has left."""
        radio = battery.radio
        if radio is None or battery.empty_at is not None:
            return 0.0
        base = battery.activity_end
        _, idle_j, _, sleep_j, _ = radio.gap_parts(battery.accounted_until - base, at - base)
        pending = idle_j + sleep_j
        if battery.capacity_j is not None and pending > battery.level_j:
            return max(battery.level_j, 0.0)
        return pending

    def evidence(self) -> dict[str, Energy]:
        """Every device's ledger, for the auditor."""
        out: dict[str, Energy] = {}
        for name, b in sorted(self.ledgers.items()):
            compute, radio = self.energy(name)
            initial = b.initial_j if b.capacity_j is not None else None
            out[name] = Energy(initial, compute, radio, b.empty_at, b.radio_ledger())
        return out

    def level(self, node: str) -> float | None:
        """Fraction of capacity left; None for a mains-powered node."""
        battery = self.batteries.get(node)
        return battery.fraction if battery is not None else None

    def report(self) -> dict[str, dict[str, Any]]:
        """Per battery-powered device: capacity, level, energy by use, time it died."""
        return {
            name: {
                "capacity_j": b.capacity_j,
                "initial_j": b.initial_j,
                "level_j": b.level_j,
                "fraction": b.fraction,
                "empty_at_s": b.empty_at,
                **{f"spent_{k}_j": v for k, v in b.spent_j.items()},
            }
            for name, b in sorted(self.batteries.items())
        }

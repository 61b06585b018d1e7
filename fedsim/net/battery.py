"""Energy ledgers: every device is charged as it talks and computes; a
battery-powered one drains, and when its battery is empty it leaves the network for
good (cause `battery:<node>`).

One `Battery` per device node. A profile with `battery_j` gives it a capacity; a
mains-powered device's ledger counts without one (it never runs dry). The ledger
is the one source of a device's energy: clients.csv's `energy_compute_j` and
`energy_radio_j` are what it charged, so a battery device can never be reported as
spending more than it held. `Batteries` is the run's ledger:

- `radio(node, direction, nbytes)` has the signature of `Wire.count`: direction 0
  is bytes the device sends (`radio_tx_j_per_byte`), 1 bytes it receives
  (`radio_rx_j_per_byte`). These are the payload bytes its connections hand to its
  access link (clients.csv `bytes_up`/`bytes_down`, links.csv `payload_bytes` of that
  link): per byte, not per airtime (docs/results.md, "Energy");
- `compute(node, flops)` has the signature of `FLClient.on_work`
  (`compute_j_per_flop`);
- `charge(node, joules)` takes any other energy.

Energy is kept as units charged in full (bytes, FLOPs) times the profile's price,
plus the joules of the one charge that emptied the battery, so a device that never
runs dry reports exactly bytes x J/byte and FLOPs x J/FLOP.

The battery that runs dry retires its node (`Network.retire`) at the simulated
time of the charge that emptied it. The retirement is a zero-delay SimPy event,
not a call from inside the charge, because charges arrive from inside the
transport's send path and breaking connections there would re-enter it.
The initial level is `nodes[i].initial_charge` (a fraction, or a range drawn per
device from the stream `("node", <name>, "battery")`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fedsim.devices import DeviceProfile
from fedsim.net.evidence import Energy
from fedsim.rng import Streams

if TYPE_CHECKING:
    from fedsim.net.network import Network

__all__ = ["Batteries", "Battery"]


_KINDS = ("radio_tx", "radio_rx", "compute", "other")


@dataclass
class Battery:
    """What one device has left, and what it spent on what."""

    node: str
    capacity_j: float | None
    """None: mains powered (the ledger counts, nothing runs dry)."""
    level_j: float
    """math.inf for a mains-powered device."""
    prices: dict[str, float] = field(default_factory=dict)
    """J per unit charged for each kind (per byte, per FLOP); "other" is in joules."""
    units: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0.0))
    """Units charged in full, per kind."""
    partial_j: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0.0))
    """Joules of the charge that emptied the battery (it paid for part of its units)."""
    empty_at: float | None = None

    def __post_init__(self) -> None:
        self.initial_j = self.level_j

    @property
    def spent_j(self) -> dict[str, float]:
        return {k: self.units[k] * self.prices.get(k, 1.0) + self.partial_j[k] for k in self.units}

    @property
    def fraction(self) -> float:
        if self.capacity_j is None:
            return 1.0
        return self.level_j / self.capacity_j if self.capacity_j > 0 else 0.0

    @property
    def empty(self) -> bool:
        return self.empty_at is not None


class Batteries:
    """The battery ledger of one run's devices."""

    def __init__(self, net: Network, streams: Streams | None = None) -> None:
        self.net = net
        self.ledgers: dict[str, Battery] = {}
        """Every device's ledger, mains powered or not."""
        sc = net.scenario
        streams = streams if streams is not None else net.streams
        for spec in sc.device_nodes:
            assert spec.device is not None
            profile: DeviceProfile = sc.devices[spec.device]
            prices = {
                "radio_tx": profile.radio_tx_j_per_byte,
                "radio_rx": profile.radio_rx_j_per_byte,
                "compute": profile.compute_j_per_flop,
            }
            if profile.battery_j is None:
                self.ledgers[spec.name] = Battery(spec.name, None, math.inf, prices)
                continue
            lo, hi = spec.connectivity.initial_charge
            frac = (
                lo if hi <= lo else float(streams.get("node", spec.name, "battery").uniform(lo, hi))
            )
            self.ledgers[spec.name] = Battery(
                spec.name, profile.battery_j, profile.battery_j * frac, prices
            )
        self.batteries: dict[str, Battery] = {
            n: b for n, b in self.ledgers.items() if b.capacity_j is not None
        }
        """The battery-powered devices' ledgers (they can run dry)."""
        for battery in self.batteries.values():
            if battery.level_j <= 0:
                self._drained(battery)

    # -- hooks ------------------------------------------------------------------------
    def radio(self, node: str, direction: int, nbytes: int) -> None:
        """Charge `nbytes` sent (direction 0) or received (direction 1) by `node`."""
        self._charge(node, "radio_tx" if direction == 0 else "radio_rx", float(nbytes))

    def compute(self, node: str, flops: float) -> None:
        """Charge `flops` of training on `node`."""
        self._charge(node, "compute", float(flops))

    def charge(self, node: str, joules: float, kind: str = "other") -> None:
        """Take `joules` from `node`'s battery (a mains-powered node's ledger counts them)."""
        battery = self.ledgers.get(node)
        if battery is None or battery.empty or joules <= 0:
            return
        self._take(battery, kind, joules, 0.0)

    def _charge(self, node: str, kind: str, units: float) -> None:
        battery = self.ledgers.get(node)
        if battery is None or battery.empty or units <= 0:
            return
        self._take(battery, kind, units * battery.prices[kind], units)

    def _take(self, battery: Battery, kind: str, joules: float, units: float) -> None:
        """Charge in full while the battery holds it; the charge that empties it pays
        for what was left (the rest of that transmission or training has no energy)."""
        if joules < battery.level_j or battery.capacity_j is None:
            battery.level_j -= joules
            if units:
                battery.units[kind] += units
            else:
                battery.partial_j[kind] += joules
            return
        battery.partial_j[kind] += battery.level_j
        self._drained(battery)

    # -- state --------------------------------------------------------------------------
    def _drained(self, battery: Battery) -> None:
        battery.level_j = 0.0
        battery.empty_at = self.net.env.now
        event = self.net.env.timeout(0)
        event.callbacks.append(lambda _ev: self.net.retire(battery.node, f"battery:{battery.node}"))

    def energy(self, node: str) -> tuple[float, float]:
        """(compute, radio) joules `node` spent: clients.csv's energy columns."""
        battery = self.ledgers.get(node)
        if battery is None:
            return 0.0, 0.0
        spent = battery.spent_j
        return spent["compute"] + spent["other"], spent["radio_tx"] + spent["radio_rx"]

    def evidence(self) -> dict[str, Energy]:
        """Every device's ledger, for the auditor."""
        out: dict[str, Energy] = {}
        for name, b in sorted(self.ledgers.items()):
            compute, radio = self.energy(name)
            initial = b.initial_j if b.capacity_j is not None else None
            out[name] = Energy(initial, compute, radio, b.empty_at)
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

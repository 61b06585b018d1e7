"""Battery ledgers: a battery-powered device drains as it talks and computes, and
when its battery is empty it leaves the network for good (cause `battery:<node>`).

One `Battery` per device node whose profile has `battery_j` (mains-powered
devices have none and never die). `Batteries` is the run's ledger:

- `radio(node, direction, nbytes)` has the signature of `Wire.count`: direction 0
  is bytes the device sends (`radio_tx_j_per_byte`), 1 bytes it receives
  (`radio_rx_j_per_byte`);
- `compute(node, flops)` has the signature of `FLClient.on_work`
  (`compute_j_per_flop`);
- `charge(node, joules)` takes any other energy.

The battery that runs dry retires its node (`Network.retire`) at the simulated
time of the charge that emptied it. The retirement is a zero-delay SimPy event,
not a call from inside the charge, because charges arrive from inside the
transport's send path and breaking connections there would re-enter it.
The initial level is `nodes[i].initial_charge` (a fraction, or a range drawn per
device from the stream `("node", <name>, "battery")`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fedsim.devices import DeviceProfile
from fedsim.rng import Streams

if TYPE_CHECKING:
    from fedsim.net.network import Network

__all__ = ["Batteries", "Battery"]


@dataclass
class Battery:
    """What one device has left, and what it spent on what."""

    node: str
    capacity_j: float
    level_j: float
    spent_j: dict[str, float] = field(
        default_factory=lambda: {"radio_tx": 0.0, "radio_rx": 0.0, "compute": 0.0, "other": 0.0}
    )
    empty_at: float | None = None

    @property
    def fraction(self) -> float:
        return self.level_j / self.capacity_j if self.capacity_j > 0 else 0.0

    @property
    def empty(self) -> bool:
        return self.empty_at is not None


class Batteries:
    """The battery ledger of one run's devices."""

    def __init__(self, net: Network, streams: Streams | None = None) -> None:
        self.net = net
        self.batteries: dict[str, Battery] = {}
        sc = net.scenario
        streams = streams if streams is not None else net.streams
        for spec in sc.device_nodes:
            assert spec.device is not None
            profile: DeviceProfile = sc.devices[spec.device]
            if profile.battery_j is None:
                continue
            lo, hi = spec.connectivity.initial_charge
            frac = (
                lo if hi <= lo else float(streams.get("node", spec.name, "battery").uniform(lo, hi))
            )
            self.batteries[spec.name] = Battery(
                spec.name, profile.battery_j, profile.battery_j * frac
            )
        self._profiles = {n.name: sc.devices[n.device] for n in sc.device_nodes if n.device}
        for battery in self.batteries.values():
            if battery.level_j <= 0:
                self._drained(battery)

    # -- hooks ------------------------------------------------------------------------
    def radio(self, node: str, direction: int, nbytes: int) -> None:
        """Charge `nbytes` sent (direction 0) or received (direction 1) by `node`."""
        profile = self._profiles.get(node)
        if profile is None or node not in self.batteries:
            return
        if direction == 0:
            self.charge(node, nbytes * profile.radio_tx_j_per_byte, "radio_tx")
        else:
            self.charge(node, nbytes * profile.radio_rx_j_per_byte, "radio_rx")

    def compute(self, node: str, flops: float) -> None:
        """Charge `flops` of training on `node`."""
        profile = self._profiles.get(node)
        if profile is not None and node in self.batteries:
            self.charge(node, flops * profile.compute_j_per_flop, "compute")

    def charge(self, node: str, joules: float, kind: str = "other") -> None:
        """Take `joules` from `node`'s battery (nothing for mains-powered nodes)."""
        battery = self.batteries.get(node)
        if battery is None or battery.empty or joules <= 0:
            return
        take = min(joules, battery.level_j)
        battery.level_j -= take
        battery.spent_j[kind] = battery.spent_j.get(kind, 0.0) + take
        if battery.level_j <= 0:
            self._drained(battery)

    # -- state --------------------------------------------------------------------------
    def _drained(self, battery: Battery) -> None:
        battery.level_j = 0.0
        battery.empty_at = self.net.env.now
        event = self.net.env.timeout(0)
        event.callbacks.append(lambda _ev: self.net.retire(battery.node, f"battery:{battery.node}"))

    def level(self, node: str) -> float | None:
        """Fraction of capacity left; None for a mains-powered node."""
        battery = self.batteries.get(node)
        return battery.fraction if battery is not None else None

    def report(self) -> dict[str, dict[str, Any]]:
        """Per battery-powered device: capacity, level, energy by use, time it died."""
        return {
            name: {
                "capacity_j": b.capacity_j,
                "level_j": b.level_j,
                "fraction": b.fraction,
                "empty_at_s": b.empty_at,
                **{f"spent_{k}_j": v for k, v in b.spent_j.items()},
            }
            for name, b in sorted(self.batteries.items())
        }

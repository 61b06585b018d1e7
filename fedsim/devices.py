"""Device profiles: what a device class costs in time and energy.

Compute time is charged as work / speed (principle 5: measured, not assumed), so
results never depend on the host that runs the emulation. Figures are sustained
rates for small dense float32 models, not marketing peaks; sources in comments.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BUILTIN_DEVICES", "DEVICE_KEYS", "DeviceProfile"]


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    flops: float
    """Sustained floating-point operations per second for training kernels."""
    memory_bytes: float
    """RAM available to the learner (model, gradients, one batch)."""
    compute_j_per_flop: float
    radio_tx_j_per_byte: float
    radio_rx_j_per_byte: float
    battery_j: float | None = None
    """None: mains powered."""

    def compute_time(self, flops: float) -> float:
        return flops / self.flops

    def compute_energy(self, flops: float) -> float:
        return flops * self.compute_j_per_flop

    def radio_energy(self, tx_bytes: float, rx_bytes: float) -> float:
        return tx_bytes * self.radio_tx_j_per_byte + rx_bytes * self.radio_rx_j_per_byte


BUILTIN_DEVICES: dict[str, DeviceProfile] = {
    # ESP32 (Xtensa LX6, 240 MHz, single-precision FPU): ~20-50 MFLOPS sustained in
    # TinyML SGD loops; ~240 mW active (Espressif ESP32 datasheet v4, Table 5-4:
    # ~80 mA @ 3.3 V for CPU only; Wi-Fi TX 240 mA, RX ~100 mA at ~5-10 Mbit/s goodput).
    "esp32": DeviceProfile("esp32", 30e6, 320e3, 8e-9, 1.0e-6, 0.4e-6, 10_000.0),
    # STM32F4 Cortex-M4F @ 168 MHz: ~1 FLOP/cycle best case, ~60 MFLOPS sustained;
    # ~100 mW (ST DS8626); radio figures of an SX1276 LoRa front end at 14 dBm
    # (~120 mW TX) over ~5 kbit/s: ~200 µJ/byte TX, ~60 µJ/byte RX.
    "cortex-m4": DeviceProfile("cortex-m4", 60e6, 192e3, 1.7e-9, 200e-6, 60e-6, 20_000.0),
    # Raspberry Pi 4 (4x Cortex-A72 1.5 GHz): ~3 GFLOPS single-thread NEON SGD; ~3-4 W
    # under load (Raspberry Pi Foundation power figures); Wi-Fi ~ 50 nJ/byte.
    "rpi4": DeviceProfile("rpi4", 3e9, 2e9, 1.2e-9, 50e-9, 30e-9),
    # Jetson Nano: CPU path for small models ~ 5 GFLOPS at ~5 W mode (NVIDIA DA_09298).
    "jetson-nano": DeviceProfile("jetson-nano", 5e9, 2e9, 1.0e-9, 50e-9, 30e-9),
    # Mid-range phone (Cortex-A78 big core): ~10 GFLOPS sustained, ~2 W; LTE ~ 100 nJ/byte
    # (Huang et al., MobiSys 2012: LTE ~ 1-2 µJ/bit at low rates, far less in bulk).
    "phone": DeviceProfile("phone", 10e9, 4e9, 0.2e-9, 100e-9, 50e-9, 55_000.0),
}


DEVICE_KEYS: dict[str, tuple[str, str]] = {
    "compute": ("flops", "sustained training speed, e.g. 50MFLOPS"),
    "memory": ("memory_bytes", "RAM for model, gradients and a batch, e.g. 320KB"),
    "compute_energy_per_flop": ("compute_j_per_flop", "e.g. 8nJ"),
    "radio_tx_energy_per_byte": ("radio_tx_j_per_byte", "e.g. 1uJ"),
    "radio_rx_energy_per_byte": ("radio_rx_j_per_byte", "e.g. 0.4uJ"),
    "battery": ("battery_j", "capacity, e.g. 2Wh (absent: mains powered)"),
}
"""A user profile's keys: (DeviceProfile attribute, doc); `like` names a base. Their
value types are declared once, in fedsim.config.devices."""

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
    battery_j: float | None = None
    """None: mains powered."""

    def compute_time(self, flops: float) -> float:
        return flops / self.flops

    def compute_energy(self, flops: float) -> float:
        return flops * self.compute_j_per_flop


BUILTIN_DEVICES: dict[str, DeviceProfile] = {
    # ESP32 (Xtensa LX6, 240 MHz, single-precision FPU): ~20-50 MFLOPS sustained in
    # TinyML SGD loops; ~240 mW active (Espressif ESP32 datasheet v4, Table 5-4:
    # ~80 mA @ 3.3 V for CPU only). Radio energy is the link's (fedsim/net/radio_table.py).
    "esp32": DeviceProfile("esp32", 30e6, 320e3, 8e-9, 10_000.0),
    # STM32F4 Cortex-M4F @ 168 MHz: ~1 FLOP/cycle best case, ~60 MFLOPS sustained;
    # ~100 mW (ST DS8626).
    "cortex-m4": DeviceProfile("cortex-m4", 60e6, 192e3, 1.7e-9, 20_000.0),
    # Raspberry Pi 4 (4x Cortex-A72 1.5 GHz): ~3 GFLOPS single-thread NEON SGD; ~3-4 W
    # under load (Raspberry Pi Foundation power figures).
    "rpi4": DeviceProfile("rpi4", 3e9, 2e9, 1.2e-9),
    # Jetson Nano: CPU path for small models ~ 5 GFLOPS at ~5 W mode (NVIDIA DA_09298).
    "jetson-nano": DeviceProfile("jetson-nano", 5e9, 2e9, 1.0e-9),
    # Mid-range phone (Cortex-A78 big core): ~10 GFLOPS sustained, ~2 W.
    "phone": DeviceProfile("phone", 10e9, 4e9, 0.2e-9, 55_000.0),
}


DEVICE_KEYS: dict[str, tuple[str, str]] = {
    "compute": ("flops", "sustained training speed, e.g. 50MFLOPS"),
    "memory": ("memory_bytes", "RAM for model, gradients and a batch, e.g. 320KB"),
    "compute_energy_per_flop": ("compute_j_per_flop", "e.g. 8nJ"),
    "battery": ("battery_j", "capacity, e.g. 2Wh (absent: mains powered)"),
}
"""A user profile's keys: (DeviceProfile attribute, doc); `like` names a base. Their
value types are declared once, in fedsim.config.devices."""

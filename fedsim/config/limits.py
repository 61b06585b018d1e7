"""Hard limits checked before anything is allocated: a file whose devices could not
fit in this machine's memory is rejected with an estimate, in milliseconds, instead
of dying with MemoryError minutes later."""

from __future__ import annotations

import os

__all__ = ["PER_DEVICE_BYTES", "format_bytes", "host_memory_bytes", "simulation_bytes"]

PER_DEVICE_BYTES = 200_000
"""Host memory one emulated device costs beyond its task data: its FL client, HTTP
connector and connections, node and link objects, recorder rows. Measured: 400 more
devices in topologies/default.yaml (2 rounds) add 21 MB of peak RSS, ~53 KB each;
recorder rows grow with the run's length, so the estimate allows about 4x that."""


def host_memory_bytes() -> int:
    """Physical memory of this machine (a generous fallback when it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 64 * 1024**3


def simulation_bytes(devices: int, data_per_device: float) -> float:
    return devices * (PER_DEVICE_BYTES + data_per_device)


def format_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"

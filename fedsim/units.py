"""Quantities with units, as users write them in topology files and on the command line.

SI prefixes (k = 1000) for rates and sizes; `KiB`/`MiB` are binary. A bare number is
taken in the base unit (bit/s, bytes, seconds, fraction).
"""

from __future__ import annotations

import re

from fedsim.errors import UnitError

__all__ = [
    "parse_bandwidth",
    "parse_duration",
    "parse_energy",
    "parse_fraction",
    "parse_rate",
    "parse_size",
]

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_RE = re.compile(rf"^\s*{_NUM}\s*([A-Za-z%/µ]*)\s*$")

_BANDWIDTH = {
    "bps": 1.0, "b/s": 1.0, "kbps": 1e3, "kbit/s": 1e3, "mbps": 1e6, "mbit/s": 1e6,
    "gbps": 1e9, "gbit/s": 1e9,
}  # fmt: skip
_DURATION = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0,
    "m": 60.0, "h": 3600.0, "d": 86400.0,
}  # fmt: skip
_SIZE = {
    "b": 1.0, "byte": 1.0, "bytes": 1.0, "kb": 1e3, "mb": 1e6, "gb": 1e9,
    "kib": 1024.0, "mib": 1024.0**2, "gib": 1024.0**3,
}  # fmt: skip
_ENERGY = {
    "J": 1.0,
    "j": 1.0,
    "mJ": 1e-3,
    "uJ": 1e-6,
    "µJ": 1e-6,
    "nJ": 1e-9,
    "kJ": 1e3,
    "MJ": 1e6,
    "Wh": 3600.0,
    "mWh": 3.6,
    "kWh": 3.6e6,
}  # fmt: skip  (case decides the prefix: mJ is not MJ)
_RATE = {"ops": 1.0, "flops": 1.0, "kflops": 1e3, "mflops": 1e6, "gflops": 1e9, "tflops": 1e12}


def _split(value: object, what: str) -> tuple[float, str]:
    if isinstance(value, bool):
        raise UnitError(f"expected a {what}, got {value!r}")
    if isinstance(value, int | float):
        return float(value), ""
    if not isinstance(value, str):
        raise UnitError(f"expected a {what}, got {value!r}")
    m = _RE.match(value)
    if not m:
        raise UnitError(f"cannot read {value!r} as a {what}")
    return float(m.group(1)), m.group(2)


def _convert(value: object, what: str, table: dict[str, float], example: str) -> float:
    number, unit = _split(value, what)
    if unit == "":
        return number
    factor = table.get(unit, table.get(unit.lower()))
    if factor is None:
        raise UnitError(f"unknown unit {unit!r} in {value!r} for a {what} (e.g. {example})")
    return number * factor


def _nonneg(x: float, value: object, what: str) -> float:
    if x < 0 or x != x:
        raise UnitError(f"a {what} cannot be negative: {value!r}")
    return x


def parse_bandwidth(value: object) -> float:
    """'250kbps' -> 250000.0 bit/s. Must be positive."""
    x = _convert(value, "bandwidth", _BANDWIDTH, "'20Mbps', '250kbps'")
    if not x > 0:
        raise UnitError(f"a bandwidth must be positive: {value!r}")
    return x


def parse_duration(value: object) -> float:
    """'40ms' -> 0.04 s; '2h' -> 7200.0 s."""
    return _nonneg(_convert(value, "duration", _DURATION, "'40ms', '2h'"), value, "duration")


def parse_size(value: object) -> float:
    """'100KB' -> 100000.0 bytes (SI); '1MiB' -> 1048576.0."""
    return _nonneg(_convert(value, "size", _SIZE, "'100KB', '1MiB'"), value, "size")


def parse_energy(value: object) -> float:
    """'10kJ' -> 10000.0 J; '5Wh' -> 18000.0 J."""
    return _nonneg(_convert(value, "energy", _ENERGY, "'20J', '5Wh'"), value, "energy")


def parse_rate(value: object) -> float:
    """Compute speed: '50MFLOPS' -> 5e7 operations/s. Must be positive."""
    x = _convert(value, "compute rate", _RATE, "'50MFLOPS', '2GFLOPS'")
    if not x > 0:
        raise UnitError(f"a compute rate must be positive: {value!r}")
    return x


def parse_fraction(value: object) -> float:
    """'1%' -> 0.01; 0.2 -> 0.2. Must lie in [0, 1]."""
    number, unit = _split(value, "fraction")
    if unit == "%":
        number /= 100.0
    elif unit:
        raise UnitError(f"unknown unit {unit!r} in {value!r} for a fraction (e.g. '1%', 0.01)")
    if not 0.0 <= number <= 1.0:
        raise UnitError(f"a fraction must lie in [0, 1] (0% to 100%): {value!r}")
    return number


# JSON-Schema fragments for `fedsim schema` (editors complete and check topology files).
_SCHEMA_NUM = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"


def _quantity_schema(units: str, maximum: float | None = None) -> dict[str, object]:
    number: dict[str, object] = {"type": "number", "minimum": 0}
    if maximum is not None:
        number["maximum"] = maximum
    text = {"type": "string", "pattern": rf"^\s*{_SCHEMA_NUM}\s*({units})?\s*$"}
    return {"anyOf": [number, text]}


for _parse, _units in (
    (parse_bandwidth, "(?:[kKmMgG]?[bB][pP][sS]|[kKmMgG]?bit/s|b/s)"),
    (parse_duration, "(?:ns|us|µs|ms|s|sec|min|m|h|d)"),
    (parse_size, "(?:[bB]|byte|bytes|[kKmMgG][bB]|[kKmMgG]i[bB])"),
    (parse_energy, "(?:[jJ]|mJ|uJ|µJ|nJ|kJ|MJ|Wh|mWh|kWh)"),
    (parse_rate, "(?:ops|[kKmMgGtT]?FLOPS|[kKmMgGtT]?flops)"),
):
    _parse.schema = _quantity_schema(_units)  # type: ignore[attr-defined]
parse_fraction.schema = _quantity_schema("%", maximum=1.0)  # type: ignore[attr-defined]

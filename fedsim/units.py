"""Quantities with units, as users write them in topology files and on the command line.

Why a strict grammar: a unit read the wrong way is a result that is silently 8x or 1000x
off. So units are case-sensitive: `B` is a byte and `b` a bit, `M` is mega and `m` milli;
any other spelling is an error whose one line says what was read and what to write.
Prefixes are SI (k = K = 1000); `KiB`/`MiB`/`GiB` are binary and only for sizes. A bare
number is in the base unit (bit/s, bytes, seconds, joules, operations/s, fraction).
"""

from __future__ import annotations

import math
import re

from fedsim.article import with_article
from fedsim.errors import UnitError

__all__ = [
    "ACCEPTED_UNITS",
    "parse_bandwidth",
    "parse_duration",
    "parse_energy",
    "parse_fraction",
    "parse_power",
    "parse_rate",
    "parse_size",
]

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_RE = re.compile(rf"^\s*{_NUM}\s*([A-Za-z%/µμ]*)\s*$")

_SI = {"": ("", 1.0), "k": ("kilo", 1e3), "M": ("mega", 1e6), "G": ("giga", 1e9)}
_K = {"K": ("kilo", 1e3)}  # accepted (no other meaning), never suggested


_Table = dict[str, tuple[str, float]]
"""A unit spelling -> (what it means in words, factor to the base unit)."""


def _table(spellings: _Table, units: dict[str, str], scale: float = 1.0) -> _Table:
    """{prefix + unit: (meaning, factor)} for every prefix in `spellings`."""
    return {
        p + u: (f"{name}{meaning}", factor * scale)
        for p, (name, factor) in spellings.items()
        for u, meaning in units.items()
    }


_BITS_PER_S = {"bps": "bits/s", "b/s": "bits/s", "bit/s": "bits/s"}
_BYTES_PER_S = {"Bps": "bytes/s", "B/s": "bytes/s"}
# Per quantity: canonical spellings (suggested in errors) and accepted aliases.
_BANDWIDTH = _table(_SI, _BITS_PER_S) | _table(_SI, _BYTES_PER_S, 8.0)
_BANDWIDTH_ALIASES = _table(_K, _BITS_PER_S) | _table(_K, _BYTES_PER_S, 8.0)
_SIZE = _table(_SI, {"B": "bytes"}) | {
    "byte": ("bytes", 1.0),
    "bytes": ("bytes", 1.0),
    "KiB": ("kibibytes", 1024.0),
    "MiB": ("mebibytes", 1024.0**2),
    "GiB": ("gibibytes", 1024.0**3),
}
_SIZE_ALIASES = _table(_K, {"B": "bytes"})
_SIZE_IN_BITS = _table(_SI | _K, {"b": "bits", "bit": "bits", "bits": "bits"}, 1 / 8)
_DURATION = {
    "ns": ("nanoseconds", 1e-9), "us": ("microseconds", 1e-6), "µs": ("microseconds", 1e-6),
    "ms": ("milliseconds", 1e-3), "s": ("seconds", 1.0), "min": ("minutes", 60.0),
    "h": ("hours", 3600.0), "d": ("days", 86400.0),
}  # fmt: skip
_DURATION_ALIASES = {"μs": ("microseconds", 1e-6), "sec": ("seconds", 1.0)}  # μ: Greek mu
_ENERGY = {
    "J": ("joules", 1.0), "mJ": ("millijoules", 1e-3), "uJ": ("microjoules", 1e-6),
    "µJ": ("microjoules", 1e-6), "nJ": ("nanojoules", 1e-9), "kJ": ("kilojoules", 1e3),
    "MJ": ("megajoules", 1e6), "Wh": ("watt-hours", 3600.0), "mWh": ("milliwatt-hours", 3.6),
    "kWh": ("kilowatt-hours", 3.6e6), "MWh": ("megawatt-hours", 3.6e9),
}  # fmt: skip
_ENERGY_ALIASES = {"μJ": ("microjoules", 1e-6)}
_POWER = {
    "W": ("watts", 1.0), "mW": ("milliwatts", 1e-3), "uW": ("microwatts", 1e-6),
    "µW": ("microwatts", 1e-6), "nW": ("nanowatts", 1e-9), "kW": ("kilowatts", 1e3),
}  # fmt: skip
_POWER_ALIASES = {"μW": ("microwatts", 1e-6)}
_OPS = {"FLOPS": "FLOP/s", "flops": "FLOP/s", "ops": "operations/s"}
_RATE = _table(_SI | {"T": ("tera", 1e12)}, _OPS)
_RATE_ALIASES = _table(_K, _OPS)

ACCEPTED_UNITS: dict[str, tuple[str, ...]] = {
    "bandwidth": (*_BANDWIDTH, *_BANDWIDTH_ALIASES),
    "size": (*_SIZE, *_SIZE_ALIASES),
    "duration": (*_DURATION, *_DURATION_ALIASES),
    "energy": (*_ENERGY, *_ENERGY_ALIASES),
    "power": (*_POWER, *_POWER_ALIASES),
    "compute rate": (*_RATE, *_RATE_ALIASES),
    "fraction": ("%",),
}
"""Every unit spelling each parser accepts (exact case); the JSON Schema is built from it."""


def _split(value: object, what: str) -> tuple[float, str]:
    if isinstance(value, bool):
        raise UnitError(f"expected {with_article(what)}, got {value!r}")
    if isinstance(value, int | float):
        try:
            return float(value), ""
        except OverflowError:  # an int past 1.8e308
            size = f"about 1e{int(math.log10(abs(value)))}"
            raise UnitError(f"{with_article(what)} must be a finite number, not {size}") from None
    if not isinstance(value, str):
        raise UnitError(f"expected {with_article(what)}, got {value!r}")
    m = _RE.match(value)
    if not m:
        raise UnitError(f"cannot read {value!r} as {with_article(what)}")
    return float(m.group(1)), m.group(2)


def _number_text(x: float) -> str:
    return f"{x:g}"


def _suggest(number: float, pairs: list[tuple[str, str]]) -> str:
    """The candidates, one spelling per meaning: '10Mbps' (megabits/s) or '10MBps' (...)."""
    n = _number_text(number)
    firsts = {meaning: unit for unit, meaning in reversed(pairs)}
    return " or ".join(f"'{n}{firsts[m]}' ({m})" for m in dict.fromkeys(m for _u, m in pairs))


_CASE_NOTE = {"bandwidth": " (B is a byte, b a bit)", "size": " (B is a byte, b a bit)"}


def _unknown(
    value: object, number: float, unit: str, what: str, table: _Table, example: str
) -> UnitError:
    """The one-line error for a unit `table` does not have, with the likely intended one."""
    head = f"unknown unit {unit!r} in {value!r} for {with_article(what)}"
    same_letters = [(u, m) for u, (m, _f) in table.items() if u.lower() == unit.lower()]
    if same_letters:
        return UnitError(
            f"{head}: units are case-sensitive{_CASE_NOTE.get(what, '')}; "
            f"did you mean {_suggest(number, same_letters)}?"
        )
    return UnitError(f"{head} (e.g. {example})")


def _convert(
    value: object,
    what: str,
    table: _Table,
    aliases: _Table,
    example: str,
) -> float:
    number, unit = _split(value, what)
    if unit == "":
        return number
    entry = table.get(unit) or aliases.get(unit)
    if entry is None:
        raise _hint(value, number, unit, what) or _unknown(
            value, number, unit, what, table, example
        )
    return number * entry[1]


def _hint(value: object, number: float, unit: str, what: str) -> UnitError | None:
    """Mistakes worth naming: a bit size, a size where a rate is wanted, `m` for minutes."""
    if what == "size" and unit in _SIZE_IN_BITS:
        prefix = unit[0] if unit[0] in "kKMG" else ""
        in_bytes = _number_text(number * _SIZE_IN_BITS[unit][1])
        byte_unit = (_SIZE | _SIZE_ALIASES)[prefix + "B"][0]
        return UnitError(
            f"{value!r} is {_SIZE_IN_BITS[unit][0]} (b is a bit), but a size is in bytes (B): "
            f"write '{_number_text(number)}{prefix}B' for {byte_unit}, "
            f"or '{in_bytes}B' (= {value})"
        )
    if what == "bandwidth" and (unit in _SIZE_IN_BITS or unit in _SIZE or unit in _SIZE_ALIASES):
        rates = _BANDWIDTH | _BANDWIDTH_ALIASES
        tries = (
            (unit + "ps", unit[:-1] + "bps") if unit.endswith("B") else (unit + "ps", unit + "/s")
        )
        found = [(u, rates[u][0]) for u in tries if u in rates]
        if found:
            return UnitError(
                f"{value!r} is an amount, not a rate, for a bandwidth: "
                f"did you mean {_suggest(number, found)}?"
            )
    if what == "bandwidth" and "i" in unit and unit.startswith(("Ki", "Mi", "Gi")):
        return UnitError(
            f"unknown unit {unit!r} in {value!r} for a bandwidth: binary prefixes are for "
            "sizes only; write an SI rate such as '10MBps' (megabytes/s) or '10Mbps'"
        )
    if what == "duration" and unit in ("m", "M"):
        return UnitError(
            f"unknown unit {unit!r} in {value!r} for a duration: did you mean "
            f"{_suggest(number, [('min', 'minutes'), ('ms', 'milliseconds')])}?"
        )
    return None


def _finite(x: float, value: object, what: str) -> float:
    if not math.isfinite(x):
        raise UnitError(f"{with_article(what)} must be a finite number: {value!r}")
    return x


def _nonneg(x: float, value: object, what: str) -> float:
    if x != x:
        raise UnitError(f"{with_article(what)} must be a number: {value!r}")
    if x < 0:
        raise UnitError(f"{with_article(what)} cannot be negative: {value!r}")
    return x


def parse_bandwidth(value: object) -> float:
    """'250kbps' -> 250000.0 bit/s; '1MBps' -> 8e6 bit/s. Must be positive and finite."""
    x = _convert(value, "bandwidth", _BANDWIDTH, _BANDWIDTH_ALIASES, "'20Mbps', '1MBps'")
    if not x > 0:
        raise UnitError(f"a bandwidth must be positive: {value!r}")
    return _finite(x, value, "bandwidth")


def parse_duration(value: object) -> float:
    """'40ms' -> 0.04 s; '2h' -> 7200.0 s (an infinite duration stays infinite)."""
    x = _convert(value, "duration", _DURATION, _DURATION_ALIASES, "'40ms', '10min', '2h'")
    return _nonneg(x, value, "duration")


def parse_size(value: object) -> float:
    """'100kB' -> 100000.0 bytes (SI); '1MiB' -> 1048576.0. Bits are an error."""
    x = _convert(value, "size", _SIZE, _SIZE_ALIASES, "'100kB', '1MiB'")
    return _finite(_nonneg(x, value, "size"), value, "size")


def parse_energy(value: object) -> float:
    """'10kJ' -> 10000.0 J; '5Wh' -> 18000.0 J."""
    x = _convert(value, "energy", _ENERGY, _ENERGY_ALIASES, "'20J', '5Wh'")
    return _finite(_nonneg(x, value, "energy"), value, "energy")


def parse_power(value: object) -> float:
    """A radio's draw: '120mW' -> 0.12 W; '3uW' -> 3e-6 W."""
    x = _convert(value, "power", _POWER, _POWER_ALIASES, "'120mW', '3uW'")
    return _finite(_nonneg(x, value, "power"), value, "power")


def parse_rate(value: object) -> float:
    """Compute speed: '50MFLOPS' -> 5e7 operations/s. Must be positive and finite."""
    x = _convert(value, "compute rate", _RATE, _RATE_ALIASES, "'50MFLOPS', '2GFLOPS'")
    if not x > 0:
        raise UnitError(f"a compute rate must be positive: {value!r}")
    return _finite(x, value, "compute rate")


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


def _quantity_schema(units: tuple[str, ...], maximum: float | None = None) -> dict[str, object]:
    number: dict[str, object] = {"type": "number", "minimum": 0}
    if maximum is not None:
        number["maximum"] = maximum
    alternatives = "|".join(re.escape(u) for u in sorted(units, key=lambda u: (-len(u), u)))
    text = {"type": "string", "pattern": rf"^\s*{_SCHEMA_NUM}\s*({alternatives})?\s*$"}
    return {"anyOf": [number, text]}


for _parse, _what in (
    (parse_bandwidth, "bandwidth"),
    (parse_duration, "duration"),
    (parse_size, "size"),
    (parse_energy, "energy"),
    (parse_power, "power"),
    (parse_rate, "compute rate"),
):
    _parse.schema = _quantity_schema(ACCEPTED_UNITS[_what])  # type: ignore[attr-defined]
parse_fraction.schema = _quantity_schema(("%",), maximum=1.0)  # type: ignore[attr-defined]

"""Units: every accepted spelling, exact case; B is a byte, b a bit; the rest is a clear error.

Why a table: a unit read the wrong way (10MBps as bits, 1MS as milliseconds) is a silently
wrong result, so each spelling the parsers accept is pinned here, and a spelling added to
`ACCEPTED_UNITS` without a row here fails `test_the_table_covers_every_accepted_unit`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.errors import UnitError
from fedsim.units import (
    ACCEPTED_UNITS,
    parse_bandwidth,
    parse_duration,
    parse_energy,
    parse_fraction,
    parse_power,
    parse_rate,
    parse_size,
)

PARSERS: dict[str, Callable[[object], float]] = {
    "bandwidth": parse_bandwidth,
    "size": parse_size,
    "duration": parse_duration,
    "energy": parse_energy,
    "power": parse_power,
    "compute rate": parse_rate,
    "fraction": parse_fraction,
}

# (quantity, unit spelling, value of "2<unit>" in the base unit)
ACCEPTED: list[tuple[str, str, float]] = [
    # bandwidth, bit/s: bit rates
    ("bandwidth", "bps", 2.0),
    ("bandwidth", "b/s", 2.0),
    ("bandwidth", "bit/s", 2.0),
    ("bandwidth", "kbps", 2e3),
    ("bandwidth", "kb/s", 2e3),
    ("bandwidth", "kbit/s", 2e3),
    ("bandwidth", "Kbps", 2e3),
    ("bandwidth", "Kb/s", 2e3),
    ("bandwidth", "Kbit/s", 2e3),
    ("bandwidth", "Mbps", 2e6),
    ("bandwidth", "Mb/s", 2e6),
    ("bandwidth", "Mbit/s", 2e6),
    ("bandwidth", "Gbps", 2e9),
    ("bandwidth", "Gb/s", 2e9),
    ("bandwidth", "Gbit/s", 2e9),
    # bandwidth, bit/s: byte rates are 8 bits a byte
    ("bandwidth", "Bps", 16.0),
    ("bandwidth", "B/s", 16.0),
    ("bandwidth", "kBps", 16e3),
    ("bandwidth", "kB/s", 16e3),
    ("bandwidth", "KBps", 16e3),
    ("bandwidth", "KB/s", 16e3),
    ("bandwidth", "MBps", 16e6),
    ("bandwidth", "MB/s", 16e6),
    ("bandwidth", "GBps", 16e9),
    ("bandwidth", "GB/s", 16e9),
    # size, bytes (SI; K is k; Ki/Mi/Gi binary)
    ("size", "B", 2.0),
    ("size", "byte", 2.0),
    ("size", "bytes", 2.0),
    ("size", "kB", 2e3),
    ("size", "KB", 2e3),
    ("size", "MB", 2e6),
    ("size", "GB", 2e9),
    ("size", "KiB", 2048.0),
    ("size", "MiB", 2.0 * 1024**2),
    ("size", "GiB", 2.0 * 1024**3),
    # duration, seconds
    ("duration", "ns", 2e-9),
    ("duration", "us", 2e-6),
    ("duration", "µs", 2e-6),  # micro sign U+00B5
    ("duration", "μs", 2e-6),  # Greek mu U+03BC
    ("duration", "ms", 2e-3),
    ("duration", "s", 2.0),
    ("duration", "sec", 2.0),
    ("duration", "min", 120.0),
    ("duration", "h", 7200.0),
    ("duration", "d", 172800.0),
    # energy, joules
    ("energy", "J", 2.0),
    ("energy", "mJ", 2e-3),
    ("energy", "uJ", 2e-6),
    ("energy", "µJ", 2e-6),
    ("energy", "μJ", 2e-6),
    ("energy", "nJ", 2e-9),
    ("energy", "kJ", 2e3),
    ("energy", "MJ", 2e6),
    ("energy", "Wh", 7200.0),
    ("energy", "mWh", 7.2),
    ("energy", "kWh", 7.2e6),
    ("energy", "MWh", 7.2e9),
    # power, watts (a radio's draw)
    ("power", "W", 2.0),
    ("power", "mW", 2e-3),
    ("power", "uW", 2e-6),
    ("power", "µW", 2e-6),
    ("power", "μW", 2e-6),
    ("power", "nW", 2e-9),
    ("power", "kW", 2e3),
    # compute rate, operations/s
    *(
        ("compute rate", prefix + unit, 2 * factor)
        for prefix, factor in (("", 1), ("k", 1e3), ("K", 1e3), ("M", 1e6), ("G", 1e9))
        for unit in ("FLOPS", "flops", "ops")
    ),
    ("compute rate", "TFLOPS", 2e12),
    ("compute rate", "Tflops", 2e12),
    ("compute rate", "Tops", 2e12),
    # fraction
    ("fraction", "%", 0.02),
]


@pytest.mark.parametrize(("what", "unit", "value"), ACCEPTED)
def test_every_accepted_spelling(what: str, unit: str, value: float) -> None:
    parse = PARSERS[what]
    for text in (f"2{unit}", f"2 {unit}", f" 2.0{unit} ", f"0.2e1{unit}"):
        assert parse(text) == pytest.approx(value, rel=1e-12), text


def test_the_table_covers_every_accepted_unit() -> None:
    tested: dict[str, set[str]] = {}
    for what, unit, _value in ACCEPTED:
        tested.setdefault(what, set()).add(unit)
    assert {w: set(units) for w, units in ACCEPTED_UNITS.items()} == tested


def test_the_issue_examples() -> None:
    """Finding 4: byte rates were read as bit rates, `1Mb` as megabytes, `1MS` as 1 ms."""
    assert parse_bandwidth("10MBps") == 80e6
    assert parse_bandwidth("100kBps") == 800e3
    assert parse_bandwidth("1 Bps") == 8.0
    assert parse_bandwidth("10MB/s") == 80e6
    assert parse_bandwidth("10Mbps") == 10e6
    for size_in_bits in ("1Mb", "100kb", "8b"):
        with pytest.raises(UnitError, match="b is a bit"):
            parse_size(size_in_bits)
    for not_milliseconds in ("1MS", "1M", "1Ms", "1mS"):
        with pytest.raises(UnitError):
            parse_duration(not_milliseconds)


@pytest.mark.parametrize(
    ("bare", "what", "value"),
    [
        (9600, "bandwidth", 9600.0),
        ("9600", "bandwidth", 9600.0),
        (1500, "size", 1500.0),
        (2.5, "duration", 2.5),
        ("30", "duration", 30.0),
        (3, "energy", 3.0),
        (5e7, "compute rate", 5e7),
        (0.2, "fraction", 0.2),
    ],
)
def test_a_bare_number_is_in_the_base_unit(bare: object, what: str, value: float) -> None:
    assert PARSERS[what](bare) == value


# (quantity, text, a fragment the one-line message must contain)
REJECTED: list[tuple[str, str, str]] = [
    # wrong case: the message names what it would have been and suggests both readings
    ("bandwidth", "10mbps", "did you mean '10Mbps' (megabits/s) or '10MBps' (megabytes/s)?"),
    ("bandwidth", "10MBPS", "did you mean '10Mbps' (megabits/s) or '10MBps' (megabytes/s)?"),
    ("bandwidth", "10mb/s", "'10Mb/s' (megabits/s) or '10MB/s' (megabytes/s)"),
    ("bandwidth", "10MB/S", "'10Mb/s' (megabits/s) or '10MB/s' (megabytes/s)"),
    ("bandwidth", "1gbps", "'1Gbps' (gigabits/s)"),
    ("bandwidth", "1KBPS", "'1kbps' (kilobits/s) or '1kBps' (kilobytes/s)"),
    ("bandwidth", "1BPS", "'1bps' (bits/s) or '1Bps' (bytes/s)"),
    ("bandwidth", "1Mbit/S", "'1Mbit/s' (megabits/s)"),
    ("bandwidth", "1mBps", "case-sensitive"),
    # an amount where a rate is wanted, binary rates, nonsense
    ("bandwidth", "10MB", "an amount, not a rate"),
    ("bandwidth", "10Mb", "did you mean '10Mbps' (megabits/s)?"),
    ("bandwidth", "1Mbit", "'1Mbit/s' (megabits/s)"),
    ("bandwidth", "1MiBps", "binary prefixes are for sizes only"),
    ("bandwidth", "1MiB/s", "binary prefixes are for sizes only"),
    ("bandwidth", "3 furlongs", "unknown unit 'furlongs'"),
    ("bandwidth", "fast", "cannot read 'fast' as a bandwidth"),
    ("bandwidth", "0Mbps", "must be positive"),
    ("bandwidth", "-1Mbps", "must be positive"),
    ("bandwidth", "1e400bps", "finite"),
    ("bandwidth", "10 Mb ps", "cannot read"),
    # sizes in bits, wrong case
    ("size", "1Mb", "'1Mb' is megabits (b is a bit), but a size is in bytes (B)"),
    ("size", "1Mb", "write '1MB' for megabytes, or '125000B' (= 1Mb)"),
    ("size", "100kb", "'100kB' for kilobytes, or '12500B'"),
    ("size", "1Gb", "gigabits"),
    ("size", "8 bits", "'1B' (= 8 bits)"),
    ("size", "16bit", "'2B'"),
    ("size", "1mb", "did you mean '1MB' (megabytes)?"),
    ("size", "1mB", "did you mean '1MB' (megabytes)?"),
    ("size", "1gb", "'1GB' (gigabytes)"),
    ("size", "1kib", "'1KiB' (kibibytes)"),
    ("size", "1MIB", "'1MiB' (mebibytes)"),
    ("size", "1BYTES", "'1bytes' (bytes)"),
    ("size", "-1kB", "cannot be negative"),
    # durations: exact case; m and M are not minutes
    ("duration", "1MS", "did you mean '1ms' (milliseconds)?"),
    ("duration", "1Ms", "did you mean '1ms' (milliseconds)?"),
    ("duration", "1M", "did you mean '1min' (minutes) or '1ms' (milliseconds)?"),
    ("duration", "1m", "did you mean '1min' (minutes) or '1ms' (milliseconds)?"),
    ("duration", "1MIN", "'1min' (minutes)"),
    ("duration", "1Min", "'1min' (minutes)"),
    ("duration", "2H", "'2h' (hours)"),
    ("duration", "1S", "'1s' (seconds)"),
    ("duration", "1D", "'1d' (days)"),
    ("duration", "1US", "'1us' (microseconds)"),
    ("duration", "1NS", "'1ns' (nanoseconds)"),
    ("duration", "1hr", "unknown unit 'hr'"),
    ("duration", "-3s", "cannot be negative"),
    # energy and compute: exact case
    ("energy", "1j", "'1J' (joules)"),
    ("energy", "1KJ", "'1kJ' (kilojoules)"),
    ("energy", "5WH", "'5Wh' (watt-hours)"),
    ("energy", "5wh", "'5Wh' (watt-hours)"),
    ("energy", "1e400J", "finite"),
    ("compute rate", "50mflops", "'50MFLOPS' (megaFLOP/s)"),
    ("compute rate", "1gflops", "'1GFLOPS' (gigaFLOP/s)"),
    ("compute rate", "1tflops", "'1TFLOPS' (teraFLOP/s)"),
    ("compute rate", "0FLOPS", "must be positive"),
    # fractions
    ("fraction", "150%", "[0, 1]"),
    ("fraction", "1 percent", "unknown unit 'percent'"),
    # not a quantity at all
    ("duration", "true", "cannot read"),
]


@pytest.mark.parametrize(("what", "text", "fragment"), REJECTED)
def test_rejected_spellings_say_what_was_read(what: str, text: str, fragment: str) -> None:
    with pytest.raises(UnitError) as err:
        PARSERS[what](text)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}])
def test_a_non_quantity_is_an_error(value: object) -> None:
    for parse in PARSERS.values():
        with pytest.raises(UnitError, match="expected a"):
            parse(value)


def _pattern(what: str) -> re.Pattern[str]:
    text_schema = PARSERS[what].schema["anyOf"][1]  # type: ignore[attr-defined]
    return re.compile(text_schema["pattern"])


@pytest.mark.parametrize(("what", "unit", "value"), ACCEPTED)
def test_the_json_schema_accepts_every_accepted_spelling(
    what: str, unit: str, value: float
) -> None:
    assert _pattern(what).match(f"2{unit}")
    assert _pattern(what).match(f" 2.5 {unit} ")


# Values wrong only in sign or range are not the pattern's business.
_OUT_OF_RANGE = ("negative", "positive", "finite", "[0, 1]")


@pytest.mark.parametrize(
    ("what", "text"),
    [(w, t) for w, t, f in REJECTED if not any(word in f for word in _OUT_OF_RANGE)],
)
def test_the_json_schema_rejects_every_unknown_spelling(what: str, text: str) -> None:
    assert not _pattern(what).match(text), text


ANYTHING = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\A\s?[-+]?\d{0,3}\.?\d{0,3}(e[-+]?\d{1,3})?\s?[A-Za-zµ%/]{0,7}\s?\Z"),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(PARSERS)), ANYTHING)
def test_any_input_is_a_number_or_a_one_line_unit_error(what: str, value: object) -> None:
    try:
        outcome: float | str = PARSERS[what](value)
    except UnitError as exc:
        outcome = str(exc)
    if isinstance(outcome, str):
        assert "\n" not in outcome
    else:
        assert outcome == outcome  # never NaN
        assert outcome >= 0


@pytest.mark.parametrize(
    ("what", "value", "message"),
    [
        ("energy", "-5J", "an energy cannot be negative: '-5J'"),
        ("energy", "5", None),
        ("energy", True, "expected an energy, got True"),
        ("energy", "fast", "cannot read 'fast' as an energy"),
        ("energy", float("nan"), "an energy must be a number: nan"),
        ("duration", "-3s", "a duration cannot be negative: '-3s'"),
        ("size", [], "expected a size, got []"),
    ],
)
def test_an_error_names_the_quantity_with_its_article(
    what: str, value: object, message: str | None
) -> None:
    """Outside audit redteam8, finding 6: "a energy cannot be negative"."""
    if message is None:
        assert PARSERS[what](value) == 5.0
        return
    with pytest.raises(UnitError) as caught:
        PARSERS[what](value)
    assert str(caught.value) == message

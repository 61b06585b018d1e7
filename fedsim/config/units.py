"""Value types of topology files, declared once: each wraps the parser that reads it
(fedsim/units.py for quantities) and carries its JSON-Schema fragment, so the loader,
its error messages and `fedsim schema` come from one declaration."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from fedsim import units
from fedsim.article import with_article

__all__ = [
    "AutoDuration",
    "Bandwidth",
    "Bool",
    "Duration",
    "DurationRange",
    "Energy",
    "Fraction",
    "FractionRange",
    "Name",
    "OutageDuration",
    "PositiveDuration",
    "PositiveFraction",
    "Power",
    "Rate",
    "Size",
    "UnboundedDuration",
    "bandwidth_with_unit",
    "choice",
    "integer",
    "number",
    "number_parser",
    "parsed",
]


def parsed(parse: Callable[[Any], Any], schema: dict[str, Any], py: type = float) -> Any:
    """`py` read by `parse` (its ValueError is the user's message), documented by `schema`."""

    def read(v: Any) -> Any:
        try:
            return parse(v)
        except OverflowError:
            raise ValueError("the number is too large") from None

    return Annotated[py, PlainValidator(read), WithJsonSchema(schema)]


def _unit_schema(parse: Callable[[Any], Any], fallback: dict[str, Any]) -> dict[str, Any]:
    return dict(getattr(parse, "schema", fallback))


_NUMBER: dict[str, Any] = {"type": "number", "minimum": 0}


def _positive_duration(v: Any) -> float:
    x = units.parse_duration(v)
    if x <= 0:
        raise ValueError(f"must be positive, got {v!r}")
    return x


def _positive_fraction(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"expected a number, got {v!r}")
    if not 0.0 < float(v) <= 1.0:
        raise ValueError(f"must lie in (0, 1], got {v}")
    return float(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _name(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError(f"expected a name, got {v!r}")
    return v


def _finite_duration(v: Any) -> float:
    """A duration a run can reach: `.inf` (or `1e999s`) as a latency or a deadline is no
    setting but a run that fails late (its audit, a timeout), so it is refused here."""
    x = units.parse_duration(v)
    if not math.isfinite(x):
        raise ValueError(f"must be finite, got {v!r}")
    return x


def _finite_positive_duration(v: Any) -> float:
    x = _finite_duration(v)
    if x <= 0:
        raise ValueError(f"must be positive, got {v!r}")
    return x


DURATION_SCHEMA = _unit_schema(units.parse_duration, _NUMBER)
FRACTION_SCHEMA = _unit_schema(units.parse_fraction, {**_NUMBER, "maximum": 1})

Duration = parsed(_finite_duration, DURATION_SCHEMA)
"""A finite duration (a latency, a start time, a jitter)."""
PositiveDuration = parsed(_finite_positive_duration, DURATION_SCHEMA)
UnboundedDuration = parsed(units.parse_duration, DURATION_SCHEMA)
"""A duration where infinity means something (a radio that never sleeps: `idle: .inf`)."""

FOREVER = "forever"
"""What a failure's `duration` says for an outage that never ends."""


def _outage_duration(v: Any) -> float:
    if isinstance(v, str) and v.strip().lower() == FOREVER:
        return math.inf
    try:
        return _positive_duration(v)
    except ValueError as exc:
        raise ValueError(f"{exc}, or `{FOREVER}` (it never ends)") from None


OutageDuration = parsed(_outage_duration, {"anyOf": [DURATION_SCHEMA, {"const": FOREVER}]})
"""A positive duration, or `forever` (infinite: the element never comes back)."""

AUTO = "auto"
"""What a limit says to take its default derived from the rest of the topology."""


def _auto_or_outage_duration(v: Any) -> float | None:
    if v is None or (isinstance(v, str) and v.strip().lower() == AUTO):
        return None
    try:
        return _outage_duration(v)
    except ValueError as exc:
        raise ValueError(f"{exc}, or `{AUTO}`") from None


AutoDuration = parsed(
    _auto_or_outage_duration,
    {"anyOf": [DURATION_SCHEMA, {"const": FOREVER}, {"const": AUTO}, {"type": "null"}]},
)
"""A positive duration, `forever` (no limit) or `auto` (None: derived from the topology)."""


def bandwidth_with_unit(v: Any) -> float:
    """A link rate with its unit: a bare `64` would be 64 bit/s, a link no one means
    (64 kbit/s? 64 Mbit/s?), and a run on it is silently 1000x or 10^6 x slow."""
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"a bandwidth must be a finite rate with a unit, got {v!r}")
    if (isinstance(v, int | float) and not isinstance(v, bool)) or (
        isinstance(v, str) and _BARE.match(v)
    ):
        n = (
            f"{v:g}"
            if isinstance(v, float) or (isinstance(v, int) and abs(v) >= 10**9)
            else str(v).strip()
        )
        raise ValueError(
            f"a bandwidth needs a unit: {n} alone would be {n} bit/s; write "
            f"'{n}bps' (bits/s) if you mean it, or e.g. '{n}kbps' or '{n}Mbps'"
        )
    return units.parse_bandwidth(v)


_BARE = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_UNIT_REQUIRED = {"pattern": r"[A-Za-z/]\s*$"}
Bandwidth = parsed(
    bandwidth_with_unit,
    {
        "allOf": [
            {"type": "string", **_UNIT_REQUIRED},
            _unit_schema(units.parse_bandwidth, _NUMBER)["anyOf"][1],
        ]
    },
)
"""A rate with its unit (`250kbps`, `1MBps`): a bare number is refused."""
Size = parsed(units.parse_size, _unit_schema(units.parse_size, _NUMBER))
Energy = parsed(units.parse_energy, _unit_schema(units.parse_energy, _NUMBER))
Power = parsed(units.parse_power, _unit_schema(units.parse_power, _NUMBER))
Rate = parsed(units.parse_rate, _unit_schema(units.parse_rate, _NUMBER))
Fraction = parsed(units.parse_fraction, FRACTION_SCHEMA)
PositiveFraction = parsed(
    _positive_fraction, {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
)
Bool = parsed(_bool, {"type": "boolean"}, bool)
Name = parsed(_name, {"type": "string", "minLength": 1}, str)


def _run_name(v: Any) -> str:
    """A run's name names its results folder (`<out>/<name>-seed<N>`), which a run
    replaces: it must stay one folder inside `--out`, never a path out of it."""
    name = _name(v)
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith("~") or "\0" in name:
        raise ValueError(
            f"{name!r} is not a folder name: a run's results go to <out>/<name>-seed<N>, "
            "so the name may not contain / or \\ or be . or .. (use letters, digits, - _ .)"
        )
    return name


RunName = parsed(_run_name, {"type": "string", "minLength": 1, "pattern": r"^[^/\\~]"}, str)


def integer(lo: int = 0, hi: int | None = None, *, unit: str | None = None) -> Any:
    """A whole number in [lo, hi] (true/false and 2.0 are not whole numbers); `unit` (the
    count's, e.g. bytes) is named when a number is written with a unit (`1500B`)."""

    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"expected an integer, got {v!r}{_plain_hint(v, unit)}")
        if v < lo or (hi is not None and v > hi):
            bound = f"at least {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise ValueError(f"must be {bound}, got {v}")
        return v

    schema: dict[str, Any] = {"type": "integer", "minimum": lo}
    if hi is not None:
        schema["maximum"] = hi
    return parsed(parse, schema, int)


def _plain_hint(v: Any, unit: str | None) -> str:
    """`1500B` for a count of bytes -> ': the value is plain bytes, write 1500'."""
    if unit is None or not isinstance(v, str):
        return ""
    m = re.match(r"^\s*(\d+)\s*[A-Za-z]", v)
    plain = f": write {m.group(1)}" if m else ""
    return f"; it is a plain number of {unit}, without a unit{plain}"


def number(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Any:
    """A real number in a range; `*_open` excludes that end."""
    schema: dict[str, Any] = {"type": "number"}
    if lo is not None:
        schema["exclusiveMinimum" if lo_open else "minimum"] = lo
    if hi is not None:
        schema["exclusiveMaximum" if hi_open else "maximum"] = hi
    return parsed(number_parser(lo, hi, lo_open=lo_open, hi_open=hi_open), schema)


def number_parser(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Callable[[Any], float]:
    """`number`'s reader, for a type that adds its own hints in front of it."""

    def parse(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"expected a number, got {v!r}")
        try:
            x = float(v)
        except OverflowError:
            x = math.inf
        if not math.isfinite(x):
            raise ValueError(f"expected a finite number, got {v!r}")
        bad = lo is not None and (x <= lo if lo_open else x < lo)
        bad = bad or (hi is not None and (x >= hi if hi_open else x > hi))
        if bad:
            raise ValueError(f"must {_interval(lo, hi, lo_open, hi_open)}, got {v!r}")
        return x

    return parse


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if hi is None and lo is not None:
        return f"be above {lo:g}" if lo_open else f"be at least {lo:g}"
    if lo is None and hi is not None:
        return f"be below {hi:g}" if hi_open else f"be at most {hi:g}"
    if lo is None:
        return "be a finite number"
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    return f"lie in {left}{lo:g}, {hi:g}{right}"


def choice(options: Iterable[str]) -> Any:
    """One of a fixed set of names."""
    names = tuple(options)

    def parse(v: Any) -> str:
        if not isinstance(v, str) or not v:
            raise ValueError(f"expected a name, got {v!r}")
        if v not in names:
            raise ValueError(f"{v!r} is not one of {', '.join(names)}")
        return v

    return parsed(parse, {"type": "string", "enum": list(names)}, str)


def _range(parse: Callable[[Any], float], schema: dict[str, Any], what: str) -> Any:
    """A value, or `[low, high]` to draw from per device: `2h` -> (7200, 7200)."""

    def parse_range(v: Any) -> tuple[float, float]:
        if isinstance(v, list):
            if len(v) != 2:
                raise ValueError(f"expected {with_article(what)} or [low, high], got {v!r}")
            lo, hi = parse(v[0]), parse(v[1])
            if lo > hi:
                raise ValueError(f"the low end {v[0]!r} is above the high end {v[1]!r}")
            return lo, hi
        x = parse(v)
        return x, x

    pair = {"type": "array", "items": schema, "minItems": 2, "maxItems": 2}
    return parsed(parse_range, {"anyOf": [schema, pair]}, tuple)


DurationRange = _range(_finite_duration, DURATION_SCHEMA, "duration")
FractionRange = _range(units.parse_fraction, FRACTION_SCHEMA, "fraction")

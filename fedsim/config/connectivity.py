"""When a node is reachable (`connectivity:`): one tagged variant per process, plus a
device group's `churn:` (docs/connectivity.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from fedsim.config.base import Section, at_key
from fedsim.config.units import Bool, DurationRange, Fraction, Name, PositiveDuration
from fedsim.config.variants import tagged
from fedsim.errors import FedsimError
from fedsim.units import parse_duration

__all__ = ["Connectivity", "GroupChurn", "Trace", "read_trace", "read_trace_lines"]

TraceRows = tuple[tuple[float, float, str | None], ...]
TraceLine = tuple[int, float, float, str | None]
"""(line number, start, end, node or None) of one row of a trace file."""


class Always(Section):
    kind: Literal["always"] = "always"


class Markov(Section):
    kind: Literal["markov"]
    mean_up: PositiveDuration = Field(description="mean of the exponential up periods")
    mean_down: PositiveDuration = Field(description="mean of the exponential down periods")
    start_up: Bool = Field(True, description="whether the node starts up")


class Periodic(Section):
    kind: Literal["periodic"]
    period: PositiveDuration = Field(description="sleep cycle length (PSM-like)")
    awake: PositiveDuration = Field(description="awake time per cycle (random phase per node)")

    @model_validator(mode="after")
    def _fits(self) -> Periodic:
        if self.awake > self.period:
            raise at_key("awake", "cannot be longer than period")
        return self


class Trace(Section):
    kind: Literal["trace"]
    file: Name = Field(description="CSV of down intervals (start,end[,node])")

    _lines: tuple[TraceLine, ...] = PrivateAttr(())

    @model_validator(mode="after")
    def _readable(self, info: ValidationInfo) -> Trace:
        base = Path((info.context or {}).get("base_dir", "."))
        try:
            self._lines = read_trace_lines(self.file, base)  # a bad file fails here
        except ValueError as exc:
            raise at_key("file", str(exc)) from None
        return self

    @property
    def rows(self) -> TraceRows:
        """The DOWN intervals, in time order (what `read_trace` returns)."""
        return _in_time_order(self._lines)

    @property
    def named_rows(self) -> list[tuple[int, str]]:
        """(line, node) of every row that names a node: the root model checks the names."""
        return [(line, node) for line, _s, _e, node in self._lines if node is not None]


class Churn(Section):
    kind: Literal["churn"]
    leave_after: DurationRange = Field(description="leaves for good after this")


Connectivity = tagged(
    {"always": Always, "markov": Markov, "periodic": Periodic, "trace": Trace, "churn": Churn},
    "always",
)


class GroupChurn(Section):
    """Part of a device group leaves for good."""

    fraction: Fraction = Field(description="share of the group that leaves for good")
    after: DurationRange | None = Field(None, description="when they leave (or [low, high])")
    between: DurationRange | None = Field(None, description="same as after")

    @model_validator(mode="after")
    def _one_span(self) -> GroupChurn:
        if (self.after is None) == (self.between is None):
            raise ValueError("names exactly one of after or between")
        return self

    @property
    def span(self) -> tuple[float, float]:
        return self.after or self.between  # type: ignore[return-value]


def read_trace(file: str, base_dir: Path) -> TraceRows:
    """DOWN intervals from a CSV file: header `start,end` (optional `node`), `#` comments.

    Times are seconds or durations with units; an empty `end` means "never back".
    """
    return _in_time_order(read_trace_lines(file, base_dir))


def _in_time_order(lines: tuple[TraceLine, ...]) -> TraceRows:
    rows = [(start, end, node) for _n, start, end, node in lines]
    return tuple(sorted(rows, key=lambda r: (r[0], r[1], r[2] or "")))


def read_trace_lines(file: str, base_dir: Path) -> tuple[TraceLine, ...]:
    """`read_trace`'s rows in file order, each with its line number (for errors)."""
    path = Path(file) if Path(file).is_absolute() else base_dir / file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read trace file {str(path)!r} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{file}: the trace file is not UTF-8 text") from None
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    lines = [(n, ln) for n, ln in lines if not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"{file}: the trace file is empty (expected a start,end header)")
    first, header_line = lines[0]
    header = [h.strip().lower() for h in next(csv.reader([header_line]))]
    if header[:2] != ["start", "end"] or not set(header[2:]) <= {"node"} or len(header) > 3:
        raise ValueError(
            f"{file} line {first}: the header must be start,end (optionally ,node), "
            f"got {header_line.strip()!r}"
        )
    out: list[TraceLine] = []
    for n, ln in lines[1:]:
        row = [c.strip() for c in next(csv.reader(io.StringIO(ln)))]
        if len(row) != len(header):
            raise ValueError(f"{file} line {n}: expected {len(header)} columns, got {len(row)}")
        try:
            start = parse_duration(row[0])
            end = parse_duration(row[1]) if row[1] else float("inf")
        except FedsimError as exc:
            raise ValueError(f"{file} line {n}: {exc}") from None
        if end <= start:
            raise ValueError(f"{file} line {n}: end {row[1]!r} is not after start {row[0]!r}")
        out.append((n, start, end, row[2] if len(row) > 2 and row[2] else None))
    return tuple(out)

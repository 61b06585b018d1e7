"""Reading a run's tables the same way whatever row type carries them (dicts from
`_collect`, dataclasses from the recorder or the results schema)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

__all__ = ["cell", "link_row", "number", "numbers"]


def cell(row: Any, key: str) -> Any:
    """`row[key]` for a mapping, `row.key` otherwise."""
    if isinstance(row, dict):
        return row.get(key)
    return getattr(row, key, None)


def link_row(row: Any) -> str:
    """How a violation names a links.csv row: the file, the link and its direction."""
    return f"links.csv {cell(row, 'link')} {cell(row, 'direction')}"


def number(row: Any, key: str) -> float:
    """A numeric cell; blank (None, '') reads as 0. (Not `v in (None, "")`: comparing a
    NumPy scalar with a string costs microseconds, and the audit reads ~100 k cells.)"""
    v = cell(row, key)
    if v is None or (isinstance(v, str) and not v):
        return 0.0
    return float(v)


def numbers(rows: Sequence[Any], key: str) -> list[float]:
    """`number(row, key)` of every row, in one pass when the rows are plain (attribute
    rows with a number in every cell: a run's tables hold ~10^4-10^5 rows)."""
    try:
        return list(map(float, map(attrgetter(key), rows)))
    except (AttributeError, TypeError, ValueError):  # a mapping row, a blank cell
        return [number(row, key) for row in rows]

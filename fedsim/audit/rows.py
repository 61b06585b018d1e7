"""Reading a run's tables the same way whatever row type carries them (dicts from
`_collect`, dataclasses from the recorder or the results schema)."""

from __future__ import annotations

from typing import Any

__all__ = ["cell", "number"]


def cell(row: Any, key: str) -> Any:
    """`row[key]` for a mapping, `row.key` otherwise."""
    if isinstance(row, dict):
        return row.get(key)
    return getattr(row, key, None)


def number(row: Any, key: str) -> float:
    """A numeric cell; blank (None, '') reads as 0. (Not `v in (None, "")`: comparing a
    NumPy scalar with a string costs microseconds, and the audit reads ~100 k cells.)"""
    v = cell(row, key)
    if v is None or (isinstance(v, str) and not v):
        return 0.0
    return float(v)

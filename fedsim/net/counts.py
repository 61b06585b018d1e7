"""Every count a run's results are made of, at one instant, kept compact.

A run takes this twice, when its window closes and when recording stops, and the
auditor compares the two (`nothing-after-end`). As a dict of named numbers each took
~4 KB a device (about 40 names of 60 characters and their floats): ~0.9 GB at 100,000
devices for the two and their copies, at the run's peak. Here the numbers are one
array of doubles (8 bytes each) and the names are made on demand from groups (a
prefix shared by a few fields), which the second snapshot shares with the first.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping

import numpy as np

__all__ = ["Counts", "Group", "moved_counts"]

Group = tuple[str, tuple[str, ...]]
"""A name prefix and its fields, in order: the names are `f"{prefix} {field}"`."""


class Counts(Mapping[str, float]):
    """Named counts: `values[i]` is the i-th name in the order of `groups`. A read-only
    mapping (name -> value), so a test may build a plain dict in its place."""

    __slots__ = ("_offsets", "groups", "values")

    def __init__(self, groups: list[Group], values: array[float]) -> None:
        if sum(len(fields) for _, fields in groups) != len(values):
            raise ValueError("counts: as many values as names are needed")
        self.groups = groups
        self.values = values
        self._offsets: dict[str, tuple[int, tuple[str, ...]]] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[str]:
        for prefix, fields in self.groups:
            for f in fields:
                yield f"{prefix} {f}"

    def __getitem__(self, name: str) -> float:
        if self._offsets is None:  # a name looked up (tests, a violation): index once
            offsets, at = {}, 0
            for prefix, fields in self.groups:
                offsets.setdefault(prefix, (at, fields))
                at += len(fields)
            self._offsets = offsets
        prefix, _, field = name.rpartition(" ")
        at, fields = self._offsets.get(prefix, (0, ()))
        if field not in fields:
            raise KeyError(name)
        return self.values[at + fields.index(field)]

    def name(self, index: int) -> str:
        """The name of `values[index]`."""
        at = 0
        for prefix, fields in self.groups:
            if index < at + len(fields):
                return f"{prefix} {fields[index - at]}"
            at += len(fields)
        raise IndexError(index)

    def same_names(self, other: Counts) -> bool:
        return self.groups is other.groups or self.groups == other.groups


def moved_counts(
    before: Mapping[str, float], after: Mapping[str, float]
) -> list[tuple[str, float | None, float | None]]:
    """Every name whose value differs between the two (None: absent from one), by name.
    Two `Counts` of the same names are compared as arrays, without making a name."""
    if isinstance(before, Counts) and isinstance(after, Counts) and before.same_names(after):
        a = np.frombuffer(before.values, dtype=np.float64)
        b = np.frombuffer(after.values, dtype=np.float64)
        moved = np.flatnonzero(a != b).tolist()
        return sorted((before.name(i), a[i].item(), b[i].item()) for i in moved)
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]

"""Names close to a misspelt one, for "did you mean" hints. Group members are numbered
with zero padding (`d-01` in a group of 12), so a name that differs only in that
padding (`d-1`) comes first: plain string similarity prefers `d-12`, `d-11`, `d-10`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["close_names", "did_you_mean"]

_NUMBERED = re.compile(r"(.*?)(\d+)")


def close_names(name: str, names: Iterable[str], n: int = 3) -> list[str]:
    """Up to `n` of `names` like `name`: the same number with other padding first."""
    pool = list(names)
    same: list[str] = []
    m = _NUMBERED.fullmatch(name)
    if m is not None:
        prefix, number = m.group(1), int(m.group(2))
        for candidate in pool:
            c = _NUMBERED.fullmatch(candidate)
            if c and c.group(1) == prefix and int(c.group(2)) == number and candidate != name:
                same.append(candidate)
    similar = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    return (same + [s for s in similar if s not in same])[:n]


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """` (did you mean d-01?)`, or "" when nothing is close."""
    close = close_names(name, names)
    return f" (did you mean {', '.join(close)}?)" if close else ""

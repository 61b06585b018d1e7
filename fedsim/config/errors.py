"""pydantic's errors -> one `ScenarioError` line: `nodes[2].uplink.link: message`.

A validation may find several mistakes; the one reported is the first in the
file's own order (keys in the order written, list items by index), so fixing a
file top to bottom meets the errors in the order they are reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from fedsim.errors import ScenarioError

__all__ = ["TAG_PREFIX", "first_error", "key_path", "to_scenario_error"]

TAG_PREFIX = "kind="
"""Variant tags in pydantic's error locations start with this; they are not file keys."""


def key_path(loc: Sequence[str | int]) -> str:
    """('nodes', 2, 'uplink', 'link') -> 'nodes[2].uplink.link'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _location(err: ErrorDetails) -> list[str | int]:
    loc = [
        p
        for p in err["loc"]
        if not (isinstance(p, str) and (p.startswith(TAG_PREFIX) or p == "[key]"))
    ]
    ctx = err.get("ctx") or {}
    if err["type"] == "at_key":
        loc.extend(_parts(str(ctx["key"])))
    elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc.append("kind")
    return loc


def _parts(key: str) -> list[str | int]:
    """'nodes[2].uplink.to' -> ['nodes', 2, 'uplink', 'to']."""
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", key)]


def _message(err: ErrorDetails) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return " ".join(str(ctx["error"]).split())
    if kind == "union_tag_invalid":
        known = ", ".join(
            t.strip("'").removeprefix(TAG_PREFIX) for t in str(ctx["expected_tags"]).split(", ")
        )
        return f"unknown kind {str(ctx['tag']).removeprefix(TAG_PREFIX)!r} (known: {known})"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "expected a mapping"
    if kind == "string_type" and err["loc"] and err["loc"][-1] == "[key]":
        return f"a name must be text, got {err['input']!r}"
    if kind == "invalid_key":
        return "a key must be text"
    if kind == "union_tag_not_found":
        return "is required"
    if kind == "too_short":
        return "expected a non-empty list"
    if kind == "list_type":
        return "expected a list"
    return " ".join(err["msg"].split())


def _order(data: Any, loc: Sequence[str | int]) -> tuple[int, ...]:
    """Where `loc` sits in the document: the index of each key among its siblings."""
    out: list[int] = []
    cur = data
    for part in loc:
        if isinstance(cur, Mapping):
            keys = list(cur)
            out.append(keys.index(part) if part in keys else len(keys))
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int):
            out.append(part)
            cur = cur[part] if 0 <= part < len(cur) else None
        else:
            break
    return tuple(out)


def first_error(exc: ValidationError, data: Any) -> tuple[str, str]:
    """(key path, message) of the first mistake in document order."""
    errors = exc.errors(include_url=False)
    located = [(_location(e), e) for e in errors]
    loc, err = min(located, key=lambda le: _order(data, le[0]))
    return key_path(loc), _message(err)


def to_scenario_error(exc: ValidationError, data: Any) -> ScenarioError:
    return ScenarioError(*first_error(exc, data))

"""A trace file's `node` column against the topology's names.

A row naming a node that no entry using the file expands to would be ignored by the
replay (it only looks for its own nodes), so a misspelt or mis-padded name (`d-01`
for the `d-1` of a group of 4) would make a device silently always-up. The root
model calls this once every entry's names are known.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from fedsim.config.base import at_key
from fedsim.config.close_names import close_names

if TYPE_CHECKING:
    from fedsim.config.nodes import NodeItem
    from fedsim.config.topology import Topology

__all__ = ["check_trace_names"]

CANDIDATES = 5000
"""Names offered to the close-match search at most (a group may have 100000)."""


def check_trace_names(topology: Topology) -> None:
    """Every named row of every trace names a node of an entry that uses that file."""
    users: dict[str, list[NodeItem]] = {}
    first: dict[str, int] = {}
    for i, item in enumerate(topology.nodes):
        if getattr(item.connectivity, "kind", None) == "trace":
            users.setdefault(item.connectivity.file, []).append(item)
            first.setdefault(item.connectivity.file, i)
    for i, item in enumerate(topology.nodes):
        trace = item.connectivity
        if getattr(trace, "kind", None) != "trace" or first[trace.file] != i:
            continue
        entries = users[trace.file]
        for line, node in trace.named_rows:
            if not any(entry.owns(node) for entry in entries):
                raise at_key(
                    f"nodes[{i}].connectivity.file",
                    f"{trace.file} line {line}: unknown node {node!r} ({_hint(node, entries)})",
                )


def _hint(node: str, entries: list[NodeItem]) -> str:
    """Close names, and how the entries using the file are named."""
    names = list(islice((n for e in entries for n in e.expanded_names()), CANDIDATES))
    close = close_names(node, names)
    spans = ", ".join(_span(e) for e in entries)
    said = f"did you mean {', '.join(close)}? " if close else ""
    return f"{said}the nodes using this file are {spans}"


def _span(entry: NodeItem) -> str:
    names = entry.expanded_names()
    return names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"

"""Devices as the report draws them at any scale: groups under their parent node.

Why groups: a report that draws or lists every device stops being readable long before a
federation of thousands of devices; the topology file already says which devices belong
together (a `nodes:` item with `count: N` is one group under one parent, on one link
class, with one device profile). A run without that config (synthetic folders, older
runs) is grouped by parent, device profile and uplink kind, and so is a parent with more
than `MAX_GROUPS_PER_PARENT` groups (devices listed one by one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fedsim.record.runs import RunData
from fedsim.record.schema import NEVER_CONTRIBUTED_MIN_SELECTED, ClientRow

__all__ = [
    "MAX_GROUPS_PER_PARENT",
    "DeviceGroup",
    "device_groups",
    "flagged",
    "link_classes",
    "never_reported",
]

MAX_GROUPS_PER_PARENT = 12


@dataclass
class DeviceGroup:
    """Devices under one parent that share a config item (or profile and uplink kind)."""

    name: str
    parent: str
    profile: str
    link_class: str
    link_kind: str
    members: list[str] = field(default_factory=list)
    clients: list[ClientRow] = field(default_factory=list)
    run: str = ""

    @property
    def anchor(self) -> str:
        """An HTML id for the group's member list: stable, safe in a URL fragment, and
        unique in a comparison report that holds several runs."""
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{self.run}--{self.parent}--{self.name}")
        return f"group-{slug.strip('-')}"

    @property
    def selected(self) -> int:
        return sum(c.rounds_selected or 0 for c in self.clients)

    @property
    def reported(self) -> int:
        return sum(c.rounds_reported or 0 for c in self.clients)

    @property
    def discarded(self) -> int | None:
        """Of `reported`, uploads whose round aggregated nothing; None for a run older
        than clients.csv `rounds_discarded` (unknown, not 0)."""
        counts = [c.rounds_discarded for c in self.clients]
        if not counts or all(n is None for n in counts):
            return None
        return sum(n or 0 for n in counts)

    @property
    def surplus(self) -> int:
        return sum(c.rounds_surplus or 0 for c in self.clients)

    def dropouts_by_cause(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.clients:
            for cause, n in c.dropouts_by_cause().items():
                out[cause] = out.get(cause, 0) + n
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def never_reported(self) -> list[ClientRow]:
        return never_reported(self.clients)


def never_reported(clients: list[ClientRow]) -> list[ClientRow]:
    """Clients that never had an upload accepted, most selected first: those never selected
    (never connected, registered or chosen: fedsim.record.absent_devices) count too."""
    rows = [c for c in clients if not c.rounds_reported]
    return sorted(rows, key=lambda c: -(c.rounds_selected or 0))


def flagged(row: ClientRow) -> bool:
    """Selected often enough that never reporting is not bad luck (summary.json's
    `never_contributed`)."""
    return (row.rounds_selected or 0) >= NEVER_CONTRIBUTED_MIN_SELECTED


def _config_items(run: RunData) -> list[dict[str, Any]]:
    nodes = run.config.get("nodes")
    return (
        [n for n in nodes if isinstance(n, dict) and "name" in n] if isinstance(nodes, list) else []
    )


def _expanded(item: dict[str, Any]) -> list[str]:
    """The node names a `nodes:` item stands for (`count: N` -> name-01..name-N)."""
    name = str(item["name"])
    try:
        count = int(item.get("count", 1))
    except (TypeError, ValueError):
        count = 1
    if count <= 1:
        return [name]
    return [f"{name}-{j:0{len(str(count))}d}" for j in range(1, count + 1)]


def link_classes(run: RunData) -> dict[str, str]:
    """Node name -> the link class (config `links:` key) of its uplink, from config.yaml."""
    out: dict[str, str] = {}
    for item in _config_items(run):
        uplink = item.get("uplink")
        link = uplink.get("link") if isinstance(uplink, dict) else None
        if link is None:
            continue
        for name in _expanded(item):
            out[name] = str(link)
    return out


def device_groups(run: RunData) -> list[DeviceGroup]:
    """The run's devices in groups, in topology order (parents first seen first)."""
    nodes = [n for n in run.topology.get("nodes") or [] if isinstance(n, dict) and "name" in n]
    devices = [n for n in nodes if n.get("kind", "device") == "device"]
    if not devices:  # no topology.json: the devices clients.csv knows
        devices = [
            {"name": c.client, "device": c.device, "parent": c.gateway or None} for c in run.clients
        ]
    uplink_kind: dict[str, str] = {}
    for ln in run.topology.get("links") or []:
        uplink_kind.setdefault(str(ln.get("a")), str(ln.get("kind", "?")))
    item_of: dict[str, str] = {}
    for item in _config_items(run):
        if item.get("kind") == "device":
            for name in _expanded(item):
                item_of[name] = str(item["name"])
    classes = link_classes(run)
    rows = {c.client: c for c in run.clients}

    def key(node: dict[str, Any], by_item: bool) -> tuple[str, str]:
        name = str(node["name"])
        parent = str(node.get("parent") or "")
        kind = uplink_kind.get(name, "?")
        if by_item and name in item_of:
            return parent, item_of[name]
        return parent, f"{node.get('device') or '?'} · {classes.get(name, kind)}"

    per_parent: dict[str, set[tuple[str, str]]] = {}
    for node in devices:
        per_parent.setdefault(str(node.get("parent") or ""), set()).add(key(node, True))
    crowded = {p for p, keys in per_parent.items() if len(keys) > MAX_GROUPS_PER_PARENT}
    groups: dict[tuple[str, str], DeviceGroup] = {}
    for node in devices:
        name = str(node["name"])
        parent = str(node.get("parent") or "")
        k = key(node, parent not in crowded)
        group = groups.get(k)
        if group is None:
            kind = uplink_kind.get(name, "?")
            group = groups[k] = DeviceGroup(
                name=k[1],
                parent=parent,
                profile=str(node.get("device") or "?"),
                link_class=classes.get(name, kind),
                link_kind=kind,
                run=run.name,
            )
        group.members.append(name)
        if name in rows:
            group.clients.append(rows[name])
    return list(groups.values())

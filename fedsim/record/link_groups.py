"""links.csv in groups: one row per link class under one parent, failed links apart.

Why: the 28 links of one shared Wi-Fi cell have one busy fraction (they are one medium),
and 2,000 device links do not fit a plot; what a reader needs is each class's load and
every link that went down. Links that were down at some point form their own group next
to the healthy ones of their class, and `shown_link_groups` keeps every such group
whatever the cap, so a failed backhaul can never fall off the plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fedsim.record.compare import human_seconds
from fedsim.record.device_groups import link_classes
from fedsim.record.runs import RunData
from fedsim.record.schema import LinkRow

__all__ = ["MAX_LINK_GROUPS", "LinkGroup", "link_groups", "shown_link_groups"]

MAX_LINK_GROUPS = 40


@dataclass
class LinkGroup:
    """Links of one class toward one parent node, all up the whole run or all down a while."""

    link_class: str
    kind: str
    parent: str
    failed: bool
    links: list[str] = field(default_factory=list)
    busy_up: list[float] = field(default_factory=list)
    busy_down: list[float] = field(default_factory=list)
    down_s: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        if len(self.links) == 1:
            return f"{self.links[0]} ({self.link_class})"
        return f"{self.link_class} → {self.parent} ×{len(self.links)}"

    @property
    def busiest(self) -> float:
        return max(self.busy_up + self.busy_down, default=0.0)

    def down_text(self) -> str:
        """`down ≤ 30 min` and, for a few links, which ones."""
        if not self.failed:
            return ""
        worst = max(self.down_s)
        if len(self.links) == 1:
            return f"down {human_seconds(worst)}"
        return f"{len(self.links)} links down, up to {human_seconds(worst)}"


def link_groups(run: RunData) -> list[LinkGroup]:
    """Groups in links.csv order; the row order within a group is the file's."""
    classes = link_classes(run)
    groups: dict[tuple[str, str, bool], LinkGroup] = {}
    per_link: dict[str, list[LinkRow]] = {}
    for row in run.links:
        per_link.setdefault(row.link, []).append(row)
    for link, rows in per_link.items():
        first = rows[0]
        down = max((r.down_time_s or 0.0) for r in rows)
        cls = classes.get(first.a, first.kind)
        key = (cls, first.b, down > 0)
        group = groups.get(key)
        if group is None:
            group = groups[key] = LinkGroup(cls, first.kind, first.b, down > 0)
        group.links.append(link)
        for r in rows:
            busy = r.busy_fraction or 0.0
            (group.busy_up if r.direction == "up" else group.busy_down).append(busy)
        group.down_s.append(down)
    return list(groups.values())


def shown_link_groups(groups: list[LinkGroup], cap: int = MAX_LINK_GROUPS) -> list[LinkGroup]:
    """Every failed group, then the busiest others up to `cap` groups in all."""
    failed = [g for g in groups if g.failed]
    rest = sorted((g for g in groups if not g.failed), key=lambda g: -g.busiest)
    keep = failed + rest[: max(0, cap - len(failed))]
    return sorted(keep, key=lambda g: (-g.busiest, not g.failed))

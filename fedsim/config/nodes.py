"""The node tree (`nodes:`) and scheduled failures (`failures:`), item by item.
Cross-references between items (uplinks, failure targets) are checked by the root
model, which sees every item."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PrivateAttr, model_validator

from fedsim.config.base import Section, at_key
from fedsim.config.connectivity import Connectivity, GroupChurn
from fedsim.config.units import (
    Duration,
    FractionRange,
    Name,
    OutageDuration,
    choice,
    integer,
)

__all__ = ["NODE_KINDS", "Failure", "NodeItem", "Uplink"]

NODE_KINDS = ("server", "gateway", "device")
Names = Annotated[list[Name], Field(min_length=1)]  # type: ignore[valid-type]


class Uplink(Section):
    to: Name = Field(description="the parent node (a gateway or the server)")  # type: ignore[valid-type]
    link: Name = Field(description="a link class from `links`")  # type: ignore[valid-type]


class NodeItem(Section):
    """A node, or a device group of `count` nodes named name-1..name-N."""

    _names: list[str] | None = PrivateAttr(None)

    name: Name = Field(description="node name; a group of count N expands to name-1..name-N")  # type: ignore[valid-type]
    kind: choice(NODE_KINDS) = Field(description="role in the tree")  # type: ignore[valid-type]
    count: integer(1) = Field(1, description="how many devices this item stands for")  # type: ignore[valid-type]
    device: Name | None = Field(None, description="device profile (devices need one)")  # type: ignore[valid-type]
    uplink: Uplink | None = Field(None, description="every node but the server")
    connectivity: Connectivity | None = Field(  # type: ignore[valid-type]
        None, description="when the node is reachable (docs/connectivity.md)"
    )
    churn: GroupChurn | None = Field(None, description="part of a device group leaves for good")
    initial_charge: FractionRange | None = Field(  # type: ignore[valid-type]
        None, description="battery level at start, or [low, high]"
    )

    @model_validator(mode="after")
    def _shape(self) -> NodeItem:
        if self.kind == "device" and self.device is None:
            raise at_key("device", "a device node needs a device profile")
        if self.kind != "device" and self.device is not None:
            raise at_key(
                "device",
                f"is not used: a {self.kind} does no training and has no battery, only a "
                "device node runs on a profile; drop it",
            )
        if self.kind == "server" and self.uplink is not None:
            raise at_key("uplink", "the server has no uplink")
        if self.kind != "server" and self.uplink is None:
            raise at_key("uplink", "is required")
        if self.count > 1 and self.kind != "device":
            raise at_key("count", "only device groups can have a count")
        if self.churn is not None and getattr(self.connectivity, "kind", None) == "churn":
            raise at_key("churn", "the group already churns (connectivity kind churn)")
        return self

    def owns(self, node: str) -> bool:
        """Whether `node` is one of the names this item expands to (without expanding)."""
        if self.count == 1:
            return node == self.name
        suffix = node[len(self.name) + 1 :]
        return (
            node.startswith(f"{self.name}-")
            and suffix.isdigit()
            and len(suffix) == len(str(self.count))
            and 1 <= int(suffix) <= self.count
        )

    def expanded_names(self) -> list[str]:
        """name-1..name-N (zero-padded), computed once."""
        if self._names is None:
            if self.count == 1:
                self._names = [self.name]
            else:
                width = len(str(self.count))
                self._names = [f"{self.name}-{j:0{width}d}" for j in range(1, self.count + 1)]
        return self._names


class Failure(Section):
    """A scheduled outage: a node, a link, or a partition (several links, one cause)."""

    at: Duration = Field(description="when it starts")  # type: ignore[valid-type]
    duration: OutageDuration = Field(  # type: ignore[valid-type]
        description="how long it lasts, or `forever` (a permanent failure)"
    )
    node: Name | None = Field(None, description="a node or group that goes down (all its links)")  # type: ignore[valid-type]
    link: Name | None = Field(None, description="a node or group whose uplink goes down")  # type: ignore[valid-type]
    partition: Names | None = Field(
        None, description="nodes or groups whose uplinks are cut together"
    )  # type: ignore[valid-type]
    links: Names | None = Field(None, description="links (child-parent) or nodes cut together")  # type: ignore[valid-type]
    name: Name | None = Field(None, description="a partition's name (its dropout cause)")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _one_target(self) -> Failure:
        given = [k for k in ("node", "link", "partition", "links") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("names exactly one of node, link, partition or links")
        if self.name is not None and given[0] in ("node", "link"):
            raise at_key("name", "only a partition or links failure has a name")
        return self

    @property
    def target(self) -> str:
        return next(k for k in ("node", "link", "partition", "links") if getattr(self, k))

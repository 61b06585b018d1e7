"""The root of a topology file and the checks that need all of it: uplinks to
existing non-device nodes, failure targets, groups, quorum and selection against the
device count, the task's data against the device count, the model against each
device's memory, the host's memory against everything, the target against the metric."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from fedsim.config.adversaries import Adversaries
from fedsim.config.advice import advice
from fedsim.config.base import Section, at_key
from fedsim.config.close_names import did_you_mean
from fedsim.config.coap_mtu import check_coap_blocks
from fedsim.config.devices import DeviceModel, device_profile
from fedsim.config.fl import FLModel
from fedsim.config.limits import (
    PER_DEVICE_BYTES,
    format_bytes,
    host_memory_bytes,
    simulation_bytes,
)
from fedsim.config.links import FIDELITIES, LinkClass
from fedsim.config.nodes import Failure, NodeItem
from fedsim.config.tasks import TaskModel
from fedsim.config.tcp import TcpModel
from fedsim.config.trace_names import check_trace_names
from fedsim.config.units import RunName, choice, integer, parsed
from fedsim.devices import BUILTIN_DEVICES, DeviceProfile

__all__ = ["Topology"]

NAMES_FOR_HINTS = 5000
"""Members of one group offered to a "did you mean" hint at most."""


def _text(v: Any) -> str:
    if not isinstance(v, str | int | float | bool):
        raise ValueError(f"expected text, got a {type(v).__name__}")
    return str(v).strip()


Text = parsed(_text, {"type": ["string", "number", "boolean"]}, str)


class Topology(Section):
    """A topology file (docs/topology.md describes every key)."""

    name: RunName | None = Field(  # type: ignore[valid-type]
        None, description="run name (default: the file name): one folder name, no / or .."
    )
    seed: integer(0) = Field(0, description="the one seed every random stream derives from")  # type: ignore[valid-type]
    description: Text = Field("", description="free text")  # type: ignore[valid-type]
    fidelity: choice(FIDELITIES) = Field(
        "flow", description="flow (closed-form TCP per message) or packet"
    )  # type: ignore[valid-type]
    tcp: TcpModel = Field(default_factory=TcpModel, description="the TCP stack's switches")
    task: TaskModel  # type: ignore[valid-type]
    fl: FLModel = Field(default_factory=FLModel, description="the federation")
    devices: dict[str, DeviceModel] = Field(
        default_factory=dict, description="device profiles besides the built-in ones"
    )  # type: ignore[valid-type]
    links: dict[str, LinkClass] = Field(default_factory=dict, description="link classes")
    nodes: list[NodeItem] = Field(
        min_length=1, description="the tree: one server, gateways, devices"
    )
    failures: list[Failure] = Field(default_factory=list, description="scheduled outages")
    adversaries: Adversaries | None = Field(
        None, description="Byzantine devices (docs/strategies.md)"
    )

    _warnings: list[str] = PrivateAttr(default_factory=list)
    _profiles: dict[str, DeviceProfile] = PrivateAttr(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        """Things that are allowed but almost certainly not meant."""
        return self._warnings

    @property
    def profiles(self) -> dict[str, DeviceProfile]:
        return self._profiles

    @property
    def device_count(self) -> int:
        return sum(item.count for item in self.nodes if item.kind == "device")

    @property
    def clients_per_round(self) -> float:
        """What the strategy takes: a count (>= 1) or a share of the online clients (< 1).
        A share of 100% is every online client, which is a count of every device."""
        cpr = self.fl.clients_per_round
        return float(self.device_count) if isinstance(cpr, float) and cpr >= 1.0 else float(cpr)

    @model_validator(mode="after")
    def _whole(self, info: ValidationInfo) -> Topology:
        self._profiles = {**BUILTIN_DEVICES}
        self._profiles.update({n: device_profile(n, m) for n, m in self.devices.items()})
        self._check_items()
        self._check_task_data()
        self._check_host_memory()  # before any group is expanded into nodes
        self._check_tree()
        check_trace_names(self)
        self._check_failures()
        self._check_federation()
        check_coap_blocks(self)
        self._check_task()
        self._warnings.extend(advice(self))
        return self

    # -- checks, in the order a reader meets the keys ---------------------------------
    def _check_items(self) -> None:
        for name, model in self.devices.items():
            if model.battery is not None and model.battery <= 0:
                raise at_key(
                    f"devices.{name}.battery",
                    f"{model.battery:g} J holds no energy: a device on it is empty before it "
                    "sends a byte; give a capacity (e.g. 2Wh), or drop the key for mains power",
                )
        for i, item in enumerate(self.nodes):
            if item.device is not None and item.device not in self._profiles:
                known = ", ".join(sorted(self._profiles))
                raise at_key(
                    f"nodes[{i}].device", f"unknown device profile {item.device!r} (known: {known})"
                )
            if item.uplink is not None and item.uplink.link not in self.links:
                known = ", ".join(sorted(self.links)) or "none defined"
                raise at_key(
                    f"nodes[{i}].uplink.link", f"unknown link {item.uplink.link!r} (links: {known})"
                )
            if item.initial_charge is not None:
                profile = self._profiles.get(item.device or "")
                if profile is None or profile.battery_j is None:
                    what = "mains powered" if profile is not None else "not a device"
                    raise at_key(f"nodes[{i}].initial_charge", f"this node has no battery ({what})")

    def _check_host_memory(self) -> None:
        devices = self.device_count
        data = self.task.data_bytes_per_device()
        need = simulation_bytes(devices, data)
        have = host_memory_bytes()
        if need > have:
            i = max(range(len(self.nodes)), key=lambda j: self.nodes[j].count)
            # Blame the task's options when its data, not the device count, is the bulk.
            where = "task" if data > PER_DEVICE_BYTES else f"nodes[{i}].count"
            raise at_key(
                where,
                f"{devices} devices need about {format_bytes(need)} of memory to simulate "
                f"(estimate, {format_bytes(need / devices)} each), more than this machine "
                f"has ({format_bytes(have)})",
            )

    def _check_tree(self) -> None:
        kinds: dict[str, str] = {}
        for i, item in enumerate(self.nodes):
            for name in item.expanded_names():
                if name in kinds:
                    raise at_key(f"nodes[{i}].name", f"duplicate node name {name!r}")
                kinds[name] = item.kind
        for i, item in enumerate(self.nodes):
            if item.count > 1 and item.name in kinds:
                raise at_key(
                    f"nodes[{i}].name", f"the group name {item.name!r} is also a node's name"
                )
        servers = sum(1 for item in self.nodes if item.kind == "server")
        if servers != 1:
            raise at_key("nodes", f"needs exactly one server node, found {servers}")
        parent: dict[str, str | None] = {}
        for i, item in enumerate(self.nodes):
            to = item.uplink.to if item.uplink is not None else None
            if to is not None:
                where = f"nodes[{i}].uplink.to"
                if to not in kinds:
                    hint = did_you_mean(str(to), [k for k, v in kinds.items() if v != "device"])
                    raise at_key(where, f"unknown node {to!r}{hint}")
                if kinds[to] == "device":
                    raise at_key(
                        where, f"{to!r} is a device; uplinks go to a gateway or the server"
                    )
                if to == item.name:
                    raise at_key(where, "a node cannot be its own uplink")
            parent[item.name] = to
        for start in parent:
            seen: set[str] = set()
            cur: str | None = start
            while cur is not None:
                if cur in seen:
                    raise at_key("nodes", f"uplinks form a loop through {cur!r}")
                seen.add(cur)
                cur = parent.get(cur)
        if self.device_count == 0:
            raise at_key("nodes", "has no device nodes")

    def _groups(self) -> dict[str, NodeItem]:
        return {item.name: item for item in self.nodes}

    def resolve(self, name: str, *, link_names: bool = False) -> list[str] | None:
        """A node, group (or `child-parent` link) name -> the child nodes it means."""
        out: list[str] = []
        for item in self.nodes:
            if item.name == name:
                out.extend(item.expanded_names())
            elif item.owns(name):
                out.append(name)
        if not out and link_names:
            for item in self.nodes:
                to = item.uplink.to if item.uplink is not None else None
                if to is not None and name.endswith(f"-{to}"):
                    child = name[: -len(to) - 1]
                    if item.owns(child):
                        out.append(child)
        return out or None

    def _names(self) -> Iterator[str]:
        """Every node and group name a failure may give (groups' members capped: a hint
        need not scan 100,000 names)."""
        for item in self.nodes:
            yield item.name
            if item.count > 1:
                yield from islice(item.expanded_names(), NAMES_FOR_HINTS)

    def _is_server(self, names: list[str]) -> bool:
        servers = {item.name for item in self.nodes if item.kind == "server"}
        return any(n in servers for n in names)

    def _check_failures(self) -> None:
        partitions: set[str] = set()
        limit = self.fl.time_limit
        for i, f in enumerate(self.failures):
            where = f"failures[{i}]"
            if f.target in ("partition", "links"):
                items = f.partition if f.target == "partition" else f.links
                for j, item in enumerate(items or []):
                    found = self.resolve(item, link_names=f.target == "links")
                    if found is None:
                        what = "node, group or link" if f.target == "links" else "node or group"
                        raise at_key(
                            f"{where}.{f.target}[{j}]",
                            f"unknown {what} {item!r}{did_you_mean(str(item), self._names())}",
                        )
                    if self._is_server(found):
                        raise at_key(f"{where}.{f.target}[{j}]", "the server has no uplink to cut")
                pname = f.name or str(i)
                if pname in partitions:
                    raise at_key(f"{where}.name", f"duplicate partition name {pname!r}")
                partitions.add(pname)
            else:
                name = f.node if f.target == "node" else f.link
                found = self.resolve(name or "")
                if found is None:
                    hint = did_you_mean(str(name), self._names())
                    raise at_key(f"{where}.{f.target}", f"unknown node {name!r}{hint}")
                if f.target == "link" and self._is_server(found):
                    raise at_key(f"{where}.link", "the server has no uplink")
            if limit is not None and f.at >= limit:
                self._warnings.append(
                    f"{where}.at: the failure starts at {f.at:g} s, at or after fl.time_limit "
                    f"({limit:g} s): it never happens"
                )

    def _check_federation(self) -> None:
        n = self.device_count
        fl = self.fl
        if fl.min_available > n:
            raise at_key(
                "fl.min_available", f"is {fl.min_available} but the topology has {n} devices"
            )
        if isinstance(fl.clients_per_round, int) and fl.clients_per_round > n:
            raise at_key(
                "fl.clients_per_round",
                f"is {int(fl.clients_per_round)} but the topology has {n} devices",
            )
        self._check_live_devices()
        metric, lo, hi = self.task.metric
        target = fl.target
        if target is not None and not lo <= target <= hi:
            beyond_best = target > hi if self.task.higher_is_better else target < lo
            what = "unreachable" if beyond_best else "met by any model"
            raise at_key("fl.target", f"{target:g} is {what}: {metric} lies in [{lo:g}, {hi:g}]")
        adversaries = self.adversaries
        if adversaries is not None and adversaries.kind == "label_flip":  # noqa: SIM102
            if self.task.kind not in ("digits", "synthetic"):
                raise at_key(
                    "adversaries.kind", "label_flip needs a classification task (digits, synthetic)"
                )

    def _check_live_devices(self) -> None:
        """An `initial_charge` of 0 % is a group of devices dead from the start (offline,
        cause battery), which a study may mean; a federation left with too few others to
        run a round measures nothing, and is refused here rather than after the run."""
        dead = [
            (i, item) for i, item in enumerate(self.nodes)
            if item.initial_charge is not None and max(item.initial_charge) <= 0
        ]  # fmt: skip
        if not dead:
            return
        live = self.device_count - sum(item.count for _, item in dead)
        need = 1 if self.fl.engine == "async" else self.fl.min_available
        if live < need:
            i, item = dead[0]
            needs = "a task needs one" if self.fl.engine == "async" else (
                f"a round needs fl.min_available={need}")  # fmt: skip
            raise at_key(
                f"nodes[{i}].initial_charge",
                f"0% starts every device of {item.name!r} empty (they never send a byte), "
                f"which leaves {live} device(s) that can take part; {needs}: no round could "
                "ever run. Give a charge above 0 (a range [0%, 50%] starts some low)",
            )

    def _check_task_data(self) -> None:
        problem = self.task.check_devices(self.device_count)
        if problem is not None:
            i = max(range(len(self.nodes)), key=lambda j: self.nodes[j].count)
            raise at_key(f"nodes[{i}].count", problem)

    def _check_task(self) -> None:
        need = self.task.memory_bytes(self.fl.local.batch_size or 16)
        if need is None:
            return
        for i, item in enumerate(self.nodes):
            if item.device is None:
                continue
            have = self._profiles[item.device].memory_bytes
            if need > have:
                raise at_key(
                    f"nodes[{i}].device",
                    f"{item.name}: the model and one batch need {need} bytes, "
                    f"but the {item.device} profile has {int(have)}",
                )

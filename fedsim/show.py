"""`fedsim show FILE`: a topology as a readable tree, with the figures people derive
by hand: devices per gateway, each device group's path latency, its bottleneck
rate, and what one model upload costs on that path (lossless flow model)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.tree import Tree

from fedsim.net.flow import lossless_transfer_time
from fedsim.net.network import Network
from fedsim.rng import Streams
from fedsim.scenario import NodeSpec, Scenario, load_scenario

__all__ = ["describe", "main_show"]


def _rate(bps: float) -> str:
    for unit, f in (("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if bps >= f:
            return f"{bps / f:.3g} {unit}"
    return f"{bps:.3g} bps"


def _secs(s: float) -> str:
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def describe(sc: Scenario, model_bytes: int | None = None) -> Tree:
    """A rich Tree of the topology. `model_bytes`: upload size for the cost column."""
    import simpy

    net = Network(simpy.Environment(), sc, Streams(sc.seed))
    groups: dict[str, list[NodeSpec]] = defaultdict(list)
    children: dict[str | None, list[str]] = defaultdict(list)
    for node in sc.nodes:
        if node.kind == "device":
            groups[f"{node.parent}/{node.group}"].append(node)
        else:
            children[node.parent].append(node.name)
    size = model_bytes or 2600
    root = Tree(
        f"[bold]{sc.name}[/] (seed {sc.seed}, {sc.fidelity} fidelity, task {sc.task.kind}, "
        f"{sc.fl.strategy}, {len(sc.device_nodes)} devices)"
    )

    def add(parent_tree: Tree, name: str) -> None:
        node = next(n for n in sc.nodes if n.name == name)
        devs = [g for key, g in groups.items() if key.startswith(f"{name}/")]
        n_dev = sum(len(g) for g in devs)
        label = f"[bold]{name}[/] ({node.kind}"
        if node.link_class:
            cls = sc.links[node.link_class]
            label += f", uplink {node.link_class}: {_rate(cls.bandwidth_up_bps)}, "
            label += f"{_secs(cls.latency_s)}"
        label += f", {n_dev} devices directly below)" if node.kind != "server" else ")"
        branch = parent_tree.add(label)
        for child in children.get(name, []):
            add(branch, child)
        for group in devs:
            first = group[0]
            path = net.path(first.name)
            latency = sum(h.link.latency_s for h in path)
            bottleneck = min(h.link.tx[0].rate_bps for h in path)
            upload = lossless_transfer_time(
                size, bottleneck, latency, min(h.link.mtu for h in path)
            )
            cls = sc.links[first.link_class or ""]
            conn = first.connectivity.kind
            shared = ", shared medium" if cls.shared else ""
            branch.add(
                f"{first.group} × {len(group)} ({first.device}, {first.link_class}{shared}, "
                f"connectivity {conn}): path {len(path)} hops, latency {_secs(latency)}, "
                f"bottleneck {_rate(bottleneck)}, {size} B upload ≈ {_secs(upload)}"
            )

    for top in children.get(None, []):
        add(root, top)
    if sc.failures:
        fails = root.add("[bold]scheduled failures[/]")
        for f in sc.failures:
            fails.add(f"{f.target} {f.name} down at {f.at_s:.0f} s for {f.duration_s:.0f} s")
    return root


def main_show(argv: Sequence[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="fedsim show", description=__doc__)
    p.add_argument("topology")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    p.add_argument("--model-bytes", type=int, default=None, help="upload size (default 2600 B)")
    args = p.parse_args(list(argv))
    sc = load_scenario(args.topology, args.set)
    Console().print(describe(sc, args.model_bytes))
    return 0

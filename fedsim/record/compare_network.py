"""Caveats for compared runs that are not the same experiment: another network, or another
seed.

Why: a ratio of totals between an 8-device and a 28-device network is mostly the device
count, and a ratio between two seeds of one scenario is partly which clients the draw
picked and how the data split. `fedsim compare` tabulates such runs all the same (that can
be the point), but says so, one line per difference: the node set, the device count and
the link classes (from topology.json and summary.json), and the seed. Totals that grow
with the device count get no ratio across different device counts (fedsim.record.compare
shows them per device instead).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fedsim.record.run_settings import RunSettings, differing_keys

__all__ = ["device_count", "network_warnings", "seed_warning"]


def device_count(run: Any) -> int | None:
    """The run's device count (summary.json), None where it is not recorded."""
    value = run.summary.get("devices")
    return value if isinstance(value, int) else None


def _who(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _grouped(runs: list[Any], labels: list[str], key: Callable[[Any], Any]) -> dict[Any, list[str]]:
    groups: dict[Any, list[str]] = {}
    for run, label in zip(runs, labels, strict=True):
        value = key(run)
        if value is not None:
            groups.setdefault(value, []).append(label)
    return groups


def _nodes(run: Any) -> frozenset[str] | None:
    nodes = run.topology.get("nodes") if isinstance(run.topology, dict) else None
    if not nodes:
        return None
    return frozenset(str(n.get("name")) for n in nodes if isinstance(n, dict))


def _link_kinds(run: Any) -> tuple[str, ...] | None:
    links = run.topology.get("links") if isinstance(run.topology, dict) else None
    if not links:
        return None
    return tuple(sorted({str(ln.get("kind")) for ln in links if isinstance(ln, dict)}))


def _node_line(groups: dict[frozenset[str], list[str]]) -> str:
    """`node set: 11 nodes (`a`, `b`) vs 31 nodes (`c`); only in some: hub, flaky-1, …`"""
    every = frozenset.intersection(*groups)
    some = sorted(frozenset.union(*groups) - every)
    shown = ", ".join(some[:5]) + (f" and {len(some) - 5} more" if len(some) > 5 else "")
    parts = " vs ".join(f"{len(nodes)} nodes ({_who(names)})" for nodes, names in groups.items())
    return f"runs differ in their network's node set: {parts}; not in every run: {shown}"


def network_warnings(
    runs: list[Any], labels: list[str], same_asked: str | None = None
) -> list[str]:
    """One line each for a different node set, device count and set of link classes.
    `same_asked`: what every run asks a round, when that is the same in all of them
    (fedsim.record.compare_totals): the totals only asked clients make (model bytes,
    dropouts) then compare as they are, the rest per device."""
    lines = []
    nodes = _grouped(runs, labels, _nodes)
    if len(nodes) > 1:
        lines.append(_node_line(nodes))
    devices = _grouped(runs, labels, device_count)
    if len(devices) > 1:
        parts = " vs ".join(f"{n} ({_who(names)})" for n, names in devices.items())
        if same_asked is not None:
            lines.append(
                f"runs differ in device count: {parts}; every run asks {same_asked}, so "
                "model bytes and dropouts (of the clients asked) are compared as totals; "
                "payload, wire, protocol and transport bytes and energy to target also "
                "hold what the devices never asked spend (polls, keep-alives, listening), "
                "so they get no ratio across device counts, per-device rows compare them"
            )
        else:
            lines.append(
                f"runs differ in device count: {parts}, and in the clients a round asks "
                "(fl.clients_per_round); totals that grow with them (bytes, energy to "
                "target, dropouts) get no ratio across device counts, per-device rows "
                "compare them instead"
            )
    kinds = _grouped(runs, labels, _link_kinds)
    if len(kinds) > 1:
        parts = " vs ".join(f"{', '.join(k)} ({_who(names)})" for k, names in kinds.items())
        lines.append(f"runs differ in link classes: {parts}; bytes and energy go over other radios")
    return lines


def seed_warning(settings: list[RunSettings], labels: list[str]) -> str | None:
    """One line when the runs were drawn with different seeds: a single-seed ratio holds
    seed noise (which clients were picked, the data split), which only several seeds
    per setting can bound."""
    seeds = [s.get("seed").value for s in settings]
    if len(set(map(repr, seeds))) < 2:
        return None
    groups: dict[str, list[str]] = {}
    for seed, label in zip(seeds, labels, strict=True):
        groups.setdefault(str(seed), []).append(label)
    parts = " vs ".join(f"{seed} ({_who(names)})" for seed, names in groups.items())
    others = [k for k in differing_keys(settings) if k != "seed"]
    what = (
        "the runs differ only in seed, so their differences are seed noise"
        if not others
        else "the runs differ in seed as well as settings, so each ratio includes seed noise"
    )
    return (
        f"seed {parts}: {what}; for an interval, run the settings over several seeds with "
        "`fedsim sweep` and read its aggregate.md (docs/sweeps.md)"
    )

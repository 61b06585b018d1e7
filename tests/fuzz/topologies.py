"""The scenario generator: a Hypothesis strategy for whole, valid topology mappings.

A scenario is a server, a random tree of gateways (depth 1-3) and a few device
groups under gateways or directly under the server, with link classes, connectivity,
failures, batteries and FL settings drawn by the sibling modules. Everything is
small: at most `MAX_DEVICES` devices, 1-3 rounds and a simulated time limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from fedsim.units import parse_duration
from fuzz.connectivity import connectivity, group_churn, initial_charge
from fuzz.failures import PERMANENT_S, Targets, failures
from fuzz.learning import fl_settings, task
from fuzz.links import link_class
from fuzz.units import duration

MAX_DEVICES = 8
HORIZONS_S = (120.0, 300.0, 300.0, 600.0, 600.0, 1800.0, 3600.0, 3 * 3600.0)
"""`fl.time_limit` choices: simulated minutes to a few hours."""
BATTERY_PROFILES: dict[str, dict[str, Any]] = {
    # a few KB of radio traffic empties these: batteries run dry mid-run
    "cell-tag": {"like": "cortex-m4", "battery": "2J"},
    "coin-esp": {"like": "esp32", "battery": "0.05J", "compute": "200kFLOPS"},
}
CUSTOM_PROFILES: dict[str, dict[str, Any]] = {
    **BATTERY_PROFILES,
    # mains powered but slow: its rounds last long enough for outages to hit them
    "busy-pi": {"like": "rpi4", "compute": "100kFLOPS"},
}
PROFILES = ("busy-pi", "esp32", "cortex-m4", "rpi4", "jetson-nano", "phone", *BATTERY_PROFILES)
"""Slow first: Hypothesis leans to a list's first items, and slow rounds meet outages."""
POWERED = ("esp32", "cortex-m4", "phone", *BATTERY_PROFILES)
"""Profiles with a battery (an `initial_charge` is valid only on these)."""


@dataclass
class FuzzScenario:
    """A generated topology mapping and the files it names (trace CSVs, relative paths)."""

    topology: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)

    def yaml(self) -> str:
        return yaml.safe_dump(self.topology, sort_keys=False, default_flow_style=None, width=100)

    def write(self, folder: Path) -> Path:
        """Write `topology.yaml` and its files into `folder`: `fedsim run` reruns it."""
        folder.mkdir(parents=True, exist_ok=True)
        for rel, text in self.files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        path = folder / "topology.yaml"
        path.write_text(self.yaml())
        return path

    def __repr__(self) -> str:  # Hypothesis prints this for a falsifying example
        files = "".join(f"\n# --- {rel}\n{text}" for rel, text in self.files.items())
        return f"FuzzScenario(<<YAML\n{self.yaml()}{files}YAML)"


@dataclass
class Tree:
    """Gateways (name -> depth) and device entries, as the generator builds them."""

    gateways: dict[str, int] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)


@st.composite
def tree(draw: st.DrawFn, server: str, link_names: list[str]) -> Tree:
    """Gateways hang off the server or an earlier gateway (depth <= 3); device groups
    hang off any of them. Total devices stay within MAX_DEVICES."""
    out = Tree()
    for g in range(draw(st.integers(0, 4))):
        parents = [server] + [n for n, d in out.gateways.items() if d < 3]
        parent = draw(st.sampled_from(parents))
        name = f"gw{g + 1}"
        out.gateways[name] = 1 if parent == server else out.gateways[parent] + 1
        uplink = {"to": parent, "link": draw(st.sampled_from(link_names))}
        out.entries.append({"name": name, "kind": "gateway", "uplink": uplink})
    budget = MAX_DEVICES
    for i in range(draw(st.integers(1, 4))):
        if budget <= 0:
            break
        count = draw(st.integers(1, min(3, budget)))
        budget -= count
        entry: dict[str, Any] = {
            "name": f"dev{i + 1}",
            "kind": "device",
            "device": draw(st.sampled_from(PROFILES)),
            "uplink": {
                "to": draw(st.sampled_from([server, *out.gateways])),
                "link": draw(st.sampled_from(link_names)),
            },
        }
        if count > 1 or draw(st.booleans()):
            entry["count"] = count
        out.entries.append(entry)
    return out


def members(entry: dict[str, Any]) -> list[str]:
    """The node names an entry expands to (the loader's `name-1 .. name-N`)."""
    count = entry.get("count", 1)
    if count == 1:
        return [entry["name"]]
    width = len(str(count))
    return [f"{entry['name']}-{j:0{width}d}" for j in range(1, count + 1)]


@st.composite
def reachability(
    draw: st.DrawFn, entries: list[dict[str, Any]], horizon_s: float
) -> dict[str, str]:
    """Add connectivity, churn and initial charge to the entries; return trace files."""
    files: dict[str, str] = {}
    for entry in entries:
        names = members(entry)
        if draw(st.integers(0, 2)) == 0:
            r = draw(connectivity(entry["name"], horizon_s, names))
            if r.connectivity is not None:
                entry["connectivity"] = r.connectivity
            files.update(r.files)
        if entry["kind"] != "device":
            continue
        kind = entry.get("connectivity", {}).get("kind")
        if len(names) > 1 and kind != "churn" and draw(st.integers(0, 3)) == 0:
            entry["churn"] = draw(group_churn(horizon_s))
        if entry["device"] in POWERED and draw(st.integers(0, 2)) == 0:
            entry["initial_charge"] = draw(initial_charge())
    return files


def failure_targets(entries: list[dict[str, Any]]) -> Targets:
    nodes = [n for e in entries for n in members(e)]
    groups = [e["name"] for e in entries if e.get("count", 1) > 1]
    links = [f"{n}-{e['uplink']['to']}" for e in entries for n in members(e)]
    return Targets(nodes, groups, links)


@st.composite
def scenarios(draw: st.DrawFn) -> FuzzScenario:
    """One whole, valid topology mapping (docs/topology.md)."""
    from fuzz.links import modellable

    horizon = draw(st.sampled_from(HORIZONS_S))
    lossy = horizon <= 1800
    links = {
        f"l{i + 1}": modellable(draw(link_class(lossy=lossy)))
        for i in range(draw(st.integers(1, 4)))
    }
    server = draw(st.sampled_from(["server", "cloud"]))
    shape = draw(tree(server, sorted(links)))
    files = draw(reachability(shape.entries, horizon))
    n_devices = sum(len(members(e)) for e in shape.entries if e["kind"] == "device")
    the_task = draw(task())
    supervised = the_task["kind"] in ("digits", "synthetic")
    topology: dict[str, Any] = {
        "name": "fuzz",
        "seed": draw(st.integers(0, 999)),
        "task": the_task,
        "fl": draw(fl_settings(n_devices, horizon, supervised, the_task["kind"])),
    }
    if draw(st.booleans()):
        topology["fidelity"] = draw(st.sampled_from(["packet", "flow"]))
    used = {e["device"] for e in shape.entries if e["kind"] == "device"}
    custom = {k: v for k, v in CUSTOM_PROFILES.items() if k in used}
    if custom:
        topology["devices"] = custom
    topology["links"] = links
    topology["nodes"] = [{"name": server, "kind": "server"}, *shape.entries]
    cuts = draw(failures(failure_targets(shape.entries), horizon))
    if cuts:
        topology["failures"] = cuts
    if supervised and draw(st.integers(0, 9)) == 0:
        kind = draw(st.sampled_from(["sign_flip", "scaled_noise", "random_update", "label_flip"]))
        topology["adversaries"] = {"fraction": "25%", "kind": kind}
    if draw(st.integers(0, 7)) == 0:
        without_time_limit(topology, horizon)
    enough_alive(topology)
    return FuzzScenario(topology, files)


def enough_alive(topology: dict[str, Any]) -> None:
    """Groups drawn empty from the start (`initial_charge: 0%`) may leave too few live
    devices for a round, which fedsim refuses (a run that can only measure nothing): then
    `min_available` comes down to the live count, or, with none live, the first empty
    group starts full instead."""

    def empty(entry: dict[str, Any]) -> bool:
        charge = entry.get("initial_charge")
        values = charge if isinstance(charge, list) else [charge]
        return charge is not None and max(float(str(v).rstrip("%")) for v in values) <= 0

    devices = [e for e in topology["nodes"] if e["kind"] == "device"]
    dead = [e for e in devices if empty(e)]
    live = sum(len(members(e)) for e in devices) - sum(len(members(e)) for e in dead)
    fl = topology["fl"]
    need = 1 if fl.get("engine") == "async" else fl["min_available"]
    if live >= need:
        return
    if live >= 1:
        fl["min_available"] = live
    else:
        del dead[0]["initial_charge"]
        enough_alive(topology)


def without_time_limit(topology: dict[str, Any], horizon_s: float) -> None:
    """No `fl.time_limit`: the run must end by itself (its rounds, devices lost for
    good, or `fl.stall_limit`, here the horizon (at least two rounds) so a stuck run
    costs about what a limited one does). Failures that outlast the run become
    `forever`: a 30-day outage would be waited for, 30 simulated days."""
    fl = topology["fl"]
    del fl["time_limit"]
    rounds_s = parse_duration(fl["deadline"]) + parse_duration(fl.get("round_interval", 0))
    fl["stall_limit"] = duration(max(horizon_s, 2 * rounds_s))  # (must exceed a round)
    for f in topology.get("failures", []):
        if f["duration"] == duration(PERMANENT_S):
            f["duration"] = "forever"


__all__ = ["FuzzScenario", "scenarios"]

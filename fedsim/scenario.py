"""Topology file -> a frozen, validated `Scenario`. Every error names its key path.

The format is documented in docs/topology.md. What a file may say is decided by one
typed model, fedsim.config (pydantic): unknown keys, bad units, negative rates,
dangling references and contradictions (a quorum larger than the federation) are
one-line `ScenarioError`s, never silent defaults. This module keeps the dataclasses
the simulator reads and the file-level steps (reading YAML, `--set` overrides).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedsim.devices import DeviceProfile
from fedsim.errors import FedsimError, ScenarioError
from fedsim.topology_file import DuplicateKeyError, load_yaml_text, read_topology

__all__ = [
    "ConnectivitySpec",
    "FLSpec",
    "FailureSpec",
    "LinkClassSpec",
    "NodeSpec",
    "Scenario",
    "TaskSpec",
    "apply_overrides",
    "check_overrides",
    "load_scenario",
    "load_yaml",
    "parse_scenario",
    "prepare_scenario",
]


# --------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class TaskSpec:
    """What is learned: the options as the file writes them (fedsim.config.tasks checks them)."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FLSpec:
    strategy: str = "fedavg"
    options: Mapping[str, Any] = field(default_factory=dict)
    rounds: int = 20
    clients_per_round: float = 1.0
    """A count (>= 1) or a fraction of the online clients (< 1). A file's `100%` arrives
    as the device count: every online client (fedsim.config.topology)."""
    min_available: int = 1
    over_selection: float = 0.0
    selection: str = "uniform"
    """How a round picks clients: `uniform` or `reliability` (fedsim.fl.selection)."""
    selection_floor: float = 0.1
    """`reliability`: the least weight a client gets, so unreliable ones are still tried."""
    deadline_s: float = 120.0
    quorum: float = 0.5
    target: float | None = None
    local: Mapping[str, Any] = field(default_factory=dict)
    codec: str = "float32"
    poll_wait_s: float = 30.0
    task_on_answer: bool = True
    """HTTP: an upload asks for the next task on its own answer (one exchange per round
    for a device that stays selected); False: upload, then a separate long poll."""
    server_keepalive_s: float = 3630.0
    """HTTP: the server closes a connection that brought no request this long after its
    last answer was written (aiohttp's server default)."""
    request_timeout_s: float = 120.0
    """HTTP, MQTT: a client's total timeout for one exchange is this + `poll_wait_s`
    (fedsim.fl.client); a request that outlasts it is abandoned."""
    time_limit_s: float | None = None
    stall_limit_s: float | None = None
    """End the run when no round closed for this long (None: `auto`, see
    fedsim.run_end.auto_stall_limit; inf: `forever`, never)."""
    round_interval_s: float = 0.0
    """Rounds start at most this often (IoT federations pace rounds, e.g. every 2 min)."""
    gate_tolerance: float | None = None
    """Deploy a candidate only if its metric is at most this much worse (None: always)."""
    engine: str = "sync"
    """`sync` rounds, or `async` buffered aggregation (FedBuff)."""
    buffer: int = 10
    concurrency: int | None = None
    max_staleness: int = 10
    server_lr: float = 1.0
    staleness_exponent: float = 0.5
    transport: str = "http"
    """How tasks, models and updates move: `http` or `coap` (docs/transports.md)."""
    coap: Mapping[str, Any] = field(default_factory=dict)
    """`fl.coap`: block_size (None: fit the MTU), ack_timeout, ack_random_factor,
    max_retransmit."""

    @property
    def horizon_s(self) -> float:
        """The latest a run can end: `time_limit` (inf without one)."""
        return self.time_limit_s if self.time_limit_s is not None else math.inf

    def lasts_for_good(self, end_s: float) -> bool:
        """An outage ending at `end_s` is never lifted inside the run. The one rule the
        network, the batteries, the run's end and the audit all apply."""
        return end_s >= self.horizon_s


@dataclass(frozen=True)
class LinkClassSpec:
    name: str
    kind: str
    bandwidth_up_bps: float
    bandwidth_down_bps: float
    latency_s: float
    loss: float = 0.0
    loss_model: Any = None
    """A typed loss model (fedsim.config.links: Bernoulli, GilbertElliott) or None."""
    jitter: Any = None
    """A typed jitter (fedsim.config.links: UniformJitter, NormalJitter, ParetoJitter) or None."""
    mtu: int = 1500
    queue_limit: int = 100
    shared: bool = False
    """All links of this class under one parent share the medium (a cell, a channel)."""
    half_duplex: bool = False
    duty_cycle: float = 1.0
    fidelity: str | None = None
    radio: Any = None
    """The devices' radio on this link (fedsim.net.radio.RadioProfile); None: the kind's."""


@dataclass(frozen=True)
class ConnectivitySpec:
    """When a node is reachable: a process (always, markov, periodic, trace, churn)
    plus the node group's churn and battery settings (docs/connectivity.md)."""

    kind: str = "always"
    mean_up_s: float = 0.0
    mean_down_s: float = 0.0
    start_up: bool = True
    period_s: float = 0.0
    awake_s: float = 0.0
    trace: tuple[tuple[float, float, str | None], ...] = ()
    """`trace`: DOWN intervals (start, end, node or None for every node of the group);
    end is `inf` for "never back"."""
    trace_file: str = ""
    churn_fraction: float = 0.0
    """Fraction of the group that leaves for good (`kind: churn` is all of it)."""
    leave_after_s: tuple[float, float] = (0.0, 0.0)
    """A leaver leaves after a time drawn uniformly from this range."""
    initial_charge: tuple[float, float] = (1.0, 1.0)
    """Battery level at the start, a fraction drawn uniformly from this range."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    kind: str
    parent: str | None
    link_class: str | None
    device: str | None
    connectivity: ConnectivitySpec
    group: str


@dataclass(frozen=True)
class FailureSpec:
    at_s: float
    duration_s: float
    target: str
    """`node`, `link` (a link is named by its child node: `link: gw1` is gw1's uplink)
    or `partition` (the uplinks of `links` go down together, one cause)."""
    name: str
    links: tuple[str, ...] = ()
    """For a partition: the child nodes whose uplinks are cut."""


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    description: str
    fidelity: str
    task: TaskSpec
    fl: FLSpec
    devices: Mapping[str, DeviceProfile]
    links: Mapping[str, LinkClassSpec]
    nodes: tuple[NodeSpec, ...]
    failures: tuple[FailureSpec, ...]
    adversaries: Mapping[str, Any] | None = None
    """Byzantine devices, as written (checked by fedsim.config.adversaries; read by
    `tasks.adversary.parse_adversaries`)."""
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    warnings: tuple[str, ...] = field(default=(), compare=False)
    hystart: bool = True
    """`tcp.hystart`: Cubic's hybrid slow start on every connection (fedsim.net.tcp)."""
    """Allowed but almost certainly not meant (a failure after the time limit); `validate`
    and `run` print them as `fedsim: warning: ...`."""

    @property
    def device_nodes(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.kind == "device")

    @property
    def server(self) -> NodeSpec:
        return next(n for n in self.nodes if n.kind == "server")


def parse_scenario(
    data: object, *, source: str = "<topology>", base_dir: str | Path | None = None
) -> Scenario:
    """Validate a topology mapping (already YAML-loaded) into a `Scenario`.

    Every check `fedsim run` makes before simulating happens here (fedsim.config):
    task options and data against the device count, strategy options, memory.
    Files the topology names (connectivity traces) are read relative to `base_dir`
    (the topology file's folder; the working directory when None).
    """
    from fedsim.config.build import validate_topology

    return validate_topology(data, source=source, base_dir=base_dir)


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `key.path=value` strings (value read as YAML) to a copy of `data`.

    List items are addressed by index (`nodes.2.count=50`) or by name
    (`nodes.sensor.count=50`), as sweep keys are; missing mapping keys are created (the
    loader then rejects names it does not know).
    """
    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(item, "an override is key.path=value")
        path, _, text = item.partition("=")
        try:  # within the same limits as a file; text that is not YAML stays text
            value = load_yaml_text(text, f"--set {path}") if text.strip() else ""
        except DuplicateKeyError:
            raise  # YAML, but with a key twice: which value was meant?
        except FedsimError:
            value = text
        parts = [p for p in path.strip().split(".") if p]
        if not parts:
            raise ScenarioError(item, "an override needs a key path")
        cur: Any = out
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(cur, list):
                index = _list_index(cur, part, where)
                if last:
                    cur[index] = value
                else:
                    cur = cur[index]
            elif isinstance(cur, dict):
                if last:
                    cur[part] = value
                else:
                    if cur.get(part) is None:
                        _no_list_here(parts, depth, where)
                        cur[part] = {}
                    cur = cur[part]
            else:
                raise ScenarioError(where, "cannot set a key inside a plain value")
    return out


def _no_list_here(parts: list[str], depth: int, where: str) -> None:
    """`failures.0.at=1s` on a file without failures: there is no item 0 to set (a
    mapping made up here would be refused as "expected a list", naming nothing useful)."""
    following = parts[depth + 1]
    if following.isdigit():
        raise ScenarioError(
            where,
            f"there is no list item {following} to set: the file has no {parts[depth]!r} "
            f"(write the whole list in the file, or --set {where}='[...]')",
        )


def _list_index(items: list[Any], part: str, where: str) -> int:
    """A list item by index (`nodes.2`) or by its `name` (`nodes.sensor`), as sweep keys
    address them; a name two items share is refused (which one was meant?)."""
    if part.isdigit():
        if int(part) < len(items):
            return int(part)
        raise ScenarioError(where, f"no list item {part} (the list has {len(items)})")
    named = [i for i, x in enumerate(items) if isinstance(x, dict) and x.get("name") == part]
    if len(named) == 1:
        return named[0]
    if named:
        raise ScenarioError(where, f"{len(named)} list items are named {part!r}; use an index")
    names = [str(x["name"]) for x in items if isinstance(x, dict) and "name" in x]
    known = f": {', '.join(names[:8])}" + (" …" if len(names) > 8 else "") if names else ""
    raise ScenarioError(where, f"no list item named {part!r} (the list has {len(items)}{known})")


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a topology file as a mapping, within fedsim.topology_file's limits."""
    return read_topology(path)


def check_overrides(overrides: Iterable[str], seed: int | None = None) -> None:
    """Refuse overrides whose outcome depends on their order (a key given twice, or a key
    and a key inside it), and a seed override next to an explicit seed: the run's folder
    name and summary.json's `overrides` must say what ran."""
    seen: dict[tuple[str, ...], str] = {}
    for item in overrides:
        path, sep, _ = item.partition("=")
        parts = tuple(p for p in path.strip().split(".") if p)
        if not sep or not parts:
            continue  # apply_overrides names the mistake
        for other, given in seen.items():
            shorter = min(len(parts), len(other))
            if parts[:shorter] == other[:shorter]:
                raise ScenarioError(
                    ".".join(parts[:shorter]),
                    f"set twice ({given} and {item}); give it once",
                )
        seen[parts] = item
        if seed is not None and parts == ("seed",):
            raise ScenarioError(
                "seed", f"the seed is {seed} and the override {item} sets it too; give one"
            )


def _file_data(path: str | Path, overrides: Iterable[str], seed: int | None) -> dict[str, Any]:
    overrides = list(overrides)
    check_overrides(overrides, seed)
    data = apply_overrides(load_yaml(path), overrides)
    if seed is not None:
        data["seed"] = seed
    return data


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), seed: int | None = None
) -> Scenario:
    """Load, override and validate a topology file."""
    data = _file_data(path, overrides, seed)
    return parse_scenario(data, source=str(path), base_dir=Path(path).parent)


def prepare_scenario(
    path: str | Path,
    overrides: Iterable[str] = (),
    seed: int | None = None,
    warn: Callable[[str], None] | None = None,
) -> Scenario:
    """The one pre-run path of `validate`, `run`, `sweep` and deployment: load and check
    everything, before anything large is allocated; pass each warning to `warn`."""
    scenario = load_scenario(path, overrides, seed)
    if warn is not None:
        for line in scenario.warnings:
            warn(line)
    return scenario

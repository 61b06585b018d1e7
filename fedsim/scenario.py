"""Topology file -> a frozen, validated `Scenario`. Every error names its key path.

The format is documented in docs/topology.md. Loading is strict: unknown keys,
bad units, negative rates, dangling references and contradictions (a quorum
larger than the federation) are `ScenarioError`s, never silent defaults.
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fedsim.devices import BUILTIN_DEVICES, DeviceProfile, parse_device
from fedsim.errors import FedsimError, ScenarioError
from fedsim.fl.selection import SELECTIONS
from fedsim.topology_file import read_topology
from fedsim.units import parse_bandwidth, parse_duration, parse_fraction

__all__ = [
    "ConnectivitySpec",
    "FLSpec",
    "FailureSpec",
    "LinkClassSpec",
    "NodeSpec",
    "Scenario",
    "TaskSpec",
    "apply_overrides",
    "load_scenario",
    "parse_scenario",
]

T = TypeVar("T")


class Section:
    """A mapping being read: take keys with parsers; leftovers are errors."""

    def __init__(self, path: str, data: object) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ScenarioError(path, f"expected a mapping, got {type(data).__name__}")
        self.path = path
        self.data = dict(data)
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.data

    def take(self, name: str, parse: Callable[[Any], T], default: Any = ...) -> T:
        self.used.add(name)
        if name not in self.data or self.data[name] is None:
            if default is ...:
                raise ScenarioError(self.key(name), "is required")
            return default  # type: ignore[no-any-return]
        try:
            return parse(self.data[name])
        except ScenarioError:
            raise
        except (FedsimError, ValueError, TypeError) as exc:
            raise ScenarioError(self.key(name), str(exc)) from None

    def field(self, name: str, table: Mapping[str, Field]) -> Any:
        """Take `name` as the field table declares it (parser, default)."""
        f = table[name]
        return self.take(name, f.parse, f.default)

    def sub(self, name: str) -> Section:
        self.used.add(name)
        return Section(self.key(name), self.data.get(name))

    def raw(self, name: str, default: Any = None) -> Any:
        self.used.add(name)
        return self.data.get(name, default)

    def done(self) -> None:
        extra = sorted(set(self.data) - self.used, key=str)
        if extra:
            allowed = ", ".join(sorted(self.used))
            raise ScenarioError(self.key(str(extra[0])), f"unknown key (allowed here: {allowed})")


@dataclass(frozen=True)
class Field:
    """One topology key: its parser (which carries a JSON-Schema fragment), its
    default (`...` = required) and a line of documentation. The loader reads keys
    through these tables and `fedsim schema` is generated from the same tables."""

    parse: Callable[[Any], Any]
    default: Any = ...
    doc: str = ""


def _typed(schema: dict[str, Any]) -> Callable[[Callable[[Any], T]], Callable[[Any], T]]:
    def mark(fn: Callable[[Any], T]) -> Callable[[Any], T]:
        fn.schema = schema  # type: ignore[attr-defined]
        return fn

    return mark


DURATION_SCHEMA: dict[str, Any] = parse_duration.schema  # type: ignore[attr-defined]
FRACTION_SCHEMA: dict[str, Any] = parse_fraction.schema  # type: ignore[attr-defined]


def _int(lo: int = 0) -> Callable[[Any], int]:
    @_typed({"type": "integer", "minimum": lo})
    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"expected a whole number, got {v!r}")
        if v < lo:
            raise ValueError(f"must be at least {lo}, got {v}")
        return v

    return parse


def _float(lo: float | None = None, hi: float | None = None) -> Callable[[Any], float]:
    schema: dict[str, Any] = {"type": "number"}
    if lo is not None:
        schema["minimum"] = lo
    if hi is not None:
        schema["maximum"] = hi

    @_typed(schema)
    def parse(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"expected a number, got {v!r}")
        x = float(v)
        if (lo is not None and x < lo) or (hi is not None and x > hi) or x != x:
            raise ValueError(f"must lie in [{lo}, {hi}], got {v}")
        return x

    return parse


def _str(choices: Iterable[str] | None = None) -> Callable[[Any], str]:
    options = tuple(choices) if choices is not None else None
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if options is not None:
        schema["enum"] = list(options)

    @_typed(schema)
    def parse(v: Any) -> str:
        if not isinstance(v, str) or not v:
            raise ValueError(f"expected a name, got {v!r}")
        if options is not None and v not in options:
            raise ValueError(f"{v!r} is not one of {', '.join(options)}")
        return v

    return parse


@_typed({"type": "boolean"})
def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


@_typed(DURATION_SCHEMA)
def _positive_duration(v: Any) -> float:
    x = parse_duration(v)
    if x <= 0:
        raise ValueError(f"must be positive, got {v!r}")
    return x


# --------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class TaskSpec:
    """What is learned. `options` are validated by the task builder (key path `task.*`)."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FLSpec:
    strategy: str = "fedavg"
    options: Mapping[str, Any] = field(default_factory=dict)
    rounds: int = 20
    clients_per_round: float = 1.0
    """A count (>= 1) or a fraction of the registered clients (< 1)."""
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
    time_limit_s: float | None = None
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


@dataclass(frozen=True)
class LinkClassSpec:
    name: str
    kind: str
    bandwidth_up_bps: float
    bandwidth_down_bps: float
    latency_s: float
    loss: float = 0.0
    loss_model: Mapping[str, Any] = field(default_factory=dict)
    jitter: Mapping[str, Any] = field(default_factory=dict)
    mtu: int = 1500
    queue_limit: int = 100
    shared: bool = False
    """All links of this class under one parent share the medium (a cell, a channel)."""
    half_duplex: bool = False
    duty_cycle: float = 1.0
    fidelity: str | None = None


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
    """Byzantine devices (validated by `tasks.adversary.parse_adversaries`)."""
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def device_nodes(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.kind == "device")

    @property
    def server(self) -> NodeSpec:
        return next(n for n in self.nodes if n.kind == "server")


# --------------------------------------------------------------------------- parsing
FIDELITIES = ("flow", "packet")
LINK_KINDS = ("wifi", "lora", "nbiot", "lte", "ethernet", "backhaul", "wired", "satellite", "ble")
CODECS = ("float32", "float16", "int8", "topk")


def _mapping(v: Any) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise ValueError(f"expected a mapping, got {v!r}")
    return dict(v)


_MAPPING = _typed({"type": "object"})(lambda v: _mapping(v))
_LOSS_MODEL = _typed({
    "type": "object",
    "properties": {
        "kind": {"enum": ["bernoulli", "gilbert-elliott"]},
        "p": FRACTION_SCHEMA, "r": FRACTION_SCHEMA, "1-h": FRACTION_SCHEMA, "1-k": FRACTION_SCHEMA,
    },
    "additionalProperties": False,
})(lambda v: _mapping(v))  # fmt: skip
_JITTER = _typed({
    "anyOf": [
        DURATION_SCHEMA,
        {"type": "object", "properties": {"kind": {"enum": ["uniform", "normal", "pareto"]},
         "max": DURATION_SCHEMA, "std": DURATION_SCHEMA, "scale": DURATION_SCHEMA,
         "alpha": {"type": "number", "exclusiveMinimum": 0}}, "additionalProperties": False},
    ]
})(lambda v: v)  # fmt: skip

LINK_FIELDS: dict[str, Field] = {
    "kind": Field(_str(LINK_KINDS), "wired", "link technology (plots colour by it)"),
    "bandwidth": Field(parse_bandwidth, None, "both directions, e.g. 20Mbps"),
    "bandwidth_up": Field(parse_bandwidth, None, "toward the server (overrides bandwidth)"),
    "bandwidth_down": Field(parse_bandwidth, None, "from the server (overrides bandwidth)"),
    "latency": Field(parse_duration, 0.0, "one-way propagation delay"),
    "loss": Field(parse_fraction, 0.0, "Bernoulli packet loss per direction"),
    "loss_model": Field(_LOSS_MODEL, None, "bursty loss: {kind: gilbert-elliott, p, r, 1-h, 1-k}"),
    "jitter": Field(_JITTER, None, "a duration (uniform up to it) or {kind, ...}"),
    "mtu": Field(_int(68), 1500, "bytes"),
    "queue": Field(_int(1), 100, "drop-tail queue limit in packets"),
    "shared": Field(_bool, False, "links of this class under one parent share one medium"),
    "half_duplex": Field(_bool, False, "up and down share one transmitter"),
    "duty_cycle": Field(parse_fraction, 1.0, "fraction of airtime a sender may use (LoRa 1%)"),
    "fidelity": Field(_str(FIDELITIES), None, "override the top-level fidelity"),
}


def _parse_link(name: str, sec: Section) -> LinkClassSpec:
    f = LINK_FIELDS
    bw = sec.field("bandwidth", f)
    up = sec.take("bandwidth_up", parse_bandwidth, bw)
    down = sec.take("bandwidth_down", parse_bandwidth, bw)
    if up is None or down is None:
        raise ScenarioError(
            sec.key("bandwidth"), "is required (or bandwidth_up and bandwidth_down)"
        )
    loss_model = sec.raw("loss_model") or {}
    if not isinstance(loss_model, Mapping):
        raise ScenarioError(sec.key("loss_model"), "expected a mapping")
    jitter = sec.raw("jitter") or {}
    if isinstance(jitter, str | int | float):
        jitter = {"kind": "uniform", "max": jitter}
    if not isinstance(jitter, Mapping):
        raise ScenarioError(sec.key("jitter"), "expected a duration or a mapping")
    spec = LinkClassSpec(
        name=name,
        kind=sec.field("kind", f),
        bandwidth_up_bps=up,
        bandwidth_down_bps=down,
        latency_s=sec.field("latency", f),
        loss=sec.field("loss", f),
        loss_model=dict(loss_model),
        jitter=dict(jitter),
        mtu=sec.field("mtu", f),
        queue_limit=sec.field("queue", f),
        shared=sec.field("shared", f),
        half_duplex=sec.field("half_duplex", f),
        duty_cycle=sec.field("duty_cycle", f),
        fidelity=sec.field("fidelity", f),
    )
    if spec.duty_cycle <= 0:
        raise ScenarioError(sec.key("duty_cycle"), "must be above 0%")
    sec.done()
    return spec


CONNECTIVITY_KINDS = ("always", "markov", "periodic", "trace", "churn")


def _range(parse: Callable[[Any], float], what: str) -> Callable[[Any], tuple[float, float]]:
    """A value, or `[low, high]` to draw from per device: `2h` -> (7200, 7200)."""
    one = parse.schema  # type: ignore[attr-defined]

    @_typed({"anyOf": [one, {"type": "array", "items": one, "minItems": 2, "maxItems": 2}]})
    def parse_range(v: Any) -> tuple[float, float]:
        if isinstance(v, list):
            if len(v) != 2:
                raise ValueError(f"expected a {what} or [low, high], got {v!r}")
            lo, hi = parse(v[0]), parse(v[1])
            if lo > hi:
                raise ValueError(f"the low end {v[0]!r} is above the high end {v[1]!r}")
            return lo, hi
        x = parse(v)
        return x, x

    return parse_range


_duration_range = _range(parse_duration, "duration")
_fraction_range = _range(parse_fraction, "fraction")


def _read_trace(key: str, file: str, base_dir: Path) -> tuple[tuple[float, float, str | None], ...]:
    """DOWN intervals from a CSV file: header `start,end` (optional `node`), `#` comments.

    Times are seconds or durations with units; an empty `end` means "never back".
    """
    path = Path(file) if Path(file).is_absolute() else base_dir / file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(key, f"cannot read trace file {str(path)!r} ({exc.strerror})") from None
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    lines = [(n, ln) for n, ln in lines if not ln.lstrip().startswith("#")]
    if not lines:
        raise ScenarioError(key, f"{file}: the trace file is empty (expected a start,end header)")
    first, header_line = lines[0]
    header = [h.strip().lower() for h in next(csv.reader([header_line]))]
    if header[:2] != ["start", "end"] or not set(header[2:]) <= {"node"} or len(header) > 3:
        raise ScenarioError(
            key, f"{file} line {first}: the header must be start,end (optionally ,node), "
            f"got {header_line.strip()!r}"
        )  # fmt: skip
    out: list[tuple[float, float, str | None]] = []
    for n, ln in lines[1:]:
        row = [c.strip() for c in next(csv.reader(io.StringIO(ln)))]
        if len(row) != len(header):
            raise ScenarioError(
                key, f"{file} line {n}: expected {len(header)} columns, got {len(row)}"
            )
        try:
            start = parse_duration(row[0])
            end = parse_duration(row[1]) if row[1] else float("inf")
        except FedsimError as exc:
            raise ScenarioError(key, f"{file} line {n}: {exc}") from None
        if end <= start:
            raise ScenarioError(
                key, f"{file} line {n}: end {row[1]!r} is not after start {row[0]!r}"
            )
        out.append((start, end, row[2] if len(row) > 2 and row[2] else None))
    return tuple(sorted(out, key=lambda r: (r[0], r[1], r[2] or "")))


CONNECTIVITY_FIELDS: dict[str, dict[str, Field]] = {
    "always": {},
    "markov": {
        "mean_up": Field(_positive_duration, doc="mean of the exponential up periods"),
        "mean_down": Field(_positive_duration, doc="mean of the exponential down periods"),
        "start_up": Field(_bool, True, "whether the node starts up"),
    },
    "periodic": {
        "period": Field(_positive_duration, doc="sleep cycle length (PSM-like)"),
        "awake": Field(_positive_duration, doc="awake time per cycle (random phase per node)"),
    },
    "trace": {"file": Field(_str(), doc="CSV of down intervals (start,end[,node])")},
    "churn": {"leave_after": Field(_duration_range, doc="leaves for good after this")},
}


def _parse_connectivity(sec: Section, base_dir: Path = Path(".")) -> ConnectivitySpec:
    kind = sec.take("kind", _str(CONNECTIVITY_KINDS), "always")
    f = CONNECTIVITY_FIELDS[kind]
    if kind == "markov":
        spec = ConnectivitySpec(
            kind=kind,
            mean_up_s=sec.field("mean_up", f),
            mean_down_s=sec.field("mean_down", f),
            start_up=sec.field("start_up", f),
        )
    elif kind == "periodic":
        spec = ConnectivitySpec(
            kind=kind, period_s=sec.field("period", f), awake_s=sec.field("awake", f)
        )
        if spec.awake_s > spec.period_s:
            raise ScenarioError(sec.key("awake"), "cannot be longer than period")
    elif kind == "trace":
        file = sec.field("file", f)
        spec = ConnectivitySpec(
            kind=kind, trace=_read_trace(sec.key("file"), file, base_dir), trace_file=file
        )
    elif kind == "churn":
        spec = ConnectivitySpec(
            kind=kind, churn_fraction=1.0, leave_after_s=sec.field("leave_after", f)
        )
    else:
        spec = ConnectivitySpec()
    sec.done()
    return spec


CHURN_FIELDS: dict[str, Field] = {
    "fraction": Field(parse_fraction, doc="share of the group that leaves for good"),
    "after": Field(_duration_range, None, "when they leave (a duration or [low, high])"),
    "between": Field(_duration_range, None, "same as after"),
}


def _parse_reachability(
    sec: Section, conn: ConnectivitySpec, device: DeviceProfile | None
) -> ConnectivitySpec:
    """A node group's `churn: {fraction, between}` and `initial_charge`, folded into `conn`."""
    if sec.has("churn"):
        churn = sec.sub("churn")
        if conn.kind == "churn":
            raise ScenarioError(churn.path, "the group already churns (connectivity kind churn)")
        fraction = churn.field("fraction", CHURN_FIELDS)
        if churn.has("after") == churn.has("between"):
            raise ScenarioError(churn.path, "names exactly one of after or between")
        span = churn.field("after", CHURN_FIELDS) or churn.field("between", CHURN_FIELDS)
        churn.done()
        conn = replace(conn, churn_fraction=fraction, leave_after_s=span)
    if sec.has("initial_charge"):
        charge = sec.field("initial_charge", NODE_FIELDS)
        if device is None or device.battery_j is None:
            what = "mains powered" if device is not None else "not a device"
            raise ScenarioError(sec.key("initial_charge"), f"this node has no battery ({what})")
        conn = replace(conn, initial_charge=charge)
    return conn


@_typed({"type": "number", "exclusiveMinimum": 0, "maximum": 1})
def _positive_fraction(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"expected a number, got {v!r}")
    if not 0.0 < float(v) <= 1.0:
        raise ValueError(f"must lie in (0, 1], got {v}")
    return float(v)


FL_FIELDS: dict[str, Field] = {
    "strategy": Field(_str(), "fedavg", "fedavg, fedprox, fedavgm, fedadam, fedyogi, "
                      "fedadagrad, median, trimmed_mean, krum"),
    "options": Field(_MAPPING, {}, "the strategy's own options, e.g. {mu: 0.01}"),
    "rounds": Field(_int(1), 20, "maximum number of rounds (aggregations)"),
    "clients_per_round": Field(_float(0.0), 1.0, "a count (>= 1) or a fraction (< 1)"),
    "min_available": Field(_int(1), 1, "wait for this many polling devices before a round"),
    "over_selection": Field(parse_fraction, 0.0, "select this much more, keep the first"),
    "selection": Field(_str(SELECTIONS), "uniform", "uniform, or reliability: "
                       "weight by (reports + 1) / (reports + failures + 2) (sync engine)"),
    "selection_floor": Field(_positive_fraction, 0.1, "reliability: least weight, in (0, 1]"),
    "deadline": Field(_positive_duration, 120.0, "a round waits at most this long"),
    "quorum": Field(parse_fraction, 0.5, "fraction of wanted reports needed to aggregate"),
    "target": Field(_float(), None, "stop once the metric reaches this"),
    "local": Field(_MAPPING, {}, "training config sent to clients (epochs, batch_size, lr, ...)"),
    "codec": Field(_str(CODECS), "float32", "uplink encoding"),
    "poll_wait": Field(_positive_duration, 30.0, "long-poll duration of an idle client"),
    "time_limit": Field(_positive_duration, None, "stop after this much simulated time"),
    "round_interval": Field(parse_duration, 0.0, "start rounds at most this often"),
    "gate_tolerance": Field(_float(0.0), None, "deploy only if at most this much worse"),
    "engine": Field(_str(("sync", "async")), "sync", "sync rounds or async FedBuff"),
}  # fmt: skip

ASYNC_FIELDS: dict[str, Field] = {
    "buffer": Field(_int(1), 10, "aggregate every K updates"),
    "concurrency": Field(_int(1), None, "at most this many clients training at once"),
    "max_staleness": Field(_int(0), 10, "reject updates staler than this (409)"),
    "server_lr": Field(_float(0.0), 1.0, "server step on the aggregated delta"),
    "staleness_exponent": Field(_float(0.0), 0.5, "weight (1 + staleness)^-a"),
}


def _parse_fl(sec: Section) -> FLSpec:
    f = FL_FIELDS
    spec = FLSpec(
        strategy=sec.field("strategy", f),
        options=sec.field("options", f),
        rounds=sec.field("rounds", f),
        clients_per_round=sec.field("clients_per_round", f),
        min_available=sec.field("min_available", f),
        over_selection=sec.field("over_selection", f),
        selection=sec.field("selection", f),
        selection_floor=sec.field("selection_floor", f),
        deadline_s=sec.field("deadline", f),
        quorum=sec.field("quorum", f),
        target=sec.field("target", f),
        local=sec.field("local", f),
        codec=sec.field("codec", f),
        poll_wait_s=sec.field("poll_wait", f),
        time_limit_s=sec.field("time_limit", f),
        round_interval_s=sec.field("round_interval", f),
        gate_tolerance=sec.field("gate_tolerance", f),
        engine=sec.field("engine", f),
        **_parse_async(sec.sub("async")),
    )
    if spec.clients_per_round <= 0:
        raise ScenarioError(sec.key("clients_per_round"), "must be positive")
    if spec.clients_per_round >= 1 and spec.clients_per_round != int(spec.clients_per_round):
        raise ScenarioError(
            sec.key("clients_per_round"), "a count must be whole (or < 1: a fraction)"
        )
    if spec.selection != "uniform" and spec.engine == "async":
        raise ScenarioError(
            sec.key("selection"),
            f"{spec.selection!r} needs the sync engine: async FedBuff has no selection step "
            "(every polling client gets a task, first come first served)",
        )
    sec.done()
    return spec


def _parse_async(sec: Section) -> dict[str, Any]:
    """`fl.async`: FedBuff's buffer size K, concurrency, staleness bound, server step."""
    out = {key: sec.field(key, ASYNC_FIELDS) for key in ASYNC_FIELDS}
    if out["server_lr"] <= 0:
        raise ScenarioError(sec.key("server_lr"), "must be positive")
    sec.done()
    return out


UPLINK_FIELDS: dict[str, Field] = {
    "to": Field(_str(), doc="the parent node (a gateway or the server)"),
    "link": Field(_str(), doc="a link class from `links`"),
}
NODE_FIELDS: dict[str, Field] = {
    "name": Field(_str(), doc="node name; a group of count N expands to name-1..name-N"),
    "kind": Field(_str(("server", "gateway", "device")), doc="role in the tree"),
    "count": Field(_int(1), 1, "how many devices this item stands for"),
    "device": Field(_str(), None, "device profile (devices need one)"),
    "initial_charge": Field(_fraction_range, None, "battery level at start, or [low, high]"),
}


def _parse_nodes(
    items: object,
    links: Mapping[str, LinkClassSpec],
    devices: Mapping[str, DeviceProfile],
    base_dir: Path = Path("."),
) -> tuple[NodeSpec, ...]:
    if not isinstance(items, list) or not items:
        raise ScenarioError("nodes", "expected a non-empty list of nodes")
    nodes: list[NodeSpec] = []
    raw_parents: list[tuple[str, str | None]] = []
    for i, item in enumerate(items):
        sec = Section(f"nodes[{i}]", item)
        name = sec.field("name", NODE_FIELDS)
        kind = sec.field("kind", NODE_FIELDS)
        count = sec.field("count", NODE_FIELDS)
        device = sec.field("device", NODE_FIELDS)
        if kind == "device" and device is None:
            raise ScenarioError(sec.key("device"), "a device node needs a device profile")
        if device is not None and device not in devices:
            known = ", ".join(sorted(devices))
            raise ScenarioError(
                sec.key("device"), f"unknown device profile {device!r} (known: {known})"
            )
        parent: str | None = None
        link_class: str | None = None
        if kind != "server":
            up = sec.sub("uplink")
            parent = up.field("to", UPLINK_FIELDS)
            link_class = up.field("link", UPLINK_FIELDS)
            if link_class not in links:
                known = ", ".join(sorted(links)) or "none defined"
                raise ScenarioError(up.key("link"), f"unknown link {link_class!r} (links: {known})")
            up.done()
        elif sec.has("uplink"):
            raise ScenarioError(sec.key("uplink"), "the server has no uplink")
        conn = _parse_connectivity(sec.sub("connectivity"), base_dir)
        conn = _parse_reachability(sec, conn, devices.get(device) if device else None)
        sec.done()
        if count > 1 and kind != "device":
            raise ScenarioError(f"nodes[{i}].count", "only device groups can have a count")
        names = (
            [name]
            if count == 1
            else [f"{name}-{j:0{len(str(count))}d}" for j in range(1, count + 1)]
        )
        for n in names:
            nodes.append(NodeSpec(n, kind, parent, link_class, device, conn, name))
            raw_parents.append((f"nodes[{i}].uplink.to", parent))
    seen: set[str] = set()
    for i, node in enumerate(nodes):
        if node.name in seen:
            raise ScenarioError(f"nodes[{i}].name", f"duplicate node name {node.name!r}")
        seen.add(node.name)
    servers = [n for n in nodes if n.kind == "server"]
    if len(servers) != 1:
        raise ScenarioError("nodes", f"needs exactly one server node, found {len(servers)}")
    kinds = {n.name: n.kind for n in nodes}
    for (path, parent), node in zip(raw_parents, nodes, strict=True):
        if parent is None:
            continue
        if parent not in kinds:
            raise ScenarioError(path, f"unknown node {parent!r}")
        if kinds[parent] == "device":
            raise ScenarioError(
                path, f"{parent!r} is a device; uplinks go to a gateway or the server"
            )
        if parent == node.name:
            raise ScenarioError(path, "a node cannot be its own uplink")
    _check_acyclic(nodes)
    if not any(n.kind == "device" for n in nodes):
        raise ScenarioError("nodes", "has no device nodes")
    return tuple(nodes)


def _check_acyclic(nodes: list[NodeSpec]) -> None:
    parent = {n.name: n.parent for n in nodes}
    for n in nodes:
        seen, cur = set(), n.name
        while cur is not None:
            if cur in seen:
                raise ScenarioError("nodes", f"uplinks form a loop through {cur!r}")
            seen.add(cur)
            cur = parent[cur]


def _failure_targets(
    key: str, items: object, nodes: tuple[NodeSpec, ...], *, link_names: bool
) -> tuple[str, ...]:
    """Node, group (or, with `link_names`, `child-parent` link) names -> child nodes."""
    if not isinstance(items, list) or not items:
        raise ScenarioError(key, "expected a non-empty list of node or group names")
    links = {f"{n.name}-{n.parent}": n.name for n in nodes if n.parent is not None}
    out: list[str] = []
    for j, item in enumerate(items):
        if not isinstance(item, str):
            raise ScenarioError(f"{key}[{j}]", f"expected a name, got {item!r}")
        found = [n.name for n in nodes if item in (n.name, n.group)]
        if not found and link_names and item in links:
            found = [links[item]]
        if not found:
            what = "node, group or link" if link_names else "node or group"
            raise ScenarioError(f"{key}[{j}]", f"unknown {what} {item!r}")
        if any(n.kind == "server" and n.name in found for n in nodes):
            raise ScenarioError(f"{key}[{j}]", "the server has no uplink to cut")
        out.extend(f for f in found if f not in out)
    return tuple(out)


_NAMES = _typed({"type": "array", "items": {"type": "string"}, "minItems": 1})(lambda v: v)
FAILURE_FIELDS: dict[str, Field] = {
    "at": Field(parse_duration, doc="when it starts"),
    "duration": Field(_positive_duration, doc="how long it lasts"),
    "node": Field(_str(), None, "a node or group that goes down (all its links)"),
    "link": Field(_str(), None, "a node or group whose uplink goes down"),
    "partition": Field(_NAMES, None, "nodes or groups whose uplinks are cut together"),
    "links": Field(_NAMES, None, "links (child-parent) or nodes cut together"),
    "name": Field(_str(), None, "a partition's name (its dropout cause)"),
}


def _parse_failures(items: object, nodes: tuple[NodeSpec, ...]) -> tuple[FailureSpec, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ScenarioError("failures", "expected a list")
    names = {n.name: n for n in nodes}
    groups = {n.group for n in nodes}
    out: list[FailureSpec] = []
    partitions: set[str] = set()
    for i, item in enumerate(items):
        sec = Section(f"failures[{i}]", item)
        f = FAILURE_FIELDS
        at = sec.field("at", f)
        duration = sec.field("duration", f)
        node = sec.field("node", f)
        link = sec.field("link", f)
        part_items = sec.raw("partition")
        link_items = sec.raw("links")
        label = sec.field("name", f)
        sec.done()
        given = [k for k, v in (("node", node), ("link", link), ("partition", part_items),
                                ("links", link_items)) if v is not None]  # fmt: skip
        if len(given) != 1:
            raise ScenarioError(sec.path, "names exactly one of node, link, partition or links")
        if given[0] in ("partition", "links"):
            cut = _failure_targets(
                sec.key(given[0]),
                part_items if given[0] == "partition" else link_items,
                nodes,
                link_names=given[0] == "links",
            )
            pname = label or str(i)
            if pname in partitions:
                raise ScenarioError(sec.key("name"), f"duplicate partition name {pname!r}")
            partitions.add(pname)
            out.append(FailureSpec(at, duration, "partition", pname, cut))
            continue
        if label is not None:
            raise ScenarioError(sec.key("name"), "only a partition or links failure has a name")
        target, name = ("node", node) if node is not None else ("link", link)
        assert name is not None
        targets = [name] if name in names else [n.name for n in nodes if n.group == name]
        if not targets or (name not in names and name not in groups):
            raise ScenarioError(sec.key(target), f"unknown node {name!r}")
        if target == "link" and any(names[t].kind == "server" for t in targets):
            raise ScenarioError(sec.key("link"), "the server has no uplink")
        out.extend(FailureSpec(at, duration, target, t) for t in targets)
    return tuple(out)


ROOT_FIELDS: dict[str, Field] = {
    "name": Field(_str(), None, "run name (default: the file name)"),
    "seed": Field(_int(0), 0, "the one seed every random stream derives from"),
    "description": Field(_typed({"type": "string"})(lambda v: str(v).strip()), "", "free text"),
    "fidelity": Field(_str(FIDELITIES), "flow", "flow (closed-form TCP per message) or packet"),
}
TASK_FIELDS: dict[str, Field] = {
    "kind": Field(_str(), doc="digits, synthetic, cartpole, energy_harvesting, multichannel; "
                  "other keys are the task's options (docs/topology.md, docs/rl.md)"),
}  # fmt: skip


def parse_scenario(
    data: object, *, source: str = "<topology>", base_dir: str | Path | None = None
) -> Scenario:
    """Validate a topology mapping (already YAML-loaded) into a `Scenario`.

    Files the topology names (connectivity traces) are read relative to `base_dir`
    (the topology file's folder; the working directory when None).
    """
    root = Section("", data)
    name = root.take("name", _str(), Path(source).stem)
    seed = root.field("seed", ROOT_FIELDS)
    description = root.field("description", ROOT_FIELDS)
    fidelity = root.field("fidelity", ROOT_FIELDS)

    task_sec = root.sub("task")
    kind = task_sec.field("kind", TASK_FIELDS)
    task_sec.used.update(task_sec.data)  # the task builder validates its own options
    task = TaskSpec(kind, {k: v for k, v in task_sec.data.items() if k != "kind"})

    fl = _parse_fl(root.sub("fl"))

    devices: dict[str, DeviceProfile] = dict(BUILTIN_DEVICES)
    dev_sec = root.sub("devices")
    for dname in dev_sec.data:
        devices[str(dname)] = dev_sec.take(
            dname, lambda v, d=str(dname): parse_device(d, v, f"devices.{d}")
        )
    dev_sec.done()

    links_sec = root.sub("links")
    links: dict[str, LinkClassSpec] = {}
    for lname in links_sec.data:
        links[str(lname)] = _parse_link(str(lname), links_sec.sub(str(lname)))
    links_sec.done()

    nodes = _parse_nodes(root.raw("nodes"), links, devices, Path(base_dir or "."))
    failures = _parse_failures(root.raw("failures"), nodes)
    adversaries = root.raw("adversaries")
    root.done()

    n_devices = sum(1 for n in nodes if n.kind == "device")
    if fl.min_available > n_devices:
        raise ScenarioError(
            "fl.min_available", f"is {fl.min_available} but the topology has {n_devices} devices"
        )
    if fl.clients_per_round >= 1 and fl.clients_per_round > n_devices:
        raise ScenarioError(
            "fl.clients_per_round",
            f"is {int(fl.clients_per_round)} but the topology has {n_devices} devices",
        )
    return Scenario(
        name=name,
        seed=seed,
        description=description,
        fidelity=fidelity,
        task=task,
        fl=fl,
        devices=devices,
        links=links,
        nodes=nodes,
        failures=failures,
        adversaries=adversaries,
        raw=copy.deepcopy(data) if isinstance(data, Mapping) else {},
    )


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `key.path=value` strings (value read as YAML) to a copy of `data`.

    List items are addressed by index (`nodes.2.count=50`); missing mapping keys are
    created (the loader then rejects names it does not know).
    """
    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(item, "an override is key.path=value")
        path, _, text = item.partition("=")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        parts = [p for p in path.strip().split(".") if p]
        if not parts:
            raise ScenarioError(item, "an override needs a key path")
        cur: Any = out
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(cur, list):
                if not part.isdigit() or int(part) >= len(cur):
                    raise ScenarioError(where, f"no list item {part!r} (the list has {len(cur)})")
                if last:
                    cur[int(part)] = value
                else:
                    cur = cur[int(part)]
            elif isinstance(cur, dict):
                if last:
                    cur[part] = value
                else:
                    if cur.get(part) is None:
                        cur[part] = {}
                    cur = cur[part]
            else:
                raise ScenarioError(where, "cannot set a key inside a plain value")
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a topology file as a mapping, within fedsim.topology_file's limits."""
    return read_topology(path)


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), seed: int | None = None
) -> Scenario:
    """Load, override and validate a topology file."""
    data = apply_overrides(load_yaml(path), overrides)
    if seed is not None:
        data["seed"] = seed
    return parse_scenario(data, source=str(path), base_dir=Path(path).parent)

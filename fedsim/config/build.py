"""A validated `Topology` -> the frozen `Scenario` dataclasses the simulator reads."""

from __future__ import annotations

import contextlib
import copy
import gc
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fedsim.config.errors import to_scenario_error
from fedsim.config.nodes import NodeItem
from fedsim.config.topology import Topology
from fedsim.net.radio_table import radio_profile
from fedsim.scenario import (
    ConnectivitySpec,
    FailureSpec,
    FLSpec,
    LinkClassSpec,
    NodeSpec,
    Scenario,
    TaskSpec,
)

__all__ = ["to_scenario", "validate_model", "validate_topology"]


def validate_model(
    data: object, *, source: str = "<topology>", base_dir: str | Path | None = None
) -> Topology:
    """The typed model of `data`, or the first mistake as a one-line `ScenarioError`."""
    context = {"base_dir": str(base_dir or "."), "source": source}
    try:
        return Topology.model_validate(data, context=context)
    except ValidationError as exc:
        raise to_scenario_error(exc, data) from None


def validate_topology(
    data: object, *, source: str = "<topology>", base_dir: str | Path | None = None
) -> Scenario:
    model = validate_model(data, source=source, base_dir=base_dir)
    return to_scenario(model, data, source=source)


def _links(model: Topology) -> dict[str, LinkClassSpec]:
    return {
        name: LinkClassSpec(
            name=name,
            kind=lc.kind,
            bandwidth_up_bps=lc.up_bps,
            bandwidth_down_bps=lc.down_bps,
            latency_s=lc.latency,
            loss=lc.loss,
            loss_model=lc.loss_model,
            jitter=lc.jitter,
            mtu=lc.mtu,
            queue_limit=lc.queue,
            shared=lc.shared,
            half_duplex=lc.half_duplex,
            duty_cycle=lc.duty_cycle,
            fidelity=lc.fidelity,
            radio=radio_profile(lc.kind, lc.up_bps, lc.down_bps, lc.radio),
        )
        for name, lc in model.links.items()
    }


def _connectivity(item: NodeItem) -> ConnectivitySpec:
    c = item.connectivity
    kind = getattr(c, "kind", "always")
    spec = ConnectivitySpec()
    if kind == "markov":
        spec = ConnectivitySpec(kind, mean_up_s=c.mean_up, mean_down_s=c.mean_down,
                                start_up=c.start_up)  # fmt: skip
    elif kind == "periodic":
        spec = ConnectivitySpec(kind, period_s=c.period, awake_s=c.awake)
    elif kind == "trace":
        spec = ConnectivitySpec(kind, trace=c.rows, trace_file=c.file)
    elif kind == "churn":
        spec = ConnectivitySpec(kind, churn_fraction=1.0, leave_after_s=tuple(c.leave_after))
    fields: dict[str, Any] = {}
    if item.churn is not None:
        fields.update(churn_fraction=item.churn.fraction, leave_after_s=tuple(item.churn.span))
    if item.initial_charge is not None:
        fields["initial_charge"] = tuple(item.initial_charge)
    return replace(spec, **fields) if fields else spec


def _nodes(model: Topology) -> tuple[NodeSpec, ...]:
    out: list[NodeSpec] = []
    for item in model.nodes:
        conn = _connectivity(item)
        parent = item.uplink.to if item.uplink is not None else None
        link = item.uplink.link if item.uplink is not None else None
        first = NodeSpec(item.name, item.kind, parent, link, item.device, conn, item.name)
        out.extend(_copies(first, item.expanded_names()))
    return tuple(out)


def _copies(template: NodeSpec, names: list[str]) -> list[NodeSpec]:
    """`template` under each name: a group of 100000 devices is built in a few tens of
    milliseconds (a frozen dataclass's __init__ sets its fields one by one, ~8x slower)."""
    fields = dict(template.__dict__)
    out = []
    for name in names:
        node = object.__new__(NodeSpec)
        node.__dict__.update(fields, name=name)
        out.append(node)
    return out


def _failures(model: Topology) -> tuple[FailureSpec, ...]:
    out: list[FailureSpec] = []
    for i, f in enumerate(model.failures):
        if f.target in ("partition", "links"):
            cut: list[str] = []
            for item in (f.partition if f.target == "partition" else f.links) or []:
                found = model.resolve(item, link_names=f.target == "links") or []
                cut.extend(n for n in found if n not in cut)
            out.append(FailureSpec(f.at, f.duration, "partition", f.name or str(i), tuple(cut)))
            continue
        name = f.node if f.target == "node" else f.link
        out.extend(
            FailureSpec(f.at, f.duration, f.target, target)
            for target in model.resolve(name or "") or []
        )
    return tuple(out)


def _fl(model: Topology) -> FLSpec:
    fl = model.fl
    a = fl.async_
    return FLSpec(
        strategy=fl.strategy,
        options=fl.strategy_options(),
        rounds=fl.rounds,
        clients_per_round=model.clients_per_round,
        min_available=fl.min_available,
        over_selection=fl.over_selection,
        selection=fl.selection,
        selection_floor=fl.selection_floor,
        deadline_s=fl.deadline,
        quorum=fl.quorum,
        target=fl.target,
        local=fl.local.config(),
        codec=fl.codec,
        poll_wait_s=fl.poll_wait,
        task_on_answer=fl.task_on_answer,
        server_keepalive_s=fl.server_keepalive,
        request_timeout_s=fl.request_timeout,
        time_limit_s=fl.time_limit,
        stall_limit_s=fl.stall_limit,
        round_interval_s=fl.round_interval,
        gate_tolerance=fl.gate_tolerance,
        engine=fl.engine,
        buffer=a.buffer,
        concurrency=a.concurrency,
        max_staleness=a.max_staleness,
        server_lr=a.server_lr,
        staleness_exponent=a.staleness_exponent,
        transport=fl.transport,
        coap=fl.coap.model_dump(),
    )


@contextlib.contextmanager
def _paused_gc() -> Iterator[None]:
    """A build makes one object per device, none in a cycle; the cyclic collector
    would rescan them again and again (2-4x the build time at 100000 devices)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def to_scenario(model: Topology, data: object, *, source: str = "<topology>") -> Scenario:
    """The simulator's view of a validated model (trace files were read by the model,
    relative to the `base_dir` it was validated with)."""
    with _paused_gc():
        return _scenario(model, data, source=source)


def _scenario(model: Topology, data: object, *, source: str) -> Scenario:
    raw = data if isinstance(data, Mapping) else {}
    task_raw = raw.get("task") or {}
    return Scenario(
        name=model.name or Path(source).stem,
        seed=model.seed,
        description=model.description,
        fidelity=model.fidelity,
        hystart=model.tcp.hystart,
        task=TaskSpec(model.task.kind, {k: v for k, v in task_raw.items() if k != "kind"}),
        fl=_fl(model),
        devices=dict(model.profiles),
        links=_links(model),
        nodes=_nodes(model),
        failures=_failures(model),
        adversaries=dict(raw["adversaries"]) if raw.get("adversaries") is not None else None,
        raw=copy.deepcopy(dict(raw)),
        warnings=tuple(model.warnings),
    )

"""Warnings: things a topology may legally say that are almost certainly not meant.
Each is one line starting with its key path; `validate` and `run` print them on
stderr (`fedsim: warning: ...`) and carry on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fedsim.config.topology import Topology

__all__ = ["ASYNC_IGNORES", "advice"]

ASYNC_IGNORES = (
    "clients_per_round",
    "min_available",
    "quorum",
    "over_selection",
    "round_interval",
    "selection_floor",
)
"""Sync-round keys the async engine (FedBuff) has no use for: every polling client gets
a task while fewer than `fl.async.concurrency` train, and every `buffer` updates make an
aggregation."""


def advice(topology: Topology) -> list[str]:
    return [*_federation(topology), *_links(topology), *_churn(topology)]


def _federation(topology: Topology) -> list[str]:
    fl = topology.fl
    given = fl.model_fields_set
    out: list[str] = []
    if fl.engine == "async":
        ignored = [k for k in ASYNC_IGNORES if k in given]
        if ignored:
            keys = ", ".join(f"fl.{k}" for k in ignored)
            out.append(
                f"{keys}: not used by fl.engine async (FedBuff gives every polling client a "
                "task, up to fl.async.concurrency, and aggregates every fl.async.buffer "
                "updates); drop them or use fl.engine sync"
            )
        if fl.strategy != "fedavg":
            out.append(
                f"fl.strategy: {fl.strategy} is not used by fl.engine async (FedBuff "
                "aggregates by its own rule, fl.async)"
            )
    elif "clients_per_round" not in given and topology.device_count > 1:
        out.append(
            f"fl.clients_per_round: not set, so each round trains 1 of the "
            f"{topology.device_count} devices; write a count, or 100% for every online device"
        )
    if "coap" in given and fl.transport != "coap":
        out.append(f"fl.coap: CoAP settings, but fl.transport is {fl.transport}: they are not used")
    return out


def _links(topology: Topology) -> list[str]:
    return [
        f"links.{name}.loss: 100% loses every packet: nothing ever crosses a {name} link"
        for name, link in topology.links.items()
        if link.loss >= 1.0 and getattr(link.loss_model, "kind", "bernoulli") == "bernoulli"
    ]


def _churn(topology: Topology) -> list[str]:
    out: list[str] = []
    for i, item in enumerate(topology.nodes):
        churn = item.churn
        if churn is None:
            continue
        leaving = min(item.count, int(churn.fraction * item.count + 0.5))
        if leaving == 0:
            out.append(
                f"nodes[{i}].churn.fraction: {churn.fraction * 100:g}% of {item.count} "
                f"devices rounds to 0, so no device of {item.name!r} leaves (round(fraction "
                f"x count), half up: {50 / item.count:.3g}% or more makes one leave)"
            )
    return out

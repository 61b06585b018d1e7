"""A caveat for compared runs whose network was modelled differently.

Two runs that differ in `fidelity` (flow or packet) or `fl.transport` (http, coap,
mqtt) measure their bytes and energy through different models: on a contended shared
medium flow fidelity undercounts idle energy and has no drop-tail losses
(docs/network-model.md, "Flow and packet over whole runs"), and each transport's
protocol and header rows hold its own protocol (HTTP, CoAP, MQTT) and headers (TCP/IP
or UDP/IP). A ratio between such runs is partly the model's, so `fedsim compare` says
so in one line, as it names unaudited runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["model_caveat"]


def _transport(run: Any) -> str:
    fl = run.config.get("fl") if isinstance(run.config, dict) else None
    value = fl.get("transport") if isinstance(fl, dict) else None
    return str(value or "http")


def _fidelity(run: Any) -> str:
    return str(run.summary.get("fidelity") or "flow")


def _groups(values: list[str], labels: list[str]) -> str:
    """`flow (`a`, `b`) vs packet (`c`)`: each value with the runs that have it."""
    groups: dict[str, list[str]] = {}
    for value, label in zip(values, labels, strict=True):
        groups.setdefault(value, []).append(label)

    def who(names: list[str]) -> str:
        shown = ", ".join(f"`{n}`" for n in names[:3])
        return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")

    return " vs ".join(f"{value} ({who(names)})" for value, names in groups.items())


def model_caveat(runs: list[Any], labels: list[str]) -> str | None:
    """One line if the runs differ in fidelity or transport; None if they do not."""
    parts = []
    fidelities = [_fidelity(r) for r in runs]
    if len(set(fidelities)) > 1:
        parts.append(
            f"fidelity {_groups(fidelities, labels)}: on a contended shared medium flow "
            "undercounts idle energy and has no drop-tail losses (docs/network-model.md, "
            '"Flow and packet over whole runs")'
        )
    transports = [_transport(r) for r in runs]
    if len(set(transports)) > 1:
        parts.append(
            f"fl.transport {_groups(transports, labels)}: the protocol and TCP/IP rows hold "
            "each run's own protocol and headers (docs/transports.md)"
        )
    if not parts:
        return None
    return (
        "runs differ in how the network was modelled, so their byte and energy ratios are "
        f"partly the model's: {'; '.join(parts)}"
    )

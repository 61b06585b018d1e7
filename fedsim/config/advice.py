"""Warnings: things a topology may legally say that are almost certainly not meant.
Each is one line starting with its key path; `validate` and `run` print them on
stderr (`fedsim: warning: ...`) and carry on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fedsim.config.links import LinkClass
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
    return [
        *_federation(topology),
        *_ignored(topology),
        *_defence(topology),
        *_links(topology),
        *_fidelity(topology),
        *_churn(topology),
    ]


def _fidelity(topology: Topology) -> list[str]:
    """`fidelity` picks how TCP is modelled (flow or packet); CoAP sends datagrams, which
    fedsim models one by one whatever it says (fedsim.fidelity_used), so a CoAP file
    that sets it, e.g. to compare the two, would compare a run with itself."""
    if topology.fl.transport != "coap":
        return []
    keys = ["fidelity"] if "fidelity" in topology.model_fields_set else []
    keys += [f"links.{n}.fidelity" for n, link in topology.links.items() if link.fidelity]
    return [
        f"{key}: fl.transport coap sends datagrams, modelled one by one whatever fidelity "
        "says: this setting changes nothing (summary.json records fidelity: datagram)"
        for key in keys
    ]


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
    unused = [k for k in _NOT_FOR_TRANSPORT.get(fl.transport, ()) if k in given]
    if unused:
        keys = ", ".join(f"fl.{k}" for k in unused)
        out.append(f"{keys}: not used by fl.transport {fl.transport} ({_WHY[fl.transport]})")
    return out


_NOT_FOR_TRANSPORT = {
    "coap": ("task_on_answer", "server_keepalive", "request_timeout"),
    "mqtt": ("task_on_answer", "server_keepalive"),
}
"""HTTP's keys a transport has no use for."""

_WHY = {
    "coap": "HTTP settings: CoAP over UDP has no requests that carry a task, no connection "
    "to keep alive and its own retransmission timers, fl.coap",
    "mqtt": "HTTP settings: tasks arrive as published messages, the broker keeps the link",
}


def _ignored(topology: Topology) -> list[str]:
    """Keys the chosen engine, selection or task does not read. `fl.async` beside an
    explicit `fl.engine: sync` is a prepared switch (topologies/stragglers.yaml), not a
    mistake; unlike sync keys under async, the async block is all one engine's."""
    from fedsim.config.task_reads import task_reads

    fl = topology.fl
    given = fl.model_fields_set
    out: list[str] = []
    if fl.engine == "sync" and "async_" in given and "engine" not in given:
        out.append(
            "fl.async: FedBuff settings, but fl.engine is sync (the default): they are not "
            "used; write fl.engine: async to use them (or fl.engine: sync to keep both)"
        )
    if fl.engine == "sync" and fl.selection == "uniform" and "selection_floor" in given:
        out.append(
            "fl.selection_floor: only fl.selection reliability reads it; selection is "
            "uniform, so it is not used"
        )
    out.extend(_task_ignored(topology))
    out.extend(task_reads(topology))  # raises for a strategy term the task lacks
    return out


def _task_ignored(topology: Topology) -> list[str]:
    """Task options the chosen split does not read: a sweep of `task.alpha` under
    `partition: iid` would measure nothing. A warning, not an error: a sweep over
    `task.partition` keeps one `alpha` in its base file for its dirichlet points."""
    from fedsim.config.classifier_tasks import DigitsOptions, SyntheticOptions

    task = topology.task
    given = task.model_fields_set
    out: list[str] = []
    if isinstance(task, DigitsOptions):
        for key, reader in (("alpha", "dirichlet"), ("shards_per_client", "shards")):
            if key in given and task.partition != reader:
                out.append(
                    f"task.{key}: only partition {reader} reads it; partition is "
                    f"{task.partition}, so it is not used"
                )
    elif isinstance(task, SyntheticOptions) and task.iid:
        unused = [k for k in ("alpha", "beta") if k in given]
        if unused:
            keys = ", ".join(f"task.{k}" for k in unused)
            out.append(
                f"{keys}: iid: true gives every device one labelling model and one feature "
                "distribution, so they are not used"
            )
    return out


def _defence(topology: Topology) -> list[str]:
    """Robust strategies whose defence the round size weakens: Krum needs f + 3 updates
    (it lowers f otherwise) and 2f + 3 for its guarantee, the trimmed mean trims
    floor(beta x k) per side."""
    fl = topology.fl
    if fl.engine != "sync" or fl.strategy not in ("krum", "trimmed_mean"):
        return []
    wanted = fl.clients_per_round
    devices = topology.device_count
    share = isinstance(wanted, float)  # a count is an int (fedsim.config.fl)
    k = min(devices, max(1, round(wanted * devices)) if share else int(wanted))
    options = {**fl.local.config(), **fl.options}
    where = "fl.strategy"
    if fl.strategy == "krum":
        f = int(options.get("f", 1))
        if f + 3 > k:
            runs = max(0, k - 3)
            return [
                f"{where}.f: krum tolerates f={f} Byzantine updates only with at least "
                f"{f + 3} a round, but rounds bring at most {k} (fl.clients_per_round): "
                f"it runs with f={runs}; lower f or raise fl.clients_per_round"
            ]
        if 2 * f + 3 > k:
            return [
                f"{where}.f: krum's guarantee against f={f} Byzantine updates needs at least "
                f"2f + 3 = {2 * f + 3} a round (Blanchard et al. 2017), but rounds bring at "
                f"most {k} (fl.clients_per_round): it runs, without that guarantee"
            ]
        return []
    beta = float(options.get("beta", 0.1))
    if beta > 0 and int(beta * k) == 0:
        return [
            f"{where}.beta: trimmed_mean trims floor({beta:g} x {k}) = 0 updates per side "
            f"with at most {k} a round (fl.clients_per_round): nothing is trimmed; raise "
            f"beta to at least {1 / k:.3g} or fl.clients_per_round"
        ]
    return []


def _links(topology: Topology) -> list[str]:
    out = [
        f"links.{name}.loss: 100% loses every packet: nothing ever crosses any {name} link"
        for name, link in topology.links.items()
        if link.loss >= 1.0 and getattr(link.loss_model, "kind", "bernoulli") == "bernoulli"
    ]
    for name, link in topology.links.items():
        if link.kind == "lora":
            out.extend(_lora_rates(name, link))
    return out


LORA_RATE_TOLERANCE = 0.05
"""How far a LoRa link's bandwidth may lie from the rate its spreading factor runs at
before a warning says so. The shipped files write LoRaWAN's nominal DR rates (250 bit/s
for SF12, which runs at 244; 1 kbit/s for SF10 at 977): within 2.5 %."""


def _lora_rates(name: str, link: LinkClass) -> list[str]:
    """A LoRa link runs at its spreading factor's rate, whatever its `bandwidth` says
    (docs/energy.md, "One airtime"): 7 kbps runs as SF7's 5468.75 bit/s, so a sweep of
    `bandwidth` between 4.5 and 7 kbps measures nothing. Say so where it is far off."""
    from fedsim.net.radio_table import lora_framings

    framings = lora_framings(link.up_bps, link.down_bps, link.radio)
    given = [
        (direction if getattr(link, direction) is not None else "bandwidth", bps, framing)
        for direction, bps, framing in zip(
            ("bandwidth_up", "bandwidth_down"),
            (link.up_bps, link.down_bps),
            framings,
            strict=True,
        )
    ]
    if given[0][0] == given[1][0]:  # one `bandwidth` for both directions: one line
        given = given[:1]
    out = []
    for key, bps, framing in given:
        runs = 8.0 / framing.per_byte_s
        if abs(bps / runs - 1.0) > LORA_RATE_TOLERANCE:
            off = abs(runs / bps - 1) * 100
            out.append(
                f"links.{name}.{key}: {bps:g} bit/s runs as SF{framing.sf}'s {runs:.6g} bit/s "
                f"({off:.0f}% {'faster' if runs > bps else 'slower'} than written): a LoRa "
                f"link's bandwidth only picks its spreading factor, whose rate it runs at; "
                f"write {_rate_text(runs)}"
            )
    return out


def _rate_text(bps: float) -> str:
    return f"{bps / 1e3:.4g}kbps" if bps >= 1e3 else f"{bps:.4g}bps"


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

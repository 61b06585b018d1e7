"""The results schema: one typed row per table of a results folder.

Why one place: the writer, every reader (compare, plots, report, sweep aggregation), the
auditor and the test fixtures used to carry their own column lists, and a word like
`dropouts` drifted to two meanings. Every field here carries its type (the annotation), its
unit and a one-line meaning; docs/results.md is generated from them (`make results-doc`,
checked by tests/test_results_schema.py). Rows are frozen dataclasses that also read as
mappings (`row["bytes_up"]`), so generic code (CSV writer, HTML tables) needs no column list.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DROPOUT_CAUSES",
    "LEDGER_SCOPES",
    "NEVER_CONTRIBUTED_MIN_SELECTED",
    "PACKET_FATES",
    "TABLES",
    "ClientRow",
    "Column",
    "LedgerRow",
    "LinkRow",
    "Record",
    "RoundRow",
    "Summary",
    "TimelineRow",
    "cause_column",
    "columns",
    "dropout_columns",
]

DROPOUT_CAUSES: dict[str, str] = {
    "deadline": "no upload before the round's deadline (or the async task's `deadline_s`)",
    "time_limit": "no upload when `fl.time_limit` closed the round, before its deadline "
    "(the run ends at the limit)",
    "run_stopped": "no upload when the run was stopped early (summary.json `end_reason`: "
    "`stall_limit`, ...), which closed the round before its deadline",
    "aborted": "the upload started but its connection broke before the body arrived",
    "request_timeout": "the client abandoned an exchange during the task: it took longer "
    "than `fl.request_timeout` past the long poll (a slow path's download or upload; "
    "`fedsim show` estimates them)",
    "coap_gave_up": "CoAP: an exchange during the task got no ACK after "
    "`fl.coap.max_retransmit` retransmissions (loss on the path; not a request timeout: "
    "`fl.coap.ack_timeout`, `fl.coap.max_retransmit` and the loss decide it)",
    "rejected": "the server refused the upload (malformed, non-finite, wrong version, "
    "a delta on a base it no longer holds)",
    "stale": "async: the update was more than `max_staleness` versions old",
    "lost": "async: the client polled again with its task still out (task or upload lost)",
    "link_down": "a link on the device's path was down during the task",
    "partition": "a scheduled partition cut the device's path",
    "device_offline": "the device itself was offline (connectivity process, PSM sleep)",
    "device_failure": "a scheduled failure of the device",
    "gateway_down": "a gateway on the device's path was down",
    "server_down": "the server node was down",
    "battery": "a battery on the path ran dry (the node left for good)",
    "churn": "a node on the path left the federation for good (churn)",
    "other": "any cause not listed above (a newer network cause; see rounds.csv)",
}
"""The fixed, documented causes of a dropout. `other` catches a cause this list lacks."""

PACKET_FATES: dict[str, tuple[str, str]] = {
    "drops": (
        "dropped on the wire",
        "of `packets`, those sent on this link direction and lost on its wire (the loss "
        "model); their bytes are `lost_bytes`",
    ),
    "refused": (
        "refused, never sent",
        "packets that never went out on this link direction: the link down, or its "
        "drop-tail queue full (not in `packets`, no bytes; its sender may try again, so "
        "one packet may be refused more than once)",
    ),
}
"""links.csv's two ways a packet fails on a link direction, {column: (name, meaning)}:
the one definition the column docs, docs/results.md, `fedsim compare` and report.html
read (fedsim.record.link_packets), so a drop is never called a refusal or back."""

NEVER_CONTRIBUTED_MIN_SELECTED = 5
"""A client selected at least this often without one accepted upload is flagged."""


def cause_column(cause: str) -> str:
    """clients.csv column counting dropouts of `cause` (`other` for an unknown cause)."""
    return f"dropouts_{cause if cause in DROPOUT_CAUSES else 'other'}"


def dropout_columns() -> tuple[str, ...]:
    return tuple(cause_column(c) for c in DROPOUT_CAUSES)


def column(unit: str, doc: str, default: Any = dataclasses.MISSING, *, later: bool = False) -> Any:
    """A dataclass field with the unit and meaning the docs and error messages show.
    `later`: a column added after older folders were written, placed beside its kin;
    keyword-only, so its default does not force defaults on the columns after it."""
    return field(default=default, metadata={"unit": unit, "doc": doc}, kw_only=later)


class Record(Mapping[str, Any]):
    """Base of every row: typed attributes, and read-only mapping access by column name."""

    __slots__ = ()
    __dataclass_fields__: typing.ClassVar[dict[str, Any]]

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)


@dataclass(frozen=True)
class RoundRow(Record):
    """rounds.csv: one row per round (async: per aggregation of the buffer)."""

    round: int = column("", "round number, from 1")
    sim_time_s: float = column("s", "simulated time when the round closed")
    selected: int = column("clients", "tasks handed out (sync: selected, over-selection included)")
    reported: int = column(
        "clients", "uploads the server accepted (stored) for this round; see `aggregated`"
    )
    aggregated: int | None = column(
        "clients",
        "of `reported`, the uploads aggregated into the round's candidate model (whether or "
        "not the gate deployed it); 0: the round missed its quorum or its aggregation failed, "
        "and its uploads were discarded; blank: older runs",
        None,
        later=True,
    )
    failed: int = column("clients", "dropouts: selected clients that did not report, with a cause")
    accepted: int = column("0/1", "1 if the gate deployed the aggregate")
    deployed_version: int = column("", "model version deployed after the round")
    bytes_up: int = column("B", "payload bytes toward the server during the round")
    bytes_down: int = column("B", "payload bytes from the server during the round")
    wire_bytes_up: int = column(
        "B", "wire bytes up that crossed the devices' first hops during the round (headers, retx)"
    )
    wire_bytes_down: int = column(
        "B", "wire bytes down that crossed the devices' first hops during the round"
    )
    metric: float = column("", "the deployed model's metric after the round (blank: NaN)")
    failed_causes: dict[str, int] = column(  # noqa: RUF009 - a field(), not a shared default
        "clients", "dropouts by cause, `deadline:3;link_down:2` (sums to `failed`)"
    )
    candidate_metric: float | None = column(
        "",
        "the aggregate's metric before the gate (blank: no aggregate; `nan`, `inf`: the "
        "aggregate scored no finite number, e.g. a diverged model, and the gate rejected it)",
        None,
    )
    federated_metric: float | None = column(
        "", "example-weighted metric the reporting clients measured (blank: not asked)", None
    )
    krum_f: int | None = column(
        "clients",
        "krum: Byzantine updates tolerated this round, at most fl.strategy.f (lowered to "
        "reported - 3 when fewer updates came; 0 below 3); blank: not krum",
        None,
    )
    krum_selected: int | None = column(
        "clients", "krum: updates averaged (m, or all below 3 updates); blank: not krum", None
    )
    trimmed_per_side: int | None = column(
        "clients",
        "trimmed_mean: updates dropped per side per coordinate, floor(beta x reported) "
        "(0: nothing trimmed); blank: not trimmed_mean",
        None,
    )
    update_norm: float | None = column(
        "",
        "L2 norm of the server step: the round's candidate model minus the model it was "
        "built on, after server_lr, momentum or the adaptive rule (every strategy, both "
        "engines); the deployed model moved by it when `accepted` is 1, by nothing "
        "otherwise; blank: no candidate (quorum missed, or the aggregation failed)",
        None,
    )
    staleness_mean: float | None = column(
        "versions", "async: mean staleness of the buffered updates; blank: sync", None
    )
    staleness_max: float | None = column(
        "versions", "async: largest staleness of the buffered updates; blank: sync", None
    )
    staleness_discount: float | None = column(
        "0-1",
        "async: staleness-weighted examples / examples, the factor on the step; blank: sync",
        None,
    )
    adversarial_updates: int | None = column(
        "updates",
        "of `aggregated`, uploads from adversaries (`adversaries:`); blank: no adversaries",
        None,
    )


@dataclass(frozen=True)
class LinkRow(Record):
    """links.csv: one row per link and direction."""

    link: str = column("", "link name")
    a: str = column("", "the endpoint farther from the server")
    b: str = column("", "the endpoint nearer the server")
    kind: str = column("", "link class kind (wifi, lora, nbiot, backhaul, ...)")
    direction: str = column("", "`up` (toward the server) or `down`")
    payload_bytes: int = column(
        "B",
        "application bytes handed over, once (HTTP headers included; a copy sent again: wire)",
    )
    wire_bytes: int = column("B", "bytes on the wire (TCP/IP headers, retransmissions)")
    packets: int = column("packets", "packets sent on this link direction")
    retransmissions: int = column(
        "packets",
        "of packets, those sent again: TCP data segments and SYNs (after a loss, or "
        "spuriously on a round trip over the 3 s SYN timer), CoAP datagrams; counted on "
        "every hop a copy crosses, as packets and retx_bytes (not only the sender's first)",
    )
    drops: int = column("packets", PACKET_FATES["drops"][1])
    busy_fraction: float = column("0-1", "share of the run the transmitter was busy")
    down_time_s: float = column("s", "time the link was down (at most the run's sim_time_s)")
    model_bytes: int = column(
        "B",
        "of payload_bytes, model: the encoded tensors of model envelopes that went out on "
        "the link (a cut takes back those it kept off it), at most data_bytes + retx_bytes",
        0,
    )
    data_bytes: int = column(
        "B", "of wire_bytes, payload in first transmissions of data segments", 0
    )
    header_bytes: int = column("B", "of wire_bytes, TCP/IP headers and framing of those", 0)
    control_bytes: int = column(
        "B", "of wire_bytes, packets without data: SYN, SYN-ACK, ACKs, FIN", 0
    )
    retx_bytes: int = column(
        "B",
        "of wire_bytes, the data segments (and CoAP datagrams) among retransmissions, headers "
        "too; a SYN sent again is control_bytes",
        0,
    )
    lost_bytes: int = column("B", "of wire_bytes, the bytes of drops (lost on this link)", 0)
    refused: int = column("packets", PACKET_FATES["refused"][1], 0)


LEDGER_SCOPES: dict[str, str] = {
    "run": "the devices' first hops, the whole run (key blank)",
    "round": "the devices' first hops during one round (key: the round; `after`: after the "
    "last round's row)",
    "group": "the first hops of one device profile's devices (key: the profile)",
    "link_class": "every link of one kind, whole run (key: the kind): sums of links.csv",
}
"""What a ledger.csv row adds up."""


@dataclass(frozen=True)
class LedgerRow(Record):
    """ledger.csv: where the bytes went, per scope (run, round, device group, link class)
    and direction. `model + protocol = payload` and `data + header + control + retx =
    wire`, exactly; every figure is a sum of links.csv's columns of the same name (round
    rows: of what crossed by the round's end)."""

    scope: str = column("", "run, round, group or link_class (docs/results.md, the ledger)")
    key: str = column("", "the round, device profile or link kind the row adds up")
    direction: str = column("", "`up` (toward the server) or `down`")
    links: int = column("", "link directions summed")
    model_bytes: int = column(
        "B", "payload: the encoded tensors of model envelopes that went out (<= data + retx)"
    )
    protocol_bytes: int = column(
        "B",
        "payload - model: HTTP heads, long polls, registrations, status, envelope headers, "
        "and model bytes handed over that a cut kept off the link",
    )
    payload_bytes: int = column("B", "model + protocol: what the application handed over")
    data_bytes: int = column("B", "payload carried by first transmissions of data segments")
    header_bytes: int = column("B", "TCP/IP headers and framing of those segments")
    control_bytes: int = column("B", "packets without data: handshakes, ACKs, FIN")
    retx_bytes: int = column("B", "data segments (and CoAP datagrams) sent again, headers included")
    wire_bytes: int = column("B", "data + header + control + retx")
    lost_bytes: int = column("B", "of wire_bytes, lost on the way (loss model)")
    energy_j: float | None = column(
        "J",
        "what the devices spent in this scope (blank: link_class); a round's is what they "
        "had spent by its end: the quiet time (tail, idle, sleep) its radios accrued by "
        "then included (the ledgers charge it lazily at the next activity), the airtime "
        "and waits of frames booked for after it and the part of a training past it not "
        "(they were charged ahead); round rows + `after` = the run row, `after` >= 0",
        None,
    )


@dataclass(frozen=True)
class TimelineRow(Record):
    """timeline.csv: what each client was doing, as non-overlapping intervals. The
    states are the client's own: a download starts when its answer's first bytes reach it, an
    upload when it sends. A task download abandoned (fl.request_timeout) before they
    arrived reads idle although bytes came down: a slow path whose every request times
    out can show a selected device idle the whole run (clients.csv requests_timed_out,
    bytes_down and energy_rx_j say what it received)."""

    client: str = column("", "client (device node) name")
    state: str = column("", "offline, idle, downloading, training or uploading")
    start_s: float = column("s", "interval start, simulated")
    end_s: float = column("s", "interval end, simulated")
    cause: str = column(
        "",
        "why `offline`: the outage category (device_offline, gateway_down, link_down, "
        "partition, churn, battery); blank otherwise",
        "",
    )


@dataclass(frozen=True)
class ClientRow(Record):
    """clients.csv: one row per client. Every selection ends in exactly one of reported,
    a dropout (with its cause) or surplus: `rounds_selected = rounds_reported +
    dropouts + rounds_surplus`; of the reported, `rounds_discarded` entered no model."""

    client: str = column("", "client (device node) name")
    device: str = column("", "device profile")
    gateway: str = column("", "parent node (blank: attached to the server)")
    rounds_selected: int = column("rounds", "tasks handed to the client, over-selection included")
    rounds_reported: int = column(
        "rounds",
        "of those, uploads the server accepted (stored; `rounds_discarded` counts those "
        "their round then did not use)",
    )
    rounds_discarded: int | None = column(
        "rounds",
        "of `rounds_reported`, uploads the server stored whose round then aggregated nothing "
        "(quorum missed, aggregation failed): the device's work thrown away; sums to "
        "summary.json `discarded_updates`. Async: the uploads of a buffer whose "
        "aggregation failed (an aggregation takes its whole buffer or none; those stored "
        "after the last aggregation are in no round: `rounds_surplus`); blank: older runs",
        None,
        later=True,
    )
    rounds_surplus: int = column(
        "rounds",
        "selections that were neither: the round filled up without it (over-selection) while "
        "nothing had failed its task (a task an outage, a rejection or an abort cut is a "
        "dropout), or (async) the run ended before the task's window was aggregated",
    )
    dropouts: int = column("rounds", "selections that failed, any cause: sum of dropouts_*")
    dropouts_deadline: int = column("rounds", DROPOUT_CAUSES["deadline"])
    dropouts_time_limit: int = column("rounds", DROPOUT_CAUSES["time_limit"], 0, later=True)
    dropouts_run_stopped: int = column("rounds", DROPOUT_CAUSES["run_stopped"], 0, later=True)
    dropouts_aborted: int = column("rounds", DROPOUT_CAUSES["aborted"])
    dropouts_request_timeout: int = column(
        "rounds", DROPOUT_CAUSES["request_timeout"], 0, later=True
    )
    dropouts_coap_gave_up: int = column("rounds", DROPOUT_CAUSES["coap_gave_up"], 0, later=True)
    dropouts_rejected: int = column("rounds", DROPOUT_CAUSES["rejected"])
    dropouts_stale: int = column("rounds", DROPOUT_CAUSES["stale"])
    dropouts_lost: int = column("rounds", DROPOUT_CAUSES["lost"])
    dropouts_link_down: int = column("rounds", DROPOUT_CAUSES["link_down"])
    dropouts_partition: int = column("rounds", DROPOUT_CAUSES["partition"])
    dropouts_device_offline: int = column("rounds", DROPOUT_CAUSES["device_offline"])
    dropouts_device_failure: int = column("rounds", DROPOUT_CAUSES["device_failure"])
    dropouts_gateway_down: int = column("rounds", DROPOUT_CAUSES["gateway_down"])
    dropouts_server_down: int = column("rounds", DROPOUT_CAUSES["server_down"])
    dropouts_battery: int = column("rounds", DROPOUT_CAUSES["battery"])
    dropouts_churn: int = column("rounds", DROPOUT_CAUSES["churn"])
    dropouts_other: int = column("rounds", DROPOUT_CAUSES["other"])
    requests_timed_out: int | None = column(
        "requests",
        "exchanges the client abandoned after `fl.request_timeout` + `fl.poll_wait`, whole "
        "run: registrations and polls too, not only those of a task (those are also "
        "`dropouts_request_timeout`); a device whose every request timed out never polled; "
        "blank: not measured (a pilot: its devices keep their own count, the server has none)",
        0,
        later=True,
    )
    requests_gave_up: int | None = column(
        "requests",
        "CoAP: exchanges the client gave up after `fl.coap.max_retransmit` retransmissions "
        "without an ACK, whole run: registrations and observes too, not only those of a "
        "task (those are also `dropouts_coap_gave_up`); not in `requests_timed_out`; "
        "blank: not measured (a pilot)",
        0,
        later=True,
    )
    bytes_up: int = column("B", "payload bytes the client sent")
    bytes_down: int = column("B", "payload bytes the client received")
    energy_compute_j: float = column(
        "J",
        "what the device's energy ledger charged for computing: training, and with "
        "fl.local.federated_eval its scoring of each global model, FLOPs x the profile's J/FLOP",
    )
    energy_radio_j: float = column(
        "J",
        "what its ledger charged its radio (fedsim/net/radio.py): energy_tx_j + energy_rx_j + "
        "energy_idle_j + energy_sleep_j; a battery device's compute and radio sum to at most "
        "its initial charge",
    )
    energy_tx_j: float | None = column(
        "J",
        "TX power x the airtime of every frame it sent on its own link (payload, TCP/IP and "
        "MAC headers, SYNs, ACKs, retransmissions, frames lost there); blank: older runs",
        None,
    )
    energy_rx_j: float | None = column(
        "J", "RX power x the airtime of every frame sent to it on its own link, lost or not", None
    )
    energy_idle_j: float | None = column(
        "J",
        "radio awake without data: tails (LTE RRC, Wi-Fi PSM timeout, NB-IoT connected), "
        "idle listening (DRX/eDRX, DTIM), promotions, periodic wakes (NB-IoT TAU)",
        None,
    )
    energy_sleep_j: float | None = column(
        "J", "radio asleep (NB-IoT PSM, LoRa sleep) between activities", None
    )
    airtime_tx_s: float | None = column("s", "seconds its radio transmitted", None)
    airtime_rx_s: float | None = column("s", "seconds its radio received", None)
    env_episodes: int | None = column(
        "",
        "RL: episodes the device played in every training, its upload accepted or not (0: "
        "none; blank: the task is not RL, or a deployment, whose server cannot see what "
        "devices play). Personalised evaluation (`task.personalize_episodes`) is the "
        "server's and plays none here",
        None,
    )
    env_steps: int | None = column(
        "", "RL: environment steps of those episodes (0: none; blank: not RL)", None
    )
    adversary: str = column(
        "", "the attack (`adversaries.kind`) if the device is Byzantine; blank: honest", ""
    )

    def dropouts_by_cause(self) -> dict[str, int]:
        """{cause: count} of the non-zero per-cause columns."""
        return {c: n for c in DROPOUT_CAUSES if (n := getattr(self, f"dropouts_{c}"))}


@dataclass(frozen=True)
class Summary(Record):
    """summary.json: one object per run."""

    scenario: str = column("", "the topology's `name`")
    seed: int = column("", "the run's seed")
    engine: str = column("", "round engine: `sync` (rounds) or `async` (FedBuff)")
    strategy: str = column("", "aggregation: the sync strategy, or `fedbuff` for async")
    task: str = column("", "task kind")
    codec: str = column("", "upload codec")
    fidelity: str = column(
        "",
        "network fidelity the run used: `flow` or `packet` (TCP: HTTP, MQTT); `datagram` "
        "(CoAP, whose datagrams are modelled one by one whatever `fidelity` says); "
        "`deployment` (a pilot)",
    )
    devices: int = column("clients", "device nodes")
    rounds: int = column("rounds", "rounds recorded (rows of rounds.csv)")
    accepted_rounds: int = column("rounds", "rounds whose aggregate was deployed")
    sim_time_s: float = column("s", "simulated time at the end of the run")
    wall_time_s: float = column("s", "host time the run took (the only wall-clock field)")
    metric_name: str = column("", "`accuracy`, `mean_return`, ...")
    higher_is_better: bool = column("", "direction of the metric")
    final_metric: float | None = column("", "the deployed model's metric at the end")
    best_metric: float | None = column("", "best deployed metric over the rounds")
    final_scores: dict[str, float] | None = column(  # noqa: RUF009 - a field(), not a shared default
        "",
        "{name: value}: every finite score the task's evaluator gives the deployed model at "
        "the end, `metric_name`'s (= `final_metric`) among them: e.g. CartPole "
        "`min_device_return` and, personalised, the shared policy's `mean_return` beside "
        "`mean_return_personalized`; tabular `fraction_of_optimal_mean`; a classifier's "
        "`loss` (null: an older folder, or a deployment)",
        None,
        later=True,
    )
    target_metric: float | None = column("", "`fl.target` (null: none)")
    time_to_target_s: float | None = column("s", "until the deployed model reached the target")
    bytes_to_target: int | None = column(
        "B", "payload up + down until then; span: the rounds up to the target round"
    )
    bytes_up: int = column(
        "B",
        "payload bytes up on the devices' first hops; span: the rounds (rounds.csv's sum; "
        "+ `bytes_after_rounds_up` = the whole run)",
    )
    bytes_down: int = column("B", "payload bytes down on the devices' first hops; span: the rounds")
    wire_bytes_up: int = column(
        "B",
        "wire bytes up on the devices' first hops; span: the rounds (+ "
        "`wire_bytes_after_rounds_up` = the whole run, `ledger`'s wire)",
    )
    wire_bytes_down: int = column(
        "B", "wire bytes down on the devices' first hops; span: the rounds"
    )
    bytes_after_rounds_up: int = column(
        "B",
        "payload up after the last round's row, up to the run's end (span: after the "
        "rounds): clients.csv `bytes_up` sums to `bytes_up` + this (a simulation: 0 when "
        "the run ends as a round closes; else what crossed since the last round's close: a "
        "run stopped by `fl.time_limit` between rounds or between aggregations, or by "
        "`fl.stall_limit`; deployment: final polls)",
    )
    bytes_after_rounds_down: int = column(
        "B",
        "payload down after the last round's row, up to the run's end (deployment: final "
        "poll answers, 410 Gone)",
    )
    wire_bytes_after_rounds_up: int = column(
        "B", "wire bytes up on first hops after it; span: after the rounds"
    )
    wire_bytes_after_rounds_down: int = column(
        "B", "wire bytes down on first hops after it; span: after the rounds"
    )
    dropouts: dict[str, int] = column(  # noqa: RUF009 - a field(), not a shared default
        "clients", "{cause: count}: sums of rounds.csv `failed_causes` and of clients.csv"
    )
    rounds_surplus: int = column("rounds", "sum of clients.csv `rounds_surplus`")
    dropouts_after_rounds: dict[str, int] | None = column(  # noqa: RUF009 - a field(), not a shared default
        "clients",
        "{cause: count}: async, the dropouts after the last aggregation (a task that failed "
        "since, or was out on a device gone for good): in `dropouts`, in no round of "
        "rounds.csv (`dropouts` = rounds.csv `failed_causes` + these); sync: always empty; "
        "null: an older folder",
        None,
        later=True,
    )
    never_contributed: list[str] = column(  # noqa: RUF009 - a field(), not a shared default
        "",
        f"clients selected >= {NEVER_CONTRIBUTED_MIN_SELECTED} times without one accepted upload",
    )
    energy_j_mean: float | None = column("J", "mean energy per device (null: no devices)")
    code: str = column("", "fingerprint of the code that made the run (see below)")
    ledger: dict[str, int] | None = column(  # noqa: RUF009 - a field(), not a shared default
        "B",
        "the devices' first hops; span: the whole run: {class_direction: bytes} for model, "
        "protocol, "
        "data, header, control, retx, lost (ledger.csv's `run` rows)",
        None,
    )
    accepted_updates: int | None = column(
        "updates",
        "uploads aggregated into a candidate model: sum of rounds.csv `aggregated` (the gate "
        "may still have kept the old model)",
        None,
    )
    discarded_updates: int | None = column(
        "updates",
        "uploads the server accepted (stored) whose round then aggregated nothing (quorum "
        "missed, aggregation failed): rounds.csv `reported` - `aggregated`; with "
        "`accepted_updates` they sum to clients.csv `rounds_reported`; per device: "
        "clients.csv `rounds_discarded`",
        None,
    )
    wire_bytes_per_update: float | None = column(
        "B",
        "first-hop wire bytes, both ways, per accepted (aggregated) update; span: the "
        "rounds (`wire_bytes_*` / `accepted_updates`)",
        None,
    )
    overhead_share: float | None = column(
        "0-1",
        "share of first-hop wire bytes that is not model payload, 0-1 (model bytes that "
        "went out, as wire bytes count them); span: the whole run (`ledger`: 1 - model / "
        "wire)",
        None,
    )
    wire_bytes_to_target: int | None = column(
        "B", "first-hop wire bytes until the target; span: the rounds up to it", None
    )
    energy_to_target_j: float | None = column(
        "J",
        "what all devices had spent by the target round's end (ledger.csv's round rows up "
        "to it: quiet time included, what was charged ahead of that instant not)",
        None,
    )
    overrides: list[str] | None = column(  # noqa: RUF009 - a field(), not a shared default
        "", "the `--set` overrides the run was made with (null: not recorded)", None
    )
    end_reason: str = column(
        "",
        "why the run ended: `rounds`, `target` (its job done) or, early, `time_limit`, "
        "`devices_lost`, `stall_limit`, `no_events` (End reasons, below)",
        "rounds",
    )
    end_note: str | None = column("", "an early end, in a sentence (null: none)", None)
    adversaries: list[str] | None = column(  # noqa: RUF009 - a field(), not a shared default
        "", "the Byzantine devices (`adversaries:`; null: none configured)", None
    )
    adversarial_updates: int | None = column(
        "updates",
        "uploads from adversaries that entered an aggregation (sum of rounds.csv "
        "`adversarial_updates`; robust strategies may still discard them; null: none "
        "configured)",
        None,
    )
    adversarial_updates_deployed: int | None = column(
        "updates", "of those, in rounds whose aggregate the gate deployed", None
    )
    weakened_rounds: int | None = column(
        "rounds",
        "krum/trimmed_mean: rounds whose defence was weaker than configured (krum_f < "
        "fl.strategy.f, or nothing trimmed with beta > 0); null: other strategies",
        None,
    )

    def to_json(self) -> dict[str, Any]:
        return {k: self[k] for k in self}


TABLES: dict[str, type[Record]] = {
    "rounds.csv": RoundRow,
    "links.csv": LinkRow,
    "timeline.csv": TimelineRow,
    "clients.csv": ClientRow,
    "ledger.csv": LedgerRow,
    "summary.json": Summary,
}
"""Every typed file of a results folder and its row type."""


@dataclass(frozen=True)
class Column:
    """One field of a row type, as the docs, the writer and the reader see it."""

    name: str
    kind: str  # int, float, str, bool, optional int/float, causes, names
    optional: bool
    unit: str
    doc: str
    required: bool = True
    """A file must have it (columns added later have a default and may be absent)."""


_KINDS = {
    int: "int",
    float: "float",
    str: "str",
    bool: "bool",
    dict[str, int]: "causes",
    dict[str, float]: "scores",
    list[str]: "names",
}


@functools.cache
def columns(row_type: type[Record]) -> tuple[Column, ...]:
    """The columns of `row_type`, in file order."""
    hints = typing.get_type_hints(row_type)
    out = []
    for f in dataclasses.fields(row_type):
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else hint
        required = f.default is dataclasses.MISSING
        out.append(
            Column(f.name, _KINDS[base], optional, f.metadata["unit"], f.metadata["doc"], required)
        )
    return tuple(out)

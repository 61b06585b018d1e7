"""The composition root: the one place that wires every layer together for a run.

Scenario -> Network (SimPy) + Wire (transport) on one VirtualTimeLoop -> the FL
server (aiohttp app + round engine) and one FL client per device -> Recorder ->
results/<run>/. Nothing else imports both `fl` and `net`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import web

from fedsim.audit import AuditError
from fedsim.audit import audit as audit_run
from fedsim.clock import VirtualTimeLoop, sim_event_to_future
from fedsim.config.task_reads import free_evaluation
from fedsim.errors import ScenarioError, print_warning
from fedsim.fidelity_used import fidelity_used
from fedsim.fl.async_engine import BufferedAsync, polynomial_staleness
from fedsim.fl.auth import Keyring, device_auth
from fedsim.fl.client import FLClient
from fedsim.fl.codec import payload_size
from fedsim.fl.defence_tally import DefenceTally
from fedsim.fl.engine import FailureExplainer, RoundRecord, SyncRounds
from fedsim.fl.gate import DeploymentGate
from fedsim.fl.server import make_app
from fedsim.fl.strategies.registry import build_strategy
from fedsim.fl.timeouts import COAP_GAVE_UP_CAUSE, REQUEST_TIMEOUT_CAUSE
from fedsim.net.battery import Batteries
from fedsim.net.counts import Counts
from fedsim.net.evidence import Evidence, EvidenceRecorder, counted_now
from fedsim.net.flow import wire_booked_after
from fedsim.net.medium_use import MediumUse, medium_uses
from fedsim.net.network import Network
from fedsim.net.transport import EmulatedConnector, EmulatedSite, Wire
from fedsim.record.audit_files import write_audit_json
from fedsim.record.deployed_model import MODEL_FILE, DeployedModel, model_scores, read_model
from fedsim.record.dropouts import dropout_cells, never_contributed, run_dropouts
from fedsim.record.fingerprint import code_fingerprint
from fedsim.record.ledger import (
    RoundLedger,
    discarded_by_client,
    ledger_rows,
    ledger_summary,
    link_cells,
)
from fedsim.record.recorder import Recorder, round_row
from fedsim.record.schema import ClientRow, LedgerRow, LinkRow, RoundRow, Summary, TimelineRow
from fedsim.record.writer import write_run
from fedsim.rng import Streams
from fedsim.run_end import watch_run
from fedsim.run_folder import (
    as_recorded,
    check_run_folder,
    clear_run_folder,
    recorded_config,
    run_config,
)
from fedsim.scenario import Scenario, prepare_scenario
from fedsim.tasks.adversary import choose_adversaries, parse_adversaries, wrap
from fedsim.tasks.registry import build_task
from fedsim.tasks.work import declared_work

if TYPE_CHECKING:
    from fedsim.record.plot_helper import PlotHelper
    from fedsim.record.runs import RunData

__all__ = [
    "RunResult", "audit_record", "build_engine", "raise_if_violated",
    "run_name_for", "run_scenario", "simulate",
]  # fmt: skip

SERVER_HOST = "fl-server"
SERVER_PORT = 8080
COAP_PORT = 5683
MQTT_PORT = 1883


@dataclass
class RunResult:
    """A finished run in memory, in the row types of `fedsim.record.schema` (what
    the run folder will hold): `summary`, `rounds`, `links`, `clients`, `timeline`."""

    scenario: Scenario
    summary: Summary
    recorder: Recorder
    links: list[LinkRow]
    clients: list[ClientRow]
    topology: dict[str, Any]
    evidence: Evidence | None = None
    """What the auditor checks the results against (fedsim.net.evidence)."""
    ledger: list[LedgerRow] = field(default_factory=list)
    """ledger.csv: where the bytes went (fedsim.record.ledger)."""
    transmitters: list[MediumUse] = field(default_factory=list)
    """Each transmitter's busy time and the link directions it serves (the auditor
    reconciles them with links.csv)."""
    model: DeployedModel | None = None
    """The model the run ended with (model.npy) and the task's evaluator, so the auditor
    can score it again."""

    @property
    def rounds(self) -> list[RoundRow]:
        return self.recorder.rounds

    @property
    def timeline(self) -> list[TimelineRow]:
        return self.recorder.timeline_rows()

    @property
    def bytes_after_rounds(self) -> dict[str, int] | None:
        """The bytes counted after the last round's row, by the evidence (an audit
        source: fedsim.audit.SOURCES)."""
        return dict(self.evidence.bytes_after_rounds) if self.evidence is not None else None

    @property
    def client_requests(self) -> dict[str, dict[str, int]]:
        """Each client's own count of the exchanges it abandoned (an audit source),
        clients.csv's `requests_*`: the in-process clients counted them."""
        return {
            c.client: {
                "requests_timed_out": c.requests_timed_out,
                "requests_gave_up": c.requests_gave_up,
            }
            for c in self.clients
        }

    @property
    def unsettled(self) -> dict[str, int]:
        """Selections not yet reported, a dropout or surplus (an audit source): none, as
        the engines settle every one when a run ends (`unsettled()` of each)."""
        return {}


def _access_links(net: Network) -> list[Any]:
    return [net.path(d.name)[0].link for d in net.scenario.device_nodes if net.path(d.name)]


def _build_strategy(sc: Scenario) -> Any:
    fl = sc.fl
    try:
        return build_strategy(
            fl.strategy,
            dict(fl.options),
            clients_per_round=fl.clients_per_round,
            over_selection=fl.over_selection,
            selection=fl.selection,
            selection_floor=fl.selection_floor,
            **dict(fl.local),
        )
    except ValueError as exc:
        raise ScenarioError("fl.strategy", str(exc)) from None


def build_engine(
    sc: Scenario, task: Any, streams: Streams, explain: FailureExplainer | None = None
) -> SyncRounds | BufferedAsync:
    """The round engine a scenario asks for (deploy.py builds the server with it too)."""
    fl = sc.fl
    evaluator = task.evaluator()
    gate = DeploymentGate(fl.gate_tolerance) if fl.gate_tolerance is not None else None
    common: dict[str, Any] = {
        "rounds": fl.rounds, "deadline_s": fl.deadline_s, "target": fl.target,
        "time_limit_s": fl.time_limit_s, "gate": gate, "explain": explain,
    }  # fmt: skip
    if fl.engine == "async":
        return BufferedAsync(
            evaluator,
            task.initial_params(),
            buffer_size=fl.buffer,
            concurrency=fl.concurrency,
            max_staleness=fl.max_staleness,
            server_lr=fl.server_lr,
            staleness_fn=polynomial_staleness(fl.staleness_exponent),
            config=dict(fl.local),
            **common,
        )
    return SyncRounds(
        _build_strategy(sc),
        evaluator,
        task.initial_params(),
        min_available=fl.min_available,
        quorum=fl.quorum,
        round_interval_s=fl.round_interval_s,
        rng=streams.get("server", "selection"),
        **common,
    )


def _forget_app() -> None:
    """aiohttp memoises each handler's middleware chain per (handler, app) in a
    module-level lru_cache of 1024 entries: every finished run's app, and through it
    its engine, network and recorder, stayed alive (~340 runs' worth, ~0.4 MB each for
    a 4-device run, far more for big ones) in a process that runs many (tests, fuzzing,
    in-process sweeps). tests/test_fuzz_scenarios.py checks that no run outlives
    `simulate`, so a change of this aiohttp internal fails loudly."""
    from aiohttp import web_app

    cache = getattr(web_app, "_cached_build_middleware", None)
    if cache is not None:
        cache.cache_clear()


@contextlib.contextmanager
def _quiet_gc(last_in_process: bool = False) -> Iterator[None]:
    """No cyclic collections during a run, its set-up included (at 10,000 devices the
    set-up's allocations set off five full collections, ~0.9 s, that found nothing to
    free). Measured at 1,000 devices: the collector
    took 12-20 % of the loop's CPU to free 0.4 objects per client-round (aiohttp and
    the network model free by reference count) while scanning the same live
    exchanges again and again. What lives before the run is frozen without a scan;
    `_settle_gc` freezes the set-up and the clients after round 1 (the little garbage
    among them is freed after the run). Restored afterwards: the next collection frees
    the run's cycles.

    `last_in_process`: the process ends after this run's results (`fedsim run`), so its
    survivors stay frozen: no collection scans them again (0.5 s at 1,000 devices for
    the first full one) and the exit frees them."""
    was_enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # every survivor of the run, young or not ...
        if not last_in_process:
            gc.unfreeze()  # ... to the oldest generation: no young collection rescans them
        if was_enabled:
            gc.enable()


def _settle_gc(rec: RoundRecord) -> None:
    """After round 1 every client's session, connector and pool exists and lives to
    the end: frozen, so no collection after the run scans them."""
    if rec.round == 1:
        gc.freeze()


def _link_up(loop: VirtualTimeLoop, net: Network, device: str) -> asyncio.Future[Any]:
    """What a device's network stack knows: a future done when its own link is up."""
    return sim_event_to_future(loop, net.link_up(device))


class _CoapSide:
    """The CoAP transport of a run: UDP sockets on the emulated network, the CoAP
    server around the engine, and a CoAP client per device (docs/transports.md)."""

    def __init__(
        self, loop: VirtualTimeLoop, net: Network, wire: Wire, sc: Scenario, engine: Any,
        streams: Streams,
    ) -> None:  # fmt: skip
        from fedsim.coap.endpoint import Params
        from fedsim.net.udp import UdpWire
        from fedsim.transports.coap_meter import CoapModelBytes
        from fedsim.transports.coap_server import CoapFLServer

        opts = dict(sc.fl.coap)
        self.params = Params(
            ack_timeout=float(opts.get("ack_timeout", 2.0)),
            ack_random_factor=float(opts.get("ack_random_factor", 1.5)),
            max_retransmit=int(opts.get("max_retransmit", 4)),
        )
        self.block_size = opts.get("block_size")
        self.streams = streams
        self.udp = UdpWire(loop, net.datagram_path, wire, (SERVER_HOST, COAP_PORT))
        self.udp.model_meter = CoapModelBytes().count
        self.server = CoapFLServer(
            engine,
            self.udp.server,
            streams.get("server", "coap"),
            params=self.params,
            poll_wait_s=sc.fl.poll_wait_s,
        )

    def client(self, name: str, learner: Any, device: Any, rng: Any, **common: Any) -> Any:
        from fedsim.transports.coap_api import block_size_for
        from fedsim.transports.coap_client import CoapFLClient

        sock = self.udp.socket(name)
        return CoapFLClient(
            name, sock, self.udp.server.address, learner, device, rng,
            block_size=block_size_for(sock.max_payload(), self.block_size),
            coap=self.params, coap_rng=self.streams.get("coap", name), **common,
        )  # fmt: skip

    def close(self) -> None:
        self.server.close()


class _MqttSide:
    """The MQTT transport of a run: amqtt's broker at the server node and an MQTT
    client per device, over the emulated TCP through the loop's stream hooks
    (fedsim.net.streams; docs/transports.md)."""

    def __init__(self, loop: VirtualTimeLoop, wire: Wire, sc: Scenario, engine: Any) -> None:
        try:
            import amqtt  # noqa: F401
        except ImportError:
            raise ScenarioError(
                "fl.transport", "mqtt needs the amqtt package: pip install 'fedsim[mqtt]'"
            ) from None
        from fedsim.net.streams import hook_streams
        from fedsim.transports.mqtt_meter import MqttModelBytes
        from fedsim.transports.mqtt_server import MqttFLServer

        hook_streams(loop, wire, sc.server.name)
        self.wire = wire
        wire.model_meter = MqttModelBytes  # the ledger's model bytes, in MQTT's framing
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.server = MqttFLServer(engine, SERVER_HOST, MQTT_PORT, poll_wait_s=sc.fl.poll_wait_s)
        self.sync = sc.fl.engine == "sync"

    async def start(self) -> None:
        await self.server.start()

    def client(self, name: str, learner: Any, device: Any, rng: Any, **common: Any) -> Any:
        from fedsim.net.streams import CONNECTING_NODE
        from fedsim.transports.mqtt_client import MqttFLClient

        client = MqttFLClient(
            name,
            f"mqtt://{name}@{SERVER_HOST}:{MQTT_PORT}",
            learner,
            device,
            rng,
            one_task_per_round=self.sync,
            **common,
        )
        client.connecting = partial(CONNECTING_NODE.set, name)
        self.wire.device_receivers[name] = client.data_arrives
        return client

    async def close(self) -> None:
        await self.server.close()


def simulate(
    scenario: Scenario,
    *,
    progress: Any = None,
    warn: Callable[[str], None] | None = None,
    audit: bool = True,
    last_in_process: bool = False,
) -> RunResult:
    """Run one scenario in simulated time and return everything it recorded. `warn`
    receives `fedsim show`'s deadline warnings (groups that cannot report in time)
    and, after the run, why it ended early if it did (`early_end_line`).
    With `audit`, a run whose records break an invariant raises `AuditError` (its
    `result` attribute holds the run). `last_in_process`: see `_quiet_gc`."""
    with _quiet_gc(last_in_process):  # set-up too: 10,000 devices' objects are no garbage
        result = _simulate(scenario, progress=progress, warn=warn)
    if audit:
        raise_if_violated(result)
    return result


def raise_if_violated(result: RunResult) -> None:
    """Raise `AuditError` (carrying `result`) if the run breaks any invariant."""
    violations = audit_run(result)
    if violations:
        raise AuditError(violations, result=result)


def _simulate(
    scenario: Scenario,
    *,
    progress: Any = None,
    warn: Callable[[str], None] | None = None,
) -> RunResult:
    sc = scenario
    streams = Streams(sc.seed)
    random.seed(sc.seed)  # aiohttp's connector shuffles waiters with `random`
    devices = sc.device_nodes
    task = build_task(sc.task, len(devices), streams)
    if warn is not None and devices:
        for line in free_evaluation(sc.task.kind, sc.fl.local, task.learner(0)):
            warn(line)
    if warn is not None:  # the estimates model each transport (fedsim.show)
        from fedsim.show import upload_warnings

        try:
            lines = upload_warnings(sc, task=task)
        except Exception as exc:  # an estimate must never stop a run
            lines = [f"no transfer-time estimate ({exc})"]
        for line in lines:
            warn(line)
    adversary = parse_adversaries(sc.adversaries)
    byzantine = (
        choose_adversaries(len(devices), adversary, streams.get("adversaries", "choose"))
        if adversary is not None
        else set()
    )
    adversary_kinds = (
        {devices[i].name: adversary.kind for i in byzantine} if adversary is not None else None
    )
    loop = VirtualTimeLoop()
    net = Network(loop.env, sc, streams)
    wire = Wire(loop, net.open_route)
    net.breaker = wire.break_where
    batteries = Batteries(net, streams)  # meters each device's own link (its radio)
    recorder = Recorder(clock=loop.time)
    window: list[float] = []
    """[end] once the run's window closed (`close_window`): the timeline covers [0, end],
    shutdown is not part of the run."""
    counted_at_end: list[Counts] = []  # [every count, when the window closed]
    refused: dict[str, int] = {}  # MQTT: device -> its updates the server refused

    def path_state(dev: str, up: bool, _t: float, cause: str) -> None:
        if not window:
            recorder.path_state(dev, up, cause)

    net.observers.append(path_state)
    evidence = EvidenceRecorder(net)
    wire.tap = evidence

    def client_state(client: str, state: str) -> None:
        evidence.client_state(client, state)
        if not window:
            recorder.client_state(client, state)

    timed_out: dict[str, list[float]] = {}  # each client's request_timeouts (filled below)
    gave_up: dict[str, list[float]] = {}  # each client's CoAP give-ups (filled below)

    def failure_cause(client: str, start: float, end: float) -> str | None:
        """The network's explanation first; else a request the client itself abandoned
        (its path too slow for `fl.request_timeout`), else a CoAP exchange that ran out of
        retransmissions (`coap_gave_up`), within the task's window."""
        cause = net.outage_cause(client, start, end)
        if cause is None and any(start <= t <= end for t in timed_out.get(client, ())):
            return REQUEST_TIMEOUT_CAUSE
        if cause is None and any(start <= t <= end for t in gave_up.get(client, ())):
            return COAP_GAVE_UP_CAUSE
        return cause

    engine = build_engine(sc, task, streams, explain=failure_cause)
    evidence.watch_submit(engine)
    evidence.watch_model(engine)
    evidence.watch_surplus(engine)
    evaluator = engine.evaluator
    access = _access_links(net)
    totals = {"up": 0, "down": 0, "wire_up": 0, "wire_down": 0}
    round_ledger = RoundLedger(
        access, net.live_channels, partial(batteries.spent_by, [d.name for d in devices])
    )

    def byte_totals(crossed_by: float | None = None) -> dict[str, int]:
        """Payload and wire bytes on the devices' access links (what reconciles with
        links.csv). With `crossed_by`, wire bytes are those that had crossed by then:
        the network books a transfer's wire bytes ahead of the clock and a later cut
        takes back the part past it, so a round counts only what crossed by its end
        (never negative); without, everything booked (the final counters). Computed
        apart from the round ledger's classes on purpose (`booked_after`, not
        `booked_parts_after`): the auditor checks that the two agree."""
        ahead = wire_booked_after(net.live_channels(), crossed_by) if crossed_by is not None else {}
        up = sum(link.counters[0].payload_bytes for link in access)
        down = sum(link.counters[1].payload_bytes for link in access)
        wup = sum(
            link.counters[0].wire_bytes - ahead.get(id(link.counters[0]), 0) for link in access
        )
        wdown = sum(
            link.counters[1].wire_bytes - ahead.get(id(link.counters[1]), 0) for link in access
        )
        return {"up": up, "down": down, "wire_up": wup, "wire_down": wdown}

    def on_round(rec: RoundRecord) -> None:
        now = byte_totals(crossed_by=loop.time())
        round_ledger.close(str(rec.round), loop.time())
        delta = {k: now[k] - totals[k] for k in now}
        totals.update(now)
        row = round_row(rec, rec.end_s, delta, adversary_kinds)
        recorder.add_round(row, rec.failed_causes)
        defence.see(rec.metrics)
        if progress is not None:
            online = sum(1 for d in devices if net.is_path_up(d.name))
            progress.update(
                round=rec.round,
                sim_time_s=rec.end_s,
                metric=rec.metric,
                bytes_total=now["up"] + now["down"],
                online=online,
                training=rec.reported,
                dropped=rec.failed,
            )

    defence = DefenceTally(getattr(engine, "strategy", None))
    engine.observers.append(on_round)
    engine.observers.append(_settle_gc)
    clients: list[FLClient] = []
    # Deployment's device authentication, keys from the seed: every simulated request
    # is signed and verified, and its Authorization header is charged on the wire.
    keyring = Keyring.from_seed(sc.seed, [d.name for d in devices])

    def close_window() -> None:
        """The run's window closes the instant the engine ends, before any other task
        runs at that instant (a client handed a task then would book frames, and pay a
        radio's promotion, inside the window for a transfer that never happens): the
        network resets every connection (what had not gone out is taken back) and
        carries nothing more, the energy ledgers close, every count is taken. What the
        clients do while shutting down is not part of the run (`nothing-after-end`)."""
        if window:
            return
        window.append(loop.time())  # (first: what the cut changes is after the end)
        net.end_run()
        batteries.finish(window[0])
        evidence.window_closed()
        counted_at_end.append(counted_now(net, batteries.ledgers))

    async def main() -> float:
        for node in devices:  # every client's timeline starts at 0, registered or not
            recorder.client_state(node.name, "idle")
        coap = (
            _CoapSide(loop, net, wire, sc, engine, streams) if sc.fl.transport == "coap" else None
        )
        mqtt = _MqttSide(loop, wire, sc, engine) if sc.fl.transport == "mqtt" else None
        if mqtt is not None:
            await mqtt.start()
        for i, node in enumerate(devices):
            assert node.device is not None
            learner = task.learner(i)
            if adversary is not None and i in byzantine:
                learner = wrap(learner, adversary, streams.get("adversaries", node.name))
            if getattr(learner, "work_done", None) is None:  # (its cost is known ahead)
                evidence.work[node.name] = declared_work(learner, sc.fl.local)
            common: dict[str, Any] = {
                "codec": sc.fl.codec, "poll_wait_s": sc.fl.poll_wait_s, "observer": client_state,
                "request_timeout_s": sc.fl.request_timeout_s, "on_evaluate": evidence.evaluated,
                "on_work": batteries.compute, "link_up": partial(_link_up, loop, net, node.name),
            }  # fmt: skip
            device, rng = sc.devices[node.device], streams.get("client", node.name)
            # Its own streams for int8's rounding and retry jitter: the same seed trains
            # in the same order whatever the codec or the network's errors.
            common["codec_rng"] = streams.get("codec", node.name)
            common["jitter_rng"] = streams.get("client-backoff", node.name)
            if coap is not None or mqtt is not None:
                side: Any = coap if coap is not None else mqtt
                clients.append(side.client(node.name, learner, device, rng, **common))
                continue
            clients.append(
                FLClient(
                    node.name,
                    f"http://{SERVER_HOST}:{SERVER_PORT}",
                    EmulatedConnector(wire, node.name, limit=4),
                    learner,
                    device,
                    rng,
                    signer=keyring.signer(node.name, loop.time),
                    task_on_answer=sc.fl.task_on_answer,
                    **common,
                )
            )
        runner = None
        if coap is None and mqtt is None:
            app = make_app(
                engine,
                poll_wait_s=sc.fl.poll_wait_s,
                middlewares=[device_auth(keyring, loop.time)],
            )
            runner = web.AppRunner(app, access_log=None, keepalive_timeout=sc.fl.server_keepalive_s)
            await runner.setup()
            site = EmulatedSite(runner, wire, sc.server.name, SERVER_HOST, SERVER_PORT)
            await site.start()
        net.start()
        engine.end_observers.append(close_window)
        stall = watch_run(
            loop, net, engine, sc, batteries.runs_dry_by if batteries.batteries else None
        )
        stop = asyncio.Event()
        timed_out.update((c.client_id, c.request_timeouts) for c in clients)
        gave_up.update((c.client_id, c.gave_up) for c in clients)
        jobs = [asyncio.create_task(c.run(stop), name=c.client_id) for c in clients]
        await engine.run()
        close_window()
        end = window[0]
        if stall is not None:
            stall.cancel()
        loop.on_idle = None  # shutting down: an idle loop now is a bug, not a user's run
        stop.set()
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        for c in clients:
            if c.connector is not None:
                await c.connector.close()
        wire.break_where(lambda _conn: True, "shutdown")  # nothing arrives after cleanup
        if runner is not None:
            await runner.cleanup()
        if coap is not None:
            coap.close()
        if mqtt is not None:
            await mqtt.close()
            refused.update(mqtt.server.discarded_uploads)
        return end

    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    wall0 = time.perf_counter()
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        end = runner.run(main())
    _forget_app()
    wall = time.perf_counter() - wall0
    net.finish(end)
    recorder.close(end)
    after = byte_totals()
    round_ledger.close("after", None)
    tail = {k: after[k] - totals[k] for k in after}
    at_end = counted_at_end[0]
    at_close = counted_now(net, batteries.ledgers, like=at_end)
    proof = evidence.finish(end, tail, batteries.evidence(), at_end, at_close)
    size = payload_size(int(engine.params.size), sc.fl.codec)
    task_size = payload_size(int(engine.params.size), "float32")  # (every task is float32)
    proof = dataclasses.replace(proof, update_model_bytes=size, task_model_bytes=task_size)
    if sc.fl.transport != "mqtt":  # a broker's PUBACK is not the server's acceptance
        acked = {c.client_id: c.stats.uploads_accepted for c in clients}
        proof = dataclasses.replace(proof, acknowledged=acked)
    else:  # what tells a device that the server refused an update: a notice (audited)
        told = {
            c.client_id: (
                refused.get(c.client_id, 0),
                c.refusals_heard,
                sum(c.stats.errors.values()),
            )
            for c in clients
        }
        proof = dataclasses.replace(proof, refusals=told)
    result = _collect(
        sc, evaluator, engine, net, wire, batteries, recorder, clients, end, wall, tail
    )
    result.evidence = proof
    result.model = DeployedModel(engine.params.copy(), evaluator)
    _add_ledger(result, round_ledger.rows)
    _add_adversaries(result, adversary_kinds)
    result.summary = replace(result.summary, weakened_rounds=defence.count)
    ended = engine.ended
    if warn is not None and ended is not None and ended.early:
        warn(early_end_line(result.summary, sc.fl.rounds))
    if warn is not None and defence.count:
        warn(defence.line(len(result.rounds)))
    return result


def early_end_line(summary: Summary, rounds: int) -> str:
    """The warning of a run that ended before its job was done: why, and when."""
    return (
        f"the run ended early at t={summary.sim_time_s:g} s after {summary.rounds} of "
        f"{rounds} rounds ({summary.end_reason}): {summary.end_note}"
    )


def _add_adversaries(result: RunResult, kinds: Mapping[str, str] | None) -> None:
    """Name the Byzantine devices in clients.csv and count their aggregated updates in
    summary.json (rounds.csv counts them per round)."""
    if kinds is None:
        return
    result.clients = [replace(c, adversary=kinds.get(c.client, "")) for c in result.clients]
    rows = result.rounds
    result.summary = replace(
        result.summary,
        adversaries=sorted(kinds),
        adversarial_updates=sum(r.adversarial_updates or 0 for r in rows),
        adversarial_updates_deployed=sum(r.adversarial_updates or 0 for r in rows if r.accepted),
    )


def _add_ledger(result: RunResult, round_rows: list[LedgerRow]) -> None:
    """ledger.csv's rows and summary.json's ledger fields (fedsim.record.ledger)."""
    s = result.summary
    target_round = None
    if s.time_to_target_s is not None:
        target_round = next(r.round for r in result.rounds if r.sim_time_s == s.time_to_target_s)
    result.ledger = ledger_rows(result.links, result.clients, round_rows)
    fields = ledger_summary(result.ledger, result.rounds, target_round)
    result.summary = replace(s, **fields)


def _collect(
    sc: Scenario,
    evaluator: Any,
    engine: SyncRounds | BufferedAsync,
    net: Network,
    wire: Wire,
    batteries: Batteries,
    recorder: Recorder,
    clients: list[FLClient],
    end: float,
    wall: float,
    tail: dict[str, int],
) -> RunResult:
    """The run's rows and summary; `tail` is what the first hops carried after the last
    round's row (up, down, wire_up, wire_down), so client and link totals reconcile.
    Energy is what each device's ledger charged (`batteries`), its one source."""
    rows = recorder.rounds
    metrics = [r.metric for r in rows if np.isfinite(r.metric)]
    higher = bool(evaluator.higher_is_better)
    target = sc.fl.target
    time_to_target = bytes_to_target = None
    running = 0
    for r in rows:
        running += r.bytes_up + r.bytes_down
        hit = target is not None and (r.metric >= target if higher else r.metric <= target)
        if hit:
            time_to_target, bytes_to_target = r.sim_time_s, running
            break
    links = sorted(net.links.values(), key=lambda lk: lk.name)
    links_rows: list[LinkRow] = []
    for link in links:
        for d, label in ((0, "up"), (1, "down")):
            c = link.counters[d]
            tx = link.tx[d]
            links_rows.append(LinkRow(
                link=link.name, a=link.a, b=link.b, kind=link.kind,
                direction=label, payload_bytes=c.payload_bytes, wire_bytes=c.wire_bytes,
                packets=c.packets, retransmissions=c.retransmissions, drops=c.drops,
                refused=c.refused, busy_fraction=min(1.0, tx.busy_time / end) if end > 0 else 0.0,
                down_time_s=link.down_time, **link_cells(c),
            ))  # fmt: skip
    client_rows: list[ClientRow] = []
    energies: list[float] = []
    by_name = {n.name: n for n in sc.nodes}
    discarded = discarded_by_client(engine.records)
    for c in clients:
        info = engine.clients.get(c.client_id)
        up, down = wire.node_bytes.get(c.client_id, [0, 0])
        e_comp, e_radio = batteries.energy(c.client_id)
        parts = batteries.parts(c.client_id)
        ledger = batteries.ledgers.get(c.client_id)
        energies.append(e_comp + e_radio)
        client_rows.append(ClientRow(
            client=c.client_id, device=c.device.name,
            gateway=by_name[c.client_id].parent or "",
            rounds_selected=info.rounds_selected if info else 0,
            rounds_reported=info.rounds_reported if info else 0,
            rounds_discarded=discarded.get(c.client_id, 0),
            rounds_surplus=info.rounds_surplus if info else 0,
            **dropout_cells(info.dropouts if info else {}),
            bytes_up=up, bytes_down=down,
            energy_compute_j=e_comp, energy_radio_j=e_radio,
            energy_tx_j=parts["tx"], energy_rx_j=parts["rx"],
            energy_idle_j=parts["idle"], energy_sleep_j=parts["sleep"],
            airtime_tx_s=ledger.seconds["tx"] if ledger else 0.0,
            airtime_rx_s=ledger.seconds["rx"] if ledger else 0.0,
            env_episodes=_played(c.learner, "episodes"),
            env_steps=_played(c.learner, "steps"),
            requests_timed_out=sum(1 for t in c.request_timeouts if t <= end),
            requests_gave_up=sum(1 for t in c.gave_up if t <= end),
        ))  # fmt: skip
    topology = {
        "nodes": [
            {"name": n.name, "kind": n.kind, "device": n.device, "parent": n.parent}
            for n in sc.nodes
        ],
        "links": [
            {
                "name": lk.name,
                "a": lk.a,
                "b": lk.b,
                "kind": lk.kind,
                "bandwidth_bps": lk.tx[0].rate_bps,
                "bandwidth_up_bps": lk.tx[0].rate_bps,
                "bandwidth_down_bps": lk.tx[1].rate_bps,
                "latency_s": lk.latency_s,
            }
            for lk in links
        ],
    }
    is_async = isinstance(engine, BufferedAsync)
    ended = engine.ended
    after = dict(engine.dropouts_after_rounds) if is_async else {}
    summary = Summary(
        scenario=sc.name,
        seed=sc.seed,
        engine="async" if is_async else "sync",
        strategy="fedbuff" if is_async else sc.fl.strategy,
        task=sc.task.kind,
        codec=sc.fl.codec,
        fidelity=fidelity_used(sc),
        devices=len(clients),
        rounds=len(rows),
        accepted_rounds=sum(r.accepted for r in rows),
        sim_time_s=end,
        end_reason=ended.reason if ended is not None else "rounds",
        end_note=ended.note if ended is not None else None,
        wall_time_s=wall,
        metric_name=evaluator.metric_name,
        higher_is_better=higher,
        final_metric=_finite(rows[-1].metric if rows else engine.deployed_metric),
        final_scores=model_scores(evaluator, engine.params),
        best_metric=(max(metrics) if higher else min(metrics)) if metrics else None,
        target_metric=target,
        time_to_target_s=time_to_target,
        bytes_to_target=bytes_to_target,
        bytes_up=sum(r.bytes_up for r in rows),
        bytes_down=sum(r.bytes_down for r in rows),
        wire_bytes_up=sum(r.wire_bytes_up for r in rows),
        wire_bytes_down=sum(r.wire_bytes_down for r in rows),
        bytes_after_rounds_up=tail["up"],
        bytes_after_rounds_down=tail["down"],
        wire_bytes_after_rounds_up=tail["wire_up"],
        wire_bytes_after_rounds_down=tail["wire_down"],
        dropouts=run_dropouts(recorder.dropouts, after),
        dropouts_after_rounds=after,
        rounds_surplus=sum(r.rounds_surplus for r in client_rows),
        never_contributed=never_contributed(client_rows),
        energy_j_mean=float(np.mean(energies)) if energies else None,
        code=code_fingerprint(),
    )
    return RunResult(
        sc, summary, recorder, links_rows, client_rows, topology, transmitters=medium_uses(links)
    )


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _played(learner: Any, key: str) -> int | None:
    """What an RL learner played over the run, every training counted (accepted upload
    or not; 0: none); None (blank) for a learner that plays no environment."""
    played = getattr(learner, "played", None)
    return None if played is None else int(getattr(played, key))


def run_name_for(scenario: Scenario, overrides: Sequence[str] = ()) -> str:
    """Deterministic folder name: rerunning the same inputs overwrites, not piles up."""
    name = f"{scenario.name}-seed{scenario.seed}"
    if overrides:
        import hashlib

        digest = hashlib.sha256("\n".join(sorted(overrides)).encode()).hexdigest()[:8]
        name += f"-{digest}"
    return name


def run_scenario(
    path: str | Path,
    *,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    out_root: Path = Path("results"),
    run_name: str | None = None,
    progress: bool = False,
    plots: bool = False,
    plot_formats: Sequence[str] = ("svg",),
    audit: bool = True,
    scenario: Scenario | None = None,
    last_in_process: bool = False,
    plotter: PlotHelper | None = None,
    warn_replaced: bool = False,
) -> Path:
    """Load, run and write one topology file; return the run folder. `scenario` is the
    file already prepared (`prepare_scenario` with the same overrides and seed), so a
    caller that checked it first does not load it twice.

    With `plots`, plots/ gets each figure as SVG (and PNG if in `plot_formats`) and the
    folder gets report.html, which inlines those SVG files rather than drawing again.

    The folder is emptied first (`clear_run_folder`): a previous run's files never sit
    next to this run's. With `audit` the folder also gets audit.json (the violations, or
    an empty list) and a run that breaks an invariant raises `AuditError` after its
    results are written, so they can be looked at (but gets no plots/ or report.html).

    `last_in_process`: the caller exits after this (the CLI); the run's objects are
    never collected (see `_quiet_gc`).

    `plotter`: the helper process that draws the figures (`fedsim run`; see
    fedsim.record.plot_helper); without it they are drawn in this process.

    `warn_replaced`: warn when the folder held a run of another configuration (an
    edited file, or another file with the same name and seed): `fedsim run`."""
    if scenario is None:
        scenario = prepare_scenario(path, overrides, seed, warn=print_warning)
    out = Path(out_root) / (run_name or run_name_for(scenario, overrides))
    check_run_folder(out)  # before simulating: a folder it may not replace is one line now
    display: Any = contextlib.nullcontext()
    if progress:
        from fedsim.record.progress import RunProgress

        display = RunProgress(total_rounds=scenario.fl.rounds, title=scenario.name)
    with display as bar:
        result = simulate(
            scenario, progress=bar, warn=print_warning, audit=False, last_in_process=last_in_process
        )
    result.summary = replace(result.summary, overrides=list(overrides))
    config = run_config(scenario)
    previous = recorded_config(out)
    clear_run_folder(out)  # nothing of a previous run in this folder may look current
    if warn_replaced and previous is not None and previous != as_recorded(config):
        print_warning(
            f"{out} held a run of another configuration (its config.yaml differed): replaced"
        )
    write_run(
        out,
        config=config,
        rounds=result.recorder.rounds,
        links=result.links,
        timeline=result.recorder.timeline_rows(),
        clients=result.clients,
        topology=result.topology,
        summary=result.summary,
        ledger=result.ledger,
        model=result.model.params if result.model is not None else None,
    )
    if plots and plotter is not None:
        plotter.prepare(out)  # it reads the tables and builds the figures meanwhile ...
    if result.model is not None:  # the audit scores the model on disk, not the one in memory
        result.model = replace(result.model, params=read_model(out / MODEL_FILE))
    _write_audit(out, result if audit else None)  # before plots: a broken run gets none
    if plots:
        from fedsim.record.runs import load_run

        if plotter is not None:
            plotter.start()  # ... and writes them while this process builds the page
        # Read back once: plots and report show what is on disk. The page shows no
        # timeline (only its figure does): the largest table is read only to draw here.
        written = load_run(out, timeline=plotter is None)
        report = _start_report(written)
        figures = _write_plots(written, plot_formats, plotter)
        _write_report(report, [p for p in figures if p.suffix == ".svg"])
    return out


def _write_plots(
    run: RunData, formats: Sequence[str], plotter: PlotHelper | None = None
) -> list[Path]:
    """plots/: each figure drawn once per format; SVG always (report.html inlines it)."""
    if plotter is not None:
        return plotter.finish()
    from fedsim.record.plots import plot_run  # matplotlib only when asked

    return plot_run(run, run.path / "plots", ["svg", *(f for f in formats if f != "svg")])


def _start_report(run: RunData) -> Callable[[list[Path]], Path]:
    """report.html but its figures (fedsim.record.report.report_awaiting_figures)."""
    from fedsim.record.report import report_awaiting_figures

    return report_awaiting_figures(run)


def _write_report(report: Callable[[list[Path]], Path], svg_files: list[Path]) -> None:
    report(svg_files)


def _write_audit(out: Path, result: RunResult | None) -> None:
    """audit.json for an audited run (raising `AuditError` on a violation); none for
    an unaudited one, so a stale file cannot vouch for it."""
    target = out / "audit.json"
    if result is None:
        target.unlink(missing_ok=True)
        return
    violations = audit_run(result)
    write_audit_json(out, **audit_record(result, violations))
    if violations:
        raise AuditError(violations, result=result, folder=out)


def audit_record(result: RunResult, violations: list[Any]) -> dict[str, Any]:
    """audit.json's content but the files' digests (`write_audit_json` adds them and the
    code): the invariants, the violations (empty when the run is clean) and the
    accounting the checks used."""
    from fedsim.audit import INVARIANTS

    ev = result.evidence
    return {
        "invariants": sorted(INVARIANTS),
        "violations": [{"invariant": v.invariant, "detail": v.detail} for v in violations],
        "extra": {"bytes_after_rounds": dict(ev.bytes_after_rounds) if ev is not None else None},
    }

"""The synchronous round engine: the loop around a strategy's pure decisions.

Clients are pull-based (they sit behind NAT and come and go): a client that is
long-polling for work is "online". Each round waits for enough online clients,
lets the strategy pick and configure them, hands out the task, and waits until
the wanted number reported or the deadline passed. With a quorum of reports the
strategy aggregates; the candidate is evaluated and deployed. Everything that
did not report becomes a `Failure` with a cause, which the strategy sees, except,
in a round that filled up (over-selection), a client nothing failed: surplus.

Time is `loop.time()` and waiting is asyncio, so the same engine runs in
simulated time under the emulator and in real time in deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fedsim.fl.acknowledged import Acknowledged
from fedsim.fl.gate import DeploymentGate, reached, score
from fedsim.fl.messages import ClientInfo, Failure, RoundUpdates, TrainIns, TrainRes
from fedsim.fl.polling import LongPolls
from fedsim.fl.strategy import Strategy, step_norm
from fedsim.record.end_reasons import RunEnd
from fedsim.tasks.base import Evaluator

__all__ = [
    "Engine", "Prospects", "ResumedRound", "RoundJournal", "RoundRecord", "SyncRounds",
    "UploadRejected",
]  # fmt: skip

log = logging.getLogger(__name__)

FailureExplainer = Callable[[str, float, float], str | None]
"""(client_id, round start, round end) -> a cause the server cannot see (e.g. an outage)."""
Prospects = Callable[[], tuple[int, str]]
"""() -> (how many devices may still be online at some moment from now on, why the
others never will be): what the network knows and the server cannot (emulation)."""


class UploadRejected(Exception):  # noqa: N818 - a rejection, carried to an HTTP status
    """`late`: the upload came too late to count (its round has its reports, or is
    closed, or is over), not wrong; the answer says so (`"late": true`) and the device
    asks for its next task at once instead of backing off as after an error."""

    def __init__(self, status: int, reason: str, *, late: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.late = late


class Engine(Protocol):
    """What the HTTP server needs from a round engine (sync or async)."""

    clients: dict[str, ClientInfo]
    params: np.ndarray
    finished: bool
    """Set when the run is over: polls then get 410 Gone and clients stop."""

    def register(self, info: ClientInfo) -> None: ...

    async def poll(self, client_id: str, wait_s: float) -> TrainIns | None: ...

    def task_params(self, ins: TrainIns) -> tuple[np.ndarray, int] | None:
        """The model to send with `ins` and its version (None: the task expired)."""
        ...

    def precheck(self, client_id: str, server_round: int) -> str | None:
        """Why an upload for `server_round` would be stale (409), before reading it
        (None too for the round of the client's last accepted upload: it may be that
        upload again, whose body `repeat` recognizes). Every reason given here means
        too late, never wrong: the answer marks it `late`."""
        ...

    def repeat(self, client_id: str, server_round: int, digest: bytes) -> bool:
        """The upload (`digest`: of its body bytes) is the one already accepted from
        `client_id` for `server_round`, sent again because its answer was lost: it is
        acknowledged as the first was and counted nowhere again (True)."""
        ...

    def base_params(self, version: int) -> np.ndarray | None:
        """The model of `version`, to which a delta upload is added."""
        ...

    def submit(
        self,
        client_id: str,
        server_round: int,
        base_version: int,
        num_examples: int,
        params: np.ndarray,
        metrics: dict[str, float],
        digest: bytes = b"",
    ) -> None: ...

    def note_aborted(self, client_id: str, server_round: int) -> None: ...

    def note_rejected(self, client_id: str, server_round: int, reason: str) -> None: ...

    def status(self) -> dict[str, Any]: ...

    def unsettled(self) -> dict[str, int]: ...


@dataclass
class RoundRecord:
    round: int
    start_s: float
    end_s: float
    selected: int
    reported: int
    failed: int
    accepted: bool
    deployed_version: int
    metric: float
    candidate_metric: float | None
    failed_causes: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    reporters: list[str] = field(default_factory=list)
    """The clients whose uploads the round counted in `reported`, in aggregation order
    (so results can name which of them were adversaries)."""
    aggregated: int = 0
    """Of `reported`, the uploads that entered the round's candidate model: all of them,
    or none when the round missed its quorum or its aggregation failed (discarded)."""


class RoundJournal(Protocol):
    """Durable storage of a round engine's progress (deployment's `--state`): each call
    returns only once its data is stored, so what the server acknowledges survives."""

    def round_opened(self, engine: SyncRounds, rnd: _Round) -> None: ...

    def update_accepted(self, engine: SyncRounds, res: TrainRes, digest: bytes) -> None:
        """Store `res` and the digest of its body (`SyncRounds.acknowledged`)."""
        ...

    def round_closed(self, engine: SyncRounds, record: RoundRecord) -> None: ...

    def client_rejected(
        self, engine: SyncRounds, server_round: int, client_id: str, reason: str
    ) -> None: ...

    def client_aborted(self, engine: SyncRounds, server_round: int, client_id: str) -> None: ...


@dataclass
class ResumedRound:
    """A round that was open when the server stopped: its selection, its acknowledged
    updates and the failures it saw (rejected, aborted uploads), reopened as they were
    (no new selection), so it closes with the causes an uninterrupted one would."""

    number: int
    ins: dict[str, TrainIns]
    want: int
    results: list[TrainRes]
    rejected: dict[str, str] = field(default_factory=dict)
    aborted: set[str] = field(default_factory=set)


@dataclass
class _Round:
    number: int
    version: int
    start: float
    ins: dict[str, TrainIns]
    want: int
    results: list[TrainRes] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)
    aborted: set[str] = field(default_factory=set)
    rejected: dict[str, str] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    open: bool = True


class SyncRounds:
    """Rounds with selection, over-selection, deadline and quorum."""

    def __init__(
        self,
        strategy: Strategy,
        evaluator: Evaluator,
        initial_params: np.ndarray,
        *,
        rounds: int,
        min_available: int = 1,
        deadline_s: float = 120.0,
        quorum: float = 0.5,
        target: float | None = None,
        time_limit_s: float | None = None,
        round_interval_s: float = 0.0,
        rng: np.random.Generator,
        explain: FailureExplainer | None = None,
        gate: DeploymentGate | None = None,
    ) -> None:
        self.strategy = strategy
        self.evaluator = evaluator
        self.params = np.ascontiguousarray(initial_params, dtype=np.float32).copy()
        self.version = 0
        self.rounds = rounds
        self.min_available = min_available
        self.deadline_s = deadline_s
        self.quorum = quorum
        self.target = target
        self.time_limit_s = time_limit_s
        self.round_interval_s = round_interval_s
        self.rng = rng
        self.explain = explain
        self.gate = gate if gate is not None else DeploymentGate(math.inf)
        self.polls = LongPolls()
        self.clients = self.polls.clients
        self.current: _Round | None = None
        self.records: list[RoundRecord] = []
        self.observers: list[Callable[[RoundRecord], None]] = []
        self.end_observers: list[Callable[[], None]] = []
        """Called once, the moment the run ends (before any other task runs at that
        instant): the emulator closes the run's window there (fedsim.run)."""
        self.finished = False
        self._arrivals = asyncio.Event()
        self._matrix = np.empty((0, self.params.size), dtype=np.float32)
        self.deployed_metric = float("nan")
        self.evaluate_in_thread = False
        self.aggregate_in_client_order = False
        """Deployment: arrival order is an accident of the network; aggregating in client
        order makes a round's result depend only on which updates it holds (a resumed
        round equals an uninterrupted one bit for bit). Emulation keeps arrival order."""
        self.journal: RoundJournal | None = None
        self.resume: ResumedRound | None = None
        self.prospects: Prospects | None = None
        """Set by the emulator: with too few devices left for good, the run ends
        (`devices_lost`) instead of waiting for them forever."""
        self.ended: RunEnd | None = None
        """Why and when the run ended (set when `run` returns)."""
        self._pausing: asyncio.Future[None] | None = None
        self._t0 = 0.0
        self._cut: int | None = None
        """The round the time limit closed before its deadline, if one."""
        self.acknowledged = Acknowledged()
        """Each client's last accepted upload: the same bytes again are a resend."""
        self.surplus_observers: list[Callable[[str, int, float, float], None]] = []
        """Called for each selection settled as surplus, (client, round, window start,
        window end): the evidence keeps the windows, so the auditor can check that
        nothing on the device's path failed it meanwhile (`surplus-had-no-cause`)."""

    # -- called by the HTTP handlers ------------------------------------------------
    def register(self, info: ClientInfo) -> None:
        self.polls.register(info)

    async def poll(self, client_id: str, wait_s: float) -> TrainIns | None:
        """Long-poll: the client's instructions if it is selected within `wait_s`."""
        self.polls.seen(client_id)
        if self.finished:
            return None
        rnd = self.current
        if (
            rnd is not None
            and rnd.open
            and not rnd.done.is_set()  # it has its reports: a late device is not sent back
            and client_id in rnd.ins
            and client_id not in rnd.reported
        ):
            return rnd.ins[client_id]  # selected, but the task was lost on the way: again
        return await self.polls.wait(client_id, wait_s, parked=self._parked)

    def _parked(self) -> None:
        """A poll is waiting: wake the round loop once enough are (it would only go
        back to waiting before that)."""
        if len(self.polls) >= self.min_available:
            self._arrivals.set()

    def submit(
        self,
        client_id: str,
        server_round: int,
        base_version: int,
        num_examples: int,
        params: np.ndarray,
        metrics: dict[str, float],
        digest: bytes = b"",
    ) -> None:
        """Accept a decoded upload or raise `UploadRejected` (nothing changes then).
        `digest` (of the upload's body) lets `repeat` recognize it if it comes again."""
        rnd = self.current
        if rnd is None or rnd.number != server_round:
            now = rnd.number if rnd else 0
            raise UploadRejected(
                409, f"stale round {server_round}: the current round is {now}", late=True
            )
        if not rnd.open:
            raise UploadRejected(409, f"round {server_round} is closed", late=True)
        if client_id not in rnd.ins:
            raise UploadRejected(
                409, f"client {client_id!r} was not selected in round {server_round}"
            )
        if base_version != rnd.version:
            reason = f"update is based on version {base_version}, not {rnd.version}"
            self.note_rejected(client_id, server_round, reason)  # journaled, as every cause
            raise UploadRejected(409, reason)
        if client_id in rnd.reported:
            raise UploadRejected(
                409, f"client {client_id!r} already reported in round {server_round}"
            )
        if len(rnd.results) >= rnd.want:
            raise UploadRejected(
                409, f"round {server_round} already has its {rnd.want} reports", late=True
            )
        res = TrainRes(client_id, server_round, base_version, num_examples, params, metrics)
        if self.journal is not None:  # stored before the server acknowledges it
            self.journal.update_accepted(self, res, digest)
        self._add_result(rnd, res)
        self.acknowledged.stored(client_id, server_round, digest)

    @property
    def repeats(self) -> dict[str, int]:
        return self.acknowledged.repeats

    def repeat(self, client_id: str, server_round: int, digest: bytes) -> bool:
        """The stored upload again (its answer was lost): acknowledged again, and only
        counted in `repeats`. Sync rounds never hand a reported client its task again,
        so there is no task to take back."""
        return self.acknowledged.again(client_id, server_round, digest)

    def _add_result(self, rnd: _Round, res: TrainRes) -> None:
        row = len(rnd.results)
        self._matrix[row] = res.params
        rnd.results.append(
            TrainRes(
                res.client_id,
                res.server_round,
                res.base_version,
                res.num_examples,
                self._matrix[row],
                res.metrics,
            )
        )
        rnd.reported.add(res.client_id)
        info = self.clients.setdefault(res.client_id, ClientInfo(res.client_id, res.num_examples))
        info.rounds_reported += 1
        info.add_totals(res.metrics)
        if len(rnd.results) >= rnd.want:
            rnd.done.set()

    def note_aborted(self, client_id: str, server_round: int) -> None:
        rnd = self.current
        if rnd is not None and rnd.number == server_round and client_id in rnd.ins:
            rnd.aborted.add(client_id)
            if self.journal is not None:  # a restarted server closes it with this cause
                self.journal.client_aborted(self, server_round, client_id)

    def note_rejected(self, client_id: str, server_round: int, reason: str) -> None:
        rnd = self.current
        if rnd is not None and rnd.number == server_round and client_id in rnd.ins:
            rnd.rejected[client_id] = reason
            if self.journal is not None:
                self.journal.client_rejected(self, server_round, client_id, reason)

    def task_params(self, ins: TrainIns) -> tuple[np.ndarray, int] | None:
        rnd = self.current
        if rnd is None or rnd.number != ins.server_round or not rnd.open:
            return None
        return self.params, rnd.version

    def precheck(self, client_id: str, server_round: int) -> str | None:
        rnd = self.current
        if rnd is None or rnd.number != server_round or not rnd.open:
            if self.acknowledged.of_round(client_id, server_round):
                return None  # its accepted upload again, maybe: `repeat` reads the body
            now = rnd.number if rnd else 0
            return f"stale round {server_round}: the current round is {now}"
        return None

    def base_params(self, version: int) -> np.ndarray | None:
        return self.params if version == self.version else None

    # -- the loop -------------------------------------------------------------------
    async def run(self) -> list[RoundRecord]:
        loop = asyncio.get_running_loop()
        t0 = self._t0 = loop.time()
        self.deployed_metric = self._evaluate(self.params)
        next_start = t0
        for number in range(len(self.records) + 1, self.rounds + 1):
            if loop.time() < next_start:
                await self._pause(self._wait_until(loop, t0, next_start))
            if self.ended is not None or self._out_of_time(loop, t0):
                break  # (the round_interval wait may reach the limit)
            resuming = self.resume is not None and self.resume.number == number
            if not resuming and not await self._await_available(loop, t0):
                break  # (a resumed round has its selection: it reopens at once)
            next_start = loop.time() + self.round_interval_s
            record = await self._round(loop, number)
            self.records.append(record)
            if self.journal is not None:
                self.journal.round_closed(self, record)
            for obs in self.observers:
                obs(record)
            if self.ended is not None or self._reached_target() or self._out_of_time(loop, t0):
                break
        if self.ended is None:
            self.ended = self._natural_end(loop, t0)
        self.finished = True
        for see in self.end_observers:
            see()
        self.polls.release_all()
        return self.records

    def stop(self, reason: str, note: str | None = None) -> None:
        """End the run now from outside (a stall, nothing left to happen): a round
        still open closes at once, as at its deadline; no new round starts."""
        if self.ended is not None or self.finished:
            return
        self.ended = RunEnd(reason, asyncio.get_running_loop().time(), note)
        if self._pausing is not None:
            _wake(self._pausing)
        self._arrivals.set()
        if self.current is not None and self.current.open:
            self.current.done.set()

    def reconsider(self) -> None:
        """Devices left for good: a wait for enough of them looks again."""
        self._arrivals.set()

    def _natural_end(self, loop: asyncio.AbstractEventLoop, t0: float) -> RunEnd:
        now = loop.time()
        if self._reached_target():
            return RunEnd("target", now)
        limit = f"fl.time_limit ({self.time_limit_s or 0:g} s) ran out"
        if self._cut is not None:
            last = self.records[-1]
            return RunEnd(
                "time_limit",
                now,
                f"{limit} in round {self._cut} of {self.rounds}, which closed then, before its "
                f"deadline, with {last.reported} of {last.selected} reports",
            )
        if len(self.records) >= self.rounds:
            return RunEnd("rounds", now)
        # (the loop ends early on its own only out of time)
        return RunEnd(
            "time_limit", now, f"{limit} after {len(self.records)} of {self.rounds} rounds"
        )

    async def _pause(self, seconds: float) -> None:
        """`asyncio.sleep(seconds)` (the round interval; the same one timer, so the
        same order of events), which `stop` cuts short."""
        if seconds <= 0:
            await asyncio.sleep(0)  # as asyncio.sleep: one yield, no timer
            return
        loop = asyncio.get_running_loop()
        self._pausing = fut = loop.create_future()
        timer = loop.call_later(seconds, _wake, fut)
        try:
            await fut
        finally:
            timer.cancel()
            self._pausing = None

    async def _await_available(self, loop: asyncio.AbstractEventLoop, t0: float) -> bool:
        while len(self.polls) < self.min_available:
            if self.ended is not None:
                return False
            if self.prospects is not None:
                possible, lost = self.prospects()
                if possible < self.min_available:
                    self.ended = RunEnd(
                        "devices_lost",
                        loop.time(),
                        f"{_how_many(possible)} can ever be online again ({lost}); "
                        f"a round needs fl.min_available={self.min_available}",
                    )
                    return False
            self._arrivals.clear()
            if self.time_limit_s is None:
                await self._arrivals.wait()
                continue
            left = self.time_limit_s - (loop.time() - t0)
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._arrivals.wait(), left)
            except TimeoutError:
                return False
        return self.ended is None

    async def _round(self, loop: asyncio.AbstractEventLoop, number: int) -> RoundRecord:
        resumed, self.resume = self.resume, None
        if resumed is not None and resumed.number == number:
            ins, want = resumed.ins, resumed.want
        else:
            resumed = None
            online = [self.clients[c] for c in sorted(self.polls)]
            assignments = self.strategy.configure_round(number, self.version, online, self.rng)
            want = self.strategy.target_count(len(online))
            ins = {info.client_id: t for info, t in assignments}
        rnd = _Round(number, self.version, loop.time(), ins, min(want, len(ins)))
        if self._matrix.shape[0] < rnd.want:
            self._matrix = np.empty((rnd.want, self.params.size), dtype=np.float32)
        self.current = rnd
        if resumed is not None:
            for res in resumed.results:
                self._add_result(rnd, res)
            rnd.rejected.update(resumed.rejected)
            rnd.aborted.update(resumed.aborted)
        elif self.journal is not None:
            self.journal.round_opened(self, rnd)
        for cid, t in ins.items():  # rounds_reported rises in `submit`: the gap is failures
            self.clients.setdefault(cid, ClientInfo(cid, 0)).rounds_selected += 1
            self.polls.hand(cid, t)
        wait = self._round_wait(loop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rnd.done.wait(), wait)
        unanswered = "deadline"  # what a selected client that never reported ran out of
        if wait < self.deadline_s and not rnd.done.is_set():
            self._cut = number  # the time limit closed it, not its deadline
            unanswered = "time_limit"
        elif self.ended is not None and len(rnd.results) < rnd.want:
            unanswered = "run_stopped"  # `stop` closed it before its deadline
        rnd.open = False
        end = loop.time()
        failures = self._failures(rnd, end, unanswered)
        for f in failures:
            self.clients[f.client_id].add_failure(f.cause)
        failed = {f.client_id for f in failures}
        for cid in sorted(ins):  # the round filled up without them, nothing failed them
            if cid not in rnd.reported and cid not in failed:
                self.clients[cid].rounds_surplus += 1
                for see in self.surplus_observers:
                    see(cid, number, rnd.start, end)
        if self.aggregate_in_client_order:
            self._order_by_client(rnd)
        results = rnd.results
        accepted = False
        candidate_metric: float | None = None
        metrics: dict[str, float] = {}
        if results and len(results) >= self.quorum * rnd.want:
            k = len(results)
            weights = np.array([r.num_examples for r in results], dtype=np.float64)
            updates = RoundUpdates(list(results), self._matrix[:k], weights)
            try:
                candidate, metrics = self.strategy.aggregate(number, self.params, updates, failures)
                if candidate is not None:
                    metrics = {**metrics, "update_norm": step_norm(candidate, self.params)}
                    candidate_metric = await self._evaluate_candidate(candidate)
            except Exception:  # a failed aggregation rejects the round, never ends the server
                log.exception("round %d: aggregation failed; the model stays as it was", number)
                candidate, metrics, candidate_metric = None, {}, None
            if candidate is not None and candidate_metric is not None:
                accepted = self.gate.accept(
                    candidate_metric, self.deployed_metric, self.evaluator.higher_is_better
                )
                if accepted:  # evaluated before deployment: the gate may keep the old model
                    self.params = np.ascontiguousarray(candidate, dtype=np.float32).copy()
                    self.version += 1
                    self.deployed_metric = candidate_metric
        fed_key = f"fed_{self.evaluator.metric_name}"
        fed = [(r.num_examples, r.metrics[fed_key]) for r in results if fed_key in r.metrics]
        if fed:
            total = sum(n for n, _ in fed)
            metrics = {**metrics, "federated_metric": sum(n * v for n, v in fed) / total}
        causes = Counter(f.cause for f in failures)
        return RoundRecord(
            round=number,
            start_s=rnd.start,
            end_s=end,
            selected=len(ins),
            reported=len(results),
            failed=len(failures),
            accepted=accepted,
            deployed_version=self.version,
            metric=self.deployed_metric,
            candidate_metric=candidate_metric,
            failed_causes=dict(sorted(causes.items())),
            metrics=metrics,
            reporters=[r.client_id for r in results],
            aggregated=len(results) if candidate_metric is not None else 0,
        )

    def _order_by_client(self, rnd: _Round) -> None:
        """Rows in client-id order, so the float sums do not depend on arrival order."""
        order = sorted(range(len(rnd.results)), key=lambda i: rnd.results[i].client_id)
        k = len(order)
        self._matrix[:k] = self._matrix[order]
        rnd.results = [
            dataclasses.replace(rnd.results[j], params=self._matrix[i]) for i, j in enumerate(order)
        ]

    def _failures(self, rnd: _Round, end: float, unanswered: str) -> list[Failure]:
        """Who of the round's selection did not report, and why: a cause the server saw
        (rejected, aborted) or the network explains, else `unanswered` (`deadline`, or
        what closed the round before its deadline: `time_limit`, `run_stopped`).

        A round that filled up (over-selection) needed no more reports, so a leftover
        with no cause merely lost the race (surplus, not a failure: it was still
        working or uploading), and `unanswered` is no cause for it. One with a cause
        failed all the same: its task was rejected, aborted, or killed by an outage
        on its path, its own request timeout or a CoAP give-up inside the round's
        window (a gateway outage must not hide as surplus)."""
        reported = rnd.reported
        filled = len(reported) >= rnd.want
        out = []
        for cid in sorted(rnd.ins):
            if cid in reported:
                continue
            cause = self._cause(rnd, cid, end)
            if cause is None:
                if filled:
                    continue  # lost the race: surplus
                cause = unanswered
            out.append(Failure(cid, rnd.number, cause))
        return out

    def _cause(self, rnd: _Round, cid: str, end: float) -> str | None:
        """Why `cid`'s task in `rnd` failed, if anything says: the server refused its
        upload, the network (or the client's own give-up) explains it, or its upload
        broke off; None: nothing failed it."""
        if cid in rnd.rejected:
            return "rejected"
        cause = self.explain(cid, rnd.start, end) if self.explain is not None else None
        if cause is None and cid in rnd.aborted:
            return "aborted"
        return cause

    def _evaluate(self, params: np.ndarray) -> float:
        return score(self.evaluator, params)

    async def _evaluate_candidate(self, params: np.ndarray) -> float:
        """In deployment (`evaluate_in_thread`) the event loop keeps serving uploads and
        polls meanwhile; under the emulator evaluation stays on the loop, in order."""
        if not self.evaluate_in_thread:
            return self._evaluate(params)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._evaluate, params)

    def _reached_target(self) -> bool:
        return reached(self.deployed_metric, self.target, self.evaluator.higher_is_better)

    def _wait_until(self, loop: asyncio.AbstractEventLoop, t0: float, start: float) -> float:
        """Seconds to wait for `start`, but never past the time limit."""
        if self.time_limit_s is not None:
            start = min(start, t0 + self.time_limit_s)
        return max(0.0, start - loop.time())

    def _round_wait(self, loop: asyncio.AbstractEventLoop) -> float:
        """A round waits for its reports until its deadline, or until the time limit
        if that comes first (the run ends at `fl.time_limit`, not one deadline later)."""
        if self.time_limit_s is None:
            return self.deadline_s
        return max(0.0, min(self.deadline_s, self._t0 + self.time_limit_s - loop.time()))

    def _out_of_time(self, loop: asyncio.AbstractEventLoop, t0: float) -> bool:
        return self.time_limit_s is not None and loop.time() - t0 >= self.time_limit_s

    def unsettled(self) -> dict[str, int]:
        """Per client, its selections that are neither reported, a dropout nor surplus
        yet: those of the open round that have not reported (a round settles them when it
        closes). None between rounds, so none once a run has ended."""
        rnd = self.current
        if rnd is None or not rnd.open:
            return {}
        return {cid: 1 for cid in sorted(rnd.ins) if cid not in rnd.reported}

    def status(self) -> dict[str, Any]:
        rnd = self.current
        return {
            "round": rnd.number if rnd else 0,
            "open": bool(rnd and rnd.open),
            "reported": len(rnd.results) if rnd else 0,
            "version": self.version,
            "metric": self.deployed_metric,
            "clients": len(self.clients),
            "online": len(self.polls),
            "finished": self.finished,
        }


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _how_many(devices: int) -> str:
    if devices == 0:
        return "no device"
    return f"only {devices} device" + ("s" if devices > 1 else "")

"""The asynchronous round engine: FedBuff (Nguyen et al., 2022), buffered and staleness-weighted.

Clients train continuously as they come and go. Any polling client gets a task
at once (at most `concurrency` train at the same time; the rest long-poll for a
free slot, first come first served) on the current model version. Uploads are
buffered as deltas against the version the client started from; every
`buffer_size` (K) updates the engine aggregates

    delta = sum_i n_i s(tau_i) delta_i / sum_i n_i,    s(tau) = (1 + tau)^-a  (a = 0.5)

where tau_i is how many versions the global model moved since client i's base
(FedBuff's discount: a buffer of stale updates moves the model less), proposes
`params + server_lr * delta`, evaluates it and deploys it as a new version if
the `DeploymentGate` accepts it. Updates staler than `max_staleness` are
rejected with 409; the engine keeps the last `max_staleness + 1` versions so
that `base_params(version)` can rebuild delta uploads.

One aggregation is one "round" of the results: a `RoundRecord` whose `selected`
counts the tasks handed out since the previous aggregation, `reported` the K
buffered updates and `failed` the tasks that ended without an accepted update in
that window (cause: `stale`, `rejected`, the `explain` hook's answer, `aborted`,
`lost` or `deadline` after `deadline_s`).

When the run ends, what is left after the last aggregation is in no round. A task that
failed since (a cause, as above), is still out with a cause the `explain` hook gives for
its window (an outage on its path, the client's own give-up), or is still out on a
device that can never come back (the `gone` hook, fedsim.run_end.lost_for_good: the
devices its prospects count lost, behind a cause never lifted -- an empty battery,
churn, a `forever` failure, an outage past `fl.time_limit` -- or stranded) is a
dropout all the same (docs/results.md: a selected client that did not report, with a
cause): counted per client and in `dropouts_after_rounds`, which summary.json adds to
rounds.csv's `failed_causes`. An update stored in the buffer, or a task still out on a
device that might yet report, is surplus: the run ended before its window was
aggregated.

The engine implements the `Engine` protocol of `fedsim.fl.engine`, so the HTTP
server and the clients are the same as for `SyncRounds`. FedBuff aggregation is
its own rule, so there is no `Strategy` here; numerics use the kernels. Nor is
there a selection step to bias: every polling client gets a task as soon as a
slot is free, so `fl.selection: reliability` is rejected for this engine when
the topology is loaded (a reliability-ordered slot queue would be the async analogue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedsim.fl.acknowledged import Acknowledged
from fedsim.fl.engine import FailureExplainer, Prospects, RoundRecord, UploadRejected
from fedsim.fl.gate import DeploymentGate, reached, score
from fedsim.fl.messages import ClientInfo, Failure, TrainIns
from fedsim.fl.polling import LongPolls
from fedsim.fl.strategy import step_norm
from fedsim.kernels.aggregate import weighted_mean
from fedsim.record.end_reasons import RunEnd
from fedsim.tasks.base import Evaluator

__all__ = ["BufferedAsync", "polynomial_staleness"]

log = logging.getLogger(__name__)


def polynomial_staleness(exponent: float = 0.5) -> Callable[[int], float]:
    """s(tau) = (1 + tau)^-exponent; 0.5 is FedBuff's 1/sqrt(1 + tau), 0 no discount."""
    if not exponent >= 0.0:
        raise ValueError(f"staleness exponent must be non-negative, got {exponent}")

    def s(tau: int) -> float:
        return float((1.0 + tau) ** -exponent)

    return s


@dataclass
class _Task:
    client_id: str
    ins: TrainIns
    issued: float
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Buffered:
    client_id: str
    num_examples: int
    staleness: int


class BufferedAsync:
    """FedBuff: K-update buffer, staleness discount, server learning rate, deployment gate."""

    def __init__(
        self,
        evaluator: Evaluator,
        initial_params: np.ndarray,
        *,
        rounds: int,
        buffer_size: int = 10,
        concurrency: int | None = None,
        max_staleness: int = 10,
        server_lr: float = 1.0,
        staleness_fn: Callable[[int], float] | None = None,
        config: Mapping[str, Any] | None = None,
        deadline_s: float = 600.0,
        target: float | None = None,
        time_limit_s: float | None = None,
        gate: DeploymentGate | None = None,
        explain: FailureExplainer | None = None,
    ) -> None:
        if int(rounds) != rounds or rounds < 1:
            raise ValueError(f"rounds must be a positive integer, got {rounds}")
        if int(buffer_size) != buffer_size or buffer_size < 1:
            raise ValueError(f"buffer_size must be a positive integer, got {buffer_size}")
        if concurrency is not None and (int(concurrency) != concurrency or concurrency < 1):
            raise ValueError(f"concurrency must be a positive integer or None, got {concurrency}")
        if int(max_staleness) != max_staleness or max_staleness < 0:
            raise ValueError(f"max_staleness must be a non-negative integer, got {max_staleness}")
        if not server_lr > 0.0:
            raise ValueError(f"server_lr must be positive, got {server_lr}")
        if not deadline_s > 0.0:
            raise ValueError(f"deadline_s must be positive, got {deadline_s}")
        self.evaluator = evaluator
        self.params = np.ascontiguousarray(initial_params, dtype=np.float32).copy()
        self.version = 0
        self.rounds = int(rounds)
        self.buffer_size = int(buffer_size)
        self.concurrency = None if concurrency is None else int(concurrency)
        self.max_staleness = int(max_staleness)
        self.server_lr = float(server_lr)
        self.staleness_fn = staleness_fn or polynomial_staleness(0.5)
        self.config: dict[str, Any] = dict(config or {})
        self.deadline_s = float(deadline_s)
        self.target = target
        self.time_limit_s = time_limit_s
        self.gate = gate if gate is not None else DeploymentGate(math.inf)
        self.explain = explain
        self.polls = LongPolls()
        self.clients = self.polls.clients
        self.records: list[RoundRecord] = []
        self.observers: list[Callable[[RoundRecord], None]] = []
        self.end_observers: list[Callable[[], None]] = []
        """Called once, the moment the run ends (before any other task runs at that
        instant): the emulator closes the run's window there (fedsim.run)."""
        self.finished = False
        self.deployed_metric = float("nan")
        self._history: dict[int, np.ndarray] = {0: self.params}
        self._tasks: dict[str, _Task] = {}
        self._buffer: list[_Buffered] = []
        self._matrix = np.empty((self.buffer_size, self.params.size), dtype=np.float32)
        self._weights = np.empty(self.buffer_size, dtype=np.float64)
        self._round = 1
        self._window_start: float | None = None
        self._window_selected = 0
        self._window_failures: list[Failure] = []
        self._done = asyncio.Event()
        self.prospects: Prospects | None = None
        """Set by the emulator: once no device can ever be online again, the run ends
        (`devices_lost`): no update can arrive any more."""
        self.ended: RunEnd | None = None
        """Why and when the run ended (set when `run` returns)."""
        self.gone: Callable[[str], str | None] | None = None
        """Set by the emulator (fedsim.run_end.lost_for_good, the per-device answer of
        `prospects`): a client's device can never be online again -> the cause (battery,
        churn, link_down, ...), else None. A task still out on it when the run ends can
        never report: a dropout, not surplus."""
        self.acknowledged = Acknowledged()
        """Each client's last buffered upload: the same bytes again are a resend."""
        self.surplus_observers: list[Callable[[str, int, float, float], None]] = []
        """Called for each task settled as surplus at the end, (client, round, issued,
        end): as `SyncRounds.surplus_observers` (an update stored in the buffer reported,
        and is not among them)."""
        self.dropouts_after_rounds: dict[str, int] = {}
        """{cause: count} of the dropouts after the last aggregation (set when the run
        ends): in clients.csv and summary.json `dropouts`, in no round of rounds.csv."""

    # -- called by the HTTP handlers ------------------------------------------------
    def register(self, info: ClientInfo) -> None:
        self.polls.register(info)

    async def poll(self, client_id: str, wait_s: float) -> TrainIns | None:
        """Long-poll: a task on the current version as soon as a training slot is free."""
        self.polls.seen(client_id)
        if self.finished:
            return None
        if client_id in self._tasks:
            # Polling again with a task out: the task or its upload was lost on the way.
            self._release(client_id, self._cause(client_id, "lost"))
        self.polls.hand(client_id, None)
        if not len(self.polls) and self._free_slots() > 0:
            return self._issue(client_id)
        return await self.polls.wait(client_id, wait_s)

    def task_params(self, ins: TrainIns) -> tuple[np.ndarray, int] | None:
        if self.finished:
            return None
        params = self._history.get(ins.model_version)
        return None if params is None else (params, ins.model_version)

    def precheck(self, client_id: str, server_round: int) -> str | None:
        if self.acknowledged.of_round(client_id, server_round):
            return None  # its accepted upload again, maybe: `repeat` reads the body
        return self._refusal(client_id, server_round)

    def _refusal(self, client_id: str, server_round: int) -> str | None:
        """Why an upload for `server_round` cannot be buffered now (None: it can)."""
        if self.finished:
            return "the run is finished"
        task = self._tasks.get(client_id)
        if task is None:
            return f"client {client_id!r} has no task out (it expired or already reported)"
        if task.ins.server_round != server_round:
            return f"stale round {server_round}: the task is for round {task.ins.server_round}"
        staleness = self.version - task.ins.model_version
        if staleness > self.max_staleness:
            self._release(client_id, "stale")
            self._dispatch()
            return f"update is {staleness} versions stale (max_staleness {self.max_staleness})"
        return None

    def base_params(self, version: int) -> np.ndarray | None:
        return self._history.get(version)

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
        """Buffer a decoded upload or raise `UploadRejected`; aggregate every K updates.
        `digest` (of the upload's body) lets `repeat` recognize it if it comes again."""
        reason = self._refusal(client_id, server_round)
        if reason is not None:  # too late (as a precheck's every reason), not wrong
            raise UploadRejected(409, reason, late=True)
        task = self._tasks[client_id]
        if base_version != task.ins.model_version:
            want = task.ins.model_version
            self._release(client_id, "rejected")
            self._dispatch()
            raise UploadRejected(409, f"update is based on version {base_version}, not {want}")
        staleness = self.version - base_version
        row = len(self._buffer)
        np.subtract(params, self._history[base_version], out=self._matrix[row])
        self._weights[row] = num_examples * self.staleness_fn(staleness)
        self._buffer.append(_Buffered(client_id, num_examples, staleness))
        self.clients[client_id].add_totals(metrics)  # rounds_reported: once aggregated
        self._release(client_id, None)
        self.acknowledged.stored(client_id, server_round, digest)
        if len(self._buffer) >= self.buffer_size:
            self._aggregate()
        self._dispatch()

    @property
    def repeats(self) -> dict[str, int]:
        return self.acknowledged.repeats

    def repeat(self, client_id: str, server_round: int, digest: bytes) -> bool:
        """The buffered upload again (its answer was lost): acknowledged again, and only
        counted in `repeats`. A task out on the client for the same round was handed to
        it after that upload (a poll while the answer was lost) on the same model
        version (versions change only with the round): the same work, which the client
        answered with this resend. It is taken back as if never handed (no selection,
        no failure), as a sync round hands a lost task again without counting it. Once
        the run is over its counts are settled (`_settle_end`): nothing is taken back."""
        if not self.acknowledged.again(client_id, server_round, digest):
            return False
        task = self._tasks.get(client_id)
        if task is not None and task.ins.server_round == server_round and not self.finished:
            self._tasks.pop(client_id)
            if task.timer is not None:
                task.timer.cancel()
            self._window_selected -= 1
            self.clients[client_id].rounds_selected -= 1
            self._dispatch()
        return True

    def note_aborted(self, client_id: str, server_round: int) -> None:
        task = self._tasks.get(client_id)
        if task is not None and task.ins.server_round == server_round:
            self._release(client_id, self._cause(client_id, "aborted"))
            self._dispatch()

    def note_rejected(self, client_id: str, server_round: int, reason: str) -> None:
        task = self._tasks.get(client_id)
        if task is not None and task.ins.server_round == server_round:
            self._release(client_id, "rejected")
            self._dispatch()

    def unsettled(self) -> dict[str, int]:
        """Per client, its selections that are neither reported, a dropout nor surplus
        yet: tasks still out, updates waiting in the buffer and failures waiting for the
        next aggregation (it settles them; the end settles what is left, `_settle_end`,
        so none once the run has ended)."""
        if self.finished:
            return {}
        out = Counter(self._tasks.keys())  # (a mapping would be read as counts)
        out.update(b.client_id for b in self._buffer)
        out.update(f.client_id for f in self._window_failures)
        return dict(sorted(out.items()))

    def status(self) -> dict[str, Any]:
        return {
            "round": self._round,
            "open": not self.finished,
            "version": self.version,
            "metric": self.deployed_metric,
            "clients": len(self.clients),
            "online": len(self.polls),
            "training": len(self._tasks),
            "buffered": len(self._buffer),
            "finished": self.finished,
        }

    # -- the loop -------------------------------------------------------------------
    async def run(self) -> list[RoundRecord]:
        """Evaluate the initial model, then wait until a stop condition (aggregations
        happen inside `submit`, the moment the K-th update arrives)."""
        loop = asyncio.get_running_loop()
        if self._window_start is None:
            self._window_start = loop.time()
        self.deployed_metric = self._evaluate(self.params)
        self.reconsider()
        if not self.finished:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), self.time_limit_s)
        if self.ended is None:
            self.ended = self._natural_end(loop.time())
        self._finish()
        return self.records

    def stop(self, reason: str, note: str | None = None) -> None:
        """End the run now from outside (a stall, nothing left to happen)."""
        if self.ended is not None or self.finished:
            return
        self.ended = RunEnd(reason, asyncio.get_running_loop().time(), note)
        self._finish()

    def reconsider(self) -> None:
        """Devices left for good: with none that can ever come back, end the run."""
        if self.prospects is None or self.finished:
            return
        possible, lost = self.prospects()
        if possible == 0:
            self.stop("devices_lost", f"no device can ever be online again ({lost})")

    def _natural_end(self, now: float) -> RunEnd:
        if self._reached_target():
            return RunEnd("target", now)
        if len(self.records) >= self.rounds:
            return RunEnd("rounds", now)
        limit = f"{self.time_limit_s:g} s" if self.time_limit_s is not None else "none"
        return RunEnd(
            "time_limit",
            now,
            f"fl.time_limit ({limit}) ran out after {len(self.records)} of {self.rounds} "
            "aggregations",
        )

    # -- internals ------------------------------------------------------------------
    def _free_slots(self) -> int:
        if self.concurrency is None:
            return 1
        return self.concurrency - len(self._tasks)

    def _issue(self, client_id: str) -> TrainIns:
        loop = asyncio.get_running_loop()
        if self._window_start is None:
            self._window_start = loop.time()
        ins = TrainIns(self._round, self.version, dict(self.config))
        task = _Task(client_id, ins, loop.time())
        task.timer = loop.call_later(self.deadline_s, self._expire, task)
        self._tasks[client_id] = task
        self._window_selected += 1
        self.clients[client_id].rounds_selected += 1
        return ins

    def _dispatch(self) -> None:
        """Hand free slots to waiting clients, first come first served."""
        for cid in self.polls:  # first come, first served
            if self._free_slots() <= 0 or self.finished:
                break
            if self.polls.is_waiting(cid):
                self.polls.hand(cid, self._issue(cid))

    def _cause(self, client_id: str, default: str) -> str:
        task = self._tasks[client_id]
        if self.explain is not None:
            cause = self.explain(client_id, task.issued, asyncio.get_running_loop().time())
            if cause is not None:
                return cause
        return default

    def _release(self, client_id: str, cause: str | None) -> None:
        """End `client_id`'s task; a `cause` records it as a failure of this window."""
        task = self._tasks.pop(client_id)
        if task.timer is not None:
            task.timer.cancel()
        if cause is not None:
            self._window_failures.append(Failure(client_id, task.ins.server_round, cause))

    def _expire(self, task: _Task) -> None:
        if self._tasks.get(task.client_id) is not task or self.finished:
            return
        task.timer = None
        self._release(task.client_id, self._cause(task.client_id, "deadline"))
        self._dispatch()

    def _aggregate(self) -> None:
        """Aggregate the buffer into a candidate, evaluate it, let the gate deploy it, and
        record the window as a round. A failed aggregation (an error in the kernels or the
        evaluation) never wedges the server: the model stays, and the window is still a
        round, with `aggregated` 0, so its uploads count as discarded (clients.csv
        `rounds_discarded`) exactly as a sync round's whose aggregation failed."""
        k = len(self._buffer)
        loop = asyncio.get_running_loop()
        stale = np.array([b.staleness for b in self._buffer], dtype=np.float64)
        examples = float(sum(b.num_examples for b in self._buffer))
        discount = float(self._weights[:k].sum()) / examples
        metrics = {
            "staleness_mean": float(stale.mean()),
            "staleness_max": float(stale.max()),
            "staleness_discount": discount,
        }
        try:
            candidate, update_norm = self._candidate(k, discount)
            candidate_metric: float | None = self._evaluate(candidate)
            metrics["update_norm"] = update_norm
        except Exception:  # never wedge: discard the buffer, keep the model, go on
            log.exception("aggregation failed; the buffered updates are discarded")
            candidate, candidate_metric = None, None
        higher = bool(self.evaluator.higher_is_better)
        accepted = candidate is not None and self.gate.accept(
            candidate_metric, self.deployed_metric, higher
        )
        if accepted:
            self.params = candidate
            self.version += 1
            self._history[self.version] = candidate
            self._history.pop(self.version - self.max_staleness - 1, None)
            self.deployed_metric = candidate_metric
        failures = self._window_failures
        for f in failures:
            self.clients[f.client_id].add_failure(f.cause)
        for b in self._buffer:
            self.clients[b.client_id].rounds_reported += 1
        causes = Counter(f.cause for f in failures)
        now = loop.time()
        record = RoundRecord(
            round=self._round,
            start_s=self._window_start if self._window_start is not None else now,
            end_s=now,
            selected=self._window_selected,
            reported=k,
            failed=len(failures),
            accepted=accepted,
            deployed_version=self.version,
            metric=self.deployed_metric,
            candidate_metric=candidate_metric,
            failed_causes=dict(sorted(causes.items())),
            metrics=metrics,
            reporters=[b.client_id for b in self._buffer],
            aggregated=k if candidate_metric is not None else 0,
        )
        self._buffer.clear()
        self._window_failures = []
        self._window_selected = 0
        self._window_start = now
        self._round += 1
        self.records.append(record)
        for obs in self.observers:
            obs(record)
        if len(self.records) >= self.rounds or self._reached_target():
            self._finish()

    def _finish(self) -> None:
        if not self.finished:
            self._settle_end()
        first = not self.finished
        self.finished = True
        self._done.set()
        if first:
            for see in self.end_observers:
                see()
        for task in self._tasks.values():
            if task.timer is not None:
                task.timer.cancel()
                task.timer = None
        self.polls.release_all()

    def _settle_end(self) -> None:
        """Settle what the last aggregation left, so that every selection ends as
        reported (in a round), a dropout or surplus, and clients.csv sums to rounds.csv
        plus `dropouts_after_rounds`. Failures since then keep their cause; a task still
        out failed too when the network explains it (an outage on its path during the
        task, its own request timeout or CoAP give-up: the same rule as a sync round that
        filled up without it) or its device can never come back; an update in the
        buffer, or a task nothing failed that might yet report, is surplus."""
        failures = list(self._window_failures)
        now = asyncio.get_running_loop().time()
        for cid, task in self._tasks.items():
            cause = self.explain(cid, task.issued, now) if self.explain is not None else None
            if cause is None and self.gone is not None:
                cause = self.gone(cid)
            if cause is None:  # nothing failed it: it might yet have reported
                self.clients[cid].rounds_surplus += 1
                for see in self.surplus_observers:
                    see(cid, task.ins.server_round, task.issued, now)
                continue
            failures.append(Failure(cid, task.ins.server_round, cause))
        for f in failures:
            self.clients[f.client_id].add_failure(f.cause)
        for b in self._buffer:
            self.clients[b.client_id].rounds_surplus += 1
        self.dropouts_after_rounds = dict(sorted(Counter(f.cause for f in failures).items()))
        self._window_failures = []

    def _candidate(self, k: int, discount: float) -> tuple[np.ndarray, float]:
        """`params + server_lr * discount * weighted mean of the buffered deltas`, and the
        norm of that step as deployed (candidate - params in float32: `step_norm`)."""
        step = np.empty_like(self.params)
        weighted_mean(self._matrix[:k], self._weights[:k], step)
        step *= np.float32(self.server_lr * discount)
        step += self.params  # reuse the buffer: candidate = params + step
        return step, step_norm(step, self.params)

    def _evaluate(self, params: np.ndarray) -> float:
        return score(self.evaluator, params)

    def _reached_target(self) -> bool:
        return reached(self.deployed_metric, self.target, self.evaluator.higher_is_better)

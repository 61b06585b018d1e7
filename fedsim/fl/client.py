"""An FL device: an aiohttp `ClientSession` loop of register, poll, train, upload.

By default an upload asks for the next task on its own answer (X-Fedsim-Wait,
fedsim.fl.server): the answer's head acknowledges the update, its body is the long
poll, so a device that stays selected makes one exchange per round.

The same code runs over real TCP (deployment) and over the emulated network: it
only sees a `BaseConnector`. Device compute time is an `asyncio.sleep` of the
work divided by the device's speed; under the virtual clock that is simulated
time. Connection errors and timeouts lead to a backoff (also simulated) and a
new poll; nothing here knows why the network failed.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
import yarl

from fedsim.devices import DeviceProfile
from fedsim.fl.acknowledged import upload_digest
from fedsim.fl.auth import Signer
from fedsim.fl.codec import EnvelopeError, decode, encode, restore_residual
from fedsim.fl.server import (
    ACCEPTED_HEADER,
    CLIENT_HEADER,
    REGISTERED_HEADER,
    ROUND_HEADER,
    WAIT_HEADER,
)
from fedsim.fl.timeouts import (
    CONNECT_TIMEOUT_S,
    REQUEST_TIMEOUT_S,
    gave_up_cause,
    is_request_timeout,
)
from fedsim.fl.wire_schema import TaskMeta, WireError, check, config_key
from fedsim.tasks.base import LocalLearner
from fedsim.tasks.work import evaluate_work

__all__ = ["BACKOFF_S", "ClientStats", "FLClient", "update_meta"]

log = logging.getLogger(__name__)

StateObserver = Callable[[str, str], None]
"""(client_id, state) with state in idle, downloading, training, uploading, done."""

LinkWait = Callable[[], Awaitable[object]]
"""Waits until the device's own network interface has a link again (carrier, Wi-Fi
association, radio attach): local state every device's network stack knows."""

BACKOFF_S = (2.0, 120.0)
"""A client's retry backoff after a failed exchange: first, and longest (seconds)."""

OFFLOAD_FLOPS = 5e7
"""Training jobs larger than this run in a worker thread (kernels release the GIL)."""


@dataclass
class ClientStats:
    rounds_trained: int = 0
    uploads_accepted: int = 0
    """Distinct uploads the server's answer acknowledged (stored): the audit's
    `acknowledged-was-accepted` holds it to the server's count."""
    uploads_repeated: int = 0
    """Acknowledged again: the bytes of the upload last acknowledged, for its round (a
    fresh training of the same task that came out the same, as full-batch training
    does). The server stores an upload once by its bytes (`upload_digest`)."""
    uploads_rejected: int = 0
    """Refused as wrong (a bad envelope, a version mismatch, not selected): backs off."""
    uploads_late: int = 0
    """Refused as too late to count (the round had its reports, closed or was over):
    over-selection's surplus, not an error; the device asks for its next task at once."""
    errors: dict[str, int] = field(default_factory=dict)
    compute_flops: float = 0.0
    compute_time_s: float = 0.0


class FLClient:
    __slots__ = (
        "_acked",
        "_failures",
        "_path",
        "_poll_query",
        "_poll_url",
        "_register_url",
        "_residual",
        "_sent",
        "_unanswered",
        "_update_url",
        "_wait",
        "backoff_s",
        "charge_compute",
        "client_id",
        "codec",
        "codec_rng",
        "connector",
        "device",
        "gave_up",
        "instance",
        "jitter_rng",
        "last_contact",
        "last_error",
        "learner",
        "link_up",
        "observer",
        "on_evaluate",
        "on_work",
        "poll_wait_s",
        "request_timeout_s",
        "request_timeouts",
        "rng",
        "signer",
        "stats",
        "task_on_answer",
        "url",
    )
    """One client per registered device (100,000 in a city): no __dict__ each."""

    def __init__(
        self,
        client_id: str,
        server_url: str,
        connector: aiohttp.BaseConnector,
        learner: LocalLearner,
        device: DeviceProfile,
        rng: np.random.Generator,
        *,
        codec: str = "float32",
        poll_wait_s: float = 30.0,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        backoff_s: tuple[float, float] = BACKOFF_S,
        observer: StateObserver | None = None,
        on_work: Callable[[str, float, float], None] | None = None,
        on_evaluate: Callable[[str], None] | None = None,
        charge_compute: bool = True,
        link_up: LinkWait | None = None,
        signer: Signer | None = None,
        instance: str = "",
        jitter_rng: np.random.Generator | None = None,
        codec_rng: np.random.Generator | None = None,
        task_on_answer: bool = True,
    ) -> None:
        self.client_id = client_id
        self.url = server_url.rstrip("/")
        self._path = yarl.URL(self.url).path.rstrip("/")
        # Parsed once: aiohttp takes a URL object as it is (no string parse per request).
        self._register_url = yarl.URL(f"{self.url}/v1/register")
        self._update_url = yarl.URL(f"{self.url}/v1/update")
        self._wait = str(poll_wait_s)
        self._poll_query = {"client_id": client_id, "wait": self._wait}
        self._poll_url = yarl.URL(f"{self.url}/v1/task").extend_query(self._poll_query)
        self.connector = connector
        self.learner = learner
        self.device = device
        self.rng = rng
        self.codec = codec
        self.poll_wait_s = poll_wait_s
        self.request_timeout_s = request_timeout_s
        self.backoff_s = backoff_s
        self.observer = observer
        self.on_work = on_work
        """Called with (client_id, flops, seconds it takes) when the charged training time
        starts (energy): the learner's `work(config)`, or its `work_done(config, metrics)`;
        and with federated evaluation, first its `evaluate_work()`."""
        self.on_evaluate = on_evaluate
        """Called with client_id each time the device scores a model on its own data
        (federated evaluation): the run's evidence counts them, apart from the charge."""
        self.charge_compute = charge_compute
        """Emulation charges device time as a sleep; on real hardware training takes
        its own real time, so deployment turns the charge off."""
        self.link_up = link_up
        """A connect that fails with ENETUNREACH (no link of its own) waits for the
        link before its backoff, as a device's firmware waits for association instead
        of polling a dead interface; None (unknown link state): backoff only."""
        self.signer = signer
        """Signs every request (fedsim.fl.auth); None: unauthenticated (tests of the API)."""
        self.instance = instance
        self.jitter_rng = jitter_rng if jitter_rng is not None else rng
        """Backoff jitter. Deployment gives it its own generator, so retries never shift
        the training draws (a crashed server's clients train as if it never crashed)."""
        """This process's token in registration (duplicate identities are refused)."""
        self.codec_rng = codec_rng if codec_rng is not None else rng.spawn(1)[0]
        """int8's stochastic rounding: never the training's stream, so the same seed
        trains in the same order whatever the codec (a sweep over codecs is paired).
        Runs pass a named stream (`("codec", device)`); without one, a child of `rng`
        (spawning draws nothing from it)."""
        self.task_on_answer = task_on_answer
        """Ask for the next task on each upload's answer (one exchange per round);
        False: upload, then poll (two)."""
        self.stats = ClientStats()
        self.last_contact: float | None = None
        """Loop time of the last exchange the server answered as expected (deployment's
        bounded retry gives up after a while without one)."""
        self.last_error: BaseException | None = None
        self._residual: np.ndarray | None = None
        self._unanswered: tuple[int, int, bytes] | None = None
        """(round, version, body) of an upload the server has not answered yet."""
        self._acked: tuple[int, bytes] | None = None
        """(round, `upload_digest`) of the last upload counted in `uploads_accepted`."""
        self._sent: tuple[np.ndarray, np.ndarray] | None = None
        """The top-k entries (indices, values) `_unanswered` carries, out of the residual:
        put back if the server refuses it, so error feedback drops nothing."""
        self._failures = 0
        self.request_timeouts: list[float] = []
        """Loop times at which an exchange ran out of `request_timeout_s` + `poll_wait_s`
        (the run names such a dropout's cause `request_timeout`)."""
        self.gave_up: list[float] = []
        """Loop times at which an exchange gave up by its own protocol's rule (CoAP: no
        ACK after MAX_RETRANSMIT retransmissions; cause `coap_gave_up`), not a timeout."""

    def _state(self, state: str) -> None:
        if self.observer is not None:
            self.observer(self.client_id, state)

    def _signed(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None,
        headers: dict[str, str],
        body: bytes,
    ) -> dict[str, str]:
        """`headers` plus the request's signature, when this client has a key."""
        if self.signer is None:
            return dict(headers)
        auth = self.signer.sign(method, self._path + path, query, headers, body)
        return {**headers, "Authorization": auth}

    def _error(self, exc: BaseException) -> None:
        self.last_error = exc
        kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        if is_request_timeout(exc):
            self.request_timeouts.append(asyncio.get_running_loop().time())
        elif gave_up_cause(exc) is not None:
            self.gave_up.append(asyncio.get_running_loop().time())
        self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1

    async def _backoff(self) -> None:
        """Exponential backoff with full jitter (simulated time under the emulator)."""
        self._failures += 1
        lo, hi = self.backoff_s
        cap = min(hi, lo * 2 ** min(self._failures, 16))
        await asyncio.sleep(float(self.jitter_rng.uniform(lo / 2, cap)))

    async def _await_link(self, stop: asyncio.Event) -> None:
        """Until the device's link is back or the federation stops, whichever first."""
        assert self.link_up is not None
        link = asyncio.ensure_future(self.link_up())
        halt = asyncio.ensure_future(stop.wait())
        await asyncio.wait((link, halt), return_when=asyncio.FIRST_COMPLETED)
        for waiter in (link, halt):
            waiter.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set or the server says it is finished."""
        timeout = aiohttp.ClientTimeout(
            total=self.request_timeout_s + self.poll_wait_s,
            connect=CONNECT_TIMEOUT_S,
            ceil_threshold=float("inf"),
        )
        async with aiohttp.ClientSession(
            connector=self.connector,
            timeout=timeout,
            connector_owner=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # the API sets none: no jar to search
        ) as session:
            registered = False
            task: _Task | None = None
            while not stop.is_set():
                try:
                    if not registered:
                        task = await self._register(session)
                        registered = True
                    if task is None:
                        task = await self._poll(session)
                        self.last_contact = asyncio.get_running_loop().time()
                        if task is None:
                            self._failures = 0
                            continue
                    upload = self._train_and_upload(session, *task)
                    task = None  # (its model is not kept through the answer's long poll)
                    task = await upload
                    self._failures = 0
                except _Unknown:
                    registered = False
                    task = None
                except _Finished:
                    break
                except (aiohttp.ClientError, TimeoutError, EnvelopeError) as exc:
                    task = None
                    self._error(exc)
                    self._state("idle")
                    if self.link_up is not None and _no_link(exc):
                        await self._await_link(stop)
                    await self._backoff()
        self._state("done")

    async def _register(self, session: aiohttp.ClientSession) -> _Task | None:
        """Register; with `task_on_answer`, the first task if the answer offered one."""
        payload = {
            "client_id": self.client_id,
            "num_examples": int(self.learner.num_examples),
            "device": self.device.name,
        }
        if self.instance:
            payload["instance"] = self.instance
        body = json.dumps(payload).encode()
        fields = {WAIT_HEADER: self._wait} if self.task_on_answer else {}
        headers = self._signed("POST", "/v1/register", None, fields, body)
        headers["Content-Type"] = "application/json"
        async with session.post(self._register_url, data=body, headers=headers) as resp:
            if resp.status != 200:
                raise aiohttp.ClientResponseError(
                    resp.request_info, (), status=resp.status, message=await resp.text()
                )
            if REGISTERED_HEADER not in resp.headers:
                await resp.read()
                return None
            return await self._offer(resp)

    async def _offer(self, resp: aiohttp.ClientResponse) -> _Task | None:
        """An answer's body that is a long poll: the task it offers (None: none came)."""
        self.last_contact = asyncio.get_running_loop().time()
        offer = await resp.content.readany()
        if not offer:
            return None
        if offer.startswith(b"{"):  # not an envelope: the federation is over (a 410)
            try:
                said = json.loads(offer + await resp.content.read())
            except ValueError:
                said = None
            if isinstance(said, dict) and said.get("status") == 410:
                raise _Finished
            raise EnvelopeError("an offer that is neither a task nor the end of the federation")
        self._state("downloading")
        return _task(offer + await resp.content.read())

    async def _poll(self, session: aiohttp.ClientSession) -> _Task | None:
        self._state("idle")
        headers = self._signed("GET", "/v1/task", self._poll_query, {}, b"")
        async with session.get(self._poll_url, headers=headers) as resp:
            if resp.status == 404:
                raise _Unknown
            if resp.status == 410:
                await resp.read()
                raise _Finished
            if resp.status == 204:
                await resp.read()
                return None
            if resp.status != 200:
                raise aiohttp.ClientResponseError(
                    resp.request_info, (), status=resp.status, message=await resp.text()
                )
            self._state("downloading")
            body = await resp.read()
        return _task(body)

    async def _train_and_upload(
        self,
        session: aiohttp.ClientSession,
        server_round: int,
        version: int,
        config: dict[str, Any],
        params: np.ndarray,
    ) -> _Task | None:
        """Train and upload; the next task if the answer offered one."""
        body = await self._update_for(server_round, version, config, params)
        upload = self._upload(session, server_round, body)
        # Neither the task's model nor the update is kept here through the answer's
        # long poll (until this device's next task: rounds, in a city of devices).
        del config, params, body
        return await upload

    async def _update_for(
        self, server_round: int, version: int, config: dict[str, Any], params: np.ndarray
    ) -> bytes:
        """The update for a task, on every transport: when an upload of this very task
        was never answered (the server may have stored it before the path broke), the
        same bytes again instead of a second training (a server that had stored them
        answers as it did the first time and stores nothing: fedsim.fl.service
        `accept_update`); `_unanswered` is cleared by the transport once an upload is
        answered."""
        pending = self._unanswered
        if pending is not None and pending[:2] == (server_round, version):
            return pending[2]
        body = await self._train_and_encode(server_round, version, config, params)
        self._unanswered = (server_round, version, body)
        return body

    async def _train_and_encode(
        self, server_round: int, version: int, config: dict[str, Any], params: np.ndarray
    ) -> bytes:
        """Train on the task and encode the update (any transport then carries it)."""
        self._state("training")
        local_eval: dict[str, float] = {}
        score = getattr(self.learner, "evaluate", None)
        if config.get("federated_eval") and score is not None:
            # The global model as this device sees it, before local training: a forward
            # pass over its data, charged like training (time first: it comes first).
            local_eval = {f"fed_{k}": float(v) for k, v in score(params).items()}
            if self.on_evaluate is not None:
                self.on_evaluate(self.client_id)
            flops = evaluate_work(self.learner)
            if flops is not None:  # (None: the run warned that its scoring is free)
                await self._charge(flops)
        new_params, metrics = await self._train(params, config)
        self.stats.rounds_trained += 1
        delta = self.codec in ("int8", "topk")
        values = new_params - params if delta else new_params
        if self.codec == "topk" and self._residual is None:
            self._residual = np.zeros(values.size, dtype=np.float32)
        meta = update_meta(
            self.client_id, server_round, version, self.learner, {**metrics, **local_eval}
        )
        env = encode(
            values, meta, codec=self.codec, delta=delta, rng=self.codec_rng, residual=self._residual
        )
        self._sent = env.sent
        return env.body

    async def _train(
        self, params: np.ndarray, config: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Train, charging the device its compute time (a sleep) and energy (`on_work`)."""
        work_done = getattr(self.learner, "work_done", None)
        if work_done is not None:
            # What training costs depends on what it did (episodes that end early):
            # train first, in this thread, so no simulated time passes and nothing else
            # runs meanwhile, then charge what it did. In real time (deployment) a big
            # job goes to a worker thread instead, not to block the connections.
            if self.charge_compute or self.learner.work(config) <= OFFLOAD_FLOPS:
                trained = self.learner.train(params, config, self.rng)
            else:
                trained = await asyncio.get_running_loop().run_in_executor(
                    None, self.learner.train, params, config, self.rng
                )
            await self._charge(float(work_done(config, trained[1])))
            return trained
        flops = float(self.learner.work(config))
        job = None
        if flops > OFFLOAD_FLOPS:
            # Start the real work now and charge simulated time meanwhile; the virtual
            # clock cannot pass the sleep's end before the job is done, so the order of
            # events never depends on which thread finished first.
            loop = asyncio.get_running_loop()
            job = loop.run_in_executor(None, self.learner.train, params, config, self.rng)
        await self._charge(flops)
        return await job if job is not None else self.learner.train(params, config, self.rng)

    async def _charge(self, flops: float) -> None:
        """Charge `flops` of training or scoring: energy now, device time as a sleep."""
        compute_s = max(self.device.compute_time(flops), 1e-6)
        if self.on_work is not None:  # done over `compute_s` (charged, or not, in time)
            self.on_work(self.client_id, flops, compute_s if self.charge_compute else 0.0)
        if self.charge_compute:
            await asyncio.sleep(compute_s)
        self.stats.compute_flops += flops
        self.stats.compute_time_s += compute_s

    def _answered(self, accepted: bool) -> None:
        """The server answered the upload in `_unanswered` (no resend after that): a
        refused top-k update's entries go back into the residual, to be sent next time
        (error feedback delays an entry, never drops it)."""
        if not accepted and self._sent is not None and self._residual is not None:
            restore_residual(self._residual, *self._sent)
        self._unanswered = None
        self._sent = None

    def _count_refused(self, late: bool) -> None:
        """Count a refused upload: late (too late to count; no backoff) or rejected."""
        if late:
            self.stats.uploads_late += 1
        else:
            self.stats.uploads_rejected += 1

    def _count_accepted(self, server_round: int, body: bytes) -> None:
        """Count an accepted upload once, by what identifies it to the server (its round
        and `upload_digest`): the bytes last acknowledged again are that upload again,
        which the server stored once and acknowledges again (`Engine.repeat`)."""
        key = (server_round, upload_digest(body))
        if key == self._acked:
            self.stats.uploads_repeated += 1
        else:
            self.stats.uploads_accepted += 1
            self._acked = key

    async def _upload(
        self, session: aiohttp.ClientSession, server_round: int, body: bytes
    ) -> _Task | None:
        """Send an encoded update; an answer settles it (no resend after that), except a
        404 (the server does not know us: register again, then resend). With
        `task_on_answer`, the answer's body is the next task (None: none offered).
        A refusal backs off before the next poll, unless it says the upload came too
        late to count (`"late": true`: over-selection's surplus, a closed round): then
        the next poll goes at once (it is a long poll: it waits on the server)."""
        self._state("uploading")
        fields = {CLIENT_HEADER: self.client_id, ROUND_HEADER: str(server_round)}
        if self.task_on_answer:
            fields[WAIT_HEADER] = self._wait
        headers = self._signed("POST", "/v1/update", None, fields, body)
        headers["Content-Type"] = "application/octet-stream"
        offer = None
        async with session.post(self._update_url, data=body, headers=headers) as resp:
            if resp.status == 404:  # a restarted server that forgot us: not an answer
                await resp.read()
                raise _Unknown
            accepted = resp.status == 200
            self._answered(accepted)
            if accepted:
                self._count_accepted(server_round, body)
            del body  # answered: not kept through the answer's long poll
            self._state("idle")
            late = False
            if not accepted:
                late = _late(resp.status, await resp.read())
                self._count_refused(late)
            elif ACCEPTED_HEADER not in resp.headers:
                await resp.read()
            else:  # the body is a long poll for the next task
                offer = await self._offer(resp)
        if not accepted and not late:
            await self._backoff()  # a rejected client does not retrain and resend at once
        return offer


_Task = tuple[int, int, dict[str, Any], np.ndarray]
"""(round, model version, task config, model parameters)."""


def _task(body: bytes) -> _Task:
    """A task envelope's contents; a task that does not fit the schema is refused,
    never trained on. The same envelope as the last one (every client of a round gets
    the same task; emulated clients share a process) is not decoded and checked again:
    its contents are, so its own copies of them are returned."""
    global _LAST_TASK
    last = _LAST_TASK
    if last is not None and last[0] == body:
        rnd, version, config, values = last[1]
        return rnd, version, dict(config), values.copy()
    dec = decode(body)
    try:
        meta = check(TaskMeta, dec.meta, "task")
    except WireError as exc:
        raise EnvelopeError(f"refused a bad task: {exc}") from None
    task = meta.round, meta.version, dict(meta.config), dec.values
    if config_key(task[2]) is not None:  # flat: a copy of the dict is a copy of it all
        _LAST_TASK = (body, (task[0], task[1], dict(task[2]), task[3].copy()))
    return task


_LAST_TASK: tuple[bytes, _Task] | None = None
"""The last task envelope decoded, and its contents (kept apart from any client's)."""


def update_meta(
    client_id: str, server_round: int, version: int, learner: Any, metrics: dict[str, Any]
) -> dict[str, Any]:
    """An update envelope's meta, as every transport's upload carries it (`fedsim show`
    sizes its upload with it too)."""
    return {
        "client_id": client_id,
        "round": server_round,
        "version": version,
        "num_examples": int(learner.num_examples),
        "metrics": _finite_metrics(metrics),
    }


def _finite_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Metrics the wire schema accepts: finite numbers only (a NaN loss is dropped)."""
    out = {}
    for key, value in metrics.items():
        x = float(value)
        if math.isfinite(x) and abs(x) <= 1e30:
            out[str(key)] = x
    return out


def _late(status: int, body: bytes) -> bool:
    """A refusal that says the upload came too late to count (a 409 with `"late": true`,
    fedsim.fl.wire_schema.ErrorReply), not that it was wrong."""
    if status != 409:
        return False
    try:
        said = json.loads(body)
    except ValueError:
        return False
    return isinstance(said, dict) and said.get("late") is True


def _no_link(exc: BaseException) -> bool:
    """The connect failed because this device has no network (ENETUNREACH)."""
    os_error = getattr(exc, "os_error", None)
    return isinstance(exc, aiohttp.ClientConnectorError) and (
        getattr(os_error, "errno", None) == errno.ENETUNREACH
    )


class _Unknown(Exception):  # noqa: N818 - internal signal: the server forgot us
    pass


class _Finished(Exception):  # noqa: N818 - internal signal: the federation is over
    pass

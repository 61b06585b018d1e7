"""An FL device over MQTT (topics in fedsim.transports.mqtt_server): the HTTP
client's training and encoding (fedsim.fl.client), an amqtt client for the rest.

The device connects with a persistent session (`clean_session: false`) and a
keep-alive, subscribes once to its task topic, registers, and then per round
publishes that it is available, waits up to `poll_wait` for its task, trains and
publishes the update (QoS 1 throughout). A PUBACK says only that the broker has the
update; when the server refuses it, a notice on the task topic says so (`late <round>`,
`refused <round>`), and the device settles that upload as over HTTP (`_answered`: a
top-k update's entries go back into the residual; a refused one, not a late one, backs
off before it asks again), once, for the round of the update it sent last. A task whose
PUBLISH began arriving within `poll_wait` is waited for (up to the exchange's patience;
then a request timeout), not asked for again. Under the sync engine a task for a round
whose update the broker already took is a duplicate copy: discarded, never trained
(`tasks_discarded`). Any failure (a reset connection, no link, a refused connect) leads
to the same backoff as over HTTP and a reconnect that resumes the session: tasks the
broker queued meanwhile are delivered then, but amqtt drops what was in flight, so the
next poll says `lost` (the server sends the device's task again if it has one); an
update the broker never acknowledged is sent again, not trained again. A request timeout
resets the connection (`_abort`): the exchange is abandoned, as over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
from typing import Any

import numpy as np

from fedsim.fl.client import FLClient
from fedsim.fl.codec import EnvelopeError, decode
from fedsim.fl.timeouts import is_request_timeout
from fedsim.transports.mqtt_server import FINISHED, LOST, REFUSED, UNKNOWN, refusal

__all__ = ["MqttFLClient"]

_PUBLISH = 3
"""MQTT 3.1.1's control packet type of PUBLISH (the fixed header's high nibble)."""


class MqttFLClient(FLClient):
    """`FLClient` whose exchanges are MQTT publishes through a broker."""

    def __init__(
        self,
        client_id: str,
        broker_uri: str,
        *args: Any,
        keep_alive_s: int = 60,
        one_task_per_round: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(client_id, broker_uri, None, *args, **kwargs)  # type: ignore[arg-type]
        self.keep_alive_s = keep_alive_s
        self.one_task_per_round = one_task_per_round
        """The sync engine: a round hands a device one task, so a task for a round it
        already uploaded (or an older one) is a duplicate copy."""
        self.tasks_discarded = 0
        """Duplicate task copies received and discarded untrained."""
        self._awaiting_task = False
        """Between the poll and the task's arrival (`data_arrives`)."""
        self._arriving = False
        """A PUBLISH began arriving while the device waited for its task."""
        self._uploaded_round = 0
        """The last round whose update the broker acknowledged."""
        self._lost = False
        """A failure may have cost it its task: the next poll says `lost`."""
        self._verdict: int | None = None
        """The round of the update it trained last, while a refusal of it would still
        settle something: its top-k entries (`_sent`) and its count. Cleared by the
        first refusal notice for it; a newer training replaces it, so a notice for an
        older round never restores the newer update's entries."""
        self.refusals_heard = 0
        """Refusal notices it read (duplicates and ones for older rounds included)."""
        self.connecting: Any = None
        """Set by the run to mark this task's connections as this device's."""

    async def run(self, stop: asyncio.Event) -> None:
        from amqtt.mqtt.constants import QOS_1

        if self.connecting is not None:
            self.connecting()
        mqtt: Any = None
        registered = False
        cid = self.client_id
        try:
            while not stop.is_set():
                # from the (re)connect on: the broker delivers a task it holds at once
                self._awaiting_task, self._arriving = True, False
                try:
                    if mqtt is None:
                        mqtt = await self._connect()
                        await _io(mqtt.subscribe([(f"fl/t/{cid}", QOS_1)]), self._patience)
                    if not registered:
                        await _io(
                            mqtt.publish("fl/r", self._registration(), qos=QOS_1), self._patience
                        )
                        registered = True
                    if not self._arriving:
                        self._state("idle")
                    poll = LOST if self._lost else b""
                    await _io(mqtt.publish(f"fl/p/{cid}", poll, qos=QOS_1), self._patience)
                    data = await self._next_task(mqtt, stop)
                    if data is None:
                        continue
                    if data is REFUSED:  # wrong, not late: as over HTTP, back off first
                        await self._backoff()
                        continue
                    if data == FINISHED:
                        break
                    if data == UNKNOWN:
                        registered = False
                        continue
                    self._lost = False
                    await self._round(mqtt, data)
                    self._failures = 0
                except (OSError, TimeoutError, EnvelopeError) as exc:
                    await self._failed(exc, mqtt, stop)
                    mqtt = None  # the next turn reconnects and resumes the session
        finally:
            if mqtt is not None:
                await _quietly(mqtt.disconnect())
            self._state("done")

    @property
    def _patience(self) -> float:
        """How long one exchange may take: HTTP's total request timeout."""
        return self.request_timeout_s + self.poll_wait_s

    async def _connect(self) -> Any:
        from amqtt.client import MQTTClient

        mqtt = MQTTClient(
            client_id=self.client_id,
            config={"keep_alive": self.keep_alive_s, "auto_reconnect": False},
        )
        await _io(mqtt.connect(self.url, cleansession=False), self._patience)
        return mqtt

    def _registration(self) -> bytes:
        payload = {
            "client_id": self.client_id,
            "num_examples": int(self.learner.num_examples),
            "device": self.device.name,
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    async def _train_and_encode(
        self, server_round: int, version: int, config: dict[str, Any], params: np.ndarray
    ) -> bytes:
        body = await super()._train_and_encode(server_round, version, config, params)
        self._verdict = server_round  # (with `_sent`, the entries this body carries)
        return body

    def _refused(self, server_round: int, late: bool) -> bool:
        """A refusal notice for `server_round`: the first for the update it sent last
        settles it as an HTTP refusal does (the residual gets its top-k entries back;
        counted late or rejected, not accepted); any other changes nothing. True: it
        settled one."""
        self.refusals_heard += 1
        if server_round != self._verdict:
            return False  # a duplicate, or an update it has moved on from
        self._verdict = None
        if self._unanswered is None:  # the broker acknowledged it: counted accepted
            self.stats.uploads_accepted -= 1
        self._answered(False)
        self._count_refused(late)
        return True

    def data_arrives(self, data: bytes) -> None:
        """Bytes reached the device (the emulated wire tells): a PUBLISH that starts while
        it waits for a task (from its connect to the task's arrival: a task the broker
        held comes right after the connect) is the task arriving, so the device is
        downloading from its first byte, as an HTTP client is from the answer's head.
        (PUBACK, SUBACK and PINGRESP start otherwise; a task has the whole stream to
        itself; a refusal notice is no task.) One cut short by a failure is gone (amqtt
        drops a message in flight when a connection closes): the next poll says `lost`."""
        if self._awaiting_task and _task_starts(data):
            self._awaiting_task = False
            self._arriving = True
            self._state("downloading")

    async def _next_task(self, mqtt: Any, stop: asyncio.Event) -> bytes | None:
        """The task (or `finished`, `unknown`) within `poll_wait`; None: none came;
        `REFUSED`: a refusal notice (not a late one) settled its last upload. One that
        began arriving is waited for until the exchange's patience runs out."""
        try:
            data = await self._wait_task(mqtt, stop, self.poll_wait_s)
            if data is None and self._arriving and not stop.is_set():
                # the rest of HTTP's total timeout for a poll (`_patience` from the poll)
                data = await self._wait_task(mqtt, stop, self.request_timeout_s)
                if data is None and not stop.is_set():
                    raise TimeoutError(f"amqtt: no whole task within {self._patience:g} s")
            return data
        finally:
            self._awaiting_task = self._arriving = False

    async def _wait_task(self, mqtt: Any, stop: asyncio.Event, wait_s: float) -> bytes | None:
        """The next message within `wait_s` (None: none); refusal notices on the way are
        settled (`_refused`) and the wait goes on, but for one that settled a refused
        (not late) upload: `REFUSED`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + wait_s
        while True:
            data = await self._message(mqtt, stop, end - loop.time())
            said = None if data is None else refusal(data)
            if said is None:
                return data
            if self._refused(*said) and not said[1]:
                return REFUSED

    async def _message(self, mqtt: Any, stop: asyncio.Event, wait_s: float) -> bytes | None:
        if wait_s <= 0 or stop.is_set():
            return None
        loop = asyncio.get_running_loop()
        note = loop.create_task(_io(mqtt.deliver_message(timeout_duration=wait_s)))
        halt = loop.create_task(stop.wait())
        await asyncio.wait((note, halt), return_when=asyncio.FIRST_COMPLETED)
        halt.cancel()
        if not note.done():
            note.cancel()
            await _quietly(note)
            return None
        try:
            message = note.result()
        except TimeoutError:
            return None
        if message is None:  # amqtt answers None at once once its connection is gone
            raise ConnectionResetError(errno.ECONNRESET, "amqtt: connection detached")
        return bytes(message.data or b"")

    async def _round(self, mqtt: Any, data: bytes) -> None:
        from amqtt.mqtt.constants import QOS_1

        self._state("downloading")
        dec = decode(data)
        meta = dec.meta
        server_round, version = int(meta["round"]), int(meta["version"])
        if self.one_task_per_round and server_round <= self._uploaded_round:
            self.tasks_discarded += 1  # a duplicate copy (module docstring)
            self._state("idle")
            return
        config = dict(meta.get("config", {}))
        # one the broker never acknowledged: the same bytes again
        body = await self._update_for(server_round, version, config, np.asarray(dec.values))
        self._state("uploading")
        await _io(
            mqtt.publish(f"fl/u/{self.client_id}/{server_round}", body, qos=QOS_1), self._patience
        )
        self._unanswered = None
        self._uploaded_round = max(self._uploaded_round, server_round)
        self.stats.uploads_accepted += 1  # the broker has it (QoS 1)
        self._state("idle")

    async def _failed(self, exc: BaseException, mqtt: Any, stop: asyncio.Event) -> None:
        """Count, wait for the link if it is gone, back off; the next loop reconnects."""
        self._error(exc)
        self._state("idle")
        self._lost = True  # what it held, or what was on its way (amqtt drops it), is gone
        if mqtt is not None:
            if is_request_timeout(exc):
                _abort(mqtt)  # abandoned, as over HTTP: what was still on its way is not sent
            await _quietly(mqtt.disconnect())
        if self.link_up is not None and _no_link(exc):
            await self._await_link(stop)
        await self._backoff()


def _task_starts(data: bytes) -> bool:
    """`data`, the first bytes of a write to the device, starts a PUBLISH that may be a
    task. A refusal notice whole in it (under 128 bytes, as no task is) is passed over
    to what follows it; anything else is as it was before notices existed."""
    at, size = 0, len(data)
    while at < size and data[at] >> 4 == _PUBLISH:
        if at + 1 >= size or data[at + 1] & 0x80 or at + 2 + data[at + 1] > size:
            return True  # long, or not all here
        end = at + 2 + data[at + 1]
        topic = at + 4 + int.from_bytes(data[at + 2 : at + 4], "big")
        payload = topic + (2 if (data[at] >> 1) & 3 else 0)
        if refusal(bytes(data[payload:end])) is None:
            return True
        at = end
    return False


def _abort(mqtt: Any) -> None:
    """Drop the connection at once (a TCP reset), as a device that gives up on an
    exchange does: a PUBLISH still on its way never reaches the broker whole, so an
    abandoned upload is not delivered behind the device's back (HTTP's abandoned
    request is not either). amqtt's DISCONNECT would first send all of it."""
    writer = getattr(getattr(mqtt, "_handler", None), "writer", None)
    transport = getattr(getattr(writer, "_writer", None), "transport", None)
    if transport is not None:
        transport.abort()


def _no_link(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "errno", None) == errno.ENETUNREACH:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _io(awaitable: Any, timeout_s: float | None = None) -> Any:
    """An amqtt call; whatever a lost connection makes it raise becomes
    ConnectionResetError: its own errors, the CancelledError of an acknowledgement
    waiter cancelled by the close, and the AttributeError amqtt 0.12 raises when it
    touches the closed session (`_handle_qos1_message_flow`'s cleanup). `timeout_s`
    bounds a publish whose connection died unnoticed (its PUBACK never comes). An error
    amqtt raises because that bound cancelled it (its connect answers the cancellation
    with ConnectError) is the timeout, TimeoutError: the run names it `request_timeout`,
    not a reset connection."""
    from amqtt.errors import AMQTTError, ClientError

    loop = asyncio.get_running_loop()
    deadline = None if timeout_s is None else loop.time() + timeout_s
    inner = asyncio.ensure_future(awaitable)  # (what wait_for would make of it)
    try:
        return await asyncio.wait_for(inner, timeout_s)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # the run stopped this client
            # amqtt turns its own cancellation into an error; retrieved, so asyncio does
            # not print it as never retrieved (it says nothing: the run is over)
            inner.add_done_callback(_retrieved)
            raise
        if deadline is not None and loop.time() >= deadline:
            raise TimeoutError(f"amqtt: no answer within {timeout_s:g} s") from None
        raise ConnectionResetError(errno.ECONNRESET, "amqtt: connection closed") from None
    except (AMQTTError, ClientError, AttributeError) as exc:
        if deadline is not None and loop.time() >= deadline:
            raise TimeoutError(f"amqtt: no answer within {timeout_s:g} s") from exc
        raise ConnectionResetError(errno.ECONNRESET, f"amqtt: {exc!r}") from exc


def _retrieved(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()


async def _quietly(awaitable: Any) -> None:
    """Await a dead connection's teardown; its errors say nothing new."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await awaitable

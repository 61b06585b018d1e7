"""The FL server over MQTT: amqtt's broker in-process, and the server's round logic
(fedsim.fl.service, the engine) as one more client of it.

Topics (QoS 1 throughout):

    fl/r                 device -> server   registration JSON {client_id, num_examples, device}
    fl/p/<id>            device -> server   "available for a task" (the long poll's request);
                                            `lost`: its first after a failure (what it held
                                            or what was on its way is gone)
    fl/t/<id>            server -> device   the task envelope, or `finished` / `unknown`,
                                            or `late <round>` / `refused <round>`
    fl/u/<id>/<round>    device -> server   the update envelope

Devices keep persistent sessions (`clean_session: false`), so a task published while
a device is cut off waits in the broker and is delivered when it reconnects. The
server polls the engine for an available device for `poll_wait`, as a long poll
would; a device that heard nothing asks again. A task goes to a device once: the
broker delivers it at least once (QoS 1, persistent session), so a poll that finds the
same task still out (one sent while its copy was on the way) publishes nothing, unless
the device says it lost it (its first poll after a failure: amqtt drops a message in
flight when a connection closes; a device under the sync engine discards a copy for a
round it already uploaded).
An update the server refuses (for a closed round, as HTTP answers it 409, or wrong) is
counted (`discarded_uploads`) and its device told on its task topic: `late <round>` (too
late to count, HTTP's 409 `"late": true`) or `refused <round>`. A broker's PUBACK only
says the broker has an update; without the notice a device would never learn that the
server did not take it, and a top-k device would never put the entries it carried back
into its error-feedback residual. An accepted update gets no notice (no bytes).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fedsim.fl.engine import Engine
from fedsim.fl.service import accept_update, register_client, task_envelope
from fedsim.transports.mqtt_patience import install

__all__ = ["FINISHED", "LATE", "LOST", "REFUSED", "UNKNOWN", "MqttFLServer", "refusal"]

FINISHED, UNKNOWN = b"finished", b"unknown"
LOST = b"lost"
"""A poll's payload after a failure: the device may have lost the task it was sent."""
LATE, REFUSED = b"late ", b"refused "
"""A refusal notice's prefix, then the round in ASCII digits (`late 12`: 7 bytes of
payload): the update came too late to count (no backoff), or was refused as wrong."""


def refusal(data: bytes) -> tuple[int, bool] | None:
    """A refusal notice's (round, late); None: the payload is not one (a task envelope
    starts with the codec's magic, never with these prefixes)."""
    for prefix, late in ((LATE, True), (REFUSED, False)):
        if data.startswith(prefix):
            digits = data[len(prefix) :]
            if digits.isdigit() and len(digits) <= 9:
                return int(digits), late
    return None


log = logging.getLogger(__name__)


class MqttFLServer:
    """The broker and the FL server's client of it (module docstring)."""

    def __init__(
        self,
        engine: Engine,
        host: str,
        port: int,
        *,
        poll_wait_s: float = 30.0,
        codec_down: str = "float32",
    ) -> None:
        install()
        self.engine = engine
        self.host, self.port = host, port
        self.poll_wait_s = poll_wait_s
        self.codec_down = codec_down
        self.broker: Any = None
        self.client: Any = None
        self._polling: dict[str, asyncio.Task[None]] = {}
        self._sent: dict[str, Any] = {}
        """Client -> the task (the engine's `TrainIns`) last published to it."""
        self.discarded_uploads: dict[str, int] = {}
        """Client -> updates it sent that the server refused (a closed round, or wrong)."""
        self._notices: set[asyncio.Task[None]] = set()
        self._serving: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from amqtt.broker import Broker

        # Named sessions: amqtt keeps no message for an anonymous session while it is
        # away, so every client gives its id as user name (no password is checked).
        named = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}}
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": named,
        }
        self.broker = Broker(config, loop=asyncio.get_running_loop())
        await self.broker.start()
        await self._connect()
        self._serving = asyncio.get_running_loop().create_task(self._serve())

    async def _connect(self) -> None:
        """The server's own client of the broker (over a loopback channel)."""
        from amqtt.client import MQTTClient
        from amqtt.mqtt.constants import QOS_1

        self.client = MQTTClient(client_id="fl-server", config={"auto_reconnect": False})
        await self.client.connect(f"mqtt://fl-server@{self.host}:{self.port}", cleansession=True)
        await self.client.subscribe([("fl/r", QOS_1), ("fl/p/+", QOS_1), ("fl/u/+/+", QOS_1)])

    async def _serve(self) -> None:
        while True:
            message = await self.client.deliver_message()
            if message is None:  # amqtt's answer once the connection is gone: reconnect
                await self._connect()
                continue
            try:
                self._handle(message.topic.split("/"), bytes(message.data or b""))
            except (ValueError, KeyError) as exc:
                log.debug("ignored %s: %s", message.topic, exc)

    def _handle(self, topic: list[str], data: bytes) -> None:
        engine = self.engine
        if topic[1] == "r":
            register_client(engine, json.loads(data))
        elif topic[1] == "p" and len(topic) == 3:
            cid = topic[2]
            if data == LOST:
                self._sent.pop(cid, None)  # its task goes out again (module docstring)
            if cid not in self._polling:
                self._polling[cid] = asyncio.get_running_loop().create_task(self._poll(cid))
        elif topic[1] == "u" and len(topic) == 4:
            cid, server_round = topic[2], int(topic[3])
            if engine.clients.get(cid) is None:
                return
            stale = engine.precheck(cid, server_round)
            late = stale is not None  # every precheck reason means too late (Engine.precheck)
            if stale is None:
                outcome = accept_update(engine, cid, server_round, data)
                if outcome.ok:
                    return
                stale, late = outcome.reason or "refused", outcome.late
            self.discarded_uploads[cid] = self.discarded_uploads.get(cid, 0) + 1
            log.debug("discarded the update of %s for round %d: %s", cid, server_round, stale)
            self._tell(cid, (LATE if late else REFUSED) + str(server_round).encode())

    def _tell(self, cid: str, notice: bytes) -> None:
        """Publish a refusal notice to `cid` (module docstring). Published from a task of
        its own, as a poll's task is, started before any later poll's: the broker gets
        them in that order and delivers them so on the device's one topic."""
        from amqtt.mqtt.constants import QOS_1

        job = asyncio.get_running_loop().create_task(
            self.client.publish(f"fl/t/{cid}", notice, qos=QOS_1)
        )
        self._notices.add(job)
        job.add_done_callback(self._published)

    def _published(self, job: asyncio.Task[None]) -> None:
        self._notices.discard(job)
        if not job.cancelled() and job.exception() is not None:  # the broker went away
            log.debug("a refusal notice was not published: %r", job.exception())

    async def _poll(self, cid: str) -> None:
        """The long poll on the server's side: publish the task if one comes, once
        (module docstring)."""
        from amqtt.mqtt.constants import QOS_1

        engine = self.engine
        try:
            if engine.clients.get(cid) is None:
                await self.client.publish(f"fl/t/{cid}", UNKNOWN, qos=QOS_1)
                return
            ins = None if engine.finished else await engine.poll(cid, self.poll_wait_s)
            if engine.finished:
                await self.client.publish(f"fl/t/{cid}", FINISHED, qos=QOS_1)
                return
            if ins is None or ins is self._sent.get(cid):
                return  # no task, or its one copy is on the way
            envelope = task_envelope(engine, ins, self.codec_down)
            if envelope is not None:
                self._sent[cid] = ins
                await self.client.publish(f"fl/t/{cid}", envelope, qos=QOS_1)
        finally:
            self._polling.pop(cid, None)

    async def close(self) -> None:
        for job in [*self._polling.values(), *self._notices, self._serving]:
            if job is not None:
                job.cancel()
        if self.broker is not None:
            await self.broker.shutdown()

"""MQTT feasibility (issue 15): amqtt's broker and clients on fedsim's virtual-time loop,
over the emulated TCP, before `fl.transport: mqtt` is built (docs/transports.md).

What it checks: an amqtt 0.12 broker started in-process at the server node and two
amqtt clients on two devices of a small NB-IoT-like topology (1.6 s one-way, 40 kb/s)
connect, subscribe and exchange a QoS 1 publish of a 2,600-byte model, in simulated
time, every byte through `fedsim.net.transport.Wire`. amqtt opens sockets with
`asyncio.start_server` and `asyncio.open_connection`, which call the loop's public
`create_server` / `create_connection`; this script replaces those two on the loop
instance (the seam an `fl.transport: mqtt` would use), and a context variable names
the device whose task is connecting. It also counts amqtt's wall-clock reads.

Run (amqtt is not a fedsim dependency yet):
    pip install amqtt==0.12.1
    PYTHONPATH=. python experiments/mqtt_feasibility.py
"""

from __future__ import annotations

import contextvars
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from topo import tiny_topology

from fedsim.clock import VirtualTimeLoop
from fedsim.net.network import Network
from fedsim.net.transport import Wire
from fedsim.rng import Streams
from fedsim.scenario import parse_scenario

NODE: contextvars.ContextVar[str] = contextvars.ContextVar("node", default="server")
"""The device whose task opens a connection (the loop's hook cannot know otherwise)."""


class EmulatedServer:
    """What `asyncio.start_server` returns, for a listener on the emulated wire."""

    sockets = ()

    def __init__(self, wire: Wire, host: str, port: int) -> None:
        self.wire, self.host, self.port = wire, host, port

    def close(self) -> None:
        self.wire.unlisten(self.host, self.port)

    async def wait_closed(self) -> None:
        pass

    def is_serving(self) -> bool:
        return True

    async def start_serving(self) -> None:
        pass


def hook_streams(loop: VirtualTimeLoop, wire: Wire, server_node: str) -> None:
    """asyncio streams (start_server, open_connection) over the emulated wire."""

    async def create_server(factory: Any, host: str, port: int, **_kw: Any) -> EmulatedServer:
        wire.listen(host, port, server_node, factory)
        return EmulatedServer(wire, host, port)

    async def create_connection(factory: Any, host: str, port: int, **_kw: Any) -> Any:
        made: list[Any] = []

        def recording() -> Any:
            proto = factory()
            connection_made = proto.connection_made

            def made_with(transport: Any) -> None:
                made.append(transport)
                connection_made(transport)

            proto.connection_made = made_with
            return proto

        proto = await wire.connect(NODE.get(), host, port, recording)
        return made[0], proto

    loop.create_server = create_server  # type: ignore[method-assign]
    loop.create_connection = create_connection  # type: ignore[method-assign]


def main() -> None:
    import amqtt.session
    from amqtt.broker import Broker
    from amqtt.client import MQTTClient
    from amqtt.mqtt.constants import QOS_1

    topo = tiny_topology(links__wifi__latency="1.6s", links__wifi__bandwidth="40kbps")
    loop = VirtualTimeLoop()
    net = Network(loop.env, parse_scenario(topo), Streams(1))
    wire = Wire(loop, net.open_route)
    hook_streams(loop, wire, "server")
    reads = [0]
    real = time.time

    def counted() -> float:
        reads[0] += 1
        return real()

    amqtt.session.time.time = counted  # type: ignore[attr-defined]

    async def run() -> None:
        net.start()
        anonymous = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        broker = Broker(
            {"listeners": {"default": {"type": "tcp", "bind": "fl-server:1883"}},
             "plugins": anonymous},
            loop=loop,
        )  # fmt: skip
        await broker.start()
        NODE.set("dev-1")
        device = MQTTClient(client_id="dev-1", config={"keep_alive": 60, "auto_reconnect": False})
        t0 = loop.time()
        await device.connect("mqtt://fl-server:1883", cleansession=False)
        connected = loop.time() - t0
        await device.subscribe([("t/dev-1", QOS_1)])
        NODE.set("dev-2")
        other = MQTTClient(client_id="srv", config={"auto_reconnect": False})
        await other.connect("mqtt://fl-server:1883")
        t1 = loop.time()
        await other.publish("t/dev-1", b"x" * 2600, qos=QOS_1)
        acked = loop.time() - t1
        message = await device.deliver_message(timeout_duration=120)
        delivered = loop.time() - t1
        assert message is not None
        assert len(message.publish_packet.data) == 2600
        print(f"connect {connected:.3f} s, QoS 1 publish acked {acked:.3f} s, "
              f"delivered {delivered:.3f} s (simulated)")  # fmt: skip
        print(
            f"bytes [up, down]: dev-1 {wire.node_bytes['dev-1']}, dev-2 {wire.node_bytes['dev-2']}"
        )
        await device.disconnect()
        await other.disconnect()
        await broker.shutdown()

    wall0 = real()
    loop.run_until_complete(run())
    print(f"wall time {real() - wall0:.2f} s; amqtt.session read time.time {reads[0]} times")


if __name__ == "__main__":
    main()

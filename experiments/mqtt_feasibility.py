"""MQTT check (issue 15): amqtt's broker and clients on fedsim's virtual-time loop, over
the emulated TCP, outside a federation: the seam `fl.transport: mqtt` uses
(fedsim.net.streams), timed and counted (docs/transports.md).

What it checks: an amqtt 0.12 broker started in-process at the server node and two
amqtt clients on two devices of a small NB-IoT-like topology (1.6 s one-way, 40 kb/s)
connect, subscribe and exchange a QoS 1 publish of a 2,600-byte model, in simulated
time, every byte through `fedsim.net.transport.Wire`, so the byte counts can be
checked by hand against MQTT 3.1.1's packet sizes. It also counts amqtt's wall-clock
reads.

Run: pip install 'fedsim[mqtt]'; PYTHONPATH=. python experiments/mqtt_feasibility.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from topo import tiny_topology

from fedsim.clock import VirtualTimeLoop
from fedsim.net.network import Network
from fedsim.net.streams import CONNECTING_NODE, hook_streams
from fedsim.net.transport import Wire
from fedsim.rng import Streams
from fedsim.scenario import parse_scenario


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
        CONNECTING_NODE.set("dev-1")
        device = MQTTClient(client_id="dev-1", config={"keep_alive": 60, "auto_reconnect": False})
        t0 = loop.time()
        await device.connect("mqtt://fl-server:1883", cleansession=False)
        connected = loop.time() - t0
        await device.subscribe([("t/dev-1", QOS_1)])
        CONNECTING_NODE.set("dev-2")
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

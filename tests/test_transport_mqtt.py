"""The hooks fl.transport: mqtt needs into amqtt, pinned: fail loudly if amqtt changes
the code they rely on (docs/transports.md, "MQTT")."""

from __future__ import annotations

import asyncio
import inspect

from amqtt.mqtt.protocol import handler

from fedsim.transports.mqtt_patience import HARD_CODED_WAITS_S, install


def test_amqtt_still_hard_codes_the_acknowledgement_waits_we_lift() -> None:
    qos1 = inspect.getsource(handler.ProtocolHandler._handle_qos1_message_flow)
    assert "asyncio.wait_for(waiter, timeout=5)" in qos1
    retry = inspect.getsource(handler.ProtocolHandler._retry_deliveries)
    assert "asyncio.wait_for(" in retry
    assert "10," in retry
    assert set(HARD_CODED_WAITS_S) == {5, 10}


async def test_the_patched_handler_waits_as_long_as_it_takes() -> None:
    """Under the patch a PUBACK 60 s late (a LoRa round trip) is still awaited; any
    other timeout is untouched."""
    install()
    assert handler.asyncio.sleep is asyncio.sleep  # everything else is the real module
    loop = asyncio.get_running_loop()
    late: asyncio.Future[str] = loop.create_future()
    loop.call_later(60.0, late.set_result, "puback")
    assert await handler.asyncio.wait_for(late, timeout=5) == "puback"
    assert loop.time() == 60.0
    never: asyncio.Future[str] = loop.create_future()
    try:
        await handler.asyncio.wait_for(never, timeout=7)
    except TimeoutError:
        assert loop.time() == 67.0
    else:
        raise AssertionError("a 7 s wait must still time out")


def test_amqtt_opens_sockets_through_the_loop() -> None:
    """fedsim.net.streams hooks the loop's create_server / create_connection: amqtt
    must still reach them through asyncio.start_server / open_connection."""
    from amqtt import broker, client

    assert "asyncio.start_server(" in inspect.getsource(broker.Broker._create_server_instance)
    assert "asyncio.open_connection(" in inspect.getsource(client.MQTTClient._connect_coro)


async def test_a_persistent_session_gets_what_was_published_while_away() -> None:
    """Session resumption over the emulated TCP: a device subscribed with
    clean_session false goes away; a QoS 1 message published meanwhile is delivered
    when it reconnects (the broker queued it)."""
    from amqtt.broker import Broker
    from amqtt.client import MQTTClient
    from amqtt.mqtt.constants import QOS_1
    from topo import tiny_topology

    from fedsim.net.network import Network
    from fedsim.net.streams import CONNECTING_NODE, hook_streams
    from fedsim.net.transport import Wire
    from fedsim.rng import Streams
    from fedsim.scenario import parse_scenario

    install()
    loop = asyncio.get_running_loop()
    net = Network(loop.env, parse_scenario(tiny_topology()), Streams(1))  # type: ignore[attr-defined]
    wire = Wire(loop, net.open_route)  # type: ignore[arg-type]
    hook_streams(loop, wire, "server")  # type: ignore[arg-type]
    named = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}}
    broker = Broker(
        {"listeners": {"default": {"type": "tcp", "bind": "fl-server:1883"}},
         "plugins": named},
        loop=loop,
    )  # fmt: skip
    await broker.start()
    server = MQTTClient(client_id="srv", config={"auto_reconnect": False})
    await server.connect("mqtt://srv@fl-server:1883")  # loopback: CONNECTING_NODE is None

    async def device_session() -> MQTTClient:
        CONNECTING_NODE.set("dev-1")
        device = MQTTClient(client_id="dev-1", config={"auto_reconnect": False})
        await device.connect("mqtt://dev-1@fl-server:1883", cleansession=False)
        return device

    device = await loop.create_task(device_session())
    await device.subscribe([("fl/t/dev-1", QOS_1)])
    await device.disconnect()
    await asyncio.sleep(1.0)  # the broker has seen the DISCONNECT
    await server.publish("fl/t/dev-1", b"task while away", qos=QOS_1)
    await asyncio.sleep(1.0)
    device = await loop.create_task(device_session())
    message = await device.deliver_message(timeout_duration=30)
    assert message is not None
    assert bytes(message.data) == b"task while away"
    assert wire.node_bytes["dev-1"][1] > 0  # it crossed the emulated network
    for client in (device, server):
        await client.disconnect()
    await broker.shutdown()

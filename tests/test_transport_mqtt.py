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

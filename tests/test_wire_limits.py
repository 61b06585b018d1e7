"""What one request may cost: a half-sent body times out, an oversize one is
refused, a connection beyond the limit gets a JSON 503; JSON parsing is bounded."""

from __future__ import annotations

import asyncio
import json
import socket
from unittest import mock

import pytest
from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request

from fedsim.fl.wire_limits import read_bounded
from fedsim.fl.wire_schema import WireError, loads


def _request(body: bytes, *, finished: bool, length: int) -> web.Request:
    protocol = mock.Mock(_reading_paused=False)
    payload = streams.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(body)
    if finished:
        payload.feed_eof()
    return make_mocked_request(
        "POST", "/v1/update", headers={"Content-Length": str(length)}, payload=payload
    )


async def test_a_half_sent_body_times_out() -> None:
    request = _request(b"x" * 10, finished=False, length=1000)
    with pytest.raises(web.HTTPRequestTimeout):
        await read_bounded(request, 4096, timeout_s=30.0)  # virtual time: instant


async def test_oversize_and_short_bodies_are_refused() -> None:
    with pytest.raises(web.HTTPRequestEntityTooLarge):
        await read_bounded(_request(b"x" * 10, finished=True, length=10**9), 4096)
    with pytest.raises(web.HTTPBadRequest):
        await read_bounded(_request(b"x" * 10, finished=True, length=20), 4096)
    assert await read_bounded(_request(b"x" * 10, finished=True, length=10), 4096) == b"x" * 10


@pytest.mark.parametrize(
    "text",
    ["[" * 30000 + "]" * 30000, '{"a": 1e400}', '{"a": NaN}', '{"a": -Infinity}',
     '{"a": ' + "9" * 5000 + "}", '{"a": ' + str(10**400) + "}", "{", b"\xff\xfe"],
)  # fmt: skip
def test_bounded_json_refuses_what_would_overflow(text: str | bytes) -> None:
    with pytest.raises(WireError):
        loads(text)


def test_bounded_json_reads_brackets_inside_strings_as_text() -> None:
    assert loads(json.dumps({"a": "[" * 100, "b": [[1]]})) == {"a": "[" * 100, "b": [[1]]}


def test_connections_beyond_the_limit_get_a_json_503() -> None:
    from fedsim.deployment.site import GuardedSite

    async def main() -> bytes:
        app = web.Application()
        runner = web.AppRunner(app)
        await runner.setup()
        site = GuardedSite(runner, "127.0.0.1", 0, max_connections=1)
        await site.start()
        try:
            loop = asyncio.get_running_loop()
            first = socket.create_connection(("127.0.0.1", site.port))
            first.setblocking(False)
            while not runner.server or not runner.server.connections:
                await asyncio.sleep(0.001)  # until the server holds the first one
            second = socket.create_connection(("127.0.0.1", site.port))
            second.setblocking(False)
            answer = b""
            while not answer.endswith(b"}"):
                chunk = await loop.sock_recv(second, 4096)
                if not chunk:
                    break
                answer += chunk
            first.close()
            second.close()
            return answer
        finally:
            await runner.cleanup()

    answer = asyncio.run(asyncio.wait_for(main(), 60))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503")
    assert json.loads(body)["status"] == 503


def test_a_remembered_task_config_is_told_apart_by_type_and_sign() -> None:
    # 1, 1.0 and True compare equal in Python and 0.0 == -0.0: a config that passed
    # once must not stand in for one of those (refused, or checked to another value).
    from fedsim.fl.wire_schema import TaskMeta, check

    def config(**values: object) -> dict[str, object]:
        return dict(check(TaskMeta, {"round": 1, "version": 0, "config": values}, "task").config)

    assert config(epochs=1) == {"epochs": 1}
    for bad in (True, 1.0):
        with pytest.raises(WireError, match="expected an integer"):
            config(epochs=bad)
    assert config(mu=0.0) == {"mu": 0.0}
    assert str(config(mu=-0.0)["mu"]) == "-0.0"
    first = config(epochs=2, lr=0.1)
    first["epochs"] = 99  # a caller's copy: what the next task gets is unchanged
    assert config(epochs=2, lr=0.1) == {"epochs": 2, "lr": 0.1}


def test_bounded_json_depth_limit_below_the_bracket_count() -> None:
    assert loads("[[1], [2], [3]]", max_depth=2) == [[1], [2], [3]]  # 4 brackets, depth 2
    with pytest.raises(WireError, match="deeper than 2"):
        loads("[[[1]]]", max_depth=2)
    with pytest.raises(WireError, match="not valid JSON"):
        loads("\ufeff{}")

"""The next task on an upload's (or a registration's) answer: the head acknowledges at
once, the chunked body is the long poll; bad waits are refused and change nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from test_server import _upload, served, two_client_engine
from topo import tiny_topology

from fedsim.fl.codec import decode
from fedsim.fl.engine import SyncRounds
from fedsim.fl.server import (
    ACCEPTED_HEADER,
    CLIENT_HEADER,
    REGISTERED_HEADER,
    ROUND_HEADER,
    WAIT_HEADER,
    told_finished,
)
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario

N = 20

Api = tuple[SyncRounds, aiohttp.ClientSession, asyncio.Task[object], web.Application]


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    engine = two_client_engine(N, rounds=2)
    async with served(engine, connections=8) as (session, app):
        run = asyncio.create_task(engine.run())
        yield engine, session, run, app
        run.cancel()


async def _register(session: aiohttp.ClientSession, cid: str) -> bytes:
    """Register asking for the first task on the answer; the offered body."""
    async with session.post(
        "http://fl/v1/register",
        json={"client_id": cid, "num_examples": 5},
        headers={WAIT_HEADER: "30"},
    ) as r:
        assert r.status == 200
        assert r.headers[REGISTERED_HEADER] == "1"
        return await r.read()


def _headers(cid: str, rnd: int, wait: str | None = "30") -> dict[str, str]:
    headers = {CLIENT_HEADER: cid, ROUND_HEADER: str(rnd)}
    if wait is not None:
        headers[WAIT_HEADER] = wait
    return headers


async def test_the_head_acknowledges_before_the_body_offers_the_next_task(api: Api) -> None:
    engine, session, run, app = api
    first = await asyncio.gather(_register(session, "a"), _register(session, "b"))
    assert [decode(body).meta["round"] for body in first] == [1, 1]
    # a's update: the head comes while the round still waits for b ...
    body = _upload(np.full(N, 2.0, np.float32), "a")
    a_answer = await session.post("http://fl/v1/update", data=body, headers=_headers("a", 1))
    assert a_answer.status == 200
    assert a_answer.headers[ACCEPTED_HEADER] == "1"
    assert a_answer.headers["Transfer-Encoding"] == "chunked"
    assert engine.current is not None
    assert [r.client_id for r in engine.current.results] == ["a"]  # stored before the head
    with pytest.raises(TimeoutError):  # ... and no task yet: the body is a long poll
        await asyncio.wait_for(asyncio.shield(a_answer.content.readany()), 5.0)
    # b's update closes round 1: both bodies are round 2's task, on the new model
    b_answer = await session.post(
        "http://fl/v1/update",
        data=_upload(np.full(N, 4.0, np.float32), "b"),
        headers=_headers("b", 1),
    )
    assert b_answer.headers[ACCEPTED_HEADER] == "1"
    offers = [decode(await a_answer.read()), decode(await b_answer.read())]
    assert [o.meta["round"] for o in offers] == [2, 2]
    for o in offers:
        np.testing.assert_allclose(o.values, 3.0)
    a_answer.release()
    b_answer.release()
    # round 2, the last: the answers acknowledge, then say what a poll's 410 would
    answers = []
    for cid in ("a", "b"):
        body = _upload(np.full(N, 3.0, np.float32), cid, rnd=2, version=1)
        answers.append(
            await session.post("http://fl/v1/update", data=body, headers=_headers(cid, 2))
        )
        assert answers[-1].headers[ACCEPTED_HEADER] == "2"
    for answer in answers:
        said = json.loads(await answer.read())
        assert said == {"error": "the federation is finished", "status": 410}
        answer.release()
    records = await run
    assert [r.reported for r in records] == [2, 2]
    assert told_finished(app) == {"a", "b"}  # the run knows both clients stop


@pytest.mark.parametrize("wait", ["-1", "nan", "soon", "1e9"])
async def test_a_bad_wait_is_refused_and_changes_nothing(api: Api, wait: str) -> None:
    engine, session, _run, _app = api
    async with session.post(
        "http://fl/v1/register",
        json={"client_id": "a", "num_examples": 5},
        headers={WAIT_HEADER: wait},
    ) as r:
        assert r.status == 400
        assert "X-Fedsim-Wait" in (await r.json())["error"]
    assert "a" not in engine.clients
    await asyncio.gather(_register(session, "a"), _register(session, "b"))
    body = _upload(np.full(N, 2.0, np.float32), "a")
    async with session.post("http://fl/v1/update", data=body, headers=_headers("a", 1, wait)) as r:
        assert r.status == 400
        assert "X-Fedsim-Wait" in (await r.json())["error"]
    assert engine.current is not None
    assert engine.current.results == []


async def test_a_refused_upload_is_answered_at_once_without_an_offer(api: Api) -> None:
    engine, session, _run, _app = api
    await asyncio.gather(_register(session, "a"), _register(session, "b"))
    stale = _upload(np.full(N, 2.0, np.float32), "a", rnd=7)
    async with session.post("http://fl/v1/update", data=stale, headers=_headers("a", 7)) as r:
        assert r.status == 409
        assert ACCEPTED_HEADER not in r.headers
        assert "stale" in (await r.json())["error"]
    assert engine.current is not None
    assert engine.current.results == []


def _run(task_on_answer: bool) -> RunResult:
    topo = tiny_topology(fl__rounds=3, fl__task_on_answer=str(task_on_answer).lower())
    return simulate(parse_scenario(topo))  # audits: raises on any violation


def test_one_exchange_a_round_moves_fewer_protocol_bytes() -> None:
    """The same federation either way (every round every device reports); the answer
    that carries the task saves each device a request head per round, and the model
    still comes down whole (the byte ledger counts it as model)."""
    one, two = _run(True), _run(False)
    for result in (one, two):
        assert [r.reported for r in result.rounds] == [r.selected for r in result.rounds]
    ledger = {
        flag: {row.direction: row for row in result.ledger if row.scope == "run"}
        for flag, result in (("one", one), ("two", two))
    }
    assert ledger["one"]["down"].model_bytes == ledger["two"]["down"].model_bytes
    assert ledger["one"]["up"].model_bytes == ledger["two"]["up"].model_bytes
    assert ledger["one"]["up"].protocol_bytes < ledger["two"]["up"].protocol_bytes


def test_each_device_makes_one_request_a_round() -> None:
    """Counted on the wire (every message handed to the network, fedsim.net.evidence):
    a registration and one upload per round, each answered by a head and a body (but the
    last upload's: the run ends as it is accepted, and its answer's body, the end of the
    federation, would be written after: docs/results.md, "The run's window"); the
    two-exchange protocol also polls before every round."""
    rounds = 3
    for flag, up, down in ((True, rounds + 1, 2 * (rounds + 1) - 1), (False, 2 * rounds + 1, None)):
        result = _run(flag)
        messages = result.evidence.messages
        for device in range(len(result.evidence.devices)):
            mine = messages.direction[messages.device == device]
            assert int((mine == 0).sum()) == up, flag
            if down is not None:
                assert int((mine == 1).sum()) == down

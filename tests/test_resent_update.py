"""An upload whose answer was lost comes again as the same bytes: the server that
stored it acknowledges it again (200, the same answer) and counts it nowhere twice;
a different update for the same round is still refused (409)."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest
from test_server import N, _post, _task, _upload, served, two_client_engine
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.fl.async_engine import BufferedAsync
from fedsim.fl.client import FLClient
from fedsim.fl.codec import decode
from fedsim.fl.server import ACCEPTED_HEADER, CLIENT_HEADER, ROUND_HEADER, WAIT_HEADER
from fedsim.run import simulate
from fedsim.scenario import parse_scenario


async def _register(session, cid: str) -> None:  # type: ignore[no-untyped-def]
    async with session.post(
        "http://fl/v1/register", json={"client_id": cid, "num_examples": 5}
    ) as r:
        assert r.status == 200


async def test_the_same_upload_again_is_acknowledged_again_and_counted_once() -> None:
    engine = two_client_engine(rounds=1)
    async with served(engine) as (session, _app):
        for cid in ("a", "b"):
            await _register(session, cid)
        run = asyncio.create_task(engine.run())
        await asyncio.gather(_task(session, "a"), _task(session, "b"))
        body = _upload(np.full(N, 2.0, np.float32), "a")
        first = await _post(session, body, "a")
        again = await _post(session, body, "a")  # the first answer was lost: resent
        assert first == (200, {"accepted": True, "round": 1})
        assert again == first
        assert engine.current is not None
        assert [r.client_id for r in engine.current.results] == ["a"]
        assert engine.clients["a"].rounds_reported == 1
        assert engine.repeats == {"a": 1}
        other = _upload(np.full(N, 3.0, np.float32), "a")  # a second, different update
        status, said = await _post(session, other, "a")
        assert status == 409
        assert "already reported" in said["error"]
        assert (await _post(session, _upload(np.full(N, 4.0, np.float32), "b"), "b"))[0] == 200
        records = await run
        assert [r.reported for r in records] == [2]
        np.testing.assert_allclose(engine.params, 3.0)  # a's update counted once
        # The round closed: the same bytes again are still its acknowledged upload ...
        assert await _post(session, body, "a") == first
        assert engine.repeats == {"a": 2}
        # ... and anything else for it is refused.
        status, said = await _post(session, other, "a")
        assert status == 409
        assert "round 1 is closed" in said["error"]


async def test_a_resend_asking_for_the_next_task_gets_the_same_head_and_offer() -> None:
    engine = two_client_engine(rounds=2)
    async with served(engine) as (session, _app):
        for cid in ("a", "b"):
            await _register(session, cid)
        run = asyncio.create_task(engine.run())
        await asyncio.gather(_task(session, "a"), _task(session, "b"))
        body = _upload(np.full(N, 2.0, np.float32), "a")
        headers = {CLIENT_HEADER: "a", ROUND_HEADER: "1", WAIT_HEADER: "30"}
        lost = await session.post("http://fl/v1/update", data=body, headers=headers)
        assert lost.headers[ACCEPTED_HEADER] == "1"
        lost.close()  # the answer never reached the device
        again = await session.post("http://fl/v1/update", data=body, headers=headers)
        assert again.status == 200
        assert again.headers[ACCEPTED_HEADER] == "1"
        b_answer = await session.post(
            "http://fl/v1/update",
            data=_upload(np.full(N, 4.0, np.float32), "b"),
            headers={**headers, CLIENT_HEADER: "b"},
        )
        assert b_answer.headers[ACCEPTED_HEADER] == "1"
        offers = [decode(await again.read()), decode(await b_answer.read())]
        assert [o.meta["round"] for o in offers] == [2, 2]  # a's one offer: round 2's task
        assert engine.current is not None
        assert engine.current.number == 2
        assert engine.clients["a"].rounds_selected == 2
        assert engine.clients["a"].rounds_reported == 1
        assert engine.records[0].reporters == ["a", "b"]
        again.release()
        b_answer.release()
        run.cancel()


async def test_async_the_same_upload_again_takes_back_the_same_task_handed_meanwhile() -> None:
    """FedBuff: the device polled after its answer was lost and got a task for the same
    round and version; it resends its stored update for it (fl.client `_update_for`).
    On main the server buffered it a second time."""
    engine = BufferedAsync(_Eval(), np.ones(N, np.float32), rounds=1, buffer_size=2, concurrency=2)
    async with served(engine) as (session, _app):  # type: ignore[arg-type]
        for cid in ("a", "b"):
            await _register(session, cid)
        run = asyncio.create_task(engine.run())
        await asyncio.gather(_task(session, "a"), _task(session, "b"))
        body = _upload(np.full(N, 2.0, np.float32), "a")
        first = await _post(session, body, "a")
        assert first == (200, {"accepted": True, "round": 1})
        await _task(session, "a")  # the same round and version again: the same work
        assert engine.clients["a"].rounds_selected == 2
        again = await _post(session, body, "a")
        assert again == first
        assert len(engine._buffer) == 1
        assert engine.repeats == {"a": 1}
        assert "a" not in engine._tasks  # taken back: neither a selection nor a failure
        assert engine.clients["a"].rounds_selected == 1
        status, said = await _post(session, _upload(np.full(N, 3.0, np.float32), "a"), "a")
        assert status == 409
        assert "no task out" in said["error"]
        assert (await _post(session, _upload(np.full(N, 4.0, np.float32), "b"), "b"))[0] == 200
        [record] = await run
        assert (record.selected, record.reported, record.failed) == (2, 2, 0)
        np.testing.assert_allclose(engine.params, 3.0)  # a's update counted once


class _Eval:
    metric_name = "score"
    higher_is_better = True

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        return {"score": 0.0}


def _lossy_async() -> dict[str, object]:
    """FedBuff over a slow lossy Wi-Fi with short request timeouts: answers get lost
    (seed 5: dev-1's in round 2 and dev-2's in round 4, once the upload was stored)."""
    return tiny_topology(
        seed=5, fl__rounds=6, fl__engine="async", fl__async__buffer=2,
        fl__async__concurrency=4, fl__deadline="300s", fl__request_timeout="1s",
        fl__poll_wait="1s", links__wifi__loss="30%", links__wifi__bandwidth="100kbps",
    )  # fmt: skip


def test_a_lost_answer_is_resent_and_stored_once_end_to_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On main dev-2's resend was buffered a second time: the audit's
    `accepted-was-trained` fails there ("one training stored twice")."""
    repeated: list[str] = []
    real = BufferedAsync.repeat

    def spy(self: BufferedAsync, cid: str, server_round: int, digest: bytes) -> bool:
        again = real(self, cid, server_round, digest)
        if again:
            repeated.append(cid)
        return again

    monkeypatch.setattr(BufferedAsync, "repeat", spy)
    result = simulate(parse_scenario(_lossy_async()))  # audits: raises on any violation
    assert repeated  # the case happened, and was acknowledged again
    ev = result.evidence
    assert ev is not None
    # The invariant fires on a result whose server stored an update twice.
    twice = dataclasses.replace(ev.accepted[-1], accepted=ev.accepted[-1].accepted + 1.0)
    bad = dataclasses.replace(
        result, evidence=dataclasses.replace(ev, accepted=[*ev.accepted, twice])
    )
    found = [v.detail for v in audit(bad) if v.invariant == "accepted-was-trained"]
    assert len(found) == 1
    assert found[0].startswith(f"client {twice.client}, round {twice.round}: update accepted at")
    assert found[0].endswith("one training stored twice")


async def test_async_a_resend_after_the_end_takes_nothing_back() -> None:
    """The run's counts are settled when it ends (a task still out is surplus): a
    resend then is acknowledged again and leaves them as they are."""
    engine = BufferedAsync(_Eval(), np.ones(N, np.float32), rounds=1, buffer_size=2, concurrency=2)
    async with served(engine) as (session, _app):  # type: ignore[arg-type]
        for cid in ("a", "b"):
            await _register(session, cid)
        run = asyncio.create_task(engine.run())
        await asyncio.gather(_task(session, "a"), _task(session, "b"))
        body = _upload(np.full(N, 2.0, np.float32), "a")
        first = await _post(session, body, "a")
        await _task(session, "a")  # a task for the same round, still out at the end
        assert (await _post(session, _upload(np.full(N, 4.0, np.float32), "b"), "b"))[0] == 200
        await run
        a = engine.clients["a"]
        settled = (a.rounds_selected, a.rounds_reported, a.rounds_surplus)
        assert settled == (2, 1, 1)
        assert await _post(session, body, "a") == first
        assert (a.rounds_selected, a.rounds_reported, a.rounds_surplus) == settled


def test_the_device_counts_an_upload_once_by_the_bytes_the_server_knows_it_by() -> None:
    """FedBuff may hand a device a second task on the version its stored update was
    trained on; full-batch training then gives the same bytes, which the server takes
    as that upload again (stored once, acknowledged again). On main the device counted
    a second acknowledged upload, and the audit's `acknowledged-was-accepted` failed
    (fuzz regression same_bytes_retrained: "3 uploads acknowledged to the device, 2
    accepted by the server")."""
    client = FLClient("d", "http://fl", None, None, None, np.random.default_rng(0))  # type: ignore[arg-type]
    body = _upload(np.full(N, 2.0, np.float32), "d")
    client._count_accepted(1, body)
    client._count_accepted(1, body)  # the same bytes again: the same upload
    assert (client.stats.uploads_accepted, client.stats.uploads_repeated) == (1, 1)
    client._count_accepted(1, _upload(np.full(N, 3.0, np.float32), "d"))
    client._count_accepted(2, body)  # another round's upload: another upload
    assert (client.stats.uploads_accepted, client.stats.uploads_repeated) == (3, 1)

"""A pilot's open round keeps the causes it saw across a crash (`--state`).

Found as a gap: the journal held the open round's selection and acknowledged updates,
not the failures it had seen, so a client whose upload was rejected (or aborted) before
the server crashed read, after the restart, as a dropout for the deadline (or whatever
closed the round), never as `rejected`. Here a real server on loopback with real clients
(in-process): dev-1 reports, dev-2's upload is refused (a corrupt envelope, 400); the
server stops the instant both are journaled, as a killed one would, and dev-2 goes away.
A server started again over the same `--state` reopens the round; once it is open the
run is stopped, and the round's causes are those of a server that never crashed, stopped
at the same point.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from topo import tiny_topology

from fedsim.deploy import drive_client, make_client, serve
from fedsim.deployment.state import StateStore
from fedsim.fl.client import FLClient
from fedsim.fl.engine import RoundRecord, _Round
from fedsim.fl.messages import TrainIns
from fedsim.rng import Streams
from fedsim.run import build_engine
from fedsim.scenario import parse_scenario
from fedsim.tasks.registry import build_task


def _scenario() -> Any:
    return parse_scenario(tiny_topology(
        fl__rounds=1, fl__clients_per_round=2, fl__min_available=2, fl__poll_wait="5s",
        fl__deadline="10min", nodes__2__count=2,
    ))  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def _dev2_sends_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every update dev-2 sends is no envelope: the server answers 400 and records it
    as rejected in its round (`note_rejected`)."""
    encode = FLClient._train_and_encode

    async def garbage(self: FLClient, *args: Any) -> bytes:
        if self.client_id == "dev-2":
            return b"not an update envelope"
        return await encode(self, *args)

    monkeypatch.setattr(FLClient, "_train_and_encode", garbage)


def _federation(tmp: Path, *, crash: bool) -> tuple[Any, dict[str, dict[str, int]]]:
    """Round 1's record and each client's dropouts: with `crash`, the first server stops
    once dev-1's update and dev-2's rejection are journaled, and a second one over the
    same state reopens the round; without, the one server goes on. Either way dev-2 goes
    away and the run is stopped while round 1 is open."""
    sc = _scenario()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    state = tmp / "state"

    async def main() -> tuple[Any, dict[str, dict[str, int]]]:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[Any] = loop.create_future()
        engines: list[Any] = []

        def watch(engine: Any) -> None:  # dev-1 stored and dev-2 rejected: the point
            engines.append(engine)
            note, journal = engine.note_rejected, engine.journal
            accepted = journal.update_accepted
            done: set[str] = set()

            def mark(what: str) -> None:
                done.add(what)
                if done == {"accepted", "rejected"} and not seen.done():
                    seen.set_result(engine)

            def rejected(cid: str, rnd: int, reason: str) -> None:
                note(cid, rnd, reason)  # (journaled inside)
                mark("rejected")

            def stored(eng: Any, res: Any, digest: bytes) -> None:
                accepted(eng, res, digest)
                mark("accepted")

            engine.note_rejected = rejected
            journal.update_accepted = stored

        def start(**extra: Any) -> asyncio.Task[Any]:
            return asyncio.create_task(
                serve(sc, "127.0.0.1", port, state_dir=state, grace_s=1.0, **extra)
            )

        ready: asyncio.Future[int] = loop.create_future()
        first = start(on_ready=ready.set_result, on_engine=watch)
        await asyncio.wait_for(ready, 10)
        dev1 = asyncio.create_task(
            drive_client(make_client(sc, "dev-1", url, backoff_s=(0.05, 0.3)), 60)
        )
        dev2 = asyncio.create_task(
            drive_client(make_client(sc, "dev-2", url, backoff_s=(0.05, 0.3)), 60)
        )
        engine = await asyncio.wait_for(seen, 30)
        dev2.cancel()  # dev-2 goes away after its rejection
        await asyncio.gather(dev2, return_exceptions=True)
        server = first
        if crash:
            first.cancel()  # the server dies here: nothing after it is journaled
            await asyncio.gather(first, return_exceptions=True)
            reopened: asyncio.Future[Any] = loop.create_future()
            server = start(on_engine=reopened.set_result)
            engine = await asyncio.wait_for(reopened, 10)
            while engine.current is None or not engine.current.open:
                await asyncio.sleep(0.01)  # the resumed round reopens as run() starts
        engine.stop("stall_limit", "stopped by the test while round 1 is open")
        records = await asyncio.wait_for(server, 20)
        await asyncio.wait_for(dev1, 20)
        return records[0], {cid: dict(c.dropouts) for cid, c in engine.clients.items()}

    return asyncio.run(main())


def test_a_restarted_pilot_closes_the_round_with_the_causes_it_saw(tmp_path: Path) -> None:
    crashed, crashed_clients = _federation(tmp_path / "crashed", crash=True)
    whole, whole_clients = _federation(tmp_path / "whole", crash=False)
    assert whole.failed_causes == {"rejected": 1}
    assert crashed.failed_causes == whole.failed_causes, "a rejection survives the crash"
    assert (crashed.selected, crashed.reported) == (whole.selected, whole.reported) == (2, 1)
    assert crashed_clients["dev-2"] == whole_clients["dev-2"] == {"rejected": 1}


def test_the_journal_restores_rejected_and_aborted_into_the_open_round(tmp_path: Path) -> None:
    """Both causes a server sees (`note_rejected`, `note_aborted`) are stored with the
    open round and come back with it; a closed round's are dropped with it."""
    sc = _scenario()

    def engine() -> Any:
        streams = Streams(sc.seed)
        return build_engine(sc, build_task(sc.task, 2, streams), streams)

    first = engine()
    store = StateStore(tmp_path, "fp")
    ins = TrainIns(1, 0, {})
    store.round_opened(first, _Round(1, 0, 0.0, {"dev-1": ins, "dev-2": ins}, 2))
    store.client_rejected(first, 1, "dev-1", "envelope meta does not match")
    store.client_aborted(first, 1, "dev-2")
    store.client_aborted(first, 1, "dev-2")  # (once is enough)
    store.close()
    again, store = engine(), StateStore(tmp_path, "fp")
    assert store.restore(again) == 0
    assert again.resume is not None
    assert again.resume.ins == {"dev-1": ins, "dev-2": ins}
    assert again.resume.rejected == {"dev-1": "envelope meta does not match"}
    assert again.resume.aborted == {"dev-2"}
    store.round_closed(again, RoundRecord(1, 0.0, 1.0, 2, 0, 2, False, 0, 0.5, None))
    later = engine()
    assert store.restore(later) == 1
    assert later.resume is None
    assert not store.db.execute("SELECT * FROM causes").fetchall()
    store.close()

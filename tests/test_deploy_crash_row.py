"""A pilot's closed round and its results row are one transaction (`--state` with
`--results`): a crash on either side of the journal's commit leaves both or neither.

Found as a known gap: the journal committed a closed round, then the results folder
saved its row in a second write; a crash between the two lost the row for good (the
restarted server never redoes a round the journal holds), and the folder's audit read
failed from then on. Here a real server on loopback with real clients (in-process)
stops at round 2's close, as a killed one would, on one side of the commit or the
other; a server started again over the same `--state` and `--results` finishes the
federation, and the folder has every round once and passes its audit.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from topo import tiny_topology

from fedsim.deploy import run_client, serve
from fedsim.errors import FedsimError
from fedsim.record.audit_status import read_audit_status
from fedsim.record.runs import load_run
from fedsim.scenario import parse_scenario

DEVICES = ("dev-1", "dev-2")
ROUNDS = 3
CRASH_AT = 2


class Killed(Exception):  # noqa: N818 - a death, not an error to handle
    """The server process dies here (everything after it in the process is lost)."""


def _scenario() -> Any:
    return parse_scenario(tiny_topology(
        fl__rounds=ROUNDS, fl__clients_per_round=2, fl__min_available=2,
        fl__poll_wait="10s", fl__deadline="30s", nodes__2__count=2,
    ))  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _federation(tmp: Path, crash: dict[str, Any], between: Callable[[Path, Path], None]) -> Path:
    """Serve the federation with state and results in `tmp` until the first server dies
    (`crash`: extra arguments to its `serve`), call `between(state, results)`, then serve
    again over the same folders, on the same port, until the clients are told the end."""
    sc = _scenario()
    state, results = tmp / "state", tmp / "results"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    async def main() -> None:
        def start(**extra: Any) -> asyncio.Task[Any]:
            return asyncio.create_task(serve(
                sc, "127.0.0.1", port, state_dir=state, results_dir=results, grace_s=10.0,
                **extra,
            ))  # fmt: skip

        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        first = start(on_ready=ready.set_result, **crash)
        await asyncio.wait_for(ready, 10)
        clients = asyncio.gather(
            *(run_client(sc, d, url, retry_for_s=60, backoff_s=(0.05, 0.3)) for d in DEVICES)
        )
        with pytest.raises(Killed):
            await asyncio.wait_for(first, 60)
        between(state, results)
        second = start()
        await asyncio.wait_for(clients, 60)
        await asyncio.wait_for(second, 20)

    asyncio.run(main())
    return results


def _journal(state: Path) -> tuple[list[int], list[int]]:
    """The rounds the state database holds closed, and the rounds of its results rows."""
    db = sqlite3.connect(state / "state.sqlite3")
    try:
        rounds = [r for (r,) in db.execute("SELECT round FROM records ORDER BY round")]
        raw = db.execute("SELECT value FROM kv WHERE key = 'extra:results'").fetchone()
    finally:
        db.close()
    rows = [row["round"] for row in json.loads(raw[0])["rows"]] if raw else []
    return rounds, rows


def _folder_rounds(results: Path) -> list[int]:
    return [r.round for r in load_run(results).rounds]


def _assert_whole(results: Path) -> None:
    """Every round once, in order; the audit passed; the bytes add up."""
    run = load_run(results)
    assert [r.round for r in run.rounds] == list(range(1, ROUNDS + 1))
    status = read_audit_status(results)
    assert status.state == "passed", status.line()
    assert run.audit.passed
    s = run.summary
    assert sum(r.bytes_up for r in run.rounds) == s.bytes_up
    assert sum(r.bytes_down for r in run.rounds) == s.bytes_down
    assert sum(c.bytes_up for c in run.clients) == s.bytes_up + s.bytes_after_rounds_up
    assert sum(c.bytes_down for c in run.clients) == s.bytes_down + s.bytes_after_rounds_down
    assert all(r.reported == len(DEVICES) for r in run.rounds)
    assert sum(c.rounds_reported for c in run.clients) == ROUNDS * len(DEVICES)


def test_a_crash_after_the_round_is_committed_keeps_its_row(tmp_path: Path) -> None:
    """Round 2 is closed and committed; the server dies before any observer writes the
    folder. The restarted server writes round 2's row from the journal and goes on."""

    def die_after_commit(rec: Any) -> None:  # an observer: the journal has committed
        if rec.round == CRASH_AT:
            raise Killed

    def between(state: Path, results: Path) -> None:
        assert _journal(state)[0] == [1, CRASH_AT]  # the journal holds round 2 ...
        assert _folder_rounds(results) == [1]  # ... the folder was never written with it

    results = _federation(tmp_path, {"on_round": die_after_commit}, between)
    _assert_whole(results)


class _DiesMidTransaction:
    """The state database's connection, which dies inside round 2's closing transaction
    after everything but its last statements (the row among them) was written."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("DELETE FROM updates") and args[0][0] == CRASH_AT:
            raise Killed
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_crash_before_the_commit_leaves_neither_round_nor_row(tmp_path: Path) -> None:
    """Round 2's transaction dies before its commit: the journal still has round 2 open
    with its acknowledged updates and no row for it; the restarted server closes round 2
    again (its row appears once) and finishes."""

    def dies_in_transaction(engine: Any) -> None:
        engine.journal.db = _DiesMidTransaction(engine.journal.db)

    def between(state: Path, results: Path) -> None:
        assert _journal(state) == ([1], [1])  # neither round 2 nor its row
        assert _folder_rounds(results) == [1]

    results = _federation(tmp_path, {"on_engine": dies_in_transaction}, between)
    _assert_whole(results)


@pytest.mark.parametrize(("first_results", "then_results"), [(False, True), (True, False)])
def test_a_restart_must_keep_results_as_the_federation_began(
    tmp_path: Path, first_results: bool, then_results: bool
) -> None:
    """Rows are stored with each round's close only when a results folder is written: a
    restart that adds `--results` over rounds closed without one (its folder would lack
    them for good), or drops it (later rounds would have no row), is refused in one line
    before the server listens, and leaves the state and the folder as they were."""
    sc = _scenario()
    state, results = tmp_path / "state", tmp_path / "results"
    port = _free_port()

    def die_after_commit(rec: Any) -> None:
        if rec.round == CRASH_AT:
            raise Killed

    async def main() -> str:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        first = asyncio.create_task(serve(
            sc, "127.0.0.1", port, state_dir=state, grace_s=10.0, on_ready=ready.set_result,
            on_round=die_after_commit, results_dir=results if first_results else None,
        ))  # fmt: skip
        await asyncio.wait_for(ready, 10)
        url = f"http://127.0.0.1:{port}"
        clients = asyncio.gather(
            *(run_client(sc, d, url, retry_for_s=60, backoff_s=(0.05, 0.3)) for d in DEVICES)
        )
        with pytest.raises(Killed):
            await asyncio.wait_for(first, 60)
        journal = _journal(state)
        folder = sorted(p.name for p in results.iterdir()) if results.exists() else []
        with pytest.raises(FedsimError) as refused:
            await serve(sc, "127.0.0.1", port, state_dir=state,
                        results_dir=results if then_results else None)  # fmt: skip
        assert _journal(state) == journal
        assert (sorted(p.name for p in results.iterdir()) if results.exists() else []) == folder
        clients.cancel()
        await asyncio.gather(clients, return_exceptions=True)
        return str(refused.value)

    said = asyncio.run(main())
    if then_results:
        assert f"holds {CRASH_AT} closed rounds but results rows for 0" in said
    else:
        assert "give --results again" in said
    assert "\n" not in said

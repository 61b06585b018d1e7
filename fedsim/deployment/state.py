"""Durable server state: SQLite in WAL mode under `--state DIR`.

What the server acknowledges is on disk before the 2xx leaves: every accepted
update (one transaction each), the open round's selection and the failures it saw (an
upload rejected or aborted: its dropout's cause), and at each round's
close the deployed model, its version and metric, the round record, the client
statistics, the strategy's own state, the selection generator and the data others
register in `closing` (the results folder's row). A restarted server (`fedsim serve
... --state DIR` again) reopens the round it was in with the same selection, every
acknowledged update and every failure seen, and goes on from there: the round closes
with the causes an uninterrupted server would have given it.

`synchronous=NORMAL`: a transaction survives a crash of the server process (the
kill -9 case) at every commit; after a power loss the last few may be lost
(`FULL` would fsync every upload).
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fedsim.errors import FedsimError
from fedsim.fl.engine import ResumedRound, RoundRecord, SyncRounds, _Round
from fedsim.fl.messages import ClientInfo, TrainIns, TrainRes

__all__ = ["StateStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS updates (
    round INTEGER NOT NULL, client_id TEXT NOT NULL, base_version INTEGER NOT NULL,
    num_examples INTEGER NOT NULL, params BLOB NOT NULL, metrics TEXT NOT NULL,
    seq INTEGER NOT NULL, PRIMARY KEY (round, client_id));
CREATE TABLE IF NOT EXISTS records (round INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS causes (
    round INTEGER NOT NULL, client_id TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT,
    PRIMARY KEY (round, client_id, kind));
CREATE TABLE IF NOT EXISTS acknowledged (
    client_id TEXT PRIMARY KEY, round INTEGER NOT NULL, digest BLOB NOT NULL);
"""
# `causes`: the failures the open round saw (kind `rejected` with its reason, `aborted`),
# so a restarted server closes it with them, not as deadline dropouts.
# `acknowledged`: each client's last accepted upload (the digest of its body), so that
# after a restart the same bytes again are still recognized as a resend (a table of its
# own: a state folder of an older fedsim gains it as it is opened).


class StateStore:
    """One federation's durable state (a `RoundJournal` for `SyncRounds`)."""

    def __init__(self, directory: str | Path, fingerprint: str) -> None:
        self.directory = Path(directory)
        db = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            db = self.db = sqlite3.connect(self.directory / "state.sqlite3", isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            stored = self._get("fingerprint")
            if stored is None:
                self._put("fingerprint", fingerprint.encode())
            elif stored.decode() != fingerprint:
                raise FedsimError(
                    f"--state {directory} holds another federation ({stored.decode()}); "
                    "choose an empty directory"
                )
        except (OSError, sqlite3.Error, FedsimError) as exc:
            if db is not None:
                db.close()  # a refused store leaves no connection open behind it
            if isinstance(exc, FedsimError):
                raise
            raise FedsimError(
                f"--state {directory}: cannot open the state database ({exc})"
            ) from None
        self._seq = 0
        self.closing: dict[str, Callable[[RoundRecord], Any]] = {}
        """Data stored with each round's close, in its transaction: key -> a function of
        the round's record giving JSON-able data (the results folder's row and byte
        counts), called once per close; read back with `get_json(key)`. So a round the
        journal says is done always has that data too, whatever moment a crash hits."""

    def close(self) -> None:
        self.db.close()

    # -- the journal ----------------------------------------------------------------
    def round_opened(self, engine: SyncRounds, rnd: _Round) -> None:
        opened = {
            "number": rnd.number,
            "want": rnd.want,
            "ins": {c: [t.server_round, t.model_version, t.config] for c, t in rnd.ins.items()},
            "rng": engine.rng.bit_generator.state,
        }
        self._put("open_round", json.dumps(opened).encode())

    def update_accepted(self, engine: SyncRounds, res: TrainRes, digest: bytes) -> None:
        self._seq += 1
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO updates VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    res.server_round,
                    res.client_id,
                    res.base_version,
                    res.num_examples,
                    np.ascontiguousarray(res.params, dtype=np.float32).tobytes(),
                    json.dumps(res.metrics),
                    self._seq,
                ),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO acknowledged VALUES (?, ?, ?)",
                (res.client_id, res.server_round, digest),
            )

    def client_rejected(
        self, engine: SyncRounds, server_round: int, client_id: str, reason: str
    ) -> None:
        self._cause(server_round, client_id, "rejected", reason)

    def client_aborted(self, engine: SyncRounds, server_round: int, client_id: str) -> None:
        self._cause(server_round, client_id, "aborted", None)

    def _cause(self, server_round: int, client_id: str, kind: str, reason: str | None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO causes VALUES (?, ?, ?, ?)",
            (server_round, client_id, kind, reason),
        )

    def round_closed(self, engine: SyncRounds, record: RoundRecord) -> None:
        clients = {cid: dataclasses.asdict(info) for cid, info in engine.clients.items()}
        extra = {key: json.dumps(make(record)).encode() for key, make in self.closing.items()}
        with self._transaction():
            self._put("params", engine.params.tobytes())
            self._put("version", str(engine.version).encode())
            self._put("deployed_metric", json.dumps(engine.deployed_metric).encode())
            self._put("clients", json.dumps(clients).encode())
            self._put("strategy", pickle.dumps(engine.strategy))
            self._put("rng", json.dumps(engine.rng.bit_generator.state).encode())
            self.db.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?)",
                (record.round, json.dumps(dataclasses.asdict(record))),
            )
            for key, value in extra.items():
                self._put(f"extra:{key}", value)
            self.db.execute("DELETE FROM updates WHERE round <= ?", (record.round,))
            self.db.execute("DELETE FROM causes WHERE round <= ?", (record.round,))
            self.db.execute("DELETE FROM kv WHERE key = 'open_round'")

    # -- restore --------------------------------------------------------------------
    def restore(self, engine: SyncRounds) -> int:
        """Load the stored state into a fresh engine; the number of rounds it had done."""
        records = [
            RoundRecord(**json.loads(row[0]))
            for row in self.db.execute("SELECT record FROM records ORDER BY round")
        ]
        if records:
            params = np.frombuffer(self._need("params"), dtype=np.float32)
            if params.size != engine.params.size:
                raise FedsimError(f"--state {self.directory}: the stored model has another size")
            engine.params = params.copy()
            engine.version = int(self._need("version"))
            engine.deployed_metric = float(json.loads(self._need("deployed_metric")))
            engine.strategy = pickle.loads(self._need("strategy"))  # the server's own file
            engine.rng.bit_generator.state = json.loads(self._need("rng"))
            for cid, fields in json.loads(self._need("clients")).items():
                engine.clients[cid] = ClientInfo(**fields)
            engine.records = records
        engine.acknowledged.last = {
            cid: (int(rnd), bytes(digest))
            for cid, rnd, digest in self.db.execute(
                "SELECT client_id, round, digest FROM acknowledged"
            )
        }
        opened = self._get("open_round")
        if opened is not None:
            state = json.loads(opened)
            engine.rng.bit_generator.state = state["rng"]
            ins = {
                c: TrainIns(int(r), int(v), dict(cfg)) for c, (r, v, cfg) in state["ins"].items()
            }
            results = [
                TrainRes(cid, rnd, base, n, np.frombuffer(blob, dtype=np.float32), json.loads(m))
                for rnd, cid, base, n, blob, m in self.db.execute(
                    "SELECT round, client_id, base_version, num_examples, params, metrics "
                    "FROM updates WHERE round = ? ORDER BY seq",
                    (state["number"],),
                )
            ]
            seen = self.db.execute(
                "SELECT client_id, kind, reason FROM causes WHERE round = ? ORDER BY client_id",
                (state["number"],),
            ).fetchall()
            engine.resume = ResumedRound(
                int(state["number"]), ins, int(state["want"]), results,
                rejected={c: str(why) for c, kind, why in seen if kind == "rejected"},
                aborted={c for c, kind, _ in seen if kind == "aborted"},
            )  # fmt: skip
            row = self.db.execute("SELECT MAX(seq) FROM updates").fetchone()
            self._seq = int(row[0] or 0)
        return len(records)

    def get_json(self, key: str) -> Any:
        """What `closing[key]` gave at the last committed round's close (None: none yet)."""
        raw = self._get(f"extra:{key}")
        return None if raw is None else json.loads(raw)

    def stored_updates(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM updates").fetchone()[0])

    # -- internals ------------------------------------------------------------------
    def _transaction(self) -> Any:
        return _Transaction(self.db)

    def _get(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def _need(self, key: str) -> bytes:
        value = self._get(key)
        if value is None:
            raise FedsimError(f"--state {self.directory}: the state database lacks {key!r}")
        return value

    def _put(self, key: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")

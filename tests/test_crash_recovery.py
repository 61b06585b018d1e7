"""kill -9 of a real `fedsim serve --state DIR` process, again and again, during a
3-client 20-round federation of real `fedsim client` processes on loopback.

No acknowledged update may be lost: every round aggregates its 3 updates, and no
device trains more than 20 times (a lost update would be asked for again, and the
device would train again; an update sent but never answered is resent as the same
bytes, not retrained). The final model equals an uninterrupted run's bit for bit:
deployment aggregates a round's updates in client order, not arrival order."""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from topo import tiny_topology

from fedsim.fl.auth import Keyring

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("dev-1", "dev-2", "dev-3")
ROUNDS = 20
KILLS = 20
BOUND_S = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Federation:
    def __init__(self, tmp: Path, label: str) -> None:
        self.dir = tmp / label
        self.dir.mkdir()
        topo = tiny_topology(
            fl__rounds=ROUNDS, fl__clients_per_round=3, fl__min_available=3,
            fl__poll_wait="2s", fl__deadline="120s", nodes__2__count=3,
        )  # fmt: skip
        self.topology = self.dir / "t.yaml"
        self.topology.write_text(yaml.safe_dump(topo))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = Keyring.from_seed(int(topo["seed"]), NAMES).operator_token()
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        self.server: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def fedsim(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        with (self.dir / log).open("ab") as out:  # the child keeps its own descriptor
            return subprocess.Popen(
                [sys.executable, "-m", "fedsim", *args], cwd=self.dir, env=self.env,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def start_server(self) -> None:
        self.starts += 1
        self.server = self.fedsim(
            "serve", "t.yaml", "--port", str(self.port), "--state", "state",
            "--results", "results", log="server.log",
        )  # fmt: skip

    def status(self) -> dict | None:
        try:
            r = requests.get(f"{self.url}/v1/status", timeout=2,
                             headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        except requests.RequestException:
            return None
        return r.json() if r.status_code == 200 else None

    def progress(self, s: dict) -> int:
        """Acknowledged updates so far (3 per finished round)."""
        return 3 * (s["round"] - 1) + s["reported"] if s["round"] else 0

    def wait(self, until: int | None) -> bool:
        """Until `until` updates are acknowledged (None: until the server answers);
        False when the server finished and exited meanwhile."""
        assert self.server is not None
        end = time.monotonic() + BOUND_S  # bounded polling, no timing assertion
        while time.monotonic() < end:
            if self.server.poll() is not None:
                return False
            s = self.status()
            if s is not None and (until is None or self.progress(s) >= until or s["finished"]):
                return not s["finished"]
            time.sleep(0.01)
        raise AssertionError(f"no progress within {BOUND_S} s (log: {self.dir})")

    def kill(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait(BOUND_S)

    def clients(self) -> list[subprocess.Popen[bytes]]:
        return [
            self.fedsim("client", "t.yaml", "--device", name, "--server", self.url,
                        "--backoff", "0.05", "0.3", "--retry-for", "300", log=f"{name}.log")
            for name in NAMES
        ]  # fmt: skip

    def model(self) -> np.ndarray:
        db = sqlite3.connect(self.dir / "state" / "state.sqlite3")
        (blob,) = db.execute("SELECT value FROM kv WHERE key = 'params'").fetchone()
        db.close()
        return np.frombuffer(blob, dtype=np.float32)

    def finish(self, clients: list[subprocess.Popen[bytes]]) -> None:
        assert self.server is not None
        assert self.server.wait(BOUND_S) == 0, (self.dir / "server.log").read_text()[-2000:]
        for c in clients:
            assert c.wait(BOUND_S) == 0
        for name in NAMES:
            last = (self.dir / f"{name}.log").read_text().strip().splitlines()[-1]
            assert f"trained {ROUNDS} rounds" in last, last
        rows = (self.dir / "results" / "rounds.csv").read_text().strip().splitlines()[1:]
        assert len(rows) == ROUNDS
        assert all(r.split(",")[3] == "3" for r in rows)  # every round: 3 reported


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_update(tmp_path: Path) -> None:
    reference = Federation(tmp_path, "reference")
    fed = Federation(tmp_path, "killed")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        reference.start_server()
        reference.wait(None)
        procs += reference.clients()
        reference.finish(procs[-3:])

        rng = random.Random(20261203)
        fed.start_server()
        fed.wait(None)
        procs += fed.clients()
        kills = 0
        while kills < KILLS:
            # A random point: while the process starts (loading, restoring state), the
            # moment it first answers, or right after its next acknowledged update.
            point = rng.choice(("starting", "starting", "answering", "answering", "acknowledged"))
            if point == "starting":
                time.sleep(rng.uniform(0.0, 1.0))
                running = fed.server is not None and fed.server.poll() is None
            else:
                running = fed.wait(None)
                s = fed.status()
                if running and point == "acknowledged" and s is not None:
                    running = fed.wait(fed.progress(s) + 1)
            if not running:
                break
            fed.kill()
            kills += 1
            fed.start_server()
        assert kills >= KILLS, f"the federation finished after only {kills} kills"
        print(f"{kills} kills, {fed.starts} server processes")
        fed.finish(procs[-3:])
        assert fed.starts == kills + 1
        np.testing.assert_array_equal(fed.model(), reference.model())
    finally:
        for p in [*procs, reference.server, fed.server]:
            if p is not None and p.poll() is None:
                p.kill()
            if p is not None:
                p.wait(BOUND_S)

"""A deployment's results folder books the bytes that crossed the sockets, per round
and per device, with fl.task_on_answer on (the next task streamed in the upload's
answer) and off (an upload, then a poll).

Each device talks to the server through its own loopback relay that counts the bytes
each way and splits what the device sent into HTTP requests; rounds.csv, clients.csv
and summary.json must agree with the relays. Real TCP on localhost: two devices, two
rounds, well under a second of traffic.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest
from topo import tiny_topology

from fedsim.deploy import run_client, serve
from fedsim.scenario import parse_scenario

DEVICES = ("dev-1", "dev-2")
ROUNDS = 2


class _Requests:
    """Splits one connection's client-to-server bytes into requests: (path, round, size)."""

    def __init__(self, found: list[tuple[str, int | None, int]]) -> None:
        self.buf = b""
        self.found = found

    def feed(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[: end + 4].decode("latin-1").split("\r\n")
            fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
            fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
            size = end + 4 + int(fields.get("content-length", "0"))
            if len(self.buf) < size:
                return
            rnd = fields.get("x-fedsim-round")
            self.found.append(
                (head[0].split(" ")[1].split("?")[0], int(rnd) if rnd else None, size)
            )
            self.buf = self.buf[size:]


class Relay:
    """A loopback TCP relay in front of the server for one device: counts each way."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.up = 0
        self.down = 0
        self.requests: list[tuple[str, int | None, int]] = []

    async def start(self) -> int:
        self.listener = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return int(self.listener.sockets[0].getsockname()[1])

    async def _connection(self, dev_r: asyncio.StreamReader, dev_w: asyncio.StreamWriter) -> None:
        srv_r, srv_w = await asyncio.open_connection("127.0.0.1", self.server_port)
        parser = _Requests(self.requests)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: bool) -> None:
            try:
                while data := await r.read(65536):
                    if up:
                        self.up += len(data)
                        parser.feed(data)
                    else:
                        self.down += len(data)
                    w.write(data)
                    await w.drain()
            except ConnectionError:
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(dev_r, srv_w, True), pipe(srv_r, dev_w, False))


def _federate(task_on_answer: bool, out: Path) -> tuple[dict[str, Relay], int]:
    topo = tiny_topology(fl__rounds=ROUNDS, fl__clients_per_round=2, fl__min_available=2,
                         fl__poll_wait="10s", fl__deadline="30s", nodes__2__count=2,
                         fl__task_on_answer=str(task_on_answer).lower())  # fmt: skip
    sc = parse_scenario(topo)
    engines: list = []

    async def main() -> dict[str, Relay]:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            serve(sc, "127.0.0.1", 0, on_ready=ready.set_result, on_engine=engines.append,
                  results_dir=out, grace_s=10.0)
        )  # fmt: skip
        port = await asyncio.wait_for(ready, 10)
        relays = {d: Relay(port) for d in DEVICES}
        urls = {d: f"http://127.0.0.1:{await r.start()}" for d, r in relays.items()}
        await asyncio.wait_for(asyncio.gather(*(run_client(sc, d, urls[d]) for d in DEVICES)), 60)
        await asyncio.wait_for(server, 20)
        for r in relays.values():
            r.listener.close()
        return relays

    relays = asyncio.run(main())
    return relays, int(engines[0].params.nbytes)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("task_on_answer", [True, False])
def test_results_book_the_bytes_that_crossed(task_on_answer: bool, tmp_path: Path) -> None:
    relays, model_bytes = _federate(task_on_answer, tmp_path)
    rounds = _rows(tmp_path / "rounds.csv")
    clients = {c["client"]: c for c in _rows(tmp_path / "clients.csv")}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [int(r["round"]) for r in rounds] == list(range(1, ROUNDS + 1))

    # Per device: exactly what its relay carried each way, HTTP heads included.
    for dev, relay in relays.items():
        assert (int(clients[dev]["bytes_up"]), int(clients[dev]["bytes_down"])) == (
            relay.up,
            relay.down,
        )
    # The rounds plus what crossed after the last one: all of it, nothing twice.
    for way in ("up", "down"):
        booked = sum(int(r[f"bytes_{way}"]) for r in rounds)
        assert booked == summary[f"bytes_{way}"]
        crossed = sum(getattr(r, way) for r in relays.values())
        assert booked + summary[f"bytes_after_rounds_{way}"] == crossed
        # Deployment cannot see TCP/IP: wire bytes are the payload (a lower bound).
        assert sum(int(r[f"wire_bytes_{way}"]) for r in rounds) == booked

    # Each upload is booked in the round it arrived in (its X-Fedsim-Round), the
    # registrations in round 1; with the task on the answer nothing else goes up.
    sent = [req for relay in relays.values() for req in relay.requests]
    registrations = sum(size for path, _, size in sent if path == "/v1/register")
    polls = sum(size for path, _, size in sent if path == "/v1/task")
    for row in rounds:
        n = int(row["round"])
        uploads = [size for path, rnd, size in sent if path == "/v1/update" and rnd == n]
        assert len(uploads) == 2
        expected = sum(uploads) + (registrations if n == 1 else 0)
        if task_on_answer:
            assert int(row["bytes_up"]) == expected
        else:
            assert expected <= int(row["bytes_up"]) <= expected + polls
        # Two task downloads in every round (streamed on the answers or polled).
        assert 2 * model_bytes < int(row["bytes_down"]) < 2 * model_bytes + 3000
    if task_on_answer:
        assert polls == 0
        assert summary["bytes_after_rounds_up"] == 0  # the last uploads are in the last row
        assert summary["bytes_after_rounds_down"] > 0  # the answers' "finished" bodies

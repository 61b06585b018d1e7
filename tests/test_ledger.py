"""The byte ledger: classified where bytes are counted, in both fidelities, reconciling
exactly with links.csv (the auditor's `ledger-reconciles`), and caught when doctored."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
import pytest
import simpy
import yaml
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.fl.codec import encode
from fedsim.net.flow import FlowChannel
from fedsim.net.http_bytes import ModelBytes
from fedsim.net.link import Hop, Link, Transmitter
from fedsim.net.loss import Bernoulli
from fedsim.net.packet import PacketChannel
from fedsim.record.report_ledger import ledger_html
from fedsim.record.runs import load_run
from fedsim.run import RunResult, run_scenario, simulate
from fedsim.scenario import parse_scenario

NAME = "ledger-reconciles"


def _run(fidelity: str, loss: str = "0") -> RunResult:
    topo = tiny_topology(fidelity=fidelity, links__wifi__loss=loss, fl__rounds=3)
    return simulate(parse_scenario(topo))  # audits: raises on any violation


@pytest.fixture(scope="module", params=["flow", "packet"])
def lossy(request: pytest.FixtureRequest) -> RunResult:
    return _run(request.param, "3%")


def _rows(result: RunResult, scope: str) -> dict[str, object]:
    return {r.direction: r for r in result.ledger if r.scope == scope}


def test_every_class_is_counted_and_adds_up(lossy: RunResult) -> None:
    assert [v for v in audit(lossy) if v.invariant == NAME] == []
    run = _rows(lossy, "run")
    for d in ("up", "down"):
        row = run[d]
        assert row.model_bytes > 0
        assert row.protocol_bytes > 0
        assert row.header_bytes > 0
        assert row.control_bytes > 0
        assert row.model_bytes + row.protocol_bytes == row.payload_bytes
        parts = row.data_bytes + row.header_bytes + row.control_bytes + row.retx_bytes
        assert parts == row.wire_bytes
    # 3 % loss on the Wi-Fi hop: something was lost and sent again
    assert sum(r.lost_bytes for r in run.values()) > 0
    assert sum(r.retx_bytes for r in run.values()) > 0
    assert lossy.summary.ledger["model_up"] == run["up"].model_bytes
    stored = sum(c.rounds_reported for c in lossy.clients)
    assert lossy.summary.accepted_updates + lossy.summary.discarded_updates == stored


def test_model_bytes_are_the_encoded_tensors() -> None:
    """A float32 model of n parameters carries 4n model bytes per envelope, both ways."""
    result = _run("flow")
    down = sum(r.bytes_down for r in result.rounds)
    assert 0 < _rows(result, "run")["down"].model_bytes < down
    row = _rows(result, "run")["up"]
    reported = sum(c.rounds_reported for c in result.clients)
    per_update = row.model_bytes / reported
    assert per_update == int(per_update)
    assert per_update % 4 == 0
    # every reported update was trained on a task that came down as a whole envelope,
    # whether a poll's answer or an upload's streamed answer carried it
    model_down = _rows(result, "run")["down"].model_bytes
    assert model_down % per_update == 0
    assert model_down >= reported * per_update


def test_rounds_and_after_sum_to_the_run_and_match_rounds_csv(lossy: RunResult) -> None:
    rounds = [r for r in lossy.ledger if r.scope == "round"]
    assert {r.key for r in rounds} == {*(str(r.round) for r in lossy.rounds), "after"}
    for d in ("up", "down"):
        mine = [r for r in rounds if r.direction == d]
        assert sum(r.wire_bytes for r in mine) == _rows(lossy, "run")[d].wire_bytes
        wire = {r.key: r.wire_bytes for r in mine}
        for row in lossy.rounds:
            assert wire[str(row.round)] == row[f"wire_bytes_{d}"]


def test_link_class_rows_are_sums_of_links_csv(lossy: RunResult) -> None:
    for row in (r for r in lossy.ledger if r.scope == "link_class"):
        links = [lk for lk in lossy.links if lk.kind == row.key and lk.direction == row.direction]
        assert row.wire_bytes == sum(lk.wire_bytes for lk in links)
        assert row.model_bytes == sum(lk.model_bytes for lk in links)
        assert row.lost_bytes == sum(lk.lost_bytes for lk in links)


@pytest.mark.parametrize("what", ["link", "ledger", "round", "summary"])
def test_a_doctored_ledger_is_caught(lossy: RunResult, what: str) -> None:
    bad = dataclasses.replace(lossy, links=list(lossy.links), ledger=list(lossy.ledger))
    if what == "link":
        bad.links[0] = dataclasses.replace(bad.links[0], header_bytes=bad.links[0].header_bytes + 1)
        expect = "!= wire_bytes"
    elif what == "ledger":
        i = next(i for i, r in enumerate(bad.ledger) if r.scope == "group")
        r = bad.ledger[i]
        bad.ledger[i] = dataclasses.replace(
            r, retx_bytes=r.retx_bytes + 1, wire_bytes=r.wire_bytes + 1
        )
        expect = "in links.csv"
    elif what == "round":
        i = next(i for i, r in enumerate(bad.ledger) if r.scope == "round")
        r = bad.ledger[i]
        bad.ledger[i] = dataclasses.replace(
            r, data_bytes=r.data_bytes + 7, wire_bytes=r.wire_bytes + 7
        )
        expect = "rounds + after"
    else:
        totals = {**lossy.summary.ledger, "lost_up": -1}
        bad = dataclasses.replace(bad, summary=dataclasses.replace(lossy.summary, ledger=totals))
        expect = "summary.json ledger lost_up"
    found = [v.detail for v in audit(bad) if v.invariant == NAME]
    assert any(expect in d for d in found), found


def test_model_bytes_follow_http_framing_across_writes() -> None:
    env = encode(np.arange(10, dtype=np.float32), {"round": 1}, codec="float32").body
    hlen = struct.unpack_from("<I", env, 4)[0]
    head = f"POST /v1/update HTTP/1.1\r\nContent-Length: {len(env)}\r\n\r\n".encode()
    meter = ModelBytes()
    # head and the first bytes of the body in one write, the rest in two more
    parts = [head + env[:20], env[20:25], env[25:]]
    assert sum(meter.count(p) for p in parts) == len(env) - 8 - hlen == 40
    assert meter.count(head + env) == 40  # the next message on the connection
    # a body that is not an envelope (JSON), then a bodiless 204: all protocol
    other = ModelBytes()
    assert other.count(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") == 0
    assert other.count(b"HTTP/1.1 204 No Content\r\n\r\n") == 0


def test_model_bytes_follow_a_chunked_answer() -> None:
    """An upload's answer with the next task (fedsim.fl.server): the head leaves first,
    then the envelope as one chunk and the last chunk; an empty offer is the last
    chunk alone; the connection's next message is framed by its own head again."""
    env = encode(np.arange(10, dtype=np.float32), {"round": 2}, codec="float32").body
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"X-Fedsim-Accepted: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    meter = ModelBytes()
    assert meter.count(head) == 0
    assert meter.count(f"{len(env):x}\r\n".encode() + env + b"\r\n0\r\n\r\n") == 40
    assert meter.count(head) == 0
    assert meter.count(b"0\r\n\r\n") == 0  # no task offered
    plain = f"HTTP/1.1 200 OK\r\nContent-Length: {len(env)}\r\n\r\n".encode()
    assert meter.count(plain + env) == 40
    # the envelope split over two chunks, each written on its own
    assert meter.count(head) == 0
    first, rest = env[:30], env[30:]
    parts = [
        f"{len(first):x}\r\n".encode() + first + b"\r\n",
        f"{len(rest):x}\r\n".encode() + rest + b"\r\n",
        b"0\r\n\r\n",
    ]
    assert sum(meter.count(p) for p in parts) == 40


def test_ledger_csv_is_written_and_read_back(tmp_path: Path) -> None:
    topo_path = tmp_path / "tiny.yaml"
    topo_path.write_text(yaml.safe_dump(tiny_topology(fl__rounds=2)))
    out = run_scenario(topo_path, out_root=tmp_path / "results")
    run = load_run(out)
    assert {r.scope for r in run.ledger} == {"run", "round", "group", "link_class"}
    html = ledger_html(run)
    assert "Where the bytes went" in html
    assert "by link class" in html
    assert "rpi4" in html  # the device profile rows
    assert run.summary.overhead_share is not None
    assert 0 < run.summary.overhead_share < 1


@pytest.mark.parametrize("channel_type", [FlowChannel, PacketChannel])
@pytest.mark.parametrize("loss", [0.0, 0.05])
def test_a_cut_takes_back_the_wire_classes_exactly(channel_type: type, loss: float) -> None:
    """Mid-transfer, what is booked past the cut is taken back class by class: the
    classes still add up to the wire bytes, and none goes negative."""
    env = simpy.Environment()
    link = Link("l", "l.a", "l.b", (Transmitter("l>", 20e3), Transmitter("l<", 20e3)), 0.05,
                loss=(Bernoulli(loss), Bernoulli(loss)))  # fmt: skip
    ch = channel_type(env, (Hop(link, 0),), np.random.default_rng(1))

    def send() -> object:
        yield ch.connect()
        ev = ch.send(0, 30_000)
        ev.defused = True
        yield env.timeout(1000)

    env.process(send())
    env.run(until=6.0)
    ch.break_("cut")
    for c in link.counters:
        parts = c.data_bytes + c.header_bytes + c.control_bytes + c.retx_bytes
        assert parts == c.wire_bytes
        assert min(c.data_bytes, c.header_bytes, c.control_bytes, c.retx_bytes) >= 0
        assert 0 <= c.lost_bytes <= c.wire_bytes
    assert 0 < link.counters[0].data_bytes < 30_000


def test_the_model_meter_knows_the_codec_magic() -> None:
    """net/http_bytes.py spells the envelope magic itself (net never imports fl)."""
    from fedsim.fl.codec import MAGIC as CODEC_MAGIC
    from fedsim.net.http_bytes import MAGIC

    assert MAGIC == CODEC_MAGIC


@pytest.mark.parametrize(
    ("field", "expect"),
    [
        ("wire_bytes_after_rounds_up", "wire_bytes_up"),
        ("bytes_after_rounds_down", "ledger.csv run down payload"),
        ("overhead_share", "summary.json overhead_share"),
        ("wire_bytes_per_update", "summary.json wire_bytes_per_update"),
    ],
)
def test_summary_spans_that_do_not_add_up_are_caught(
    lossy: RunResult, field: str, expect: str
) -> None:
    """Rounds + after = the whole run (ledger.csv's run rows); overhead_share is the run's
    and wire_bytes_per_update the rounds' (redteam7: the spans were not said or checked)."""
    assert [v for v in audit(lossy) if v.invariant == NAME] == []
    value = getattr(lossy.summary, field)
    doctored = value + 1 if isinstance(value, int) else value * 1.01
    bad = dataclasses.replace(
        lossy, summary=dataclasses.replace(lossy.summary, **{field: doctored})
    )
    found = [v.detail for v in audit(bad) if v.invariant == NAME]
    assert any(expect in d for d in found), found

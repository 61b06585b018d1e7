"""No request can kill, wedge or change the deployed server: schemathesis over the
published OpenAPI document, a structured envelope fuzzer, and the hostile requests
that once crashed it. Every answer must be a 2xx or a JSON 4xx; afterwards the
server is alive, the global model unchanged, and a legitimate round completes.

The default run sends a few hundred requests; `-m slow` sends over 10,000."""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_server import Device, LiveServer, is_json_error
from schemathesis.generation.modes import GenerationMode
from topo import tiny_topology

from fedsim.fl.auth import Keyring
from fedsim.fl.wire_schema import openapi
from fedsim.scenario import parse_scenario

SENT: Counter[str] = Counter()
FAST, SLOW = 60, 5000


class Federation:
    """Round 1 open with dev-1 and dev-2 selected; dev-3 registered, not selected (the
    fuzzer speaks as dev-3, so even a well-formed upload changes nothing)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.dev = {n: Device(server, n) for n in ("dev-1", "dev-2", "dev-3")}
        for d in self.dev.values():
            assert d.register().status_code == 200
        with ThreadPoolExecutor(2) as pool:
            polls = list(pool.map(self._task, ("dev-1", "dev-2")))
        self.tasks = dict(zip(("dev-1", "dev-2"), polls, strict=True))
        self.model = server.model()
        self.n = server.call(lambda: server.engine.params.size)

    def _task(self, name: str) -> bytes:
        for _ in range(20):
            r = self.dev[name].poll(wait=10)
            if r.status_code == 200:
                return r.content
        raise AssertionError(f"{name} got no task")

    def check(self, r: requests.Response, label: str) -> None:
        SENT[label] += 1
        assert r.status_code < 500, (label, r.status_code, r.text[:200])
        if r.status_code >= 400:
            assert is_json_error(r), (label, r.status_code, r.headers, r.text[:200])


@pytest.fixture(scope="module")
def fed() -> Iterator[Federation]:
    sc = parse_scenario(tiny_topology(
        fl__rounds=2, fl__clients_per_round=2, fl__min_available=2, fl__poll_wait="10s",
        fl__deadline="3600s", nodes__2__count=3,
    ))  # fmt: skip
    keyring = Keyring.from_seed(sc.seed, [n.name for n in sc.device_nodes])
    with LiveServer(sc, keyring) as server:
        yield Federation(server)


def _meta(**fields: Any) -> dict[str, Any]:
    return {"client_id": "dev-3", "round": 1, "version": 0, "num_examples": 10, **fields}


def _envelope(header_json: str, payload: bytes) -> bytes:
    head = header_json.encode()
    return struct.pack("<4sI", b"FSM1", len(head)) + head + payload


def _header(n: int, payload: bytes, meta: str, **extra: str) -> str:
    fields = {"codec": '"float32"', "n": str(n), "delta": "false",
              "crc32": str(zlib.crc32(payload)), "meta": meta, **extra}  # fmt: skip
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"


def hostile_cases(fed: Federation) -> list[tuple[str, dict[str, Any]]]:
    """The requests of the issue's report, each as Device.send keyword arguments."""
    n = fed.n
    f32 = np.zeros(n, dtype=np.float32).tobytes()
    i8 = bytes(n)
    ok_meta = json.dumps(_meta())
    up = {"X-Fedsim-Client": "dev-3", "X-Fedsim-Round": "1"}

    def upload(label: str, body: bytes, headers: dict[str, str] = up) -> tuple[str, dict]:
        return label, {"method": "POST", "path": "/v1/update", "headers": headers, "body": body}

    def meta_with(raw: str) -> str:
        return ok_meta[:-1] + "," + raw + "}"

    big = str(10**400)
    return [
        upload("num_examples 10**400", _envelope(
            _header(n, f32, ok_meta.replace('"num_examples": 10', f'"num_examples": {big}')), f32)),
        upload("num_examples 10**308", _envelope(
            _header(n, f32, ok_meta.replace('"num_examples": 10', f'"num_examples": {10**308}')),
            f32)),
        upload("int8 lo abc", _envelope(_header(n, i8, ok_meta, codec='"int8"', lo='"abc"',
                                                scale="0.1"), i8)),
        upload("int8 lo 10**400", _envelope(_header(n, i8, ok_meta, codec='"int8"', lo=big,
                                                    scale="0.1"), i8)),
        upload("int8 scale 1e400", _envelope(_header(n, i8, ok_meta, codec='"int8"', lo="0",
                                                     scale="1e400"), i8)),
        upload("topk k x", _envelope(_header(n, f32, ok_meta, codec='"topk"', k='"x"'), f32)),
        upload("topk k 1e400", _envelope(_header(n, f32, ok_meta, codec='"topk"', k="1e400"),
                                         f32)),
        upload("metrics 10**400", _envelope(_header(n, f32, meta_with(f'"metrics":{{"a":{big}}}')),
                                            f32)),
        upload("5000-digit int", _envelope(_header(n, f32, meta_with('"x":' + "9" * 5000)), f32)),
        upload("30000 nested brackets", _envelope(
            _header(n, f32, meta_with('"x":' + "[" * 30000 + "]" * 30000)), f32)),
        upload("NaN metric", _envelope(_header(n, f32, meta_with('"metrics":{"a":NaN}')), f32)),
        upload("NaN values", _envelope(_header(n, np.full(n, np.nan, np.float32).tobytes(),
                                               ok_meta), np.full(n, np.nan, np.float32).tobytes())),
        upload("wrong shape", _envelope(_header(n + 1, f32 + bytes(4), ok_meta), f32 + bytes(4))),
        upload("bad crc", _envelope(_header(n, f32, ok_meta, crc32="1"), f32)),
        upload("bad magic", b"XXXX" + f32),
        upload("header length past body", struct.pack("<4sI", b"FSM1", 2**31)),
        upload("round header abc", f32, {**up, "X-Fedsim-Round": "abc"}),
        upload("round header 10**400", f32, {**up, "X-Fedsim-Round": big}),
        upload("round header 1e400", f32, {**up, "X-Fedsim-Round": "1e400"}),
        upload("oversize body", bytes(64 * n + 200_000)),
        ("gzip register", {"method": "POST", "path": "/v1/register",
                           "headers": {"Content-Encoding": "gzip"},
                           "body": gzip.compress(b'{"client_id":"dev-3","num_examples":1}')}),
        ("register 10**400", {"method": "POST", "path": "/v1/register",
                              "body": f'{{"client_id":"dev-3","num_examples":{big}}}'.encode()}),
        ("register nested", {"method": "POST", "path": "/v1/register",
                             "body": b"[" * 30000 + b"]" * 30000}),
        ("register nested 2000", {"method": "POST", "path": "/v1/register",
                                  "body": b"[" * 2000 + b"]" * 2000}),
        ("register not json", {"method": "POST", "path": "/v1/register", "body": b"\xff\xfe"}),
        ("register huge", {"method": "POST", "path": "/v1/register", "body": b" " * 100_000}),
        ("register as other", {"method": "POST", "path": "/v1/register",
                               "body": b'{"client_id":"dev-1","num_examples":1}'}),
        ("task wait 1e400", {"method": "GET", "path": "/v1/task",
                             "query": {"client_id": "dev-3", "wait": "1e400"}}),
        ("task wait nan", {"method": "GET", "path": "/v1/task",
                           "query": {"client_id": "dev-3", "wait": "nan"}}),
        ("task wait -1", {"method": "GET", "path": "/v1/task",
                          "query": {"client_id": "dev-3", "wait": "-1"}}),
        ("task no id", {"method": "GET", "path": "/v1/task", "query": {}}),
        ("unknown route", {"method": "GET", "path": "/v1/nothing"}),
        ("wrong method", {"method": "DELETE", "path": "/v1/task"}),
    ]  # fmt: skip


def test_hostile_requests_get_json_4xx(fed: Federation) -> None:
    dev3 = fed.dev["dev-3"]
    for label, kwargs in hostile_cases(fed):
        for sign in (True, False):
            rest = {k: v for k, v in kwargs.items() if k not in ("method", "path")}
            r = dev3.send(kwargs["method"], kwargs["path"], sign=sign, **rest)
            fed.check(r, label)
            assert 400 <= r.status_code < 500, (label, r.status_code, r.text[:200])
    assert fed.server.alive()
    assert fed.server.model() == fed.model


def _schemathesis_strategy() -> st.SearchStrategy[Any]:
    schema = schemathesis.openapi.from_dict(openapi())
    ops = [r.ok() for r in schema.get_all_operations()]
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return st.one_of([op.as_strategy(generation_mode=m) for op in ops for m in modes])


def _send_case(fed: Federation, case: Any, sign: bool) -> None:
    kw = case.as_transport_kwargs(base_url=fed.server.url)
    if "json" in kw:
        body = json.dumps(kw.pop("json")).encode()
    else:
        body = kw.pop("data", b"") or b""
        body = body.encode() if isinstance(body, str) else bytes(body)
    path = kw["url"][len(fed.server.url) :]
    query = {str(k): str(v) for k, v in (kw.get("params") or {}).items()}
    headers = {str(k): str(v) for k, v in kw.get("headers", {}).items()
               if k.lower() not in ("authorization", "content-length")}  # fmt: skip
    try:
        r = fed.dev["dev-3"].send(kw["method"], path, query=query, headers=headers, body=body,
                                  sign=sign)  # fmt: skip
    except (requests.exceptions.InvalidHeader, UnicodeEncodeError, ValueError):
        return  # the client library refused to send it: nothing reached the server
    fed.check(r, "schemathesis " + kw["method"] + " " + path)


def _run_schemathesis(fed: Federation, count: int) -> None:
    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=_schemathesis_strategy(), sign=st.booleans())
    def fuzz(case: Any, sign: bool) -> None:
        _send_case(fed, case, sign)

    fuzz()
    assert fed.server.alive()
    assert fed.server.model() == fed.model


HOSTILE = st.sampled_from([
    "1e400", "-1e400", "NaN", "Infinity", str(10**400), "9" * 5000, '"abc"', "[]", "{}",
    "null", "true", "-1", "0", "1.5", "1e308", "[" * 50 + "]" * 50, '"' + "x" * 300 + '"',
])  # fmt: skip
VALUE = st.one_of(
    HOSTILE,
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=12).map(json.dumps),
)


@st.composite
def envelopes(draw: st.DrawFn, n: int) -> bytes:
    """Envelopes whose every header field is right, missing or hostile."""
    codec = draw(st.sampled_from(['"float32"', '"float16"', '"int8"', '"topk"', '"x"', "7"]))
    size = {'"float16"': 2 * n, '"int8"': n}.get(codec, 4 * n)
    payload = draw(st.one_of(st.just(bytes(size)), st.binary(max_size=64),
                             st.just(np.ones(n, np.float32).tobytes())))  # fmt: skip

    def field(right: str) -> str | None:
        return draw(st.one_of(st.just(right), VALUE, st.none()))

    meta_fields = {
        "client_id": field('"dev-3"'), "round": field("1"), "version": field("0"),
        "num_examples": field("10"),
        "metrics": draw(st.one_of(st.just("{}"), VALUE.map(lambda v: '{"m":' + v + "}"))),
    }  # fmt: skip
    meta = "{" + ",".join(f'"{k}":{v}' for k, v in meta_fields.items() if v is not None) + "}"
    fields = {
        "codec": codec, "n": field(str(n)), "delta": field("false"),
        "crc32": field(str(zlib.crc32(payload))), "meta": meta,
        "lo": field("0.0"), "scale": field("0.01"), "k": field("3"), "index": field('"int32"'),
    }  # fmt: skip
    header = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items() if v is not None) + "}"
    return _envelope(header, payload)


def _run_envelopes(fed: Federation, count: int) -> None:
    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(body=envelopes(fed.n), sign=st.booleans())
    def fuzz(body: bytes, sign: bool) -> None:
        fed.check(fed.dev["dev-3"].upload(body, 1, sign=sign), "envelope")

    fuzz()
    assert fed.server.alive()
    assert fed.server.model() == fed.model


def test_schemathesis_fuzz(fed: Federation) -> None:
    _run_schemathesis(fed, FAST)


def test_envelope_fuzz(fed: Federation) -> None:
    _run_envelopes(fed, FAST)


@pytest.mark.slow
def test_schemathesis_fuzz_many(fed: Federation) -> None:
    _run_schemathesis(fed, SLOW)


@pytest.mark.slow
def test_envelope_fuzz_many(fed: Federation) -> None:
    _run_envelopes(fed, SLOW)


def test_zz_a_legitimate_round_completes_afterwards(fed: Federation) -> None:
    """Last in the module: after everything above, the selected devices finish round 1."""
    server = fed.server
    assert server.alive()
    assert server.model() == fed.model
    assert server.status()["version"] == 0
    base = np.frombuffer(fed.model, dtype=np.float32)
    for name in ("dev-1", "dev-2"):
        body = fed.dev[name].envelope(base + np.float32(0.001), 1, 0)
        r = fed.dev[name].upload(body, 1)
        assert r.status_code == 200, r.text
    server.wait_for(lambda s: s["version"] == 1 or s["round"] == 2)
    assert server.model() != fed.model
    assert server.alive()
    print(f"fuzzed requests: {sum(SENT.values())} ({len(SENT)} kinds)")

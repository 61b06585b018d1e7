"""The wire's Python fast paths decide exactly as the pydantic models they stand for:
same accept or reject, same values, same error text."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from fedsim.fl import client, service
from fedsim.fl.codec import encode
from fedsim.fl.messages import TrainIns
from fedsim.fl.wire_schema import (
    EnvelopeHeader,
    UploadHeaders,
    UploadMeta,
    WaitHeader,
    WireError,
    check,
    check_header,
    check_upload_headers,
    check_upload_meta,
    check_wait_header,
)

ODD = [None, True, False, 0, 1, -1, 2**32, 10**9, 10**9 + 1, 10**7 + 1, 1.0, -0.0, 1e31,
       float("nan"), float("inf"), "", "a", "x\n", "\ud800", "é", [], {}, {"a": 1}]  # fmt: skip


def _outcome(f: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", f(*args)
    except WireError as exc:
        return "error", str(exc)


def _model_header(h: Any) -> None:
    check(EnvelopeHeader, h, "header")


def _model_meta(m: Any) -> tuple[Any, ...]:
    v = check(UploadMeta, m, "meta")
    return v.client_id, v.round, v.version, v.num_examples, v.metrics


def _same(fast: Any, model: Any, data: Any) -> None:
    a, b = _outcome(fast, data), _outcome(model, data)
    assert a == b or repr(a) == repr(b), data


def test_header_fast_path_decides_as_the_model() -> None:
    base = {"codec": "float32", "n": 5, "delta": False, "crc32": 7, "meta": {"a": 1}}
    _same(check_header, _model_header, base)
    for key, value in itertools.product([*list(base), "lo", "k", "index", "x"], ODD):
        _same(check_header, _model_header, {**base, key: value})
        _same(check_header, _model_header, {k: v for k, v in base.items() if k != key})
    for codec in ("float16", "int8", "topk", "Float32", "float32 "):
        _same(check_header, _model_header, {**base, "codec": codec})
    _same(check_header, _model_header, {**base, "meta": {"\ud800": 1, 3: 4}})
    _same(check_header, _model_header, [1])


def test_upload_meta_fast_path_decides_as_the_model() -> None:
    base = {"client_id": "d-1", "round": 2, "version": 1, "num_examples": 9,
            "metrics": {"loss": 0.5, "n": 3}}  # fmt: skip
    _same(check_upload_meta, _model_meta, base)
    for key, value in itertools.product([*list(base), "extra"], ODD):
        _same(check_upload_meta, _model_meta, {**base, key: value})
        _same(check_upload_meta, _model_meta, {k: v for k, v in base.items() if k != key})
        _same(check_upload_meta, _model_meta, {**base, "metrics": {"m": value}})
        if isinstance(value, str):
            _same(check_upload_meta, _model_meta, {**base, "metrics": {value: 1.0}})
            _same(check_upload_meta, _model_meta, {**base, "client_id": "a" + value})
    many = {f"m{i}": float(i) for i in range(65)}
    _same(check_upload_meta, _model_meta, {**base, "metrics": many})
    _same(check_upload_meta, _model_meta, {**base, "metrics": {"m" * 65: 1.0}})
    _same(check_upload_meta, _model_meta, {**base, "client_id": "a" * 129})
    _same(check_upload_meta, _model_meta, {**base, "num_examples": 0})
    out = check_upload_meta(base)[4]
    assert [type(v) for v in out.values()] == [float, float]


TEXTS = ["0", "1", "30.0", "30", "07", " 3", "3 ", "+3", "-1", "1e3", "1_0", "nan", "inf",
         "10000000", "10000001", "1000000.0", "1000000.5", "99999999", "0.5", ".5", "5.",
         "٣", "1.00000000000000001", ""]  # fmt: skip


def _model_upload(h: Any) -> tuple[Any, ...]:
    v = check(UploadHeaders, h, "headers")
    return v.client, v.round, v.wait


def test_upload_headers_fast_path_decides_as_the_model() -> None:
    for rnd, wait in itertools.product(TEXTS, [None, *TEXTS]):
        h = {"X-Fedsim-Client": "dev-1", "X-Fedsim-Round": rnd, "Host": "x"}
        if wait is not None:
            h["X-Fedsim-Wait"] = wait
        _same(check_upload_headers, _model_upload, h)
    for cid in ("", "a\n", "\ud800", "é", "a" * 129, "-a"):
        h = {"X-Fedsim-Client": cid, "X-Fedsim-Round": "1"}
        _same(check_upload_headers, _model_upload, h)
    _same(check_upload_headers, _model_upload, {"x-fedsim-client": "a", "X-Fedsim-Round": "1"})
    _same(check_wait_header, lambda h: check(WaitHeader, h, "headers").wait, {})
    for wait in TEXTS:
        h = {"X-Fedsim-Wait": wait}
        _same(check_wait_header, lambda h: check(WaitHeader, h, "headers").wait, h)


def test_a_task_is_encoded_once_per_round_and_decoded_once_per_body() -> None:
    class Engine:
        params = np.arange(6, dtype=np.float32)

        def task_params(self, ins: TrainIns) -> tuple[np.ndarray, int]:
            return self.params, 3

    engine = Engine()
    ins = TrainIns(4, 3, {"epochs": 1, "lr": 0.1})
    first = service.task_envelope(engine, ins, "float32")  # type: ignore[arg-type]
    again = service.task_envelope(engine, TrainIns(4, 3, dict(ins.config)), "float32")  # type: ignore[arg-type]
    assert again is first
    other = service.task_envelope(engine, TrainIns(4, 3, {"epochs": 1.0, "lr": 0.1}), "float32")  # type: ignore[arg-type]
    assert other != first
    assert (
        other
        == encode(
            engine.params, {"round": 4, "version": 3, "config": {"epochs": 1.0, "lr": 0.1}}
        ).body
    )
    a = client._task(first)
    b = client._task(bytes(first))
    assert a[:3] == b[:3]
    assert a[2] is not b[2]
    assert a[3] is not b[3]
    assert np.array_equal(a[3], b[3])
    assert b[3].flags.writeable
    b[3][0] = 99.0
    assert client._task(first)[3][0] == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    from fedsim.fl.codec import EnvelopeError, decode

    values = np.zeros(4, dtype=np.float32)
    values[2] = bad
    with pytest.raises(EnvelopeError, match="NaN or Inf"):
        decode(encode(values, {}).body)
    assert decode(encode(np.array([-0.0], dtype=np.float32), {}).body).values.tobytes() == (
        np.array([-0.0], dtype=np.float32).tobytes()
    )

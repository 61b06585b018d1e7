"""The model envelope: every codec round-trips within its bound; corruption is caught."""

from __future__ import annotations

import numpy as np
import pytest

from fedsim.fl.codec import EnvelopeError, decode, encode


@pytest.mark.parametrize("n", [1, 650, 10_000])
def test_codecs_round_trip(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=n).astype(np.float32)
    meta = {"round": 3}
    f32 = decode(encode(x, meta).body, n)
    np.testing.assert_array_equal(f32.values, x)
    assert f32.meta == meta
    f16 = decode(encode(x, meta, codec="float16").body, n).values
    np.testing.assert_allclose(f16, x, rtol=1e-3, atol=1e-4)
    q = decode(encode(x, meta, codec="int8", rng=rng).body, n).values
    step = (x.max() - x.min()) / 255 if n > 1 else 0.0
    assert np.abs(q - x).max() <= step + 1e-6


@pytest.mark.parametrize(("n", "fraction"), [(1000, 0.1), (1000, 0.01), (37, 0.5)])
def test_topk_keeps_the_largest_and_feeds_back_the_rest(n: int, fraction: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n).astype(np.float32)
    residual = np.zeros(n, dtype=np.float32)
    enc = encode(x, {}, codec="topk", topk_fraction=fraction, residual=residual)
    got = decode(enc.body, n).values
    k = max(1, round(fraction * n))
    kept = np.flatnonzero(got)
    assert kept.size == k
    assert np.abs(x[kept]).min() >= np.abs(np.delete(x, kept)).max()
    np.testing.assert_array_equal(got + residual, x)  # nothing is lost, only delayed
    index_bytes = min(4 * k, (n + 7) // 8)
    assert enc.payload_bytes == index_bytes + 4 * k


def test_corruption_and_mismatches_are_errors() -> None:
    x = np.ones(10, dtype=np.float32)
    body = bytearray(encode(x, {}).body)
    body[-2] ^= 1
    with pytest.raises(EnvelopeError, match="checksum"):
        decode(bytes(body), 10)
    with pytest.raises(EnvelopeError, match="wrong shape"):
        decode(encode(x, {}).body, 11)
    with pytest.raises(EnvelopeError, match="NaN"):
        decode(encode(np.full(10, np.inf, dtype=np.float32), {}).body, 10)
    with pytest.raises(EnvelopeError, match="magic"):
        decode(b"XXXX" + bytes(20), 10)

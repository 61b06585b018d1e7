"""Codec cores: bit-exact float16, unbiased int8, lossless-over-time top-k."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fedsim.kernels.compress import (
    dequantize_int8,
    from_float16,
    quantize_int8,
    scatter,
    to_float16,
    topk_feedback,
)


def _numpy_half_bits(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(np.float16).view(np.uint16)


def test_float16_bit_exact_on_random_bit_patterns() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**32, 300_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    out = np.empty(x.shape, np.uint16)
    to_float16(x, out)
    nan = np.isnan(x)
    np.testing.assert_array_equal(out[~nan], _numpy_half_bits(x)[~nan])
    assert np.isnan(out[nan].view(np.float16)).all()


def test_float16_edges_round_to_nearest_even() -> None:
    x = np.array(
        [
            65504.0,  # max half
            65519.996,  # rounds down to max
            65520.0,  # tie -> inf
            2.0**-24,  # min subnormal
            2.0**-25,  # tie -> 0 (even)
            1.5 * 2.0**-25,  # rounds up to min subnormal
            2.0**-14,  # min normal
            1.0 + 2.0**-11,  # tie -> 1.0 (even)
            1.0 + 3 * 2.0**-11,  # tie -> up (even)
            -0.0,
            np.inf,
            -np.inf,
            1e-30,
            -7.3e5,
        ],
        dtype=np.float32,
    )
    out = np.empty(x.shape, np.uint16)
    to_float16(x, out)
    np.testing.assert_array_equal(out, _numpy_half_bits(x))


def test_from_float16_exact_for_every_half() -> None:
    h = np.arange(2**16, dtype=np.uint16)
    out = np.empty(h.shape, np.float32)
    from_float16(h, out)
    ref = h.view(np.float16).astype(np.float32)
    nan = np.isnan(ref)
    np.testing.assert_array_equal(out.view(np.uint32)[~nan], ref.view(np.uint32)[~nan])
    assert np.isnan(out[nan]).all()


def test_float16_checks_dtypes() -> None:
    with pytest.raises(ValueError, match="float32"):
        to_float16(np.zeros(3), np.empty(3, np.uint16))
    with pytest.raises(ValueError, match="uint16"):
        from_float16(np.zeros(3, np.int16), np.empty(3, np.float32))


@settings(max_examples=50, deadline=None)
@given(x=arrays(np.float32, st.integers(1, 500), elements=st.floats(-6e4, 6e4, width=32)))
def test_float16_round_trip_within_half_ulp(x: np.ndarray) -> None:
    h = np.empty(x.shape, np.uint16)
    back = np.empty_like(x)
    to_float16(x, h)
    from_float16(h, back)
    assert back.dtype == np.float32
    assert back.shape == x.shape
    # relative 2^-11 for normals, absolute 2^-25 in the subnormal range
    assert np.all(np.abs(back - x) <= np.maximum(np.abs(x) * 2.0**-11, 2.0**-25))


@settings(max_examples=50, deadline=None)
@given(
    x=arrays(np.float32, st.integers(1, 500), elements=st.floats(-1e4, 1e4, width=32)),
    seed=st.integers(0, 2**32 - 1),
)
def test_int8_round_trip_error_below_one_step(x: np.ndarray, seed: int) -> None:
    u = np.random.default_rng(seed).random(x.shape[0])
    q = np.empty(x.shape, np.int8)
    lo, scale = quantize_int8(x, u, q)
    back = np.empty_like(x)
    dequantize_int8(q, lo, scale, back)
    assert lo == pytest.approx(float(x.min()))
    assert scale == pytest.approx((float(x.max()) - float(x.min())) / 255)
    tol = scale * (1 + 1e-6) + 1e-6 * np.abs(x).max() + 1e-30
    assert np.all(np.abs(back.astype(np.float64) - x) <= tol)


def test_int8_is_unbiased() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=64).astype(np.float32)
    x[0], x[1] = -3.0, 3.0  # fix the range so the grid is the same every draw
    q = np.empty(64, np.int8)
    back = np.empty(64, np.float32)
    total = np.zeros(64)
    reps = 4000
    for _ in range(reps):
        lo, scale = quantize_int8(x, rng.random(64), q)
        dequantize_int8(q, lo, scale, back)
        total += back
    step = 6.0 / 255
    # std of one draw <= step/2, so the mean over reps is within ~5 sigma
    assert np.abs(total / reps - x).max() < 5 * (step / 2) / np.sqrt(reps)
    # and it is stochastic, not nearest rounding
    lo, scale = quantize_int8(x, np.full(64, 0.5), q)
    assert q.min() == -128
    assert q.max() == 127


def test_int8_constant_vector() -> None:
    x = np.full(10, 2.5, np.float32)
    q = np.empty(10, np.int8)
    lo, scale = quantize_int8(x, np.zeros(10), q)
    back = np.empty_like(x)
    dequantize_int8(q, lo, scale, back)
    np.testing.assert_array_equal(back, x)


def test_topk_keeps_largest_and_feeds_back_the_rest() -> None:
    x = np.array([0.1, -5.0, 0.3, 2.0, -0.2, 4.0], np.float32)
    res = np.array([0.0, 0.0, 0.0, 0.0, 0.0, -3.5], np.float32)
    idx = np.empty(2, np.int32)
    val = np.empty(2, np.float32)
    topk_feedback(x, res, 2, idx, val)
    np.testing.assert_array_equal(idx, [1, 3])
    np.testing.assert_allclose(val, [-5.0, 2.0])
    np.testing.assert_allclose(res, [0.1, 0.0, 0.3, 0.0, -0.2, 0.5])


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), frac=st.floats(0.0, 1.0))
def test_topk_conserves_mass_and_matches_argsort(seed: int, n: int, frac: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n).astype(np.float32)
    x[: n // 4] = np.round(x[: n // 4])  # ties
    res0 = rng.normal(size=n).astype(np.float32)
    k = int(frac * n)
    res = res0.copy()
    idx = np.empty(k, np.int32)
    val = np.empty(k, np.float32)
    topk_feedback(x, res, k, idx, val)
    acc = x + res0
    dense = np.empty(n, np.float32)
    scatter(idx, val, dense)
    np.testing.assert_array_equal(dense + res, acc)  # sent + kept = everything
    assert np.all(np.diff(idx) > 0)
    # the chosen magnitudes are the k largest (stable sort: ties to lower index)
    expect = np.sort(np.argsort(-np.abs(acc), kind="stable")[:k])
    np.testing.assert_array_equal(idx, expect)


def test_scatter_zero_fills() -> None:
    out = np.full(5, 9.0, np.float32)
    scatter(np.array([4, 1], np.int32), np.array([1.0, 2.0], np.float32), out)
    np.testing.assert_array_equal(out, [0.0, 2.0, 0.0, 0.0, 1.0])

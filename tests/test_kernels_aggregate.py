"""Aggregation kernels vs NumPy oracles (Flower's `aggregate` for the mean) and properties."""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fedsim.kernels.aggregate import (
    adaptive_step,
    coordinate_median,
    krum_scores,
    krum_select,
    momentum_step,
    trimmed_mean,
    weighted_mean,
)
from fedsim.kernels.attacks import gaussian_noise, random_update, sign_flip

finite = st.floats(-1e3, 1e3, width=32, allow_nan=False, allow_infinity=False)


def flower_aggregate(results: list[tuple[list[np.ndarray], int]]) -> list[np.ndarray]:
    """Flower's `flwr.server.strategy.aggregate.aggregate`, verbatim in substance."""
    num_examples_total = sum(num_examples for (_, num_examples) in results)
    weighted_weights = [
        [layer * num_examples for layer in weights] for weights, num_examples in results
    ]
    return [
        reduce(np.add, layer_updates) / num_examples_total
        for layer_updates in zip(*weighted_weights, strict=True)
    ]


def _mat(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    return rng.normal(size=(k, d)).astype(np.float32)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8, 9])
@pytest.mark.parametrize("d", [1, 7, 2048, 5000])
def test_weighted_mean_matches_flower(k: int, d: int) -> None:
    rng = np.random.default_rng(k * 100 + d)
    U = _mat(rng, k, d)
    n = rng.integers(1, 500, k)
    out = np.empty(d, dtype=np.float32)
    weighted_mean(U, n.astype(np.float64), out)
    expected = flower_aggregate([([U[i].astype(np.float64)], int(n[i])) for i in range(k)])[0]
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_weighted_mean_accepts_integer_counts_and_zero_weights() -> None:
    rng = np.random.default_rng(0)
    U = _mat(rng, 5, 100)
    out = np.empty(100, dtype=np.float32)
    weighted_mean(U, np.array([0, 3, 0, 1, 0]), out)
    np.testing.assert_allclose(out, (3 * U[1] + U[3]) / 4, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("weights", "match"),
    [([0.0, 0.0], "positive"), ([1.0, -1.0], "non-negative"), ([1.0], "weights")],
)
def test_weighted_mean_rejects_bad_weights(weights: list[float], match: str) -> None:
    U = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=match):
        weighted_mean(U, np.array(weights), np.empty(3, dtype=np.float32))


def test_out_shape_is_checked() -> None:
    U = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="out"):
        coordinate_median(U, np.empty(4, dtype=np.float32))


@settings(max_examples=40, deadline=None)
@given(
    row=arrays(np.float32, st.integers(1, 300), elements=finite),
    k=st.integers(1, 9),
    w=st.lists(st.floats(0.01, 1e4), min_size=9, max_size=9),
)
def test_weighted_mean_of_identical_updates_is_that_update(row, k, w) -> None:
    U = np.ascontiguousarray(np.broadcast_to(row, (k, row.shape[0])))
    out = np.empty_like(row)
    weighted_mean(U, np.array(w[:k]), out)
    np.testing.assert_allclose(out, row, rtol=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 9),
    d=st.integers(1, 3000),
    scale=st.floats(1e-3, 1e3),
)
def test_weighted_mean_invariant_to_order_and_weight_scale(seed, k, d, scale) -> None:
    rng = np.random.default_rng(seed)
    U = _mat(rng, k, d)
    w = rng.uniform(0.1, 10, k)
    perm = rng.permutation(k)
    a, b, c = (np.empty(d, dtype=np.float32) for _ in range(3))
    weighted_mean(U, w, a)
    weighted_mean(np.ascontiguousarray(U[perm]), w[perm], b)
    weighted_mean(U, w * scale, c)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 10])
def test_median_matches_numpy(k: int) -> None:
    rng = np.random.default_rng(k)
    U = _mat(rng, k, 1000)
    U[:, :50] = np.round(U[:, :50])  # many ties
    out = np.empty(1000, dtype=np.float32)
    coordinate_median(U, out)
    np.testing.assert_allclose(out, np.median(U.astype(np.float64), axis=0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("k", "beta"), [(1, 0.0), (5, 0.0), (5, 0.2), (10, 0.1), (10, 0.45), (7, 0.3)]
)
def test_trimmed_mean_matches_sorted_reference(k: int, beta: float) -> None:
    rng = np.random.default_rng(k)
    U = _mat(rng, k, 777)
    U[:, :40] = np.round(U[:, :40])
    t = int(np.floor(beta * k))
    S = np.sort(U.astype(np.float64), axis=0)
    out = np.empty(777, dtype=np.float32)
    trimmed_mean(U, beta, out)
    np.testing.assert_allclose(out, S[t : k - t].mean(axis=0), rtol=1e-6, atol=1e-6)


def test_trimmed_mean_rejects_bad_beta() -> None:
    U = np.ones((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="beta"):
        trimmed_mean(U, 0.5, np.empty(3, dtype=np.float32))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 12),
    d=st.integers(1, 200),
    beta=st.floats(0.0, 0.49),
)
def test_robust_aggregates_stay_in_envelope(seed, k, d, beta) -> None:
    rng = np.random.default_rng(seed)
    U = (_mat(rng, k, d) * rng.uniform(0.1, 100)).astype(np.float32)
    lo, hi = U.min(axis=0), U.max(axis=0)
    eps = 1e-5 * np.maximum(np.abs(lo), np.abs(hi))
    for fn in (lambda o: coordinate_median(U, o), lambda o: trimmed_mean(U, beta, o)):
        out = np.empty(d, dtype=np.float32)
        fn(out)
        assert np.all(out >= lo - eps)
        assert np.all(out <= hi + eps)


def test_krum_scores_match_bruteforce() -> None:
    rng = np.random.default_rng(2)
    U = _mat(rng, 9, 3000)
    f = 2
    D = ((U[:, None, :].astype(np.float64) - U[None, :, :]) ** 2).sum(-1)
    expected = np.sort(D, axis=1)[:, 1 : 1 + 9 - f - 2].sum(axis=1)
    np.testing.assert_allclose(krum_scores(U, f), expected, rtol=1e-5)


def test_krum_rejects_too_many_byzantine() -> None:
    U = np.ones((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="k - f - 2"):
        krum_select(U, 2, 1)
    with pytest.raises(ValueError, match="m must"):
        krum_select(U, 0, 5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), honest=st.integers(5, 10), f=st.integers(1, 3))
def test_krum_picks_honest_when_outliers_are_far(seed, honest, f) -> None:
    rng = np.random.default_rng(seed)
    d = 50
    centre = rng.normal(size=d)
    good = centre + 0.1 * rng.normal(size=(honest, d))
    bad = centre + 100.0 + rng.normal(size=(f, d))
    U = np.vstack([good, bad])[rng.permutation(honest + f)].astype(np.float32)
    is_bad = np.abs(U - centre).mean(axis=1) > 50
    chosen = krum_select(U, f, honest - f)
    assert chosen.dtype == np.int64
    assert len(set(chosen.tolist())) == honest - f
    assert not is_bad[chosen].any()


def test_byzantine_sign_flip_30_percent() -> None:
    """FedAvg is dragged backwards by 30% sign-flipped deltas; robust rules are not."""
    rng = np.random.default_rng(4)
    k, d, nbad = 20, 400, 6
    glob = rng.normal(size=d).astype(np.float32)
    true_delta = rng.normal(size=d).astype(np.float32)
    deltas = (true_delta + 0.1 * rng.normal(size=(k, d))).astype(np.float32)
    for i in range(nbad):
        sign_flip(deltas[i].copy(), 5.0, deltas[i])
    U = np.ascontiguousarray(glob + deltas)
    w = np.ones(k)

    def cos_to_truth(agg: np.ndarray) -> float:
        step = agg - glob
        return float(step @ true_delta / (np.linalg.norm(step) * np.linalg.norm(true_delta)))

    out = np.empty(d, dtype=np.float32)
    weighted_mean(U, w, out)
    assert cos_to_truth(out) < 0  # (14 - 30) / 20: the average points the wrong way
    coordinate_median(U, out)
    assert cos_to_truth(out) > 0.95
    trimmed_mean(U, 0.3, out)
    assert cos_to_truth(out) > 0.95
    sel = krum_select(U, nbad, k - nbad)
    assert set(sel.tolist()) == set(range(nbad, k))
    weighted_mean(np.ascontiguousarray(U[sel]), w[sel], out)
    assert cos_to_truth(out) > 0.99


def test_attacks_match_formulas() -> None:
    rng = np.random.default_rng(8)
    delta = rng.normal(size=100).astype(np.float32)
    noise = rng.normal(size=100).astype(np.float32)
    out = np.empty(100, dtype=np.float32)
    sign_flip(delta, 2.0, out)
    np.testing.assert_allclose(out, -2.0 * delta, rtol=1e-6)
    gaussian_noise(delta, noise, 0.5, out)
    np.testing.assert_allclose(out, delta + 0.5 * noise, rtol=1e-6)
    random_update(noise, 3.0, out)
    np.testing.assert_allclose(out, 3.0 * noise, rtol=1e-6)


def test_momentum_step_matches_reference() -> None:
    rng = np.random.default_rng(9)
    p = rng.normal(size=50).astype(np.float32)
    v = np.zeros(50, dtype=np.float32)
    rp, rv = p.astype(np.float64), v.astype(np.float64)
    for _ in range(3):
        delta = rng.normal(size=50).astype(np.float32)
        momentum_step(p, delta, v, 0.5, 0.9)
        rv = 0.9 * rv + delta
        rp = rp + 0.5 * rv
    np.testing.assert_allclose(p, rp, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v, rv, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_adaptive_step_matches_reddi_et_al(variant: int) -> None:
    rng = np.random.default_rng(variant)
    b1, b2, lr, tau = 0.9, 0.99, 0.01, 1e-3
    p = rng.normal(size=64).astype(np.float32)
    m = np.zeros(64, dtype=np.float32)
    v = np.full(64, tau * tau, dtype=np.float32)
    rp, rm, rv = p.astype(np.float64), m.astype(np.float64), v.astype(np.float64)
    for _ in range(4):
        g = rng.normal(size=64).astype(np.float32)
        adaptive_step(p, g, m, v, lr, b1, b2, tau, variant)
        g2 = g.astype(np.float64) ** 2
        rm = b1 * rm + (1 - b1) * g
        if variant == 0:
            rv = b2 * rv + (1 - b2) * g2
        elif variant == 1:
            rv = rv - (1 - b2) * g2 * np.sign(rv - g2)
        else:
            rv = rv + g2
        rp = rp + lr * rm / (np.sqrt(rv) + tau)
    np.testing.assert_allclose(m, rm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v, rv, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(p, rp, rtol=1e-5, atol=1e-5)


def test_adaptive_step_rejects_unknown_variant() -> None:
    z = np.zeros(2, dtype=np.float32)
    with pytest.raises(ValueError, match="variant"):
        adaptive_step(z, z, z, z, 0.1, 0.9, 0.99, 1e-3, 3)

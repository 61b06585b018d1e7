"""Training kernel vs the NumPy reference, and a learning check on real data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fedsim.kernels.reference import evaluate_numpy, sgd_train_numpy
from fedsim.kernels.train import evaluate, init_params, param_count, sgd_train, train_flops

ARCHS = [[8, 3], [8, 6, 3], [8, 7, 5, 4]]


def _data(rng: np.random.Generator, n: int, d: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = rng.integers(0, c, n).astype(np.int64)
    return X, y


def test_param_count_and_init_layout() -> None:
    sizes = np.array([64, 32, 10], dtype=np.int64)
    assert param_count(sizes) == 64 * 32 + 32 + 32 * 10 + 10
    p = init_params(sizes, np.random.default_rng(0))
    assert p.dtype == np.float32
    assert p.shape == (param_count(sizes),)
    # biases are zero, weights within the Glorot limit and not all equal
    assert np.all(p[64 * 32 : 64 * 32 + 32] == 0)
    assert np.all(p[-10:] == 0)
    w0 = p[: 64 * 32]
    assert np.abs(w0).max() <= np.sqrt(6 / 96)
    assert w0.std() > 0.05
    with pytest.raises(ValueError, match="sizes"):
        param_count(np.array([5], dtype=np.int64))


def test_init_is_seeded() -> None:
    sizes = np.array([4, 3], dtype=np.int64)
    a = init_params(sizes, np.random.default_rng(7))
    b = init_params(sizes, np.random.default_rng(7))
    assert np.array_equal(a, b)


def test_train_flops_counts_six_per_parameter_per_sample() -> None:
    sizes = np.array([64, 10], dtype=np.int64)
    assert train_flops(sizes, 100) == 6.0 * 650 * 100


@pytest.mark.parametrize("sizes", ARCHS)
@pytest.mark.parametrize(("batch", "mu"), [(7, 0.0), (1, 0.0), (64, 0.0), (5, 0.3)])
def test_sgd_matches_numpy(sizes: list[int], batch: int, mu: float) -> None:
    rng = np.random.default_rng(sum(sizes) + batch)
    s = np.array(sizes, dtype=np.int64)
    X, y = _data(rng, 50, s[0], s[-1])
    p = init_params(s, rng)
    p[:] += rng.normal(0, 0.05, p.shape).astype(np.float32)  # nonzero biases too
    anchor = p + rng.normal(0, 0.2, p.shape).astype(np.float32)
    order = np.concatenate([rng.permutation(50) for _ in range(3)])
    a, b = p.copy(), p.copy()
    la = sgd_train(a, s, X, y, order, batch, 0.1, mu, anchor)
    lb = sgd_train_numpy(b, s, X, y, order, batch, 0.1, mu, anchor)
    assert la == pytest.approx(lb, rel=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    assert not np.allclose(a, p)  # it did train
    ea, eb = evaluate(a, s, X, y), evaluate_numpy(b, s, X, y)
    assert ea[0] == eb[0]
    assert ea[1] == pytest.approx(eb[1], rel=1e-5)


def test_sgd_partial_last_batch_and_order_subset() -> None:
    """Only samples named in `order` contribute, including a short last batch."""
    rng = np.random.default_rng(3)
    s = np.array([5, 3], dtype=np.int64)
    X, y = _data(rng, 20, 5, 3)
    p = init_params(s, rng)
    order = np.array([4, 9, 2, 17, 11], dtype=np.int64)
    a, b = p.copy(), p.copy()
    sgd_train(a, s, X, y, order, 2, 0.5, 0.0, p)
    X2 = X.copy()
    X2[np.setdiff1d(np.arange(20), order)] = 1e3  # unseen rows cannot matter
    sgd_train(b, s, X2, y, order, 2, 0.5, 0.0, p)
    np.testing.assert_array_equal(a, b)
    c = p.copy()
    sgd_train_numpy(c, s, X, y, order, 2, 0.5, 0.0, p)
    np.testing.assert_allclose(a, c, atol=1e-6)


def test_proximal_term_pulls_towards_anchor() -> None:
    rng = np.random.default_rng(5)
    s = np.array([6, 4], dtype=np.int64)
    X, y = _data(rng, 40, 6, 4)
    anchor = init_params(s, rng)
    order = np.concatenate([rng.permutation(40) for _ in range(10)])
    free, prox = anchor.copy(), anchor.copy()
    sgd_train(free, s, X, y, order, 4, 0.2, 0.0, anchor)
    sgd_train(prox, s, X, y, order, 4, 0.2, 1.0, anchor)
    assert np.linalg.norm(prox - anchor) < 0.8 * np.linalg.norm(free - anchor)


def test_returns_mean_loss_and_decreases() -> None:
    rng = np.random.default_rng(11)
    s = np.array([4, 8, 2], dtype=np.int64)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)  # XOR-like: needs the hidden layer
    p = init_params(s, rng)
    first = sgd_train(p, s, X, y, rng.permutation(200), 10, 0.3, 0.0, p)
    assert 0.3 < first < 1.5  # about ln 2 for a fresh two-class model
    for _ in range(60):
        last = sgd_train(p, s, X, y, rng.permutation(200), 10, 0.3, 0.0, p.copy())
    assert last < 0.5 * first
    assert evaluate(p, s, X, y)[0] > 0.9


def test_shape_errors_are_raised() -> None:
    s = np.array([4, 2], dtype=np.int64)
    X = np.zeros((3, 5), dtype=np.float32)
    y = np.zeros(3, dtype=np.int64)
    p = np.zeros(param_count(s), dtype=np.float32)
    with pytest.raises(ValueError, match="X"):
        sgd_train(p, s, X, y, np.arange(3), 2, 0.1, 0.0, p)
    with pytest.raises(ValueError, match="params"):
        evaluate(p[:-1], s, X[:, :4].copy(), y)


def test_digits_softmax_regression_learns() -> None:
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(y))
    cut = int(0.8 * len(y))
    tr, te = perm[:cut], perm[cut:]
    mean, std = X[tr].mean(0), X[tr].std(0) + 1e-8
    Xs = ((X - mean) / std).astype(np.float32)
    y = y.astype(np.int64)
    s = np.array([64, 10], dtype=np.int64)
    p = init_params(s, rng)
    order = np.concatenate([tr[rng.permutation(len(tr))] for _ in range(5)])
    sgd_train(p, s, Xs, y, order, 16, 0.05, 0.0, p.copy())
    acc, loss = evaluate(p, s, Xs[te], y[te])
    assert acc >= 0.93
    assert loss < 0.5

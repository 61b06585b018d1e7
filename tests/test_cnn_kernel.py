"""The Numba 1-D CNN against central differences and against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

from fedsim.kernels.cnn import MSE, XENT, cnn_evaluate, cnn_loss_grad, cnn_sgd_train
from fedsim.kernels.cnn_reference import cnn_loss_grad_numpy, cnn_sgd_train_numpy
from fedsim.tasks.cnn_shape import CnnShape
from fedsim.tasks.sensor import init_cnn

# An odd convolution length (pool leaves a remainder), several channels and outputs.
SHAPE = CnnShape(channels=3, length=21, filters=4, kernel=4, pool=3, outputs=3)


def _problem(
    shape: CnnShape, n: int, seed: int, dtype: type = np.float64
) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    params = rng.normal(0.0, 0.5, shape.param_count()).astype(dtype)
    X = rng.normal(size=(n, shape.channels * shape.length)).astype(dtype)
    labels = rng.integers(0, shape.outputs, n).astype(np.int64)
    targets = rng.normal(size=(n, shape.outputs)).astype(dtype)
    return params, X, labels, targets


@pytest.mark.parametrize("loss_kind", [XENT, MSE])
def test_gradient_matches_central_differences(loss_kind: int) -> None:
    params, X, labels, targets = _problem(SHAPE, 6, seed=1)
    dims, rows = SHAPE.dims(), np.arange(6)
    _, grad = cnn_loss_grad(params, dims, X, labels, targets, loss_kind, rows)
    eps = 1e-6
    numeric = np.empty_like(params)
    for i in range(params.size):
        step = np.zeros_like(params)
        step[i] = eps
        up, _ = cnn_loss_grad(params + step, dims, X, labels, targets, loss_kind, rows)
        down, _ = cnn_loss_grad(params - step, dims, X, labels, targets, loss_kind, rows)
        numeric[i] = (up - down) / (2 * eps)
    assert np.abs(grad).max() > 0.1  # a real gradient, not zeros on both sides
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss_kind", [XENT, MSE])
def test_gradient_matches_the_numpy_reference(loss_kind: int) -> None:
    params, X, labels, targets = _problem(SHAPE, 9, seed=2)
    rows = np.array([4, 0, 7, 7, 2], dtype=np.int64)
    loss, grad = cnn_loss_grad(params, SHAPE.dims(), X, labels, targets, loss_kind, rows)
    ref_loss, ref_grad = cnn_loss_grad_numpy(
        params, SHAPE.dims(), X, labels, targets, loss_kind, rows
    )
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss_kind", [XENT, MSE])
def test_float32_training_follows_the_numpy_reference(loss_kind: int) -> None:
    params, X, labels, targets = _problem(SHAPE, 20, seed=3, dtype=np.float32)
    order = np.concatenate([np.random.default_rng(4).permutation(20) for _ in range(3)])
    anchor = params.copy()
    ours, ref = params.copy(), params.copy()
    a = cnn_sgd_train(
        ours, SHAPE.dims(), X, labels, targets, loss_kind, order, 7, 0.05, 0.1, anchor
    )
    b = cnn_sgd_train_numpy(
        ref, SHAPE.dims(), X, labels, targets, loss_kind, order, 7, 0.05, 0.1, anchor
    )
    assert a == pytest.approx(b, rel=1e-4)
    assert np.abs(ours - params).max() > 1e-3  # it moved
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_training_is_deterministic_and_learns() -> None:
    """Same order, same bits; a separable toy problem is learned."""
    shape = CnnShape(channels=2, length=16, filters=4, kernel=3, pool=2, outputs=2)
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 64).astype(np.int64)
    X = rng.normal(0.0, 0.3, (64, 32)).astype(np.float32)
    X[labels == 1, 4:8] += 2.0  # a bump on channel 0 marks class 1
    empty = np.zeros((64, 0), np.float32)
    p0 = init_cnn(shape, np.random.default_rng(6))
    order = np.concatenate([rng.permutation(64) for _ in range(20)])
    runs = []
    for _ in range(2):
        p = p0.copy()
        cnn_sgd_train(p, shape.dims(), X, labels, empty, XENT, order, 8, 0.1, 0.0, p0)
        runs.append(p)
    assert runs[0].tobytes() == runs[1].tobytes()
    acc, _ = cnn_evaluate(runs[0], shape.dims(), X, labels, empty, XENT)
    before, _ = cnn_evaluate(p0, shape.dims(), X, labels, empty, XENT)
    assert acc >= 0.95 > before


def test_evaluate_reports_rmse_for_regression() -> None:
    params, X, labels, targets = _problem(SHAPE, 11, seed=7)
    rmse, mse = cnn_evaluate(params, SHAPE.dims(), X, labels, targets, MSE)
    ref_mse, _ = cnn_loss_grad_numpy(params, SHAPE.dims(), X, labels, targets, MSE, np.arange(11))
    assert mse == pytest.approx(ref_mse, rel=1e-12)
    assert rmse == pytest.approx(np.sqrt(ref_mse), rel=1e-12)


def test_shape_costs_follow_the_layout() -> None:
    s = SHAPE
    assert (s.conv_length, s.pooled_length) == (18, 6)
    assert s.param_count() == 4 * 3 * 4 + 4 + 4 * 6 * 3 + 3
    assert s.forward_flops() == 2 * 4 * 3 * 4 * 18 + 2 * 4 * 6 * 3
    assert s.train_flops_per_sample() == 3 * s.forward_flops()
    assert s.memory_bytes(8) - s.memory_bytes(0) == 8 * 4 * (63 + 2 * 72 + 2 * 24 + 6)
    assert init_cnn(s, np.random.default_rng(0)).size == s.param_count()
    assert CnnShape(1, 4, 1, 5, 1, 1).problem() == "kernel 5 is longer than the window (4 samples)"
    with pytest.raises(ValueError, match="params length"):
        cnn_evaluate(np.zeros(3), s.dims(), np.zeros((1, 63)), np.zeros(1, np.int64),
                     np.zeros((1, 3)), XENT)  # fmt: skip

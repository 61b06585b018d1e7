"""A small 1-D CNN for sensor windows: conv1d -> ReLU -> max-pool -> dense, in Numba.

Heads: softmax cross-entropy (`XENT`, labels) or mean squared error (`MSE`,
targets of `outputs` values, for forecasting). The parameter layout and the cost
model are in fedsim/tasks/cnn_shape.py; `dims` is `CnnShape.dims()`:
[channels, length, filters, kernel, pool, outputs]. A sample is one row of X,
channel-major (X[i, c * length + t]).

Every kernel follows the dtype of `params` (float32 in runs, float64 for the
gradient check), loops per sample inside Numba, and draws nothing: minibatch
order comes from the caller, so the same order gives the same bits.
fedsim/kernels/cnn_reference.py is the NumPy oracle.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["MSE", "XENT", "cnn_evaluate", "cnn_loss_grad", "cnn_sgd_train"]

XENT = 0
MSE = 1


@njit(cache=True, nogil=True)
def _layout(dims: np.ndarray) -> tuple[int, int, int, int, int]:
    """Offsets of conv b, dense W, dense b, and the total parameter count; pooled length."""
    C, T, F, K, P, M = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]
    Tp = (T - K + 1) // P
    bc = F * C * K
    wd = bc + F
    bd = wd + F * Tp * M
    return bc, wd, bd, bd + M, Tp


@njit(cache=True, nogil=True)
def _forward(params, dims, X, row, conv, pooled, arg, out) -> None:
    """One sample: conv (after ReLU), pooled maxima and their positions, outputs."""
    C, T, F, K, P, M = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]
    Tc = T - K + 1
    bc, wd, bd, _, Tp = _layout(dims)
    for f in range(F):
        b = params[bc + f]
        for t in range(Tc):
            conv[f, t] = b
        for c in range(C):
            base = c * T
            for k in range(K):
                w = params[(f * C + c) * K + k]
                for t in range(Tc):
                    conv[f, t] += w * X[row, base + t + k]
        for t in range(Tc):
            if conv[f, t] < 0.0:
                conv[f, t] = 0.0
        for j in range(Tp):
            best = j * P
            for t in range(j * P + 1, (j + 1) * P):
                if conv[f, t] > conv[f, best]:
                    best = t
            arg[f * Tp + j] = best
            pooled[f * Tp + j] = conv[f, best]
    for o in range(M):
        out[o] = params[bd + o]
    H = F * Tp
    for h in range(H):
        v = pooled[h]
        if v != 0.0:
            off = wd + h * M
            for o in range(M):
                out[o] += v * params[off + o]


@njit(cache=True, nogil=True)
def _head(out, dims, labels, targets, row, loss_kind, scale, dout) -> tuple[float, bool]:
    """The sample's loss and whether it counts as correct; dout = d(loss * scale)/d(out)."""
    M = dims[5]
    if loss_kind == XENT:
        label = labels[row]
        zmax = out[0]
        amax = 0
        for o in range(1, M):
            if out[o] > zmax:
                zmax = out[o]
                amax = o
        s = 0.0
        for o in range(M):
            s += np.exp(np.float64(out[o]) - zmax)
        lse = np.log(s) + zmax
        for o in range(M):
            dout[o] = np.exp(np.float64(out[o]) - lse) * scale
        dout[label] -= scale
        return lse - out[label], amax == label
    loss = 0.0
    for o in range(M):
        e = np.float64(out[o]) - targets[row, o]
        loss += e * e
        dout[o] = 2.0 * e / M * scale
    return loss / M, False


@njit(cache=True, nogil=True)
def _backward(params, dims, X, row, conv, pooled, arg, dout, dpool, grad) -> None:
    """Add one sample's gradient to `grad` (conv holds the post-ReLU activations)."""
    C, T, F, K, _, M = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]
    bc, wd, bd, _, Tp = _layout(dims)
    for o in range(M):
        grad[bd + o] += dout[o]
    H = F * Tp
    for h in range(H):
        off = wd + h * M
        v = pooled[h]
        acc = 0.0
        for o in range(M):
            grad[off + o] += v * dout[o]
            acc += params[off + o] * dout[o]
        dpool[h] = acc
    for f in range(F):
        for j in range(Tp):
            h = f * Tp + j
            t = arg[h]
            d = dpool[h]
            if d == 0.0 or conv[f, t] <= 0.0:  # max-pool routes to one position; ReLU gate
                continue
            grad[bc + f] += d
            for c in range(C):
                base = c * T + t
                wo = (f * C + c) * K
                for k in range(K):
                    grad[wo + k] += d * X[row, base + k]


@njit(cache=True, nogil=True)
def _batch(params, dims, X, labels, targets, loss_kind, order, start, nb, bufs, grad):
    """Fill `grad` with the gradient of the batch-mean loss; return (loss sum, correct)."""
    conv, pooled, arg, out, dout, dpool = bufs
    grad[:] = 0.0
    total = 0.0
    correct = 0
    scale = 1.0 / nb
    for i in range(nb):
        row = order[start + i]
        _forward(params, dims, X, row, conv, pooled, arg, out)
        loss, ok = _head(out, dims, labels, targets, row, loss_kind, scale, dout)
        total += loss
        correct += ok
        _backward(params, dims, X, row, conv, pooled, arg, dout, dpool, grad)
    return total, correct


@njit(cache=True, nogil=True)
def _buffers(params, dims):
    _, T, F, K, _, M = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]
    Tp = (T - K + 1) // dims[4]
    dt = params.dtype
    conv = np.zeros((F, T - K + 1), dtype=dt)
    pooled = np.zeros(F * Tp, dtype=dt)
    arg = np.zeros(F * Tp, dtype=np.int64)
    out = np.zeros(M, dtype=dt)
    dout = np.zeros(M, dtype=dt)
    dpool = np.zeros(F * Tp, dtype=dt)
    return conv, pooled, arg, out, dout, dpool


@njit(cache=True, nogil=True)
def _check(params, dims, X) -> None:
    _, _, _, count, _ = _layout(dims)
    if params.shape[0] != count:
        raise ValueError("params length does not match dims")
    if X.shape[1] != dims[0] * dims[1]:
        raise ValueError("X.shape[1] is not channels * length")


@njit(cache=True, nogil=True)
def cnn_loss_grad(params, dims, X, labels, targets, loss_kind, rows):
    """(mean loss, gradient) over samples `rows` (the gradient check's entry point)."""
    _check(params, dims, X)
    grad = np.zeros_like(params)
    n = rows.shape[0]
    if n == 0:
        return 0.0, grad
    total, _ = _batch(
        params, dims, X, labels, targets, loss_kind, rows, 0, n, _buffers(params, dims), grad
    )
    return total / n, grad


@njit(cache=True, nogil=True)
def cnn_sgd_train(
    params,
    dims,
    X,
    labels,
    targets,
    loss_kind,
    order,
    batch_size,
    lr,
    mu,
    anchor,
):
    """Train `params` in place over samples `order`; return the mean pre-update loss.

    The contract of `kernels.train.sgd_train`: consecutive minibatches of `order`,
    the last partial batch used, FedProx's mu * (params - anchor) added to the gradient.
    """
    _check(params, dims, X)
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    n = order.shape[0]
    if n == 0:
        return 0.0
    bufs = _buffers(params, dims)
    grad = np.zeros_like(params)
    step = lr
    prox = mu
    total = 0.0
    for start in range(0, n, batch_size):
        nb = min(batch_size, n - start)
        loss, _ = _batch(params, dims, X, labels, targets, loss_kind, order, start, nb, bufs, grad)
        total += loss
        if prox != 0.0:
            for p in range(params.shape[0]):
                params[p] -= step * (grad[p] + prox * (params[p] - anchor[p]))
        else:
            for p in range(params.shape[0]):
                params[p] -= step * grad[p]
    return total / n


@njit(cache=True, nogil=True)
def cnn_evaluate(params, dims, X, labels, targets, loss_kind):
    """(accuracy, mean cross-entropy) for XENT; (RMSE, MSE) for MSE."""
    _check(params, dims, X)
    n = X.shape[0]
    if n == 0:
        return 0.0, 0.0
    conv, pooled, arg, out, dout, _ = _buffers(params, dims)
    total = 0.0
    correct = 0
    for row in range(n):
        _forward(params, dims, X, row, conv, pooled, arg, out)
        loss, ok = _head(out, dims, labels, targets, row, loss_kind, 1.0, dout)
        total += loss
        correct += ok
    if loss_kind == XENT:
        return correct / n, total / n
    return np.sqrt(total / n), total / n

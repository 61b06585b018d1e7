"""The 1-D CNN in plain vectorised NumPy: the test oracle and `make bench`'s baseline.

Written batch-at-a-time with sliding windows and einsum, independently of the
per-sample Numba loops in fedsim/kernels/cnn.py, so a bug in one is unlikely to be
repeated in the other. Same conventions: ReLU'(0) = 0, a pool window's first maximum
takes the gradient, XENT = 0 / MSE = 1 heads.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["cnn_loss_grad_numpy", "cnn_sgd_train_numpy"]


def _views(params: np.ndarray, dims: np.ndarray) -> tuple[np.ndarray, ...]:
    C, T, F, K, P, M = (int(v) for v in dims)
    Tp = (T - K + 1) // P
    sizes = [F * C * K, F, F * Tp * M, M]
    ends = np.cumsum(sizes)
    if ends[-1] != params.shape[0]:
        raise ValueError(f"params has {params.shape[0]} values, dims need {ends[-1]}")
    Wc, bc, Wd, bd = np.split(params, ends[:-1])
    return Wc.reshape(F, C, K), bc, Wd.reshape(F * Tp, M), bd


def cnn_loss_grad_numpy(
    params: np.ndarray,
    dims: np.ndarray,
    X: np.ndarray,
    labels: np.ndarray,
    targets: np.ndarray,
    loss_kind: int,
    rows: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Same contract as `kernels.cnn.cnn_loss_grad`."""
    C, T, F, K, P, M = (int(v) for v in dims)
    Tc = T - K + 1
    Tp = Tc // P
    Wc, bc, Wd, bd = _views(params, dims)
    nb = rows.shape[0]
    xb = X[rows].reshape(nb, C, T)
    win = sliding_window_view(xb, K, axis=2)  # (nb, C, Tc, K)
    conv = np.maximum(np.einsum("nctk,fck->nft", win, Wc) + bc[None, :, None], 0.0)
    blocks = conv[:, :, : Tp * P].reshape(nb, F, Tp, P)
    arg = blocks.argmax(axis=3)
    pooled = np.take_along_axis(blocks, arg[..., None], axis=3)[..., 0]
    H = pooled.reshape(nb, F * Tp)
    out = H @ Wd + bd
    if loss_kind == 0:
        z = out.astype(np.float64)
        m = z.max(axis=1, keepdims=True)
        logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
        y = labels[rows]
        loss = -logp[np.arange(nb), y].mean()
        dout = np.exp(logp)
        dout[np.arange(nb), y] -= 1.0
        dout /= nb
    else:
        err = out.astype(np.float64) - targets[rows]
        loss = (err**2).mean()
        dout = 2.0 * err / (M * nb)
    dout = dout.astype(params.dtype)
    gWd = H.T @ dout
    gbd = dout.sum(axis=0)
    dH = (dout @ Wd.T).reshape(nb, F, Tp)
    dblocks = np.zeros_like(blocks)
    np.put_along_axis(dblocks, arg[..., None], dH[..., None], axis=3)
    dconv = np.zeros_like(conv)
    dconv[:, :, : Tp * P] = dblocks.reshape(nb, F, Tp * P)
    dconv *= conv > 0.0
    gWc = np.einsum("nft,nctk->fck", dconv, win)
    gbc = dconv.sum(axis=(0, 2))
    grad = np.concatenate([gWc.ravel(), gbc, gWd.ravel(), gbd]).astype(params.dtype)
    return float(loss), grad


def cnn_sgd_train_numpy(
    params: np.ndarray,
    dims: np.ndarray,
    X: np.ndarray,
    labels: np.ndarray,
    targets: np.ndarray,
    loss_kind: int,
    order: np.ndarray,
    batch_size: int,
    lr: float,
    mu: float,
    anchor: np.ndarray,
) -> float:
    """Same contract as `kernels.cnn.cnn_sgd_train`."""
    n = order.shape[0]
    total = 0.0
    for start in range(0, n, batch_size):
        rows = order[start : start + batch_size]
        loss, grad = cnn_loss_grad_numpy(params, dims, X, labels, targets, loss_kind, rows)
        total += loss * rows.shape[0]
        if mu != 0.0:
            grad = grad + mu * (params - anchor)
        params -= (lr * grad).astype(params.dtype)
    return total / n if n else 0.0

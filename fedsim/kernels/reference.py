"""Plain NumPy references for the kernels: test oracles and the benchmark baseline.

Written the obvious vectorized way, independently of the Numba loops, so that a
bug in one is unlikely to be repeated in the other.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

__all__ = ["evaluate_numpy", "sgd_train_numpy", "weighted_mean_numpy"]


def _layers(params: np.ndarray, sizes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Views (W, b) into the flat vector, so updates land in `params`."""
    out = []
    off = 0
    for fi, fo in pairwise(sizes):
        fi, fo = int(fi), int(fo)
        W = params[off : off + fi * fo].reshape(fi, fo)
        b = params[off + fi * fo : off + fi * fo + fo]
        out.append((W, b))
        off += fi * fo + fo
    if off != params.shape[0]:
        raise ValueError(f"params has {params.shape[0]} values, sizes need {off}")
    return out


def _forward(layers: list[tuple[np.ndarray, np.ndarray]], xb: np.ndarray) -> list[np.ndarray]:
    acts = [xb]
    for i, (W, b) in enumerate(layers):
        z = acts[-1] @ W + b
        if i < len(layers) - 1:
            z = np.maximum(z, 0.0)
        acts.append(z)
    return acts


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z64 = z.astype(np.float64)
    m = z64.max(axis=1, keepdims=True)
    return z64 - m - np.log(np.exp(z64 - m).sum(axis=1, keepdims=True))


def sgd_train_numpy(
    params: np.ndarray,
    sizes: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    lr: float,
    mu: float,
    anchor: np.ndarray,
) -> float:
    """Same contract as `kernels.train.sgd_train`, in NumPy."""
    layers = _layers(params, sizes)
    anchors = _layers(anchor, sizes)
    n = order.shape[0]
    total = 0.0
    lr32, mu32 = np.float32(lr), np.float32(mu)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        nb = idx.shape[0]
        acts = _forward(layers, X[idx])
        logp = _log_softmax(acts[-1])
        total += -logp[np.arange(nb), y[idx]].sum()
        delta = np.exp(logp)
        delta[np.arange(nb), y[idx]] -= 1.0
        delta = (delta / nb).astype(np.float32)
        grads = []
        for li in range(len(layers) - 1, -1, -1):
            W, _ = layers[li]
            grads.append((acts[li].T @ delta, delta.sum(axis=0)))
            if li > 0:
                delta = (delta @ W.T) * (acts[li] > 0)
        grads.reverse()
        for (W, b), (aW, ab), (gW, gb) in zip(layers, anchors, grads, strict=True):
            W -= lr32 * (gW + mu32 * (W - aW))
            b -= lr32 * (gb + mu32 * (b - ab))
    return total / n if n else 0.0


def evaluate_numpy(
    params: np.ndarray, sizes: np.ndarray, X: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """Same contract as `kernels.train.evaluate`, in NumPy."""
    logp = _log_softmax(_forward(_layers(params, sizes), X)[-1])
    acc = float((logp.argmax(axis=1) == y).mean())
    return acc, float(-logp[np.arange(len(y)), y].mean())


def weighted_mean_numpy(updates: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Flower's `aggregate`: sum of weight * update over total weight, in float64."""
    w = np.asarray(weights, dtype=np.float64)
    return (w @ updates.astype(np.float64) / w.sum()).astype(np.float32)

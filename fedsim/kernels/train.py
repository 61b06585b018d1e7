"""Local training: softmax regression and small ReLU MLPs with minibatch SGD.

One flat float32 vector holds all parameters so that the wire codec, the
aggregators and the optimizers never see a layer structure. `sizes` gives the
layer widths ([64, 10] is softmax regression, [64, 32, 10] one hidden layer);
for each layer in order the vector holds W (fan_in x fan_out, row-major) then b.

Layers are 2-D views into flat buffers allocated once per call, and products go
to BLAS through `np.dot(a, b, out)`: measured 4-10x faster than hand-written
loops here, because fan_out (often 10) is too short for loops to vectorize.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from numba import njit

__all__ = ["evaluate", "init_params", "param_count", "sgd_train", "train_flops"]

_EVAL_CHUNK = 256


def param_count(sizes: np.ndarray) -> int:
    """Length of the flat parameter vector for layer widths `sizes`."""
    s = [int(v) for v in sizes]
    if len(s) < 2 or min(s) < 1:
        raise ValueError(f"sizes needs >= 2 positive widths, got {s}")
    return sum(fi * fo + fo for fi, fo in pairwise(s))


def init_params(sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Glorot-uniform weights and zero biases, so every seed starts comparably scaled."""
    out = np.zeros(param_count(sizes), dtype=np.float32)
    off = 0
    for fi, fo in pairwise(sizes):
        fi, fo = int(fi), int(fo)
        lim = np.sqrt(6.0 / (fi + fo))
        out[off : off + fi * fo] = rng.uniform(-lim, lim, fi * fo).astype(np.float32)
        off += fi * fo + fo
    return out


def train_flops(sizes: np.ndarray, n_samples: int) -> float:
    """Floating-point operations to train on `n_samples`, to charge device compute time.

    Counted as 6 per parameter per sample: 2 for the forward multiply-add, 2 for
    the weight gradient and 2 for back-propagating the error. The update itself
    (2 per parameter per batch) is amortised over the batch and left out, as
    are the softmax and ReLU (O(widths), not O(weights)). Scoring a model costs the
    forward 2 alone (`eval_flops`).
    """
    return 6.0 * float(param_count(sizes)) * float(n_samples)


def eval_flops(sizes: np.ndarray, n_samples: int) -> float:
    """Floating-point operations to score a model on `n_samples` (`evaluate`), to
    charge a device its federated evaluation: the forward pass alone, 2 per parameter
    per sample (the forward part of `train_flops`' 6, by the same counting rule)."""
    return 2.0 * float(param_count(sizes)) * float(n_samples)


@njit(cache=True, nogil=True)
def _offsets(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parameter offset of each layer's W, and cumulative width of each activation."""
    L = sizes.shape[0] - 1
    poff = np.zeros(L + 1, dtype=np.int64)
    cum = np.zeros(L + 2, dtype=np.int64)
    for layer in range(L):
        poff[layer + 1] = poff[layer] + sizes[layer] * sizes[layer + 1] + sizes[layer + 1]
    for layer in range(L + 1):
        cum[layer + 1] = cum[layer] + sizes[layer]
    return poff, cum


@njit(cache=True, nogil=True)
def _gather(X: np.ndarray, order: np.ndarray, start: int, nb: int, acts: np.ndarray) -> None:
    d = X.shape[1]
    for i in range(nb):
        r = order[start + i]
        for k in range(d):
            acts[i * d + k] = X[r, k]


@njit(cache=True, nogil=True)
def _forward(
    params: np.ndarray,
    sizes: np.ndarray,
    poff: np.ndarray,
    cum: np.ndarray,
    acts: np.ndarray,
    bs: int,
    nb: int,
) -> None:
    """Fill every layer's activations from layer 0 (ReLU on hidden layers, logits last)."""
    L = sizes.shape[0] - 1
    for layer in range(L):
        fi = sizes[layer]
        fo = sizes[layer + 1]
        ai = bs * cum[layer]
        ao = bs * cum[layer + 1]
        wo = poff[layer]
        bo = wo + fi * fo
        Z = acts[ao : ao + nb * fo].reshape((nb, fo))
        np.dot(acts[ai : ai + nb * fi].reshape((nb, fi)), params[wo:bo].reshape((fi, fo)), Z)
        relu = layer < L - 1
        for i in range(nb):
            for j in range(fo):
                v = Z[i, j] + params[bo + j]
                if relu and v < 0.0:
                    v = 0.0
                Z[i, j] = v


@njit(cache=True, nogil=True)
def _softmax_xent(
    acts: np.ndarray,
    base: int,
    c: int,
    nb: int,
    y: np.ndarray,
    order: np.ndarray,
    start: int,
    deltas: np.ndarray,
    want_delta: bool,
) -> tuple[float, int]:
    """Sum of cross-entropy over the batch and count of correct argmaxes.

    With `want_delta`, writes (softmax - onehot) / nb: the gradient of the batch mean.
    """
    loss = 0.0
    correct = 0
    inv = 1.0 / nb
    for i in range(nb):
        row = base + i * c
        label = y[order[start + i]]
        zmax = acts[row]
        amax = 0
        for j in range(1, c):
            if acts[row + j] > zmax:
                zmax = acts[row + j]
                amax = j
        s = 0.0
        for j in range(c):
            s += np.exp(np.float64(acts[row + j] - zmax))
        lse = np.log(s) + zmax
        loss += lse - acts[row + label]
        if amax == label:
            correct += 1
        if want_delta:
            for j in range(c):
                p = np.exp(np.float64(acts[row + j]) - lse)
                deltas[row + j] = p * inv
            deltas[row + label] -= np.float32(inv)
    return loss, correct


@njit(cache=True, nogil=True)
def sgd_train(
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
    """Train `params` in place over samples `order`; return the mean pre-update loss.

    Minibatches are consecutive slices of `order` (the caller concatenates one
    permutation per epoch, drawn from its own Generator); the last partial batch
    is used. FedProx adds mu * (params - anchor) to the gradient.
    """
    L = sizes.shape[0] - 1
    poff, cum = _offsets(sizes)
    P = poff[L]
    if params.shape[0] != P or anchor.shape[0] != P:
        raise ValueError("params/anchor length does not match sizes")
    if X.shape[1] != sizes[0]:
        raise ValueError("X.shape[1] does not match sizes[0]")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    n = order.shape[0]
    if n == 0:
        return 0.0
    bs = min(batch_size, n)
    acts = np.empty(bs * cum[L + 1], dtype=np.float32)
    deltas = np.empty(bs * cum[L + 1], dtype=np.float32)
    grad = np.empty(P, dtype=np.float32)
    lr32 = np.float32(lr)
    mu32 = np.float32(mu)
    c = sizes[L]
    total = 0.0
    for start in range(0, n, bs):
        nb = min(bs, n - start)
        _gather(X, order, start, nb, acts)
        _forward(params, sizes, poff, cum, acts, bs, nb)
        loss, _ = _softmax_xent(acts, bs * cum[L], c, nb, y, order, start, deltas, True)
        total += loss
        for layer in range(L - 1, -1, -1):
            fi = sizes[layer]
            fo = sizes[layer + 1]
            ai = bs * cum[layer]
            do = bs * cum[layer + 1]
            wo = poff[layer]
            bo = wo + fi * fo
            A = acts[ai : ai + nb * fi].reshape((nb, fi))
            D = deltas[do : do + nb * fo].reshape((nb, fo))
            np.dot(A.T, D, grad[wo:bo].reshape((fi, fo)))
            for j in range(fo):
                grad[bo + j] = 0.0
            for i in range(nb):
                for j in range(fo):
                    grad[bo + j] += D[i, j]
            if layer > 0:
                # Error for the layer below, before this layer's W is updated,
                # masked by the ReLU (activation 0 means inactive).
                Din = deltas[ai : ai + nb * fi].reshape((nb, fi))
                np.dot(D, params[wo:bo].reshape((fi, fo)).T, Din)
                for i in range(nb):
                    for k in range(fi):
                        if A[i, k] <= 0.0:
                            Din[i, k] = 0.0
        if mu32 != 0.0:
            for p in range(P):
                params[p] -= lr32 * (grad[p] + mu32 * (params[p] - anchor[p]))
        else:
            for p in range(P):
                params[p] -= lr32 * grad[p]
    return total / n


@njit(cache=True, nogil=True)
def evaluate(
    params: np.ndarray, sizes: np.ndarray, X: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of the model on (X, y)."""
    L = sizes.shape[0] - 1
    poff, cum = _offsets(sizes)
    if params.shape[0] != poff[L]:
        raise ValueError("params length does not match sizes")
    if X.shape[1] != sizes[0]:
        raise ValueError("X.shape[1] does not match sizes[0]")
    n = X.shape[0]
    if n == 0:
        return 0.0, 0.0
    bs = min(_EVAL_CHUNK, n)
    acts = np.empty(bs * cum[L + 1], dtype=np.float32)
    ident = np.arange(n)
    total = 0.0
    correct = 0
    for start in range(0, n, bs):
        nb = min(bs, n - start)
        _gather(X, ident, start, nb, acts)
        _forward(params, sizes, poff, cum, acts, bs, nb)
        loss, ok = _softmax_xent(acts, bs * cum[L], sizes[L], nb, y, ident, start, acts, False)
        total += loss
        correct += ok
    return correct / n, total / n

"""Aggregation and server-optimizer kernels over a (k, d) matrix of client models.

Row i of `updates` is one client's full model (C-contiguous float32), so every
kernel streams rows and writes into a caller-owned `out`; the strategies never
loop over arrays in Python. Robust aggregators work on coordinate blocks
transposed into a small cache-resident buffer, because a column of a row-major
matrix is a strided gather.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "adaptive_step",
    "coordinate_median",
    "krum_scores",
    "krum_select",
    "momentum_step",
    "trimmed_mean",
    "weighted_mean",
]

_BLOCK = 2048
"""Coordinates per block: a float64 accumulator of this size stays in L1."""

_COL_BLOCK = 64
"""Coordinates per transposed block for the order-statistic aggregators."""

ADAM, YOGI, ADAGRAD = 0, 1, 2


def _check(updates: np.ndarray, out: np.ndarray) -> None:
    if updates.ndim != 2 or out.shape != (updates.shape[1],):
        raise ValueError(f"updates {updates.shape} and out {out.shape} do not match")


@njit(cache=True, nogil=True)
def _weighted_mean(updates: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    k, d = updates.shape
    total = 0.0
    for r in range(k):
        if not weights[r] >= 0.0:
            raise ValueError("weights must be non-negative")
        total += weights[r]
    if not total > 0.0:
        raise ValueError("weights must have a positive sum")
    inv = 1.0 / total
    acc = np.empty(_BLOCK, dtype=np.float64)
    for j0 in range(0, d, _BLOCK):
        n = min(_BLOCK, d - j0)
        acc[:n] = 0.0
        r = 0
        # Four rows per pass: a quarter of the accumulator traffic, so the loop
        # runs at memory speed rather than L1 speed.
        while r + 4 <= k:
            w0 = weights[r] * inv
            w1 = weights[r + 1] * inv
            w2 = weights[r + 2] * inv
            w3 = weights[r + 3] * inv
            u0 = updates[r, j0 : j0 + n]
            u1 = updates[r + 1, j0 : j0 + n]
            u2 = updates[r + 2, j0 : j0 + n]
            u3 = updates[r + 3, j0 : j0 + n]
            for j in range(n):
                acc[j] += w0 * u0[j] + w1 * u1[j] + w2 * u2[j] + w3 * u3[j]
            r += 4
        while r < k:
            w0 = weights[r] * inv
            u0 = updates[r, j0 : j0 + n]
            for j in range(n):
                acc[j] += w0 * u0[j]
            r += 1
        for j in range(n):
            out[j0 + j] = acc[j]


def weighted_mean(updates: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """out = sum_i w_i * updates[i] / sum_i w_i, accumulated in float64 (FedAvg).

    Memory bound: each row is read once per coordinate block, rows outer.
    """
    _check(updates, out)
    if weights.shape != (updates.shape[0],):
        raise ValueError(f"weights {weights.shape} do not match {updates.shape[0]} updates")
    if updates.shape[0] == 0:
        raise ValueError("no updates to aggregate")
    _weighted_mean(updates, np.ascontiguousarray(weights, dtype=np.float64), out)


@njit(cache=True, nogil=True)
def _select(a: np.ndarray, lo: int, hi: int, nth: int) -> None:
    """Quickselect on a[lo:hi]: afterwards a[nth] holds its order statistic and
    a[lo:nth] <= a[nth] <= a[nth+1:hi]. Median-of-three pivot, deterministic."""
    hi -= 1
    while hi > lo:
        mid = (lo + hi) >> 1
        # order a[lo], a[mid], a[hi] so the median sits at mid
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if nth <= j:
            hi = j
        elif nth >= i:
            lo = i
        else:
            return


@njit(cache=True, nogil=True)
def _order_stat_block(updates: np.ndarray, j0: int, n: int, buf: np.ndarray) -> None:
    """Transpose updates[:, j0:j0+n] into buf[:n, :k] (one column per row of buf)."""
    k = updates.shape[0]
    for r in range(k):
        for j in range(n):
            buf[j, r] = updates[r, j0 + j]


@njit(cache=True, nogil=True)
def _median(updates: np.ndarray, out: np.ndarray) -> None:
    k, d = updates.shape
    buf = np.empty((_COL_BLOCK, k), dtype=np.float32)
    half = k // 2
    for j0 in range(0, d, _COL_BLOCK):
        n = min(_COL_BLOCK, d - j0)
        _order_stat_block(updates, j0, n, buf)
        for j in range(n):
            col = buf[j]
            _select(col, 0, k, half)
            hi = col[half]
            if k % 2 == 1:
                out[j0 + j] = hi
            else:
                lo = col[0]
                for r in range(1, half):
                    lo = max(lo, col[r])
                out[j0 + j] = np.float32((np.float64(lo) + np.float64(hi)) * 0.5)


def coordinate_median(updates: np.ndarray, out: np.ndarray) -> None:
    """Per-coordinate median (Yin et al., 2018); mean of the two middle values when k is even."""
    _check(updates, out)
    if updates.shape[0] == 0:
        raise ValueError("no updates to aggregate")
    _median(updates, out)


@njit(cache=True, nogil=True)
def _trimmed(updates: np.ndarray, t: int, out: np.ndarray) -> None:
    k, d = updates.shape
    buf = np.empty((_COL_BLOCK, k), dtype=np.float32)
    keep = k - 2 * t
    inv = 1.0 / keep
    for j0 in range(0, d, _COL_BLOCK):
        n = min(_COL_BLOCK, d - j0)
        _order_stat_block(updates, j0, n, buf)
        for j in range(n):
            col = buf[j]
            if t > 0:
                _select(col, 0, k, t)
                _select(col, t, k, k - t - 1)
            s = 0.0
            for r in range(t, k - t):
                s += col[r]
            out[j0 + j] = s * inv


def trimmed_mean(updates: np.ndarray, beta: float, out: np.ndarray) -> None:
    """Per coordinate, drop the floor(beta*k) smallest and largest values, average the rest."""
    _check(updates, out)
    k = updates.shape[0]
    if not 0.0 <= beta < 0.5:
        raise ValueError(f"beta must be in [0, 0.5), got {beta}")
    t = int(np.floor(beta * k))
    if k - 2 * t < 1:
        raise ValueError(f"trimming {t} from each side leaves nothing of {k} updates")
    _trimmed(updates, t, out)


@njit(cache=True, nogil=True)
def _pairwise_sq(updates: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, exact differences (no Gram-matrix cancellation)."""
    k, d = updates.shape
    D = np.zeros((k, k), dtype=np.float64)
    p = np.empty(8, dtype=np.float32)
    for j0 in range(0, d, _BLOCK):
        n = min(_BLOCK, d - j0)
        for a in range(k):
            for b in range(a + 1, k):
                # 8 partial sums so the reduction vectorizes without fastmath
                p[:] = 0.0
                m = n - n % 8
                for j in range(0, m, 8):
                    for q in range(8):
                        t = updates[a, j0 + j + q] - updates[b, j0 + j + q]
                        p[q] += t * t
                s = 0.0
                for q in range(8):
                    s += p[q]
                for j in range(m, n):
                    t = updates[a, j0 + j] - updates[b, j0 + j]
                    s += t * t
                D[a, b] += s
    for a in range(k):
        for b in range(a + 1, k):
            D[b, a] = D[a, b]
    return D


@njit(cache=True, nogil=True)
def _krum_scores(updates: np.ndarray, f: int) -> np.ndarray:
    k = updates.shape[0]
    D = _pairwise_sq(updates)
    nn = k - f - 2
    scores = np.empty(k, dtype=np.float64)
    row = np.empty(k - 1, dtype=np.float64)
    for i in range(k):
        c = 0
        for j in range(k):
            if j != i:
                row[c] = D[i, j]
                c += 1
        row.sort()
        s = 0.0
        for j in range(nn):
            s += row[j]
        scores[i] = s
    return scores


def krum_scores(updates: np.ndarray, f: int) -> np.ndarray:
    """Krum score per row: sum of squared distances to its k-f-2 nearest neighbours."""
    k = updates.shape[0]
    if f < 0 or k - f - 2 < 1:
        raise ValueError(f"Krum needs k - f - 2 >= 1, got k={k}, f={f}")
    return _krum_scores(updates, f)


def krum_select(updates: np.ndarray, f: int, m: int) -> np.ndarray:
    """Indices (int64) of the m lowest Krum scores (Blanchard et al., 2017), ties by index.

    m=1 is Krum; Multi-Krum averages the selected rows with `weighted_mean`.
    """
    k = updates.shape[0]
    if not 1 <= m <= k:
        raise ValueError(f"m must be in [1, {k}], got {m}")
    scores = krum_scores(updates, f)
    return np.argsort(scores, kind="stable")[:m].astype(np.int64)


@njit(cache=True, nogil=True)
def momentum_step(
    params: np.ndarray, delta: np.ndarray, velocity: np.ndarray, lr: float, beta: float
) -> None:
    """FedAvgM (Hsu et al., 2019): v = beta*v + delta; params += lr*v, in place."""
    lr32 = np.float32(lr)
    b32 = np.float32(beta)
    for i in range(params.shape[0]):
        v = b32 * velocity[i] + delta[i]
        velocity[i] = v
        params[i] += lr32 * v


@njit(cache=True, nogil=True)
def adaptive_step(
    params: np.ndarray,
    delta: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    tau: float,
    variant: int,
) -> None:
    """FedAdam / FedYogi / FedAdagrad server step (Reddi et al., 2021, Algorithm 2), in place.

    variant 0=Adam, 1=Yogi, 2=Adagrad. m = beta1*m + (1-beta1)*delta; v per variant;
    params += lr * m / (sqrt(v) + tau). No bias correction, as in the paper.
    """
    if variant < 0 or variant > 2:
        raise ValueError("variant must be 0 (Adam), 1 (Yogi) or 2 (Adagrad)")
    b1 = np.float32(beta1)
    c1 = np.float32(1.0 - beta1)
    b2 = np.float32(beta2)
    c2 = np.float32(1.0 - beta2)
    lr32 = np.float32(lr)
    tau32 = np.float32(tau)
    for i in range(params.shape[0]):
        g = delta[i]
        g2 = g * g
        mi = b1 * m[i] + c1 * g
        m[i] = mi
        vi = v[i]
        if variant == 0:
            vi = b2 * vi + c2 * g2
        elif variant == 1:
            s = vi - g2
            sign = np.float32(1.0) if s > 0 else (np.float32(-1.0) if s < 0 else np.float32(0.0))
            vi = vi - c2 * g2 * sign
        else:
            vi = vi + g2
        v[i] = vi
        params[i] += lr32 * mi / (np.sqrt(vi) + tau32)

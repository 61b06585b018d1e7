"""Numeric cores of the wire codecs: float16, stochastic int8, top-k with error feedback.

float16 conversion is bit-exact with NumPy's `astype(np.float16)` (IEEE
round-to-nearest-even, overflow to inf, NaN stays NaN) but runs as one pass of
integer operations. Random numbers for stochastic rounding come from the
caller's Generator, so a codec is reproducible and the kernels hold no state.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "dequantize_int8",
    "from_float16",
    "quantize_int8",
    "scatter",
    "to_float16",
    "topk_feedback",
]


@njit(cache=True, nogil=True, inline="always")
def _half_bits(f: np.uint32) -> np.uint16:
    """IEEE binary32 bits -> binary16 bits, the algorithm of NumPy's halffloat.c."""
    h_sgn = np.uint32((f >> np.uint32(16)) & np.uint32(0x8000))
    f_exp = f & np.uint32(0x7F800000)
    f_sig = f & np.uint32(0x007FFFFF)
    if f_exp >= np.uint32(0x47800000):
        if f_exp == np.uint32(0x7F800000) and f_sig != np.uint32(0):
            ret = np.uint32(0x7C00) + (f_sig >> np.uint32(13))
            if ret == np.uint32(0x7C00):
                ret += np.uint32(1)
            return np.uint16(h_sgn + ret)
        return np.uint16(h_sgn + np.uint32(0x7C00))
    if f_exp <= np.uint32(0x38000000):
        if f_exp < np.uint32(0x33000000):
            return np.uint16(h_sgn)
        e = f_exp >> np.uint32(23)
        sig = np.uint32(0x00800000) + f_sig
        sig >>= np.uint32(113) - e
        # ties-to-even: add half unless exactly half with an even result and no lost bits
        if (sig & np.uint32(0x3FFF)) != np.uint32(0x1000) or (f & np.uint32(0x7FF)) != 0:
            sig += np.uint32(0x1000)
        return np.uint16(h_sgn + (sig >> np.uint32(13)))
    h_exp = (f_exp - np.uint32(0x38000000)) >> np.uint32(13)
    if (f_sig & np.uint32(0x3FFF)) != np.uint32(0x1000):
        f_sig += np.uint32(0x1000)
    # a carry out of the significand correctly bumps the exponent (up to inf)
    return np.uint16(h_sgn + h_exp + (f_sig >> np.uint32(13)))


@njit(cache=True, nogil=True)
def _to_f16(bits: np.ndarray, out_u16: np.ndarray) -> None:
    for i in range(bits.shape[0]):
        out_u16[i] = _half_bits(bits[i])


def to_float16(x: np.ndarray, out_u16: np.ndarray) -> None:
    """Write the float16 bit patterns of float32 `x` into uint16 `out_u16`."""
    if x.dtype != np.float32 or out_u16.dtype != np.uint16 or out_u16.shape != x.shape:
        raise ValueError(
            f"need float32 x and uint16 out of one shape, got {x.dtype}, {out_u16.dtype}"
        )
    _to_f16(np.ascontiguousarray(x).reshape(-1).view(np.uint32), out_u16.reshape(-1))


@njit(cache=True, nogil=True)
def _from_f16(h: np.ndarray, out_bits: np.ndarray) -> None:
    for i in range(h.shape[0]):
        v = np.uint32(h[i])
        sgn = (v & np.uint32(0x8000)) << np.uint32(16)
        e = v & np.uint32(0x7C00)
        m = v & np.uint32(0x03FF)
        if e == np.uint32(0x7C00):
            out_bits[i] = sgn | np.uint32(0x7F800000) | (m << np.uint32(13))
        elif e != 0:
            out_bits[i] = (
                sgn
                | (((e >> np.uint32(10)) + np.uint32(112)) << np.uint32(23))
                | (m << np.uint32(13))
            )
        elif m == 0:
            out_bits[i] = sgn
        else:
            # subnormal half: normalise into a float32 exponent
            shift = np.uint32(0)
            while (m & np.uint32(0x0400)) == 0:
                m <<= np.uint32(1)
                shift += np.uint32(1)
            m &= np.uint32(0x03FF)
            out_bits[i] = sgn | ((np.uint32(113) - shift) << np.uint32(23)) | (m << np.uint32(13))


def from_float16(u16: np.ndarray, out: np.ndarray) -> None:
    """Decode float16 bit patterns `u16` into float32 `out` (exact: every half is a float)."""
    if u16.dtype != np.uint16 or out.dtype != np.float32 or out.shape != u16.shape:
        raise ValueError(
            f"need uint16 input and float32 out of one shape, got {u16.dtype}, {out.dtype}"
        )
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    _from_f16(np.ascontiguousarray(u16).reshape(-1), out.reshape(-1).view(np.uint32))


@njit(cache=True, nogil=True)
def quantize_int8(x: np.ndarray, uniforms: np.ndarray, out_i8: np.ndarray) -> tuple[float, float]:
    """Stochastic rounding to 256 levels over [min, max]; returns (lo, scale).

    Level l = floor((x - lo) / scale + u) with u ~ U[0, 1) is unbiased:
    E[lo + l * scale] = x. Stored as l - 128 in int8. Error is below one scale.
    """
    n = x.shape[0]
    if uniforms.shape[0] < n or out_i8.shape[0] != n:
        raise ValueError("uniforms and out_i8 must cover x")
    if n == 0:
        return 0.0, 0.0
    lo = np.float64(x[0])
    hi = lo
    for i in range(n):
        v = np.float64(x[i])
        lo = min(lo, v)
        hi = max(hi, v)
    scale = (hi - lo) / 255.0
    if not scale > 0.0:  # constant vector (or non-finite range)
        for i in range(n):
            out_i8[i] = -128
        return lo, 0.0
    inv = 1.0 / scale
    for i in range(n):
        level = np.floor((np.float64(x[i]) - lo) * inv + uniforms[i])
        level = min(max(level, 0.0), 255.0)
        out_i8[i] = np.int8(np.int64(level) - 128)
    return lo, scale


@njit(cache=True, nogil=True)
def dequantize_int8(q: np.ndarray, lo: float, scale: float, out: np.ndarray) -> None:
    """out = lo + (q + 128) * scale."""
    for i in range(q.shape[0]):
        out[i] = lo + (np.float64(q[i]) + 128.0) * scale


@njit(cache=True, nogil=True)
def _kth_largest_abs(a: np.ndarray, k: int) -> float:
    """k-th largest value of a (which holds |values|), by quickselect; a is reordered."""
    n = a.shape[0]
    nth = n - k
    lo = 0
    hi = n - 1
    while hi > lo:
        mid = (lo + hi) >> 1
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
            break
    return a[nth]


@njit(cache=True, nogil=True)
def topk_feedback(
    x: np.ndarray, residual: np.ndarray, k: int, out_idx_i32: np.ndarray, out_val_f32: np.ndarray
) -> None:
    """Top-k sparsification with error feedback (Stich et al., 2018; Seide et al., 2014).

    acc = x + residual; the k entries of largest |acc| go to (out_idx, out_val) in
    ascending index order; residual keeps the rest, so nothing is lost, only
    delayed. Ties at the threshold are broken by lower index.
    """
    n = x.shape[0]
    if k < 0 or k > n or out_idx_i32.shape[0] != k or out_val_f32.shape[0] != k:
        raise ValueError("need 0 <= k <= len(x) and outputs of length k")
    mags = np.empty(n, dtype=np.float32)
    for i in range(n):
        v = x[i] + residual[i]
        residual[i] = v
        mags[i] = abs(v)
    if k == 0:
        return
    thr = _kth_largest_abs(mags, k)
    above = 0
    for i in range(n):
        if abs(residual[i]) > thr:
            above += 1
    ties = k - above
    c = 0
    for i in range(n):
        m = abs(residual[i])
        if m > thr or (m == thr and ties > 0):
            if m == thr:
                ties -= 1
            out_idx_i32[c] = i
            out_val_f32[c] = residual[i]
            residual[i] = 0.0
            c += 1


@njit(cache=True, nogil=True)
def scatter(idx: np.ndarray, val: np.ndarray, out: np.ndarray) -> None:
    """Decode a sparse vector: out = 0 everywhere, then out[idx] = val."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    for i in range(idx.shape[0]):
        out[idx[i]] = val[i]

"""Kernel throughput against NumPy baselines measured in the same run.

Run: .venv/bin/python bench/bench_kernels.py [--quick]
Targets: weighted_mean >= 50% of np.copyto bandwidth; sgd_train >= 5x sgd_train_numpy.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_digits

from fedsim.kernels.aggregate import coordinate_median, krum_select, trimmed_mean, weighted_mean
from fedsim.kernels.compress import from_float16, to_float16
from fedsim.kernels.reference import sgd_train_numpy
from fedsim.kernels.train import init_params, sgd_train

__all__ = ["main"]


def best_of(fn: Callable[[], object], reps: int) -> float:
    """Minimum wall time of `reps` calls (after one warm-up call that also JIT-compiles)."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_weighted_mean(k: int, d: int, rng: np.random.Generator) -> None:
    U = rng.normal(size=(k, d)).astype(np.float32)
    w = rng.integers(1, 100, k).astype(np.float64)
    out = np.empty(d, np.float32)
    dst = np.empty_like(U)
    gb = U.nbytes / 1e9
    t_wm = best_of(lambda: weighted_mean(U, w, out), 5)
    t_cp = best_of(lambda: np.copyto(dst, U), 5)
    t_np = best_of(lambda: np.average(U, axis=0, weights=w), 2)
    print(f"weighted_mean {k}x{d:.0e} float32 ({gb:.2f} GB read)")
    print(f"  numba weighted_mean : {t_wm * 1e3:8.1f} ms  {gb / t_wm:6.1f} GB/s")
    print(f"  np.copyto (same GB) : {t_cp * 1e3:8.1f} ms  {gb / t_cp:6.1f} GB/s")
    print(f"  np.average          : {t_np * 1e3:8.1f} ms")
    print(f"  ratio to copy bandwidth: {t_cp / t_wm:.2f} (target >= 0.50)")


def bench_train(rng: np.random.Generator) -> None:
    X, y = load_digits(return_X_y=True)
    X = ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32)
    y = y.astype(np.int64)
    order = np.concatenate([rng.permutation(len(y)) for _ in range(3)])
    for sizes_l in ([64, 10], [64, 32, 10]):
        sizes = np.array(sizes_l, dtype=np.int64)
        p0 = init_params(sizes, rng)

        def run(fn: Callable[..., float], p0: np.ndarray = p0, sizes: np.ndarray = sizes) -> None:
            p = p0.copy()
            fn(p, sizes, X, y, order, 16, 0.05, 0.0, p0)

        t_nb = best_of(lambda run=run: run(sgd_train), 5)
        t_np = best_of(lambda run=run: run(sgd_train_numpy), 2)
        n = len(order)
        print(f"sgd_train digits sizes={sizes_l} batch 16, {n} samples")
        print(f"  numba : {n / t_nb:12,.0f} samples/s")
        print(f"  numpy : {n / t_np:12,.0f} samples/s")
        print(f"  ratio : {t_np / t_nb:.1f}x (target >= 5x)")


def bench_robust(k: int, d: int, rng: np.random.Generator) -> None:
    U = rng.normal(size=(k, d)).astype(np.float32)
    out = np.empty(d, np.float32)
    print(f"robust aggregators {k}x{d:.0e}")
    t = best_of(lambda: coordinate_median(U, out), 2)
    t_ref = best_of(lambda: np.median(U, axis=0), 1)
    print(f"  coordinate_median : {t * 1e3:8.1f} ms   (np.median axis=0 {t_ref * 1e3:8.1f} ms)")
    t = best_of(lambda: trimmed_mean(U, 0.1, out), 2)
    print(f"  trimmed_mean 0.1  : {t * 1e3:8.1f} ms")
    t = best_of(lambda: krum_select(U, max(1, k // 10), 1), 2)
    print(f"  krum_select       : {t * 1e3:8.1f} ms")


def bench_float16(d: int, rng: np.random.Generator) -> None:
    x = rng.normal(size=d).astype(np.float32)
    h = np.empty(d, np.uint16)
    back = np.empty(d, np.float32)
    t_to = best_of(lambda: to_float16(x, h), 5)
    t_to_np = best_of(lambda: x.astype(np.float16), 5)
    hv = h.view(np.float16)
    t_from = best_of(lambda: from_float16(h, back), 5)
    t_from_np = best_of(lambda: hv.astype(np.float32), 5)
    print(f"float16 codec {d:.0e} values")
    print(f"  to_float16   : {t_to * 1e3:6.2f} ms   numpy astype {t_to_np * 1e3:6.2f} ms")
    print(f"  from_float16 : {t_from * 1e3:6.2f} ms   numpy astype {t_from_np * 1e3:6.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    d = 100_000 if args.quick else 1_000_000
    bench_weighted_mean(100, d, rng)
    bench_train(rng)
    bench_robust(100, d // 10 if args.quick else 100_000, rng)
    bench_float16(d, rng)


if __name__ == "__main__":
    main()

"""1-D CNN training throughput: the Numba kernel against the vectorised NumPy
reference, on the same data, order and batch, in the same run (a ratio; absolute
samples/s depend on the machine).

Run: .venv/bin/python bench/bench_cnn.py [--quick]
Data: BasicMotions windows as the `activity` task cuts them (random data of the same
shape if sktime's copy is missing, so the bench still runs).
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_kernels import best_of

from fedsim.errors import ScenarioError
from fedsim.kernels.cnn import XENT, cnn_sgd_train
from fedsim.kernels.cnn_reference import cnn_sgd_train_numpy
from fedsim.tasks.cnn_shape import CnnShape
from fedsim.tasks.sensor import init_cnn

__all__ = ["main"]


def _windows(length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    try:
        from fedsim.tasks.sensor_data import basic_motions

        X, y, *_ = basic_motions()
    except ScenarioError:
        X, y = rng.normal(size=(40, 6, 100)), rng.integers(0, 4, 40)
    starts = range(0, 100 - length + 1, max(1, length // 2))
    W = np.concatenate([X[:, :, s : s + length] for s in starts])
    labels = np.tile(y, len(starts)).astype(np.int64)
    return W.reshape(W.shape[0], -1).astype(np.float32), labels


def bench(shape: CnnShape, epochs: int, batch: int, rng: np.random.Generator) -> float:
    X, labels = _windows(shape.length, rng)
    empty = np.zeros((X.shape[0], 0), np.float32)
    order = np.concatenate([rng.permutation(X.shape[0]) for _ in range(epochs)])
    p0 = init_cnn(shape, rng)
    dims = shape.dims()

    def run(fn) -> None:
        p = p0.copy()
        fn(p, dims, X, labels, empty, XENT, order, batch, 0.05, 0.0, p0)

    t_nb = best_of(lambda: run(cnn_sgd_train), 5)
    t_np = best_of(lambda: run(cnn_sgd_train_numpy), 3)
    n = order.size
    s = shape
    gflops = s.train_flops_per_sample() * n / t_nb / 1e9
    print(f"CNN {s.channels}x{s.length}, {s.filters} filters k={s.kernel} pool {s.pool}, "
          f"{s.param_count()} params, batch {batch}, {n} samples")  # fmt: skip
    print(f"  numba : {n / t_nb:12,.0f} samples/s  ({gflops:.2f} GFLOP/s)")
    print(f"  numpy : {n / t_np:12,.0f} samples/s")
    print(f"  ratio : {t_np / t_nb:.1f}x numba/numpy")
    return t_np / t_nb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer epochs (smoke test)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    epochs = 2 if args.quick else 10
    bench(CnnShape(6, 50, 8, 5, 2, 4), epochs, 8, rng)  # the activity topology's model
    bench(CnnShape(6, 100, 32, 7, 4, 4), epochs, 32, rng)  # a wider one, larger batches


if __name__ == "__main__":
    main()

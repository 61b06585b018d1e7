"""Supervised task: scikit-learn's bundled digits (8x8 images, 10 classes).

Standardized with statistics of the training split only; a stratified test
split stays on the server for evaluation. Models are softmax regression or a
small ReLU MLP trained by the Numba SGD kernel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from fedsim.kernels.train import eval_flops, evaluate, init_params, sgd_train, train_flops
from fedsim.tasks.partition import partition

__all__ = ["ClassifierLearner", "ClassifierTask", "load_digits_arrays", "load_digits_split"]


DIGITS_CSV = ("datasets", "data", "digits.csv.gz")
"""Where scikit-learn ships the digits (64 pixel columns, then the label), inside its package."""


DIGITS_COLUMNS = 65


def _small_int_table(raw: bytes, columns: int) -> np.ndarray | None:
    """`raw`'s rows of `columns` comma-separated numbers of one or two digits, as float64
    (the values `np.loadtxt` reads: small integers are exact in float64), or None if the
    text is anything else. Read by numpy on the bytes at once: the digits' 116,805
    numbers take ~1 ms where `np.loadtxt` takes ~20."""
    u = np.frombuffer(raw, dtype=np.uint8)
    if u.size == 0 or u[-1] != ord("\n"):
        return None
    digit = (u >= ord("0")) & (u <= ord("9"))
    sep = (u == ord(",")) | (u == ord("\n"))
    if not bool((digit | sep).all()):
        return None
    ends = np.flatnonzero(sep)
    lengths = np.diff(ends, prepend=-1) - 1
    if ends.size % columns or not bool(((lengths == 1) | (lengths == 2)).all()):
        return None
    if not np.array_equal(
        np.flatnonzero(u[ends] == ord("\n")), np.arange(columns - 1, ends.size, columns)
    ):
        return None  # a row of another width
    d = u.astype(np.int64) - ord("0")
    values = d[ends - 1] + np.where(lengths == 2, 10 * d[ends - 2], 0)
    return values.reshape(-1, columns).astype(np.float64)


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The digits as (X float64 [1797, 64], y int64), read from the CSV scikit-learn ships.

    Why not `sklearn.datasets.load_digits`: importing sklearn.datasets costs about a second
    (SciPy, pandas checks) for a 1797-row table; `find_spec` locates the package without
    importing it. Falls back to `load_digits` if the file is not where it used to be."""
    import gzip
    from importlib.util import find_spec

    spec = find_spec("sklearn")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root).joinpath(*DIGITS_CSV)
        if path.is_file():
            raw = gzip.decompress(path.read_bytes())
            table = _small_int_table(raw, DIGITS_COLUMNS)
            if table is None:  # not the file it used to be: numpy's general reader
                table = np.loadtxt(
                    raw.decode("ascii").splitlines(), delimiter=",", dtype=np.float64
                )
            return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data.astype(np.float64), data.target.astype(np.int64)


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """The raw dataset, read once per process (a short run costs less than parsing the
    CSV). Read-only, so no run can change another's."""
    X, y = load_digits_arrays()
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def load_digits_split(
    test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = _digits()
    test = np.zeros(y.size, dtype=bool)
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        test[idx[: round(test_fraction * idx.size)]] = True
    mean = X[~test].mean(axis=0)
    std = X[~test].std(axis=0)
    std[std == 0] = 1.0
    Xs = ((X - mean) / std).astype(np.float32)
    return Xs[~test], y[~test], Xs[test], y[test]


@dataclass
class ClassifierLearner:
    """One device's shard and the SGD recipe (config: epochs, batch_size, lr, mu)."""

    X: np.ndarray
    y: np.ndarray
    sizes: np.ndarray

    @property
    def num_examples(self) -> int:
        return int(self.y.size)

    def work(self, config: Mapping[str, Any]) -> float:
        return train_flops(self.sizes, self.num_examples * int(config.get("epochs", 1)))

    def evaluate_work(self) -> float:
        """FLOPs of one `evaluate`: a forward pass over this device's data."""
        return eval_flops(self.sizes, self.num_examples)

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        """The model scored on this device's own data (federated evaluation)."""
        acc, loss = evaluate(params, self.sizes, self.X, self.y)
        return {"accuracy": float(acc), "loss": float(loss)}

    def train(
        self, params: np.ndarray, config: Mapping[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        epochs = int(config.get("epochs", 1))
        n = self.num_examples
        if epochs == 1:  # the same draw, without the list and the concatenation's copy
            order = rng.permutation(n).astype(np.int64, copy=False)
        else:
            order = np.concatenate([rng.permutation(n) for _ in range(epochs)]).astype(np.int64)
        new = params.astype(np.float32, copy=True)
        loss = sgd_train(
            new,
            self.sizes,
            self.X,
            self.y,
            order,
            int(config.get("batch_size", 16)),
            float(config.get("lr", 0.05)),
            float(config.get("mu", 0.0)),
            params,
        )
        return new, {"loss": float(loss)}


@dataclass
class ClassifierEvaluator:
    X: np.ndarray
    y: np.ndarray
    sizes: np.ndarray
    metric_name: str = "accuracy"
    higher_is_better: bool = True

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        acc, loss = evaluate(params, self.sizes, self.X, self.y)
        return {"accuracy": float(acc), "loss": float(loss)}


def initial_model(sizes: np.ndarray, rng: np.random.Generator, init: str) -> np.ndarray:
    """The global model before round 1 (`task.init`). `zeros` is the start of Flower's
    reference job, so final accuracies of the two can be compared; it draws nothing."""
    if init == "zeros":
        from fedsim.kernels.train import param_count

        return np.zeros(param_count(sizes), dtype=np.float32)
    if init == "glorot":
        return init_params(sizes, rng)
    raise ValueError(f"unknown initial model {init!r} (glorot or zeros)")


class ClassifierTask:
    """A classification data set split across devices: `parts` are each device's rows of
    the training set, index arrays or slices (a slice's rows are a view, not a copy)."""

    metric_name = "accuracy"

    def __init__(
        self,
        name: str,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_test: np.ndarray,
        y_test: np.ndarray,
        parts: Sequence[np.ndarray | slice],
        hidden: tuple[int, ...],
        rng: np.random.Generator,
        init: str = "glorot",
    ) -> None:
        self.name = name
        classes = int(max(y_train.max(), y_test.max())) + 1
        self.sizes = np.array([X_train.shape[1], *hidden, classes], dtype=np.int64)
        self._init = initial_model(self.sizes, rng, init)
        self._learners = [
            ClassifierLearner(np.ascontiguousarray(X_train[p]), y_train[p].copy(), self.sizes)
            for p in parts
        ]
        self._eval = ClassifierEvaluator(X_test, y_test, self.sizes)

    def initial_params(self) -> np.ndarray:
        return self._init.copy()

    def learner(self, client_index: int) -> ClassifierLearner:
        return self._learners[client_index]

    def evaluator(self) -> ClassifierEvaluator:
        return self._eval

    def memory_bytes(self, batch_size: int) -> int:
        """Parameters, gradients and the proximal anchor, plus one batch's activations."""
        widths = int(self.sizes.sum())
        return 4 * (3 * self._init.size + batch_size * (widths + int(self.sizes[0])))

    @staticmethod
    def partition(labels: np.ndarray, num_clients: int, rng: np.random.Generator,
                  options: Mapping[str, Any]) -> list[np.ndarray]:  # fmt: skip
        return partition(
            labels,
            num_clients,
            rng,
            kind=str(options.get("partition", "iid")),
            alpha=float(options.get("alpha", 0.5)),
            shards_per_client=int(options.get("shards_per_client", 2)),
        )

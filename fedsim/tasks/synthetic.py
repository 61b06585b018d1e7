"""LEAF-style Synthetic(alpha, beta) (Li et al., FedProx, MLSys 2020, Sec. 5.1).

Device k draws its own linear-softmax labeller and its own feature distribution:

    u_k ~ N(0, alpha),  W_k ~ N(u_k, 1) (60 x 10),  b_k ~ N(u_k, 1) (10)
    B_k ~ N(0, beta),   v_k ~ N(B_k, 1) (60),       x ~ N(v_k, Sigma),  Sigma_jj = j^-1.2
    y = argmax(softmax(x W_k + b_k))

alpha controls how much the labelling models differ between devices, beta how
much their data differ; Synthetic(0, 0) is mildly, Synthetic(1, 1) strongly
non-IID. `iid: true` gives the paper's Synthetic-IID (one W, b for everyone,
v_k = 0). As in the reference generator, N(m, s) takes a standard deviation s
(the paper's alpha, beta are written as variances; they agree at 0 and 1).
Sample counts per device follow a lognormal (a power law in the tail):
floor(LogNormal(4, 2)) + 50, capped at `max_samples`.

Every device keeps `test_fraction` of its samples out of training; the union of
those held-out samples (subsampled to `max_test_samples`) is the server's test
set, so the global model is scored on every device's distribution. Generation
is vectorised over devices and samples, draws only from the given Generator,
and scales to thousands of devices. The model and local training are digits'
`ClassifierTask` / `ClassifierLearner` (softmax regression or a small MLP).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedsim.errors import ScenarioError
from fedsim.rng import Streams
from fedsim.scenario import TaskSpec
from fedsim.tasks.digits import ClassifierTask

__all__ = ["SyntheticData", "build_synthetic_task", "generate_synthetic", "split_devices"]


@dataclass
class SyntheticData:
    X: np.ndarray
    """(n, features) float32, device-contiguous: device k owns rows offsets[k]:offsets[k+1]."""
    y: np.ndarray
    counts: np.ndarray
    """Samples per device (int64)."""

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)


def generate_synthetic(
    num_devices: int,
    rng: np.random.Generator,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    iid: bool = False,
    features: int = 60,
    classes: int = 10,
    samples_mean_log: float = 4.0,
    samples_sigma_log: float = 2.0,
    min_samples: int = 50,
    max_samples: int | None = 1000,
) -> SyntheticData:
    """Draw the federation's data; the result depends only on the arguments and `rng`."""
    if num_devices < 1:
        raise ValueError(f"need at least one device, got {num_devices}")
    if alpha < 0 or beta < 0:
        raise ValueError(f"alpha and beta must be non-negative, got {alpha}, {beta}")
    if features < 1 or classes < 2:
        raise ValueError(f"need >= 1 feature and >= 2 classes, got {features}, {classes}")
    if min_samples < 1 or (max_samples is not None and max_samples < min_samples):
        raise ValueError(f"bad sample bounds min={min_samples}, max={max_samples}")
    k = num_devices
    raw = rng.lognormal(samples_mean_log, samples_sigma_log, k)
    counts = np.floor(np.minimum(raw, 1e12)).astype(np.int64) + int(min_samples)
    if max_samples is not None:
        counts = np.minimum(counts, int(max_samples))
    if iid:
        W = np.broadcast_to(rng.normal(0.0, 1.0, (features, classes)), (k, features, classes))
        b = np.broadcast_to(rng.normal(0.0, 1.0, classes), (k, classes))
        v = np.zeros((k, features))
    else:
        u = rng.normal(0.0, alpha, k)
        B = rng.normal(0.0, beta, k)
        W = rng.standard_normal((k, features, classes))  # + u below: in place, same sums
        W += u[:, None, None]
        b = rng.standard_normal((k, classes))
        b += u[:, None]
        v = rng.standard_normal((k, features))
        v += B[:, None]
    std = (np.arange(1, features + 1, dtype=np.float64) ** -0.6).astype(np.float32)
    n = int(counts.sum())
    X = rng.standard_normal((n, features), dtype=np.float32)  # x - v_k ~ N(0, Sigma)
    X *= std
    y = np.empty(n, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    # One BLAS product per device: ~40 ns per sample; gathering per-sample weights
    # (einsum over W[device]) is 4-40x slower and needs (n, features, classes) memory.
    v32 = v.astype(np.float32)
    for d, (lo, hi) in enumerate(itertools.pairwise(offsets.tolist())):
        xs = X[lo:hi]
        xs += v32[d]
        y[lo:hi] = np.argmax(xs.astype(np.float64) @ W[d] + b[d], axis=1)
    return SyntheticData(X, y, counts)


def split_devices(
    data: SyntheticData, test_fraction: float, max_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Hold out `test_fraction` of every device's samples (>= 1 each, >= 1 left to train).

    Returns X_train, y_train, X_test, y_test and each device's row indices in X_train.
    """
    counts = data.counts
    if counts.min() < 2:
        raise ValueError("every device needs >= 2 samples to hold one out")
    k = counts.size
    device = np.repeat(np.arange(k), counts)
    # Shuffle within each device: sort by (device, uniform key), then rank inside the device.
    order = np.lexsort((rng.random(device.size), device))
    rank = np.arange(device.size) - data.offsets[:-1][device]
    n_test = np.clip(np.round(test_fraction * counts).astype(np.int64), 1, counts - 1)
    test = np.zeros(device.size, dtype=bool)
    test[order[rank < n_test[device]]] = True
    train_rows = np.flatnonzero(~test)
    test_rows = np.flatnonzero(test)
    if test_rows.size > max_test:
        test_rows = np.sort(rng.choice(test_rows, size=max_test, replace=False))
    train_counts = counts - n_test
    cuts = np.cumsum(train_counts)[:-1]
    parts = np.split(np.arange(train_rows.size, dtype=np.int64), cuts)
    return data.X[train_rows], data.y[train_rows], data.X[test_rows], data.y[test_rows], parts


def build_synthetic_task(
    options: Mapping[str, Any], num_clients: int, streams: Streams
) -> ClassifierTask:
    """The `task: {kind: synthetic, ...}` of a topology file; options are checked by
    their declaration, fedsim.config.tasks.SyntheticOptions (errors at `task.<key>`)."""
    from fedsim.tasks.registry import task_options

    o = task_options(TaskSpec("synthetic", options))
    if num_clients < 1:
        raise ScenarioError("nodes", "the synthetic task needs at least one device")
    data = generate_synthetic(
        num_clients,
        streams.get("task", "synthetic"),
        alpha=o.alpha,
        beta=o.beta,
        iid=o.iid,
        features=o.features,
        classes=o.classes,
        samples_mean_log=o.samples_mean_log,
        samples_sigma_log=o.samples_sigma_log,
        min_samples=o.min_samples,
        max_samples=o.max_samples,
    )
    X, y, Xt, yt, parts = split_devices(
        data, o.test_fraction, o.max_test_samples, streams.get("task", "split")
    )
    rows = [slice(int(p[0]), int(p[-1]) + 1) for p in parts]  # contiguous: views, no copies
    return ClassifierTask(
        "synthetic", X, y, Xt, yt, rows, o.layers(), streams.get("task", "init"), o.init
    )

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedsim.errors import ScenarioError
from fedsim.rng import Streams
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
        W = u[:, None, None] + rng.standard_normal((k, features, classes))
        b = u[:, None] + rng.standard_normal((k, classes))
        v = B[:, None] + rng.standard_normal((k, features))
    std = (np.arange(1, features + 1, dtype=np.float64) ** -0.6).astype(np.float32)
    n = int(counts.sum())
    X = rng.standard_normal((n, features), dtype=np.float32)  # x - v_k ~ N(0, Sigma)
    X *= std
    y = np.empty(n, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    # One BLAS product per device: ~40 ns per sample; gathering per-sample weights
    # (einsum over W[device]) is 4-40x slower and needs (n, features, classes) memory.
    for d in range(k):
        lo, hi = int(offsets[d]), int(offsets[d + 1])
        xs = X[lo:hi]
        xs += v[d].astype(np.float32)
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


_KEYS = (
    "alpha", "beta", "iid", "model", "hidden", "features", "classes", "samples_mean_log",
    "samples_sigma_log", "min_samples", "max_samples", "test_fraction", "max_test_samples",
)  # fmt: skip


def _number(options: Mapping[str, Any], key: str, default: float, lo: float = 0.0) -> float:
    v = options.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not v >= lo:
        raise ScenarioError(f"task.{key}", f"must be a number >= {lo:g}, got {v!r}")
    return float(v)


def _count(options: Mapping[str, Any], key: str, default: int | None, lo: int) -> int | None:
    v = options.get(key, default)
    if v is None and default is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ScenarioError(f"task.{key}", f"must be an integer >= {lo}, got {v!r}")
    return int(v)


def build_synthetic_task(
    options: Mapping[str, Any], num_clients: int, streams: Streams
) -> ClassifierTask:
    """The `task: {kind: synthetic, ...}` of a topology file, options checked (`task.<key>`)."""
    for key in options:
        if key not in _KEYS:
            raise ScenarioError(
                f"task.{key}", f"unknown key (allowed here: kind, {', '.join(_KEYS)})"
            )
    alpha = _number(options, "alpha", 1.0)
    beta = _number(options, "beta", 1.0)
    iid = options.get("iid", False)
    if not isinstance(iid, bool):
        raise ScenarioError("task.iid", f"must be true or false, got {iid!r}")
    model = options.get("model", "softmax")
    if model not in ("softmax", "mlp"):
        raise ScenarioError("task.model", f"{model!r} is not one of softmax, mlp")
    hidden = options.get("hidden", [32] if model == "mlp" else [])
    if not isinstance(hidden, list) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden
    ):
        raise ScenarioError("task.hidden", "must be a list of positive layer widths, e.g. [32]")
    if model == "softmax" and hidden:
        raise ScenarioError(
            "task.hidden", "softmax regression has no hidden layers (use model: mlp)"
        )
    features = _count(options, "features", 60, 1)
    classes = _count(options, "classes", 10, 2)
    mean_log = options.get("samples_mean_log", 4.0)
    if isinstance(mean_log, bool) or not isinstance(mean_log, int | float):
        raise ScenarioError("task.samples_mean_log", f"must be a number, got {mean_log!r}")
    sigma_log = _number(options, "samples_sigma_log", 2.0)
    min_samples = _count(options, "min_samples", 50, 2)
    max_samples = _count(options, "max_samples", 1000, 2)
    if max_samples is not None and min_samples is not None and max_samples < min_samples:
        raise ScenarioError(
            "task.max_samples", f"is {max_samples}, below min_samples {min_samples}"
        )
    frac = options.get("test_fraction", 0.2)
    if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 < frac < 1:
        raise ScenarioError("task.test_fraction", f"must lie in (0, 1), got {frac!r}")
    max_test = _count(options, "max_test_samples", 10_000, 1)
    if num_clients < 1:
        raise ScenarioError("nodes", "the synthetic task needs at least one device")
    assert features is not None
    assert classes is not None
    assert min_samples is not None
    assert max_test is not None
    data = generate_synthetic(
        num_clients,
        streams.get("task", "synthetic"),
        alpha=alpha,
        beta=beta,
        iid=iid,
        features=features,
        classes=classes,
        samples_mean_log=float(mean_log),
        samples_sigma_log=sigma_log,
        min_samples=min_samples,
        max_samples=max_samples,
    )
    X, y, Xt, yt, parts = split_devices(data, float(frac), max_test, streams.get("task", "split"))
    return ClassifierTask(
        "synthetic", X, y, Xt, yt, parts, tuple(hidden), streams.get("task", "init")
    )

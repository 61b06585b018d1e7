"""The real sensor tasks: activity recognition (BasicMotions) and day-ahead-hours
load forecasting (ItalyPowerDemand), both learned by the Numba 1-D CNN.

Devices own whole recordings (activity) or whole days (load), never pieces of
one, so no recording is split between a device and the server's test set. The
split across devices is a Dirichlet over labels (activity, season) or IID; every
draw comes from the task's named streams, so the same seed gives the same task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedsim.config.sensor_tasks import ActivityOptions, LoadForecastOptions, SensorOptions
from fedsim.kernels.cnn import MSE, XENT, cnn_evaluate, cnn_sgd_train
from fedsim.tasks.cnn_shape import CnnShape
from fedsim.tasks.partition import partition
from fedsim.tasks.plugin import TaskContext
from fedsim.tasks.sensor_data import basic_motions, italy_power_demand

__all__ = ["CnnLearner", "CnnTask", "build_activity_task", "build_load_forecast_task"]


def _metrics(loss_kind: int, score: float, loss: float) -> dict[str, float]:
    if loss_kind == XENT:
        return {"accuracy": float(score), "loss": float(loss)}
    return {"rmse": float(score), "mse": float(loss)}


@dataclass
class CnnData:
    """Samples as the kernels take them: X [n, channels*length] float32, int labels
    (classification) or float32 targets [n, outputs] (regression; else [n, 0])."""

    X: np.ndarray
    labels: np.ndarray
    targets: np.ndarray

    def take(self, rows: np.ndarray) -> CnnData:
        return CnnData(
            np.ascontiguousarray(self.X[rows]), self.labels[rows].copy(), self.targets[rows].copy()
        )


@dataclass
class CnnLearner:
    """One device's samples and the SGD recipe (config: epochs, batch_size, lr, mu)."""

    data: CnnData
    dims: np.ndarray
    loss_kind: int
    flops_per_sample: float
    """Of one training sample (forward, weight gradients, back-propagation)."""
    forward_flops: float
    """Of one sample's forward pass (`CnnShape.forward_flops`): what scoring costs."""

    @property
    def num_examples(self) -> int:
        return int(self.data.X.shape[0])

    def work(self, config: Mapping[str, Any]) -> float:
        return self.flops_per_sample * self.num_examples * int(config.get("epochs", 1))

    def evaluate_work(self) -> float:
        """FLOPs of one `evaluate`: a forward pass over this device's samples."""
        return self.forward_flops * self.num_examples

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        d = self.data
        return _metrics(self.loss_kind, *cnn_evaluate(params, self.dims, d.X, d.labels,
                                                      d.targets, self.loss_kind))  # fmt: skip

    def train(
        self, params: np.ndarray, config: Mapping[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        epochs = int(config.get("epochs", 1))
        n = self.num_examples
        order = np.concatenate([rng.permutation(n) for _ in range(epochs)]).astype(np.int64)
        new = params.astype(np.float32, copy=True)
        d = self.data
        loss = cnn_sgd_train(
            new, self.dims, d.X, d.labels, d.targets, self.loss_kind, order,
            int(config.get("batch_size", 16)), float(config.get("lr", 0.05)),
            float(config.get("mu", 0.0)), params,
        )  # fmt: skip
        return new, {"loss": float(loss)}


@dataclass
class CnnEvaluator:
    data: CnnData
    dims: np.ndarray
    loss_kind: int
    metric_name: str
    higher_is_better: bool

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        d = self.data
        return _metrics(self.loss_kind, *cnn_evaluate(params, self.dims, d.X, d.labels,
                                                      d.targets, self.loss_kind))  # fmt: skip


def init_cnn(shape: CnnShape, rng: np.random.Generator) -> np.ndarray:
    """Glorot-uniform conv and dense weights, zero biases."""
    C, K, F, M = shape.channels, shape.kernel, shape.filters, shape.outputs
    H = F * shape.pooled_length
    lim_c = np.sqrt(6.0 / (C * K + F * K))
    lim_d = np.sqrt(6.0 / (H + M))
    return np.concatenate([
        rng.uniform(-lim_c, lim_c, F * C * K), np.zeros(F),
        rng.uniform(-lim_d, lim_d, H * M), np.zeros(M),
    ]).astype(np.float32)  # fmt: skip


class CnnTask:
    """A sensor data set split across devices, learned by the 1-D CNN."""

    def __init__(
        self,
        name: str,
        shape: CnnShape,
        loss_kind: int,
        train: CnnData,
        parts: list[np.ndarray],
        test: CnnData,
        rng: np.random.Generator,
    ) -> None:
        self.name = name
        self.shape = shape
        self.metric_name = "accuracy" if loss_kind == XENT else "rmse"
        dims = shape.dims()
        flops, forward = shape.train_flops_per_sample(), shape.forward_flops()
        self._init = init_cnn(shape, rng)
        self._learners = [CnnLearner(train.take(p), dims, loss_kind, flops, forward) for p in parts]
        self._eval = CnnEvaluator(test, dims, loss_kind, self.metric_name, loss_kind == XENT)

    def initial_params(self) -> np.ndarray:
        return self._init.copy()

    def learner(self, client_index: int) -> CnnLearner:
        return self._learners[client_index]

    def evaluator(self) -> CnnEvaluator:
        return self._eval

    def memory_bytes(self, batch_size: int) -> int:
        return self.shape.memory_bytes(batch_size)


def _split(labels: np.ndarray, options: SensorOptions, ctx: TaskContext) -> list[np.ndarray]:
    rng = ctx.streams.get("task", "partition")
    return partition(labels, ctx.num_devices, rng, kind=options.partition, alpha=options.alpha)


def _windows(X: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows [n * w, channels * window] of recordings X [n, channels, length], and
    the recording each came from."""
    starts = range(0, X.shape[2] - window + 1, stride)
    cut = np.stack([X[:, :, s : s + window] for s in starts], axis=1)  # n, w, C, window
    n, w = cut.shape[:2]
    return cut.reshape(n * w, -1), np.repeat(np.arange(n), w)


def build_activity_task(options: ActivityOptions, ctx: TaskContext) -> CnnTask:
    """Each device owns whole training recordings; the server scores TEST recordings."""
    Xtr, ytr, Xte, yte, _ = basic_motions()
    mean = Xtr.mean(axis=(0, 2), keepdims=True)
    std = Xtr.std(axis=(0, 2), keepdims=True)
    Wtr, rec_tr = _windows((Xtr - mean) / std, options.window, options.stride)
    Wte, rec_te = _windows((Xte - mean) / std, options.window, options.stride)
    train = CnnData(Wtr.astype(np.float32), ytr[rec_tr], np.zeros((Wtr.shape[0], 0), np.float32))
    test = CnnData(Wte.astype(np.float32), yte[rec_te], np.zeros((Wte.shape[0], 0), np.float32))
    by_recording = _split(ytr, options, ctx)
    parts = [np.flatnonzero(np.isin(rec_tr, p)) for p in by_recording]
    shape = options.shape()
    return CnnTask("activity", shape, XENT, train, parts, test, ctx.streams.get("task", "init"))


def build_load_forecast_task(options: LoadForecastOptions, ctx: TaskContext) -> CnnTask:
    """Input: a day's first 24 - horizon hours; target: its last `horizon` hours."""
    days, season = italy_power_demand()
    n = days.shape[0]
    order = ctx.streams.get("task", "split").permutation(n)
    n_test = round(options.test_fraction * n)
    test_rows, train_rows = np.sort(order[:n_test]), np.sort(order[n_test:])
    h = options.horizon
    X = days[:, :-h].astype(np.float32)
    Y = days[:, -h:].astype(np.float32)
    data = CnnData(X, season, Y)
    train, test = data.take(train_rows), data.take(test_rows)
    parts = _split(train.labels, options, ctx)
    shape = options.shape()
    return CnnTask("load_forecast", shape, MSE, train, parts, test, ctx.streams.get("task", "init"))

"""`task.kind: vibration`: each device is a machine with a vibration sensor and
learns, with its neighbours, a logistic-regression detector of faulty bearings.

This file is all a plug-in needs: typed options (validated by fedsim's config
model, errors at `task.<key>`), and a builder returning a Task whose learners say
what their training and their scoring cost (FLOPs) and whose options say what
memory it needs.
Only NumPy and pydantic are imported here, so `fedsim validate` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from fedsim.config.task_options import TaskOptions
from fedsim.errors import ScenarioError
from fedsim.tasks.plugin import TaskContext, TaskPlugin

__all__ = ["PLUGIN", "VibrationOptions"]


class VibrationOptions(TaskOptions):
    """Options of `task: {kind: vibration}`; plain pydantic fields work."""

    kind: Literal["vibration"]
    metric: ClassVar[tuple[str, float, float]] = ("f1", 0.0, 1.0)
    samples_per_device: int = Field(200, ge=10, le=100_000, description="windows per machine")
    features: int = Field(8, ge=1, le=64, description="spectral band energies per window")
    fault_rate: float = Field(0.1, gt=0.0, lt=0.5, description="share of faulty windows")
    drift: float = Field(0.5, ge=0.0, description="per-machine sensor offset (non-IID)")
    test_samples: int = Field(1000, ge=10, description="server's test windows")

    @model_validator(mode="after")
    def _enough_faults(self) -> VibrationOptions:
        if self.fault_rate * self.samples_per_device < 1:
            raise ValueError("fault_rate * samples_per_device gives no faulty window")
        return self

    def model_params(self) -> int:
        return self.features + 1

    def train_flops_per_sample(self) -> float:
        return 6.0 * self.model_params()

    def eval_flops_per_sample(self) -> float:
        """Scoring is the forward pass alone: 2 FLOPs per parameter per window."""
        return 2.0 * self.model_params()

    def memory_bytes(self, batch_size: int) -> int:
        return 4 * (3 * self.model_params() + batch_size * (self.features + 1))

    def data_bytes_per_device(self) -> float:
        return self.samples_per_device * (self.features + 1) * 8.0


def _draw(
    n: int, o: VibrationOptions, offset: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Windows: healthy band energies ~ N(offset, 1); a fault lifts the upper bands."""
    y = (rng.random(n) < o.fault_rate).astype(np.float64)
    lift = np.linspace(0.0, 3.0, o.features)
    X = rng.normal(size=(n, o.features)) + offset + y[:, None] * lift
    return X, y


def _f1(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    pred = (X @ w[:-1] + w[-1]) > 0.0
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"f1": f1, "accuracy": float(np.mean(pred == (y == 1)))}


class VibrationLearner:
    """One machine's windows; plain NumPy minibatch SGD on the logistic loss."""

    def __init__(
        self, X: np.ndarray, y: np.ndarray, flops_per_sample: float, eval_flops_per_sample: float
    ) -> None:
        self.X, self.y = X, y
        self.num_examples = int(y.size)
        self._flops = flops_per_sample
        self._eval_flops = eval_flops_per_sample

    def work(self, config: Mapping[str, Any]) -> float:
        return self._flops * self.num_examples * int(config.get("epochs", 1))

    def train(
        self, params: np.ndarray, config: Mapping[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        w = params.astype(np.float64)
        lr = float(config.get("lr", 0.05))
        bs = int(config.get("batch_size", 16))
        loss = 0.0
        for _ in range(int(config.get("epochs", 1))):
            order = rng.permutation(self.num_examples)
            for s in range(0, order.size, bs):
                idx = order[s : s + bs]
                z = self.X[idx] @ w[:-1] + w[-1]
                p = 1.0 / (1.0 + np.exp(-z))
                err = (p - self.y[idx]) / idx.size
                w[:-1] -= lr * (self.X[idx].T @ err)
                w[-1] -= lr * err.sum()
                loss += float(np.sum(np.logaddexp(0.0, z) - self.y[idx] * z))
        return w.astype(np.float32), {"loss": loss / max(1, self.num_examples)}

    def evaluate_work(self) -> float:
        """FLOPs of one `evaluate` (fl.local.federated_eval charges it to the device)."""
        return self._eval_flops * self.num_examples

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        return _f1(params.astype(np.float64), self.X, self.y)


class VibrationEvaluator:
    metric_name = "f1"
    higher_is_better = True

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        return _f1(params.astype(np.float64), self.X, self.y)


class VibrationTask:
    name = "vibration"
    metric_name = "f1"

    def __init__(self, o: VibrationOptions, ctx: TaskContext) -> None:
        rng = ctx.streams.get("task", "vibration")
        offsets = rng.normal(0.0, o.drift, size=(ctx.num_devices, o.features))
        flops, eval_flops = o.train_flops_per_sample(), o.eval_flops_per_sample()
        self._learners = [
            VibrationLearner(*_draw(o.samples_per_device, o, off, rng), flops, eval_flops)
            for off in offsets
        ]
        self._eval = VibrationEvaluator(*_draw(o.test_samples, o, np.zeros(o.features), rng))
        self._size = o.model_params()

    def initial_params(self) -> np.ndarray:
        return np.zeros(self._size, dtype=np.float32)

    def learner(self, client_index: int) -> VibrationLearner:
        return self._learners[client_index]

    def evaluator(self) -> VibrationEvaluator:
        return self._eval


def build(options: VibrationOptions, ctx: TaskContext) -> VibrationTask:
    if ctx.num_devices < 1:
        raise ScenarioError("nodes", "the vibration task needs at least one device")
    return VibrationTask(options, ctx)


PLUGIN = TaskPlugin("vibration", VibrationOptions, build, "vibration anomaly detection")

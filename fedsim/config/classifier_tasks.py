"""Options of the supervised tasks (`digits`, `synthetic`) and what they need: enough
samples for every device, a model and batch that fit a device's memory."""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from fedsim.config.base import at_key
from fedsim.config.task_options import SUPERVISED_LOCAL_KEYS, TaskOptions
from fedsim.config.units import Bool, choice, integer, number, parsed

__all__ = [
    "DIGITS_CLASS_COUNTS",
    "DigitsOptions",
    "SyntheticOptions",
    "classifier_memory_bytes",
]

DIGITS_CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
"""Samples per class of scikit-learn's digits (a test checks them against sklearn)."""
DIGITS_FEATURES = 64


def _hidden(v: Any) -> tuple[int, ...]:
    if not isinstance(v, list | tuple) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in v
    ):
        raise ValueError("must be a list of positive layer widths, e.g. [32]")
    return tuple(v)


Hidden = parsed(_hidden, {"type": "array", "items": {"type": "integer", "minimum": 1}}, tuple)


def classifier_memory_bytes(sizes: tuple[int, ...], batch_size: int) -> int:
    """Parameters, gradients and the proximal anchor, plus one batch's activations
    (the formula of `ClassifierTask.memory_bytes`)."""
    params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    return 4 * (3 * params + batch_size * (sum(sizes) + sizes[0]))


class ClassifierOptions(TaskOptions):
    local_keys: ClassVar[frozenset[str] | None] = SUPERVISED_LOCAL_KEYS
    client_terms: ClassVar[frozenset[str]] = frozenset({"mu"})
    model: choice(("softmax", "mlp")) = Field(
        "softmax", description="softmax regression or a ReLU MLP"
    )  # type: ignore[valid-type]
    hidden: Hidden | None = Field(None, description="MLP layer widths (default [32])")  # type: ignore[valid-type]
    test_fraction: number(0.0, 1.0, lo_open=True, hi_open=True) = Field(
        0.2, description="held out for the server's test set"
    )  # type: ignore[valid-type]
    init: choice(("glorot", "zeros")) = Field(
        "glorot",
        description="initial model: Glorot-uniform weights, or zeros (Flower's reference)",
    )  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _layers(self) -> ClassifierOptions:
        if self.model == "softmax" and self.hidden:
            raise at_key("hidden", "softmax regression has no hidden layers (use model: mlp)")
        return self

    def layers(self) -> tuple[int, ...]:
        if self.hidden is not None:
            return tuple(self.hidden)
        return (32,) if self.model == "mlp" else ()

    def sizes(self) -> tuple[int, ...]:
        raise NotImplementedError

    def memory_bytes(self, batch_size: int) -> int:
        return classifier_memory_bytes(self.sizes(), batch_size)


class DigitsOptions(ClassifierOptions):
    """scikit-learn's bundled 8x8 digits, split across devices."""

    kind: Literal["digits"]
    partition: choice(("iid", "dirichlet", "shards")) = Field(
        "iid", description="how samples are split"
    )  # type: ignore[valid-type]
    alpha: number(0.0, lo_open=True) = Field(0.5, description="dirichlet: concentration (> 0)")  # type: ignore[valid-type]
    shards_per_client: integer(1) = Field(2, description="shards: label shards per device")  # type: ignore[valid-type]

    def train_samples(self) -> int:
        f = self.test_fraction
        return sum(n - round(f * n) for n in DIGITS_CLASS_COUNTS)

    def check_devices(self, num_devices: int) -> str | None:
        have = self.train_samples()
        if num_devices > have:
            return (
                f"{num_devices} devices but digits has {have} training samples (one each at least)"
            )
        return None

    def sizes(self) -> tuple[int, ...]:
        return (DIGITS_FEATURES, *self.layers(), len(DIGITS_CLASS_COUNTS))

    def data_bytes_per_device(self) -> float:
        return 0.0  # one shared data set of 1797 samples


class SyntheticOptions(ClassifierOptions):
    """LEAF-style Synthetic(alpha, beta) (docs/topology.md)."""

    kind: Literal["synthetic"]
    alpha: number(0.0) = Field(1.0, description="how much labelling models differ")  # type: ignore[valid-type]
    beta: number(0.0) = Field(1.0, description="how much device data differ")  # type: ignore[valid-type]
    iid: Bool = Field(False, description="one labeller and feature distribution for all")
    features: integer(1) = Field(60, description="input dimension")  # type: ignore[valid-type]
    classes: integer(2) = Field(10, description="output classes")  # type: ignore[valid-type]
    samples_mean_log: number() = Field(4.0, description="lognormal mean of samples per device")  # type: ignore[valid-type]
    samples_sigma_log: number(0.0) = Field(2.0, description="lognormal sigma")  # type: ignore[valid-type]
    min_samples: integer(2) = Field(50, description="samples per device, at least")  # type: ignore[valid-type]
    max_samples: integer(2) | None = Field(1000, description="samples per device, at most")  # type: ignore[valid-type]
    max_test_samples: integer(1) = Field(10_000, description="size cap of the server's test set")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _bounds(self) -> SyntheticOptions:
        if self.max_samples is not None and self.max_samples < self.min_samples:
            raise at_key(
                "max_samples", f"is {self.max_samples}, below min_samples {self.min_samples}"
            )
        return self

    def sizes(self) -> tuple[int, ...]:
        return (self.features, *self.layers(), self.classes)

    def data_bytes_per_device(self) -> float:
        cap = self.max_samples if self.max_samples is not None else 1e6
        mean = min(cap, self.min_samples + math.exp(min(self.samples_mean_log, 30.0)))
        return mean * (self.features * 4 + 8) * 2  # features + label, plus the split copy

"""Byzantine devices as `LocalLearner` wrappers: the FL client stays unchanged.

An adversary trains honestly, then corrupts what it returns; the client uploads
it like any other update, so attacks travel the real wire and meet the real
server checks. Kinds (delta = honest new params - global params):

    sign_flip      returns params - scale * delta  (pushes against the honest direction)
    scaled_noise   returns params + delta + sigma * N(0, 1)
    random_update  returns params + sigma * N(0, 1) (a delta unrelated to the data)
    label_flip     trains honestly on labels y -> (classes - 1) - y (9 - y for 10 classes)

Noise comes from the Generator given to `wrap` (one stream per adversary), never
from the client's own stream, so an attack never shifts honest randomness. The
numerics are the kernels of `fedsim.kernels.attacks`.

Topology file:

    adversaries: {fraction: 30%, kind: sign_flip, scale: 1.0, sigma: 1.0}
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from fedsim.config.adversaries import ADVERSARY_KINDS, Adversaries
from fedsim.config.errors import first_error
from fedsim.errors import ScenarioError
from fedsim.kernels.attacks import gaussian_noise, random_update, sign_flip
from fedsim.tasks.base import LocalLearner
from fedsim.tasks.digits import ClassifierLearner

__all__ = [
    "ADVERSARY_KINDS",
    "AdversarySpec",
    "ByzantineLearner",
    "choose_adversaries",
    "parse_adversaries",
    "wrap",
]


@dataclass(frozen=True)
class AdversarySpec:
    fraction: float
    """Share of the devices that are Byzantine (rounded to the nearest count)."""
    kind: str = "sign_flip"
    scale: float = 1.0
    """sign_flip: how far against the honest delta (1 = its mirror image)."""
    sigma: float = 1.0
    """scaled_noise / random_update: standard deviation of the Gaussian noise."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must lie in [0, 1], got {self.fraction}")
        if self.kind not in ADVERSARY_KINDS:
            raise ValueError(f"unknown adversary kind {self.kind!r} ({', '.join(ADVERSARY_KINDS)})")
        if not (self.scale > 0.0 and math.isfinite(self.scale)):
            raise ValueError(f"scale must be a positive number, got {self.scale}")
        if not (self.sigma > 0.0 and math.isfinite(self.sigma)):
            raise ValueError(f"sigma must be a positive number, got {self.sigma}")


def parse_adversaries(raw: object, path: str = "adversaries") -> AdversarySpec | None:
    """The `adversaries:` mapping of a topology file (None or absent: no adversaries),
    read by its one declaration (fedsim.config.adversaries, what `validate` checks)."""
    if raw is None:
        return None
    try:
        m = Adversaries.model_validate(raw)
    except ValidationError as exc:
        key, message = first_error(exc, raw)
        raise ScenarioError(f"{path}.{key}" if key else path, message) from None
    return AdversarySpec(m.fraction, m.kind, m.scale, m.sigma)


def choose_adversaries(num_clients: int, spec: AdversarySpec, rng: np.random.Generator) -> set[int]:
    """Client indices that are Byzantine: round(fraction * num_clients) drawn uniformly."""
    count = min(num_clients, math.floor(spec.fraction * num_clients + 0.5))
    if count == 0:
        return set()
    return {int(i) for i in rng.choice(num_clients, size=count, replace=False)}


class ByzantineLearner:
    """Trains like `inner`, then corrupts the returned parameters per `spec`."""

    def __init__(self, inner: LocalLearner, spec: AdversarySpec, rng: np.random.Generator) -> None:
        self.inner = inner
        self.spec = spec
        self.rng = rng
        work_done = getattr(inner, "work_done", None)
        if work_done is not None:  # charged like the honest learner (fedsim.tasks.base)
            self.work_done = work_done
        played = getattr(inner, "played", None)
        if played is not None:  # an RL device plays like an honest one (clients.csv)
            self.played = played

    @property
    def num_examples(self) -> int:
        return int(self.inner.num_examples)

    def work(self, config: dict[str, Any]) -> float:
        return float(self.inner.work(config))

    def train(
        self, params: np.ndarray, config: dict[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        new, metrics = self.inner.train(params, config, rng)
        base = np.ascontiguousarray(params, dtype=np.float32)
        delta = np.ascontiguousarray(new, dtype=np.float32) - base
        out = np.empty_like(delta)
        kind = self.spec.kind
        if kind == "sign_flip":
            sign_flip(delta, self.spec.scale, out)
        elif kind == "scaled_noise":
            noise = self.rng.standard_normal(delta.size, dtype=np.float32)
            gaussian_noise(delta, noise, self.spec.sigma, out)
        else:  # random_update
            noise = self.rng.standard_normal(delta.size, dtype=np.float32)
            random_update(noise, self.spec.sigma, out)
        out += base
        return out, metrics


def _flip_labels(learner: ClassifierLearner) -> ClassifierLearner:
    classes = int(learner.sizes[-1])
    flipped = (classes - 1 - learner.y).astype(learner.y.dtype)
    return dataclasses.replace(learner, y=flipped)


def wrap(learner: LocalLearner, spec: AdversarySpec, rng: np.random.Generator) -> LocalLearner:
    """`learner` turned Byzantine. label_flip needs a classifier (a `ClassifierLearner`)."""
    if spec.kind == "label_flip":
        if not isinstance(learner, ClassifierLearner):
            raise ScenarioError(
                "adversaries.kind", "label_flip needs a classification task (digits, synthetic)"
            )
        return _flip_labels(learner)
    return ByzantineLearner(learner, spec, rng)

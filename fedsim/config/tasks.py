"""What is learned (`task:`): one variant per task kind, each declaring its options.

The task builders (fedsim/tasks/*) receive options already checked here; what a
task needs from the rest of the file (enough samples for every device, a model
that fits a device's memory) is a method the root model calls.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from fedsim.config.base import Section, at_key
from fedsim.config.units import Bool, choice, integer, number, parsed
from fedsim.config.variants import tagged

__all__ = [
    "DIGITS_CLASS_COUNTS",
    "TASK_KINDS",
    "CartPoleOptions",
    "DigitsOptions",
    "EnergyHarvestingOptions",
    "MultichannelOptions",
    "SyntheticOptions",
    "TaskModel",
    "classifier_memory_bytes",
]

DIGITS_CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
"""Samples per class of scikit-learn's digits (a test checks them against sklearn)."""
DIGITS_FEATURES = 64
CARTPOLE_MAX_RETURN = 500.0


class TaskOptions(Section):
    """A task's options; `metric` is the score it reports and where it can lie."""

    unknown_key_message: ClassVar[str] = "unknown option (allowed: {allowed})"
    metric: ClassVar[tuple[str, float, float]] = ("accuracy", 0.0, 1.0)

    def options(self) -> dict[str, Any]:
        """The options the file sets (the builder's defaults apply to the rest)."""
        return {
            k: v
            for k, v in self.model_dump(by_alias=True).items()
            if k in self.model_fields_set and k != "kind"
        }

    def check_devices(self, num_devices: int) -> str | None:
        """Why this task cannot give `num_devices` devices data (None: it can)."""
        return None

    def memory_bytes(self, batch_size: int) -> int | None:
        """Memory a device needs to train (None: not estimated)."""
        return None

    def data_bytes_per_device(self) -> float:
        """About how much memory the task's data take per device (for the host limit)."""
        return 0.0


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
    model: choice(("softmax", "mlp")) = Field(
        "softmax", description="softmax regression or a ReLU MLP"
    )  # type: ignore[valid-type]
    hidden: Hidden | None = Field(None, description="MLP layer widths (default [32])")  # type: ignore[valid-type]
    test_fraction: number(0.0, 1.0, lo_open=True, hi_open=True) = Field(
        0.2, description="held out for the server's test set"
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


# ------------------------------------------------------------------------------ RL tasks
def _rl_int(lo: int) -> Any:
    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"must be an integer, got {v!r}")
        if v < lo:
            raise ValueError(f"must be >= {lo}, got {v!r}")
        return v

    return parsed(parse, {"type": "integer", "minimum": lo}, int)


def _range(below: float, inclusive: bool) -> Any:
    """A per-device value: a number, or [lo, hi] drawn uniformly per device; 0 < lo <= hi."""
    bound = f"<= {below:g}" if inclusive else f"< {below:g}"

    def parse(v: Any) -> tuple[float, float]:
        ok = lambda x: isinstance(x, int | float) and not isinstance(x, bool)  # noqa: E731
        if ok(v):
            pair = [v, v]
        elif isinstance(v, list) and len(v) == 2 and all(map(ok, v)):
            pair = v
        else:
            raise ValueError(f"must be a number or a [lo, hi] pair, got {v!r}")
        try:
            lo, hi = float(pair[0]), float(pair[1])
        except OverflowError:
            raise ValueError(f"must be a finite number, got {v!r}") from None
        if not (0.0 < lo <= hi) or not math.isfinite(hi):
            raise ValueError(f"must be positive with lo <= hi, got {v!r}")
        if hi > below or (not inclusive and hi >= below):
            raise ValueError(f"must be {bound}, got {v!r}")
        return (lo, hi)

    one: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0}
    one["maximum" if inclusive else "exclusiveMaximum"] = below
    pair = {"type": "array", "items": one, "minItems": 2, "maxItems": 2}
    return parsed(parse, {"anyOf": [one, pair]}, tuple)


Dynamic = _range(math.inf, True)
Probability = _range(1.0, True)
OpenProbability = _range(1.0, False)
Discount = number(0.0, 1.0, lo_open=True, hi_open=True)
Optimizer = choice(("sgd", "adam"))
Baseline = choice(("none", "mean", "whiten", "running"))


class CartPoleOptions(TaskOptions):
    """CartPole devices with their own dynamics, trained by REINFORCE (docs/rl.md)."""

    kind: Literal["cartpole"]
    metric: ClassVar[tuple[str, float, float]] = ("mean_return", 0.0, CARTPOLE_MAX_RETURN)
    policy: choice(("linear", "mlp")) = "linear"  # type: ignore[valid-type]
    hidden: _rl_int(1) = 16  # type: ignore[valid-type]
    pole_half_length: Dynamic = 0.5  # type: ignore[valid-type]
    masspole: Dynamic = 0.1  # type: ignore[valid-type]
    masscart: Dynamic = 1.0  # type: ignore[valid-type]
    force_mag: Dynamic = 10.0  # type: ignore[valid-type]
    episodes: _rl_int(1) = 4  # type: ignore[valid-type]
    batch: _rl_int(1) = 4  # type: ignore[valid-type]
    lr: number(0.0, lo_open=True) = 0.03  # type: ignore[valid-type]
    gamma: number(0.0, 1.0, lo_open=True) = 0.99  # type: ignore[valid-type]
    optimizer: Optimizer = "adam"  # type: ignore[valid-type]
    baseline: Baseline = "whiten"  # type: ignore[valid-type]
    baseline_rate: number(0.0, 1.0, lo_open=True) = 0.1  # type: ignore[valid-type]
    eval_episodes: _rl_int(1) = 10  # type: ignore[valid-type]
    greedy_eval: Bool = True
    personalize_episodes: _rl_int(0) = 0  # type: ignore[valid-type]
    personalize_lr: number(0.0, lo_open=True) | None = None  # type: ignore[valid-type]
    personalize_batch: _rl_int(1) | None = None  # type: ignore[valid-type]
    personalize_optimizer: Optimizer | None = None  # type: ignore[valid-type]
    personalize_baseline: Baseline | None = None  # type: ignore[valid-type]
    personalize_check_every: _rl_int(0) = 0  # type: ignore[valid-type]


class TabularQOptions(TaskOptions):
    metric: ClassVar[tuple[str, float, float]] = ("fraction_of_optimal", -math.inf, 1.0)
    gamma: Discount = 0.95  # type: ignore[valid-type]
    steps: _rl_int(1) = 20_000  # type: ignore[valid-type]
    lr: number(0.0, lo_open=True) = 0.2  # type: ignore[valid-type]
    alpha_decay: number(0.0) = 0.01  # type: ignore[valid-type]
    epsilon: number(0.0, 1.0) = 0.1  # type: ignore[valid-type]
    episode_len: _rl_int(1) = 50  # type: ignore[valid-type]
    decay_over_rounds: Bool = True


class EnergyHarvestingOptions(TabularQOptions):
    """Energy-harvesting AoI sensors, tabular Q-learning, Q-tables averaged."""

    kind: Literal["energy_harvesting"]
    harvest_prob: Probability = (0.2, 0.6)  # type: ignore[valid-type]
    success_prob: Probability = (0.5, 0.9)  # type: ignore[valid-type]
    battery: _rl_int(1) = 4  # type: ignore[valid-type]
    max_age: _rl_int(1) = 10  # type: ignore[valid-type]


MULTICHANNEL_MAX_STATES = 4096


class MultichannelOptions(TabularQOptions):
    """Multichannel access over per-device Gilbert-Elliott channels."""

    kind: Literal["multichannel"]
    channels: _rl_int(1) = 3  # type: ignore[valid-type]
    p01: OpenProbability = (0.1, 0.4)  # type: ignore[valid-type]
    p11: OpenProbability = (0.6, 0.9)  # type: ignore[valid-type]
    max_gap: _rl_int(1) = 6  # type: ignore[valid-type]
    steps: _rl_int(1) = 100_000  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _states(self) -> MultichannelOptions:
        c, g = self.channels, self.max_gap
        if c > 12 or (2 * g) ** c > MULTICHANNEL_MAX_STATES:
            key = "channels" if "channels" in self.model_fields_set else "max_gap"
            raise at_key(
                key,
                f"options 'channels' and 'max_gap' give (2 * {g}) ** {c} states, more than "
                f"the {MULTICHANNEL_MAX_STATES} the exact evaluation handles",
            )
        return self


TASK_VARIANTS: dict[str, type[TaskOptions]] = {
    "digits": DigitsOptions,
    "synthetic": SyntheticOptions,
    "cartpole": CartPoleOptions,
    "energy_harvesting": EnergyHarvestingOptions,
    "multichannel": MultichannelOptions,
}
TASK_KINDS = tuple(TASK_VARIANTS)
TaskModel = Annotated[tagged(TASK_VARIANTS), Field(description="what is learned")]

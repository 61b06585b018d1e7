"""Options of the RL tasks (docs/rl.md); fedsim/tasks/rl.py builds from them."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from fedsim.config.base import at_key
from fedsim.config.task_options import TaskOptions
from fedsim.config.units import Bool, choice, number, parsed

__all__ = [
    "CARTPOLE_MAX_STEPS",
    "MULTICHANNEL_MAX_STATES",
    "RL_KINDS",
    "CartPoleOptions",
    "EnergyHarvestingOptions",
    "MultichannelOptions",
    "cartpole_flops_per_step",
    "cartpole_num_params",
    "cartpole_train_flops",
]

CARTPOLE_MAX_RETURN = 500.0
CARTPOLE_MAX_STEPS = 500
"""An episode's truncation (gymnasium's CartPole-v1; fedsim.kernels.rl's too)."""
CARTPOLE_UPDATE_FLOPS_PER_PARAM = 10
"""An optimizer step, per parameter (Adam's moments and step; SGD charged the same)."""
PROX_FLOPS_PER_PARAM = 3
"""FedProx's term per parameter and update: a subtraction, a product, a subtraction."""


def cartpole_num_params(hidden: int) -> int:
    """Length of the flat policy vector: linear (0) 4x2 + 2, or an MLP (H) 7H + 2."""
    return 10 if hidden == 0 else 7 * hidden + 2


def cartpole_flops_per_step(hidden: int) -> int:
    """FLOPs of one environment step in training: the rollout's forward, the gradient's
    forward and backward, and the dynamics (docs/rl.md)."""
    fwd = 2 * 8 + 20 if hidden == 0 else 2 * 6 * hidden + 20 * hidden + 20
    return 4 * fwd + 40


def cartpole_train_flops(hidden: int, steps: int, updates: int, prox: bool) -> float:
    """FLOPs of trainings that played `steps` in all and made `updates` gradient steps;
    `prox`: with FedProx's term. The learner charges this, the audit recomputes it."""
    per_param = CARTPOLE_UPDATE_FLOPS_PER_PARAM + (PROX_FLOPS_PER_PARAM if prox else 0)
    return float(
        steps * cartpole_flops_per_step(hidden) + updates * per_param * cartpole_num_params(hidden)
    )


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
    local_keys: ClassVar[frozenset[str] | None] = frozenset({"episodes", "batch", "lr", "gamma"})
    client_terms: ClassVar[frozenset[str]] = frozenset({"mu"})  # in reinforce_train's steps

    @model_validator(mode="after")
    def _hidden(self) -> CartPoleOptions:
        # As `hidden` on softmax digits: a linear policy has no hidden layer.
        if self.policy == "linear" and "hidden" in self.model_fields_set:
            raise at_key("hidden", "a linear policy has no hidden layer (use policy: mlp)")
        return self

    def local_updates(self, local: dict[str, Any]) -> int:
        """Gradient steps in one local training under `fl.local` (`local`)."""
        episodes = int(local.get("episodes", self.episodes))
        return -(-episodes // max(1, min(int(local.get("batch", self.batch)), episodes)))

    def prox_advice(self, mu: float, local: dict[str, Any]) -> list[str]:
        """Where FedProx's term cannot act as meant: one update a round (its gradient
        is zero at the global policy the training starts from), or SGD's step
        lr x mu >= 2 (the term overshoots and the policy diverges from the anchor)."""
        out = []
        updates = self.local_updates(local)
        if mu > 0 and updates == 1:
            out.append(
                "fl.strategy.mu: task cartpole makes one gradient step a round (episodes / "
                "batch), where the proximal term's gradient is zero: fedprox trains exactly "
                "as fedavg; a batch below episodes gives mu steps to act on"
            )
        lr = float(local.get("lr", self.lr))
        if mu > 0 and self.optimizer == "sgd" and updates > 1 and lr * mu >= 2.0:
            out.append(
                f"fl.strategy.mu: lr x mu = {lr * mu:g} >= 2 with optimizer sgd: each step "
                "overshoots the global policy by more than it corrects, so the local policy "
                "oscillates away from it; lower mu below "
                f"{2 / lr:g}"
            )
        return out

    def unread_options(self) -> list[str]:
        given = self.model_fields_set
        out = []
        if self.personalize_episodes == 0:
            tuning = sorted(k for k in given if k.startswith("personalize_") and k != (
                "personalize_episodes"))  # fmt: skip
            if tuning:
                keys = ", ".join(f"task.{k}" for k in tuning)
                them = "them" if len(tuning) > 1 else "it"
                out.append(
                    f"{keys}: only fine-tuning reads {them}, and task.personalize_episodes "
                    f"is 0 (none), so {'they are' if len(tuning) > 1 else 'it is'} not used"
                )
        tuned = self.personalize_baseline or self.baseline
        running = self.baseline == "running" or (
            self.personalize_episodes > 0 and tuned == "running"
        )
        if "baseline_rate" in given and not running:
            out.append(
                f"task.baseline_rate: only baseline running reads it; baseline is "
                f"{self.baseline}, so it is not used"
            )
        return out


class TabularQOptions(TaskOptions):
    metric: ClassVar[tuple[str, float, float]] = ("fraction_of_optimal", -math.inf, 1.0)
    local_keys: ClassVar[frozenset[str] | None] = frozenset(
        {"steps", "lr", "gamma", "epsilon", "alpha_decay"}
    )
    client_terms: ClassVar[frozenset[str]] = frozenset()  # no gradient step for mu
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
    max_age: _rl_int(2) = 10  # type: ignore[valid-type]

    def data_bytes_per_device(self) -> float:
        """Each device's MDP: (battery + 1) * max_age states, 2 actions, 4 outcomes
        (int64 next state + float64 probability), plus the value iteration's arrays."""
        states = (self.battery + 1) * self.max_age
        return states * 2 * 4 * 16 * 2.0


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


RL_KINDS = ("cartpole", "energy_harvesting", "multichannel")
"""The task kinds whose devices play environments (clients.csv `env_episodes`)."""

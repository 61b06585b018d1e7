"""Reinforcement-learning tasks behind the FL task contract (`fedsim.tasks.base`).

CartPole with per-device dynamics (environment heterogeneity) trained by REINFORCE,
and finite IoT MDPs (energy-harvesting AoI, multichannel access) trained by tabular
Q-learning, whose Q-tables the server averages (QAvg). Each device's environment is
drawn deterministically from the task seed, so a run is reproducible and the
evaluator scores every candidate model on the same fixed set of environments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fedsim.config.rl_tasks import cartpole_flops_per_step, cartpole_train_flops
from fedsim.kernels.rl import (
    BASELINE_MEAN,
    BASELINE_NONE,
    BASELINE_RUNNING,
    BASELINE_WHITEN,
    CARTPOLE_MAX_STEPS,
    OPT_ADAM,
    OPT_SGD,
    cartpole_evaluate,
    policy_num_params,
    q_greedy_policy,
    q_learning,
    reinforce_train,
)
from fedsim.tasks.envs import (
    FiniteMDP,
    energy_harvesting_mdp,
    fraction_of_optimal,
    multichannel_mdp,
    value_iteration,
)

__all__ = [
    "CartPoleTask",
    "EnergyHarvestingTask",
    "MultichannelTask",
    "TabularQTask",
    "build_rl_task",
]

Range = float | tuple[float, float] | Sequence[float]

_OPTIMIZERS = {"sgd": OPT_SGD, "adam": OPT_ADAM}
_BASELINES = {
    "none": BASELINE_NONE,
    "mean": BASELINE_MEAN,
    "whiten": BASELINE_WHITEN,
    "running": BASELINE_RUNNING,
}


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def _draw(name: str, value: Range, n: int, rng: np.random.Generator) -> np.ndarray:
    """n per-device values: a constant, or uniform on a (lo, hi) range."""
    if isinstance(value, int | float):
        lo = hi = float(value)
    else:
        vals = list(value)
        if len(vals) != 2:
            raise ValueError(f"option {name!r} must be a number or a (lo, hi) pair, got {value!r}")
        lo, hi = float(vals[0]), float(vals[1])
    if not (0.0 < lo <= hi) or not np.isfinite(hi):
        raise ValueError(f"option {name!r} must be positive with lo <= hi, got {value!r}")
    return rng.uniform(lo, hi, size=n)


def _mu(config: dict[str, Any]) -> float:
    """FedProx's proximal weight from the round's config (the strategy sends `mu`)."""
    mu = float(config.get("mu", 0.0))
    if not mu >= 0.0:
        raise ValueError(f"mu must be >= 0, got {mu!r}")
    return mu


class Played:
    """What a device's learner played over the run, every training counted (accepted
    upload or not): the `env_episodes` and `env_steps` of clients.csv."""

    __slots__ = ("episodes", "steps", "trainings")

    def __init__(self) -> None:
        self.episodes = 0
        self.steps = 0
        self.trainings = 0

    def add(self, episodes: int, steps: int) -> None:
        self.episodes += int(episodes)
        self.steps += int(steps)
        self.trainings += 1


def _choice(name: str, value: str, table: dict[str, int]) -> int:
    if value not in table:
        raise ValueError(f"option {name!r} must be one of {sorted(table)}, got {value!r}")
    return table[value]


# ------------------------------------------------------------------------------ CartPole


class _CartPoleLearner:
    """One device's REINFORCE on its own CartPole.

    Holds the device's running-average return baseline (`baseline: running`) across
    rounds: it is local state, like an optimizer's, and never leaves the device.
    """

    def __init__(self, task: CartPoleTask, dyn: np.ndarray) -> None:
        self._task = task
        self.dyn = dyn
        self.num_examples = task.episodes
        self.running_baseline = 0.0
        self.played = Played()

    def work(self, config: dict[str, Any]) -> float:
        """The most `train(config)` can cost: every episode runs to truncation. The
        client charges `work_done` instead, what the episodes played cost."""
        episodes = int(config.get("episodes", self._task.episodes))
        return self._flops(config, episodes * CARTPOLE_MAX_STEPS)

    def work_done(self, config: dict[str, Any], metrics: dict[str, float]) -> float:
        """FLOPs of the training that returned `metrics`: its environment steps."""
        return self._flops(config, int(metrics["steps"]))

    def _flops(self, config: dict[str, Any], steps: int) -> float:
        t = self._task
        episodes = int(config.get("episodes", t.episodes))
        batch = max(1, int(config.get("batch", t.batch)))
        updates = -(-episodes // batch)
        # The optimizer's step, plus FedProx's term mu * (theta - anchor) when mu > 0.
        return cartpole_train_flops(t.hidden, steps, updates, _mu(config) > 0.0)

    def train(
        self, params: np.ndarray, config: dict[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        t = self._task
        new, episodes, steps, mean_return, self.running_baseline = reinforce_train(
            np.asarray(params, dtype=np.float32),
            t.hidden,
            self.dyn,
            int(config.get("episodes", t.episodes)),
            int(config.get("batch", t.batch)),
            float(config.get("lr", t.lr)),
            float(config.get("gamma", t.gamma)),
            t.optimizer,
            t.baseline,
            CARTPOLE_MAX_STEPS,
            _seed(rng),
            self.running_baseline,
            t.baseline_rate,
            _mu(config),
        )
        self.played.add(episodes, steps)
        return new, {"episodes": float(episodes), "steps": float(steps), "mean_return": mean_return}


class _CartPoleEvaluator:
    """Mean return over the devices' own environments, optionally after fine-tuning.

    With fine-tuning the headline metric is `mean_return_personalized`, never the plain
    name: it scores a policy per device, not the shared one, so `compare` must not
    set it beside an unpersonalised run's `mean_return` as like for like. The shared
    policy's own scores keep their plain names in the same dict (summary.json's
    `final_scores`). Fine-tuning is a server-side evaluation protocol: it runs here,
    on every device's dynamics, for every candidate model, and costs no device time,
    energy or episodes (docs/rl.md)."""

    higher_is_better = True

    def __init__(self, task: CartPoleTask) -> None:
        self._task = task
        self.metric_name = task.metric_name

    def _returns(self, params: np.ndarray, dyns: np.ndarray, seed: int) -> np.ndarray:
        t = self._task
        r = cartpole_evaluate(
            np.asarray(params, dtype=np.float32),
            t.hidden,
            dyns,
            t.eval_episodes,
            t.greedy_eval,
            CARTPOLE_MAX_STEPS,
            seed,
        )
        return r.mean(axis=1)

    def device_return(self, params: np.ndarray, device: int, seed: int | None = None) -> float:
        """Mean greedy (unless `greedy_eval: false`) return of `params` on one device's own
        dynamics, over `eval_episodes` episodes from `eval_seed + device` (or `seed`)."""
        t = self._task
        s = t.eval_seed + device if seed is None else seed
        return float(self._returns(params, t.dynamics[device : device + 1], s)[0])

    def personalize(self, params: np.ndarray, device: int) -> tuple[np.ndarray, int]:
        """Fine-tune `params` on `device`'s own dynamics: (policy it deploys, episodes used).

        Up to `personalize_episodes` episodes of REINFORCE with the task's learner settings
        unless overridden (`personalize_lr`, `_batch`, `_optimizer`, `_baseline`). A running
        baseline starts at the mean return-to-go of one probe episode (counted). With
        `personalize_check_every` C > 0 the device scores its policy every C episodes on
        its own dynamics (selection episodes, not the reported ones), deploys the best
        checkpoint (the global policy counts) and stops once one scores the maximum.
        """
        t = self._task
        rng = np.random.default_rng([t.seed, 0xE7A1, device])
        dyn = t.dynamics[device]
        p = np.asarray(params, dtype=np.float32)
        run_b, used = 0.0, 0
        if t.personalize_baseline == BASELINE_RUNNING:
            *_, run_b = reinforce_train(
                p, t.hidden, dyn, 1, 1, 0.0, t.gamma, OPT_SGD, BASELINE_NONE,
                CARTPOLE_MAX_STEPS, _seed(rng), 0.0, 1.0,
            )  # fmt: skip
            used = 1
        check = t.personalize_check_every
        sel_seed = int(rng.integers(2**31 - 1))
        best, best_score = p, self.device_return(p, device, sel_seed) if check else 0.0
        remaining = t.personalize_episodes
        while remaining > 0 and best_score < CARTPOLE_MAX_STEPS:
            n = min(check, remaining) if check else remaining
            p, _, _, _, run_b = reinforce_train(
                p, t.hidden, dyn, n, t.personalize_batch, t.personalize_lr, t.gamma,
                t.personalize_optimizer, t.personalize_baseline, CARTPOLE_MAX_STEPS,
                _seed(rng), run_b, t.baseline_rate,
            )  # fmt: skip
            used += n
            remaining -= n
            if not check:
                best = p
            elif (score := self.device_return(p, device, sel_seed)) > best_score:
                best, best_score = p, score
        return best, used

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        t = self._task
        per_device = self._returns(params, t.dynamics, t.eval_seed)
        out = {
            "mean_return": float(per_device.mean()),
            "min_device_return": float(per_device.min()),
        }
        if t.personalize_episodes > 0:
            n = len(t.dynamics)
            tuned, used = np.empty(n), np.empty(n)
            for i in range(n):
                p, used[i] = self.personalize(params, i)
                tuned[i] = self.device_return(p, i)
            out["mean_return_personalized"] = float(tuned.mean())
            out["min_device_return_personalized"] = float(tuned.min())
            out["personalize_episodes"] = float(used.mean())
        return out


class CartPoleTask:
    """CartPole devices that differ in pole length, pole mass, cart mass and force.

    A dynamics option is a constant or a (lo, hi) range drawn uniformly per device
    from `seed`. `episodes` is the default local work per update (also
    `num_examples`); config keys "episodes", "batch" (episodes per gradient step),
    "lr" and "gamma" override it per round. `baseline` is "none" (vanilla
    REINFORCE on returns-to-go), "mean" or "whiten" (the update's own batch),
    or "running" (a per-device running average of past returns-to-go, moving
    `baseline_rate` per update). With `personalize_episodes` K > 0 the evaluator
    fine-tunes the global policy on each device for up to K episodes (the learner's
    lr, batch, optimizer and baseline unless a `personalize_*` option overrides
    one; `personalize_check_every` C > 0 keeps the best of the checkpoints every C
    episodes, scored on the device's own dynamics) before scoring it there
    ("mean_return_personalized", the headline metric then, and
    "min_device_return_personalized"; "mean_return" and "min_device_return" stay the
    shared policy's, "personalize_episodes" is the mean number of fine-tuning episodes).
    """

    name = "cartpole"
    metric_name = "mean_return"
    """"mean_return_personalized" when `personalize_episodes` > 0 (set per instance)."""

    def __init__(
        self,
        num_clients: int,
        seed: int,
        policy: str = "linear",
        hidden: int = 16,
        pole_half_length: Range = 0.5,
        masspole: Range = 0.1,
        masscart: Range = 1.0,
        force_mag: Range = 10.0,
        episodes: int = 4,
        batch: int = 4,
        lr: float = 0.03,
        gamma: float = 0.99,
        optimizer: str = "adam",
        baseline: str = "whiten",
        baseline_rate: float = 0.1,
        eval_episodes: int = 10,
        greedy_eval: bool = True,
        personalize_episodes: int = 0,
        personalize_lr: float | None = None,
        personalize_batch: int | None = None,
        personalize_optimizer: str | None = None,
        personalize_baseline: str | None = None,
        personalize_check_every: int = 0,
    ) -> None:
        if num_clients < 1:
            raise ValueError(f"num_clients must be >= 1, got {num_clients}")
        if policy not in ("linear", "mlp"):
            raise ValueError(f"option 'policy' must be 'linear' or 'mlp', got {policy!r}")
        if policy == "mlp" and hidden < 1:
            raise ValueError(f"option 'hidden' must be >= 1, got {hidden}")
        for key, val in (
            ("episodes", episodes),
            ("batch", batch),
            ("eval_episodes", eval_episodes),
        ):
            if int(val) < 1:
                raise ValueError(f"option {key!r} must be >= 1, got {val!r}")
        for key, val in (
            ("personalize_episodes", personalize_episodes),
            ("personalize_check_every", personalize_check_every),
        ):
            if int(val) < 0:
                raise ValueError(f"option {key!r} must be >= 0, got {val!r}")
        if personalize_batch is not None and int(personalize_batch) < 1:
            raise ValueError(f"option 'personalize_batch' must be >= 1, got {personalize_batch!r}")
        self.seed = int(seed)
        self.hidden = 0 if policy == "linear" else int(hidden)
        self.num_params = policy_num_params(self.hidden)
        self.episodes = int(episodes)
        self.batch = int(batch)
        self.lr = float(lr)
        self.gamma = float(gamma)
        self.optimizer = _choice("optimizer", optimizer, _OPTIMIZERS)
        self.baseline = _choice("baseline", baseline, _BASELINES)
        if not (0.0 < baseline_rate <= 1.0):
            raise ValueError(f"option 'baseline_rate' must be in (0, 1], got {baseline_rate!r}")
        self.baseline_rate = float(baseline_rate)
        # Personalisation defaults to the device's own learner settings.
        self.personalize_lr = self.lr if personalize_lr is None else float(personalize_lr)
        self.personalize_batch = self.batch if personalize_batch is None else int(personalize_batch)
        self.personalize_optimizer = (
            self.optimizer
            if personalize_optimizer is None
            else _choice("personalize_optimizer", personalize_optimizer, _OPTIMIZERS)
        )
        self.personalize_baseline = (
            self.baseline
            if personalize_baseline is None
            else _choice("personalize_baseline", personalize_baseline, _BASELINES)
        )
        self.personalize_check_every = int(personalize_check_every)
        self.eval_episodes = int(eval_episodes)
        self.greedy_eval = bool(greedy_eval)
        self.personalize_episodes = int(personalize_episodes)
        if self.personalize_episodes > 0:
            self.metric_name = "mean_return_personalized"
        self.eval_seed = int(np.random.default_rng([self.seed, 0xE7A0]).integers(2**31 - 1))
        rng = np.random.default_rng([self.seed, 0xC0DE])
        self.dynamics = np.stack(
            [
                _draw("pole_half_length", pole_half_length, num_clients, rng),
                _draw("masspole", masspole, num_clients, rng),
                _draw("masscart", masscart, num_clients, rng),
                _draw("force_mag", force_mag, num_clients, rng),
            ],
            axis=1,
        )
        """Per-device (half-length, masspole, masscart, force_mag), float64 (n, 4)."""
        self.flops_per_step = cartpole_flops_per_step(self.hidden)
        """Rollout forward + gradient forward/backward + dynamics, per env step."""

    def initial_params(self) -> np.ndarray:
        if self.hidden == 0:
            return np.zeros(self.num_params, dtype=np.float32)
        H = self.hidden
        rng = np.random.default_rng([self.seed, 0x1417])
        p = np.zeros(self.num_params)
        p[: 4 * H] = rng.normal(0.0, 0.5, 4 * H)
        p[5 * H : 7 * H] = rng.normal(0.0, 0.5 / np.sqrt(H), 2 * H)
        return p.astype(np.float32)

    def learner(self, client_index: int) -> _CartPoleLearner:
        return _CartPoleLearner(self, self.dynamics[client_index])

    def evaluator(self) -> _CartPoleEvaluator:
        return _CartPoleEvaluator(self)


# ------------------------------------------------------------------ tabular Q-learning


class _QLearner:
    """One device's epsilon-greedy Q-learning on its own MDP."""

    def __init__(self, task: TabularQTask, mdp: FiniteMDP) -> None:
        self._task = task
        self.mdp = mdp
        self.num_examples = task.steps
        self.visits = np.zeros((mdp.num_states, mdp.num_actions))
        """This device's visit count per (s, a) over the whole run (step-size schedule)."""
        self.played = Played()

    def work(self, config: dict[str, Any]) -> float:
        steps = int(config.get("steps", self._task.steps))
        # argmax and max over actions, outcome sampling, one update.
        return float(steps * (4 * self.mdp.num_actions + 2 * self.mdp.next_states.shape[2] + 10))

    def work_done(self, config: dict[str, Any], metrics: dict[str, float]) -> float:
        """`work(config)`: a Q-learner always plays its steps. Having it makes the client
        train first, at the task's instant, then charge (fedsim.tasks.base), so what
        `played` counts is settled in simulated time: a training charged before it ran
        in a worker thread could finish after the run's end, or not, by the host's
        timing (clients.csv env columns, audit rl-play-counted)."""
        return self.work(config)

    def train(
        self, params: np.ndarray, config: dict[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        t = self._task
        m = self.mdp
        Q0 = np.asarray(params, dtype=np.float32).reshape(m.num_states, m.num_actions)
        steps = int(config.get("steps", t.steps))
        if _mu(config) > 0.0:  # the config check refuses fedprox here first (task_reads)
            raise ValueError(
                f"task {t.name}: tabular Q-learning has no gradient step for FedProx's "
                "proximal term (mu)"
            )
        Q, mean_reward = q_learning(
            Q0,
            m.next_states,
            m.next_probs,
            m.rewards,
            m.start,
            steps,
            t.episode_len,
            float(config.get("lr", t.lr)),
            float(config.get("gamma", m.gamma)),
            float(config.get("epsilon", t.epsilon)),
            _seed(rng),
            float(config.get("alpha_decay", t.alpha_decay)),
            self.visits if t.decay_over_rounds else None,
        )
        episodes = -(-steps // t.episode_len)
        self.played.add(episodes, steps)
        return Q.ravel(), {
            "episodes": float(episodes),
            "steps": float(steps),
            "mean_reward": mean_reward,
        }


class _QEvaluator:
    """Exact fraction of optimal of the greedy policy, per device; min and mean."""

    metric_name = "fraction_of_optimal"
    higher_is_better = True

    def __init__(self, task: TabularQTask) -> None:
        self._task = task

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        t = self._task
        Q = np.asarray(params, dtype=np.float32).reshape(t.num_states, t.num_actions)
        policy = q_greedy_policy(Q)
        fr = np.array(
            [
                fraction_of_optimal(m, policy, v)
                for m, v in zip(t.mdps, t.optimal_values, strict=True)
            ]
        )
        return {
            "fraction_of_optimal": float(fr.min()),
            "fraction_of_optimal_mean": float(fr.mean()),
        }


class TabularQTask:
    """Devices with their own finite MDPs (same state/action spaces), Q-tables averaged.

    Parameters are the Q-table flattened (S * A float32); FedAvg over them is QAvg.
    Config keys "steps", "lr" (step size), "gamma", "epsilon", "alpha_decay".
    """

    name = "tabular_q"
    metric_name = "fraction_of_optimal"

    def __init__(
        self,
        mdps: Sequence[FiniteMDP],
        steps: int = 20_000,
        lr: float = 0.2,
        alpha_decay: float = 0.01,
        epsilon: float = 0.1,
        episode_len: int = 50,
        decay_over_rounds: bool = True,
    ) -> None:
        if not mdps:
            raise ValueError("need at least one device MDP")
        shapes = {m.next_states.shape[:2] for m in mdps}
        if len(shapes) != 1:
            raise ValueError(f"device MDPs must share state and action spaces, got {shapes}")
        for key, val in (("steps", steps), ("episode_len", episode_len)):
            if int(val) < 1:
                raise ValueError(f"option {key!r} must be >= 1, got {val!r}")
        if not (0.0 <= epsilon <= 1.0):
            raise ValueError(f"option 'epsilon' must be in [0, 1], got {epsilon!r}")
        if lr <= 0.0 or alpha_decay < 0.0:
            raise ValueError(
                f"options 'lr' > 0 and 'alpha_decay' >= 0, got {lr!r}, {alpha_decay!r}"
            )
        self.mdps = list(mdps)
        self.num_states, self.num_actions = shapes.pop()
        self.steps = int(steps)
        self.lr = float(lr)
        self.alpha_decay = float(alpha_decay)
        self.epsilon = float(epsilon)
        self.episode_len = int(episode_len)
        self.decay_over_rounds = bool(decay_over_rounds)
        self.optimal_values = [value_iteration(m)[0] for m in self.mdps]
        """Per-device V* (exact), the reference for the score."""

    def initial_params(self) -> np.ndarray:
        return np.zeros(self.num_states * self.num_actions, dtype=np.float32)

    def learner(self, client_index: int) -> _QLearner:
        return _QLearner(self, self.mdps[client_index])

    def evaluator(self) -> _QEvaluator:
        return _QEvaluator(self)


class EnergyHarvestingTask(TabularQTask):
    """Energy-harvesting AoI sensors, each with its own harvest and channel probability."""

    name = "energy_harvesting"

    def __init__(
        self,
        num_clients: int,
        seed: int,
        harvest_prob: Range = (0.2, 0.6),
        success_prob: Range = (0.5, 0.9),
        battery: int = 4,
        max_age: int = 10,
        gamma: float = 0.95,
        steps: int = 20_000,
        lr: float = 0.2,
        alpha_decay: float = 0.01,
        epsilon: float = 0.1,
        episode_len: int = 50,
        decay_over_rounds: bool = True,
    ) -> None:
        rng = np.random.default_rng([int(seed), 0xE4E7])
        h = _draw("harvest_prob", harvest_prob, num_clients, rng)
        c = _draw("success_prob", success_prob, num_clients, rng)
        for key, given in (("harvest_prob", harvest_prob), ("success_prob", success_prob)):
            # The range, not just this seed's draws from it, must lie within [0, 1].
            if max(np.atleast_1d(np.asarray(given, dtype=np.float64))) > 1.0:
                raise OptionError(key, f"option {key!r} must be <= 1, got {given!r}")
        self.harvest_prob = h
        self.success_prob = c
        mdps = [
            energy_harvesting_mdp(float(hi), float(ci), battery, max_age, gamma=gamma)
            for hi, ci in zip(h, c, strict=True)
        ]
        super().__init__(mdps, steps, lr, alpha_decay, epsilon, episode_len, decay_over_rounds)


class OptionError(ValueError):
    """A bad RL task option; `option` names it (topology key `task.<option>`), or is None."""

    def __init__(self, option: str | None, message: str) -> None:
        super().__init__(message)
        self.option = option


class MultichannelTask(TabularQTask):
    """Multichannel access: each device sees its own Gilbert-Elliott channels.

    Device i's channel j moves bad->good w.p. `p01` and good->good w.p. `p11`, each
    drawn per (device, channel) from its range. The state is, per channel, the last
    observed state and the slots since (capped at `max_gap`): (2 * max_gap) ** channels
    states, `channels` actions, reward 1 when the chosen channel is good. Policies are
    scored exactly (a sparse S x S solve per device); the state space is capped at `MAX_STATES`.
    """

    name = "multichannel"
    MAX_STATES = 4096

    def __init__(
        self,
        num_clients: int,
        seed: int,
        channels: int = 3,
        p01: Range = (0.1, 0.4),
        p11: Range = (0.6, 0.9),
        max_gap: int = 6,
        gamma: float = 0.95,
        steps: int = 100_000,
        lr: float = 0.2,
        alpha_decay: float = 0.01,
        epsilon: float = 0.1,
        episode_len: int = 50,
        decay_over_rounds: bool = True,
    ) -> None:
        for key, val in (("channels", channels), ("max_gap", max_gap)):
            if int(val) < 1:
                raise OptionError(key, f"option {key!r} must be >= 1, got {val!r}")
        channels, max_gap = int(channels), int(max_gap)
        # 2 ** 13 > MAX_STATES: no need to compute a huge power for many channels.
        if channels > 12 or (2 * max_gap) ** channels > self.MAX_STATES:
            raise ValueError(  # build_rl_task names whichever of the two the file sets
                f"options 'channels' and 'max_gap' give (2 * {max_gap}) ** {channels} "
                f"states, more than the {self.MAX_STATES} the exact evaluation handles"
            )
        if not (0.0 < gamma < 1.0):
            raise OptionError("gamma", f"option 'gamma' must be in (0, 1), got {gamma!r}")
        rng = np.random.default_rng([int(seed), 0x3C4A])
        a = _draw("p01", p01, num_clients * channels, rng).reshape(num_clients, channels)
        b = _draw("p11", p11, num_clients * channels, rng).reshape(num_clients, channels)
        for key, given in (("p01", p01), ("p11", p11)):
            # The range, not just this seed's draws from it, must lie below 1.
            if max(np.atleast_1d(np.asarray(given, dtype=np.float64))) >= 1.0:
                raise OptionError(key, f"option {key!r} must be < 1, got {given!r}")
        self.p01 = a
        self.p11 = b
        """Per-device, per-channel transition probabilities, float64 (n, channels)."""
        mdps = [multichannel_mdp(a[i], b[i], max_gap, gamma) for i in range(num_clients)]
        super().__init__(mdps, steps, lr, alpha_decay, epsilon, episode_len, decay_over_rounds)


_KINDS: dict[str, type] = {
    "cartpole": CartPoleTask,
    "energy_harvesting": EnergyHarvestingTask,
    "multichannel": MultichannelTask,
}


def build_rl_task(kind: str, options: dict[str, Any], num_clients: int, seed: int) -> Any:
    """Build an RL task from a topology file's task section.

    The options are checked first by the task's declaration (fedsim.config.tasks), so
    an error is an `OptionError` (a `ValueError`) whose `option` names the bad option:
    unknown keys, wrong types, ranges, too many states.
    """
    from pydantic import ValidationError

    from fedsim.config.errors import first_error
    from fedsim.config.tasks import TASK_VARIANTS

    if kind not in _KINDS:
        raise OptionError(None, f"unknown RL task kind {kind!r}; expected one of {sorted(_KINDS)}")
    data = {"kind": kind, **options}
    try:
        TASK_VARIANTS[kind].model_validate(data)
    except ValidationError as exc:
        path, message = first_error(exc, data)
        option = path.split(".")[0].split("[")[0] or None
        raise OptionError(option, f"option {option!r}: {message}" if option else message) from None
    return _KINDS[kind](num_clients, seed, **options)

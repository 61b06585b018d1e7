"""RL kernels learn: REINFORCE balances CartPole, Q-learning nears value iteration."""

from __future__ import annotations

import numpy as np
import pytest

from fedsim.kernels.rl import (
    BASELINE_NONE,
    BASELINE_WHITEN,
    CARTPOLE_DEFAULT_DYNAMICS,
    CARTPOLE_MAX_STEPS,
    OPT_ADAM,
    OPT_SGD,
    cartpole_evaluate,
    policy_log_prob,
    policy_num_params,
    q_greedy_policy,
    q_learning,
    reinforce_train,
)
from fedsim.tasks.envs import (
    energy_harvesting_mdp,
    fraction_of_optimal,
    multichannel_mdp,
    policy_value,
    value_iteration,
)

DYN = CARTPOLE_DEFAULT_DYNAMICS


def _episodes_to_solve(
    hidden: int, lr: float, batch: int, optimizer: int, seed: int, budget: int
) -> int | None:
    """Episodes of local training until the greedy policy averages >= 475 over 10 episodes."""
    rng = np.random.default_rng(seed)
    params = np.zeros(policy_num_params(hidden), dtype=np.float32)
    if hidden:
        params = rng.normal(0.0, 0.5, params.size).astype(np.float32)
    done = 0
    while done < budget:
        params, eps, *_ = reinforce_train(
            params, hidden, DYN, 20, batch, lr, 0.99, optimizer, BASELINE_WHITEN,
            CARTPOLE_MAX_STEPS, int(rng.integers(2**31 - 1)),
        )  # fmt: skip
        done += eps
        if cartpole_evaluate(params, hidden, DYN[None], 10, True, 500, 1).mean() >= 475:
            return done
    return None


def test_linear_reinforce_solves_cartpole() -> None:
    # Adam, lr 0.03, 4 episodes per update: about 200-250 episodes on these seeds.
    for seed in range(3):
        n = _episodes_to_solve(0, 0.03, 4, OPT_ADAM, seed, budget=1000)
        assert n is not None, f"seed {seed} did not reach 475 within 1000 episodes"


def test_linear_sgd_single_episode_updates_solve_cartpole() -> None:
    assert _episodes_to_solve(0, 0.3, 1, OPT_SGD, 0, budget=2000) is not None


def test_mlp_reinforce_solves_cartpole() -> None:
    assert _episodes_to_solve(16, 0.03, 1, OPT_ADAM, 0, budget=1000) is not None


def test_reinforce_is_deterministic() -> None:
    p0 = np.zeros(10, dtype=np.float32)
    a = reinforce_train(p0, 0, DYN, 8, 4, 0.03, 0.99, OPT_ADAM, BASELINE_WHITEN, 500, 42)
    b = reinforce_train(p0, 0, DYN, 8, 4, 0.03, 0.99, OPT_ADAM, BASELINE_WHITEN, 500, 42)
    c = reinforce_train(p0, 0, DYN, 8, 4, 0.03, 0.99, OPT_ADAM, BASELINE_WHITEN, 500, 43)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:] == b[1:]
    assert not np.array_equal(a[0], c[0])
    assert a[0].dtype == np.float32
    np.testing.assert_array_equal(p0, 0.0)  # input untouched


@pytest.mark.parametrize("hidden", [0, 5])
def test_policy_gradient_matches_finite_differences(hidden: int) -> None:
    rng = np.random.default_rng(3)
    theta = rng.normal(0.0, 0.5, policy_num_params(hidden))
    for _ in range(5):
        obs = rng.normal(0.0, 1.0, 4)
        action = int(rng.integers(2))
        _, grad = policy_log_prob(theta, hidden, obs, action)
        fd = np.empty_like(theta)
        for i in range(theta.size):
            e = np.zeros_like(theta)
            e[i] = 1e-6
            fd[i] = (
                policy_log_prob(theta + e, hidden, obs, action)[0]
                - policy_log_prob(theta - e, hidden, obs, action)[0]
            ) / 2e-6
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("h", "c"), [(0.3, 0.7), (0.5, 0.9), (0.2, 0.5), (0.6, 0.6)])
def test_q_learning_within_5_percent_of_value_iteration(h: float, c: float) -> None:
    mdp = energy_harvesting_mdp(h, c, battery=4, max_age=10)
    v_opt, _, _ = value_iteration(mdp)
    Q0 = np.zeros((mdp.num_states, 2), dtype=np.float32)
    Q, _ = q_learning(
        Q0, mdp.next_states, mdp.next_probs, mdp.rewards, mdp.start,
        100_000, 50, 0.5, mdp.gamma, 0.1, 1, 0.05,
    )  # fmt: skip
    assert fraction_of_optimal(mdp, q_greedy_policy(Q), v_opt) >= 0.95


def test_q_learning_is_deterministic() -> None:
    mdp = energy_harvesting_mdp(0.4, 0.8)
    Q0 = np.zeros((mdp.num_states, 2), dtype=np.float32)
    args = (mdp.next_states, mdp.next_probs, mdp.rewards, mdp.start, 5000, 50, 0.5, 0.95, 0.1)
    a, _ = q_learning(Q0, *args, 5, 0.05)
    b, _ = q_learning(Q0, *args, 5, 0.05)
    np.testing.assert_array_equal(a, b)


def test_value_iteration_is_optimal_and_consistent() -> None:
    mdp = energy_harvesting_mdp(0.3, 0.7, battery=4, max_age=10)
    V, Q, policy = value_iteration(mdp)
    np.testing.assert_allclose(V, policy_value(mdp, policy), atol=1e-9)
    np.testing.assert_allclose(Q.max(axis=1), V, atol=1e-9)  # Bellman optimality
    rng = np.random.default_rng(0)
    for _ in range(20):
        other = rng.integers(2, size=mdp.num_states)
        assert np.all(policy_value(mdp, other) <= V + 1e-9)
    assert fraction_of_optimal(mdp, policy, V) == pytest.approx(1.0)
    never = fraction_of_optimal(mdp, np.zeros(mdp.num_states, dtype=np.int64), V)
    assert 0.0 < never < 0.5
    np.testing.assert_allclose(mdp.next_probs.sum(axis=2), 1.0)


def test_multichannel_reference() -> None:
    mdp = multichannel_mdp(np.array([0.2, 0.3]), np.array([0.8, 0.7]), max_gap=4)
    np.testing.assert_allclose(mdp.next_probs.sum(axis=2), 1.0)
    V, _, _policy = value_iteration(mdp)
    # Expected reward per slot is a probability: the value is within [0, 1/(1-gamma)].
    assert np.all((V >= 0) & (1 / (1 - mdp.gamma) + 1e-9 >= V))
    myopic = np.argmax(mdp.q_from_v(np.zeros(mdp.num_states)), axis=1)
    assert fraction_of_optimal(mdp, myopic, V) <= 1.0 + 1e-12
    Q, _ = q_learning(
        np.zeros((mdp.num_states, 2), dtype=np.float32), mdp.next_states, mdp.next_probs,
        mdp.rewards, mdp.start, 200_000, 50, 0.5, mdp.gamma, 0.1, 2, 0.05,
    )  # fmt: skip
    assert fraction_of_optimal(mdp, q_greedy_policy(Q), V) >= 0.95


@pytest.mark.slow
def test_federation_cuts_rounds_of_noisy_single_episode_sgd() -> None:
    """Criterion 2 in miniature: vanilla REINFORCE, one episode per update, SGD lr 0.3.
    Averaging 5 devices' updates needs several times fewer rounds than one device."""
    cap = 1500

    def rounds(n: int, seed: int) -> int:
        rng = np.random.default_rng([seed, n])
        p = np.zeros(10, dtype=np.float32)
        for r in range(1, cap + 1):
            args = (DYN, 1, 1, 0.3, 0.99, OPT_SGD, BASELINE_NONE, 500)
            ups = [reinforce_train(p, 0, *args, int(rng.integers(2**31 - 1)))[0] for _ in range(n)]
            p = np.mean(ups, axis=0, dtype=np.float64).astype(np.float32)
            if cartpole_evaluate(p, 0, DYN[None], 10, True, 500, 1).mean() >= 475:
                return r
        return cap

    fed = [rounds(5, s) for s in range(3)]
    alone = [rounds(1, s) for s in range(3)]
    assert np.median(alone) >= 3 * np.median(fed), (fed, alone)

"""The Numba CartPole is gymnasium's CartPole-v1, step for step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from fedsim.kernels.rl import (
    CARTPOLE_DEFAULT_DYNAMICS,
    CARTPOLE_MAX_STEPS,
    cartpole_evaluate,
    cartpole_run_actions,
    cartpole_step,
)


def _gym_env(dyn: np.ndarray) -> gym.Env:
    env = gym.make("CartPole-v1")
    u = env.unwrapped
    u.length, u.masspole, u.masscart, u.force_mag = (float(v) for v in dyn)
    u.total_mass = u.masspole + u.masscart
    u.polemass_length = u.masspole * u.length
    return env


DYNAMICS = [
    CARTPOLE_DEFAULT_DYNAMICS,
    np.array([0.1, 0.1, 1.0, 10.0]),
    np.array([0.9, 0.3, 1.5, 7.0]),
]


@pytest.mark.parametrize("dyn", DYNAMICS)
def test_single_steps_match_gymnasium(dyn: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    env = _gym_env(dyn)
    env.reset(seed=0)
    u = env.unwrapped
    for _ in range(2000):
        s = rng.uniform([-2.6, -3, -0.25, -3.5], [2.6, 3, 0.25, 3.5])
        a = int(rng.integers(2))
        u.state = s.copy()
        u.steps_beyond_terminated = None
        obs, reward, terminated, _, _ = u.step(a)
        mine = s.copy()
        term = cartpole_step(mine, a, dyn)
        np.testing.assert_allclose(mine, u.state, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(mine.astype(np.float32), obs)
        assert term == terminated
        assert reward == 1.0


@pytest.mark.parametrize("dyn", DYNAMICS)
def test_whole_episodes_match_gymnasium(dyn: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    env = _gym_env(dyn)
    lengths = set()
    for ep in range(30):
        env.reset(seed=ep)
        s0 = env.unwrapped.state.copy()
        # A balancing-ish action sequence so that some episodes reach truncation.
        actions = []
        ret = 0.0
        terminated = truncated = False
        state = s0.copy()
        bias = rng.uniform(0.0, 1.0)
        while not (terminated or truncated):
            a = int(state[2] + 0.5 * state[3] > 0) if rng.random() < bias else int(rng.integers(2))
            actions.append(a)
            _, r, terminated, truncated, _ = env.step(a)
            ret += r
            cartpole_step(state, a, dyn)
            np.testing.assert_allclose(state, env.unwrapped.state, rtol=0, atol=1e-9)
        n, my_ret, my_term, my_trunc = cartpole_run_actions(
            s0, np.array(actions, dtype=np.int64), dyn, CARTPOLE_MAX_STEPS
        )
        assert n == len(actions)
        assert my_ret == ret
        assert my_term == terminated
        assert my_trunc == (truncated and not terminated)
        lengths.add(n)
    assert len(lengths) > 3


def test_truncation_at_500_steps() -> None:
    # Pushing against the pole's lean keeps the default pole up for the whole episode.
    env = _gym_env(CARTPOLE_DEFAULT_DYNAMICS)
    env.reset(seed=3)
    state = env.unwrapped.state.copy()
    s0 = state.copy()
    actions = []
    done = False
    while not done:
        a = int(state[2] + 0.5 * state[3] > 0)
        actions.append(a)
        _, _, term, trunc, _ = env.step(a)
        cartpole_step(state, a, CARTPOLE_DEFAULT_DYNAMICS)
        done = term or trunc
    assert trunc
    assert len(actions) == CARTPOLE_MAX_STEPS
    n, ret, term2, trunc2 = cartpole_run_actions(
        s0, np.array([*actions, 0, 1, 0], dtype=np.int64), CARTPOLE_DEFAULT_DYNAMICS, 500
    )
    assert (n, ret, term2, trunc2) == (500, 500.0, term, not term)


def test_evaluate_is_deterministic_and_bounded() -> None:
    params = np.zeros(10, dtype=np.float32)
    dyns = np.stack(DYNAMICS)
    a = cartpole_evaluate(params, 0, dyns, 5, False, CARTPOLE_MAX_STEPS, 7)
    b = cartpole_evaluate(params, 0, dyns, 5, False, CARTPOLE_MAX_STEPS, 7)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 5)
    assert np.all((a >= 1) & (a <= CARTPOLE_MAX_STEPS))

"""Reinforcement-learning kernels: CartPole, policy-gradient training, tabular Q-learning.

CartPole repeats gymnasium's CartPole-v1 step operation for operation (float64 state,
Euler integration), with the dynamics constants passed per environment so that each
device can have its own pole. Whole rollouts and whole training loops run inside
Numba: a per-step call from Python would cost ten times the step itself.

Randomness: every kernel that samples takes a `seed` drawn by the caller from a
numpy Generator and calls `np.random.seed(seed)` on entry. Numba's generator is
per-thread, so seeding at entry makes each call deterministic whatever thread runs it.

Policy parameters are one flat float32 vector. Linear softmax (`hidden == 0`):
W (4x2, row-major) then b (2) — 10 values. MLP (`hidden == H`): W1 (4xH), b1 (H),
W2 (Hx2), b2 (2), tanh hidden layer — 7H + 2 values.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "BASELINE_MEAN",
    "BASELINE_NONE",
    "BASELINE_RUNNING",
    "BASELINE_WHITEN",
    "CARTPOLE_DEFAULT_DYNAMICS",
    "CARTPOLE_MAX_STEPS",
    "OPT_ADAM",
    "OPT_SGD",
    "cartpole_evaluate",
    "cartpole_random_steps",
    "cartpole_reset",
    "cartpole_run_actions",
    "cartpole_step",
    "policy_log_prob",
    "policy_num_params",
    "q_greedy_policy",
    "q_learning",
    "reinforce_train",
]

GRAVITY = 9.8
TAU = 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
CARTPOLE_MAX_STEPS = 500
CARTPOLE_DEFAULT_DYNAMICS = np.array([0.5, 0.1, 1.0, 10.0])
"""Per-environment dynamics: pole half-length, masspole, masscart, force_mag."""

OPT_SGD = 0
OPT_ADAM = 1
BASELINE_NONE = 0
BASELINE_MEAN = 1
"""Subtract the mean return-to-go of the update's batch."""
BASELINE_WHITEN = 2
"""Subtract the batch mean and divide by the batch standard deviation."""
BASELINE_RUNNING = 3
"""Subtract a running average of past returns-to-go, carried across calls by the caller."""


def policy_num_params(hidden: int) -> int:
    """Length of the flat parameter vector for a linear (0) or MLP (H) policy."""
    return 10 if hidden == 0 else 7 * hidden + 2


# --------------------------------------------------------------------------- CartPole


@njit(cache=True, nogil=True)
def cartpole_step(state: np.ndarray, action: int, dyn: np.ndarray) -> bool:
    """Advance `state` (float64[4], in place) by one step; return `terminated`."""
    length = dyn[0]
    masspole = dyn[1]
    masscart = dyn[2]
    force_mag = dyn[3]
    total_mass = masspole + masscart
    polemass_length = masspole * length
    x = state[0]
    x_dot = state[1]
    theta = state[2]
    theta_dot = state[3]
    force = force_mag if action == 1 else -force_mag
    costheta = math.cos(theta)
    sintheta = math.sin(theta)
    temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (
        length * (4.0 / 3.0 - masspole * (costheta * costheta) / total_mass)
    )
    xacc = temp - polemass_length * thetaacc * costheta / total_mass
    x = x + TAU * x_dot
    x_dot = x_dot + TAU * xacc
    theta = theta + TAU * theta_dot
    theta_dot = theta_dot + TAU * thetaacc
    state[0] = x
    state[1] = x_dot
    state[2] = theta
    state[3] = theta_dot
    return (
        x < -X_THRESHOLD or x > X_THRESHOLD or theta < -THETA_THRESHOLD or theta > THETA_THRESHOLD
    )


@njit(cache=True, nogil=True)
def cartpole_reset(state: np.ndarray) -> None:
    """Draw the start state uniform(-0.05, 0.05) from the (already seeded) Numba RNG."""
    for i in range(4):
        state[i] = np.random.uniform(-0.05, 0.05)


@njit(cache=True, nogil=True)
def cartpole_run_actions(
    state0: np.ndarray, actions: np.ndarray, dyn: np.ndarray, max_steps: int
) -> tuple[int, float, bool, bool]:
    """Play a fixed action sequence from `state0`: (length, return, terminated, truncated)."""
    state = state0.copy()
    n = 0
    ret = 0.0
    terminated = False
    while n < actions.shape[0] and n < max_steps:
        terminated = cartpole_step(state, actions[n], dyn)
        n += 1
        ret += 1.0
        if terminated:
            break
    truncated = (not terminated) and n >= max_steps
    return n, ret, terminated, truncated


@njit(cache=True, nogil=True)
def cartpole_random_steps(dyn: np.ndarray, n_steps: int, seed: int) -> int:
    """Step CartPole with uniform random actions for `n_steps`; return episodes finished."""
    np.random.seed(seed)
    state = np.empty(4)
    cartpole_reset(state)
    episodes = 0
    t = 0
    for _ in range(n_steps):
        a = np.random.randint(2)
        done = cartpole_step(state, a, dyn)
        t += 1
        if done or t >= CARTPOLE_MAX_STEPS:
            episodes += 1
            t = 0
            cartpole_reset(state)
    return episodes


# ----------------------------------------------------------------------------- policy


@njit(cache=True, nogil=True)
def _observe(state: np.ndarray, obs: np.ndarray) -> None:
    # The agent sees what gymnasium returns: the state rounded to float32.
    for i in range(4):
        obs[i] = np.float64(np.float32(state[i]))


@njit(cache=True, nogil=True)
def _prob_right(theta: np.ndarray, hidden: int, obs: np.ndarray, h: np.ndarray) -> float:
    """P(action 1 | obs); fills the hidden activations `h` for an MLP."""
    if hidden == 0:
        z0 = theta[8]
        z1 = theta[9]
        for i in range(4):
            z0 += obs[i] * theta[2 * i]
            z1 += obs[i] * theta[2 * i + 1]
    else:
        H = hidden
        for k in range(H):
            z = theta[4 * H + k]
            for i in range(4):
                z += obs[i] * theta[i * H + k]
            h[k] = math.tanh(z)
        z0 = theta[7 * H]
        z1 = theta[7 * H + 1]
        for k in range(H):
            z0 += h[k] * theta[5 * H + 2 * k]
            z1 += h[k] * theta[5 * H + 2 * k + 1]
    d = z1 - z0
    if d >= 0.0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


@njit(cache=True, nogil=True)
def _add_grad_logp(
    theta: np.ndarray,
    hidden: int,
    obs: np.ndarray,
    action: int,
    coef: float,
    h: np.ndarray,
    grad: np.ndarray,
) -> None:
    """grad += coef * d log pi(action | obs) / d theta."""
    p1 = _prob_right(theta, hidden, obs, h)
    d1 = action - p1  # d log pi / d z1; d / d z0 is -d1
    d0 = -d1
    if hidden == 0:
        for i in range(4):
            grad[2 * i] += coef * obs[i] * d0
            grad[2 * i + 1] += coef * obs[i] * d1
        grad[8] += coef * d0
        grad[9] += coef * d1
        return
    H = hidden
    grad[7 * H] += coef * d0
    grad[7 * H + 1] += coef * d1
    for k in range(H):
        w0 = theta[5 * H + 2 * k]
        w1 = theta[5 * H + 2 * k + 1]
        grad[5 * H + 2 * k] += coef * h[k] * d0
        grad[5 * H + 2 * k + 1] += coef * h[k] * d1
        dz = (w0 * d0 + w1 * d1) * (1.0 - h[k] * h[k]) * coef
        grad[4 * H + k] += dz
        for i in range(4):
            grad[i * H + k] += obs[i] * dz


@njit(cache=True, nogil=True)
def policy_log_prob(
    params: np.ndarray, hidden: int, obs: np.ndarray, action: int
) -> tuple[float, np.ndarray]:
    """(log pi(action | obs), its gradient): the policy's forward and backward, for tests."""
    theta = params.astype(np.float64)
    h = np.empty(max(hidden, 1))
    grad = np.zeros(theta.shape[0])
    p1 = _prob_right(theta, hidden, obs, h)
    _add_grad_logp(theta, hidden, obs, action, 1.0, h, grad)
    return math.log(p1 if action == 1 else 1.0 - p1), grad


@njit(cache=True, nogil=True)
def _episode(
    theta: np.ndarray,
    hidden: int,
    dyn: np.ndarray,
    greedy: bool,
    max_steps: int,
    obs_buf: np.ndarray,
    act_buf: np.ndarray,
    offset: int,
    h: np.ndarray,
) -> int:
    """Run one episode; record float32-rounded observations and actions from `offset`."""
    state = np.empty(4)
    cartpole_reset(state)
    obs = np.empty(4)
    t = 0
    while t < max_steps:
        _observe(state, obs)
        p1 = _prob_right(theta, hidden, obs, h)
        u = 0.5 if greedy else np.random.random()
        a = 1 if u < p1 else 0
        if obs_buf.shape[0] > 0:
            for i in range(4):
                obs_buf[offset + t, i] = obs[i]
            act_buf[offset + t] = a
        t += 1
        if cartpole_step(state, a, dyn):
            break
    return t


@njit(cache=True, nogil=True)
def cartpole_evaluate(
    params: np.ndarray,
    hidden: int,
    dyns: np.ndarray,
    episodes: int,
    greedy: bool,
    max_steps: int,
    seed: int,
) -> np.ndarray:
    """Returns (float64[n_env, episodes]) of the policy on each environment `dyns[e]`."""
    np.random.seed(seed)
    theta = params.astype(np.float64)
    h = np.empty(max(hidden, 1))
    empty_obs = np.empty((0, 4))
    empty_act = np.empty(0, dtype=np.int64)
    out = np.empty((dyns.shape[0], episodes))
    for e in range(dyns.shape[0]):
        for k in range(episodes):
            out[e, k] = _episode(
                theta, hidden, dyns[e], greedy, max_steps, empty_obs, empty_act, 0, h
            )
    return out


@njit(cache=True, nogil=True)
def reinforce_train(
    params: np.ndarray,
    hidden: int,
    dyn: np.ndarray,
    episodes: int,
    batch: int,
    lr: float,
    gamma: float,
    optimizer: int,
    baseline: int,
    max_steps: int,
    seed: int,
    run_b: float = 0.0,
    run_rate: float = 0.1,
    mu: float = 0.0,
) -> tuple[np.ndarray, int, int, float, float]:
    """REINFORCE: `episodes` sampled episodes, one gradient-ascent step per `batch` of them.

    The gradient is the mean over the batch's time steps of (G_t - baseline) times
    grad log pi(a_t|s_t), with G_t the discounted return-to-go. With
    `BASELINE_RUNNING` the baseline is `run_b`, a running average of earlier
    returns-to-go (it never sees the batch it is applied to, so the gradient stays
    unbiased); after each update it moves `run_rate` of the way to the batch mean.
    Adam moments start at zero on every call (a fresh optimizer per local update,
    as in FL practice). `mu` > 0 is FedProx's local objective: the ascent direction
    of every update gets -mu * (theta - params), the gradient of the proximal term
    -mu/2 ||theta - params||^2 that keeps the local policy near the global one it
    started from (zero at the first update, so one update per call is FedAvg).
    Returns (new float32 params, episodes, env steps, mean undiscounted return,
    updated running baseline).
    """
    np.random.seed(seed)
    theta = params.astype(np.float64)
    anchor = params.astype(np.float64)
    n = theta.shape[0]
    grad = np.zeros(n)
    m = np.zeros(n)
    v = np.zeros(n)
    h = np.empty(max(hidden, 1))
    batch = max(1, min(batch, episodes))
    obs_buf = np.empty((batch * max_steps, 4))
    act_buf = np.empty(batch * max_steps, dtype=np.int64)
    ret_buf = np.empty(batch * max_steps)
    ends = np.empty(batch, dtype=np.int64)
    total_steps = 0
    total_return = 0.0
    adam_t = 0
    done_eps = 0
    while done_eps < episodes:
        nb = min(batch, episodes - done_eps)
        off = 0
        for b in range(nb):
            length = _episode(theta, hidden, dyn, False, max_steps, obs_buf, act_buf, off, h)
            g = 0.0
            for t in range(off + length - 1, off - 1, -1):
                g = 1.0 + gamma * g
                ret_buf[t] = g
            off += length
            ends[b] = off
            total_return += length
        done_eps += nb
        total_steps += off
        mean = 0.0
        scale = 1.0
        batch_mean = 0.0
        for t in range(off):
            batch_mean += ret_buf[t]
        batch_mean /= off
        if baseline in (BASELINE_MEAN, BASELINE_WHITEN):
            mean = batch_mean
        elif baseline == BASELINE_RUNNING:
            mean = run_b
        run_b += run_rate * (batch_mean - run_b)
        if baseline == BASELINE_WHITEN:
            var = 0.0
            for t in range(off):
                var += (ret_buf[t] - mean) ** 2
            scale = 1.0 / (math.sqrt(var / off) + 1e-8)
        grad[:] = 0.0
        for t in range(off):
            coef = (ret_buf[t] - mean) * scale / off
            _add_grad_logp(theta, hidden, obs_buf[t], act_buf[t], coef, h, grad)
        if mu != 0.0:
            for i in range(n):
                grad[i] -= mu * (theta[i] - anchor[i])
        if optimizer == OPT_ADAM:
            adam_t += 1
            c1 = 1.0 - 0.9**adam_t
            c2 = 1.0 - 0.999**adam_t
            for i in range(n):
                m[i] = 0.9 * m[i] + 0.1 * grad[i]
                v[i] = 0.999 * v[i] + 0.001 * grad[i] * grad[i]
                theta[i] += lr * (m[i] / c1) / (math.sqrt(v[i] / c2) + 1e-8)
        else:
            for i in range(n):
                theta[i] += lr * grad[i]
    mean_return = total_return / max(episodes, 1)
    return theta.astype(np.float32), episodes, total_steps, mean_return, run_b


# ------------------------------------------------------------------ tabular Q-learning


@njit(cache=True, nogil=True)
def _sample_cum(cum: np.ndarray, u: float) -> int:
    for i in range(cum.shape[0]):
        if u < cum[i]:
            return i
    return cum.shape[0] - 1


@njit(cache=True, nogil=True)
def _argmax_row(Q: np.ndarray, s: int) -> int:
    best = 0
    for a in range(1, Q.shape[1]):
        if Q[s, a] > Q[s, best]:
            best = a
    return best


@njit(cache=True, nogil=True)
def q_greedy_policy(Q: np.ndarray) -> np.ndarray:
    """Greedy action per state (ties to the lowest action)."""
    out = np.empty(Q.shape[0], dtype=np.int64)
    for s in range(Q.shape[0]):
        out[s] = _argmax_row(Q, s)
    return out


@njit(cache=True, nogil=True)
def q_learning(
    Q0: np.ndarray,
    next_states: np.ndarray,
    next_probs: np.ndarray,
    rewards: np.ndarray,
    start_probs: np.ndarray,
    steps: int,
    episode_len: int,
    alpha: float,
    gamma: float,
    epsilon: float,
    seed: int,
    alpha_decay: float = 0.0,
    visits: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Epsilon-greedy Q-learning on a finite MDP given as sparse successor tables.

    `next_states[s, a, m]`, `next_probs[s, a, m]` and `rewards[s, a, m]` list the
    (at most M) outcomes of action a in state s. The agent restarts from
    `start_probs` every `episode_len` steps (bootstrapping through the cut, since the
    task is continuing). The step size for the n-th visit of (s, a) within this call
    is alpha / (1 + alpha_decay * n): a Robbins-Monro schedule when alpha_decay > 0,
    which removes most of the constant-step noise from the final Q. Pass `visits`
    (float64 (S, A), updated in place) to count visits across calls, so that the
    step size keeps decaying over a whole federated run rather than restarting
    every round.
    Returns (new float32 Q of shape (S, A), mean reward).
    """
    np.random.seed(seed)
    Q = Q0.astype(np.float64)
    n_actions = Q.shape[1]
    start_cum = np.cumsum(start_probs)
    M = next_states.shape[2]
    cum = np.empty(M)
    n_visits = np.zeros(Q.shape) if visits is None else visits
    s = 0
    total = 0.0
    for t in range(steps):
        if t % episode_len == 0:
            s = _sample_cum(start_cum, np.random.random())
        explore = np.random.random() < epsilon
        a = np.random.randint(n_actions) if explore else _argmax_row(Q, s)
        acc = 0.0
        for k in range(M):
            acc += next_probs[s, a, k]
            cum[k] = acc
        k = _sample_cum(cum, np.random.random() * acc)
        s2 = next_states[s, a, k]
        r = rewards[s, a, k]
        total += r
        best = Q[s2, 0]
        for b in range(1, n_actions):
            best = max(best, Q[s2, b])
        step = alpha / (1.0 + alpha_decay * n_visits[s, a])
        n_visits[s, a] += 1.0
        Q[s, a] += step * (r + gamma * best - Q[s, a])
        s = s2
    return Q.astype(np.float32), total / max(steps, 1)

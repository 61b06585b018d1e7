"""IoT-flavoured finite MDPs with exact optima: energy-harvesting AoI and multichannel access.

Each environment is built as sparse successor tables (`FiniteMDP`): the same tables
drive the Numba Q-learning kernel (sampling) and the exact references here (value
iteration for the optimum, a linear solve for a policy's value). A learned policy is
scored as a fraction of optimal from a fixed start distribution, computed exactly —
no sampling noise in the metric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "FiniteMDP",
    "energy_harvesting_mdp",
    "fraction_of_optimal",
    "multichannel_mdp",
    "policy_value",
    "value_iteration",
]


@dataclass(frozen=True)
class FiniteMDP:
    """Outcome m of action a in state s: `next_states[s, a, m]` w.p. `next_probs[s, a, m]`,
    with reward `rewards[s, a, m]`. Unused outcome slots have probability 0."""

    next_states: np.ndarray  # int64 (S, A, M)
    next_probs: np.ndarray  # float64 (S, A, M)
    rewards: np.ndarray  # float64 (S, A, M)
    start: np.ndarray  # float64 (S,), the start distribution used for scoring
    gamma: float

    @property
    def num_states(self) -> int:
        return self.next_states.shape[0]

    @property
    def num_actions(self) -> int:
        return self.next_states.shape[1]

    def q_from_v(self, V: np.ndarray) -> np.ndarray:
        """One Bellman backup: Q(s, a) = E[r + gamma V(s')]."""
        return np.sum(self.next_probs * (self.rewards + self.gamma * V[self.next_states]), axis=2)


def value_iteration(
    mdp: FiniteMDP, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal (V*, Q*, greedy policy), by value iteration to `tol` then exact polishing.

    The greedy policy of the converged values is re-evaluated exactly and improved
    until stable (policy iteration), so the returned V* is the exact value of an
    optimal policy, not a truncated fixed-point iterate.
    """
    V = np.zeros(mdp.num_states)
    while True:
        V_new = mdp.q_from_v(V).max(axis=1)
        delta = np.max(np.abs(V_new - V))
        V = V_new
        if delta < tol:
            break
    policy = np.argmax(mdp.q_from_v(V), axis=1)
    for _ in range(100):
        V = policy_value(mdp, policy)
        Q = mdp.q_from_v(V)
        # Keep the current action unless another is strictly better (avoids tie cycling).
        better = Q.max(axis=1) > Q[np.arange(mdp.num_states), policy] + 1e-12
        if not better.any():
            break
        policy = np.where(better, np.argmax(Q, axis=1), policy)
    return V, Q, policy


def policy_value(mdp: FiniteMDP, policy: np.ndarray) -> np.ndarray:
    """Exact discounted value of a deterministic policy: solve (I - gamma P_pi) V = r_pi.

    Sparse: a state has a handful of successors, and a dense solve of a few thousand
    states costs 100x more (and fights the simulator for cores through BLAS threads)."""
    from scipy.sparse import csr_matrix, identity
    from scipy.sparse.linalg import spsolve

    S = mdp.num_states
    idx = np.arange(S)
    ns = mdp.next_states[idx, policy]  # (S, M)
    ps = mdp.next_probs[idx, policy]
    r = np.sum(ps * mdp.rewards[idx, policy], axis=1)
    P = csr_matrix((ps.ravel(), (np.repeat(idx, ns.shape[1]), ns.ravel())), shape=(S, S))
    return np.asarray(spsolve((identity(S, format="csr") - mdp.gamma * P).tocsc(), r))


def fraction_of_optimal(mdp: FiniteMDP, policy: np.ndarray, v_opt: np.ndarray) -> float:
    """Policy return / optimal return from `mdp.start` (1 = optimal, lower = worse).

    For cost-type tasks (non-positive rewards, e.g. -AoI) the ratio is inverted —
    optimal cost / policy cost — so it is again 1 at the optimum and falls toward 0.
    """
    vp = float(mdp.start @ policy_value(mdp, policy))
    vo = float(mdp.start @ v_opt)
    if vo < 0.0:
        return vo / vp
    return vp / vo if vo > 0.0 else 1.0


def energy_harvesting_mdp(
    harvest_prob: float,
    success_prob: float,
    battery: int = 5,
    max_age: int = 20,
    tx_cost: int = 1,
    gamma: float = 0.95,
) -> FiniteMDP:
    """An energy-harvesting sensor keeping a monitor's age of information (AoI) low.

    State (battery b in 0..battery, AoI in 1..max_age, capped), index
    `b * max_age + age - 1`. Actions: 0 idle, 1 sense and transmit (costs `tx_cost`
    units; without enough energy it is an idle step). A transmission is delivered with
    probability `success_prob` (AoI resets to 1), else AoI grows; one energy unit is
    harvested with probability `harvest_prob`, usable from the next step. Reward is
    minus the AoI after the step. Scoring starts uniformly over all states.
    """
    if not (0.0 <= harvest_prob <= 1.0 and 0.0 <= success_prob <= 1.0):
        raise ValueError(f"probabilities must be in [0, 1], got {harvest_prob}, {success_prob}")
    if battery < tx_cost or max_age < 2:
        raise ValueError(f"need battery >= tx_cost and max_age >= 2, got {battery}, {max_age}")
    S = (battery + 1) * max_age
    ns = np.zeros((S, 2, 4), dtype=np.int64)
    ps = np.zeros((S, 2, 4))
    rs = np.zeros((S, 2, 4))
    for b in range(battery + 1):
        for age in range(1, max_age + 1):
            s = b * max_age + age - 1
            for a in range(2):
                sent = a == 1 and b >= tx_cost
                p_ok = success_prob if sent else 0.0
                m = 0
                for ok in (True, False):
                    for harvested in (True, False):
                        p = (p_ok if ok else 1.0 - p_ok) * (
                            harvest_prob if harvested else 1.0 - harvest_prob
                        )
                        age2 = 1 if ok else min(age + 1, max_age)
                        b2 = min(b - (tx_cost if sent else 0) + int(harvested), battery)
                        ns[s, a, m] = b2 * max_age + age2 - 1
                        ps[s, a, m] = p
                        rs[s, a, m] = -age2
                        m += 1
    return FiniteMDP(ns, ps, rs, np.full(S, 1.0 / S), gamma)


def multichannel_mdp(
    p01: np.ndarray, p11: np.ndarray, max_gap: int = 6, gamma: float = 0.95
) -> FiniteMDP:
    """Dynamic multichannel access: pick one of N Gilbert-Elliott channels per slot.

    Channel i moves bad->good w.p. `p01[i]` and good->good w.p. `p11[i]`; the user
    sees only the channel it picks (reward 1 if good). Its sufficient statistic per
    channel is (last observed state o, slots since observed k), with belief
    P(good) = pi + (o - pi) * lambda^k, lambda = p11 - p01. Capping k at `max_gap`
    makes the belief MDP finite (the error is |lambda|^max_gap); this finite MDP is
    the environment, so its value-iteration optimum is exact for it. State index is
    mixed-radix over channels, each digit `o * max_gap + k - 1`.
    """
    p01 = np.asarray(p01, dtype=np.float64)
    p11 = np.asarray(p11, dtype=np.float64)
    N = p01.shape[0]
    if p11.shape != (N,) or N < 1:
        raise ValueError(f"p01 and p11 must be equal-length vectors, got {p01.shape}, {p11.shape}")
    if np.any((p01 <= 0) | (p01 >= 1) | (p11 <= 0) | (p11 >= 1)):
        raise ValueError("channel transition probabilities must be in (0, 1)")
    D = 2 * max_gap
    S = D**N
    lam = p11 - p01
    pi = p01 / (1.0 - lam)
    digits = np.array(np.unravel_index(np.arange(S), (D,) * N)).T  # (S, N), channel 0 first
    o = digits // max_gap
    k = digits % max_gap + 1
    belief = pi + (o - pi) * lam**k  # P(channel good in this slot)
    aged = o * max_gap + np.minimum(k + 1, max_gap) - 1
    radix = D ** np.arange(N - 1, -1, -1)
    ns = np.zeros((S, N, 2), dtype=np.int64)
    ps = np.zeros((S, N, 2))
    rs = np.zeros((S, N, 2))
    for a in range(N):
        for m, good in enumerate((1, 0)):
            d = aged.copy()
            d[:, a] = good * max_gap  # observed now: k = 1
            ns[:, a, m] = d @ radix
            ps[:, a, m] = belief[:, a] if good else 1.0 - belief[:, a]
            rs[:, a, m] = float(good)
    return FiniteMDP(ns, ps, rs, np.full(S, 1.0 / S), gamma)

"""Strategies on synthetic updates, against Byzantine clients, and in a tiny FL loop."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fedsim.fl.messages import ClientInfo, RoundUpdates, TrainRes
from fedsim.fl.strategies.fedadam import FedAdam
from fedsim.fl.strategies.fedavg import FedAvg
from fedsim.fl.strategies.fedavgm import FedAvgM
from fedsim.fl.strategies.fedprox import FedProx
from fedsim.fl.strategies.krum import Krum
from fedsim.fl.strategies.registry import STRATEGIES, build_strategy
from fedsim.fl.strategy import Strategy
from fedsim.kernels.train import evaluate, init_params, sgd_train

D = 64


def make_updates(matrix: np.ndarray, counts: np.ndarray | None = None) -> RoundUpdates:
    k = matrix.shape[0]
    counts = np.full(k, 10, dtype=np.int64) if counts is None else counts
    results = [TrainRes(f"c{i}", 1, 0, int(counts[i]), matrix[i], {}) for i in range(k)]
    return RoundUpdates(
        results, np.ascontiguousarray(matrix, dtype=np.float32), counts.astype(np.float64)
    )


def test_registry_lists_every_strategy_by_its_name() -> None:
    assert set(STRATEGIES) == {
        "fedavg",
        "fedprox",
        "fedavgm",
        "fedadam",
        "fedyogi",
        "fedadagrad",
        "median",
        "trimmed_mean",
        "krum",
    }
    for name, cls in STRATEGIES.items():
        assert cls.name == name
        assert issubclass(cls, Strategy)


def test_build_strategy_checks_names_and_options() -> None:
    s = build_strategy("fedprox", {"mu": 0.5}, clients_per_round=3, epochs=2)
    assert isinstance(s, FedProx)
    assert s.mu == 0.5
    assert s.local_config == {"epochs": 2}
    with pytest.raises(ValueError, match=r"unknown strategy 'fedsgd'; known: .*fedavg"):
        build_strategy("fedsgd", {})
    with pytest.raises(ValueError, match="'mu'"):
        build_strategy("fedavg", {"mu": 0.1})
    with pytest.raises(ValueError, match="beta"):
        build_strategy("trimmed_mean", {"beta": 0.7})
    with pytest.raises(ValueError, match="f must"):
        build_strategy("krum", {"f": -1})


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_each_strategy_returns_a_sensible_model(name: str) -> None:
    """Clients agreeing on a target move the global model towards it."""
    rng = np.random.default_rng(0)
    glob = np.zeros(D, dtype=np.float32)
    target = rng.normal(size=D).astype(np.float32)
    U = (target + 0.01 * rng.normal(size=(8, D))).astype(np.float32)
    strat = build_strategy(name, {})
    new, metrics = strat.aggregate(1, glob, make_updates(U), [])
    assert new is not None
    assert new.dtype == np.float32
    assert new.shape == glob.shape
    assert np.isfinite(new).all()
    assert all(isinstance(v, float) for v in metrics.values())
    # a step in the right direction
    assert np.linalg.norm(new - target) < np.linalg.norm(glob - target)
    assert float((new - glob) @ target) > 0
    # nothing to aggregate: keep the model
    assert strat.aggregate(2, glob, make_updates(np.empty((0, D), np.float32)), [])[0] is None


@pytest.mark.parametrize("name", ["fedavg", "fedprox", "median", "trimmed_mean", "krum"])
def test_plain_aggregators_return_the_consensus(name: str) -> None:
    rng = np.random.default_rng(1)
    row = rng.normal(size=D).astype(np.float32)
    new, _ = build_strategy(name, {}).aggregate(
        1, np.zeros(D, np.float32), make_updates(np.tile(row, (6, 1))), []
    )
    np.testing.assert_allclose(new, row, rtol=1e-6)


def test_fedavg_weights_by_examples() -> None:
    U = np.array([[0.0, 0.0], [4.0, 8.0]], dtype=np.float32)
    new, _ = FedAvg().aggregate(1, np.zeros(2, np.float32), make_updates(U, np.array([3, 1])), [])
    np.testing.assert_allclose(new, [1.0, 2.0])


def test_fedprox_sends_mu_and_keeps_local_config() -> None:
    clients = [ClientInfo(f"c{i}", 10) for i in range(4)]
    s = FedProx(mu=0.3, clients_per_round=2, epochs=3)
    plan = s.configure_round(1, 7, clients, np.random.default_rng(0))
    assert len(plan) == 2
    for _, ins in plan:
        assert ins.config == {"epochs": 3, "mu": 0.3}
        assert ins.model_version == 7


def test_fedavgm_accumulates_momentum() -> None:
    s = FedAvgM(server_lr=1.0, momentum=0.5)
    glob = np.zeros(3, np.float32)
    U = np.ones((2, 3), np.float32)
    p1, _ = s.aggregate(1, glob, make_updates(U), [])
    np.testing.assert_allclose(p1, 1.0)  # v = 1
    p2, _ = s.aggregate(2, p1, make_updates(U + 1.0), [])
    np.testing.assert_allclose(p2, 1.0 + 1.5)  # v = 0.5 * 1 + 1


def test_fedadam_first_step_is_normalised() -> None:
    """With m0=0, v0=tau^2: step_i = lr*(1-b1)*g/(sqrt(b2 tau^2 + (1-b2) g^2) + tau)."""
    s = FedAdam(server_lr=0.1, beta1=0.9, beta2=0.99, tau=1e-3)
    glob = np.zeros(4, np.float32)
    g = np.array([1e-2, -1.0, 100.0, 0.0], np.float32)
    new, _ = s.aggregate(1, glob, make_updates(np.tile(g, (3, 1))), [])
    g64 = g.astype(np.float64)
    expect = 0.1 * 0.1 * g64 / (np.sqrt(0.99e-6 + 0.01 * g64**2) + 1e-3)
    np.testing.assert_allclose(new, expect, rtol=1e-5, atol=1e-9)
    assert s.m is not None
    assert s.m.shape == (4,)


def test_byzantine_sign_flip_30_percent() -> None:
    """7 honest clients move towards +target; 3 send -5x that move. Who resists?"""
    rng = np.random.default_rng(2)
    glob = rng.normal(size=D).astype(np.float32)
    step = rng.normal(size=D).astype(np.float32)
    U = (glob + step + 0.05 * rng.normal(size=(10, D))).astype(np.float32)
    U[:3] = glob - 5.0 * step
    ups = make_updates(U)

    def progress(name: str, **opts: float) -> float:
        new, _ = build_strategy(name, opts).aggregate(1, glob, ups, [])
        assert new is not None
        return float((new - glob) @ step / (step @ step))

    assert progress("fedavg") < 0  # 0.7 - 1.5: pushed backwards
    assert progress("median") > 0.8
    assert progress("trimmed_mean", beta=0.3) > 0.8
    assert progress("krum", f=3) > 0.8
    assert progress("krum", f=3, m=5) > 0.9
    assert progress("trimmed_mean", beta=0.1) < 0.8  # under-trimmed: damage remains


def test_krum_degrades_gracefully_with_few_updates() -> None:
    s = Krum(f=3)
    U = np.array([[0.0], [1.0], [2.0], [50.0]], np.float32)
    new, metrics = s.aggregate(1, np.zeros(1, np.float32), make_updates(U), [])
    assert metrics["krum_f"] == 1.0
    assert new[0] in (0.0, 1.0, 2.0)
    new, metrics = s.aggregate(1, np.zeros(1, np.float32), make_updates(U[:2]), [])
    assert new[0] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    X = ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(y))
    tr, te = perm[:1400], perm[1400:]
    return X[tr], y[tr].astype(np.int64), X[te], y[te].astype(np.int64)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_defaults_learn_in_a_small_federation(name: str, digits) -> None:
    """Five IID clients, one local epoch, 20 rounds: every default configuration learns."""
    Xtr, ytr, Xte, yte = digits
    rng = np.random.default_rng(1)
    sizes = np.array([64, 10], dtype=np.int64)
    glob = init_params(sizes, rng)
    shards = np.array_split(np.arange(len(ytr)), 5)
    strat = build_strategy(name, {})
    mu = 0.01 if name == "fedprox" else 0.0
    for rnd in range(1, 21):
        U = np.empty((5, glob.shape[0]), np.float32)
        for i, shard in enumerate(shards):
            U[i] = glob
            sgd_train(U[i], sizes, Xtr, ytr, rng.permutation(shard), 16, 0.05, mu, glob)
        new, _ = strat.aggregate(rnd, glob, make_updates(U, np.array([len(s) for s in shards])), [])
        assert new is not None
        glob = new
    acc, _ = evaluate(glob, sizes, Xte, yte)
    assert acc > 0.88, f"{name}: {acc:.3f}"

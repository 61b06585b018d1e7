"""LEAF-style Synthetic(alpha, beta): shapes, determinism, heterogeneity, splits, options."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fedsim.errors import ScenarioError
from fedsim.rng import Streams
from fedsim.tasks.synthetic import build_synthetic_task, generate_synthetic, split_devices


def _gen(k: int = 40, seed: int = 0, **kw: Any):  # type: ignore[no-untyped-def]
    return generate_synthetic(k, np.random.default_rng(seed), **kw)


def test_shapes_counts_and_determinism() -> None:
    a = _gen(max_samples=300)
    b = _gen(max_samples=300)
    assert a.X.dtype == np.float32
    assert a.X.shape == (int(a.counts.sum()), 60)
    assert a.y.min() >= 0
    assert a.y.max() <= 9
    assert a.counts.min() >= 50
    assert a.counts.max() <= 300
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    c = _gen(seed=1, max_samples=300)
    assert not np.array_equal(a.counts, c.counts)
    # Lognormal counts: a heavy tail, so the cap binds for some devices but not most.
    assert (a.counts == 300).any()
    assert np.median(a.counts) < 300


def test_beta_spreads_device_feature_means_and_sigma_is_j_pow_minus_1_2() -> None:
    spreads = {}
    for beta in (0.0, 1.0):
        d = _gen(k=200, alpha=0.0, beta=beta, max_samples=100)
        o = d.offsets
        means = np.array([d.X[o[i] : o[i + 1]].mean() for i in range(200)])
        spreads[beta] = float(means.std())
    assert spreads[0.0] < 0.3 < 0.7 < spreads[1.0]  # ~ sqrt(beta^2 + 1/60)
    d = _gen(k=3, min_samples=5000, max_samples=5000)
    x = d.X[:5000]
    var = x.var(axis=0)
    np.testing.assert_allclose(var[[0, 9, 59]], [1.0, 10**-1.2, 60**-1.2], rtol=0.1)


def test_alpha_makes_labellers_disagree() -> None:
    """With iid data and one labeller, labels are a function of x; with alpha large,
    devices label similar inputs differently, so label histograms differ."""

    def spread(**kw: Any) -> float:
        d = _gen(k=60, max_samples=200, **kw)
        o = d.offsets
        hists = np.array([np.bincount(d.y[o[i] : o[i + 1]], minlength=10) / d.counts[i]
                          for i in range(60)])  # fmt: skip
        return float(np.abs(hists - hists.mean(axis=0)).sum(axis=1).mean())

    assert spread(iid=True) < spread(alpha=1.0, beta=1.0)


def test_split_holds_out_every_device_and_caps_the_test_set() -> None:
    d = _gen(k=25, max_samples=200)
    X, y, Xt, yt, parts = split_devices(d, 0.2, 10**6, np.random.default_rng(3))
    n_test = np.clip(np.round(0.2 * d.counts), 1, d.counts - 1)
    assert Xt.shape[0] == n_test.sum() == yt.size
    assert X.shape[0] + Xt.shape[0] == d.X.shape[0]
    assert [p.size for p in parts] == list(d.counts - n_test)
    np.testing.assert_array_equal(np.concatenate(parts), np.arange(y.size))
    # Every device's train rows come from that device (train data are device-contiguous).
    o = d.offsets
    first = X[parts[3][0]]
    assert any(np.array_equal(first, row) for row in d.X[o[3] : o[4]])
    _X, _y, Xc, yc, _parts = split_devices(d, 0.2, 50, np.random.default_rng(3))
    assert Xc.shape[0] == 50 == yc.size


def test_build_task_trains_with_the_classifier_learner() -> None:
    task = build_synthetic_task({"alpha": 0.5, "beta": 0.5, "max_samples": 200}, 20, Streams(1))
    assert task.name == "synthetic"
    assert list(task.sizes) == [60, 10]
    ev = task.evaluator()
    params = task.initial_params()
    rng = np.random.default_rng(0)
    before = ev.evaluate(params)["accuracy"]
    learners = [task.learner(i) for i in range(20)]
    for _ in range(10):
        cfg = {"epochs": 1, "lr": 0.05, "batch_size": 10}
        ups = [lr.train(params, cfg, rng)[0] for lr in learners]
        w = np.array([lr.num_examples for lr in learners], dtype=np.float64)
        params = (np.stack(ups) * w[:, None]).sum(axis=0).astype(np.float32) / np.float32(w.sum())
    after = ev.evaluate(params)["accuracy"]
    assert after > before + 0.2
    again = build_synthetic_task({"alpha": 0.5, "beta": 0.5, "max_samples": 200}, 20, Streams(1))
    np.testing.assert_array_equal(again.learner(7).X, task.learner(7).X)
    mlp = build_synthetic_task({"model": "mlp", "hidden": [16], "max_samples": 60}, 3, Streams(1))
    assert list(mlp.sizes)[:2] == [60, 16]


def test_scales_to_thousands_of_devices() -> None:
    d = _gen(k=3000, max_samples=60)
    assert d.counts.size == 3000
    assert d.X.shape[0] == int(d.counts.sum())


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"alhpa": 1.0}, "task.alhpa"),
        ({"alpha": -1.0}, "task.alpha"),
        ({"beta": "big"}, "task.beta"),
        ({"iid": "yes"}, "task.iid"),
        ({"model": "cnn"}, "task.model"),
        ({"hidden": [8]}, "task.hidden"),
        ({"model": "mlp", "hidden": [0]}, "task.hidden"),
        ({"test_fraction": 1.5}, "task.test_fraction"),
        ({"min_samples": 1}, "task.min_samples"),
        ({"min_samples": 100, "max_samples": 60}, "task.max_samples"),
        ({"max_test_samples": 0}, "task.max_test_samples"),
        ({"features": 2.5}, "task.features"),
    ],
)
def test_options_are_validated_with_key_paths(options: dict[str, Any], path: str) -> None:
    with pytest.raises(ScenarioError) as err:
        build_synthetic_task(options, 4, Streams(0))
    assert err.value.path == path

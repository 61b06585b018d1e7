"""Byzantine learners: honest training, corrupted return; parsing with key paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from fedsim.errors import ScenarioError
from fedsim.tasks.adversary import (
    AdversarySpec,
    ByzantineLearner,
    choose_adversaries,
    parse_adversaries,
    wrap,
)
from fedsim.tasks.digits import ClassifierLearner


@dataclass
class StepLearner:
    """Honest delta is always +1 per coordinate."""

    num_examples: int = 7

    def work(self, config: dict[str, Any]) -> float:
        return 123.0

    def train(
        self, params: np.ndarray, config: dict[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        return params + np.float32(1.0), {"loss": 0.5}


P = np.linspace(-1, 1, 1000, dtype=np.float32)


def _train(spec: AdversarySpec, seed: int = 0) -> np.ndarray:
    bad = wrap(StepLearner(), spec, np.random.default_rng(seed))
    new, metrics = bad.train(P, {}, np.random.default_rng(99))
    assert metrics == {"loss": 0.5}
    assert new.dtype == np.float32
    return new


def test_sign_flip_mirrors_the_honest_delta_times_scale() -> None:
    np.testing.assert_allclose(_train(AdversarySpec(0.3, "sign_flip", scale=4.0)), P - 4.0)
    bad = wrap(StepLearner(), AdversarySpec(0.3), np.random.default_rng(0))
    assert isinstance(bad, ByzantineLearner)
    assert bad.num_examples == 7
    assert bad.work({}) == 123.0


def test_noise_attacks_have_the_given_sigma_and_are_reproducible() -> None:
    noisy = _train(AdversarySpec(0.3, "scaled_noise", sigma=0.5))
    assert abs(float((noisy - P - 1.0).std()) - 0.5) < 0.05
    assert abs(float((noisy - P - 1.0).mean())) < 0.05
    rand = _train(AdversarySpec(0.3, "random_update", sigma=2.0))
    assert abs(float((rand - P).std()) - 2.0) < 0.2
    assert abs(float((rand - P).mean())) < 0.2  # the honest +1 is gone
    np.testing.assert_array_equal(rand, _train(AdversarySpec(0.3, "random_update", sigma=2.0)))
    assert not np.array_equal(rand, _train(AdversarySpec(0.3, "random_update", sigma=2.0), 1))


def test_label_flip_trains_on_mirrored_labels_without_touching_the_honest_copy() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4)).astype(np.float32)
    y = rng.integers(0, 10, 30)
    honest = ClassifierLearner(X, y.copy(), np.array([4, 10], dtype=np.int64))
    bad = wrap(honest, AdversarySpec(0.5, "label_flip"), rng)
    assert isinstance(bad, ClassifierLearner)
    np.testing.assert_array_equal(bad.y, 9 - y)
    np.testing.assert_array_equal(honest.y, y)
    assert bad.X is honest.X  # shared features, no copy
    with pytest.raises(ScenarioError, match="classification"):
        wrap(StepLearner(), AdversarySpec(0.5, "label_flip"), rng)


def test_choose_adversaries_rounds_and_is_seeded() -> None:
    spec = AdversarySpec(0.3)
    a = choose_adversaries(28, spec, np.random.default_rng(5))
    assert len(a) == 8  # round(8.4)
    assert a <= set(range(28))
    assert a == choose_adversaries(28, spec, np.random.default_rng(5))
    assert choose_adversaries(28, AdversarySpec(0.0), np.random.default_rng(5)) == set()
    assert choose_adversaries(3, AdversarySpec(1.0), np.random.default_rng(5)) == {0, 1, 2}


def test_parse_adversaries() -> None:
    assert parse_adversaries(None) is None
    spec = parse_adversaries({"fraction": "30%", "kind": "scaled_noise", "sigma": 0.2})
    assert spec == AdversarySpec(0.3, "scaled_noise", 1.0, 0.2)
    assert parse_adversaries({"fraction": 0.1}) == AdversarySpec(0.1)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ([1, 2], "adversaries"),
        ({"kind": "sign_flip"}, "adversaries.fraction"),
        ({"fraction": "150%"}, "adversaries.fraction"),
        ({"fraction": "lots"}, "adversaries.fraction"),
        ({"fraction": 0.2, "kind": "gradient_ascent"}, "adversaries.kind"),
        ({"fraction": 0.2, "scale": -1}, "adversaries.scale"),
        ({"fraction": 0.2, "sigma": True}, "adversaries.sigma"),
        ({"fraction": 0.2, "sigmaa": 1}, "adversaries.sigmaa"),
    ],
)
def test_parse_errors_name_the_key(raw: object, path: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_adversaries(raw)
    assert err.value.path == path


def test_spec_validates_directly() -> None:
    with pytest.raises(ValueError, match="kind"):
        AdversarySpec(0.1, "nope")
    with pytest.raises(ValueError, match="fraction"):
        AdversarySpec(1.5)

"""Loss models against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from fedsim.net.loss import Bernoulli, GilbertElliott


def _bursts(x: np.ndarray) -> float:
    d = np.diff(np.concatenate([[0], x.astype(np.int8), [0]]))
    return float((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).mean())


@pytest.mark.parametrize(
    "params", [(0.01, 0.3, 1.0, 0.0), (0.05, 0.3, 0.8, 0.01), (0.2, 0.5, 0.5, 0.02)]
)
def test_gilbert_elliott_vectorised_matches_closed_forms(params) -> None:
    g = GilbertElliott(*params)
    rng = np.random.default_rng(7)
    x = np.concatenate([g.draw(rng, 10_000) for _ in range(100)])
    assert x.mean() == pytest.approx(g.mean_rate, rel=0.05)
    assert _bursts(x) == pytest.approx(g.mean_burst_length(), rel=0.05)


def test_gilbert_elliott_per_packet_matches_closed_forms() -> None:
    g = GilbertElliott(0.05, 0.3, 0.8, 0.01)
    rng = np.random.default_rng(3)
    x = np.fromiter((g.drop(rng) for _ in range(1_000_000)), dtype=bool)
    assert x.mean() == pytest.approx(g.mean_rate, rel=0.05)
    assert _bursts(x) == pytest.approx(g.mean_burst_length(), rel=0.05)


def test_gilbert_closed_forms_by_hand() -> None:
    g = GilbertElliott(0.01, 0.25)  # classic Gilbert: 1-h = 1, 1-k = 0
    assert g.mean_rate == pytest.approx(0.01 / 0.26)
    assert g.mean_burst_length() == pytest.approx(1 / 0.25)


def test_bernoulli_rate() -> None:
    b = Bernoulli(0.03)
    rng = np.random.default_rng(1)
    assert b.draw(rng, 1_000_000).mean() == pytest.approx(0.03, rel=0.05)
    x = np.fromiter((b.drop(rng) for _ in range(200_000)), dtype=bool)
    assert x.mean() == pytest.approx(0.03, rel=0.05)
    assert b.mean_burst_length() == pytest.approx(1 / 0.97)


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="must lie"):
        Bernoulli(1.5)
    with pytest.raises(ValueError, match="p \\+ r"):
        GilbertElliott(0.0, 0.0)

"""Loss models against their closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fedsim.net.loss import Bernoulli, GilbertElliott

TOLERANCE = 0.05
"""Relative tolerance of the sampled loss rate and burst length against the closed forms."""
SIGMAS = 4.0
"""Draws are sized so that the tolerance is this many standard errors (a seed misses it
with probability ~6e-5), whatever the chain's rates."""
FLOOR = 1_000_000
"""Never fewer draws than these checks always made."""


def _bursts(x: np.ndarray) -> float:
    d = np.diff(np.concatenate([[0], x.astype(np.int8), [0]]))
    return float((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).mean())


def draws_for(g: GilbertElliott, tol: float = TOLERANCE, sigmas: float = SIGMAS) -> int:
    """Packets to draw so the sampled loss rate is within `tol` at `sigmas` standard errors.

    The noise is in how many bad-state visits the sample holds, not in how many packets:
    a visit starts with probability v = p r / (p + r) per packet, and by renewal-reward the
    fraction of packets in the bad state from N visits has relative variance
    (2 - p - r) r^2 / (p + r)^2 / N; the per-packet loss draws add ~1 / (n * rate). At
    p = 0.001, r = 0.1 a fixed 10^6 draws holds ~990 visits: a 4.4 % standard error,
    which is why such a check at 5 % failed on some seeds."""
    p, r = g.p, g.r
    visits_var = (2.0 - p - r) * r * r / (p + r) ** 2
    target = (tol / sigmas) ** 2
    visit_rate = p * r / (p + r)
    n = visits_var / (target * visit_rate)  # packets for enough visits
    return math.ceil(n + 1.0 / (target * g.mean_rate))


def _sample(
    g: GilbertElliott, rng: np.random.Generator, n: int, chunk: int = 1 << 20
) -> np.ndarray:
    return np.concatenate([g.draw(rng, min(chunk, n - i)) for i in range(0, n, chunk)])


def test_draws_grow_as_bad_visits_get_rare() -> None:
    frequent, rare = GilbertElliott(0.05, 0.3, 0.8, 0.01), GilbertElliott(0.001, 0.1)
    assert draws_for(rare) > 10 * draws_for(frequent)
    assert draws_for(rare) * 0.001 * 0.1 / 0.101 >= 10_000  # >= 10^4 bad-state visits


@pytest.mark.parametrize(
    "params", [(0.01, 0.3, 1.0, 0.0), (0.05, 0.3, 0.8, 0.01), (0.2, 0.5, 0.5, 0.02)]
)
def test_gilbert_elliott_vectorised_matches_closed_forms(params) -> None:
    g = GilbertElliott(*params)
    rng = np.random.default_rng(7)
    x = _sample(g, rng, max(FLOOR, draws_for(g)))
    assert x.mean() == pytest.approx(g.mean_rate, rel=TOLERANCE)
    assert _bursts(x) == pytest.approx(g.mean_burst_length(), rel=TOLERANCE)


@pytest.mark.parametrize("seed", range(5))
def test_gilbert_elliott_low_rate_sized_by_bad_visits(seed: int) -> None:
    """p = 0.001, r = 0.1 (0.99 % loss in rare bursts of 10): every seed passes once the
    sample holds enough bad-state visits (~12 M packets, not 10^6)."""
    g = GilbertElliott(0.001, 0.1)
    x = _sample(g, np.random.default_rng(seed), draws_for(g))
    assert x.mean() == pytest.approx(g.mean_rate, rel=TOLERANCE)
    assert _bursts(x) == pytest.approx(g.mean_burst_length(), rel=TOLERANCE)


def test_gilbert_elliott_per_packet_matches_closed_forms() -> None:
    g = GilbertElliott(0.05, 0.3, 0.8, 0.01)
    rng = np.random.default_rng(3)
    x = np.fromiter((g.drop(rng) for _ in range(max(FLOOR, draws_for(g)))), dtype=bool)
    assert x.mean() == pytest.approx(g.mean_rate, rel=TOLERANCE)
    assert _bursts(x) == pytest.approx(g.mean_burst_length(), rel=TOLERANCE)


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

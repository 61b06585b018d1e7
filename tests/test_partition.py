"""The Dirichlet partition gives exactly the parts of its first, chunk-per-class-and-client
form (kept here as the reference): same draws from the generator, same samples per client.
Filling empty clients gives the parts of its first, list-the-sizes-per-empty-client form."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.tasks.partition import _no_empty, partition


def _reference_dirichlet(
    labels: np.ndarray, num_clients: int, rng: np.random.Generator, alpha: float
) -> list[np.ndarray]:
    buckets: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        props = rng.dirichlet(np.full(num_clients, alpha))
        cuts = (np.cumsum(props)[:-1] * idx.size).astype(np.int64)
        for c, chunk in enumerate(np.split(idx, cuts)):
            buckets[c].append(chunk)
    parts = [np.concatenate(b) if b else np.empty(0, np.int64) for b in buckets]
    return _reference_no_empty([np.sort(p).astype(np.int64) for p in parts])


def _reference_no_empty(parts: list[np.ndarray]) -> list[np.ndarray]:
    for i, p in enumerate(parts):
        if p.size == 0:
            j = int(np.argmax([q.size for q in parts]))
            parts[i], parts[j] = parts[j][-1:], parts[j][:-1]
    return parts


@settings(max_examples=300, deadline=None)
@given(sizes=st.lists(st.integers(0, 6), min_size=1, max_size=40))
def test_filling_empty_clients_equals_the_reference(sizes: list[int]) -> None:
    if sum(sizes) < len(sizes):  # partition refuses fewer samples than clients
        sizes = [*sizes, len(sizes) - sum(sizes) + 1]
    cuts = np.cumsum(sizes)[:-1]
    parts = np.split(np.arange(sum(sizes), dtype=np.int64), cuts)
    got = _no_empty(list(parts))
    want = _reference_no_empty(list(parts))
    assert [g.tolist() for g in got] == [w.tolist() for w in want]


@settings(max_examples=150, deadline=None)
@given(
    samples=st.integers(1, 400),
    classes=st.integers(1, 12),
    clients=st.integers(1, 60),
    alpha=st.sampled_from([0.01, 0.1, 0.5, 1.0, 100.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_dirichlet_parts_equal_the_reference(
    samples: int, classes: int, clients: int, alpha: float, seed: int
) -> None:
    labels = np.random.default_rng(seed ^ 0x5EED).integers(0, classes, samples)
    clients = min(clients, samples)
    got = partition(labels, clients, np.random.default_rng(seed), kind="dirichlet", alpha=alpha)
    rng = np.random.default_rng(seed)
    want = _reference_dirichlet(labels, clients, rng, alpha)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)
    covered = np.sort(np.concatenate(got))
    np.testing.assert_array_equal(covered, np.arange(samples))
    assert all(p.size for p in got)


def test_dirichlet_leaves_the_generator_where_the_reference_does() -> None:
    labels = np.random.default_rng(3).integers(0, 10, 1437)
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    partition(labels, 1000, a, kind="dirichlet", alpha=0.5)
    _reference_dirichlet(labels, 1000, b, 0.5)
    assert a.integers(0, 2**62) == b.integers(0, 2**62)

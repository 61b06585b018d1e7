"""Split sample indices across clients: IID, Dirichlet(alpha) over labels, or shards.

Every client gets at least one sample (a device with no data cannot train), and
the split depends only on the labels, the client count and the generator.
"""

from __future__ import annotations

import numpy as np

__all__ = ["partition"]


def partition(
    labels: np.ndarray,
    num_clients: int,
    rng: np.random.Generator,
    *,
    kind: str = "iid",
    alpha: float = 0.5,
    shards_per_client: int = 2,
) -> list[np.ndarray]:
    """Index arrays, one per client, covering every sample exactly once."""
    n = labels.shape[0]
    if num_clients < 1:
        raise ValueError(f"need at least one client, got {num_clients}")
    if num_clients > n:
        raise ValueError(f"{num_clients} clients but only {n} samples: each needs one")
    if kind == "iid":
        parts = np.array_split(rng.permutation(n), num_clients)
    elif kind == "dirichlet":
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        buckets: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
        for cls in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            props = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(props)[:-1] * idx.size).astype(np.int64)
            for c, chunk in enumerate(np.split(idx, cuts)):
                buckets[c].append(chunk)
        parts = [np.concatenate(b) if b else np.empty(0, np.int64) for b in buckets]
    elif kind == "shards":
        order = np.argsort(labels, kind="stable")
        shards = np.array_split(order, num_clients * shards_per_client)
        pick = rng.permutation(len(shards))
        parts = [
            np.concatenate([shards[j] for j in pick[c::num_clients]]) for c in range(num_clients)
        ]
    else:
        raise ValueError(f"unknown partition {kind!r} (iid, dirichlet, shards)")
    return _no_empty([np.sort(p).astype(np.int64) for p in parts])


def _no_empty(parts: list[np.ndarray]) -> list[np.ndarray]:
    """Move one sample from the largest client to each empty one."""
    for i, p in enumerate(parts):
        if p.size == 0:
            j = int(np.argmax([q.size for q in parts]))
            parts[i], parts[j] = parts[j][-1:], parts[j][:-1]
    return parts

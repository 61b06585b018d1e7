"""Named, seeded random streams: one `numpy.random.Generator` per purpose.

A stream's numbers depend only on the run seed and its name, so adding a device
or a draw elsewhere never shifts another component's randomness.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Streams"]


class Streams:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._cache: dict[tuple[str, ...], np.random.Generator] = {}

    def get(self, *name: str) -> np.random.Generator:
        """The generator for `name` (e.g. `("link", "gw1", "loss")`), created once."""
        gen = self._cache.get(name)
        if gen is None:
            gen = np.random.default_rng(self.seed_for(*name))
            self._cache[name] = gen
        return gen

    def seed_for(self, *name: str) -> np.random.SeedSequence:
        digest = hashlib.sha256("\x1f".join(name).encode()).digest()
        words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
        return np.random.SeedSequence(entropy=self.seed, spawn_key=words)

    def int_seed(self, *name: str) -> int:
        """A 63-bit integer seed for code that wants one (Numba kernels, `random`)."""
        return int(self.seed_for(*name).generate_state(2, np.uint64)[0] >> np.uint64(1))

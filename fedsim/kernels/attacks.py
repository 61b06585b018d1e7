"""Byzantine client behaviours as transforms of a model delta (update minus global).

Noise is drawn by the caller from its own seeded Generator and passed in, so an
attack is reproducible and the kernels hold no random state.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["gaussian_noise", "random_update", "sign_flip"]


@njit(cache=True, nogil=True)
def sign_flip(delta: np.ndarray, scale: float, out: np.ndarray) -> None:
    """out = -scale * delta: push the global model against the honest direction."""
    s = np.float32(-scale)
    for i in range(delta.shape[0]):
        out[i] = s * delta[i]


@njit(cache=True, nogil=True)
def gaussian_noise(delta: np.ndarray, noise: np.ndarray, sigma: float, out: np.ndarray) -> None:
    """out = delta + sigma * noise, with `noise` pre-drawn standard normal."""
    s = np.float32(sigma)
    for i in range(delta.shape[0]):
        out[i] = delta[i] + s * noise[i]


@njit(cache=True, nogil=True)
def random_update(noise: np.ndarray, scale: float, out: np.ndarray) -> None:
    """out = scale * noise: a delta unrelated to the data."""
    s = np.float32(scale)
    for i in range(noise.shape[0]):
        out[i] = s * noise[i]

"""The geometry of the 1-D CNN (conv1d -> ReLU -> max-pool -> dense) and what it costs.

Kept free of Numba so the config model can size a model (parameters, FLOPs per
sample, memory for one batch) without compiling anything. The kernels in
fedsim/kernels/cnn.py take `dims()` and the flat parameter layout described here:
conv W (filters, channels, kernel), conv b (filters), dense W (filters*pooled,
outputs) row-major, dense b (outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CnnShape"]


@dataclass(frozen=True)
class CnnShape:
    """A sensor window of `channels` x `length` mapped to `outputs` values."""

    channels: int
    length: int
    filters: int
    kernel: int
    pool: int
    outputs: int

    def problem(self) -> str | None:
        """Why this geometry has no pooled output (None: it is valid)."""
        if self.kernel > self.length:
            return f"kernel {self.kernel} is longer than the window ({self.length} samples)"
        if self.pool > self.conv_length:
            return f"pool {self.pool} is longer than the convolution output ({self.conv_length})"
        return None

    @property
    def conv_length(self) -> int:
        return self.length - self.kernel + 1

    @property
    def pooled_length(self) -> int:
        return self.conv_length // self.pool

    def dims(self) -> np.ndarray:
        """The int64 vector the Numba kernels take."""
        return np.array(
            [self.channels, self.length, self.filters, self.kernel, self.pool, self.outputs],
            dtype=np.int64,
        )

    def param_count(self) -> int:
        conv = self.filters * self.channels * self.kernel + self.filters
        dense = self.filters * self.pooled_length * self.outputs + self.outputs
        return conv + dense

    def forward_flops(self) -> float:
        """Multiply-adds (2 FLOPs each) of one sample's forward pass."""
        conv = 2.0 * self.filters * self.channels * self.kernel * self.conv_length
        dense = 2.0 * self.filters * self.pooled_length * self.outputs
        return conv + dense

    def train_flops_per_sample(self) -> float:
        """Forward, weight gradients and error back-propagation: 3x the forward pass
        (the same rule as the dense models' 6 FLOPs per parameter)."""
        return 3.0 * self.forward_flops()

    def memory_bytes(self, batch_size: int) -> int:
        """float32 parameters, gradients and the FedProx anchor, plus one batch's input,
        activations (conv, pooled, outputs) and their errors."""
        per_sample = (
            self.channels * self.length
            + 2 * self.filters * self.conv_length
            + 2 * self.filters * self.pooled_length
            + 2 * self.outputs
        )
        return 4 * (3 * self.param_count() + batch_size * per_sample)

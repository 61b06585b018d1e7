"""FedAdagrad (Reddi et al., 2021): accumulated second moment; the step only shrinks."""

from __future__ import annotations

from typing import Any

from fedsim.fl.strategies.adaptive import AdaptiveServerOpt

__all__ = ["FedAdagrad"]


class FedAdagrad(AdaptiveServerOpt):
    """v += delta^2. Defaults server_lr=1e-1 (v only grows, so it starts larger), beta1=0.9."""

    name = "fedadagrad"
    variant = 2

    def __init__(self, server_lr: float = 1e-1, **kwargs: Any) -> None:
        super().__init__(server_lr=server_lr, **kwargs)

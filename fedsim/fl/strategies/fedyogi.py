"""FedYogi (Reddi et al., 2021): Yogi's additive second moment, which grows v more gently."""

from __future__ import annotations

from fedsim.fl.strategies.adaptive import AdaptiveServerOpt

__all__ = ["FedYogi"]


class FedYogi(AdaptiveServerOpt):
    """v -= (1-beta2)*delta^2*sign(v - delta^2); defaults as FedAdam."""

    name = "fedyogi"
    variant = 1

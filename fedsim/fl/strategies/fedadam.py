"""FedAdam (Reddi et al., 2021): Adam's exponential second moment on the server."""

from __future__ import annotations

from fedsim.fl.strategies.adaptive import AdaptiveServerOpt

__all__ = ["FedAdam"]


class FedAdam(AdaptiveServerOpt):
    """v = beta2*v + (1-beta2)*delta^2; defaults server_lr=1e-2, beta1=0.9, beta2=0.99, tau=1e-3."""

    name = "fedadam"
    variant = 0

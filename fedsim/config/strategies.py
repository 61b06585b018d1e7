"""Each aggregation strategy's own options (`fl.options`), one variant per strategy.

fedsim/fl/strategies/registry.py builds strategies from these declarations; a test
checks they name exactly the options each strategy's constructor takes.
"""

from __future__ import annotations

from pydantic import Field

from fedsim.config.base import Section
from fedsim.config.units import integer, number

__all__ = ["STRATEGY_OPTIONS"]


class FedAvgOptions(Section):
    """FedAvg takes no options."""


class FedProxOptions(Section):
    mu: number(0.0) = Field(0.01, description="proximal term weight (>= 0)")  # type: ignore[valid-type]


class FedAvgMOptions(Section):
    server_lr: number(0.0, lo_open=True) = Field(0.1, description="server step (> 0)")  # type: ignore[valid-type]
    momentum: number(0.0, 1.0, hi_open=True) = Field(0.9, description="server momentum [0, 1)")  # type: ignore[valid-type]


def _adaptive(default_lr: float) -> type[Section]:
    class AdaptiveOptions(Section):
        server_lr: number(0.0, lo_open=True) = Field(default_lr, description="server step (> 0)")  # type: ignore[valid-type]
        beta1: number(0.0, 1.0, hi_open=True) = Field(0.9, description="first moment decay")  # type: ignore[valid-type]
        beta2: number(0.0, 1.0, hi_open=True) = Field(0.99, description="second moment decay")  # type: ignore[valid-type]
        tau: number(0.0, lo_open=True) = Field(1e-3, description="adaptivity (> 0)")  # type: ignore[valid-type]

    return AdaptiveOptions


class TrimmedMeanOptions(Section):
    beta: number(0.0, 0.5, hi_open=True) = Field(0.1, description="fraction trimmed per side")  # type: ignore[valid-type]


class KrumOptions(Section):
    f: integer(0) = Field(1, description="Byzantine clients tolerated")  # type: ignore[valid-type]
    m: integer(1) = Field(1, description="updates averaged (Multi-Krum)")  # type: ignore[valid-type]


STRATEGY_OPTIONS: dict[str, type[Section]] = {
    "fedavg": FedAvgOptions,
    "fedprox": FedProxOptions,
    "fedavgm": FedAvgMOptions,
    "fedadam": _adaptive(1e-2),
    "fedyogi": _adaptive(1e-2),
    "fedadagrad": _adaptive(1e-1),
    "median": FedAvgOptions,
    "trimmed_mean": TrimmedMeanOptions,
    "krum": KrumOptions,
}
"""Strategy name (as written in `fl.strategy`) -> the options it takes."""

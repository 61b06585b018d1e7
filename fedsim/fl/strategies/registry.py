"""Strategy names as written in scenario files, and construction with checked options."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from fedsim.config.errors import first_error
from fedsim.config.strategies import STRATEGY_OPTIONS
from fedsim.fl.strategies.fedadagrad import FedAdagrad
from fedsim.fl.strategies.fedadam import FedAdam
from fedsim.fl.strategies.fedavg import FedAvg
from fedsim.fl.strategies.fedavgm import FedAvgM
from fedsim.fl.strategies.fedprox import FedProx
from fedsim.fl.strategies.fedyogi import FedYogi
from fedsim.fl.strategies.krum import Krum
from fedsim.fl.strategies.median import Median
from fedsim.fl.strategies.trimmed_mean import TrimmedMean
from fedsim.fl.strategy import Strategy

__all__ = ["STRATEGIES", "build_strategy", "strategy_options"]

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        FedAvg,
        FedProx,
        FedAvgM,
        FedAdam,
        FedYogi,
        FedAdagrad,
        Median,
        TrimmedMean,
        Krum,
    )
}


def strategy_options(cls: type[Strategy]) -> dict[str, Any]:
    """Named constructor options of `cls` and its bases, with defaults (None if required)."""
    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for p in list(inspect.signature(init).parameters.values())[1:]:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in found:
                found[p.name] = None if p.default is p.empty else p.default
    return found


def build_strategy(name: str, options: Mapping[str, Any] | None = None, **base: Any) -> Strategy:
    """Build strategy `name` from scenario `options` (e.g. {"mu": 0.1}).

    The options are checked against the strategy's declaration
    (fedsim.config.strategies, what `fedsim validate` checks too): unknown names,
    unknown option keys and values out of range raise ValueError naming them, so a
    typo in a scenario never silently falls back to a default. `base` passes the
    engine-level arguments (clients_per_round, over_selection, local training
    config as further keywords) straight to the constructor.
    """
    cls = STRATEGIES.get(name)
    if cls is None:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}")
    opts = dict(options or {})
    declared = STRATEGY_OPTIONS[name]
    allowed = sorted(declared.model_fields)
    for key in opts:
        if key not in allowed:
            takes = f"known: {', '.join(allowed)}" if allowed else "it takes no options"
            raise ValueError(f"unknown option {key!r} for strategy {name!r}; {takes}")
    try:
        declared.model_validate(opts)
    except ValidationError as exc:
        path, message = first_error(exc, opts)
        raise ValueError(f"{path} {message}") from None
    clash = sorted(set(opts) & set(base))
    if clash:
        raise ValueError(f"option {clash[0]!r} given twice for strategy {name!r}")
    return cls(**opts, **base)

"""The federation (`fl:`): strategy with its own options, round engine, codec, local
training. The strategy's options are a variant chosen by `fl.strategy`, written with it
(`strategy: {name: fedprox, mu: 0.01}`, so one `--set fl.strategy=fedavg` replaces both)
or beside it (`strategy: fedprox` and `options: {mu: 0.01}`, the older form)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, model_validator

from fedsim.config.base import Section, at_key
from fedsim.config.errors import first_error
from fedsim.config.strategies import STRATEGY_OPTIONS
from fedsim.config.units import (
    AutoDuration,
    Bool,
    Duration,
    Fraction,
    PositiveDuration,
    PositiveFraction,
    choice,
    integer,
    number,
    number_parser,
    parsed,
)
from fedsim.fl.codec import CODECS  # uplink encodings; none takes options in a file
from fedsim.fl.selection import SELECTIONS
from fedsim.units import parse_fraction

__all__ = [
    "CODECS", "ENGINES", "SELECTIONS", "TRANSPORTS", "AsyncOptions", "CoapOptions",
    "FLModel", "LocalTraining",
]  # fmt: skip

ENGINES = ("sync", "async")
"""`sync` rounds take fl.quorum, min_available, selection, round_interval; `async`
(FedBuff) takes `fl.async`."""


class LocalTraining(Section):
    """The training config sent to clients with every task."""

    epochs: integer(1) | None = Field(None, description="passes over the local data")  # type: ignore[valid-type]
    batch_size: integer(1) | None = Field(None, description="SGD batch size (default 16)")  # type: ignore[valid-type]
    lr: number(0.0, lo_open=True) | None = Field(None, description="learning rate")  # type: ignore[valid-type]
    mu: number(0.0) | None = Field(None, description="FedProx's proximal term (fedprox only)")  # type: ignore[valid-type]
    episodes: integer(1) | None = Field(None, description="RL: episodes per update")  # type: ignore[valid-type]
    batch: integer(1) | None = Field(None, description="RL: episodes per gradient step")  # type: ignore[valid-type]
    steps: integer(1) | None = Field(None, description="RL: Q-learning steps per update")  # type: ignore[valid-type]
    gamma: number(0.0, 1.0) | None = Field(None, description="RL: discount")  # type: ignore[valid-type]
    epsilon: number(0.0, 1.0) | None = Field(None, description="RL: exploration rate")  # type: ignore[valid-type]
    alpha_decay: number(0.0) | None = Field(None, description="RL: step-size decay")  # type: ignore[valid-type]
    federated_eval: Bool | None = Field(None, description="score the global model on-device")

    def config(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


TRANSPORTS = ("http", "coap", "mqtt")
"""How tasks, models and updates move (docs/transports.md): `http` (aiohttp over the
emulated TCP, the default) or `coap` (RFC 7252 over emulated UDP: confirmable
messages, blockwise transfer, observe)."""

BLOCK_SIZES = (16, 32, 64, 128, 256, 512, 1024)


class CoapOptions(Section):
    """`fl.coap`: the CoAP transport's settings (RFC 7252 section 4.8 defaults)."""

    block_size: integer(16, 1024, unit="bytes") | None = Field(  # type: ignore[valid-type]
        None,
        description="block size in bytes (16..1024, a power of 2); default: fit the path MTU",
    )
    ack_timeout: PositiveDuration = Field(2.0, description="ACK_TIMEOUT (RFC 7252: 2 s)")
    ack_random_factor: number(1.0) = Field(1.5, description="ACK_RANDOM_FACTOR (RFC 7252: 1.5)")  # type: ignore[valid-type]
    max_retransmit: integer(0, 20) = Field(4, description="MAX_RETRANSMIT (RFC 7252: 4)")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _power_of_two(self) -> CoapOptions:
        if self.block_size is not None and self.block_size not in BLOCK_SIZES:
            raise at_key("block_size", f"must be one of {', '.join(map(str, BLOCK_SIZES))}")
        return self


class AsyncOptions(Section):
    """`fl.async`: FedBuff's buffer size K, concurrency, staleness bound, server step."""

    buffer: integer(1) = Field(10, description="aggregate every K updates")  # type: ignore[valid-type]
    concurrency: integer(1) | None = Field(None, description="at most this many training at once")  # type: ignore[valid-type]
    max_staleness: integer(0) = Field(10, description="reject updates staler than this (409)")  # type: ignore[valid-type]
    server_lr: number(0.0, lo_open=True) = Field(
        1.0, description="server step on the aggregated delta"
    )  # type: ignore[valid-type]
    staleness_exponent: number(0.0) = Field(0.5, description="weight (1 + staleness)^-a")  # type: ignore[valid-type]


def _clients_per_round(v: Any) -> int | float:
    """A count is a whole number (int); a share of the online clients is a float in
    (0, 1], written as a fraction below 1 or a percentage. `1.0` could be either."""
    what = "expected a count (4), a fraction below 1 (0.25) or a percentage (25%)"
    if isinstance(v, str) and v.strip().endswith("%"):
        share = parse_fraction(v)  # its UnitError (a ValueError) is the user's message
        if not 0.0 < share <= 1.0:
            raise ValueError(f"a percentage must lie in (0%, 100%], got {v!r}")
        return share
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{what}, got {v!r}")
    if isinstance(v, int):
        if v < 1:
            raise ValueError(f"a count must be at least 1, got {v}")
        return v
    if not math.isfinite(v) or v <= 0.0:
        raise ValueError(f"{what}, got {v!r}")
    if v < 1.0:
        return float(v)
    if v == 1.0:
        raise ValueError(
            "1.0 is ambiguous: write 1 (one client a round) or 100% (every online client)"
        )
    if v != int(v):
        raise ValueError(f"a count must be whole (a share: below 1, or a percentage), got {v!r}")
    return int(v)


ClientsPerRound = parsed(
    _clients_per_round,
    {
        "anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            {"type": "string", "pattern": r"^\s*(\d+\.?\d*|\.\d+)\s*%\s*$"},
        ]
    },
    float,
)
"""`fl.clients_per_round`: an int is a count, a float a share of the online clients."""


_NUMBER = number_parser()


def _target(v: Any) -> float:
    """The task's metric value to stop at, on the metric's own scale: an accuracy is a
    fraction (0.92), an RMSE is in the data's units; a percentage would be read as
    neither, so `92%` is refused with the number to write."""
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            share = f"{float(v.strip()[:-1]) / 100:g}"
        except ValueError:
            share = "a fraction"
        raise ValueError(
            f"expected a number on the metric's own scale, got {v!r}: an accuracy of "
            f"{v.strip()} is {share} (a target is not a percentage)"
        )
    return _NUMBER(v)


Target = parsed(_target, {"type": "number"})


def _takes(name: str) -> str:
    allowed = sorted(STRATEGY_OPTIONS[name].model_fields)
    return f"takes: {', '.join(allowed)}" if allowed else "takes no options"


def _strategy_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """`strategy: {name: X, **options}` -> `strategy: X`, `options: {...}`, each mistake
    located under `strategy` and naming what strategy X takes."""
    spec = dict(data["strategy"])
    name = spec.pop("name", None)
    if name is None:
        raise at_key("strategy.name", f"is required (one of {', '.join(STRATEGY_OPTIONS)})")
    if not isinstance(name, str) or name not in STRATEGY_OPTIONS:
        raise at_key("strategy.name", f"{name!r} is not one of {', '.join(STRATEGY_OPTIONS)}")
    if data.get("options"):
        raise at_key("options", "given twice: fl.strategy carries the options; drop fl.options")
    declared = STRATEGY_OPTIONS[name]
    local = data.get("local")
    for key in spec:
        if key not in declared.model_fields:
            raise at_key(f"strategy.{key}", f"unknown option for {name} ({_takes(name)})")
        if isinstance(local, Mapping) and local.get(key) is not None:
            raise at_key(f"strategy.{key}", f"given twice: also in fl.local.{key}")
    try:
        declared.model_validate(spec)
    except ValidationError as exc:
        path, message = first_error(exc, spec)
        raise at_key(f"strategy.{path}", message) from None
    return {**data, "strategy": name, "options": spec}


class FLModel(Section):
    strategy: choice(STRATEGY_OPTIONS) = Field(
        "fedavg",
        description="aggregation strategy: a name, or {name: fedprox, mu: 0.01} with its options",
    )  # type: ignore[valid-type]
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="the strategy's own options, e.g. {mu: 0.01} (or write them in strategy)",
    )
    rounds: integer(1) = Field(20, description="maximum number of rounds (aggregations)")  # type: ignore[valid-type]
    clients_per_round: ClientsPerRound = Field(  # type: ignore[valid-type]
        1,
        description="a count (a whole number: 1 is one client), or a share of the online "
        "clients: a fraction below 1 or a percentage (100%: all of them)",
    )
    min_available: integer(1) = Field(1, description="wait for this many polling devices")  # type: ignore[valid-type]
    over_selection: Fraction = Field(0.0, description="select this much more, keep the first")
    selection: choice(SELECTIONS) = Field(
        "uniform", description="uniform, or reliability (sync engine)"
    )  # type: ignore[valid-type]
    selection_floor: PositiveFraction = Field(
        0.1, description="reliability: least weight, in (0, 1]"
    )
    deadline: PositiveDuration = Field(120.0, description="a round waits at most this long")
    quorum: Fraction = Field(0.5, description="fraction of wanted reports needed to aggregate")
    target: Target | None = Field(  # type: ignore[valid-type]
        None, description="stop once the metric reaches this (in the metric's own scale)"
    )
    local: LocalTraining = Field(default_factory=LocalTraining, description="training config")
    codec: choice(CODECS) = Field("float32", description="uplink encoding")  # type: ignore[valid-type]
    poll_wait: PositiveDuration = Field(30.0, description="long-poll duration of an idle client")
    task_on_answer: Bool = Field(
        True, description="http: an upload's answer carries the next task (one exchange a round)"
    )
    server_keepalive: PositiveDuration = Field(
        3630.0,
        description="http: the server closes a connection that brought no request this long "
        "after its last answer was written (aiohttp's server default, 3630 s); on a slow "
        "radio the device may still be receiving that answer",
    )
    request_timeout: PositiveDuration = Field(
        120.0,
        description="http, mqtt: a client abandons an exchange (upload, download) that takes "
        "longer than this past its long poll (fl.poll_wait); dropout cause request_timeout",
    )
    time_limit: PositiveDuration | None = Field(
        None,
        description="stop after this simulated time (a round still open then closes at the limit)",
    )
    stall_limit: AutoDuration | None = Field(
        None,
        description="end the run when no round closed for this long (auto: 10 x the longest "
        "a round may take; forever: never)",
    )
    round_interval: Duration = Field(0.0, description="start rounds at most this often")
    gate_tolerance: number(0.0) | None = Field(
        None, description="deploy only if at most this much worse"
    )  # type: ignore[valid-type]
    engine: choice(ENGINES) = Field("sync", description="sync rounds or async FedBuff")  # type: ignore[valid-type]
    transport: choice(TRANSPORTS) = Field("http", description="http, coap (UDP) or mqtt")  # type: ignore[valid-type]
    coap: CoapOptions = Field(default_factory=CoapOptions, description="CoAP settings")
    async_: AsyncOptions = Field(
        default_factory=AsyncOptions, alias="async", description="FedBuff settings"
    )

    @model_validator(mode="before")
    @classmethod
    def _strategy_with_options(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("strategy"), Mapping):
            return _strategy_mapping(data)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> FLModel:
        if self.selection != "uniform" and self.engine == "async":
            raise at_key(
                "selection",
                f"{self.selection!r} needs the sync engine: async FedBuff has no selection "
                "step (every polling client gets a task, first come first served)",
            )
        mu = self.local.mu
        if mu is not None and mu > 0 and (self.strategy != "fedprox" or self.engine == "async"):
            running = "fl.engine async (FedBuff)" if self.engine == "async" else self.strategy
            raise at_key(
                "local.mu",
                f"the proximal term is FedProx's: with {running} it would train FedProx "
                "clients while the results name another strategy; write fl.strategy: "
                f"{{name: fedprox, mu: {mu:g}}} (sync engine), or drop it",
            )
        limit = self.stall_limit
        if limit is not None and limit <= self.deadline + self.round_interval:
            raise at_key(
                "stall_limit",
                f"{limit:g} s is not longer than fl.deadline + fl.round_interval "
                f"({self.deadline + self.round_interval:g} s): a round that waits its deadline "
                "would count as stalled (raise it, or leave it `auto`)",
            )
        self.strategy_options()
        return self

    def strategy_options(self) -> dict[str, Any]:
        """`options` checked against what `strategy` declares; local keys that name
        one of its options are checked too (the constructor receives them)."""
        declared = STRATEGY_OPTIONS[self.strategy]
        allowed = sorted(declared.model_fields)
        for key in self.options:
            if key not in allowed:
                raise at_key(
                    f"options.{key}",
                    f"unknown option for {self.strategy} ({_takes(self.strategy)}); written "
                    "as fl.strategy: {name: ..., " + key + ": ...}, options follow a --set "
                    "of fl.strategy",
                )
        local = self.local.config()
        for key in self.options:
            if key in local:
                raise at_key(f"options.{key}", f"given twice: also in fl.local.{key}")
        for where, given in (("options", self.options), ("local", local)):
            mine = {k: v for k, v in given.items() if k in allowed}
            try:
                declared.model_validate(mine)
            except ValidationError as exc:
                path, message = first_error(exc, mine)
                raise at_key(f"{where}.{path}", message) from None
        return dict(self.options)

"""Link classes (`links:`), with their loss models and jitter as tagged variants."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from fedsim.config.base import Section, at_key
from fedsim.config.radio import LORA_KEYS, RadioModel
from fedsim.config.units import (
    Bandwidth,
    Bool,
    Duration,
    Fraction,
    choice,
    integer,
    number,
)
from fedsim.config.variants import tagged
from fedsim.net.radio_table import lora_rate_problem

__all__ = [
    "FIDELITIES",
    "LINK_KINDS",
    "Bernoulli",
    "GilbertElliott",
    "LinkClass",
    "LossModel",
    "NormalJitter",
    "ParetoJitter",
    "UniformJitter",
]

FIDELITIES = ("flow", "packet")
LINK_KINDS = ("wifi", "lora", "nbiot", "lte", "ethernet", "backhaul", "wired", "satellite", "ble")


def _bps(bps: float) -> str:
    """A rate as a file would write it: 250000.0 -> '250 kbps'."""
    for unit, f in (("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if bps >= f:
            return f"{bps / f:g} {unit}"
    return f"{bps:g} bps"


class Bernoulli(Section):
    """Independent losses at the link's `loss` rate."""

    kind: Literal["bernoulli"] = "bernoulli"


class GilbertElliott(Section):
    """Bursty losses: a good and a bad state (p: good->bad, r: bad->good)."""

    kind: Literal["gilbert-elliott"]
    p: Fraction = Field(description="probability of moving good -> bad per packet")
    r: Fraction = Field(description="probability of moving bad -> good per packet")
    one_minus_h: Fraction = Field(1.0, alias="1-h", description="loss rate in the bad state")
    one_minus_k: Fraction = Field(0.0, alias="1-k", description="loss rate in the good state")

    @model_validator(mode="after")
    def _moves(self) -> GilbertElliott:
        if self.p + self.r <= 0:
            raise at_key("r", "p + r must be above 0 (the chain must move)")
        return self


LossModel = tagged({"bernoulli": Bernoulli, "gilbert-elliott": GilbertElliott}, "bernoulli")


class UniformJitter(Section):
    kind: Literal["uniform"] = "uniform"
    max: Duration = Field(description="extra delay uniform on [0, max]")


class NormalJitter(Section):
    kind: Literal["normal"]
    std: Duration = Field(description="extra delay N(0, std), clipped at 0")


class ParetoJitter(Section):
    kind: Literal["pareto"]
    scale: Duration = Field(description="Pareto (Lomax) scale")
    alpha: number(0.0, lo_open=True) = Field(2.5, description="Pareto shape (> 0)")  # type: ignore[valid-type]


def _jitter_shorthand(v: Any) -> Any:
    """`jitter: 5ms` is `{kind: uniform, max: 5ms}`; `{}` is no jitter."""
    if isinstance(v, dict) and not v:
        return None
    return {"kind": "uniform", "max": v} if isinstance(v, str | int | float) else v


_JitterVariant = tagged(
    {"uniform": UniformJitter, "normal": NormalJitter, "pareto": ParetoJitter}, "uniform"
)
Jitter = Annotated[
    _JitterVariant | None,
    BeforeValidator(_jitter_shorthand, json_schema_input_type=Duration | _JitterVariant | None),
]


class LinkClass(Section):
    """One class of links; nodes name it in `uplink.link`."""

    kind: choice(LINK_KINDS) = Field("wired", description="link technology (plots colour by it)")  # type: ignore[valid-type]
    bandwidth: Bandwidth | None = Field(None, description="both directions, e.g. 20Mbps")
    bandwidth_up: Bandwidth | None = Field(None, description="toward the server")
    bandwidth_down: Bandwidth | None = Field(None, description="from the server")
    latency: Duration = Field(0.0, description="one-way propagation delay")
    loss: Fraction = Field(
        0.0, description="Bernoulli packet loss per direction (not with gilbert-elliott)"
    )
    loss_model: LossModel | None = Field(
        None, description="bursty loss: {kind: gilbert-elliott, p, r, 1-h, 1-k}"
    )  # type: ignore[valid-type]
    jitter: Jitter = Field(None, description="a duration (uniform up to it) or {kind, ...}")  # type: ignore[valid-type]
    mtu: integer(68, unit="bytes") = Field(1500, description="bytes")  # type: ignore[valid-type]
    queue: integer(1, unit="packets") = Field(100, description="drop-tail queue limit in packets")  # type: ignore[valid-type]
    shared: Bool = Field(False, description="links of this class under one parent share one medium")
    half_duplex: Bool = Field(
        False, description="up and down share one transmitter (at one rate: `bandwidth`)"
    )
    duty_cycle: Fraction = Field(1.0, description="fraction of airtime a sender may use (LoRa 1%)")
    fidelity: choice(FIDELITIES) | None = Field(None, description="override the top-level fidelity")  # type: ignore[valid-type]
    radio: RadioModel = Field(
        default_factory=RadioModel, description="the radio's figures (default: the kind's)"
    )

    @model_validator(mode="after")
    def _complete(self) -> LinkClass:
        if self.bandwidth_up is None and self.bandwidth is None:
            raise at_key("bandwidth", "is required (or bandwidth_up and bandwidth_down)")
        if self.bandwidth_down is None and self.bandwidth is None:
            raise at_key("bandwidth", "is required (or bandwidth_up and bandwidth_down)")
        if None not in (self.bandwidth, self.bandwidth_up, self.bandwidth_down):
            raise at_key(
                "bandwidth",
                "is not used: bandwidth_up and bandwidth_down are both set and each direction "
                "runs at its own rate (so setting bandwidth changes nothing); change those, "
                "or drop bandwidth, or drop one direction for bandwidth to give it",
            )
        if self.duty_cycle <= 0:
            raise at_key("duty_cycle", "must be above 0%")
        if self.half_duplex and self.up_bps != self.down_bps:
            raise at_key(
                "half_duplex",
                f"one transmitter carries both directions at one rate, but bandwidth_up "
                f"({_bps(self.up_bps)}) and bandwidth_down ({_bps(self.down_bps)}) differ: "
                "give one `bandwidth`, or set half_duplex: false",
            )
        if self.loss > 0 and getattr(self.loss_model, "kind", None) == "gilbert-elliott":
            raise at_key(
                "loss",
                "is not used with loss_model gilbert-elliott (its losses are 1-k in the good "
                "state and 1-h in the bad one): drop `loss`, or use loss_model "
                "{kind: bernoulli}",
            )
        if self.kind != "lora":
            for key in LORA_KEYS:
                if getattr(self.radio, key) is not None:
                    raise at_key(
                        f"radio.{key}", f"is a LoRa setting; this link is kind {self.kind}"
                    )
        else:  # one airtime: the radio's, for the network's bookings and the energy ledger
            problem = lora_rate_problem(self.up_bps, self.down_bps, self.radio)
            if problem is not None:
                key, why = problem
                if key.startswith("bandwidth") and getattr(self, key) is None:  # as `bandwidth`
                    key = "bandwidth"
                raise at_key(key, why)
        return self

    @property
    def up_bps(self) -> float:
        return float(self.bandwidth_up if self.bandwidth_up is not None else self.bandwidth)  # type: ignore[arg-type]

    @property
    def down_bps(self) -> float:
        return float(
            self.bandwidth_down if self.bandwidth_down is not None else self.bandwidth  # type: ignore[arg-type]
        )

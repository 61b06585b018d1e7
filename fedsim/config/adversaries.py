"""Byzantine devices (`adversaries:`), as fedsim.tasks.adversary reads them."""

from __future__ import annotations

from pydantic import Field

from fedsim.config.base import Section
from fedsim.config.units import Fraction, choice, number

__all__ = ["ADVERSARY_KINDS", "Adversaries"]

ADVERSARY_KINDS = ("sign_flip", "scaled_noise", "random_update", "label_flip")


class Adversaries(Section):
    unknown_key_message = "unknown key (allowed: {allowed})"

    fraction: Fraction = Field(description="share of devices that are Byzantine, e.g. 30%")
    kind: choice(ADVERSARY_KINDS) = Field("sign_flip", description="the attack")  # type: ignore[valid-type]
    scale: number(0.0, lo_open=True) = Field(1.0, description="attack strength")  # type: ignore[valid-type]
    sigma: number(0.0, lo_open=True) = Field(1.0, description="noise scale")  # type: ignore[valid-type]

"""One colour (and hatch) per dropout cause, the same in every figure of every run.

Why: colours handed out in the order causes appear make `gateway_down` vermillion in one
run and `battery` vermillion in the next, so two figures side by side read wrong. Causes
of one kind share a hue (waiting: orange, the path: vermillion, a gateway or the server:
reddish purple, the device: yellow, its battery or churn: blue, the upload: sky blue) and
a hatch tells them apart; the hues are Okabe-Ito, safe for the common colour-vision
deficiencies, and none is the green of reported uploads.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CAUSE_STYLES", "UNKNOWN_CAUSE", "CauseStyle", "cause_style"]


class CauseStyle(NamedTuple):
    colour: str
    hatch: str | None = None


_ORANGE, _SKY, _YELLOW, _BLUE = "#E69F00", "#56B4E9", "#F0E442", "#0072B2"
_VERMILLION, _PURPLE, _GREY, _WHITE = "#D55E00", "#CC79A7", "#999999", "#FFFFFF"

CAUSE_STYLES: dict[str, CauseStyle] = {
    "deadline": CauseStyle(_ORANGE),
    "time_limit": CauseStyle(_ORANGE, "//"),
    "run_stopped": CauseStyle(_ORANGE, ".."),
    "aborted": CauseStyle(_SKY),
    "request_timeout": CauseStyle(_SKY, "\\\\"),
    "coap_gave_up": CauseStyle(_SKY, "++"),
    "rejected": CauseStyle(_WHITE, "xx"),
    "stale": CauseStyle(_SKY, "//"),
    "lost": CauseStyle(_SKY, ".."),
    "link_down": CauseStyle(_VERMILLION),
    "partition": CauseStyle(_VERMILLION, "//"),
    "device_offline": CauseStyle(_YELLOW),
    "device_failure": CauseStyle(_YELLOW, "//"),
    "gateway_down": CauseStyle(_PURPLE),
    "server_down": CauseStyle(_PURPLE, "//"),
    "battery": CauseStyle(_BLUE),
    "churn": CauseStyle(_BLUE, "//"),
    "other": CauseStyle(_GREY),
}
"""Every cause of fedsim.record.schema.DROPOUT_CAUSES (tests/test_figures_trust.py
checks each has one), `request_timeout` included ahead of the branch that adds it."""

UNKNOWN_CAUSE = CauseStyle(_GREY, "..")
"""Dropouts rounds.csv counts without a cause."""


def cause_style(cause: str) -> CauseStyle:
    """The style of `cause`; a cause outside the documented list is `other`."""
    return CAUSE_STYLES.get(cause, CAUSE_STYLES["other"])

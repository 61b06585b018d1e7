"""A link's radio (`links.<name>.radio`): figures that replace the kind's defaults
(fedsim/net/radio_table.py, docs/energy.md). Every key is optional."""

from __future__ import annotations

from pydantic import Field

from fedsim.config.base import Section
from fedsim.config.units import (
    Bool,
    Duration,
    Energy,
    Power,
    Size,
    UnboundedDuration,
    choice,
    integer,
)

__all__ = ["LORA_KEYS", "RadioModel"]

LORA_KEYS = (
    "sf",
    "lora_bandwidth",
    "coding_rate",
    "preamble",
    "explicit_header",
    "crc",
    "low_data_rate",
)
"""Keys that only a `kind: lora` link accepts."""


class RadioModel(Section):
    """`{sf: 12, tx_power: 120mW, ...}`: what differs from the link kind's radio."""

    sf: integer(6, 12) | None = Field(
        None, description="LoRa spreading factor (default: the one matching the bandwidth)"
    )  # type: ignore[valid-type]
    lora_bandwidth: choice(("125kHz", "250kHz", "500kHz")) | None = Field(
        None, description="LoRa channel bandwidth (default 125kHz)"
    )  # type: ignore[valid-type]
    coding_rate: choice(("4/5", "4/6", "4/7", "4/8")) | None = Field(
        None, description="LoRa coding rate (default 4/5)"
    )  # type: ignore[valid-type]
    preamble: integer(6, 65535) | None = Field(
        None, description="LoRa preamble symbols (default 8)"
    )  # type: ignore[valid-type]
    explicit_header: Bool | None = Field(None, description="LoRa explicit header (default true)")  # type: ignore[valid-type]
    crc: Bool | None = Field(None, description="LoRa payload CRC (default true)")  # type: ignore[valid-type]
    low_data_rate: Bool | None = Field(
        None, description="LoRa low-data-rate optimisation (default: on when a symbol > 16 ms)"
    )  # type: ignore[valid-type]
    frame_overhead: Size | None = Field(
        None, description="bytes a frame adds to the TCP/IP bytes (MAC/PHY headers)"
    )  # type: ignore[valid-type]
    tx_power: Power | None = Field(None, description="draw while transmitting, e.g. 96mW")  # type: ignore[valid-type]
    rx_power: Power | None = Field(None, description="draw while receiving")  # type: ignore[valid-type]
    tail: Duration | None = Field(
        None, description="high-power time after activity (LTE RRC tail, Wi-Fi PSM timeout)"
    )  # type: ignore[valid-type]
    tail_power: Power | None = Field(None, description="draw during the tail")  # type: ignore[valid-type]
    idle: UnboundedDuration | None = Field(
        None,
        description="idle listening after the tail before sleep (NB-IoT T3324); inf: never sleeps",
    )  # type: ignore[valid-type]
    idle_power: Power | None = Field(None, description="draw while idle (DRX/eDRX, DTIM)")  # type: ignore[valid-type]
    sleep_power: Power | None = Field(None, description="draw asleep (PSM, deep sleep)")  # type: ignore[valid-type]
    wake_period: UnboundedDuration | None = Field(
        None, description="periodic wake while asleep (NB-IoT T3412 TAU); inf: none"
    )  # type: ignore[valid-type]
    wake_energy: Energy | None = Field(None, description="energy of one periodic wake")  # type: ignore[valid-type]
    promotion: Duration | None = Field(
        None, description="wake-up after the tail ran out (LTE RRC_IDLE -> CONNECTED)"
    )  # type: ignore[valid-type]
    promotion_power: Power | None = Field(None, description="draw during the promotion")  # type: ignore[valid-type]

"""Default radios per link kind, with where each figure comes from (docs/energy.md).

Why a table and not a device-profile constant: the energy of a transmission is the
radio's power times its airtime, and both belong to the link technology (an SX1276
at SF12, an NB-IoT modem in PSM), not to the CPU next to it. A link class picks its
row by `kind`; `links.<name>.radio` replaces any figure (fedsim.config.radio).

Powers are supply current x supply voltage from the cited datasheets or papers.
Where a source gives a range, the value used is stated; where no source was checked,
the row says so and the figure is an order of magnitude to override.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fedsim.net.lora_airtime import CODING_RATES, LoRaFraming
from fedsim.net.radio import RadioProfile

__all__ = [
    "KIND_RADIOS",
    "KindRadio",
    "class_radio",
    "lora_framings",
    "lora_rate_problem",
    "lora_sf_for_rate",
    "radio_profile",
]


@dataclass(frozen=True)
class KindRadio:
    """A technology's defaults; per-byte airtime comes from the link's bandwidth."""

    tx_w: float
    rx_w: float
    frame_bytes: int
    """Bytes a frame carries beyond the TCP/IP wire bytes (MAC/PHY headers, FCS)."""
    frame_s: float
    """Fixed seconds per frame (preamble, inter-frame spaces, MAC ACK)."""
    tail_s: float = 0.0
    tail_w: float = 0.0
    idle_s: float = math.inf
    idle_w: float = 0.0
    sleep_w: float = 0.0
    wake_period_s: float = math.inf
    promotion_s: float = 0.0
    promotion_w: float = 0.0
    source: str = ""


_SX1276 = "Semtech SX1276/77/78/79 datasheet Rev. 7 (2020), Table 6 and Table 10, at 3.3 V"
_LTE = "Huang et al., 'A Close Examination of Performance and Power Characteristics of 4G LTE Networks', MobiSys 2012, Table 3"  # noqa: E501

KIND_RADIOS: dict[str, KindRadio] = {
    # SX1276 at 3.3 V: TX +13 dBm on RFO 29 mA, RX (LoRa, 125 kHz) 10.3 mA, sleep 0.2 uA.
    # LoRaWAN Class A: after an uplink two receive windows, each open at least a preamble
    # (tail: see radio_profile); then sleep. frame_bytes: LoRaWAN MHDR 1 + FHDR 7 +
    # FPort 1 + MIC 4 (LoRaWAN 1.0.3 section 4). Per-frame airtime: the Semtech formula.
    "lora": KindRadio(
        tx_w=3.3 * 29e-3,
        rx_w=3.3 * 10.3e-3,
        frame_bytes=13,
        frame_s=0.0,
        idle_s=0.0,
        sleep_w=3.3 * 0.2e-6,
        source=_SX1276,
    ),
    # NB-IoT modem at 3.6 V. TX 23 dBm 220 mA (RRC connected draws 100-360 mA: u-blox,
    # Quectel module datasheets as summarised by Monogoto, 'The Subtle Art of Low-Power
    # Cellular IoT', 2022); RX 100 mA (the low end of that range). After data the modem
    # stays RRC-connected until the network releases it (tail 20 s at ~10 mA of
    # connected-mode DRX: Michelinakis et al., 'Dissecting Energy Consumption of NB-IoT
    # Devices Empirically', IEEE IoT J. 2021, find this state dominates), then idles
    # reachable for T3324 (20 s) paging at 1.3 mA (DRX 1.28 s, u-blox SARA-R412M
    # datasheet via Monogoto), then PSM at 4 uA (Quectel BC65 Hardware Design, Deep
    # Sleep typ. 4 uA) until the next data or the periodic TAU (T3412, 24 h).
    "nbiot": KindRadio(
        tx_w=3.6 * 220e-3,
        rx_w=3.6 * 100e-3,
        frame_bytes=6,
        frame_s=0.0,
        tail_s=20.0,
        tail_w=3.6 * 10e-3,
        idle_s=20.0,
        idle_w=3.6 * 1.3e-3,
        sleep_w=3.6 * 4e-6,
        wake_period_s=24 * 3600.0,
        source="Quectel BC65 Hardware Design; Monogoto 2022; Michelinakis et al. 2021",
    ),
    # LTE (Huang et al. 2012, Table 3): TX/RX power beta + alpha x throughput (see
    # radio_profile), RRC_CONNECTED tail 11.576 s at 1060 mW, promotion from RRC_IDLE
    # 260.1 ms at 1210.7 mW, RRC_IDLE paging (DRX 1.28 s, 43.2 ms on at 594.3 mW): 20.1 mW
    # averaged; no sleep state. frame_bytes: PDCP 2 + RLC 2 + MAC 2.
    "lte": KindRadio(
        tx_w=1.28804,
        rx_w=1.28804,
        frame_bytes=6,
        frame_s=0.0,
        tail_s=11.576,
        tail_w=1.060,
        idle_w=0.5943 * 43.2 / 1280.0,
        promotion_s=0.2601,
        promotion_w=1.2107,
        source=_LTE,
    ),
    # ESP32 at 3.3 V (Espressif ESP32 datasheet, RF power consumption: TX 802.11g 54 Mbps
    # 16 dBm 190 mA, RX 95-100 mA; ESP32-WROOM-32 datasheet Table 5: RX and listening
    # 80-90 mA). After traffic the station listens for the PSM timeout (238.1 ms, the Wi-Fi
    # tail Huang et al. 2012 measured) at 85 mA, then stays associated in auto light
    # sleep at DTIM3, 2.33 mA average (ESP-IDF v5.4 'Low Power Mode in Wi-Fi Scenarios').
    # Per frame, 802.11g (ERP-OFDM, short slot; IEEE Std 802.11-2020 clauses 10.3 (DCF),
    # 17 (OFDM PHY) and 18 (ERP)): DIFS = SIFS 10 + 2 x slot 9 = 28 us, mean backoff
    # CWmin/2 = 7.5 slots = 67.5 us, PLCP preamble + SIGNAL 20 us, SIFS 10 us, MAC ACK
    # ~25 us (20 us PLCP + 14 B at the basic rate): ~150 us the medium is held beyond the
    # frame's bytes; frame_bytes: MAC header 24 + LLC/SNAP 8 + FCS 4. The network's
    # transmitters book this same airtime (a cell is busy for it), so the link's
    # `bandwidth` is the PHY data rate, not the goodput.
    "wifi": KindRadio(
        tx_w=3.3 * 190e-3,
        rx_w=3.3 * 100e-3,
        frame_bytes=36,
        frame_s=150e-6,
        tail_s=0.2381,
        tail_w=3.3 * 85e-3,
        idle_w=3.3 * 2.33e-3,
        source="Espressif ESP32 datasheet; ESP-IDF low-power Wi-Fi guide; Huang et al. 2012",
    ),
    # Nordic nRF52832 at 3 V with DC/DC (Product Specification v1.4): TX 0 dBm 5.3 mA,
    # RX 1 Mbps 5.4 mA, System ON idle with RTC 1.9 uA. Per frame: T_IFS 150 us; bytes:
    # preamble 1 + access address 4 + header 2 + L2CAP 4 + MIC 4 + CRC 3.
    "ble": KindRadio(
        tx_w=3.0 * 5.3e-3,
        rx_w=3.0 * 5.4e-3,
        frame_bytes=18,
        frame_s=150e-6,
        idle_s=0.0,
        sleep_w=3.0 * 1.9e-6,
        source="Nordic nRF52832 Product Specification v1.4",
    ),
    # A 100BASE-TX PHY draws about the same whether it carries frames or not (that is
    # what IEEE 802.3az addresses): ~0.2 W (Christensen et al., 'IEEE 802.3az: The Road
    # to Energy Efficient Ethernet', IEEE Commun. Mag. 2010). Per frame (IEEE Std 802.3,
    # clause 3 and 4.4.2): preamble+SFD 8, header 14, FCS 4, inter-packet gap 12 bytes.
    "ethernet": KindRadio(
        tx_w=0.2,
        rx_w=0.2,
        frame_bytes=38,
        frame_s=0.0,
        idle_w=0.2,
        source="Christensen et al. 2010 (order of magnitude)",
    ),
    # Not checked against a datasheet in this change: an order of magnitude for an
    # Iridium-class SBD modem at 5 V (TX ~1.5 W, RX ~0.2 W, standby ~0.17 W). Override
    # with links.<name>.radio.
    "satellite": KindRadio(
        tx_w=1.5,
        rx_w=0.2,
        frame_bytes=0,
        frame_s=0.0,
        idle_w=0.17,
        source="unchecked order of magnitude (override it)",
    ),
}
# `wired` and `backhaul` are point-to-point links as the TCP model's reference is (ns-3's
# PointToPointNetDevice, docs/network-model.md): their framing is PPP's 2 B per packet,
# which the wire bytes already hold (TcpParams.framing_bytes), so a frame is on air for
# its wire bytes at the link rate and nothing more. Their PHY draws as Ethernet's does.
KIND_RADIOS["wired"] = KindRadio(
    tx_w=0.2,
    rx_w=0.2,
    frame_bytes=0,
    frame_s=0.0,
    idle_w=0.2,
    source="Christensen et al. 2010 (order of magnitude); PPP framing, in the wire bytes",
)
KIND_RADIOS["backhaul"] = KIND_RADIOS["wired"]

_LTE_ALPHA_UP = 0.43839
"""W per Mbit/s of uplink throughput (Huang et al. 2012, Table 3: 438.39 mW/Mbps)."""
_LTE_ALPHA_DOWN = 0.05197
"""W per Mbit/s of downlink throughput (51.97 mW/Mbps)."""
_NBIOT_TAU_S = (1.0, 0.1)
"""A periodic TAU: ~1 s receiving (random access, RRC setup, TAU accept) and ~0.1 s
transmitting, then the connected tail (a modelling assumption, docs/energy.md)."""


def lora_sf_for_rate(bit_rate: float, bandwidth_hz: float = 125e3, cr: int = 1) -> int:
    """The spreading factor whose nominal bit rate is nearest (log scale) to the link's:
    5.47 kbit/s -> SF7, 1.76 kbit/s -> SF9, 250 bit/s -> SF12 (LoRaWAN EU868 DR5/DR3/DR0)."""
    rates = {sf: LoRaFraming(sf, bandwidth_hz, cr).bit_rate for sf in range(6, 13)}
    return min(rates, key=lambda sf: abs(math.log(rates[sf] / bit_rate)))


_SF_SPAN = 1.4
"""How far outside the SF12 .. SF6 range a LoRa link's bandwidth may lie before it is no
LoRa data rate at all (adjacent SFs' rates are ~1.8x apart: nearest is within 1.34x)."""


def _lora_opts(opts: Any) -> tuple[float, int]:
    bw = getattr(opts, "lora_bandwidth", None) if opts is not None else None
    cr = getattr(opts, "coding_rate", None) if opts is not None else None
    return float((bw or "125kHz").removesuffix("kHz")) * 1e3, CODING_RATES[cr or "4/5"]


def lora_rate_problem(up_bps: float, down_bps: float, opts: Any) -> tuple[str, str] | None:
    """Why a LoRa link's bandwidths and its radio (`radio.sf`, `lora_bandwidth`,
    `coding_rate`) would give two airtimes, as (key, reason) (None: they agree). The
    network books and the energy ledger charges one airtime, the radio's Semtech time on
    air; a link's `bandwidth` only picks its spreading factor, so it must be one."""
    bw, cr = _lora_opts(opts)
    rates = {sf: LoRaFraming(sf, bw, cr).bit_rate for sf in range(6, 13)}
    lo, hi = rates[12] / _SF_SPAN, rates[6] * _SF_SPAN
    sfs = []
    for key, bps in (("bandwidth_up", up_bps), ("bandwidth_down", down_bps)):
        if not lo <= bps <= hi:
            return key, (f"{bps:.6g} bit/s is no LoRa data rate at {bw / 1e3:g} kHz "
                         f"(SF12 {rates[12]:.0f} bit/s .. SF6 {rates[6]:.0f} bit/s); set "
                         "radio.lora_bandwidth, or a link kind that is not lora")  # fmt: skip
        sfs.append(lora_sf_for_rate(bps, bw, cr))
    sf = getattr(opts, "sf", None) if opts is not None else None
    for key, bps, got in zip(("bandwidth_up", "bandwidth_down"), (up_bps, down_bps), sfs,
                             strict=True):  # fmt: skip
        if sf is not None and sf != got:
            side = "the uplink bandwidth" if key == "bandwidth_up" else key
            return "radio.sf", (f"SF{sf} disagrees with {side} ({bps:.0f} bit/s is SF{got}, "
                                f"SF{sf} is {rates[sf]:.0f} bit/s at {bw / 1e3:g} kHz): the "
                                "link would carry frames for a time the radio is not charged "
                                "for; set the bandwidth to the SF's rate, or leave radio.sf "
                                "out (it follows the bandwidth)")  # fmt: skip
    return None  # (a half-duplex link with two rates, two SFs, is refused before: one rate)


def lora_framings(up_bps: float, down_bps: float, opts: Any = None) -> tuple[LoRaFraming, ...]:
    """(up, down) Semtech framing of a LoRa link: each direction at the SF its bandwidth
    picks (RX1 at the uplink's data rate; a downlink slower than the uplink is RX2's),
    or `radio.sf`, which must agree (`lora_rate_problem`)."""

    def given(key: str, default: Any) -> Any:
        v = getattr(opts, key, None) if opts is not None else None
        return default if v is None else v

    bw, cr = _lora_opts(opts)
    return tuple(
        LoRaFraming(
            sf=given("sf", lora_sf_for_rate(bps, bw, cr)),
            bandwidth_hz=bw,
            cr=cr,
            preamble=given("preamble", 8),
            explicit_header=given("explicit_header", True),
            crc=given("crc", True),
            low_data_rate=given("low_data_rate", None),
        )
        for bps in (up_bps, down_bps)
    )


def radio_profile(kind: str, up_bps: float, down_bps: float, opts: Any = None) -> RadioProfile:
    """The radio of a link class: its kind's row, the link's rates, then `opts`
    (a fedsim.config.radio.RadioModel or None) replacing what it names."""
    row = KIND_RADIOS.get(kind, KIND_RADIOS["wired"])

    def given(key: str, default: Any) -> Any:
        v = getattr(opts, key, None) if opts is not None else None
        return default if v is None else v

    tx_w, rx_w = row.tx_w, row.rx_w
    if kind == "lte":
        tx_w += _LTE_ALPHA_UP * up_bps / 1e6
        rx_w += _LTE_ALPHA_DOWN * down_bps / 1e6
    tx_w, rx_w = given("tx_power", tx_w), given("rx_power", rx_w)
    frame_bytes = given("frame_overhead", row.frame_bytes)
    tail_s, tail_w = row.tail_s, row.tail_w
    windows_s = 0.0
    if kind == "lora":
        framings = lora_framings(up_bps, down_bps, opts)
        per_frame = tuple(f.per_frame_s + frame_bytes * f.per_byte_s for f in framings)
        per_byte = tuple(f.per_byte_s for f in framings)
        # Class A: after every uplink frame RX1 and RX2 each stay open at least a preamble
        # (at the uplink's SF): charged per frame sent, not as a tail after a burst, so a
        # flow-fidelity window of n frames opens the n pairs packet fidelity opens.
        up = framings[0]
        windows_s = given("tail", 2 * (up.preamble + 4.25) * (1 << up.sf) / up.bandwidth_hz)
        tail_s, tail_w = 0.0, given("tail_power", rx_w)
    else:
        per_byte = (8.0 / up_bps, 8.0 / down_bps)
        per_frame = (row.frame_s + 8.0 * frame_bytes / up_bps,
                     row.frame_s + 8.0 * frame_bytes / down_bps)  # fmt: skip
    if kind != "lora":
        tail_s, tail_w = given("tail", tail_s), given("tail_power", tail_w)
    wake_period = given("wake_period", row.wake_period_s)
    wake_j = 0.0
    if math.isfinite(wake_period):
        rx_s, tx_s = _NBIOT_TAU_S
        wake_j = rx_s * rx_w + tx_s * tx_w + tail_s * tail_w
    return RadioProfile(
        kind=kind,
        tx_w=tx_w,
        rx_w=rx_w,
        per_frame_s=per_frame,
        per_byte_s=per_byte,
        windows_s=windows_s,
        tail_s=tail_s,
        tail_w=tail_w,
        idle_s=given("idle", row.idle_s),
        idle_w=given("idle_power", row.idle_w),
        sleep_w=given("sleep_power", row.sleep_w),
        wake_period_s=wake_period,
        wake_j=given("wake_energy", wake_j),
        promotion_s=given("promotion", row.promotion_s),
        promotion_w=given("promotion_power", row.promotion_w),
        source=row.source,
    )


def class_radio(cls: Any) -> RadioProfile:
    """The devices' radio on a link class (a fedsim.scenario.LinkClassSpec): the one its
    file configured, else its kind's at its rates."""
    return cls.radio or radio_profile(cls.kind, cls.bandwidth_up_bps, cls.bandwidth_down_bps)

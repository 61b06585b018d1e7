"""Link classes (`links.<name>`): every kind, asymmetric rates, loss models, jitter,
shared and half-duplex media, duty cycles and per-class fidelity overrides."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from fedsim.net.radio_table import lora_sf_for_rate
from fuzz.units import bandwidth, duration, fractions, percent

# (low, high) bit/s per link kind: slow enough to matter, fast enough that a few KB
# of model crosses in simulated minutes (the run, not the radio, is under test).
RATES: dict[str, tuple[float, float]] = {
    "wifi": (2e6, 100e6),
    "lora": (1e3, 11e3),
    "nbiot": (20e3, 100e3),
    "lte": (1e6, 50e6),
    "ethernet": (10e6, 1e9),
    "backhaul": (5e6, 1e9),
    "wired": (10e6, 1e9),
    "satellite": (100e3, 10e6),
    "ble": (100e3, 1e6),
}
LATENCY: dict[str, tuple[float, float]] = {
    "wifi": (0.0, 0.01),
    "lora": (0.1, 1.0),
    "nbiot": (0.3, 3.0),
    "lte": (0.01, 0.08),
    "ethernet": (0.0, 0.002),
    "backhaul": (0.001, 0.06),
    "wired": (0.0, 0.002),
    "satellite": (0.1, 0.6),
    "ble": (0.005, 0.05),
}


@st.composite
def rate(draw: st.DrawFn, kind: str) -> float:
    low, high = RATES[kind]
    steps = draw(st.integers(0, 20))
    return float(round(low * (high / low) ** (steps / 20), -2 if low >= 1e4 else 0))


@st.composite
def loss_model(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"kind": "bernoulli"}
    return {
        "kind": "gilbert-elliott",
        "p": percent(draw(fractions(0.001, 0.05))),
        "r": percent(draw(fractions(0.1, 0.9))),
        "1-h": percent(draw(fractions(0.1, 1.0))),
        "1-k": percent(draw(fractions(0.0, 0.01))),
    }


@st.composite
def jitter(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["plain", "uniform", "normal", "pareto"]))
    size = duration(draw(st.sampled_from([0.001, 0.005, 0.02, 0.1])))
    if kind == "plain":
        return size
    if kind == "uniform":
        return {"kind": "uniform", "max": size}
    if kind == "normal":
        return {"kind": "normal", "std": size}
    return {"kind": "pareto", "scale": size, "alpha": draw(st.sampled_from([1.5, 2.5, 4]))}


@st.composite
def link_class(draw: st.DrawFn, kind: str | None = None, lossy: bool = True) -> dict[str, Any]:
    """One link class; optional keys appear only sometimes, so defaults are covered.
    `lossy` allows 10-30 % loss (costly to simulate over hours of retransmissions)."""
    kind = kind or draw(st.sampled_from(sorted(RATES)))
    out: dict[str, Any] = {"kind": kind}
    if draw(st.integers(0, 3)) == 0:
        up, down = draw(rate(kind)), draw(rate(kind))
        out["bandwidth_up"] = bandwidth(up)
        out["bandwidth_down"] = bandwidth(down)
    else:
        up = down = draw(rate(kind))
        out["bandwidth"] = bandwidth(up)
    low, high = LATENCY[kind]
    out["latency"] = duration(draw(st.sampled_from([low, (low + high) / 2, high])))
    if draw(st.booleans()):
        high = lossy and draw(st.integers(0, 7)) == 0  # now and then a link that loses a lot
        out["loss"] = percent(draw(fractions(0.1, 0.3) if high else fractions(0.0, 0.05)))
    if draw(st.integers(0, 3)) == 0:
        out["loss_model"] = draw(loss_model())
    if draw(st.integers(0, 3)) == 0:
        out["jitter"] = draw(jitter())
    if kind in ("lora", "ble") or draw(st.integers(0, 5)) == 0:
        out["mtu"] = draw(st.sampled_from([68, 127, 242, 576, 1500]))
    if draw(st.integers(0, 5)) == 0:
        out["queue"] = draw(st.sampled_from([2, 10, 50, 100]))
    if draw(st.integers(0, 2)) == 0:
        out["shared"] = True
        out["half_duplex"] = draw(st.booleans())
    elif draw(st.integers(0, 5)) == 0:
        out["half_duplex"] = True
    if kind == "lora" and out.get("half_duplex") and "bandwidth_down" in out:
        out["bandwidth_down"], down = out["bandwidth_up"], up  # one radio, one SF (else refused)
    if kind == "lora" or draw(st.integers(0, 7)) == 0:
        out["duty_cycle"] = percent(draw(st.sampled_from([0.01, 0.1, 0.5, 1.0])))
    if draw(st.integers(0, 5)) == 0:
        out["fidelity"] = draw(st.sampled_from(["flow", "packet"]))
    if draw(st.integers(0, 3)) == 0:
        out["radio"] = draw(radio(kind, up, down))
    return out


@st.composite
def radio(
    draw: st.DrawFn, kind: str, up_bps: float = 5470.0, down_bps: float = 5470.0
) -> dict[str, Any]:
    """A link's radio overrides (fedsim.config.radio): LoRa modulation, powers, timers.
    A LoRa `sf` is the one its uplink rate picks (another is refused: two airtimes),
    with the default coding rate."""
    out: dict[str, Any] = {}
    if kind == "lora":
        # (4/8 at SF6 reaches ~8 kbit/s; both directions: a campaign drew 9.757 kbit/s
        # down with 4/7, which the config rightly refuses, and the scenario never ran)
        if max(up_bps, down_bps) <= 8e3 and draw(st.booleans()):
            out["coding_rate"] = draw(st.sampled_from(["4/5", "4/6", "4/7", "4/8"]))
        elif lora_sf_for_rate(up_bps) == lora_sf_for_rate(down_bps) and draw(st.booleans()):
            out["sf"] = lora_sf_for_rate(up_bps)
    if draw(st.booleans()):
        out["tx_power"] = draw(st.sampled_from(["20mW", "100mW", "1W"]))
    if draw(st.booleans()):
        out["tail"] = duration(draw(st.sampled_from([0.0, 0.2, 10.0])))
        out["idle"] = duration(draw(st.sampled_from([0.0, 20.0, 300.0])))
        out["sleep_power"] = draw(st.sampled_from(["0uW", "15uW"]))
        if draw(st.booleans()):  # periodic wakes, each a step of its joules (a TAU)
            out["wake_period"] = duration(draw(st.sampled_from([1.0, 30.0, 100.0])))
            out["wake_energy"] = draw(st.sampled_from(["1mJ", "50mJ", "500mJ"]))
    return out


def modellable(link: dict[str, Any]) -> dict[str, Any]:
    """`link` without what the config model refuses: a half-duplex transmitter has one
    rate, and a gilbert-elliott link no Bernoulli `loss` beside its own loss rates."""
    if link.get("half_duplex") and "bandwidth_up" in link:
        link["bandwidth_down"] = link["bandwidth_up"]
    if (link.get("loss_model") or {}).get("kind") == "gilbert-elliott":
        link.pop("loss", None)
    return link

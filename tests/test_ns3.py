"""Both fidelities against ns-3 (tests/data/ns3_tcp_transfer.csv), and each other.

Loss-free rows: within 10 % of ns-3 (one deterministic run).

Lossy rows: ns-3's figure is the mean of only 50 runs of a heavy-tailed time (a lost
SYN costs 3 s, a timeout >= 1 s, on a 15 ms transfer), so it is itself a random
variable with a large spread. A row passes if EITHER

* A: the model's mean over n >= 50 seeds is within 25 % of ns-3's mean, OR
* B: ns-3's 50-run mean lies inside the central 95 % of the sampling distribution of
  a 50-run mean *of the model*, estimated by bootstrap (50 draws with replacement,
  `BOOT` times) from the same n seeds.

B is the statistically correct comparison of a 50-sample mean with a model: it asks
whether ns-3's figure is a plausible 50-run outcome of the model. The interval is
computed here from the model's own seeds; nothing is hard-coded. ns-3's figures are
printed to 6 significant digits, so the interval is widened by 1e-4 relative.
See docs/network-model.md ("Validation").

Flow vs packet: means over the same seeds within 15 %, plus two standard errors of the
*paired* difference (both fidelities draw the SYN fates and the first window's fates
from the same seeded stream, so the pair shares most of its randomness).

Runs whose connect() times out (6 lost SYNs: probability 0.2^6 = 6e-5 at 20 % loss)
are left out of the mean, as a completion time does not exist for them.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from fedsim.errors import FedsimError
from fedsim.net.calculator import run_once

CSV = Path(__file__).resolve().parent / "data" / "ns3_tcp_transfer.csv"
CSV_SHA256 = "435a674a2a5a82bf7a530c4d9507fdd867719b7159359b996869f9680b743545"
"""The table as ns-3 wrote it (tests/data/README.md): never tuned to the model."""
NS3_RUNS = 50
BOOT = 4000
ROUNDING = 1e-4


def _rows() -> list[dict[str, str]]:
    """The reference rows. The table ships with the tests: a missing one is an error
    at collection, never a skip."""
    with CSV.open() as f:
        return list(csv.DictReader(f))


ROWS = _rows()


def test_the_reference_table_is_ns3s_own() -> None:
    assert hashlib.sha256(CSV.read_bytes()).hexdigest() == CSV_SHA256
    assert len(ROWS) == 32
    assert {r["profile"] for r in ROWS} == {"wifi-like", "lte-like"}
    assert sum(float(r["loss_rate"]) == 0 for r in ROWS) >= 4
    assert sum(float(r["loss_rate"]) > 0 for r in ROWS) >= 4


def _seeds(size: int, loss: float, slow: bool = False) -> int:
    """Seeds per lossy row: many for the cheap small rows (whose 50-run means are the
    noisiest), at least 50 everywhere. `slow` multiplies them (make test-all).

    100 KB at 1-5 % loss gets 2000: there a run costs ~0.1 s without a timeout and >= 1 s
    with one (~20 % of runs), so with 200 seeds the model's own mean had a relative
    standard error of ~15 % and the verdict depended on which seeds were drawn (wifi
    5 %: seeds 0-199 give 0.64 s, 0-1999 0.49 s, 0-7999 0.47 s). 2000 brings it to ~5 %.
    At 20 % every run has timeouts and 200 seeds give ~4 %."""
    if loss <= 0:
        return 1
    if size <= 10_000:
        n = 1000
    elif size <= 100_000:
        n = 2000 if loss <= 0.05 else 200
    else:
        n = 50
    return n * (4 if slow else 1)


@cache
def _times(fidelity: str, bw: float, delay: float, size: int, loss: float, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    for i in range(n):
        with contextlib.suppress(FedsimError):  # connect() timed out: no completion time
            out[i] = run_once(
                bw, delay, size, rng=np.random.default_rng([7, i]), fidelity=fidelity, loss=loss
            )[0]
    return out


def _key(r: dict[str, str]) -> tuple[str, int, float]:
    return r["profile"], int(r["msg_bytes"]), float(r["loss_rate"])


def _args(r: dict[str, str]) -> tuple[float, float, int, float]:
    bw, delay = float(r["bandwidth_bps"]), float(r["delay_s"])
    return bw, delay, int(r["msg_bytes"]), float(r["loss_rate"])


def interval_50(times: np.ndarray, boot: int = BOOT, runs: int = NS3_RUNS) -> tuple[float, float]:
    """Central 95 % interval of the mean of `runs` draws from `times` (bootstrap)."""
    t = times[~np.isnan(times)]
    g = np.random.default_rng(12345)
    means = t[g.integers(0, t.size, size=(boot, runs))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def judge(times: np.ndarray, ref: float) -> tuple[str | None, float, tuple[float, float]]:
    """Which criterion a row passes ("25%", "interval", or None), the mean, the interval."""
    mean = float(np.nanmean(times))
    lo, hi = interval_50(times)
    if abs(mean - ref) <= 0.25 * ref:
        return "25%", mean, (lo, hi)
    if lo * (1 - ROUNDING) <= ref <= hi * (1 + ROUNDING):
        return "interval", mean, (lo, hi)
    return None, mean, (lo, hi)


# Lossy rows where ns-3's figure is neither within 25 % of the model's mean nor a
# plausible 50-run outcome of the model (outside its 95 % interval, computed above):
# genuine model gaps, listed so they are visible, not hidden. See docs/network-model.md.
MODEL_GAPS: dict[tuple[str, str, int, float], str] = {}
FLOW_PACKET_GAPS: set[tuple[str, int, float]] = set()


def _params(lossy: bool, fidelity: str | None = None, slow: bool = False) -> list:
    out = []
    for r in ROWS:
        if (float(r["loss_rate"]) > 0) != lossy:
            continue
        marks = [pytest.mark.slow] if slow else []
        gap = MODEL_GAPS.get((fidelity, *_key(r))) if fidelity else None
        if gap is None and fidelity is None and _key(r) in FLOW_PACKET_GAPS:
            gap = "flow model's round-level recovery differs from the packet scoreboard"
        if gap:
            marks.append(pytest.mark.xfail(reason=gap, strict=False))
        out.append(pytest.param(r, marks=marks, id="{}-{}-{}".format(*_key(r))))
    assert out, f"no {'lossy' if lossy else 'loss-free'} rows in {CSV.name}"
    return out


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
@pytest.mark.parametrize("row", _params(lossy=False))
def test_lossless_within_10_percent(row, fidelity: str) -> None:
    bw, d, size, loss = _args(row)
    t = _times(fidelity, bw, d, size, loss, 1)
    assert float(t[0]) == pytest.approx(float(row["mean_s"]), rel=0.10)


def _check_lossy(row, fidelity: str, slow: bool) -> None:
    bw, d, size, loss = _args(row)
    n = _seeds(size, loss, slow)
    times = _times(fidelity, bw, d, size, loss, n)
    assert np.count_nonzero(~np.isnan(times)) >= NS3_RUNS
    ref = float(row["mean_s"])
    how, mean, (lo, hi) = judge(times, ref)
    assert how is not None, (
        f"{fidelity} mean {mean:.4g} s over {n} seeds vs ns-3 {ref:.4g} s "
        f"({mean / ref - 1:+.0%}); model's 95 % interval of a 50-run mean [{lo:.4g}, {hi:.4g}]"
    )


@pytest.mark.parametrize("row", _params(lossy=True, fidelity="flow"))
def test_lossy_flow_vs_ns3(row) -> None:
    _check_lossy(row, "flow", slow=False)


@pytest.mark.parametrize("row", _params(lossy=True, fidelity="packet"))
def test_lossy_packet_vs_ns3(row) -> None:
    _check_lossy(row, "packet", slow=False)


@pytest.mark.parametrize("row", _params(lossy=True, fidelity="packet", slow=True))
def test_lossy_packet_vs_ns3_many_seeds(row) -> None:
    _check_lossy(row, "packet", slow=True)


@pytest.mark.parametrize("row", _params(lossy=True) + _params(lossy=False))
def test_flow_agrees_with_packet(row) -> None:
    bw, d, size, loss = _args(row)
    n = _seeds(size, loss)
    f = _times("flow", bw, d, size, loss, n)
    p = _times("packet", bw, d, size, loss, n)
    ok = ~(np.isnan(f) | np.isnan(p))
    diff = f[ok] - p[ok]
    se = float(diff.std(ddof=1) / math.sqrt(diff.size)) if diff.size > 1 else 0.0
    fm, pm = float(f[ok].mean()), float(p[ok].mean())
    assert abs(fm - pm) <= 0.15 * pm + 2 * se, (fm, pm, se)


def test_interval_is_the_sampling_spread_of_a_50_run_mean() -> None:
    """The rule's interval: a two-point law (0 w.p. 0.9, 1 w.p. 0.1) has a 50-run mean
    of Binomial(50, 0.1)/50, whose central 95 % is about [0.02, 0.2]."""
    t = np.array([0.0] * 900 + [1.0] * 100)
    lo, hi = interval_50(t)
    assert 0.0 <= lo <= 0.04
    assert 0.16 <= hi <= 0.22
    assert judge(t, 0.05)[0] == "interval"
    assert judge(t, 0.3)[0] is None


@pytest.mark.parametrize("size", [1000, 10_000])
def test_slow_iot_link_flow_vs_packet(size: int) -> None:
    """Generalisation: 5 kbps, 500 ms (far from the reference profiles), lossless."""
    f = _times("flow", 5e3, 0.5, size, 0.0, 1)[0]
    p = _times("packet", 5e3, 0.5, size, 0.0, 1)[0]
    assert f == pytest.approx(p, rel=0.15)


def test_slow_iot_link_lossy_flow_vs_packet() -> None:
    """Generalisation with loss: 250 kbps, 100 ms, 100 KB at 5 %, 200 seeds each."""
    f = _times("flow", 250e3, 0.1, 100_000, 0.05, 200)
    p = _times("packet", 250e3, 0.1, 100_000, 0.05, 200)
    assert float(np.nanmean(f)) == pytest.approx(float(np.nanmean(p)), rel=0.20)


@pytest.mark.parametrize("size", [10_000, 1_000_000])
def test_fast_wired_link_flow_vs_packet(size: int) -> None:
    """Generalisation: 1 Gbps, 50 ms: the socket buffer, not the link, limits the rate."""
    f = _times("flow", 1e9, 0.05, size, 0.0, 1)[0]
    p = _times("packet", 1e9, 0.05, size, 0.0, 1)[0]
    assert f == pytest.approx(p, rel=0.15)


@pytest.mark.parametrize(
    ("bw", "delay", "size", "loss", "n"),
    [
        (5e3, 0.5, 10_000, 0.05, 200),  # slow IoT link: spurious timeouts on every run
        (250e3, 0.1, 100_000, 0.2, 200),
        (1e9, 0.05, 1_000_000, 0.01, 50),  # the socket buffer limits the rate
        (1e9, 0.05, 100_000, 0.05, 200),
    ],
)
def test_other_profiles_lossy_flow_vs_packet(
    bw: float, delay: float, size: int, loss: float, n: int
) -> None:
    """Generalisation with loss, away from the reference profiles: means within 20 %."""
    f = _times("flow", bw, delay, size, loss, n)
    p = _times("packet", bw, delay, size, loss, n)
    assert float(np.nanmean(f)) == pytest.approx(float(np.nanmean(p)), rel=0.20)


LORA_LIKE = (8e3, 0.3)
"""8 kbit/s, 300 ms one way: a 1502-byte frame takes 1.5 s, longer than the 1 s minimum
RTO, so the timer fires spuriously on every segment (~700 retransmissions per MB)."""


@pytest.mark.parametrize(
    ("size", "loss", "n"),
    [(10_000, 0.01, 400), (10_000, 0.05, 400), (10_000, 0.2, 400),
     (100_000, 0.01, 100), (100_000, 0.05, 100), (100_000, 0.2, 100)],
)  # fmt: skip
def test_lora_like_lossy_flow_follows_the_rto_as_packet_does(
    size: int, loss: float, n: int
) -> None:
    """Where serialization outlasts the RTO, flow runs the shared sender's timer on its
    flights: its means over the same seeds stay within 10 % of packet's."""
    f = _times("flow", *LORA_LIKE, size, loss, n)
    p = _times("packet", *LORA_LIKE, size, loss, n)
    assert float(np.nanmean(f)) == pytest.approx(float(np.nanmean(p)), rel=0.10)


@pytest.mark.slow
@pytest.mark.parametrize("link", [LORA_LIKE, (5.47e3, 0.1)])
@pytest.mark.parametrize("loss", [0.01, 0.05, 0.2])
def test_lora_like_lossy_1mb_flow_follows_the_rto(link: tuple[float, float], loss: float) -> None:
    f = _times("flow", *link, 1_000_000, loss, 20)
    p = _times("packet", *link, 1_000_000, loss, 20)
    assert float(np.nanmean(f)) == pytest.approx(float(np.nanmean(p)), rel=0.10)

"""`fedsim net transfer`: units read as written, a connect timeout is data, bad flags are one line.

In-process through `fedsim.cli.main`, as a user types it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fedsim.cli import main
from fedsim.net.calculator import ConnectTimeoutError, run_once


def _transfer(capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, object]:
    code = main(["net", "transfer", *flags])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    return json.loads(out)


@pytest.mark.parametrize("fidelity", ["packet", "flow"])
def test_a_byte_rate_is_eight_bits_a_byte(capsys: pytest.CaptureFixture[str], fidelity: str):
    """The issue's example: 1 MB at 1MBps (8 Mbit/s) is ~1 s, at 1Mbps ~8 s."""
    common = ("--latency", "0ms", "--size", "1MB", "--seeds", "2", "--fidelity", fidelity)
    fast = _transfer(capsys, "--bandwidth", "1MBps", *common)
    slow = _transfer(capsys, "--bandwidth", "1Mbps", *common)
    assert fast["bandwidth_bps"] == 8e6
    assert slow["bandwidth_bps"] == 1e6
    assert fast["size_bytes"] == slow["size_bytes"] == 1_000_000
    # 1 MB of payload plus ~4-6 % of TCP/IP headers and the handshake, no loss, no latency
    assert 1.0 < fast["mean_s"] < 1.07
    assert 8.0 < slow["mean_s"] < 8.5
    assert slow["mean_s"] == pytest.approx(8 * fast["mean_s"], rel=1e-9)
    assert _transfer(capsys, "--bandwidth", "1MB/s", *common) == fast


def test_a_connect_timeout_is_counted_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 7: this ended in a TimeoutError traceback; one of its runs loses all 6 SYNs."""
    flags = ("--bandwidth", "1Gbps", "--latency", "0.5ms", "--size", "1KB", "--loss", "20%")
    stats = _transfer(capsys, *flags, "--seeds", "525")
    assert stats["runs"] == 525
    assert stats["connect_timeouts"] >= 1
    assert stats["completed"] + stats["connect_timeouts"] == 525
    timed_out = stats["connect_timeout_runs"]
    assert isinstance(timed_out, list)
    assert len(timed_out) == stats["connect_timeouts"]
    for i in timed_out:  # run i is numpy's default_rng([seed, i]) with --seed 0
        with pytest.raises(ConnectTimeoutError, match="connect timed out after 6 SYNs"):
            run_once(1e9, 0.5e-3, 1000, rng=np.random.default_rng([0, i]), loss=0.2)
    assert stats["max_s"] is not None


def test_every_run_timing_out_is_still_a_report(capsys: pytest.CaptureFixture[str]) -> None:
    flags = ("--bandwidth", "1Mbps", "--latency", "1ms", "--size", "1kB", "--loss", "100%")
    stats = _transfer(capsys, *flags, "--seeds", "3")
    assert stats["completed"] == 0
    assert stats["connect_timeouts"] == 3
    assert stats["connect_timeout_runs"] == [0, 1, 2]
    assert stats["mean_s"] is None
    assert stats["wire_bytes"] is None


GOOD = {"--bandwidth": "1Mbps", "--latency": "1ms", "--size": "1kB", "--seeds": "1"}


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [
        ("--bandwidth", "10MBPS", "did you mean '10Mbps' (megabits/s) or '10MBps'"),
        ("--bandwidth", "fast", "--bandwidth: cannot read 'fast'"),
        ("--bandwidth", "0bps", "must be positive"),
        ("--latency", "1MS", "did you mean '1ms'"),
        ("--latency", "-1ms", "cannot be negative"),
        ("--size", "1Mb", "megabits"),
        ("--size", "0.5", "whole number of bytes"),
        ("--size", "1.5B", "whole number of bytes"),
        ("--loss", "120%", "[0, 1]"),
        ("--mtu", "10", "--mtu: must be >= 68"),
        ("--mtu", "1e3", "--mtu: expected an integer"),
        ("--seeds", "0", "--seeds: must be >= 1"),
        ("--seed", "-1", "--seed: must be >= 0"),
        ("--fidelity", "ns3", "--fidelity: unknown 'ns3'"),
        ("--loss-model", "markov", "--loss-model: unknown 'markov'"),
        ("--nonsense", "1", "unrecognized arguments"),
    ],
)
def test_a_bad_flag_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, fragment: str
) -> None:
    flags = {**GOOD, flag: value}
    code = main(["net", "transfer", *(f"{k}={v}" for k, v in flags.items())])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err
    assert "Traceback" not in err


def test_a_missing_flag_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["net", "transfer", "--bandwidth", "1Mbps", "--latency", "1ms"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: the following arguments are required: --size"


def test_samples_list_every_run_with_timeouts_as_data(capsys: pytest.CaptureFixture[str]) -> None:
    flags = ("--bandwidth", "1Gbps", "--latency", "0.5ms", "--size", "1KB", "--loss", "20%")
    stats = _transfer(capsys, *flags, "--seeds", "525", "--samples")
    runs = stats["samples"]
    assert [r["run"] for r in runs] == list(range(525))
    timed_out = [r["run"] for r in runs if r["connect_timeout"]]
    assert timed_out == stats["connect_timeout_runs"]
    assert timed_out, "this seed range holds a run whose 6 SYNs are all lost"
    for r in runs:
        if r["connect_timeout"]:
            assert r["time_s"] is None
            assert r["retransmissions"] is None
    done = [r["time_s"] for r in runs if not r["connect_timeout"]]
    assert np.mean(done) == pytest.approx(stats["mean_s"], rel=1e-12)
    retx = [r["retransmissions"] for r in runs if not r["connect_timeout"]]
    assert np.mean(retx) == pytest.approx(stats["retransmissions"], rel=1e-12)
    assert "samples" not in _transfer(capsys, *flags, "--seeds", "3")


def test_ci_is_a_seeded_bootstrap_interval_of_the_mean(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flags = ("--bandwidth", "20Mbps", "--latency", "5ms", "--size", "10KB", "--loss", "5%")
    a = _transfer(capsys, *flags, "--seeds", "200", "--ci")
    b = _transfer(capsys, *flags, "--seeds", "200", "--ci")
    lo, hi = a["mean_ci95_s"]
    assert a["mean_ci95_s"] == b["mean_ci95_s"], "same inputs, same interval"
    assert lo < a["mean_s"] < hi
    assert a["min_s"] <= lo
    assert hi <= a["max_s"]
    wide = _transfer(capsys, *flags, "--seeds", "50", "--ci")["mean_ci95_s"]
    assert wide[1] - wide[0] > hi - lo, "fewer runs, a wider interval"
    assert a["ci_resamples"] >= 1000


def test_ci_needs_two_completed_runs(capsys: pytest.CaptureFixture[str]) -> None:
    flags = ("--bandwidth", "1Mbps", "--latency", "1ms", "--size", "1kB", "--loss", "100%")
    assert _transfer(capsys, *flags, "--seeds", "3", "--ci")["mean_ci95_s"] is None
    one = ("--bandwidth", "1Mbps", "--latency", "1ms", "--size", "1kB", "--seeds", "1", "--ci")
    assert _transfer(capsys, *one)["mean_ci95_s"] is None

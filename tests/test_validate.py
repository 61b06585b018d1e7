"""`fedsim net validate`: the side-by-side table, the verdict, and a missing extra.

ns-3 itself is exercised by tests/test_ns3_regenerate.py (slow, needs the extra);
here a stand-in plays ns-3 so the command's logic runs in every test pass.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import fedsim.net.validate as validate_mod
from fedsim.cli import main
from fedsim.net.calculator import ConnectTimeoutError, run_once
from fedsim.net.ns3_link import Ns3MissingError
from fedsim.net.validate import acceptance


def _packet_as_ns3(bw, delay, size, *, loss=0.0, run=1, hystart=True):
    """A stand-in for ns-3: the packet fidelity on seed [99, run]."""
    try:
        t, _w, r = run_once(bw, delay, size, rng=np.random.default_rng([99, run]), loss=loss)
    except ConnectTimeoutError:
        return None, 0
    return t, r


@pytest.fixture
def fake_ns3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate_mod, "load", lambda: None)
    monkeypatch.setattr(validate_mod, "ns3_transfer", _packet_as_ns3)


@pytest.mark.usefixtures("fake_ns3")
def test_the_table_has_ns3_and_both_fidelities(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["net", "validate", "--bandwidth", "60kbps", "--latency", "300ms", "--size", "10KB",
            "--loss", "5%", "--seeds", "60"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("one message of 10000 B over 60000 bit/s, 0.3 s one way")
    rows = {line.split()[0]: line for line in out[2:]}
    assert set(rows) == {"ns-3", "packet", "flow"}
    assert "pass (" in rows["packet"]
    assert "pass (" in rows["flow"]


@pytest.mark.usefixtures("fake_ns3")
def test_json_carries_every_run_and_the_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["net", "validate", "--bandwidth", "20Mbps", "--latency", "5ms", "--size", "100KB",
            "--seeds", "1", "--json"]  # fmt: skip
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["ns3"]["mean_s"] == pytest.approx(0.0611944, rel=1e-6)  # the stand-in: packet
    for fid in ("packet", "flow"):
        assert res[fid]["verdict"] == "10%"
        assert len(res[fid]["samples_s"]) == 1
        assert res[fid]["wall_s"] >= 0.0


def test_without_the_extra_it_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> None:
        raise Ns3MissingError("ns-3 is not installed (ImportError): pip install 'fedsim[ns3]'")

    monkeypatch.setattr(validate_mod, "load", missing)
    argv = ["net", "validate", "--bandwidth", "1Mbps", "--latency", "1ms", "--size", "1kB"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install 'fedsim[ns3]'" in err


def test_a_bad_flag_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["net", "validate", "--bandwidth", "fast", "--latency", "1ms", "--size", "1kB"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--bandwidth" in err


def test_acceptance_is_the_projects_rule() -> None:
    assert acceptance(np.array([1.05]), 1.0, 1, lossless=True) == "10%"
    assert acceptance(np.array([1.15]), 1.0, 1, lossless=True) is None
    assert acceptance(np.array([1.2, 1.2]), 1.0, 50, lossless=False) == "25%"
    two_point = np.array([0.0] * 900 + [1.0] * 100)  # a 50-run mean: Binomial(50, .1) / 50
    assert acceptance(two_point, 0.05, 50, lossless=False) == "interval"
    assert acceptance(two_point, 0.3, 50, lossless=False) is None
    assert acceptance(np.array([np.nan]), 1.0, 50, lossless=False) is None

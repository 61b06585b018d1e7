"""`fl.server_keepalive`: how long the emulated server keeps a connection that brought no
request after its last answer was written (aiohttp's `keepalive_timeout`, 3,630 s by
default). The timer starts when the server has written the answer, not when a slow
device has received it: a device still downloading its task when the timer fires sends
its update on a connection the server has closed (as over real TCP)."""

from __future__ import annotations

from collections import Counter

import pytest
from topo import tiny_topology

from fedsim.errors import ScenarioError
from fedsim.fl.client import FLClient
from fedsim.run import simulate
from fedsim.scenario import parse_scenario


def _client_errors(monkeypatch: pytest.MonkeyPatch, keepalive: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    record = FLClient._error

    def error(self: FLClient, exc: BaseException) -> None:
        seen[type(exc).__name__] += 1
        record(self, exc)

    monkeypatch.setattr(FLClient, "_error", error)
    # A task (2.6 kB) takes ~4 s to come down a 5 kbit/s link. (At 4 kbit/s, with each
    # frame's 802.11 airtime, the register request itself arrives more than 1 s after
    # its connection opened, and aiohttp's keepalive timer, which also runs from the
    # connection's start, closes every new connection before its first request.)
    sc = parse_scenario(
        tiny_topology(
            links__wifi__bandwidth="5kbps", fl__rounds=2, fl__deadline="10min",
            fl__server_keepalive=keepalive,
        )
    )  # fmt: skip
    result = simulate(sc)
    assert result.summary.rounds == 2
    return seen


def test_a_keepalive_shorter_than_the_download_closes_the_connection_under_the_device(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = _client_errors(monkeypatch, "1s")
    assert short["ServerDisconnectedError"] > 0
    assert _client_errors(monkeypatch, "10min")["ServerDisconnectedError"] == 0


def test_the_keepalive_is_checked_at_its_key_path() -> None:
    with pytest.raises(ScenarioError, match=r"fl\.server_keepalive"):
        parse_scenario(tiny_topology(fl__server_keepalive="-5s"))

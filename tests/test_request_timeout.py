"""`fl.request_timeout`: the clients' total request timeout is a topology key, a
dropout it causes is named `request_timeout`, and `fedsim show` / `run` warn when a
path's estimated exchange outlasts it (outside audit redteam6, finding 5: a
half-duplex LoRa SF7 path at 10 % got 0 reports, dropouts labelled `deadline`)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from fedsim.cli import main
from fedsim.config.advice import advice
from fedsim.config.build import validate_model
from fedsim.fl.timeouts import REQUEST_TIMEOUT_S, is_request_timeout
from fedsim.record.tables import read_summary
from fedsim.scenario import load_scenario
from fedsim.show import describe, upload_warnings

HERE = Path(__file__).resolve().parent / "redteam6"
DUTY = HERE / "duty.yaml"
"""Two rpi4s on half-duplex LoRa SF7 at 10 %: downloads take ~209 s, uploads ~109 s,
one request carries both (fl.task_on_answer)."""


def test_the_key_defaults_to_the_timeout_the_clients_always_had() -> None:
    assert load_scenario(DUTY).fl.request_timeout_s == REQUEST_TIMEOUT_S == 120.0
    assert load_scenario(DUTY, ["fl.request_timeout=10min"]).fl.request_timeout_s == 600.0


def test_only_a_total_timeout_is_a_request_timeout() -> None:
    import aiohttp

    assert is_request_timeout(TimeoutError())
    assert not is_request_timeout(aiohttp.ConnectionTimeoutError())  # connect: its own cause
    assert not is_request_timeout(ConnectionResetError())


def test_a_path_whose_exchange_outlasts_the_timeout_is_warned() -> None:
    slow = load_scenario(DUTY, ["links.lora.bandwidth=1kbps"])
    (line,) = [w for w in upload_warnings(slow) if "request_timeout" in w]
    assert line.startswith("s × 2 under gw: upload + download (one request) ≈ ")
    assert "longer than the client allows (fl.request_timeout 120 s + fl.poll_wait 30 s" in line
    assert "every such exchange is abandoned: these devices cannot report" in line
    assert "(dropout cause request_timeout); raise fl.request_timeout" in line
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(describe(slow))
    assert "⚠ upload + download (one request)" in console.export_text()
    raised = load_scenario(DUTY, ["links.lora.bandwidth=1kbps", "fl.request_timeout=1h"])
    assert not [w for w in upload_warnings(raised) if "request_timeout" in w]


def test_a_long_poll_leaves_it_to_when_the_task_comes() -> None:
    """The total is request_timeout + poll_wait: an exchange longer than the first but
    inside the sum fails only when its task comes late in the poll."""
    slow = load_scenario(DUTY, ["links.lora.bandwidth=1kbps", "fl.poll_wait=2h"])
    (line,) = [w for w in upload_warnings(slow) if "request_timeout" in w]
    assert "an exchange whose task comes later than" in line
    assert "into the long poll is abandoned" in line


def test_mqtt_bounds_its_uploads_only() -> None:
    """An MQTT task is a message the client waits `poll_wait` for; its upload is a
    publish bounded by the timeout, with no long poll in it."""
    slow = ["links.lora.bandwidth=500bps", "fl.transport=mqtt"]
    (line,) = [w for w in upload_warnings(load_scenario(DUTY, slow)) if "request_timeout" in w]
    assert "under gw: upload ≈ " in line
    assert "every such exchange is abandoned" in line
    fits = load_scenario(DUTY, [*slow, "fl.request_timeout=10min"])
    assert not [w for w in upload_warnings(fits) if "request_timeout" in w]


def test_coap_has_no_such_timeout() -> None:
    sc = load_scenario(DUTY, ["links.lora.bandwidth=1kbps", "fl.transport=coap"])
    assert not [w for w in upload_warnings(sc) if "request_timeout" in w]


def test_the_dropouts_are_named_request_timeout_and_raising_it_fixes_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", str(DUTY), "--quiet", "--no-plots", "--out", str(tmp_path)]
    assert main([*args, "--set", "fl.time_limit=26min"]) == 0
    err = capsys.readouterr().err
    assert "timed out (cause request_timeout; " in err
    assert "of them during a task" in err
    (folder,) = tmp_path.iterdir()
    summary = read_summary(folder / "summary.json")
    assert summary.rounds >= 1
    assert set(summary.dropouts) == {"request_timeout"}  # not deadline, not time_limit
    assert summary.accepted_updates == 0
    assert "dropouts_request_timeout" in (folder / "clients.csv").read_text().splitlines()[0]

    raised = tmp_path / "raised"
    assert main([*args[:-1], str(raised), "--set", "fl.time_limit=26min",
                 "--set", "fl.request_timeout=10min"]) == 0  # fmt: skip
    assert "request_timeout" not in capsys.readouterr().err
    (folder,) = raised.iterdir()
    summary = read_summary(folder / "summary.json")
    assert summary.accepted_updates >= 6  # every round before the limit reports
    assert "request_timeout" not in summary.dropouts


@pytest.mark.parametrize(
    ("transport", "given", "unused"),
    [
        ("coap", {"task_on_answer": False, "server_keepalive": "1h", "request_timeout": "5min"},
         "fl.task_on_answer, fl.server_keepalive, fl.request_timeout: not used by fl.transport "
         "coap"),
        ("mqtt", {"task_on_answer": False, "server_keepalive": "1h"},
         "fl.task_on_answer, fl.server_keepalive: not used by fl.transport mqtt"),
    ],
)  # fmt: skip
def test_http_keys_under_another_transport_are_warned(
    transport: str, given: dict[str, object], unused: str
) -> None:
    import yaml

    topo = yaml.safe_load(DUTY.read_text())
    topo["fl"] = {**topo["fl"], "transport": transport, **given}
    lines = [w for w in advice(validate_model(topo)) if "not used by fl.transport" in w]
    assert len(lines) == 1
    assert lines[0].startswith(unused)
    topo["fl"] = {k: v for k, v in topo["fl"].items() if k not in given}
    assert not [w for w in advice(validate_model(topo)) if "not used by fl.transport" in w]

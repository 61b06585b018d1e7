"""A CoAP exchange out of retransmissions is its own cause, not a request timeout
(finding 5 of the session-13 review): CoAP has no request timeout, so counting it as
one sent the user to `fl.request_timeout`, a setting CoAP does not read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fedsim.audit import audit
from fedsim.coap.endpoint import CoapTimeoutError
from fedsim.fl.timeouts import COAP_GAVE_UP_CAUSE, gave_up_cause, is_request_timeout
from fedsim.record.absent_devices import gave_up_warning, timed_out_warning
from fedsim.run import simulate
from fedsim.scenario import load_scenario

HERE = Path(__file__).parent


def test_a_coap_give_up_is_no_request_timeout() -> None:
    exc = CoapTimeoutError("no ACK for message 7 after 4 retransmissions")
    assert not is_request_timeout(exc)
    assert gave_up_cause(exc) == COAP_GAVE_UP_CAUSE == "coap_gave_up"
    assert gave_up_cause(TimeoutError()) is None
    assert is_request_timeout(TimeoutError())


def test_coap_give_ups_are_counted_apart_with_advice_coap_reads() -> None:
    result = simulate(load_scenario(HERE / "scenarios" / "coap_gave_up.yaml"))
    rows = {c.client: c for c in result.clients}
    assert [rows[f"nb-{i}"].requests_timed_out for i in (1, 2, 3)] == [0, 0, 0]
    assert [rows[f"nb-{i}"].requests_gave_up for i in (1, 2, 3)] == [1, 1, 1]
    assert "request_timeout" not in result.summary.dropouts
    assert timed_out_warning(result.clients, result.summary) is None
    line = gave_up_warning(result.clients, result.summary)
    assert line is not None
    assert "fl.coap.max_retransmit" in line
    assert "raise fl.request_timeout" not in line
    # The old count, give-ups as request timeouts: the auditor names it.
    broken = dataclasses.replace(
        result,
        clients=[
            dataclasses.replace(c, requests_timed_out=c.requests_gave_up, requests_gave_up=0)
            for c in result.clients
        ],
        summary=dataclasses.replace(result.summary, dropouts={**result.summary.dropouts,
                                                                "request_timeout": 1}),
    )  # fmt: skip
    found = [v for v in audit(broken) if v.invariant == "causes-fit-transport"]
    assert len(found) == 4, found  # the summary's count and the three clients

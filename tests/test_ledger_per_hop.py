"""The ledger's `not carried` is right per hop (outside review 2, finding 3): past a
path's first hop, payload whose first copy an earlier hop lost crosses as a
retransmission; the report called it "not carried" on the backhaul (4.45 kB of a
25-round default run) and counted it twice in the row's whole (payload and retx)."""

from __future__ import annotations

import re

import pytest
import yaml
from topo import tiny_topology

from fedsim.record.report_ledger import ledger_html
from fedsim.record.runs import RunData, load_run
from fedsim.run import run_scenario


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> RunData:
    """4 devices on a lossy Wi-Fi hop behind a gateway's lossless backhaul."""
    tmp = tmp_path_factory.mktemp("lossy")
    topo = tiny_topology(links__wifi__loss="8%", fl__rounds=4)
    path = tmp / "lossy.yaml"
    path.write_text(yaml.safe_dump(topo))
    return load_run(run_scenario(path, out_root=tmp, plots=False))


def _row(run: RunData, scope: str, key: str, direction: str):  # type: ignore[no-untyped-def]
    (row,) = [r for r in run.ledger if (r.scope, r.key, r.direction) == (scope, key, direction)]
    return row


def _cells(html: str, key: str, direction: str) -> list[str]:
    (row,) = re.findall(rf"<tr><td>{key}</td><td>{direction}</td>(.*?)</tr>", html)
    return re.findall(r"<td>([^<]*)</td>", row)


def test_bytes_lost_on_the_first_hop_are_carried_on_the_second(lossy: RunData) -> None:
    wifi = _row(lossy, "link_class", "wifi", "up")
    backhaul = _row(lossy, "link_class", "backhaul", "up")
    assert wifi.payload_bytes == wifi.data_bytes  # every byte's first copy left the devices
    # ... and some first copies were lost on the Wi-Fi: the backhaul saw them resent only
    assert backhaul.payload_bytes - backhaul.data_bytes > 0
    cells = _cells(ledger_html(lossy), "backhaul", "up")
    assert cells[-2] == "0 B (0%)"  # of payload: not carried
    shares = [int(re.search(r"\((\d+)%\)", c).group(1)) for c in cells[1:6]]  # type: ignore[union-attr]
    assert sum(shares) == 100


def test_what_the_sender_never_sent_is_not_carried_on_every_hop(lossy: RunData) -> None:
    from fedsim.record.report_ledger import carriage, ledger_shares, whole_bytes

    """Downward the server's link is the first hop: its payload - data (never sent) is
    what the devices' links did not carry either, whatever the retransmissions."""
    top = _row(lossy, "link_class", "backhaul", "down")
    below = _row(lossy, "link_class", "wifi", "down")
    gap = top.payload_bytes - top.data_bytes
    assert carriage(top, lossy.links, lossy.clients).not_carried == gap
    carried = carriage(below, lossy.links, lossy.clients)
    assert carried.not_carried == min(gap, below.payload_bytes - below.data_bytes)
    assert whole_bytes(below, carried) == below.wire_bytes + carried.not_carried
    up = _row(lossy, "link_class", "backhaul", "up")
    recovered = carriage(up, lossy.links, lossy.clients)
    assert recovered.not_carried == 0
    assert whole_bytes(up, recovered) == up.wire_bytes  # the resent bytes counted once
    assert sum(ledger_shares(up, recovered).values()) == 100

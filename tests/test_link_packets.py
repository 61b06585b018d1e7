"""`fedsim compare` and report.html show links.csv's failed packets, apart: dropped on
the wire (`drops`: sent, lost by the loss model) and refused, never sent (`refused`: the
link down, a full queue). Each figure is the sum of its links.csv column.

Why: a user comparing connectivity failures saw only the ledger's first-hop lost bytes;
a cut backhaul's refusals carry no byte, so they were nowhere but in links.csv.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from topo import rows, tiny_topology

from fedsim.record.compare import compare_runs, print_table
from fedsim.record.link_packets import DROPPED, REFUSED, definition
from fedsim.record.report import write_comparison_report, write_report
from fedsim.record.schema import PACKET_FATES
from fedsim.run import run_scenario

KEYS = ("link_packets_sent", "link_packets_dropped", "link_packets_refused")
COLUMNS = ("packets", "drops", "refused")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A clean run, and one whose backhaul is cut for 20 s (refusals) over lossy Wi-Fi
    (drops); both audited."""
    root = tmp_path_factory.mktemp("packets")
    clean = root / "clean.yaml"
    clean.write_text(yaml.safe_dump(tiny_topology()))
    cut = tiny_topology(name="tiny-cut", links__wifi__loss=0.05)
    cut["failures"] = [{"link": "gw", "at": "60ms", "duration": "20s"}]
    (root / "cut.yaml").write_text(yaml.safe_dump(cut))
    return (
        run_scenario(clean, out_root=root / "results", run_name="clean"),
        run_scenario(root / "cut.yaml", out_root=root / "results", run_name="cut"),
    )


def _sums(run: Path) -> list[int]:
    """links.csv's columns summed over every row, read as plain CSV."""
    table = rows(run / "links.csv")
    return [sum(int(r[c]) for r in table) for c in COLUMNS]


def test_compare_shows_drops_and_refusals_as_sums_of_links_csv(runs: tuple[Path, Path]) -> None:
    clean, cut = runs
    table = compare_runs([clean, cut])
    shown = [table.quantity(k).values for k in KEYS]
    assert [list(v) for v in zip(*shown, strict=True)] == [_sums(clean), _sums(cut)]
    _, dropped, refused = _sums(cut)
    assert refused > 0  # the cut backhaul
    assert dropped > 0  # the lossy Wi-Fi
    assert _sums(clean)[1:] == [0, 0]
    assert table.quantity("link_packets_dropped").label.strip() == DROPPED
    assert REFUSED in table.quantity("link_packets_refused").label


def test_compare_csv_and_markdown_match_the_table(runs: tuple[Path, Path]) -> None:
    table = compare_runs(list(runs))
    read = list(csv.DictReader(io.StringIO(table.to_csv())))
    for key, column in zip(KEYS, COLUMNS, strict=True):
        assert [int(r[key]) for r in read] == [
            sum(int(x[column]) for x in rows(run / "links.csv")) for run in runs
        ]
    md = table.to_markdown()
    refused = _sums(runs[1])[2]
    assert re.search(rf"\| link packets {REFUSED} \| 0 \| {refused} \(\+{refused}\) \|", md)
    assert definition(["http"]) in md  # the runs' transport only
    assert "CoAP" not in md


def test_the_terminal_table_names_both_and_says_which_is_which(
    runs: tuple[Path, Path],
) -> None:
    out = io.StringIO()
    print_table(compare_runs(list(runs)), Console(file=out, width=200))
    text = " ".join(out.getvalue().split())  # the note wraps at the console's width
    assert DROPPED in text
    assert "link packets refused," in text  # the label folds in its 22-wide column
    for name, meaning in PACKET_FATES.values():
        assert f"{name.capitalize()} " in text
        assert meaning in text


def test_report_html_shows_the_sums_per_link_class(runs: tuple[Path, Path]) -> None:
    cut = runs[1]
    for run in runs:
        html = write_report(run).read_text()
        section = html[html.index(">Packets dropped and refused<") :]
        sent, dropped, refused = _sums(run)
        links = len(rows(run / "links.csv"))
        lost = sum(int(r["lost_bytes"]) for r in rows(run / "links.csv"))
        all_links = f"<tr><td>all links</td><td>{links}</td><td>{sent}</td><td>{dropped}</td>"
        assert all_links + f"<td>{lost}</td><td>{refused}</td></tr>" in section
        assert f"<b>{refused}</b><span>packets {REFUSED}</span>" in section
        assert f"<b>{dropped}</b><span>packets {DROPPED}</span>" in section
    backhaul = [r for r in rows(cut / "links.csv") if r["kind"] == "backhaul"]
    html = (cut / "report.html").read_text()
    assert f"<td>backhaul</td><td>2</td><td>{sum(int(r['packets']) for r in backhaul)}" in html
    assert sum(int(r["refused"]) for r in backhaul) == _sums(cut)[2]  # all at the cut hop


def test_the_comparison_report_defines_them_under_its_table(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    html = write_comparison_report(list(runs), tmp_path).read_text()
    assert f"link packets {REFUSED}" in html
    assert "Refused, never sent (`refused`): packets that never went out" in html


def test_an_older_links_csv_without_refused_shows_neither(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """An older fedsim counted refusals among drops: its drops are not what the row
    says, so compare shows a dash and the report says why, not a false 0."""
    older = tmp_path / "older"
    shutil.copytree(runs[1], older)
    table = rows(older / "links.csv")
    with (older / "links.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, [c for c in table[0] if c != "refused"], lineterminator="\n")
        w.writeheader()
        w.writerows({k: v for k, v in r.items() if k != "refused"} for r in table)
    compared = compare_runs([runs[0], older])
    assert compared.quantity("link_packets_refused").values == [0, None]
    assert compared.quantity("link_packets_dropped").values == [0, None]
    assert compared.quantity("link_packets_sent").values[1] is None
    html = write_report(older).read_text()
    assert "has no `refused` column" in html


def test_over_coap_a_down_device_link_refuses_the_servers_datagrams(tmp_path: Path) -> None:
    """CoAP's server keeps sending toward a device it cannot reach: those datagrams are
    refused on the device link's way down (HTTP's device waits, refusing nothing); the
    definition printed under every table says both."""
    topo = tiny_topology(name="tiny-coap-cut", fl__transport="coap")
    topo["failures"] = [{"link": "dev-1", "at": "60ms", "duration": "20s"}]
    (tmp_path / "coap.yaml").write_text(yaml.safe_dump(topo))
    run = run_scenario(tmp_path / "coap.yaml", out_root=tmp_path / "results", run_name="coap")
    refused = {(r["link"], r["direction"]): int(r["refused"]) for r in rows(run / "links.csv")}
    assert refused[("dev-1-gw", "down")] > 0, refused
    assert sum(refused.values()) == compare_runs([run]).quantity("link_packets_refused").values[0]
    (note,) = compare_runs([run]).notes
    assert "Over CoAP" in note
    for word in ("HTTP", "MQTT", "TCP"):  # a CoAP run's words name no other transport
        assert word not in note
    assert "Over HTTP and MQTT" in definition(["mqtt", "http", "coap"])

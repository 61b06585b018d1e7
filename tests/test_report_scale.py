"""report at scale: device groups, link classes, never-reported devices, and a page that
fits the screen at 28 and at 2,000 devices (measured in headless Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import layout_probe
from fake_results import fake_summary, write_synthetic_run

from fedsim.record.device_groups import MAX_GROUPS_PER_PARENT, device_groups
from fedsim.record.link_groups import LinkGroup, link_groups, shown_link_groups
from fedsim.record.participation import participation_html
from fedsim.record.report import write_report
from fedsim.record.runs import RunData, load_run
from fedsim.record.schema import ClientRow, LinkRow
from fedsim.record.topology_svg import topology_svg

SIZES = {28: 1, 2000: 8}  # devices: gateways
FAILED = "gw0-server"  # a backhaul that was down for 10 minutes


@pytest.fixture(scope="module", params=sorted(SIZES))
def big_report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    devices = request.param
    run = write_synthetic_run(
        tmp_path_factory.mktemp(f"n{devices}"),
        name=f"scale-{devices}",
        devices=devices,
        gateways=SIZES[devices],
        rounds=5,
        down_links={FAILED: 600.0},
    )
    return write_report(run)


@pytest.mark.parametrize("width", [1280, 800])
def test_report_fits_the_viewport(big_report: Path, width: int) -> None:
    probe = layout_probe(big_report, width)
    assert probe["scroll_width"] <= probe["viewport"], probe
    assert probe["wide"] == [], probe["wide"][:10]
    devices = load_run(big_report.parent).summary.devices
    assert probe["nodes"] == 1 + SIZES[devices]  # the server and every gateway are drawn
    assert probe["hidden_nodes"] == []  # ... inside the topology box, none off to the side


def _figure(html: str, stem: str) -> str:
    found = re.search(rf'<figure id="fig-{stem}"[^>]*>(.*?)</figure>', html, re.S)
    assert found, f"no {stem} figure"
    return found.group(1)


def test_report_shows_the_failed_backhaul(big_report: Path) -> None:
    html = big_report.read_text(encoding="utf-8")
    links = _figure(html, "links")
    assert f"<!-- {FAILED} (backhaul) -->" in links  # its own row, named
    assert "<!-- down 10 min -->" in links
    topo = re.search(r'<svg[^>]*class="topology".*?</svg>', html, re.S)
    assert topo
    assert "link-down" in topo.group(0)
    assert "uplink down 10 min" in topo.group(0)


def test_shared_cell_is_one_bar_not_one_per_device(tmp_path: Path) -> None:
    run = load_run(write_synthetic_run(tmp_path, devices=28, gateways=1, outage=None))
    groups = link_groups(run)
    by_label = {g.label: g for g in groups}
    assert by_label["wifi → gw0 ×14"].failed is False
    assert by_label["lora → gw0 ×14"].links[0] == "dev01-gw0"
    assert sum(len(g.links) for g in groups) == 29  # 28 device links and the backhaul


def test_failed_groups_survive_the_cap() -> None:
    busy = [
        LinkGroup(f"c{i}", "wifi", "gw", False, [f"l{i}"], [0.5], [0.5], [0.0]) for i in range(50)
    ]
    idle = LinkGroup("fibre", "backhaul", "server", True, ["gw-server"], [0.0], [0.0], [60.0])
    shown = shown_link_groups([*busy, idle], cap=5)
    assert idle in shown
    assert len(shown) == 5


def _client(name: str, gateway: str, selected: int, reported: int, **drops: int) -> ClientRow:
    surplus = selected - reported - sum(drops.values())
    cols = {f: 0 for f in ClientRow.__dataclass_fields__ if f.startswith("dropouts_")}
    cols.update({f"dropouts_{k}": v for k, v in drops.items()})
    return ClientRow(
        client=name, device="esp32", gateway=gateway, rounds_selected=selected,
        rounds_reported=reported, rounds_surplus=surplus, dropouts=sum(drops.values()),
        bytes_up=0, bytes_down=0, energy_compute_j=0.0, energy_radio_j=0.0, **cols,
    )  # fmt: skip


def _farm(tmp_path: Path, sensors: int = 3) -> RunData:
    """A run in memory: one gateway, a `sensor` group (count) and one listed device."""
    nodes = [{"name": "server", "kind": "server", "parent": None}]
    nodes.append({"name": "gw", "kind": "gateway", "parent": "server"})
    names = [f"sensor-{i}" for i in range(1, sensors + 1)] + ["cam"]
    nodes += [{"name": n, "kind": "device", "device": "esp32", "parent": "gw"} for n in names]
    links = [{"name": f"{n}-gw", "a": n, "b": "gw", "kind": "lora"} for n in names]
    links.append({"name": "gw-server", "a": "gw", "b": "server", "kind": "backhaul"})
    config = {
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "cell"}},
            {"name": "sensor", "kind": "device", "count": sensors,
             "uplink": {"to": "gw", "link": "sf12"}},
            {"name": "cam", "kind": "device", "uplink": {"to": "gw", "link": "sf7"}},
        ]
    }  # fmt: skip
    clients = [_client(n, "gw", 4, 4) for n in names[:-2]]
    clients.append(_client(names[-2], "gw", 31, 0, deadline=20, link_down=11))
    clients.append(_client("cam", "gw", 2, 0))
    link_rows = [
        LinkRow(ln["name"], ln["a"], ln["b"], ln["kind"], d, 0, 0, 0, 0, 0, 0.1, 0.0)
        for ln in links
        for d in ("up", "down")
    ]
    return RunData(
        path=tmp_path / "farm",
        summary=fake_summary(devices=len(names)),
        config=config,
        clients=clients,
        links=link_rows,
        topology={"nodes": nodes, "links": links},
    )


def test_groups_follow_the_topology_file(tmp_path: Path) -> None:
    groups = device_groups(_farm(tmp_path))
    assert [(g.name, g.parent, len(g.members), g.link_class) for g in groups] == [
        ("sensor", "gw", 3, "sf12"),
        ("cam", "gw", 1, "sf7"),
    ]
    assert [lg.label for lg in link_groups(_farm(tmp_path))] == [
        "sf12 → gw ×3",
        "cam-gw (sf7)",
        "gw-server (cell)",
    ]


def test_a_crowded_parent_is_grouped_by_profile_and_link(tmp_path: Path) -> None:
    run = _farm(tmp_path)
    many = [{"name": f"d{i}", "kind": "device", "uplink": {"to": "gw", "link": "sf7"}}
            for i in range(MAX_GROUPS_PER_PARENT + 1)]  # fmt: skip
    nodes = run.topology["nodes"] + [
        {"name": n["name"], "kind": "device", "device": "esp32", "parent": "gw"} for n in many
    ]
    links = run.topology["links"] + [
        {"name": f"{n['name']}-gw", "a": n["name"], "b": "gw", "kind": "lora"} for n in many
    ]
    crowded = RunData(
        path=run.path,
        summary=run.summary,
        config={"nodes": run.config["nodes"] + many},
        topology={"nodes": nodes, "links": links},
    )
    groups = device_groups(crowded)
    assert [(g.name, len(g.members)) for g in groups] == [
        ("esp32 · sf12", 3),
        ("esp32 · sf7", MAX_GROUPS_PER_PARENT + 2),
    ]


def test_never_reported_devices_are_flagged_with_why(tmp_path: Path) -> None:
    run = _farm(tmp_path)
    html = participation_html(run)
    row = re.search(r"<tr><td>sensor-3</td>.*?</tr>", html)
    assert row, html
    assert "deadline ×20, link_down ×11: no upload before the round" in row.group(0)
    assert "flagged" in row.group(0)  # selected 31 >= 5 times
    cam = re.search(r"<tr><td>cam</td>.*?</tr>", html)
    assert cam
    assert "surplus ×2" in cam.group(0)
    assert "flagged" not in cam.group(0)
    assert "2 device(s) selected but never reported; 1 flagged" in html
    assert 'id="group-farm--gw--sensor"' in html  # the member list the topology links to
    assert 'href="#group-farm--gw--sensor"' in topology_svg(run)

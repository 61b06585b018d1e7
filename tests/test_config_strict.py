"""Inputs that used to be silently ignored or misread, found by an outside review: each is
now refused with one line at its key path (exit 2, nothing written) or, where a file may
legally say it, warned about.

- `bandwidth` beside both `bandwidth_up` and `bandwidth_down` was never read, so a
  `--set links.<name>.bandwidth=...` (and a sweep over it) changed nothing;
- a key given twice in a YAML mapping kept the last value (two `links:` blocks ran on
  the second);
- `.inf` as a latency or a deadline validated and the run failed late in its audit;
- a bare `bandwidth: 64` ran at 64 bit/s;
- `failures.0.at=1s` on a file without failures, `mtu: 1500B` and `fl.target: 92%`
  were refused with messages that did not say what to write;
- a LoRa bandwidth far from its spreading factor's rate was silently snapped to it;
- a gateway's `device` profile was never read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from topo import tiny_topology

from fedsim.cli.app import main
from fedsim.errors import FedsimError, ScenarioError
from fedsim.scenario import apply_overrides, parse_scenario
from fedsim.topology_file import DuplicateKeyError, load_yaml_text


def _refused(topo: dict[str, Any], *sets: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(apply_overrides(topo, sets))
    return str(info.value)


def _asym() -> dict[str, Any]:
    topo = tiny_topology()
    topo["links"]["wifi"] = {"kind": "wired", "bandwidth_up": "1Mbps",
                             "bandwidth_down": "25kB/s", "latency": "10ms"}  # fmt: skip
    return topo


def test_bandwidth_beside_both_directions_is_refused() -> None:
    message = _refused(_asym(), "links.wifi.bandwidth=1kbps")
    assert message.startswith("links.wifi.bandwidth: is not used: bandwidth_up and ")


def test_bandwidth_with_one_direction_still_gives_the_other() -> None:
    topo = tiny_topology()
    topo["links"]["wifi"] = {"kind": "wired", "bandwidth": "2Mbps", "bandwidth_up": "1Mbps"}
    link = parse_scenario(topo).links["wifi"]
    assert (link.bandwidth_up_bps, link.bandwidth_down_bps) == (1e6, 2e6)


def test_a_key_given_twice_is_refused_with_both_lines() -> None:
    text = "fl:\n  rounds: 2\n  deadline: 1min\n  rounds: 20\nlinks: {}\nlinks: {a: 1}\n"
    with pytest.raises(DuplicateKeyError) as info:
        load_yaml_text(text, "t.yaml")
    assert str(info.value) == "t.yaml: line 4: key 'rounds' given twice (first at line 2)"
    with pytest.raises(DuplicateKeyError, match=r"line 1: key 'latency' given twice"):
        load_yaml_text("l: {latency: 5ms, latency: 500ms}", "t.yaml")
    with pytest.raises(DuplicateKeyError, match="key 'a' given twice"):
        load_yaml_text("a: 1\n'a': 2\n", "t.yaml")  # quoted or not, one key


def test_a_merge_may_override_what_it_brings() -> None:
    text = "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\nd: [*b, *b]\n"
    data = load_yaml_text(text, "t.yaml")
    assert data["c"] == {"x": 3, "y": 2}
    assert data["d"] == [{"x": 1, "y": 2}] * 2


def test_a_set_value_with_a_key_twice_is_refused() -> None:
    with pytest.raises(DuplicateKeyError, match=r"^--set links.wifi: line 1: key 'bandwidth'"):
        apply_overrides(tiny_topology(), ["links.wifi={bandwidth: 1Mbps, bandwidth: 2Mbps}"])


def test_a_file_with_a_key_twice_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = yaml.safe_dump(tiny_topology(), sort_keys=False)
    path = tmp_path / "dup.yaml"
    path.write_text(text + "links:\n  wifi: {kind: wired, bandwidth: 1kbps}\n", encoding="utf-8")
    line = text.splitlines().index("links:") + 1
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        f"fedsim: error: {path}: line {text.count(chr(10)) + 1}: key 'links' given twice "
        f"(first at line {line})"
    )
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("links.wifi.latency", ".inf"),
        ("links.wifi.latency", "1e999s"),
        ("links.wifi.jitter", ".inf"),
        ("fl.deadline", ".inf"),
        ("fl.round_interval", ".inf"),
        ("fl.coap.ack_timeout", ".inf"),
        ("links.wifi.radio.tail", ".inf"),
    ],
)
def test_an_infinite_duration_is_refused(key: str, value: str) -> None:
    assert "must be finite" in _refused(tiny_topology(), f"{key}={value}")


@pytest.mark.parametrize(
    "key", ["links.wifi.latency", "links.wifi.bandwidth", "fl.deadline", "links.wifi.loss"]
)
def test_nan_is_refused(key: str) -> None:
    assert _refused(tiny_topology(), f"{key}=.nan").startswith(f"{key}: ")


def test_infinity_stays_where_it_means_never() -> None:
    parse_scenario(tiny_topology(**{"links__wifi__radio__idle": ".inf", "fl__stall_limit": ".inf"}))


def test_a_bare_bandwidth_is_refused_with_the_units_to_write() -> None:
    assert _refused(tiny_topology(), "links.wifi.bandwidth=64") == (
        "links.wifi.bandwidth: a bandwidth needs a unit: 64 alone would be 64 bit/s; write "
        "'64bps' (bits/s) if you mean it, or e.g. '64kbps' or '64Mbps'"
    )
    assert "needs a unit" in _refused(tiny_topology(), "links.wifi.bandwidth='250'")
    assert parse_scenario(tiny_topology(links__wifi__bandwidth="64bps")).links["wifi"]


def test_setting_an_item_of_a_missing_list_names_what_is_missing() -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(tiny_topology(), ["failures.0.at=1s"])
    assert str(info.value) == (
        "failures: there is no list item 0 to set: the file has no 'failures' (write the "
        "whole list in the file, or --set failures='[...]')"
    )


def test_a_count_of_bytes_with_a_unit_says_to_write_it_plain() -> None:
    assert _refused(tiny_topology(), "links.wifi.mtu=1500B") == (
        "links.wifi.mtu: expected an integer, got '1500B'; it is a plain number of bytes, "
        "without a unit: write 1500"
    )


def test_a_percent_target_says_the_number_to_write() -> None:
    assert _refused(tiny_topology(), "fl.target=92%") == (
        "fl.target: expected a number on the metric's own scale, got '92%': an accuracy of "
        "92% is 0.92 (a target is not a percentage)"
    )


def _lora(bandwidth: str) -> dict[str, Any]:
    topo = tiny_topology(fl__deadline="40min")
    topo["links"]["wifi"] = {"kind": "lora", "bandwidth": bandwidth, "mtu": 242}
    topo["nodes"][2]["device"] = "esp32"
    return topo


def test_a_lora_bandwidth_far_from_its_sf_rate_is_warned_about() -> None:
    (line,) = parse_scenario(_lora("7kbps")).warnings
    assert line == (
        "links.wifi.bandwidth: 7000 bit/s runs as SF7's 5468.75 bit/s (22% slower than "
        "written): a LoRa link's bandwidth only picks its spreading factor, whose rate it "
        "runs at; write 5.469kbps"
    )


@pytest.mark.parametrize("bandwidth", ["5.47kbps", "5.5kbps", "1.76kbps", "1kbps", "250bps"])
def test_the_lorawan_rates_the_shipped_files_write_are_not_warned_about(bandwidth: str) -> None:
    assert parse_scenario(_lora(bandwidth)).warnings == ()


def test_a_gateway_device_profile_is_refused() -> None:
    assert _refused(tiny_topology(), "nodes.gw.device=rpi4").startswith(
        "nodes[1].device: is not used: a gateway does no training"
    )


def test_task_options_the_partition_does_not_read_are_warned_about() -> None:
    warnings = parse_scenario(tiny_topology(task__alpha=0.3)).warnings
    assert "task.alpha: only partition dirichlet reads it; partition is iid, so it is not used" in (
        warnings
    )


def test_validate_exits_2_on_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(_asym(), sort_keys=False), encoding="utf-8")
    for bad in ("links.wifi.bandwidth=1kbps", "links.wifi.latency=.inf", "failures.0.at=1s"):
        assert main(["validate", str(path), "--set", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("fedsim: error: ")
    assert isinstance(DuplicateKeyError("x"), FedsimError)

"""The command line: forwarded commands take their own options; mistakes are one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedsim", *args], capture_output=True, text=True, cwd=ROOT,
        check=False,
    )  # fmt: skip


def test_net_transfer_prints_one_json_object() -> None:
    res = _cli("net", "transfer", "--bandwidth", "250kbps", "--latency", "100ms",
               "--size", "10KB", "--fidelity", "flow", "--seeds", "3")  # fmt: skip
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout)
    assert {"mean_s", "median_s", "p95_s", "wire_bytes", "retransmissions"} <= set(stats)
    assert stats["mean_s"] > 10_000 * 8 / 250e3  # at least the serialization time


def test_forwarded_commands_report_mistakes_in_one_line(tmp_path: Path) -> None:
    for args in (
        ("net", "transfer", "--bandwidth", "fast", "--latency", "1s", "--size", "1KB"),
        ("compare", str(tmp_path / "no-such-run")),
        ("report", str(tmp_path / "no-such-run")),
        ("show", str(tmp_path / "missing.yaml")),
    ):
        res = _cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)
        assert "Traceback" not in res.stderr


def test_net_refuses_a_bare_bandwidth_as_a_topology_file_does() -> None:
    """Found by review: `fedsim net transfer --bandwidth 64` ran at 64 bit/s where a
    topology file refuses a bandwidth without its unit."""
    for command in ("transfer", "validate"):
        res = _cli("net", command, "--bandwidth", "64", "--latency", "10ms", "--size", "1KB")
        assert res.returncode == 2, res.stdout
        assert res.stderr.strip() == (
            "fedsim: error: --bandwidth: a bandwidth needs a unit: 64 alone would be 64 bit/s;"
            " write '64bps' (bits/s) if you mean it, or e.g. '64kbps' or '64Mbps'"
        )


def test_schema_and_show_take_options(tmp_path: Path) -> None:
    out = tmp_path / "topology.schema.json"
    assert _cli("schema", "--out", str(out)).returncode == 0
    assert json.loads(out.read_text())["title"] == "fedsim topology file"
    res = _cli("show", "topologies/default.yaml", "--set", "nodes.2.count=3")
    assert res.returncode == 0
    assert "sensor × 3" in res.stdout


def test_the_summary_line_keeps_sub_second_figures() -> None:
    """A 0.4 s run on fast links read "0 s simulated ... (1x)" before."""
    from fedsim.cli.run import _figure

    assert _figure(0.3998) == "0.4"
    assert _figure(0.75) == "0.75"
    assert _figure(3965.2) == "3965"
    assert _figure(1390.4) == "1390"

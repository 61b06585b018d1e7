"""docs/network-model.md's "Flow and packet over whole runs": the same runs in both fidelities.

The two contended cells (an outside tester's: rpi4 devices on one shared half-duplex
Wi-Fi cell, MLP (128), as in tests/test_contended_energy.py), `topologies/default.yaml`
seed 1 and the golden cases (tests/golden_runs.py), each run with `--set
fidelity=flow|packet`, one `fedsim run` at a time, into OUT. Prints per run: wire bytes
up / down (first hops), retransmissions and drops (links.csv, all links), mean energy
per device (compute + radio) with its idle, TX and RX parts, rounds and time to target.

    python experiments/flow_packet_runs.py OUT      # a few minutes of CPU
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def cell(devices: int, rate: str, rounds: int, seed: int) -> dict:
    """`devices` rpi4 on one shared half-duplex Wi-Fi cell behind one gateway."""
    return {
        "name": f"cell{devices}",
        "seed": seed,
        "task": {"kind": "digits", "partition": "iid", "model": "mlp", "hidden": [128]},
        "fl": {
            "rounds": rounds,
            "clients_per_round": devices,
            "min_available": devices,
            "deadline": "120s",
            "round_interval": "30s",
            "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
        },
        "links": {
            "wifi": {
                "kind": "wifi",
                "bandwidth": rate,
                "latency": "5ms",
                "shared": True,
                "half_duplex": True,
            },
            "bh": {"kind": "backhaul", "bandwidth": "20Mbps", "latency": "20ms"},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "bh"}},
            {
                "name": "d",
                "kind": "device",
                "count": devices,
                "device": "rpi4",
                "uplink": {"to": "gw", "link": "wifi"},
            },
        ],
    }


def cases(out: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """name -> (topology file, --set overrides)."""
    files = {}
    for name, topo in (("cell6", cell(6, "500kbps", 6, 3)), ("cell12", cell(12, "1Mbps", 5, 8))):
        path = out / f"{name}.yaml"
        path.write_text(yaml.safe_dump(topo, sort_keys=False))
        files[name] = (path, ())
    files["default-seed1"] = (ROOT / "topologies/default.yaml", ("seed=1",))
    files["golden-wifi_home"] = (ROOT / "topologies/wifi_home.yaml", ("fl.rounds=25",))
    files["golden-nbiot_city"] = (ROOT / "topologies/nbiot_city.yaml", ("fl.rounds=12",))
    files["golden-stragglers_async"] = (
        ROOT / "topologies/stragglers.yaml",
        ("fl.engine=async", "fl.rounds=60"),
    )
    return files


def describe(run: Path) -> str:
    """One line of the figures the doc's table gives."""
    summary = json.loads((run / "summary.json").read_text())
    with open(run / "clients.csv", newline="") as f:
        clients = list(csv.DictReader(f))
    with open(run / "links.csv", newline="") as f:
        links = list(csv.DictReader(f))

    def mean(*fields: str) -> float:
        return sum(float(c[k]) for c in clients for k in fields) / len(clients)

    retx = sum(int(r["retransmissions"]) for r in links)
    drops = sum(int(r["drops"]) for r in links)
    target = summary["time_to_target_s"]
    up, down = summary["wire_bytes_up"] / 1e6, summary["wire_bytes_down"] / 1e6
    return (
        f"wire up/down {up:.2f}/{down:.2f} MB"
        f", retx {retx}, drops {drops}, energy/device "
        f"{mean('energy_compute_j', 'energy_radio_j'):.2f} J (idle {mean('energy_idle_j'):.2f},"
        f" tx {mean('energy_tx_j'):.2f}, rx {mean('energy_rx_j'):.2f}), rounds {summary['rounds']}"
        f", target {'not reached' if target is None else f'{target:.0f} s'}"
        f" (final {summary['final_metric']:.3f})"
    )


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, (topology, overrides) in cases(out).items():
        for fidelity in ("flow", "packet"):
            folder = out / name / fidelity
            sets = [arg for o in (*overrides, f"fidelity={fidelity}") for arg in ("--set", o)]
            command = [sys.executable, "-m", "fedsim", "run", str(topology), *sets]
            command += ["--quiet", "--no-plots", "--out", str(folder)]
            subprocess.run(command, check=True, capture_output=True)
            (run,) = [p for p in folder.iterdir() if (p / "summary.json").is_file()]
            print(f"{name} {fidelity}: {describe(run)}", flush=True)


if __name__ == "__main__":
    main()

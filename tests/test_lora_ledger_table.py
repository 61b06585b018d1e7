"""experiments/lora_ledger_table.py: the README's per-update LoRa columns are the byte
ledger's run rows divided by the accepted updates, averaged over a sweep's seeds."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
LEDGER = ["scope", "key", "direction", "links", "model_bytes", "protocol_bytes",
          "payload_bytes", "data_bytes", "header_bytes", "control_bytes", "retx_bytes",
          "wire_bytes", "lost_bytes", "energy_j"]  # fmt: skip


def _module() -> ModuleType:
    """The script, loaded by path (experiments/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "lora_ledger_table", ROOT / "experiments" / "lora_ledger_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, up: dict[str, int], down: dict[str, int], reported: list[int]) -> None:
    folder.mkdir(parents=True)
    with open(folder / "ledger.csv", "w", newline="") as f:
        w = csv.DictWriter(f, LEDGER, restval=0)
        w.writeheader()
        w.writerow({"scope": "run", "direction": "up", **up})
        w.writerow({"scope": "run", "direction": "down", **down})
        w.writerow({"scope": "round", "key": "1", "direction": "up", "model_bytes": 10**9})
    with open(folder / "rounds.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["round", "reported"])
        w.writeheader()
        w.writerows({"round": i + 1, "reported": n} for i, n in enumerate(reported))


def test_columns_are_run_rows_per_accepted_update_averaged_over_seeds(tmp_path: Path) -> None:
    sweep = tmp_path / "lora-compression"
    bytes_up = {"model_bytes": 5200, "protocol_bytes": 800, "header_bytes": 1000,
                "control_bytes": 600, "retx_bytes": 400, "wire_bytes": 9000}  # fmt: skip
    bytes_down = {"model_bytes": 5400, "protocol_bytes": 1200, "header_bytes": 500,
                  "control_bytes": 300, "retx_bytes": 0, "wire_bytes": 7000}  # fmt: skip
    _run(sweep / "runs" / "a", bytes_up, bytes_down, [1, 1])  # 2 updates
    _run(sweep / "runs" / "b", {k: 2 * v for k, v in bytes_up.items()},
         {k: 2 * v for k, v in bytes_down.items()}, [2, 0, 2])  # 4 updates  # fmt: skip
    with open(sweep / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["fl.codec", "seed", "run_name", "done"])
        w.writeheader()
        w.writerow({"fl.codec": "float32", "seed": 1, "run_name": "a", "done": "yes"})
        w.writerow({"fl.codec": "float32", "seed": 2, "run_name": "b", "done": "yes"})
    per = _module().per_update(sweep / "runs" / "a")
    assert per == {"model up": 2600, "model down": 2700, "HTTP": 1000, "TCP/IP": 1200,
                   "retransmitted": 200, "wire": 8000}  # fmt: skip
    table = _module().table(sweep).splitlines()
    # seed b has twice the bytes over twice the updates: the same per update
    assert table[2] == "| float32 | 2.60 kB | 2.70 kB | 1.00 kB | 1.20 kB | 0.20 kB | 8.0 kB | 2 |"

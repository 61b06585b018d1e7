"""The README's LoRa table: where each accepted update's bytes go, per codec, from a
finished `fedsim sweep` of topologies/sweeps/lora_compression.yaml (any seeds).

    python experiments/lora_ledger_table.py results/lora-compression

Per run: the byte ledger's run rows (ledger.csv, the devices' first hops, up and down)
divided by the run's accepted updates (rounds.csv `aggregated`: uploads that entered a
model; `reported` in folders older than that column); the table gives the mean
over the sweep's seeds in kB. The last two columns of the README's table (to target,
with 95 % intervals) are aggregate.md's.
"""

from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path

COLUMNS = ("model up", "model down", "HTTP", "TCP/IP", "retransmitted", "wire")


def per_update(run: Path) -> dict[str, float]:
    """Bytes per accepted update of one run folder, by column."""
    with open(run / "ledger.csv", newline="") as f:
        rows = {r["direction"]: r for r in csv.DictReader(f) if r["scope"] == "run"}
    with open(run / "rounds.csv", newline="") as f:
        # accepted = aggregated into a model (blank in older folders: all reported were)
        updates = sum(int(r.get("aggregated") or r["reported"]) for r in csv.DictReader(f))
    up, down = rows["up"], rows["down"]

    def both(*fields: str) -> int:
        return sum(int(r[k]) for r in (up, down) for k in fields)

    values = (
        int(up["model_bytes"]),
        int(down["model_bytes"]),
        both("protocol_bytes"),
        both("header_bytes", "control_bytes"),
        both("retx_bytes"),
        both("wire_bytes"),
    )
    return {c: v / updates for c, v in zip(COLUMNS, values, strict=True)}


def table(sweep: Path) -> str:
    with open(sweep / "runs.csv", newline="") as f:
        runs = list(csv.DictReader(f))
    codecs = list(dict.fromkeys(r["fl.codec"] for r in runs))
    lines = ["| codec | " + " | ".join(COLUMNS) + " | runs |", "|---" * (len(COLUMNS) + 2) + "|"]
    for codec in codecs:
        mine = [per_update(sweep / "runs" / r["run_name"]) for r in runs if r["fl.codec"] == codec]
        means = [statistics.mean(m[c] for m in mine) / 1000 for c in COLUMNS]
        cells = [f"{v:.2f} kB" if v < 5 else f"{v:.1f} kB" for v in means]
        lines.append(f"| {codec} | " + " | ".join(cells) + f" | {len(mine)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "runs.csv").is_file():
        sys.exit("usage: python experiments/lora_ledger_table.py SWEEP_FOLDER (with runs.csv)")
    print(table(Path(sys.argv[1])))

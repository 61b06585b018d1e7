"""docs/strategies.md's client-selection table: uniform against reliability selection.

Runs each topology with `--set fl.selection=uniform|reliability` over seeds 1-3 (and the
"over_selection 0" rows with `--set fl.over_selection=0`), one `fedsim run` at a time,
into OUT, then prints one Markdown row per topology and policy: dropouts, unreported
selections, rounds, time to target, mean final metric, devices that reported, and the
fewest-most reports of a device (per seed 1 / 2 / 3).

    python experiments/selection_table.py OUT          # about 2 min of CPU
    python experiments/selection_table.py OUT --rows   # print the rows of a finished OUT
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

SEEDS = (1, 2, 3)
POLICIES = ("uniform", "reliability")
CASES = (
    ("default", "default", ()),
    ("default, over_selection 0", "default", ("fl.over_selection=0",)),
    ("stragglers", "stragglers", ()),
    ("stragglers, over_selection 0", "stragglers", ("fl.over_selection=0",)),
    ("nbiot_city", "nbiot_city", ()),
    ("lora_farm", "lora_farm", ()),
    ("lte_vehicles", "lte_vehicles", ()),  # the prose only
    ("factory", "factory", ()),  # the prose only
)


def run_folder(out: Path, label: str, policy: str, seed: int) -> Path:
    """Where one run of the grid writes its results."""
    return out / label.replace(", ", "-").replace(" ", "_") / policy / f"seed{seed}"


def run_all(out: Path) -> None:
    """Every run of the grid, sequentially (the folder name carries the case)."""
    for label, topology, extra in CASES:
        for policy in POLICIES:
            for seed in SEEDS:
                sets = [f"fl.selection={policy}", *extra]
                command = [sys.executable, "-m", "fedsim", "run", f"topologies/{topology}.yaml"]
                command += ["--seed", str(seed), "--quiet", "--no-plots"]
                command += [arg for s in sets for arg in ("--set", s)]
                folder = run_folder(out, label, policy, seed)
                subprocess.run([*command, "--out", str(folder)], check=True, capture_output=True)


def row(folders: list[Path]) -> str:
    """The table's columns over one policy's seeds."""
    drops, unreported, rounds, reached, finals, devices, spans = [], [], [], [], [], [], []
    for folder in folders:
        (run,) = [p for p in folder.iterdir() if (p / "summary.json").is_file()]
        summary = json.loads((run / "summary.json").read_text())
        with open(run / "clients.csv", newline="") as f:
            clients = list(csv.DictReader(f))
        reports = [int(c["rounds_reported"]) for c in clients]
        drops.append(sum(summary["dropouts"].values()))
        unreported.append(sum(int(c["rounds_selected"]) for c in clients) - sum(reports))
        rounds.append(summary["rounds"])
        t = summary["time_to_target_s"]
        reached.append("-" if t is None else f"{t:.0f}")
        finals.append(summary["final_metric"])
        devices.append(sum(1 for r in reports if r > 0))
        spans.append(f"{min(reports)}–{max(reports)}")

    def per_seed(values: list) -> str:
        return " / ".join(str(v) for v in values)

    return (
        f"{per_seed(drops)} ({sum(drops)}) | {per_seed(unreported)} ({sum(unreported)}) | "
        f"{per_seed(rounds)} | {per_seed(reached)} | {sum(finals) / len(finals):.3f} | "
        f"{per_seed(devices)} | {per_seed(spans)}"
    )


def main() -> None:
    out = Path(sys.argv[1])
    if "--rows" not in sys.argv[2:]:
        run_all(out)
    for label, _, _ in CASES:
        for policy in POLICIES:
            folders = [run_folder(out, label, policy, seed) for seed in SEEDS]
            print(f"| {label} | {policy} | {row(folders)} |")


if __name__ == "__main__":
    main()

"""docs/network-model.md's whole runs on a lossy satellite link, flow against packet.

Two rpi4 devices, each on its own satellite link to the server (100 kbit/s, 1 s one
way, Bernoulli loss per direction, so on the data and on the ACKs), digits with a
softmax model, both selected every round. Cases (the doc's two):

* ``5pc``: 5 % loss, 4 rounds, seeds 1-10;
* ``20pc``: 20 % loss, 2 rounds, seeds 1-24.

For each fidelity it prints links.csv's drops / packets summed over the devices' links
and seeds, up and down, and the mean simulated run time with its standard error. Runs
are deterministic (same code and seed, same figures), so the machine's load does not
matter. The outside tester's own file, on which the doc's first figures were measured,
was not kept; this is its shape as the doc describes it, written down so the figures
can be repeated:

    python bench/sat_loss_runs.py [5pc|20pc ...] [--fidelity flow|packet ...] [--seeds N]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from fedsim.run import simulate
from fedsim.scenario import apply_overrides, parse_scenario

CASES: dict[str, tuple[str, int, int]] = {"5pc": ("5%", 4, 10), "20pc": ("20%", 2, 24)}


def topology(loss: str, rounds: int) -> dict[str, Any]:
    """Two rpi4 on a 100 kbit/s satellite link with `loss` each way, 1 s one way."""
    return {
        "name": "sat",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid", "model": "softmax"},
        "fl": {
            "rounds": rounds,
            "clients_per_round": 2,
            "min_available": 2,
            "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
        },
        "links": {
            "sat": {"kind": "satellite", "bandwidth": "100kbps", "latency": "1s", "loss": loss}
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {
                "name": "d",
                "kind": "device",
                "count": 2,
                "device": "rpi4",
                "uplink": {"to": "server", "link": "sat"},
            },
        ],
    }


def measure(case: str, fidelity: str, seeds: int | None = None) -> str:
    """One line: drops / packets up and down (all seeds), mean run time and its SE.
    `seeds`: seeds 1..seeds instead of the case's own count."""
    loss, rounds, case_seeds = CASES[case]
    seeds = seeds or case_seeds
    counts = {"up": [0, 0], "down": [0, 0]}
    times = []
    for seed in range(1, seeds + 1):
        topo = apply_overrides(topology(loss, rounds), [f"seed={seed}", f"fidelity={fidelity}"])
        result = simulate(parse_scenario(topo))  # audited
        for row in result.links:
            drops_packets = counts[str(row["direction"])]
            drops_packets[0] += int(row["drops"])
            drops_packets[1] += int(row["packets"])
        times.append(float(result.summary["sim_time_s"]))
    mean = statistics.mean(times)
    se = statistics.stdev(times) / len(times) ** 0.5
    rates = ", ".join(f"{d} {100 * dr / pk:.1f} % ({dr}/{pk})" for d, (dr, pk) in counts.items())
    return (
        f"{case} {fidelity} (loss {loss}, {rounds} rounds, seeds 1-{seeds}): drops/packets "
        f"{rates}; mean run {mean:.1f} s (SE {se:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"any of {', '.join(CASES)} (default: all)")
    parser.add_argument("--fidelity", action="append", choices=("flow", "packet"))
    parser.add_argument("--seeds", type=int, help="seeds 1..N instead of the case's own")
    args = parser.parse_args()
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}: choose from {', '.join(CASES)}")
    for case in args.cases or list(CASES):
        for fidelity in args.fidelity or ("flow", "packet"):
            print(measure(case, fidelity, args.seeds), flush=True)


if __name__ == "__main__":
    main()

"""What a long outage costs the simulator: the default topology for 60 rounds with no
failure, with its own 12-minute gateway outage, and with a 10-hour one (issue 13: a
10-hour outage must add < 0.5 s). Prints the wall of `simulate` and of its event loop.

    python bench/outage.py [REPEATS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fedsim.run import simulate
from fedsim.scenario import prepare_scenario

DEFAULT = Path(__file__).resolve().parent.parent / "topologies" / "default.yaml"
CASES = {
    "no failure": ["failures=[]"],
    "gateway 12 min": [],
    "gateway 10 h": ["failures=[{node: gw, at: 1801s, duration: 10h}]"],
}


def main(repeats: int = 2) -> None:
    simulate(prepare_scenario(DEFAULT, ["fl.target=null", "fl.rounds=3"]))  # warm-up
    for _ in range(repeats):
        for name, sets in CASES.items():
            sc = prepare_scenario(DEFAULT, ["fl.target=null", *sets])
            t0 = time.perf_counter()
            r = simulate(sc)
            wall = time.perf_counter() - t0
            print(
                f"{name:15s} simulate {wall:.2f} s, loop {r.summary.wall_time_s:.2f} s, "
                f"{r.summary.rounds} rounds, {r.summary.sim_time_s:.0f} s simulated",
                flush=True,
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)

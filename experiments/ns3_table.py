"""Both fidelities against every ns-3 reference row, with the acceptance verdict.

    python experiments/ns3_table.py [--quick] [tests/data/ns3_tcp_transfer.csv ...]

Seeds per row as tests/test_ns3.py draws them (`--quick`: a tenth, at least 50); the
verdict is the project's rule (loss-free within 10 %; lossy within 25 % or ns-3's
50-run mean inside the model's bootstrapped 95 % interval of a 50-run mean). Prints
one line per row and fidelity and the pass counts. Self-contained (no test imports),
so it also runs against an older checkout for a before/after table.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from pathlib import Path

import numpy as np

from fedsim.errors import FedsimError
from fedsim.net.calculator import run_once

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def seeds(size: int, loss: float, quick: bool) -> int:
    if loss <= 0:
        return 1
    n = 1000 if size <= 10_000 else (2000 if loss <= 0.05 else 200) if size <= 100_000 else 50
    return max(50, n // 10) if quick else n


def verdict(t: np.ndarray, ref: float, lossless: bool) -> str:
    t = t[~np.isnan(t)]
    mean = float(t.mean())
    if lossless:
        return "10%" if abs(mean - ref) <= 0.10 * ref else "FAIL"
    if abs(mean - ref) <= 0.25 * ref:
        return "25%"
    g = np.random.default_rng(12345)
    lo, hi = np.quantile(t[g.integers(0, t.size, size=(4000, 50))].mean(axis=1), [0.025, 0.975])
    return "interval" if lo * (1 - 1e-4) <= ref <= hi * (1 + 1e-4) else "FAIL"


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    files = [Path(a) for a in argv if not a.startswith("--")] or [DATA / "ns3_tcp_transfer.csv"]
    passed = {"packet": 0, "flow": 0}
    total = 0
    for path in files:
        with path.open() as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            if r.get("hystart", "1") != "1":
                continue
            bw, d, size, loss = (float(r["bandwidth_bps"]), float(r["delay_s"]),
                                 int(r["msg_bytes"]), float(r["loss_rate"]))  # fmt: skip
            ref = float(r["mean_s"])
            n = seeds(size, loss, quick)
            total += 1
            cells = []
            for fid in ("packet", "flow"):
                t = np.full(n, np.nan)
                for i in range(n):
                    with contextlib.suppress(FedsimError):  # connect timed out: no time
                        t[i] = run_once(bw, d, size, rng=np.random.default_rng([7, i]),
                                        fidelity=fid, loss=loss)[0]  # fmt: skip
                v = verdict(t, ref, loss <= 0)
                passed[fid] += v != "FAIL"
                cells.append(f"{fid} {np.nanmean(t):10.5g} {np.nanmean(t) / ref - 1:+7.1%} {v:8}")
            print(f"{r['profile']:<14} {size:>8} {loss:5.2f} ns-3 {ref:10.5g}  " + "  ".join(cells),
                  flush=True)  # fmt: skip
    print(f"passed: packet {passed['packet']}/{total}, flow {passed['flow']}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`fedsim net validate`: one link, one message, in ns-3 and in both fidelities.

Why: the TCP model was checked against ns-3 on a few reference profiles; a study on
another link should not have to trust that it generalises. This runs the same
single-link transfer (the reference table's mapping, fedsim.net.ns3_link) in ns-3
and in the packet and flow fidelities over `--seeds` runs each, and prints them side
by side with the wall time each took and the project's acceptance verdict: loss-free
within 10 % of ns-3; lossy within 25 %, or ns-3's mean inside the central 95 % of
the model's bootstrapped distribution of an N-run mean (N = ns-3's runs). Needs the
optional extra: pip install 'fedsim[ns3]'.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

from fedsim.errors import FedsimError, UnitError
from fedsim.net.calculator import (
    ConnectTimeoutError,
    _bytes,
    _field,
    _int,
    mean_interval,
    run_once,
)
from fedsim.net.ns3_link import NS3_VERSION, Ns3MissingError, load, ns3_transfer
from fedsim.net.tcp import TcpParams
from fedsim.units import parse_bandwidth, parse_duration, parse_fraction

__all__ = ["acceptance", "main", "validate"]

LOSSLESS_TOLERANCE = 0.10
LOSSY_TOLERANCE = 0.25
BOOT = 4000


def acceptance(times: np.ndarray, ref: float, runs: int, lossless: bool) -> str | None:
    """The verdict of one model row against ns-3's mean `ref` of `runs` runs:
    "10%" / "25%" / "interval" when it passes, None when it does not."""
    t = np.asarray(times, dtype=float)
    t = t[~np.isnan(t)]
    if t.size == 0 or not np.isfinite(ref):
        return None
    mean = float(t.mean())
    if lossless:
        return "10%" if abs(mean - ref) <= LOSSLESS_TOLERANCE * ref else None
    if abs(mean - ref) <= LOSSY_TOLERANCE * ref:
        return "25%"
    g = np.random.default_rng(12345)
    means = t[g.integers(0, t.size, size=(BOOT, max(1, runs)))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return "interval" if lo * (1 - 1e-4) <= ref <= hi * (1 + 1e-4) else None


def _summary(times: list[float | None], retx: list[int], wall: float, seed: int) -> dict[str, Any]:
    done = np.array([t for t in times if t is not None], dtype=float)
    return {
        "mean_s": float(done.mean()) if done.size else None,
        "mean_ci95_s": mean_interval(done, seed),
        "min_s": float(done.min()) if done.size else None,
        "max_s": float(done.max()) if done.size else None,
        "retransmissions": float(np.mean(retx)) if retx else None,
        "completed": int(done.size),
        "connect_timeouts": sum(t is None for t in times),
        "wall_s": wall,
        "samples_s": times,
    }


def validate(
    bandwidth_bps: float,
    latency_s: float,
    size_bytes: int,
    *,
    loss: float = 0.0,
    seeds: int = 20,
    seed: int = 0,
    hystart: bool = True,
) -> dict[str, Any]:
    """ns-3 (RngRun seed+1 .. seed+seeds) and both fidelities (rng [seed, i]) side by side."""
    out: dict[str, Any] = {
        "bandwidth_bps": bandwidth_bps, "latency_s": latency_s, "size_bytes": size_bytes,
        "loss": loss, "seeds": seeds, "hystart": hystart, "ns3_version": NS3_VERSION,
    }  # fmt: skip
    t0 = time.perf_counter()
    load()
    out["ns3_setup_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ns_times: list[float | None] = []
    ns_retx: list[int] = []
    for i in range(seeds):
        t, r = ns3_transfer(bandwidth_bps, latency_s, size_bytes, loss=loss, run=seed + i + 1,
                            hystart=hystart)  # fmt: skip
        ns_times.append(t)
        if t is not None:
            ns_retx.append(r)
    out["ns3"] = _summary(ns_times, ns_retx, time.perf_counter() - t0, seed)
    ref = out["ns3"]["mean_s"]
    params = TcpParams(hystart=hystart)
    for fidelity in ("packet", "flow"):
        t0 = time.perf_counter()
        times: list[float | None] = []
        retx: list[int] = []
        for i in range(seeds):
            try:
                t, _w, r = run_once(bandwidth_bps, latency_s, size_bytes, loss=loss,
                                    rng=np.random.default_rng([seed, i]), fidelity=fidelity,
                                    params=params)  # fmt: skip
            except ConnectTimeoutError:
                times.append(None)
                continue
            times.append(t)
            retx.append(r)
        row = _summary(times, retx, time.perf_counter() - t0, seed)
        arr = np.array([np.nan if t is None else t for t in times])
        row["vs_ns3"] = (row["mean_s"] / ref - 1.0) if ref and row["mean_s"] else None
        row["verdict"] = acceptance(arr, ref, out["ns3"]["completed"], loss <= 0) if ref else None
        out[fidelity] = row
    return out


def _fmt(x: float | None, spec: str = ".6g") -> str:
    return "-" if x is None else format(x, spec)


def render(res: dict[str, Any]) -> str:
    """The side-by-side table a person reads."""
    head = (f"one message of {res['size_bytes']} B over {res['bandwidth_bps']:g} bit/s, "
            f"{res['latency_s']:g} s one way, loss {res['loss']:.3g}, {res['seeds']} seeds each, "
            f"HyStart {'on' if res['hystart'] else 'off'} "
            f"(ns-3 set up in {res['ns3_setup_s']:.1f} s, not counted below)")  # fmt: skip
    lines = [head, f"{'engine':<10} {'mean s':>10} {'95% CI of mean':>23} {'min s':>10} "
                   f"{'max s':>10} {'retx':>8} {'timeouts':>8} {'wall s':>8}  vs ns-3"]  # fmt: skip
    for name, key in ((f"ns-3 {res['ns3_version']}", "ns3"), ("packet", "packet"),
                      ("flow", "flow")):  # fmt: skip
        r = res[key]
        ci = r["mean_ci95_s"]
        cis = f"[{ci[0]:.5g}, {ci[1]:.5g}]" if ci else "-"
        vs = ""
        if key != "ns3":
            verdict = r["verdict"]
            vs = f"{_fmt(r['vs_ns3'], '+.1%')}  {'pass (' + verdict + ')' if verdict else 'FAIL'}"
        lines.append(f"{name:<10} {_fmt(r['mean_s']):>10} {cis:>23} {_fmt(r['min_s']):>10} "
                     f"{_fmt(r['max_s']):>10} {_fmt(r['retransmissions'], '.4g'):>8} "
                     f"{r['connect_timeouts']:>8} {r['wall_s']:>8.2f}  {vs}")  # fmt: skip
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UnitError(message)


def main(argv: list[str]) -> int:
    """Print the side-by-side table (or JSON); 2 on a bad argument or without ns-3."""
    ap = _Parser(prog="fedsim net validate", description=__doc__.split("\n")[0])
    ap.add_argument("--bandwidth", required=True)
    ap.add_argument("--latency", required=True)
    ap.add_argument("--size", required=True)
    ap.add_argument("--loss", default="0")
    ap.add_argument("--seeds", default="20")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--no-hystart", action="store_true", help="Cubic without HyStart, both sides")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    try:
        a = ap.parse_args(argv)
        res = validate(
            _field("--bandwidth", parse_bandwidth, a.bandwidth),
            _field("--latency", parse_duration, a.latency),
            _bytes("--size", a.size),
            loss=_field("--loss", parse_fraction, a.loss),
            seeds=_int("--seeds", a.seeds, 1),
            seed=_int("--seed", a.seed, 0),
            hystart=not a.no_hystart,
        )
    except (FedsimError, Ns3MissingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res) if a.json else render(res))
    return 0

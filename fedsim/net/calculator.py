"""`fedsim net transfer`'s engine: how long does one message take over one link?

Why: a quick answer to "what does this link do to my model upload?" without a
scenario, and the harness the ns-3 validation uses. One message of `size`
bytes over one link, from the sender's first byte (the SYN: the handshake is
included) to the receiver's last, repeated over `seeds` seeded runs. Defaults
match the ns-3 reference: loss on the data direction only (ACKs and the
SYN-ACK are never lost) unless `loss_both_directions`. A run whose connect
times out (every SYN lost) is data, not an error: it is counted and named in
the JSON (`connect_timeouts`, `connect_timeout_runs`), and the timing
statistics are over the runs that completed. `--samples` adds every run's
completion time and retransmissions (a run whose connect timed out has null ones
and `connect_timeout: true`); `--ci` adds a bootstrapped 95 % interval of the mean
completion time, from a resampling stream seeded by `--seed` (same inputs, same
interval).
"""

from __future__ import annotations

import errno
from typing import Any

import numpy as np
import simpy

from fedsim.errors import FedsimError, UnitError
from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, NoLoss, Transmitter
from fedsim.net.loss import Bernoulli, GilbertElliott
from fedsim.net.packet import PacketChannel
from fedsim.net.tcp import TcpParams

__all__ = [
    "CI_RESAMPLES",
    "FIDELITIES",
    "ConnectTimeoutError",
    "mean_interval",
    "run_once",
    "transfer_stats",
]

CI_RESAMPLES = 4000
"""Bootstrap resamples behind `--ci` (the interval's own noise is ~1 % of its width)."""

FIDELITIES = {"flow": FlowChannel, "packet": PacketChannel}


class ConnectTimeoutError(FedsimError):
    """Every SYN of one run was lost: the transfer never started."""


def _loss(loss: float, loss_model: str, ge: tuple[float, float, float, float] | None) -> Any:
    if loss_model == "bernoulli":
        return Bernoulli(loss) if loss > 0 else NoLoss()
    if loss_model in ("gilbert-elliott", "ge"):
        if ge is None:
            raise UnitError("the gilbert-elliott loss model needs ge=(p, r, 1-h, 1-k)")
        return GilbertElliott(*ge)
    raise UnitError(f"unknown loss model {loss_model!r} (bernoulli, gilbert-elliott)")


def run_once(
    bandwidth_bps: float,
    latency_s: float,
    size_bytes: int,
    *,
    rng: np.random.Generator,
    fidelity: str = "packet",
    mtu: int = 1500,
    loss: float = 0.0,
    loss_model: str = "bernoulli",
    ge: tuple[float, float, float, float] | None = None,
    loss_both_directions: bool = False,
    params: TcpParams | None = None,
) -> tuple[float, int, int]:
    """One seeded run: (seconds, wire bytes both ways, retransmissions)."""
    if fidelity not in FIDELITIES:
        raise UnitError(f"unknown fidelity {fidelity!r} (flow, packet)")
    fwd = _loss(loss, loss_model, ge)
    back = _loss(loss, loss_model, ge) if loss_both_directions else NoLoss()
    link = Link(
        "link", "sender", "receiver",
        (Transmitter("fwd", bandwidth_bps), Transmitter("back", bandwidth_bps)),
        latency_s, mtu=int(mtu), loss=(fwd, back),
    )  # fmt: skip
    env = simpy.Environment()
    ch = FIDELITIES[fidelity](env, (Hop(link, 0),), rng, params)
    done: list[float] = []
    timed_out: list[OSError] = []

    def proc():
        try:
            yield ch.connect()
        except OSError as exc:
            if exc.errno != errno.ETIMEDOUT:
                raise
            timed_out.append(exc)
            return
        yield ch.send(0, int(size_bytes))
        done.append(env.now)

    p = env.process(proc())
    env.run(until=p)
    if timed_out:
        raise ConnectTimeoutError(f"{timed_out[0].strerror} at {env.now:.6g} s")
    wire = sum(c.wire_bytes for c in link.counters)
    return done[0], wire, link.counters[0].retransmissions


def transfer_stats(
    bandwidth_bps: float,
    latency_s: float,
    size_bytes: float,
    *,
    loss: float = 0.0,
    mtu: int = 1500,
    fidelity: str = "packet",
    seeds: int = 50,
    seed: int = 0,
    loss_model: str = "bernoulli",
    ge: tuple[float, float, float, float] | None = None,
    loss_both_directions: bool = False,
    samples: bool = False,
    ci: bool = False,
    params: TcpParams | None = None,
) -> dict[str, Any]:
    """Statistics of `seeds` runs; run i uses numpy's default_rng([seed, i]).

    The inputs are echoed as read (bit/s, seconds, bytes) so a unit read the wrong way
    shows. Times, wire bytes and retransmissions are over the runs that completed (null
    when none did); runs whose connect timed out are counted and listed by index i.
    `samples` adds every run (`samples`), `ci` the bootstrapped 95 % interval of the
    mean completion time (`mean_ci95_s`, null with fewer than 2 completed runs).
    """
    times, wires, retx, timeouts = [], [], [], []
    runs: list[dict[str, Any]] = []
    for i in range(int(seeds)):
        try:
            t, w, r = run_once(
                bandwidth_bps, latency_s, int(size_bytes), rng=np.random.default_rng([seed, i]),
                fidelity=fidelity, mtu=mtu, loss=loss, loss_model=loss_model, ge=ge,
                loss_both_directions=loss_both_directions, params=params,
            )  # fmt: skip
        except ConnectTimeoutError:
            timeouts.append(i)
            runs.append({"run": i, "time_s": None, "retransmissions": None,
                         "connect_timeout": True})  # fmt: skip
            continue
        times.append(t)
        wires.append(w)
        retx.append(r)
        runs.append({"run": i, "time_s": t, "retransmissions": r, "connect_timeout": False})
    a = np.asarray(times)

    def stat(fn: Any, values: Any) -> float | None:
        return float(fn(values)) if len(times) else None

    out: dict[str, Any] = {
        "bandwidth_bps": float(bandwidth_bps),
        "latency_s": float(latency_s),
        "size_bytes": int(size_bytes),
        "loss": float(loss),
        "mean_s": stat(np.mean, a),
        "median_s": stat(np.median, a),
        "p95_s": stat(lambda x: np.percentile(x, 95), a),
        "min_s": stat(np.min, a),
        "max_s": stat(np.max, a),
        "wire_bytes": stat(np.mean, wires),
        "retransmissions": stat(np.mean, retx),
        "runs": int(seeds),
        "completed": len(times),
        "connect_timeouts": len(timeouts),
        "connect_timeout_runs": timeouts,
    }
    if ci:
        out["mean_ci95_s"] = mean_interval(a, seed)
        out["ci_resamples"] = CI_RESAMPLES
    if samples:
        out["samples"] = runs
    return out


def mean_interval(times: Any, seed: int = 0, resamples: int = CI_RESAMPLES) -> list[float] | None:
    """Percentile-bootstrap 95 % interval of the mean of `times` (None below 2 values).
    The resampling stream is numpy's default_rng([seed, 1, 95]): deterministic, and
    apart from the runs' own streams ([seed, i])."""
    t = np.asarray(times, dtype=float)
    if t.size < 2:
        return None
    g = np.random.default_rng([int(seed), 1, 95])
    means = t[g.integers(0, t.size, size=(resamples, t.size))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return [float(lo), float(hi)]

"""`fedsim net transfer`: how long does one message take over one link?

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

import argparse
import errno
import json
import sys
from typing import Any

import numpy as np
import simpy

from fedsim.errors import FedsimError, UnitError
from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, NoLoss, Transmitter
from fedsim.net.loss import Bernoulli, GilbertElliott
from fedsim.net.packet import PacketChannel
from fedsim.net.tcp import TcpParams
from fedsim.units import parse_bandwidth, parse_duration, parse_fraction, parse_size

__all__ = ["ConnectTimeoutError", "main", "mean_interval", "run_once", "transfer_stats"]

CI_RESAMPLES = 4000
"""Bootstrap resamples behind `--ci` (the interval's own noise is ~1 % of its width)."""

_FIDELITIES = {"flow": FlowChannel, "packet": PacketChannel}


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
    if fidelity not in _FIDELITIES:
        raise UnitError(f"unknown fidelity {fidelity!r} (flow, packet)")
    fwd = _loss(loss, loss_model, ge)
    back = _loss(loss, loss_model, ge) if loss_both_directions else NoLoss()
    link = Link(
        "link", "sender", "receiver",
        (Transmitter("fwd", bandwidth_bps), Transmitter("back", bandwidth_bps)),
        latency_s, mtu=int(mtu), loss=(fwd, back),
    )  # fmt: skip
    env = simpy.Environment()
    ch = _FIDELITIES[fidelity](env, (Hop(link, 0),), rng, params)
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise UnitError(message)


def _args(argv: list[str]) -> argparse.Namespace:
    ap = _Parser(prog="fedsim net transfer", description=__doc__.split("\n")[0])
    ap.add_argument("--bandwidth", required=True)
    ap.add_argument("--latency", required=True)
    ap.add_argument("--size", required=True)
    ap.add_argument("--loss", default="0")
    ap.add_argument("--mtu", default="1500")
    ap.add_argument("--fidelity", default="packet")
    ap.add_argument("--seeds", default="50")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--loss-model", default="bernoulli")
    for k in ("p", "r", "1-h", "1-k"):
        ap.add_argument(f"--ge-{k}", default=None)
    ap.add_argument("--loss-both-directions", action="store_true")
    ap.add_argument("--samples", action="store_true", help="every run's time and retransmissions")
    ap.add_argument("--ci", action="store_true", help="bootstrapped 95 %% interval of the mean")
    ap.add_argument("--no-hystart", action="store_true", help="Cubic without hybrid slow start")
    return ap.parse_args(argv)


def _int(flag: str, value: str, low: int) -> int:
    try:
        x = int(value)
    except ValueError:
        raise UnitError(f"{flag}: expected an integer, got {value!r}") from None
    if x < low:
        raise UnitError(f"{flag}: must be >= {low}, got {x}")
    return x


def _field(flag: str, fn: Any, value: object) -> Any:
    try:
        return fn(value)
    except UnitError as e:
        raise UnitError(f"{flag}: {e}") from None


def _bytes(flag: str, value: str) -> int:
    size = _field(flag, parse_size, value)
    if size != int(size):
        raise UnitError(f"{flag}: a message is a whole number of bytes, got {size:g} ({value!r})")
    return int(size)


def main(argv: list[str]) -> int:
    """Print one JSON object with the transfer statistics; 2 on a bad argument."""
    try:
        a = _args(argv)
        ge = None
        if a.loss_model in ("gilbert-elliott", "ge"):
            vals = [a.ge_p, a.ge_r, a.ge_1_h, a.ge_1_k]
            defaults = [None, None, "1", "0"]
            got = []
            for k, v, dflt in zip(("p", "r", "1-h", "1-k"), vals, defaults, strict=True):
                if v is None and dflt is None:
                    raise UnitError(f"--ge-{k}: required with --loss-model gilbert-elliott")
                got.append(_field(f"--ge-{k}", parse_fraction, v if v is not None else dflt))
            ge = tuple(got)
        elif a.loss_model != "bernoulli":
            raise UnitError(f"--loss-model: unknown {a.loss_model!r} (bernoulli, gilbert-elliott)")
        if a.fidelity not in _FIDELITIES:
            raise UnitError(f"--fidelity: unknown {a.fidelity!r} (flow, packet)")
        stats = transfer_stats(
            _field("--bandwidth", parse_bandwidth, a.bandwidth),
            _field("--latency", parse_duration, a.latency),
            _bytes("--size", a.size),
            loss=_field("--loss", parse_fraction, a.loss),
            mtu=_int("--mtu", a.mtu, 68),
            fidelity=a.fidelity,
            seeds=_int("--seeds", a.seeds, 1),
            seed=_int("--seed", a.seed, 0),
            loss_model=a.loss_model,
            ge=ge,  # type: ignore[arg-type]
            loss_both_directions=a.loss_both_directions,
            samples=a.samples,
            ci=a.ci,
            params=TcpParams(hystart=not a.no_hystart),
        )
    except FedsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(stats))
    return 0

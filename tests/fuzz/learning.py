"""What is learned and how (`task`, `fl`): small tasks, a few strategies, both
engines, every codec and transport, over-selection, quorum, deadlines and time limits. Local
work is kept tiny so a run costs a fraction of a second of wall time."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from fedsim.config.task_reads import CLIENT_TERMS
from fedsim.config.tasks import TASK_VARIANTS
from fuzz.units import duration, durations, fractions, percent

STRATEGY_OPTIONS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "fedavg": st.just({}),
    "fedprox": st.builds(lambda mu: {"mu": mu}, st.sampled_from([0.0, 0.01, 0.1])),
    "trimmed_mean": st.builds(lambda b: {"beta": b}, st.sampled_from([0.0, 0.1, 0.3])),
    "krum": st.builds(lambda f, m: {"f": f, "m": m}, st.integers(0, 1), st.integers(1, 2)),
    "median": st.just({}),
    "fedavgm": st.sampled_from([{}, {"server_lr": 1.0, "momentum": 0.5}]),
    "fedadam": st.just({}),
    "fedyogi": st.just({}),
    "fedadagrad": st.just({}),
}
"""fedavg first: Hypothesis leans to a list's first items, and it matters most."""


@st.composite
def supervised_task(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["digits", "digits", "synthetic"]))
    task: dict[str, Any] = {"kind": kind}
    if draw(st.integers(0, 3)) == 0:
        task["model"] = "mlp"
        task["hidden"] = [draw(st.sampled_from([4, 8]))]
    if kind == "digits":
        part = draw(st.sampled_from(["iid", "dirichlet", "shards", None]))
        if part is not None:
            task["partition"] = part
        if part == "dirichlet":
            task["alpha"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
        if part == "shards":
            task["shards_per_client"] = draw(st.integers(1, 3))
        task["test_fraction"] = draw(st.sampled_from([0.2, 0.5, 0.8]))
    else:
        task.update(min_samples=draw(st.integers(2, 20)), max_samples=draw(st.integers(20, 60)),
                    features=draw(st.integers(2, 20)), classes=draw(st.integers(2, 5)),
                    max_test_samples=200, iid=draw(st.booleans()))  # fmt: skip
    return task


@st.composite
def rl_task(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["cartpole", "energy_harvesting", "multichannel"]))
    if kind == "cartpole":
        return {"kind": kind, "episodes": 1, "batch": 1, "eval_episodes": 1,
                "pole_half_length": [0.3, 0.7]}  # fmt: skip
    if kind == "energy_harvesting":
        return {"kind": kind, "steps": 200, "battery": 2, "max_age": 4}
    return {"kind": kind, "steps": 200, "channels": 2, "max_gap": 2}


@st.composite
def task(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly supervised; an RL task about one scenario in eight."""
    if draw(st.integers(0, 7)) == 0:
        return draw(rl_task())
    return draw(supervised_task())


@st.composite
def fl_settings(
    draw: st.DrawFn, n_devices: int, horizon_s: float, supervised: bool, kind: str = ""
) -> dict[str, Any]:
    """`fl`: always with a `time_limit` (the horizon), so no run can wait forever. A
    strategy whose device-side term the task `kind` does not implement is refused by the
    config (fedprox on tabular Q-learning), so it is not drawn."""
    engine = draw(st.sampled_from(["sync", "async"]))
    fl: dict[str, Any] = {"rounds": draw(st.integers(1, 3)), "time_limit": duration(horizon_s)}
    if engine == "async" or draw(st.booleans()):
        fl["engine"] = engine
    terms = TASK_VARIANTS[kind].client_terms if kind in TASK_VARIANTS else frozenset({"mu"})
    usable = [s for s in STRATEGY_OPTIONS if set(CLIENT_TERMS.get(s, ())) <= terms]
    strategy = draw(st.sampled_from(usable)) if engine == "sync" else "fedavg"
    fl["strategy"] = strategy
    options = draw(STRATEGY_OPTIONS[strategy])
    if options:
        fl["options"] = options
    if draw(st.booleans()):
        fl["clients_per_round"] = draw(st.integers(1, n_devices))
    else:
        fl["clients_per_round"] = draw(st.sampled_from([0.3, 0.5, 0.9]))
    if draw(st.booleans()):
        fl["over_selection"] = percent(draw(st.sampled_from([0.1, 0.25, 0.5, 1.0])))
    fl["min_available"] = draw(st.integers(1, n_devices))
    fl["deadline"] = duration(draw(durations(5, min(1800.0, horizon_s))))
    if draw(st.booleans()):
        fl["quorum"] = percent(draw(fractions(0.0, 1.0)))
    # idle devices poll every poll_wait: keep it to ~200 polls per device per run
    waits = [w for w in (5.0, 30.0, 120.0, 600.0) if w >= horizon_s / 200]
    if horizon_s / 200 > 30 or draw(st.booleans()):
        fl["poll_wait"] = duration(draw(st.sampled_from(waits)))
    if draw(st.integers(0, 2)) == 0:
        fl["round_interval"] = duration(draw(st.sampled_from([0.0, 30.0, 300.0])))
    if draw(st.booleans()):
        fl["codec"] = draw(st.sampled_from(["float32", "float16", "int8", "topk"]))
    if supervised:
        fl["local"] = {"epochs": 1, "batch_size": draw(st.sampled_from([8, 16, 32])),
                       "lr": draw(st.sampled_from([0.01, 0.05, 0.1]))}  # fmt: skip
        if draw(st.integers(0, 4)) == 0:
            fl["local"]["federated_eval"] = True
    if supervised and draw(st.integers(0, 5)) == 0:
        fl["target"] = draw(st.sampled_from([0.3, 0.9]))
    if draw(st.integers(0, 4)) == 0:
        fl["gate_tolerance"] = draw(st.sampled_from([0.0, 0.05, 1.0]))
    if engine == "sync" and draw(st.integers(0, 4)) == 0:
        fl["selection"] = "reliability"
        fl["selection_floor"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    if engine == "async":  # a buffer larger than the federation never aggregates
        fl["async"] = {"buffer": draw(st.integers(1, n_devices))}
        if draw(st.booleans()):
            fl["async"].update(
                concurrency=draw(st.integers(1, n_devices)),
                max_staleness=draw(st.integers(0, 3)),
                server_lr=draw(st.sampled_from([0.5, 1.0])),
                staleness_exponent=draw(st.sampled_from([0.0, 0.5, 1.0])),
            )
    if draw(st.integers(0, 3)) == 0:  # the two-exchange protocol (upload, then poll)
        fl["task_on_answer"] = False
    if draw(st.integers(0, 3)) == 0:  # a keep-alive that can close under a slow download
        fl["server_keepalive"] = duration(draw(st.sampled_from([0.5, 2.0, 10.0])))
    if draw(st.integers(0, 3)) == 0:  # the other transports: CoAP over UDP, MQTT over TCP
        fl["transport"] = draw(st.sampled_from(["coap", "mqtt"]))
    return fl

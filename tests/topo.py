"""A small valid topology for tests, as a plain dict."""

from __future__ import annotations

from typing import Any


def tiny_topology(**changes: Any) -> dict[str, Any]:
    """A small valid topology as a dict: 4 devices behind a gateway. `changes` are
    `--set`-style `key.path=value` pairs given as keyword arguments with `__` for dots."""
    from fedsim.scenario import apply_overrides

    base: dict[str, Any] = {
        "name": "tiny",
        "seed": 3,
        "task": {"kind": "digits", "partition": "iid"},
        "fl": {
            "strategy": "fedavg",
            "rounds": 3,
            "clients_per_round": 4,
            "min_available": 4,
            "deadline": "60s",
            "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
        },
        "links": {
            "wifi": {"kind": "wifi", "bandwidth": "10Mbps", "latency": "10ms"},
            "backhaul": {"kind": "backhaul", "bandwidth": "100Mbps", "latency": "5ms"},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "backhaul"}},
            {"name": "dev", "kind": "device", "count": 4, "device": "rpi4",
             "uplink": {"to": "gw", "link": "wifi"}},
        ],
    }  # fmt: skip
    return apply_overrides(base, [f"{k.replace('__', '.')}={v}" for k, v in changes.items()])


class InstantChannel:
    """A network channel that delivers everything after 1 ms: for HTTP-level tests
    where the network model is not the point (fedsim/net/channel.py protocol)."""

    def __init__(self, env: Any, delay: float = 0.001) -> None:
        self.env = env
        self.delay = delay

    def connect(self) -> Any:
        return self.env.timeout(self.delay)

    def send(self, direction: int, nbytes: int) -> Any:
        return self.env.timeout(self.delay)

    def break_(self, cause: str) -> None:
        pass

    def close(self) -> None:
        pass


def rows(path: Any) -> list[dict[str, str]]:
    """A results CSV as a list of dicts (strings, as written)."""
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def assert_same_run(a: Any, b: Any, files: tuple[str, ...] = ("rounds.csv", "links.csv",
                    "timeline.csv", "clients.csv", "config.yaml")) -> dict[str, Any]:  # fmt: skip
    """Two run folders hold the same results apart from wall-clock time; returns a's summary."""
    import json
    from pathlib import Path

    for name in files:
        assert (Path(a) / name).read_text() == (Path(b) / name).read_text(), name
    sa = json.loads((Path(a) / "summary.json").read_text())
    sb = json.loads((Path(b) / "summary.json").read_text())
    sa.pop("wall_time_s")
    sb.pop("wall_time_s")
    assert sa == sb
    return sa


SWEEP_BASE = {
    "name": "tiny",
    "seed": 1,
    "fl": {"strategy": "fedavg", "codec": "float32", "rounds": 10},
    "links": [{"name": "l0", "kind": "wifi", "loss": 0.0}],
}
"""A base file for sweeps run by `fake_results.synthetic_runner`."""


def write_sweep(tmp_path: Any, **changes: Any) -> Any:
    """A sweep file over SWEEP_BASE in tmp_path (codec x loss x 3 seeds unless changed)."""
    import yaml

    (tmp_path / "base.yaml").write_text(yaml.safe_dump(SWEEP_BASE))
    spec = {
        "name": "s",
        "base": "base.yaml",
        "grid": {"fl.codec": ["float32", "int8"], "links.0.loss": [0.0, 0.05]},
        "seeds": [1, 2, 3],
        "set": ["fl.rounds=6"],
        **changes,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


class CountingRunner:
    """A synthetic sweep runner that records the runs it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, base, seed, overrides, out_root, run_name):  # type: ignore[no-untyped-def]
        from fake_results import synthetic_runner

        self.calls.append(run_name)
        return synthetic_runner(base, seed, overrides, out_root, run_name)

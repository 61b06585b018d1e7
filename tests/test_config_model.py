"""The typed configuration model (fedsim.config): the issue's cases, each declaration
against the code it stands for, and the CLI's one path for validate and run."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from topo import tiny_topology

import fedsim.run
from fedsim.cli import main
from fedsim.config.strategies import STRATEGY_OPTIONS
from fedsim.config.tasks import DIGITS_CLASS_COUNTS, TASK_VARIANTS, classifier_memory_bytes
from fedsim.errors import ScenarioError
from fedsim.scenario import apply_overrides, parse_scenario

ROOT = Path(__file__).resolve().parents[1]


def _error(**change: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(tiny_topology(**change))
    assert "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"fl__strategy": "fedsgd"}, "fl.strategy", "'fedsgd' is not one of fedavg"),
        ({"fl__options": {"mu": 0.1}}, "fl.options.mu", "fedavg (takes no options)"),
        ({"fl__strategy": "fedprox", "fl__options": {"beta": 1}}, "fl.options.beta",
         "unknown option for fedprox (takes: mu)"),
        ({"fl__strategy": "fedprox", "fl__options": {"mu": -1}}, "fl.options.mu", "at least 0"),
        ({"fl__strategy": "fedprox", "fl__options": {"mu": 0.1}, "fl__local__mu": 0.2},
         "fl.options.mu", "given twice"),
        ({"fl__strategy": "krum", "fl__local__f": 1}, "fl.local.f", "unknown key"),
        ({"fl__strategy": {"name": "fedavg", "mu": 0.1}}, "fl.strategy.mu",
         "unknown option for fedavg (takes no options)"),
        ({"fl__strategy": {"name": "fedprox", "beta": 1}}, "fl.strategy.beta",
         "unknown option for fedprox (takes: mu)"),
        ({"fl__strategy": {"name": "fedprox", "mu": -1}}, "fl.strategy.mu", "at least 0"),
        ({"fl__strategy": {"mu": 0.1}}, "fl.strategy.name", "is required"),
        ({"fl__strategy": {"name": "fedsgd"}}, "fl.strategy.name", "'fedsgd' is not one of"),
        ({"fl__strategy": {"name": "fedprox", "mu": 0.1}, "fl__options": {"mu": 0.2}},
         "fl.options", "given twice"),
        ({"fl__strategy": {"name": "fedprox", "mu": 0.1}, "fl__local__mu": 0.2},
         "fl.strategy.mu", "given twice"),
        ({"links__wifi__jitter": {"kind": "gauss", "std": "1ms"}}, "links.wifi.jitter.kind",
         "unknown kind 'gauss' (known: uniform, normal, pareto)"),
        ({"links__wifi__jitter": {"kind": "normal"}}, "links.wifi.jitter.std", "is required"),
        ({"links__wifi__loss_model": {"kind": "gilbert-elliott", "p": 0.1, "r": 0.2, "q": 1}},
         "links.wifi.loss_model.q", "unknown key (allowed here: 1-h, 1-k, kind, p, r)"),
        ({"links__wifi__loss_model": {"kind": "burst"}}, "links.wifi.loss_model.kind",
         "unknown kind 'burst'"),
        ({"task__alpha": -1}, "task.alpha", "must be above 0"),
        ({"task__kind": "mnist"}, "task.kind", "unknown kind 'mnist'"),
        ({"task__colour": 1}, "task.colour", "unknown option"),
        ({"nodes__2__count": 100_000}, "nodes[2].count",
         "100000 devices but digits has 1438 training samples"),
        ({"fl__target": 1.5}, "fl.target", "1.5 is unreachable: accuracy lies in [0, 1]"),
        ({"nodes__2__connectivity": {"kind": "sometimes"}}, "nodes[2].connectivity.kind",
         "unknown kind 'sometimes' (known: always, markov, periodic, trace, churn)"),
        ({"nodes__2__connectivity": {"kind": "markov", "mean_up": "1h"}},
         "nodes[2].connectivity.mean_down", "is required"),
        ({"fl__engine": "async", "fl__async__buffer": 0}, "fl.async.buffer", "at least 1"),
        ({"adversaries": {"fraction": "30%", "kind": "label_flip"}, "task": {"kind": "cartpole"}},
         "adversaries.kind", "classification task"),
        ({"devices": {"tiny": {"like": "esp32", "memory": "32KB"}}, "nodes__2__device": "tiny",
          "task__model": "mlp"}, "nodes[2].device",
         "dev: the model and one batch need 39800 bytes, but the tiny profile has 32000"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_at_their_key_path(
    change: dict[str, Any], path: str, words: str
) -> None:
    err = _error(**change)
    assert err.path == path, str(err)
    assert words in err.message, str(err)


def test_every_error_is_the_first_in_document_order() -> None:
    topo = tiny_topology()
    topo["links"]["wifi"]["latency"] = "fast"
    topo["nodes"][2]["count"] = 0
    topo["fl"]["rounds"] = 0  # fl comes before links and nodes in the file
    with pytest.raises(ScenarioError) as info:
        parse_scenario(topo)
    assert info.value.path == "fl.rounds"


def _write(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_validate_reports_every_bad_file_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path, "good.yaml", tiny_topology())
    bad1 = _write(tmp_path, "bad1.yaml", tiny_topology(fl__strategy="fedsgd"))
    bad2 = _write(tmp_path, "bad2.yaml", tiny_topology(task__alpha=-1))
    assert main(["validate", str(bad1), str(good), str(bad2)]) == 2
    out, err = capsys.readouterr()
    assert (
        out.strip() == f"{good}: ok (4 devices, 1 gateways, 2 link classes, 0 scheduled failures)"
    )
    assert err.strip().splitlines() == [
        f"fedsim: error: {bad1}: fl.strategy: 'fedsgd' is not one of fedavg, fedprox, fedavgm, "
        "fedadam, fedyogi, fedadagrad, median, trimmed_mean, krum",
        f"fedsim: error: {bad2}: task.alpha: must be above 0, got -1",
    ]
    assert main(["validate", str(good)]) == 0


def test_a_failure_after_the_time_limit_is_a_warning_in_validate_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    topo = tiny_topology(fl__time_limit="10min")
    topo["failures"] = [{"node": "gw", "at": "1h", "duration": "1min"}]
    path = _write(tmp_path, "late.yaml", topo)
    warning = ("fedsim: warning: failures[0].at: the failure starts at 3600 s, at or after "
               "fl.time_limit (600 s): it never happens")  # fmt: skip
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().err.strip() == warning

    class Stop(Exception):  # noqa: N818
        pass

    def stop(*_a: Any, **_k: Any) -> None:
        raise Stop

    monkeypatch.setattr(fedsim.run, "simulate", stop)
    with pytest.raises(Stop):
        main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")])
    assert capsys.readouterr().err.strip() == warning


def test_a_billion_devices_fail_in_under_a_second_naming_the_estimate(tmp_path: Path) -> None:
    topo = tiny_topology(task={"kind": "synthetic"}, nodes__2__count=1_000_000_000)
    path = _write(tmp_path, "huge.yaml", topo)
    for args in (("validate",), ("run", "--quiet")):
        t0 = time.perf_counter()
        argv = [sys.executable, "-m", "fedsim", args[0], str(path), *args[1:]]
        res = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
        elapsed = time.perf_counter() - t0
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith("fedsim: error: nodes[2].count: 1000000000 devices need about ")
        assert re.search(
            r"need about [\d.]+ TB of memory to simulate \(estimate, 251\.9 KB each\), "
            r"more than this machine has \([\d.]+ [GT]B\)$",
            lines[0],
        ), lines[0]
        print(f"{args[0]} of 10^9 devices: exit 2 after {elapsed:.2f} s (process start included)")


def test_strategy_declarations_name_their_constructor_options() -> None:
    from fedsim.fl.strategies.registry import STRATEGIES, strategy_options

    base = set(strategy_options(STRATEGIES["fedavg"]))
    assert set(STRATEGY_OPTIONS) == set(STRATEGIES)
    for name, cls in STRATEGIES.items():
        declared = STRATEGY_OPTIONS[name]
        own = {k: v for k, v in strategy_options(cls).items() if k not in base}
        assert set(declared.model_fields) == set(own), name
        for key, default in own.items():
            assert declared.model_fields[key].default == default, (name, key)


def test_task_declarations_name_their_constructor_options() -> None:
    from fedsim.tasks.rl import _KINDS

    for kind, cls in _KINDS.items():
        params = inspect.signature(cls.__init__).parameters
        own = {k: p.default for k, p in params.items() if k not in ("self", "num_clients", "seed")}
        declared = TASK_VARIANTS[kind].model_fields
        assert set(declared) - {"kind"} == set(own), kind
        for key, default in own.items():
            got = declared[key].default
            assert (tuple(got) if isinstance(got, list) else got) == default, (kind, key)


def test_digits_figures_match_the_data_and_the_task() -> None:
    import numpy as np
    from sklearn.datasets import load_digits

    from fedsim.rng import Streams
    from fedsim.scenario import TaskSpec
    from fedsim.tasks.registry import build_task

    assert tuple(np.bincount(load_digits().target)) == DIGITS_CLASS_COUNTS
    for options in ({"model": "softmax"}, {"model": "mlp", "hidden": [16, 8]}):
        task = build_task(TaskSpec("digits", options), 4, Streams(0))
        assert task.memory_bytes(16) == classifier_memory_bytes(tuple(task.sizes), 16)
        assert sum(len(task.learner(i).y) for i in range(4)) == 1438


def test_a_sweep_checks_every_grid_point_before_the_first_run(tmp_path: Path) -> None:
    from fedsim.errors import FedsimError
    from fedsim.sweep import load_sweep, run_sweep

    _write(tmp_path, "base.yaml", tiny_topology())
    sweep = {"name": "s", "base": "base.yaml", "grid": {"fl.rounds": [2, 0]}, "seeds": [1]}
    spec = load_sweep(_write(tmp_path, "sweep.yaml", sweep))
    with pytest.raises(FedsimError) as info:
        run_sweep(spec, out=tmp_path / "out")  # the real runner: nothing may start
    assert str(info.value) == "sweep point 'fl.rounds=0': fl.rounds: must be at least 1, got 0"
    assert not list((tmp_path / "out").rglob("summary.json"))


def test_one_set_switches_a_strategy_written_with_its_options() -> None:
    """`fl.strategy: {name: fedprox, mu: 0.01}`: `--set fl.strategy=fedavg` replaces the
    strategy and its options at once; the older `fl.options` form keeps working."""
    written = tiny_topology(fl__strategy={"name": "fedprox", "mu": 0.01})
    prox = parse_scenario(written)
    assert (prox.fl.strategy, dict(prox.fl.options)) == ("fedprox", {"mu": 0.01})
    switched = parse_scenario(apply_overrides(written, ["fl.strategy=fedavg"]))
    assert (switched.fl.strategy, dict(switched.fl.options)) == ("fedavg", {})
    tuned = parse_scenario(apply_overrides(written, ["fl.strategy.mu=0.5"]))
    assert dict(tuned.fl.options) == {"mu": 0.5}
    older = parse_scenario(tiny_topology(fl__strategy="fedprox", fl__options={"mu": 0.2}))
    assert (older.fl.strategy, dict(older.fl.options)) == ("fedprox", {"mu": 0.2})

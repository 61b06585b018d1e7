"""Scenario fuzzing (docs/testing.md): generated topologies run through the real stack
and the run auditor. `make test` runs FAST_EXAMPLES of them, `make test-all` also
FEDSIM_FUZZ_EXAMPLES more (default 2000). Generation is derandomized and keeps no
example database, so CI sees the same scenarios every time; every failure the fuzzer
has found is a YAML file under tests/fuzz/regressions/."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz.run import run_and_check, simulate_scenario
from fuzz.topologies import FuzzScenario, scenarios
from hypothesis import HealthCheck, given, settings

FAST_EXAMPLES = 200
SLOW_EXAMPLES = int(os.environ.get("FEDSIM_FUZZ_EXAMPLES", "2000"))
REGRESSIONS = Path(__file__).parent / "fuzz" / "regressions"


def fuzz_settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def run_in_temp(scenario: FuzzScenario) -> Any:
    with tempfile.TemporaryDirectory(prefix="fedsim-fuzz-") as folder:
        return run_and_check(scenario, Path(folder))


@pytest.mark.timeout(900)
@fuzz_settings(FAST_EXAMPLES)
@given(scenario=scenarios())
def test_generated_scenarios_run_clean(scenario: FuzzScenario) -> None:
    run_in_temp(scenario)


@pytest.mark.slow
@pytest.mark.timeout(0)
@fuzz_settings(SLOW_EXAMPLES)
@given(scenario=scenarios())
def test_many_generated_scenarios_run_clean(scenario: FuzzScenario) -> None:
    run_in_temp(scenario)


def _fingerprint(result: Any) -> tuple[Any, ...]:
    summary = {k: v for k, v in result.summary.items() if k != "wall_time_s"}
    return (
        summary,
        [asdict(r) for r in result.recorder.rounds],
        [asdict(iv) for iv in result.recorder.timeline],
        result.links,
        result.clients,
    )


@pytest.mark.timeout(600)
@fuzz_settings(10)
@given(scenario=scenarios())
def test_generated_scenarios_are_deterministic(scenario: FuzzScenario) -> None:
    """Same topology and seed, same numbers (wall time apart)."""
    first = run_in_temp(scenario)
    with tempfile.TemporaryDirectory(prefix="fedsim-fuzz-") as folder:
        second = simulate_scenario(scenario, Path(folder))
    assert _fingerprint(first) == _fingerprint(second), scenario.yaml()


def load_regression(path: Path) -> tuple[FuzzScenario, str | None]:
    """A regression file: a topology YAML whose `# xfail: <reason>` comment line (if
    any) marks a bug not fixed yet; trace files it names sit beside it (traces/)."""
    text = path.read_text()
    reason = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                   if ln.startswith("# xfail:")), None)  # fmt: skip
    topology = yaml.safe_load(text)
    files = {}
    for node in topology["nodes"]:
        rel = (node.get("connectivity") or {}).get("file")
        if rel is not None:
            files[rel] = (path.parent / rel).read_text()
    return FuzzScenario(topology, files), reason


def _regression_params() -> list[Any]:
    out = []
    for path in sorted(REGRESSIONS.glob("*.yaml")):
        _scenario, reason = load_regression(path)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(path, id=path.stem, marks=marks))
    return out


def test_regressions_exist() -> None:
    """The folder is read: a regression that silently stopped running would pass."""
    assert list(REGRESSIONS.glob("*.yaml"))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", _regression_params())
def test_fuzz_regression(path: Path) -> None:
    scenario, _reason = load_regression(path)
    run_in_temp(scenario)

"""Scenario fuzzing (docs/testing.md): generated topologies run through the real stack
and the run auditor. `make test` runs FAST_EXAMPLES of them, `make test-all` also
FEDSIM_FUZZ_EXAMPLES more (default 2000). Generation is derandomized and keeps no
example database, so CI sees the same scenarios every time; every failure the fuzzer
has found is a YAML file under tests/fuzz/regressions/."""

from __future__ import annotations

import asyncio
import gc
import math
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz.known import KNOWN_BUGS, KnownBug
from fuzz.run import ScenarioHang, hang_guard, run_and_check, simulate_scenario
from fuzz.topologies import FuzzScenario, scenarios
from hypothesis import HealthCheck, event, given, seed, settings

from fedsim.clock import VirtualTimeLoop
from fedsim.net.network import Network

FAST_EXAMPLES = 200
SLOW_EXAMPLES = int(os.environ.get("FEDSIM_FUZZ_EXAMPLES", "2000"))
CAMPAIGN_SEED = os.environ.get("FEDSIM_FUZZ_SEED")
"""`make fuzz`: the slow test explores the scenarios of this seed instead of the fixed
sequence every machine runs (a campaign with a fresh seed found the hang guard's bug)."""
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


def run_in_temp(scenario: FuzzScenario, *, ignore_known: bool = False) -> Any:
    with tempfile.TemporaryDirectory(prefix="fedsim-fuzz-") as folder:
        return run_and_check(scenario, Path(folder), ignore_known=ignore_known)


def run_generated(scenario: FuzzScenario) -> Any:
    """A generated scenario: known bugs skipped, coverage recorded as Hypothesis events
    (`--hypothesis-show-statistics` lists them)."""
    result = run_in_temp(scenario, ignore_known=True)
    for label in features(result):
        event(label)
    return result


def features(result: Any) -> list[str]:
    """What a generated scenario exercised, for the coverage statistics."""
    sc = result.scenario
    kinds = {n.connectivity.kind for n in sc.nodes if n.kind != "server"}
    out = [f"engine {sc.fl.engine}", f"fidelity {sc.fidelity}", f"task {sc.task.kind}",
           f"codec {sc.fl.codec}", f"transport {sc.fl.transport}",
           "completed a round" if result.recorder.rounds else "no round",
           f"end {result.summary['end_reason']}",
           *(f"connectivity {k}" for k in sorted(kinds))]  # fmt: skip
    if sc.failures:
        out.append("scheduled failures")
    if any(n.connectivity.churn_fraction > 0 for n in sc.nodes):
        out.append("churn")
    if result.summary["dropouts"]:
        out.append("dropouts")
    if any(n.kind == "gateway" for n in sc.nodes):
        out.append("gateways")
    if any(sc.devices[n.device].battery_j for n in sc.device_nodes if n.device):
        out.append("batteries")
    energy = result.evidence.energy if result.evidence is not None else {}
    if any(e.empty_at is not None and e.initial_j for e in energy.values()):
        out.append("a battery ran dry")
    if any(
        link.radio is not None and math.isfinite(link.radio.wake_period_s)
        for link in sc.links.values()
    ):
        out.append("periodic wakes")
    return out


@pytest.mark.timeout(900)
@fuzz_settings(FAST_EXAMPLES)
@given(scenario=scenarios())
def test_generated_scenarios_run_clean(scenario: FuzzScenario) -> None:
    run_generated(scenario)


def campaign(test: Any) -> Any:
    """The slow test under `FEDSIM_FUZZ_SEED` when set (not derandomized), else as is."""
    if CAMPAIGN_SEED is None:
        return fuzz_settings(SLOW_EXAMPLES)(test)
    return seed(int(CAMPAIGN_SEED))(settings(fuzz_settings(SLOW_EXAMPLES), derandomize=False)(test))


@pytest.mark.slow
@pytest.mark.timeout(0)
@campaign
@given(scenario=scenarios())
def test_many_generated_scenarios_run_clean(scenario: FuzzScenario) -> None:
    run_generated(scenario)


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
@fuzz_settings(30)
@given(scenario=scenarios())
def test_generated_scenarios_are_deterministic(scenario: FuzzScenario) -> None:
    """Same topology and seed, same numbers (wall time apart)."""
    first = run_generated(scenario)
    with tempfile.TemporaryDirectory(prefix="fedsim-fuzz-") as folder:
        second = simulate_scenario(scenario, Path(folder))
    assert _fingerprint(first) == _fingerprint(second), scenario.yaml()


def _alive(cls: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is cls)


def test_no_run_outlives_simulate() -> None:
    """Found by the fuzzer's memory (3 GB after 3000 runs): aiohttp's module-level
    middleware cache kept every run's app, engine and network alive."""
    scenario, _ = load_regression(REGRESSIONS / "overselected_upload_after_end.yaml")
    before = _alive(Network)
    for _ in range(3):
        run_in_temp(scenario)
    assert _alive(Network) == before


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


def test_known_bugs_are_tracked_by_a_strict_xfail() -> None:
    """A bug the generated tests skip must fail its own regression until fixed (one
    test over the list, so an empty list runs rather than skips)."""
    bug: KnownBug
    for bug in KNOWN_BUGS:
        path = REGRESSIONS / f"{bug.regression}.yaml"
        assert path.is_file(), f"{path.name}: no regression for a known bug"
        _scenario, reason = load_regression(path)
        assert reason, f"{path.name}: a known bug's regression needs an '# xfail:' line"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", _regression_params())
def test_fuzz_regression(path: Path) -> None:
    scenario, _reason = load_regression(path)
    run_in_temp(scenario)


def test_the_hang_guard_counts_cpu_time_not_the_hosts_wall() -> None:
    """A run that never ends burns CPU, and the guard stops it; a crowded host's waits
    are not the run's."""
    import resource

    def cpu() -> float:
        use = resource.getrusage(resource.RUSAGE_SELF)
        return use.ru_utime + use.ru_stime

    def spin() -> None:
        with hang_guard(0.05):
            while cpu() - start < 5.0:  # a hang: the guard must cut it long before 5 s
                pass

    start = cpu()
    with pytest.raises(ScenarioHang, match="CPU time"):
        spin()
    assert cpu() - start < 2.0


@pytest.mark.parametrize("make_loop", [VirtualTimeLoop, asyncio.new_event_loop])
def test_a_hang_raised_inside_a_callback_stops_the_run(make_loop: Any) -> None:
    """The hang guard's alarm can fire inside any callback. Both loops report what a
    callback raises and go on, a BaseException too, but for KeyboardInterrupt and
    SystemExit: ScenarioHang must be one of those, or a slow run is silently cut in the
    middle of a callback and goes on with broken counts."""
    loop = make_loop()
    ran_after: list[bool] = []

    def fire() -> None:
        raise ScenarioHang("no result after 60 s of CPU time")

    async def main() -> None:
        loop.call_soon(fire)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        ran_after.append(True)

    try:
        with pytest.raises(ScenarioHang):
            loop.run_until_complete(main())
    finally:
        loop.close()
    assert not ran_after

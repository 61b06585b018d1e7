"""Run one generated scenario through the real stack, then audit it.

`fedsim.scenario.parse_scenario` -> `fedsim.run.simulate` (no plots, no files) ->
`fedsim.audit.audit`, then the fuzzer's own properties. Any failure (a traceback, a
deadlock, a hang, a violation) becomes one AssertionError whose message holds the
topology as YAML and a folder where it was written, so `fedsim run` reruns it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fedsim.audit import audit
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario
from fuzz.known import is_known
from fuzz.properties import check_properties
from fuzz.topologies import FuzzScenario

OUTCOMES = frozenset({"rounds-completed"})
"""Audit invariants that flag an outcome, not a wrong number: a generated scenario may
rightly complete no round (every device asleep or cut off until the time limit)."""
HANG_S = float(os.environ.get("FEDSIM_FUZZ_HANG_S", "60"))
"""CPU seconds after which one scenario counts as hung (a run costs well under 1 s)."""


class ScenarioHang(KeyboardInterrupt):
    """Raised into a run that outlives HANG_S. A KeyboardInterrupt, as Ctrl-C would be:
    asyncio (and fedsim's loop) report any other exception a callback raises, even a
    BaseException, and go on, so an alarm that fired inside a callback was swallowed,
    left that callback half done and the run went on with its counts broken (found by a
    slow campaign: a 70 s run failed byte invariants it passes when left alone)."""


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Interrupt the main thread after `seconds` of this process's CPU time (the
    harness's clock, never the simulation's). CPU, not wall: a run that never ends keeps
    burning CPU, while one on a stalled or crowded host only waits, and must not be
    called hung for the host's sake. A run that blocks without using CPU is left to
    pytest-timeout's wall alarm (SIGALRM), which this guard (SIGPROF) does not touch."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(_sig: int, _frame: Any) -> None:
        raise ScenarioHang(f"no result after {seconds:g} s of CPU time")

    old = signal.signal(signal.SIGPROF, fire)
    # Then again every CPU second: an alarm landing in a `__del__` or a weakref callback
    # is still swallowed (Python prints it and goes on), the next one is not.
    signal.setitimer(signal.ITIMER_PROF, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


def failure_folder(scenario: FuzzScenario) -> Path:
    """Where a failing scenario is kept: FEDSIM_FUZZ_FAILURES or the temp folder."""
    root = Path(os.environ.get("FEDSIM_FUZZ_FAILURES")
                or Path(tempfile.gettempdir()) / "fedsim-fuzz-failures")  # fmt: skip
    digest = hashlib.sha256(scenario.yaml().encode()).hexdigest()[:12]
    return root / digest


def report(scenario: FuzzScenario, problem: str) -> str:
    """The failure message: what broke, the YAML, and how to rerun it."""
    folder = failure_folder(scenario)
    path = scenario.write(folder)
    files = "".join(f"\n--- {rel}\n{text}" for rel, text in scenario.files.items())
    return (
        f"{problem}\n\nrerun: fedsim run {path} --no-plots\n"
        f"--- topology.yaml\n{scenario.yaml()}{files}"
    )


def simulate_scenario(scenario: FuzzScenario, folder: Path) -> RunResult:
    """Write `scenario` to `folder` (trace files), load it as `fedsim run` would, run it."""
    scenario.write(folder)
    sc = parse_scenario(scenario.topology, source="fuzz.yaml", base_dir=folder)
    return simulate(sc, audit=False)  # audited by the caller, with every violation listed


def run_and_check(scenario: FuzzScenario, folder: Path, *, ignore_known: bool = False) -> RunResult:
    """Run, audit and check one scenario; raise AssertionError with its YAML on failure.
    With `ignore_known`, problems of the bugs in `fuzz.known` do not count."""
    try:
        with hang_guard(HANG_S):
            result = simulate_scenario(scenario, folder)
    except (Exception, ScenarioHang) as exc:
        tb = "".join(traceback.format_exception(exc, limit=-6))
        raise AssertionError(report(scenario, f"the run failed: {exc!r}\n{tb}")) from None
    found = [(v.invariant, v.detail) for v in audit(result) if v.invariant not in OUTCOMES]
    found += check_properties(result)
    if ignore_known:
        found = [
            (name, detail) for name, detail in found if not is_known(name, detail, result.scenario)
        ]
    problems = [f"{name}: {detail}" for name, detail in found]
    if problems:
        listed = "\n".join(f"- {p}" for p in problems[:20])
        more = f"\n(+{len(problems) - 20} more)" if len(problems) > 20 else ""
        raise AssertionError(report(scenario, f"{len(problems)} problem(s):\n{listed}{more}"))
    return result

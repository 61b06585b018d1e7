"""`fedsim validate` and `fedsim run` agree on a corpus of >= 1000 mutated topologies.

Both commands run in-process through `fedsim.cli.main`. The run side is the real
`fedsim run` entry with `fedsim.run.simulate` replaced by a stub that stops the run
the moment simulation would begin: everything `run` checks before simulating
(prepare_scenario: the typed model with task, strategy and memory checks) has run.
Both must accept, or both reject with the same one-line message; never a traceback.
A sample of accepted mutants then builds the task and round engine as `simulate`
does, so nothing after the pre-run path rejects a file that validate accepted.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from config_corpus import ROOT, corpus

import fedsim.run
from fedsim.cli import main
from fedsim.schema import topology_schema


class StopBeforeSimulating(Exception):  # noqa: N818 - a signal, not an error
    """Raised by the stub `simulate`: `run` got past every pre-run check."""


@dataclass
class Outcome:
    code: int
    stderr: str
    seconds: float
    crash: str | None = None


@dataclass
class Mutant:
    source: str
    label: str
    doc: dict[str, Any]
    path: Path
    validate: Outcome | None = None
    run: Outcome | None = None


def _call(argv: list[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    crash = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except StopBeforeSimulating:
            code = 0
        except BaseException as exc:  # any escape would be a traceback to the user
            code, crash = -1, f"{type(exc).__name__}: {exc}"
    return Outcome(code, err.getvalue(), time.perf_counter() - t0, crash)


def _stop(*_args: Any, **_kwargs: Any) -> Any:
    raise StopBeforeSimulating


@pytest.fixture(scope="module")
def mutants(tmp_path_factory: pytest.TempPathFactory) -> list[Mutant]:
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copytree(ROOT / "topologies" / "traces", folder / "traces")  # relative trace files
    out = []
    for n, (source, label, doc) in enumerate(corpus()):
        path = folder / f"m{n:04d}-{source}"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        out.append(Mutant(source, label, doc, path))
    results = folder / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fedsim.run, "simulate", _stop)
        for m in out:
            m.validate = _call(["validate", str(m.path)])
            m.run = _call(["run", str(m.path), "--quiet", "--no-plots", "--out", str(results)])
    return out


def _error_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def test_the_corpus_is_large_and_mixed(mutants: list[Mutant]) -> None:
    assert len(mutants) >= 1000
    rejected = sum(1 for m in mutants if m.validate and m.validate.code == 2)
    accepted = sum(1 for m in mutants if m.validate and m.validate.code == 0)
    print(f"\ncorpus: {len(mutants)} mutants, {rejected} rejected, {accepted} accepted")
    assert rejected >= len(mutants) // 2
    assert accepted >= 50


def test_validate_and_run_agree_on_every_mutant(mutants: list[Mutant]) -> None:
    problems = []
    for m in mutants:
        v, r = m.validate, m.run
        assert v is not None
        assert r is not None
        where = f"{m.source} [{m.label}]"
        if v.crash or r.crash:
            problems.append(f"{where}: traceback: {v.crash or r.crash}")
        elif v.code != r.code:
            problems.append(
                f"{where}: validate exit {v.code}, run exit {r.code}: {v.stderr}{r.stderr}"
            )
        elif _error_lines(v.stderr) != _error_lines(r.stderr):
            problems.append(f"{where}: validate says {v.stderr!r}, run says {r.stderr!r}")
        elif v.code == 2 and len(_error_lines(v.stderr)) != 1 + v.stderr.count("warning"):
            problems.append(f"{where}: not one error line: {v.stderr!r}")
    worst = max(mutants, key=lambda m: max(m.validate.seconds, m.run.seconds))  # type: ignore[union-attr]
    print(
        f"\nslowest of {len(mutants)} mutants: validate {worst.validate.seconds * 1000:.0f} ms, "  # type: ignore[union-attr]
        f"run pre-check {worst.run.seconds * 1000:.0f} ms ({worst.source} [{worst.label}])"  # type: ignore[union-attr]
    )
    assert not problems, "\n".join(problems[:20])


def test_what_the_schema_rejects_validate_rejects(mutants: list[Mutant]) -> None:
    schema = topology_schema()
    validator = jsonschema.Draft202012Validator(schema)
    missed = []
    for m in mutants:
        if m.validate is not None and m.validate.code == 0:
            errors = list(validator.iter_errors(m.doc))
            if errors:
                missed.append(f"{m.source} [{m.label}]: {errors[0].message[:120]}")
    assert not missed, "\n".join(missed[:20])


@pytest.mark.slow
def test_each_check_takes_under_a_second(mutants: list[Mutant]) -> None:
    slow = [
        f"{m.source} [{m.label}]"
        for m in mutants
        if max(m.validate.seconds, m.run.seconds) >= 1.0  # type: ignore[union-attr]
    ]
    assert not slow, slow[:10]


def test_accepted_mutants_build_as_simulate_does(mutants: list[Mutant]) -> None:
    """What `simulate` constructs before the first event (task, network, engine; memory
    is checked by the config model) accepts what the pre-run path accepted: four small
    accepted mutants per file."""
    from fedsim.clock import VirtualTimeLoop
    from fedsim.net.network import Network
    from fedsim.rng import Streams
    from fedsim.run import build_engine
    from fedsim.scenario import load_scenario
    from fedsim.tasks.registry import build_task

    picked: dict[str, int] = {}
    for m in mutants:
        if m.validate is None or m.validate.code != 0 or picked.get(m.source, 0) >= 4:
            continue
        sc = load_scenario(m.path)
        if len(sc.device_nodes) > 200:
            continue
        picked[m.source] = picked.get(m.source, 0) + 1
        streams = Streams(sc.seed)
        task = build_task(sc.task, len(sc.device_nodes), streams)
        loop = VirtualTimeLoop()
        try:
            Network(loop.env, sc, streams)
        finally:
            loop.close()
        build_engine(sc, task, streams)
    assert len(picked) >= 10

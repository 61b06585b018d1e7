"""model.npy: the model a run ended with, and the audit that scores it again.

The final metric is a copy of rounds.csv's last row; `final-model-scores` ties it to
the model on disk, scored again by the task's evaluator (fedsim.audit.final_model)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.fl.gate import score
from fedsim.record.deployed_model import DeployedModel, read_model
from fedsim.record.runs import load_run
from fedsim.rng import Streams
from fedsim.run import RunResult, run_scenario, simulate
from fedsim.scenario import parse_scenario
from fedsim.tasks.registry import build_task

NAME = "final-model-scores"


@pytest.fixture(scope="module")
def gated() -> RunResult:
    """A run whose gate refuses some candidates (a deployed model older than the last
    candidate), so the final metric is not simply the last aggregation's."""
    topo = tiny_topology(fl__rounds=6, fl__gate_tolerance=0.0, fl__local__lr=3.0)
    return simulate(parse_scenario(topo))


def test_the_folder_holds_the_model_its_final_metric_scores(tmp_path: Path) -> None:
    topo = tiny_topology(fl__rounds=4)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(topo))
    out = run_scenario(path, out_root=tmp_path / "out")
    params = read_model(out / "model.npy")
    assert params.dtype == np.float32
    assert params.ndim == 1
    run = load_run(out)
    assert run.audit.passed
    # Scored by a task built afresh from the scenario, not the run's own evaluator.
    sc = parse_scenario(topo)
    task = build_task(sc.task, len(sc.device_nodes), Streams(sc.seed))
    again = score(task.evaluator(), params)
    assert again == pytest.approx(run.summary.final_metric, abs=1e-9)  # (9 digits on disk)


def test_the_gated_run_reports_its_deployed_model(gated: RunResult) -> None:
    rows = gated.rounds
    assert not rows[-1].accepted, "the gate took the last candidate: no test"
    assert gated.model is not None
    assert score(gated.model.evaluator, gated.model.params) == gated.summary.final_metric
    assert not [v for v in audit(gated) if v.invariant == NAME]


def test_a_final_metric_that_is_not_the_models_score_is_caught(gated: RunResult) -> None:
    refused = next(r.candidate_metric for r in gated.rounds if not r.accepted)
    bad = dataclasses.replace(
        gated, summary=dataclasses.replace(gated.summary, final_metric=refused)
    )
    found = [v for v in audit(bad) if v.invariant == NAME]
    assert len(found) == 1
    assert "not the final model's" in found[0].detail


def test_another_model_or_none_is_caught(gated: RunResult) -> None:
    assert gated.model is not None
    zeros = np.zeros_like(gated.model.params)
    other = dataclasses.replace(gated, model=DeployedModel(zeros, gated.model.evaluator))
    assert NAME in {v.invariant for v in audit(other)}
    wide = DeployedModel(gated.model.params.astype(np.float64), gated.model.evaluator)
    assert NAME in {v.invariant for v in audit(dataclasses.replace(gated, model=wide))}
    missing = dataclasses.replace(gated, model=None)
    found = [v for v in audit(missing) if v.invariant == NAME]
    assert found
    assert "no final model" in found[0].detail


def test_an_edited_model_voids_the_audit(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(tiny_topology(fl__rounds=2)))
    out = run_scenario(path, out_root=tmp_path / "out")
    params = read_model(out / "model.npy")
    np.save(out / "model.npy", params + np.float32(1.0))
    assert load_run(out).audit.state == "void"

"""`task_options` validates a known kind by its own model rather than the union of every
kind: the same options object as the union's, and the union's error when refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from fedsim.config.tasks import TaskModel
from fedsim.errors import ScenarioError
from fedsim.scenario import TaskSpec, load_scenario
from fedsim.tasks import registry
from fedsim.tasks.registry import task_options

TOPOLOGIES = sorted((Path(__file__).resolve().parents[1] / "topologies").glob("*.yaml"))


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.stem)
def test_a_shipped_topologys_task_equals_the_unions(path: Path) -> None:
    spec = load_scenario(path).task
    got = task_options(spec)
    want = TypeAdapter(TaskModel).validate_python({"kind": spec.kind, **dict(spec.options)})
    assert type(got) is type(want)
    assert got == want
    assert got.model_fields_set == want.model_fields_set
    assert repr(got) == repr(want)


@pytest.mark.parametrize(
    "spec",
    [
        TaskSpec("digits", {"alpha": -1}),
        TaskSpec("digits", {"no_such_option": 1}),
        TaskSpec("synthetic", {"features": "many"}),
        TaskSpec("no_such_kind", {}),
    ],
)
def test_refused_options_get_the_unions_error(spec: TaskSpec) -> None:
    data = {"kind": spec.kind, **dict(spec.options)}
    with pytest.raises(ScenarioError) as got:
        task_options(spec)
    with pytest.raises(Exception) as want:  # noqa: PT011 - the union's ValidationError
        registry._task_adapter().validate_python(data)
    path, message = registry.first_error(want.value, data)
    assert str(got.value) == str(ScenarioError(f"task.{path}", message))

"""Build the task a topology file names, through its plug-in (fedsim/tasks/plugin.py).
Its options are checked by the kind's declaration in fedsim.config.tasks (the same
one `fedsim validate` uses)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from fedsim.config.errors import first_error
from fedsim.config.tasks import TASK_KINDS, TASK_VARIANTS, TaskModel, TaskOptions
from fedsim.errors import ScenarioError
from fedsim.rng import Streams
from fedsim.scenario import TaskSpec
from fedsim.tasks.base import Task
from fedsim.tasks.discovery import task_plugins
from fedsim.tasks.plugin import TaskContext

__all__ = ["TASK_KINDS", "build_task", "task_options"]


@cache
def _task_adapter() -> TypeAdapter[Any]:
    """The union of every kind's declaration: its errors name the option at fault as
    `fedsim validate` reports them. Built when first needed (~10-15 ms of schema)."""
    return TypeAdapter(TaskModel)


def task_options(spec: TaskSpec) -> Any:
    """`spec` checked against its kind's declaration (errors at `task.<option>`).

    A known kind is validated by its own model, which the union picks by `kind` (the
    same model, the same result): ~2 ms after the topology's validation, where building
    the union's schema is ~10-15 ms. Options it refuses, or an unknown kind, go through
    the union for its error."""
    data = {"kind": spec.kind, **dict(spec.options)}
    variant = TASK_VARIANTS.get(spec.kind)
    if variant is not None:
        try:
            return variant.model_validate(data)
        except ValidationError:
            pass
    try:
        return _task_adapter().validate_python(data)
    except ValidationError as exc:
        path, message = first_error(exc, data)
        raise ScenarioError(f"task.{path}", message) from None


def build_task(spec: TaskSpec, num_clients: int, streams: Streams) -> Task:
    options: TaskOptions = task_options(spec)
    problem = options.check_devices(num_clients)
    if problem is not None:
        raise ScenarioError("nodes", problem)
    plugin = task_plugins()[options.kind]
    return plugin.build(options, TaskContext(num_clients, streams, dict(spec.options)))

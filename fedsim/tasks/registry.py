"""Build the task a topology file names, through its plug-in (fedsim/tasks/plugin.py).
Its options are checked by the kind's declaration in fedsim.config.tasks (the same
one `fedsim validate` uses)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from fedsim.config.errors import first_error
from fedsim.config.tasks import TASK_KINDS, TaskModel, TaskOptions
from fedsim.errors import ScenarioError
from fedsim.rng import Streams
from fedsim.scenario import TaskSpec
from fedsim.tasks.base import Task
from fedsim.tasks.discovery import task_plugins
from fedsim.tasks.plugin import TaskContext

__all__ = ["TASK_KINDS", "build_task", "task_options"]

_TASK = TypeAdapter(TaskModel)


def task_options(spec: TaskSpec) -> Any:
    """`spec` checked against its kind's declaration (errors at `task.<option>`)."""
    data = {"kind": spec.kind, **dict(spec.options)}
    try:
        return _TASK.validate_python(data)
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

"""The task plug-in API: what a package declares to add `task.kind: <its kind>`.

A plug-in is one `TaskPlugin` object, named by an entry point in the group
`fedsim.tasks` of the package's metadata (pyproject.toml):

    [project.entry-points."fedsim.tasks"]
    mytask = "mypackage.plugin:PLUGIN"

`options` is a pydantic model derived from `fedsim.config.task_options.TaskOptions`
with `kind: Literal["mytask"]`: the one config model validates a topology's `task:`
against it (a bad option is an error at `task.<key>`), and asks it for the device
count it can serve, the memory one device needs (the memory check) and the host
memory its data take. `build` turns checked options into a `Task` (fedsim/tasks/base.py):
per-device `LocalLearner`s whose `work()` is the FLOPs charged as device time, and
the server's `Evaluator`. Built-in kinds are `TaskPlugin`s too (fedsim/tasks/builtin.py).
docs/tasks.md walks through a complete example (examples/fedsim-task-example).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fedsim.config.task_options import TaskOptions
from fedsim.rng import Streams
from fedsim.tasks.base import Task

__all__ = ["ENTRY_POINT_GROUP", "TaskContext", "TaskPlugin"]

ENTRY_POINT_GROUP = "fedsim.tasks"


@dataclass(frozen=True)
class TaskContext:
    """What a builder gets besides its options."""

    num_devices: int
    """Devices in the topology; learner(i) is asked for i in range(num_devices)."""
    streams: Streams
    """Seeded random streams: draw only from `streams.get("task", ...)` so the same
    file and seed give the same task."""
    raw_options: Mapping[str, Any] = field(default_factory=dict)
    """The options as the file writes them (before parsing), for builders that take them."""


@dataclass(frozen=True)
class TaskPlugin:
    """A task kind: its typed options and how to build the task from them."""

    kind: str
    options: type[TaskOptions]
    build: Callable[[Any, TaskContext], Task]
    """(checked options, context) -> Task; raise `ScenarioError("task.<key>", ...)` for
    a problem the options alone could not show."""
    summary: str = ""

"""Build the task a topology file names. Its options are checked by the task's own
declaration in fedsim.config.tasks (the same one `fedsim validate` uses)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from fedsim.config.errors import first_error
from fedsim.config.tasks import TASK_KINDS, TaskModel, TaskOptions
from fedsim.errors import ScenarioError
from fedsim.rng import Streams
from fedsim.scenario import TaskSpec
from fedsim.tasks.base import Task

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


def _digits(options: Any, num_clients: int, streams: Streams) -> Task:
    from fedsim.tasks.digits import ClassifierTask, load_digits_split

    problem = options.check_devices(num_clients)
    if problem is not None:
        raise ScenarioError("nodes", problem)
    X, y, Xt, yt = load_digits_split(options.test_fraction, streams.get("task", "split"))
    parts = ClassifierTask.partition(
        y,
        num_clients,
        streams.get("task", "partition"),
        {"partition": options.partition, "alpha": options.alpha,
         "shards_per_client": options.shards_per_client},
    )  # fmt: skip
    return ClassifierTask(
        "digits", X, y, Xt, yt, parts, options.layers(), streams.get("task", "init"), options.init
    )


def build_task(spec: TaskSpec, num_clients: int, streams: Streams) -> Task:
    options: TaskOptions = task_options(spec)
    if options.kind == "digits":
        return _digits(options, num_clients, streams)
    if options.kind == "synthetic":
        from fedsim.tasks.synthetic import build_synthetic_task

        return build_synthetic_task(dict(spec.options), num_clients, streams)
    from fedsim.tasks.rl import build_rl_task

    try:
        return build_rl_task(
            options.kind, dict(spec.options), num_clients, streams.int_seed("task", options.kind)
        )
    except ValueError as exc:  # the declaration passed it, the constructor did not
        option = getattr(exc, "option", None)
        raise ScenarioError(
            f"task.{option}" if option else "task", " ".join(str(exc).split())
        ) from None

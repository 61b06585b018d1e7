"""Build the task a topology file names, validating its options (`task.*` key paths)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedsim.errors import ScenarioError
from fedsim.rng import Streams
from fedsim.scenario import TaskSpec
from fedsim.tasks.base import Task

__all__ = ["TASK_KINDS", "build_task"]

TASK_KINDS = ("digits", "synthetic", "cartpole", "energy_harvesting", "multichannel")


def _check_keys(options: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in options:
        if key not in allowed:
            raise ScenarioError(
                f"task.{key}", f"unknown key (allowed here: kind, {', '.join(allowed)})"
            )


def _digits(options: Mapping[str, Any], num_clients: int, streams: Streams) -> Task:
    from fedsim.tasks.digits import ClassifierTask, load_digits_split

    _check_keys(options, ("partition", "alpha", "shards_per_client", "model", "hidden",
                          "test_fraction"))  # fmt: skip
    part = options.get("partition", "iid")
    if part not in ("iid", "dirichlet", "shards"):
        raise ScenarioError("task.partition", f"{part!r} is not one of iid, dirichlet, shards")
    alpha = options.get("alpha", 0.5)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or alpha <= 0:
        raise ScenarioError("task.alpha", f"must be a positive number, got {alpha!r}")
    model = options.get("model", "softmax")
    hidden = options.get("hidden", [32] if model == "mlp" else [])
    if model not in ("softmax", "mlp"):
        raise ScenarioError("task.model", f"{model!r} is not one of softmax, mlp")
    if not isinstance(hidden, list) or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ScenarioError("task.hidden", "must be a list of positive layer widths, e.g. [32]")
    if model == "softmax" and hidden:
        raise ScenarioError(
            "task.hidden", "softmax regression has no hidden layers (use model: mlp)"
        )
    frac = options.get("test_fraction", 0.2)
    if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 < frac < 1:
        raise ScenarioError("task.test_fraction", f"must lie in (0, 1), got {frac!r}")
    X, y, Xt, yt = load_digits_split(float(frac), streams.get("task", "split"))
    if num_clients > y.size:
        raise ScenarioError(
            "nodes", f"{num_clients} devices but digits has {y.size} training samples"
        )
    parts = ClassifierTask.partition(y, num_clients, streams.get("task", "partition"), options)
    return ClassifierTask("digits", X, y, Xt, yt, parts, tuple(hidden), streams.get("task", "init"))


def build_task(spec: TaskSpec, num_clients: int, streams: Streams) -> Task:
    if spec.kind == "digits":
        return _digits(spec.options, num_clients, streams)
    if spec.kind == "synthetic":
        from fedsim.tasks.synthetic import build_synthetic_task

        return build_synthetic_task(spec.options, num_clients, streams)
    if spec.kind in ("cartpole", "energy_harvesting", "multichannel"):
        try:
            from fedsim.tasks.rl import build_rl_task
        except ImportError:  # pragma: no cover - while the RL tasks are not present
            raise ScenarioError("task.kind", f"{spec.kind!r} is not available") from None
        try:
            return build_rl_task(spec.kind, dict(spec.options), num_clients,
                                 streams.int_seed("task", spec.kind))  # fmt: skip
        except ValueError as exc:
            # build_rl_task's OptionError names the offending option when it can.
            option = getattr(exc, "option", None)
            path = f"task.{option}" if option else "task"
            raise ScenarioError(path, " ".join(str(exc).split())) from None
    raise ScenarioError("task.kind", f"unknown task {spec.kind!r} (known: {', '.join(TASK_KINDS)})")

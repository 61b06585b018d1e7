"""fedsim's own task kinds, declared through the same `TaskPlugin` API as a user's.

They are listed here rather than as entry points so that a source checkout works
without installed package metadata; builders import their (Numba) modules lazily,
so reading the config model compiles nothing.
"""

from __future__ import annotations

from typing import Any

from fedsim.config.classifier_tasks import DigitsOptions, SyntheticOptions
from fedsim.config.rl_tasks import CartPoleOptions, EnergyHarvestingOptions, MultichannelOptions
from fedsim.config.sensor_tasks import ActivityOptions, LoadForecastOptions
from fedsim.errors import ScenarioError
from fedsim.tasks.base import Task
from fedsim.tasks.plugin import TaskContext, TaskPlugin

__all__ = ["BUILTIN_TASKS"]


def _digits(options: DigitsOptions, ctx: TaskContext) -> Task:
    from fedsim.tasks.digits import ClassifierTask, load_digits_split

    streams = ctx.streams
    X, y, Xt, yt = load_digits_split(options.test_fraction, streams.get("task", "split"))
    parts = ClassifierTask.partition(
        y,
        ctx.num_devices,
        streams.get("task", "partition"),
        {"partition": options.partition, "alpha": options.alpha,
         "shards_per_client": options.shards_per_client},
    )  # fmt: skip
    return ClassifierTask(
        "digits", X, y, Xt, yt, parts, options.layers(), streams.get("task", "init"), options.init
    )


def _synthetic(options: SyntheticOptions, ctx: TaskContext) -> Task:
    from fedsim.tasks.synthetic import build_synthetic_task

    return build_synthetic_task(dict(ctx.raw_options), ctx.num_devices, ctx.streams)


def _rl(options: Any, ctx: TaskContext) -> Task:
    from fedsim.tasks.rl import build_rl_task

    kind = options.kind
    try:
        return build_rl_task(
            kind, dict(ctx.raw_options), ctx.num_devices, ctx.streams.int_seed("task", kind)
        )
    except ValueError as exc:  # the declaration passed it, the constructor did not
        option = getattr(exc, "option", None)
        raise ScenarioError(
            f"task.{option}" if option else "task", " ".join(str(exc).split())
        ) from None


def _activity(options: ActivityOptions, ctx: TaskContext) -> Task:
    from fedsim.tasks.sensor import build_activity_task

    return build_activity_task(options, ctx)


def _load_forecast(options: LoadForecastOptions, ctx: TaskContext) -> Task:
    from fedsim.tasks.sensor import build_load_forecast_task

    return build_load_forecast_task(options, ctx)


BUILTIN_TASKS: tuple[TaskPlugin, ...] = (
    TaskPlugin("digits", DigitsOptions, _digits, "scikit-learn's 8x8 digits"),
    TaskPlugin("synthetic", SyntheticOptions, _synthetic, "LEAF-style Synthetic(alpha, beta)"),
    TaskPlugin("cartpole", CartPoleOptions, _rl, "federated REINFORCE on CartPole"),
    TaskPlugin("energy_harvesting", EnergyHarvestingOptions, _rl, "tabular Q, energy sensor"),
    TaskPlugin("multichannel", MultichannelOptions, _rl, "tabular Q, channel access"),
    TaskPlugin("activity", ActivityOptions, _activity, "smartwatch activity (BasicMotions)"),
    TaskPlugin(
        "load_forecast", LoadForecastOptions, _load_forecast, "grid load (ItalyPowerDemand)"
    ),
)

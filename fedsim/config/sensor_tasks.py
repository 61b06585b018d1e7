"""Options of the real sensor tasks (`activity`, `load_forecast`, docs/tasks.md): the
data sets sktime bundles in its wheel, and the 1-D CNN that learns them. The CNN's
size sets the memory check and the device time (fedsim/tasks/cnn_shape.py)."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from fedsim.config.base import at_key
from fedsim.config.task_options import SUPERVISED_LOCAL_KEYS, TaskOptions
from fedsim.config.units import choice, integer, number
from fedsim.tasks.cnn_shape import CnnShape

__all__ = [
    "ACTIVITY_CHANNELS",
    "ACTIVITY_RECORDINGS",
    "LOAD_DAYS",
    "ActivityOptions",
    "LoadForecastOptions",
]

ACTIVITY_RECORDINGS = 40
"""BasicMotions training recordings (4 students x 4 activities, 40 in TRAIN, 40 in TEST)."""
ACTIVITY_CHANNELS = 6
ACTIVITY_LENGTH = 100
ACTIVITY_CLASSES = 4
LOAD_DAYS = 1096
"""ItalyPowerDemand days (67 TRAIN + 1029 TEST, pooled and re-split here)."""
LOAD_HOURS = 24


class SensorOptions(TaskOptions):
    """The CNN and the split shared by the sensor tasks."""

    local_keys: ClassVar[frozenset[str] | None] = SUPERVISED_LOCAL_KEYS
    client_terms: ClassVar[frozenset[str]] = frozenset({"mu"})

    partition: choice(("iid", "dirichlet")) = Field(
        "dirichlet", description="how recordings are split: at random, or Dirichlet over labels"
    )  # type: ignore[valid-type]
    alpha: number(0.0, lo_open=True) = Field(0.5, description="dirichlet: concentration (> 0)")  # type: ignore[valid-type]
    filters: integer(1, 256) = Field(8, description="CNN: convolution filters")  # type: ignore[valid-type]
    kernel: integer(1) = Field(5, description="CNN: convolution width (samples)")  # type: ignore[valid-type]
    pool: integer(1) = Field(2, description="CNN: max-pool width")  # type: ignore[valid-type]

    def shape(self) -> CnnShape:
        raise NotImplementedError

    @model_validator(mode="after")
    def _geometry(self) -> SensorOptions:
        problem = self.shape().problem()
        if problem is not None:
            raise at_key("kernel" if "kernel" in problem.split()[0] else "pool", problem)
        return self

    def memory_bytes(self, batch_size: int) -> int:
        return self.shape().memory_bytes(batch_size)

    def model_params(self) -> int:
        return self.shape().param_count()

    def train_flops_per_sample(self) -> float:
        return self.shape().train_flops_per_sample()


class ActivityOptions(SensorOptions):
    """Smartwatch accelerometer + gyroscope activity recognition (BasicMotions)."""

    kind: Literal["activity"]
    window: integer(8, ACTIVITY_LENGTH) = Field(
        50, description="samples per window cut from each 10 s recording (10 Hz)"
    )  # type: ignore[valid-type]
    stride: integer(1) = Field(25, description="samples between window starts")  # type: ignore[valid-type]

    def shape(self) -> CnnShape:
        return CnnShape(
            ACTIVITY_CHANNELS, self.window, self.filters, self.kernel, self.pool, ACTIVITY_CLASSES
        )

    def check_devices(self, num_devices: int) -> str | None:
        if num_devices > ACTIVITY_RECORDINGS:
            return (
                f"{num_devices} devices but activity has {ACTIVITY_RECORDINGS} training "
                "recordings (one each at least)"
            )
        return None


class LoadForecastOptions(SensorOptions):
    """Next hours of a day's electricity demand from its first hours (ItalyPowerDemand)."""

    kind: Literal["load_forecast"]
    metric: ClassVar[tuple[str, float, float]] = ("rmse", 0.0, math.inf)
    higher_is_better: ClassVar[bool] = False
    horizon: integer(1, LOAD_HOURS - 4) = Field(
        6, description="hours forecast (the day's last ones); the rest are the input"
    )  # type: ignore[valid-type]
    kernel: integer(1) = Field(3, description="CNN: convolution width (hours)")  # type: ignore[valid-type]
    test_fraction: number(0.0, 1.0, lo_open=True, hi_open=True) = Field(
        0.2, description="days held out for the server's test set"
    )  # type: ignore[valid-type]

    def shape(self) -> CnnShape:
        history = LOAD_HOURS - self.horizon
        return CnnShape(1, history, self.filters, self.kernel, self.pool, self.horizon)

    def train_days(self) -> int:
        return LOAD_DAYS - round(self.test_fraction * LOAD_DAYS)

    def check_devices(self, num_devices: int) -> str | None:
        have = self.train_days()
        if num_devices > have:
            return f"{num_devices} devices but load_forecast has {have} training days"
        return None

"""What is learned (`task:`): one variant per task kind, each declaring its options.

The task builders (fedsim/tasks/*) receive options already checked against these
declarations; what a task needs from the rest of the file (enough samples for every
device, a model that fits a device's memory) are methods the root model calls.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fedsim.config.classifier_tasks import (
    DIGITS_CLASS_COUNTS,
    DigitsOptions,
    SyntheticOptions,
    classifier_memory_bytes,
)
from fedsim.config.rl_tasks import CartPoleOptions, EnergyHarvestingOptions, MultichannelOptions
from fedsim.config.task_options import TaskOptions
from fedsim.config.variants import tagged

__all__ = [
    "DIGITS_CLASS_COUNTS",
    "TASK_KINDS",
    "TASK_VARIANTS",
    "TaskModel",
    "TaskOptions",
    "classifier_memory_bytes",
]

TASK_VARIANTS: dict[str, type[TaskOptions]] = {
    "digits": DigitsOptions,
    "synthetic": SyntheticOptions,
    "cartpole": CartPoleOptions,
    "energy_harvesting": EnergyHarvestingOptions,
    "multichannel": MultichannelOptions,
}
TASK_KINDS = tuple(TASK_VARIANTS)
TaskModel = Annotated[tagged(TASK_VARIANTS), Field(description="what is learned")]

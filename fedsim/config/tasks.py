"""What is learned (`task:`): one variant per task kind, each declaring its options.

The kinds are the task plug-ins (fedsim/tasks/plugin.py): fedsim's own
(fedsim/tasks/builtin.py) and those installed packages name in the `fedsim.tasks`
entry point group. Builders receive options already checked against these
declarations; what a task needs from the rest of the file (enough samples for every
device, a model that fits a device's memory) are methods the root model calls.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fedsim.config.classifier_tasks import DIGITS_CLASS_COUNTS, classifier_memory_bytes
from fedsim.config.task_options import TaskOptions
from fedsim.config.variants import tagged
from fedsim.tasks.discovery import task_plugins

__all__ = [
    "DIGITS_CLASS_COUNTS",
    "TASK_KINDS",
    "TASK_VARIANTS",
    "TaskModel",
    "TaskOptions",
    "classifier_memory_bytes",
]

TASK_VARIANTS: dict[str, type[TaskOptions]] = {k: p.options for k, p in task_plugins().items()}
TASK_KINDS = tuple(TASK_VARIANTS)
TaskModel = Annotated[tagged(TASK_VARIANTS), Field(description="what is learned")]

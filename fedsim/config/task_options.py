"""The base of every task's declared options: what the root model asks of a task."""

from __future__ import annotations

from typing import Any, ClassVar

from fedsim.config.base import Section

__all__ = ["SUPERVISED_LOCAL_KEYS", "TaskOptions"]

SUPERVISED_LOCAL_KEYS = frozenset({"epochs", "batch_size", "lr", "federated_eval"})
"""What the built-in supervised learners read (SGD, federated evaluation on-device)."""


class TaskOptions(Section):
    """A task's options; `metric` is the score it reports and where it can lie."""

    unknown_key_message: ClassVar[str] = "unknown option (allowed: {allowed})"
    metric: ClassVar[tuple[str, float, float]] = ("accuracy", 0.0, 1.0)
    higher_is_better: ClassVar[bool] = True
    """The metric's direction (its evaluator's): which end of `metric`'s range a target
    beyond it can never reach, and which end any model meets."""
    local_keys: ClassVar[frozenset[str] | None] = None
    """The `fl.local` keys this task's learners read from the round's config, plus
    `federated_eval` if its learners can score a model on-device (`evaluate`). A key
    the file sets outside it is a warning (federated_eval: an error), so a sweep of it
    cannot measure nothing unnoticed; None (a plug-in that does not declare it): not
    checked. tests/test_task_reads.py checks each built-in's against its learners."""
    client_terms: ClassVar[frozenset[str]] = frozenset()
    """Client-side strategy terms its learners implement (`mu`: FedProx's proximal term
    in every local step). A strategy whose term is missing here is refused for this
    task (fedsim/config/task_reads.py) rather than run as another under its name."""

    def unread_options(self) -> list[str]:
        """Warnings for options the file sets that the other options make unread
        (`task.<key>: ...`, one line each)."""
        return []

    def options(self) -> dict[str, Any]:
        """The options the file sets (the builder's defaults apply to the rest)."""
        return {
            k: v
            for k, v in self.model_dump(by_alias=True).items()
            if k in self.model_fields_set and k != "kind"
        }

    def check_devices(self, num_devices: int) -> str | None:
        """Why this task cannot give `num_devices` devices data (None: it can)."""
        return None

    def memory_bytes(self, batch_size: int) -> int | None:
        """Memory a device needs to train (None: not estimated). The topology's memory
        check compares it with every device profile's RAM."""
        return None

    def model_params(self) -> int | None:
        """Parameters of the model (None: not declared); its bytes on the wire follow."""
        return None

    def train_flops_per_sample(self) -> float | None:
        """FLOPs of one training sample (None: not declared). Device time is what the
        learners' `work()` returns; tasks that declare this usually compute it from it."""
        return None

    def data_bytes_per_device(self) -> float:
        """About how much memory the task's data take per device (for the host limit)."""
        return 0.0

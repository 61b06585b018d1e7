"""Flower's client for `make bench-flower`, in a module of its own so that Ray's
workers import it by name (functions of a `__main__` script do not reach them)."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from flower_job import BATCH_SIZE, LR, SEED, job_task

__all__ = ["client_fn_for", "job_task_once"]


@cache
def job_task_once(devices: int) -> Any:
    """Built once per process (driver and each Ray actor), like a Flower app loading data."""
    return job_task(devices)


def client_fn_for(devices: int):  # type: ignore[no-untyped-def]
    """A Flower client_fn: device i trains on fedsim's shard i with the NumPy SGD reference."""
    import flwr as fl

    from fedsim.kernels.reference import sgd_train_numpy

    class DigitsClient(fl.client.NumPyClient):
        def __init__(self, index: int) -> None:
            self.index = index
            self.learner = job_task_once(devices).learner(index)

        def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
            ln = self.learner
            anchor = parameters[0].astype(np.float32)
            new = anchor.copy()
            rng = np.random.default_rng([SEED, self.index, int(config["round"])])
            order = rng.permutation(ln.num_examples).astype(np.int64)
            sgd_train_numpy(new, ln.sizes, ln.X, ln.y, order, BATCH_SIZE, LR, 0.0, anchor)
            return [new], ln.num_examples, {}

    def client_fn(context: Any) -> Any:
        return DigitsClient(int(context.node_config["partition-id"])).to_client()

    return client_fn

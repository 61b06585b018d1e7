"""`task.init`: the classifier tasks start from Glorot weights (default) or all zeros
(Flower's reference start, so `make bench-flower` compares final accuracies fairly)."""

from __future__ import annotations

import numpy as np
import pytest

from fedsim.errors import ScenarioError
from fedsim.rng import Streams
from fedsim.scenario import TaskSpec
from fedsim.tasks.registry import build_task


@pytest.mark.parametrize("kind", ["digits", "synthetic"])
def test_zeros_gives_an_all_zero_initial_model(kind: str) -> None:
    task = build_task(TaskSpec(kind, {"init": "zeros", "model": "mlp"}), 4, Streams(0))
    params = task.initial_params()
    assert params.size > 0
    assert params.dtype == np.float32
    assert not params.any()


@pytest.mark.parametrize("kind", ["digits", "synthetic"])
def test_default_is_glorot_and_equals_init_glorot(kind: str) -> None:
    default = build_task(TaskSpec(kind, {}), 4, Streams(0)).initial_params()
    glorot = build_task(TaskSpec(kind, {"init": "glorot"}), 4, Streams(0)).initial_params()
    np.testing.assert_array_equal(default, glorot)
    assert np.count_nonzero(default) > default.size // 2  # weights drawn, biases zero


def test_unknown_init_is_an_error_at_its_key() -> None:
    with pytest.raises(ScenarioError) as err:
        build_task(TaskSpec("digits", {"init": "ones"}), 4, Streams(0))
    assert err.value.path == "task.init"
    assert "glorot" in str(err.value)

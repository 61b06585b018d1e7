"""The real sensor tasks: data read from sktime's wheel, split by recording/day, the
CNN's size checked against device memory, same seed same task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fedsim.config.sensor_tasks import ACTIVITY_RECORDINGS, LOAD_DAYS
from fedsim.errors import ScenarioError
from fedsim.rng import Streams
from fedsim.scenario import TaskSpec, load_scenario
from fedsim.tasks.registry import build_task
from fedsim.tasks.sensor_data import basic_motions, italy_power_demand

ROOT = Path(__file__).resolve().parents[1]
ACTIVITY = ROOT / "topologies" / "activity_smartwatch.yaml"
LOAD = ROOT / "topologies" / "load_forecast_meters.yaml"


def test_the_bundled_data_are_the_archive_sets() -> None:
    Xtr, ytr, Xte, yte, names = basic_motions()
    assert Xtr.shape == Xte.shape == (ACTIVITY_RECORDINGS, 6, 100)
    assert names == ("Badminton", "Running", "Standing", "Walking")
    assert np.bincount(ytr).tolist() == np.bincount(yte).tolist() == [10, 10, 10, 10]
    days, season = italy_power_demand()
    assert days.shape == (LOAD_DAYS, 24)
    assert np.allclose(days.mean(axis=1), 0.0, atol=1e-6)  # the archive z-normalises days
    assert set(np.unique(season)) == {0, 1}


def test_activity_devices_own_whole_recordings() -> None:
    task = build_task(TaskSpec("activity", {"window": 50, "stride": 25}), 8, Streams(0))
    learners = [task.learner(i) for i in range(8)]
    counts = [lr.num_examples for lr in learners]
    assert sum(counts) == ACTIVITY_RECORDINGS * 3  # 3 windows per 100-sample recording
    assert all(c % 3 == 0 and c > 0 for c in counts)
    assert task.evaluator().data.X.shape == (ACTIVITY_RECORDINGS * 3, 6 * 50)
    # Dirichlet(0.5) over activities: devices see few of the four.
    assert min(len(np.unique(lr.data.labels)) for lr in learners) <= 2


def test_load_forecast_holds_out_whole_days() -> None:
    task = build_task(TaskSpec("load_forecast", {"horizon": 6}), 10, Streams(0))
    test = task.evaluator().data
    assert test.X.shape == (round(0.2 * LOAD_DAYS), 18)
    assert test.targets.shape == (round(0.2 * LOAD_DAYS), 6)
    train_rows = np.concatenate([task.learner(i).data.X for i in range(10)])
    assert train_rows.shape[0] + test.X.shape[0] == LOAD_DAYS
    seen = {row.tobytes() for row in train_rows}
    assert not any(row.tobytes() in seen for row in test.X)
    assert task.evaluator().metric_name == "rmse"
    assert task.evaluator().higher_is_better is False


@pytest.mark.parametrize("kind", ["activity", "load_forecast"])
def test_same_seed_same_task_and_training(kind: str) -> None:
    def trained(seed: int) -> np.ndarray:
        task = build_task(TaskSpec(kind, {}), 4, Streams(seed))
        params, _ = task.learner(1).train(
            task.initial_params(), {"epochs": 1, "batch_size": 8}, np.random.default_rng(0)
        )
        return params

    assert trained(3).tobytes() == trained(3).tobytes()
    assert trained(3).tobytes() != trained(4).tobytes()


def test_the_cnn_fits_a_cortex_m4_and_a_big_one_does_not_fit_an_esp32() -> None:
    """The memory check is the CNN's: the shipped model fits; 64 filters over whole
    recordings need ~1 MB for a batch of 16, more than an ESP32's 320 KB."""
    scenario = load_scenario(ACTIVITY)
    assert scenario.task.kind == "activity"
    assert load_scenario(ACTIVITY, ["nodes.2.device=esp32"]).device_nodes  # 57 KB fits
    with pytest.raises(ScenarioError) as err:
        load_scenario(ACTIVITY, ["task.window=100", "task.filters=64", "nodes.2.device=esp32",
                                 "fl.local.batch_size=16"])  # fmt: skip
    assert err.value.path == "nodes[2].device"
    assert "but the esp32 profile has 320000" in err.value.message


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [
        ("task.kernel=60", "task.kernel", "kernel 60 is longer than the window (50 samples)"),
        ("task.window=4", "task.window", "must be in [8, 100], got 4"),
        ("task.partition=shards", "task.partition", "'shards' is not one of iid, dirichlet"),
    ],
)
def test_bad_sensor_options_name_their_key(override: str, path: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(ACTIVITY, [override])
    assert err.value.path == path
    assert message in err.value.message


def test_more_devices_than_recordings_is_named() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(ACTIVITY, ["nodes.2.count=41", "fl.min_available=2"])
    assert err.value.path == "nodes[2].count"
    assert "41 devices but activity has 40 training recordings" in err.value.message


def test_device_time_is_the_cnns_flops() -> None:
    scenario = load_scenario(LOAD)
    task = build_task(scenario.task, 20, Streams(0))
    learner = task.learner(0)
    shape = task.shape
    assert learner.work({"epochs": 2}) == 2 * learner.num_examples * shape.train_flops_per_sample()

"""The multichannel-access RL task from a topology: option errors name their key; QAvg nears
the optimum on every device."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fedsim.errors import ScenarioError
from fedsim.run import run_scenario
from fedsim.tasks.rl import MultichannelTask, OptionError, build_rl_task

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "frl_multichannel_nbiot.yaml"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedsim", *args], capture_output=True, text=True, cwd=ROOT,
        check=False,
    )  # fmt: skip


def test_cli_bad_task_option_exits_2_naming_the_key(tmp_path: Path) -> None:
    for change, path in (("task.colour=1", "task.colour"), ("task.p01=[0.2,1.5]", "task.p01")):
        res = _cli("run", str(TOPOLOGY), "--set", change, "--set", "fl.rounds=1",
                   "--quiet", "--no-plots", "--out", str(tmp_path))  # fmt: skip
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith(f"fedsim: error: {path}: "), lines[0]
        assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("topology", "change", "path", "words"),
    [
        ("frl_multichannel_nbiot.yaml", "task.colour=1", "task.colour", "unknown option"),
        ("frl_multichannel_nbiot.yaml", "task.steps=many", "task.steps", "an integer"),
        ("frl_multichannel_nbiot.yaml", "task.p11=[0.5,1.0]", "task.p11", "< 1"),
        ("frl_multichannel_nbiot.yaml", "task.p01=[0.1,0.2,0.3]", "task.p01", "[lo, hi]"),
        ("frl_multichannel_nbiot.yaml", "task.gamma=1", "task.gamma", "(0, 1)"),
        ("frl_multichannel_nbiot.yaml", "task.max_gap=0", "task.max_gap", ">= 1"),
        ("frl_multichannel_nbiot.yaml", "task.epsilon=2", "task.epsilon", "[0, 1]"),
        ("frl_multichannel_nbiot.yaml", "task.decay_over_rounds=3", "task.decay_over_rounds",
         "true or false"),
        ("frl_energy_lora.yaml", "task.harvest_prob=[0.3,1.5]", "task.harvest_prob", "<= 1"),
        ("frl_energy_lora.yaml", "task.max_ages=3", "task.max_ages", "unknown option"),
        ("frl_cartpole_lte.yaml", "task.optimizer=rmsprop", "task.optimizer", "rmsprop"),
    ],
)  # fmt: skip
def test_rl_option_errors_carry_the_key_path(
    tmp_path: Path, topology: str, change: str, path: str, words: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        run_scenario(ROOT / "topologies" / topology, overrides=[change, "fl.rounds=1"],
                     out_root=tmp_path)  # fmt: skip
    assert info.value.path == path
    assert words in info.value.message
    assert "\n" not in str(info.value)


def test_option_errors_from_build_rl_task() -> None:
    def option(kind: str, **options: object) -> str | None:
        with pytest.raises(OptionError) as info:
            build_rl_task(kind, dict(options), 2, 0)
        return info.value.option

    assert option("multichannel", harvest_prob=0.3) == "harvest_prob"
    assert option("multichannel", channels=2.5) == "channels"
    # Too many states: the option the file sets is named (either may be the culprit).
    assert option("multichannel", channels=5) == "channels"
    assert option("multichannel", max_gap=9) == "max_gap"
    assert option("energy_harvesting", success_prob=[0.5, 1.5]) == "success_prob"
    assert option("energy_harvesting", alpha_decay=-1.0) == "alpha_decay"
    assert option("atari") is None
    assert isinstance(OptionError("x", "m"), ValueError)


def test_multichannel_task_shape() -> None:
    task = build_rl_task("multichannel", {"channels": 3, "max_gap": 2, "p01": 0.2}, 4, 1)
    assert isinstance(task, MultichannelTask)
    assert (task.num_states, task.num_actions) == ((2 * 2) ** 3, 3)
    assert task.p01.shape == task.p11.shape == (4, 3)
    assert np.all(task.p01 == 0.2)
    assert np.all((task.p11 >= 0.6) & (task.p11 <= 0.9))
    assert len(set(task.p11.ravel())) == 12  # drawn per device and channel
    assert task.evaluator().metric_name == "fraction_of_optimal"


def test_qavg_multichannel_nears_the_optimum_on_every_device() -> None:
    """QAvg with the frl_multichannel_nbiot learner settings on a smaller state space
    (216 states): within 5 % of every device's own optimum after 20 rounds."""
    task = MultichannelTask(
        5, seed=0, channels=3, max_gap=3, p01=(0.15, 0.3), p11=(0.7, 0.85),
        steps=10_000, epsilon=0.3, episode_len=10,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    learners = [task.learner(i) for i in range(5)]
    ev = task.evaluator()
    params = task.initial_params()
    start = ev.evaluate(params)
    for _ in range(20):
        params = np.mean([lr.train(params, {}, rng)[0] for lr in learners], axis=0)
        params = params.astype(np.float32)
    end = ev.evaluate(params)
    assert start["fraction_of_optimal"] < 0.8  # always channel 0 is far from optimal
    assert end["fraction_of_optimal"] >= 0.95  # the worst device
    assert end["fraction_of_optimal_mean"] >= end["fraction_of_optimal"]

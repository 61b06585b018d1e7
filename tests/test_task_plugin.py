"""The task plug-in API: a package outside fedsim/ (examples/fedsim-task-example, which
`make setup` installs) adds `task.kind: vibration` through the `fedsim.tasks` entry
point group; the built-in kinds are plug-ins of the same type."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from fedsim.cli import main
from fedsim.config.tasks import TASK_KINDS, TASK_VARIANTS
from fedsim.errors import ScenarioError
from fedsim.run import run_scenario
from fedsim.scenario import load_scenario
from fedsim.tasks import discovery
from fedsim.tasks.builtin import BUILTIN_TASKS
from fedsim.tasks.discovery import PluginError, task_plugins
from fedsim.tasks.plugin import TaskPlugin

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "fedsim-task-example" / "topology.yaml"
SHORT = ["fl.rounds=3", "fl.target=null"]

NOT_A_PLUGIN = object()
MISNAMED = TaskPlugin("other", TASK_VARIANTS["digits"], lambda o, c: None)  # type: ignore[arg-type,return-value]


def test_the_example_package_is_installed_as_a_plugin() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="fedsim.tasks")}
    assert found.get("vibration") == "fedsim_task_example.plugin:PLUGIN", (
        "examples/fedsim-task-example is not installed: run `make setup`"
    )
    assert "vibration" in TASK_KINDS
    assert task_plugins()["vibration"].options is TASK_VARIANTS["vibration"]


def test_builtin_kinds_are_plugins_of_the_same_api() -> None:
    plugins = task_plugins()
    for plugin in BUILTIN_TASKS:
        assert isinstance(plugin, TaskPlugin)
        assert plugins[plugin.kind] is plugin
        assert TASK_VARIANTS[plugin.kind] is plugin.options
    assert {"digits", "activity", "load_forecast"} <= set(TASK_KINDS)


def test_a_topology_runs_the_user_task_end_to_end(tmp_path: Path) -> None:
    out = run_scenario(EXAMPLE, overrides=SHORT, out_root=tmp_path, plots=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metric_name"] == "f1"
    assert summary["rounds"] == 3
    assert summary["bytes_up"] > 0
    assert 0.5 < summary["final_metric"] <= 1.0
    report = (out / "report.html").read_text()
    assert "vibration" in report
    assert (out / "rounds.csv").read_text().count("\n") == 4  # header + 3 rounds
    again = run_scenario(EXAMPLE, overrides=SHORT, out_root=tmp_path, run_name="again")
    assert (again / "rounds.csv").read_bytes() == (out / "rounds.csv").read_bytes()


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [
        ("task.fault_rate=0.7", "task.fault_rate", "less than 0.5"),
        ("task.features=many", "task.features", "integer"),
        ("task.colour=red", "task.colour", "unknown option (allowed: drift, fault_rate"),
    ],
)
def test_a_bad_plugin_option_names_its_key(override: str, path: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(EXAMPLE, [override])
    assert err.value.path == path
    assert message in err.value.message


def test_the_cli_reports_a_bad_plugin_option_in_one_line(capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(EXAMPLE), "--set", "task.fault_rate=0.7"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "fedsim: error: task.fault_rate: Input should be less than 0.5"


def test_the_plugins_memory_need_meets_the_device_check() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(EXAMPLE, ["task.features=64", "fl.local.batch_size=4096"])
    assert err.value.path == "nodes[2].device"
    assert "but the esp32 profile has 320000" in err.value.message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("test_task_plugin:NOT_A_PLUGIN", "is a object, not a fedsim.tasks.plugin.TaskPlugin"),
        ("test_task_plugin:MISNAMED", "declares kind 'other' but its entry point is named 'bad'"),
        ("no_such_module_here:PLUGIN", "does not load: ModuleNotFoundError"),
    ],
)
def test_a_broken_plugin_is_named(
    value: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = [EntryPoint("bad", value, "fedsim.tasks")]
    monkeypatch.setattr(discovery, "entry_points", lambda group: fake)
    task_plugins.cache_clear()
    try:
        with pytest.raises(PluginError) as err:
            task_plugins()
    finally:
        task_plugins.cache_clear()
    assert str(err.value).startswith(f"task plug-in 'bad' ({value}, entry point group")
    assert problem in str(err.value)


def test_a_plugin_cannot_take_a_builtin_name(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = [EntryPoint("digits", "fedsim_task_example.plugin:PLUGIN", "fedsim.tasks")]
    monkeypatch.setattr(discovery, "entry_points", lambda group: fake)
    task_plugins.cache_clear()
    try:
        with pytest.raises(PluginError, match="takes the name of a built-in task"):
            task_plugins()
    finally:
        task_plugins.cache_clear()


def test_a_plugin_module_imported_first_still_registers() -> None:
    """A user's code may import its plug-in before fedsim's config: no import cycle."""
    code = (
        "import fedsim_task_example.plugin\n"
        "from fedsim.config.tasks import TASK_KINDS\n"
        "print('vibration' in TASK_KINDS)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.stdout.strip() == "True", proc.stderr[-500:]

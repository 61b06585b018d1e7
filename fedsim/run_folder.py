"""What a run folder is: the configuration that identifies its run, and its replacement.

A run is identified by what it runs (the resolved configuration it writes as config.yaml)
and the code that ran it (summary.json's `code`): `fedsim sweep` reuses a finished run only
if both match (docs/sweeps.md). A folder belongs to one run: writing a run into an existing
folder first removes the whole previous run, so no file of it (an old report.html, old
plots, an old audit.json) can sit next to the new results looking current
(docs/results.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fedsim.errors import FedsimError

if TYPE_CHECKING:
    from fedsim.scenario import Scenario

__all__ = [
    "as_recorded",
    "check_run_folder",
    "clear_run_folder",
    "config_text",
    "recorded_config",
    "resolved_config",
    "run_config",
]

RUN_MARKERS = (("summary.json",), ("config.yaml", "topology.json"))
"""A folder holding all files of one of these sets was written by a run (summary.json is
written last; config.yaml and topology.json first). config.yaml alone is too common a
name to delete a folder for."""


def run_config(scenario: Scenario) -> dict[str, Any]:
    """The configuration a run writes as config.yaml: the file after its overrides, with
    the name and seed that ran."""
    config = dict(scenario.raw)
    config["name"] = scenario.name
    config["seed"] = scenario.seed
    return config


def config_text(config: Mapping[str, Any]) -> str:
    """config.yaml's text (one function, so the sweep compares like with like)."""
    return yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)


def resolved_config(base: str | Path, overrides: Sequence[str], seed: int) -> dict[str, Any]:
    """The config.yaml a run of `base` with these overrides and seed writes (`run_config`
    of a valid file: the file's data after the overrides, its name defaulting to the
    file's stem), read back as YAML so it compares equal to a folder's `recorded_config`.
    Built without validating: a sweep checks its points apart (`precheck_runs`)."""
    from fedsim.scenario import apply_overrides, check_overrides, load_yaml

    check_overrides(overrides, seed)
    data = apply_overrides(load_yaml(base), overrides)
    data["name"] = data.get("name") or Path(base).stem
    data["seed"] = seed
    return as_recorded(data)


def as_recorded(config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` as a folder's `recorded_config` reads it back (YAML's round trip)."""
    return yaml.safe_load(config_text(config))


def recorded_config(folder: Path) -> dict[str, Any] | None:
    """The configuration a run folder recorded; None if absent or unreadable."""
    try:
        data = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def clear_run_folder(folder: Path, flag: str = "--out") -> None:
    """Make `folder` empty for a new run: remove a previous run's folder whole (its
    tables, summary.json, audit.json, report.html, plots/ ...). A non-empty folder that
    no run wrote is refused rather than deleted; `flag` is the option that named it
    (`fedsim serve --results` follows the same rules)."""
    if check_run_folder(folder, flag):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def check_run_folder(folder: Path, flag: str = "--out") -> bool:
    """Whether `folder` holds a previous run to replace (False: absent or empty); raise
    if it may not be replaced (a symbolic link, a file, a folder no run wrote)."""
    if folder.is_symlink():
        raise FedsimError(
            f"{folder} is a symbolic link: a run replaces its folder, so give {flag} a real "
            "folder (or remove the link)"
        )
    if folder.is_dir() and any(folder.iterdir()):
        if not any(all((folder / n).is_file() for n in names) for names in RUN_MARKERS):
            raise FedsimError(
                f"{folder} exists and is not a run folder (no summary.json, nor config.yaml "
                f"with topology.json); move it or pick another {flag}"
            )
        return True
    if folder.exists() and not folder.is_dir():
        raise FedsimError(f"{folder} exists and is not a folder; move it or pick another {flag}")
    return False

"""Every task kind this installation knows: the built-ins, then the plug-ins that
installed packages name in the `fedsim.tasks` entry point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import get_args

from fedsim.config.task_options import TaskOptions
from fedsim.errors import FedsimError
from fedsim.tasks.plugin import ENTRY_POINT_GROUP, TaskPlugin

__all__ = ["PluginError", "task_plugins"]


class PluginError(FedsimError):
    """An installed task plug-in that cannot be used (named by its entry point)."""


def _problem(plugin: object, name: str) -> str | None:
    if not isinstance(plugin, TaskPlugin):
        return f"is a {type(plugin).__name__}, not a fedsim.tasks.plugin.TaskPlugin"
    if plugin.kind != name:
        return f"declares kind {plugin.kind!r} but its entry point is named {name!r}"
    if not (isinstance(plugin.options, type) and issubclass(plugin.options, TaskOptions)):
        return "its options are not a fedsim.config.task_options.TaskOptions model"
    field = plugin.options.model_fields.get("kind")
    if field is None or get_args(field.annotation) != (name,):
        return f"its options need `kind: Literal[{name!r}]`"
    if not callable(plugin.build):
        return "its build is not callable"
    return None


def _load(ep: EntryPoint) -> TaskPlugin:
    where = f"task plug-in {ep.name!r} ({ep.value}, entry point group {ENTRY_POINT_GROUP!r})"
    try:
        plugin = ep.load()
    except Exception as exc:  # a broken package must name itself, not crash the CLI
        raise PluginError(f"{where} does not load: {type(exc).__name__}: {exc}") from None
    problem = _problem(plugin, ep.name)
    if problem is not None:
        raise PluginError(f"{where} {problem}")
    return plugin


@cache
def task_plugins() -> dict[str, TaskPlugin]:
    """kind -> plug-in, built-ins first; read once per process."""
    from fedsim.tasks.builtin import BUILTIN_TASKS

    found = {p.kind: p for p in BUILTIN_TASKS}
    seen: dict[str, str] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        if seen.get(ep.name) == ep.value:
            continue  # the same distribution reached twice on sys.path
        if ep.name in seen:
            raise PluginError(f"two installed task plug-ins are named {ep.name!r}")
        if ep.name in found:
            raise PluginError(
                f"task plug-in {ep.name!r} ({ep.value}) takes the name of a built-in task"
            )
        seen[ep.name] = ep.value
        found[ep.name] = _load(ep)
    return found

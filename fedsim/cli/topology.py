"""`fedsim show` and `fedsim schema`: a topology file read, nothing simulated."""

from __future__ import annotations

import click

from fedsim.cli.options import COMMAND_SETTINGS, set_option, topology_argument

__all__ = ["schema_command", "show_command"]


@click.command(
    "show",
    context_settings=COMMAND_SETTINGS,
    short_help="Print a topology as a tree with derived figures.",
)
@topology_argument
@set_option
@click.option(
    "--model-bytes",
    type=int,
    metavar="N",
    default=None,
    help="upload size in bytes (default: the task's model under fl.codec, plus the HTTP head)",
)
def show_command(topology: str, overrides: tuple[str, ...], model_bytes: int | None) -> int:
    """Print a topology as a tree: devices per gateway, and per device group the path
    latency, the bottleneck rate and what one model upload and download cost on that
    path (lossless flow model, duty cycles included), with a warning where that misses
    the round deadline."""
    from rich.console import Console

    from fedsim.errors import print_warning
    from fedsim.scenario import prepare_scenario
    from fedsim.show import describe

    sc = prepare_scenario(topology, list(overrides), warn=print_warning)
    Console().print(describe(sc, model_bytes))
    return 0


@click.command(
    "schema",
    context_settings=COMMAND_SETTINGS,
    short_help="Print the JSON Schema of topology files.",
)
@click.option("--out", default=None, metavar="FILE", help="write to this file instead of stdout")
def schema_command(out: str | None) -> int:
    """The JSON Schema of topology files, generated from the typed model that `fedsim
    validate` and `fedsim run` load through, so editors complete and check the same keys,
    kinds and ranges. Cross-references (a node naming a missing gateway) need the whole
    file: `fedsim validate` checks them, the schema cannot."""
    import json

    from fedsim.schema import topology_schema

    text = json.dumps(topology_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is not None:
        from fedsim.cli.out_folder import output_file

        output_file(out).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    return 0

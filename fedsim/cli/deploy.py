"""`fedsim serve` and `fedsim client`: deployment mode, the same FL server and clients
over real TCP in real time (fedsim.deploy)."""

from __future__ import annotations

import click

from fedsim.cli.options import COMMAND_SETTINGS, seed_option, set_option, topology_argument

__all__ = ["client_command", "serve_command"]


@click.command(
    "serve",
    context_settings=COMMAND_SETTINGS,
    short_help="Deployment: the FL server over real TCP.",
)
@topology_argument
@seed_option
@set_option
@click.option(
    "--host", default="127.0.0.1", metavar="ADDRESS", show_default=True, help="address to listen on"
)
@click.option(
    "--port", type=int, default=8080, metavar="N", show_default=True, help="TCP port to listen on"
)
def serve_command(
    topology: str, seed: int | None, overrides: tuple[str, ...], host: str, port: int
) -> int:
    """Serve the topology's federation over real TCP until its rounds are done, printing
    one line per round. The file supplies the task and the FL settings; devices join
    with `fedsim client`."""
    import asyncio

    from fedsim.deploy import serve as serve_federation
    from fedsim.errors import print_warning
    from fedsim.fl.engine import RoundRecord
    from fedsim.scenario import prepare_scenario

    sc = prepare_scenario(topology, list(overrides), seed, warn=print_warning)

    def ready(bound: int) -> None:
        hint = f"fedsim client {topology} --device NAME --server URL"
        print(f"serving {sc.name} on http://{host}:{bound} (clients: {hint})", flush=True)

    def show(r: RoundRecord) -> None:
        verdict = "accepted" if r.accepted else "rejected"
        print(f"round {r.round}: {r.reported}/{r.selected} reported, {verdict}, "
              f"metric {r.metric:.4f}", flush=True)  # fmt: skip

    records = asyncio.run(serve_federation(sc, host, port, on_ready=ready, on_round=show))
    print(f"done: {len(records)} rounds")
    return 0


@click.command(
    "client",
    context_settings=COMMAND_SETTINGS,
    short_help="Deployment: one FL device over real TCP.",
)
@topology_argument
@seed_option
@set_option
@click.option(
    "--device", required=True, metavar="NAME", help="a device node name from the topology"
)
@click.option(
    "--server", default="http://127.0.0.1:8080", metavar="URL", show_default=True, help="server URL"
)
def client_command(
    topology: str, seed: int | None, overrides: tuple[str, ...], device: str, server: str
) -> int:
    """Be one device of the topology over real TCP: train its own shard of the task (as
    in emulation, from the seed) until the server says the run is finished."""
    import asyncio

    from fedsim.deploy import run_client
    from fedsim.errors import print_warning
    from fedsim.scenario import prepare_scenario

    sc = prepare_scenario(topology, list(overrides), seed, warn=print_warning)
    device_client = asyncio.run(run_client(sc, device, server))
    s = device_client.stats
    print(f"{device}: trained {s.rounds_trained} rounds, {s.uploads_accepted} uploads "
          f"accepted, {s.uploads_rejected} rejected, errors {s.errors or 'none'}")  # fmt: skip
    return 0

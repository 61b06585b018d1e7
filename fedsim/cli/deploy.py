"""`fedsim serve`, `fedsim client`, `fedsim enroll`, `fedsim certs`: deployment mode,
the same FL server and clients over real TCP in real time (fedsim.deploy,
docs/deploy.md)."""

from __future__ import annotations

import click

from fedsim.cli.options import COMMAND_SETTINGS, seed_option, set_option, topology_argument

__all__ = ["certs_command", "client_command", "enroll_command", "serve_command"]


def _print_openapi(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        import json

        from fedsim.fl.wire_schema import openapi

        click.echo(json.dumps(openapi(), indent=2))
        ctx.exit()


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
@click.option(
    "--openapi",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_openapi,
    help="print the HTTP API (OpenAPI 3.1) and exit; needs no FILE",
)
@click.option(
    "--keys",
    default=None,
    metavar="FILE",
    help="fleet key file from `fedsim enroll` (default: seed-derived development keys, "
    "which anyone with the topology file can derive)",
)
@click.option(
    "--state",
    default=None,
    metavar="DIR",
    help="directory of the durable state (SQLite); a restart resumes",
)
@click.option(
    "--results",
    default=None,
    metavar="DIR",
    help="write rounds.csv, clients.csv, summary.json here",
)
@click.option(
    "--cert", default=None, metavar="PEM", help="TLS certificate; with --key serves https"
)
@click.option("--key", default=None, metavar="PEM", help="TLS private key")
@click.option(
    "--client-ca", default=None, metavar="PEM", help="require device certificates issued by this CA"
)
@click.option(
    "--max-connections",
    type=int,
    default=None,
    metavar="N",
    help="open connections the server accepts at once (default: ServerLimits.max_connections)",
)
def serve_command(
    topology: str,
    seed: int | None,
    overrides: tuple[str, ...],
    host: str,
    port: int,
    keys: str | None,
    state: str | None,
    results: str | None,
    cert: str | None,
    key: str | None,
    client_ca: str | None,
    max_connections: int | None,
) -> int:
    """Serve the topology's federation over real TCP until its rounds are done, printing
    one line per round and what it waits for. The file supplies the task and the FL
    settings; devices join with `fedsim client`. With --state a restarted server
    resumes where it stopped; with --cert/--key it serves https."""
    import asyncio

    from fedsim.cli.out_folder import output_folder
    from fedsim.deploy import serve
    from fedsim.deployment.site import ServerLimits
    from fedsim.errors import FedsimError, print_warning
    from fedsim.fl.auth import Keyring
    from fedsim.fl.engine import RoundRecord
    from fedsim.scenario import prepare_scenario

    sc = prepare_scenario(topology, list(overrides), seed, warn=print_warning)
    for option, folder in (("--state", state), ("--results", results)):
        if folder is not None:
            output_folder(folder, option)
    names = [n.name for n in sc.device_nodes]
    if keys:
        keyring = Keyring.from_file(keys, names)
    else:
        keyring = Keyring.from_seed(sc.seed, names)
        print_warning("no --keys: development keys derived from the seed (run `fedsim enroll`)")
    ssl_context = None
    if cert or key:
        if not (cert and key):
            raise FedsimError("--cert and --key go together")
        from fedsim.deployment.tls import server_context

        ssl_context = server_context(cert, key, client_ca)
    scheme = "https" if ssl_context else "http"

    def ready(bound: int) -> None:
        hint = f"fedsim client {topology} --device NAME --server URL"
        print(f"serving {sc.name} on {scheme}://{host}:{bound} (clients: {hint})", flush=True)

    def show(r: RoundRecord) -> None:
        verdict = "accepted" if r.accepted else "rejected"
        print(f"round {r.round}: {r.reported}/{r.selected} reported, {verdict}, "
              f"metric {r.metric:.4f}", flush=True)  # fmt: skip

    limits = (
        ServerLimits() if max_connections is None else ServerLimits(max_connections=max_connections)
    )
    records = asyncio.run(
        serve(
            sc, host, port, on_ready=ready, on_round=show,
            on_wait=lambda line: print(line, flush=True), keyring=keyring,
            ssl_context=ssl_context, state_dir=state, results_dir=results, limits=limits,
        )
    )  # fmt: skip
    print(f"done: {len(records)} rounds")
    if results is None:
        return 0
    from fedsim.record.audit_status import read_audit_status

    audit = read_audit_status(results)
    print(f"results: {results} ({audit.line()})", flush=True)
    return 0 if audit.passed else 2  # as `fedsim run`: numbers not vouched for fail


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
@click.option(
    "--key", default=None, metavar="FILE", help="this device's key file from `fedsim enroll`"
)
@click.option("--ca", default=None, metavar="PEM", help="trust only this CA for https (pinning)")
@click.option(
    "--cert",
    default=None,
    metavar="PEM",
    help="this device's TLS certificate (when the server asks)",
)
@click.option("--cert-key", default=None, metavar="PEM", help="the private key of --cert")
@click.option(
    "--retry-for",
    type=float,
    default=120.0,
    metavar="S",
    show_default=True,
    help="give up after S seconds without an answer",
)
@click.option(
    "--backoff",
    type=(float, float),
    default=(2.0, 120.0),
    metavar="MIN MAX",
    show_default=True,
    help="retry backoff bounds in seconds",
)
def client_command(
    topology: str,
    seed: int | None,
    overrides: tuple[str, ...],
    device: str,
    server: str,
    key: str | None,
    ca: str | None,
    cert: str | None,
    cert_key: str | None,
    retry_for: float,
    backoff: tuple[float, float],
) -> int:
    """Be one device of the topology over real TCP: train its own shard of the task (as
    in emulation, from the seed) until the server says the run is finished. Prints one
    summary line however it ends: finished (exit 0), gave up after --retry-for without
    an answer (1), interrupted (130)."""
    import asyncio
    import sys

    from fedsim.deploy import check_server_url, drive_client, make_client
    from fedsim.errors import FedsimError, print_warning
    from fedsim.fl.auth import load_device_key
    from fedsim.fl.client import FLClient
    from fedsim.scenario import prepare_scenario

    url = check_server_url(server)
    sc = prepare_scenario(topology, list(overrides), seed, warn=print_warning)
    device_key = None
    if key:
        owner, device_key = load_device_key(key)
        if owner != device:
            raise FedsimError(f"--key {key} is {owner!r}'s key, not {device!r}'s")
    ssl_context = None
    if ca:
        from fedsim.deployment.tls import client_context

        ssl_context = client_context(ca, cert, cert_key)
    made: list[FLClient] = []

    async def run_device() -> None:
        one = make_client(sc, device, url, key=device_key, ssl_context=ssl_context,
                          backoff_s=(backoff[0], backoff[1]))  # fmt: skip
        made.append(one)
        await drive_client(one, retry_for)

    code = 0
    try:
        asyncio.run(run_device())
    except KeyboardInterrupt:
        code = 130
    except FedsimError as exc:
        if not made:
            raise
        print(f"fedsim: error: {exc}", file=sys.stderr)
        code = 1
    if not made:
        return code
    s = made[0].stats
    end = {0: "finished", 1: "gave up", 130: "interrupted"}[code]
    print(f"{device}: {end}; trained {s.rounds_trained} rounds, "
          f"{s.uploads_accepted} uploads accepted, {s.uploads_late} late, "
          f"{s.uploads_rejected} rejected, "
          f"errors {s.errors or 'none'}", flush=True)  # fmt: skip
    return code


@click.command(
    "enroll",
    context_settings=COMMAND_SETTINGS,
    short_help="Deployment: a fleet key and one key per device.",
)
@topology_argument
@seed_option
@set_option
@click.option(
    "--out", required=True, metavar="DIR", help="directory for fleet.key and devices/*.key"
)
def enroll_command(topology: str, seed: int | None, overrides: tuple[str, ...], out: str) -> int:
    """Provision the topology's fleet: fleet.key for the server (`serve --keys`; kept if
    it exists), one key file per device in devices/ (`client --key`) and operator.token
    (GET /v1/status)."""
    from fedsim.cli.out_folder import output_folder
    from fedsim.deploy import enroll_fleet
    from fedsim.errors import print_warning
    from fedsim.scenario import prepare_scenario

    sc = prepare_scenario(topology, list(overrides), seed, warn=print_warning)
    folder = enroll_fleet(sc, output_folder(out))
    print(f"{folder}: fleet.key (server: --keys), operator.token (GET /v1/status), "
          f"{len(sc.device_nodes)} device keys in devices/ (client: --key)")  # fmt: skip
    return 0


@click.command(
    "certs",
    context_settings=COMMAND_SETTINGS,
    short_help="Deployment: a development CA and TLS certificates.",
)
@click.argument("out", metavar="DIR")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="a name or address of the server (repeatable; default localhost and 127.0.0.1)",
)
@click.option(
    "--topology", default=None, metavar="FILE", help="also make a client certificate per device"
)
def certs_command(out: str, hosts: tuple[str, ...], topology: str | None) -> int:
    """Make development TLS material for a pilot in DIR: a CA (ca.pem, clients: --ca),
    a server certificate (server.pem + server-key.pem, serve: --cert --key) and, with
    --topology, a client certificate per device. Keep ca-key.pem offline."""
    from fedsim.cli.out_folder import output_folder
    from fedsim.deployment.tls import make_dev_pki
    from fedsim.scenario import prepare_scenario

    names = [n.name for n in prepare_scenario(topology).device_nodes] if topology else []
    root = make_dev_pki(output_folder(out, "DIR"), list(hosts) or ["localhost", "127.0.0.1"], names)
    print(f"{root}: ca.pem (clients: --ca), server.pem + server-key.pem (serve: --cert --key), "
          f"{len(names)} device certificates; keep ca-key.pem offline")  # fmt: skip
    return 0

"""`fedsim net ...`: network tools that need no topology file.

Flag values are read as strings and parsed with fedsim's unit readers, so a mistake
names the flag and what was wrong with it (`--bandwidth: did you mean '10Mbps'`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from fedsim.cli.options import COMMAND_SETTINGS, ListedGroup

__all__ = ["net_group", "transfer_command", "validate_command"]

LOSS_MODELS = ("bernoulli", "gilbert-elliott", "ge")


@click.group(
    "net",
    cls=ListedGroup,
    context_settings=COMMAND_SETTINGS,
    short_help="Network tools: one message over one link, without a topology.",
)
def net_group() -> None:
    """Network tools that need no topology file: what one message costs on one link."""


def _int(flag: str, value: str, low: int) -> int:
    from fedsim.errors import UnitError

    try:
        x = int(value)
    except ValueError:
        raise UnitError(f"{flag}: expected an integer, got {value!r}") from None
    if x < low:
        raise UnitError(f"{flag}: must be >= {low}, got {x}")
    return x


def _field(flag: str, fn: Callable[[Any], Any], value: object) -> Any:
    from fedsim.errors import UnitError

    try:
        return fn(value)
    except UnitError as e:
        raise UnitError(f"{flag}: {e}") from None


def _rate(value: object) -> float:
    """A bandwidth as a topology file takes it: with its unit (a bare 64 is refused, as
    it would be 64 bit/s)."""
    from fedsim.config.units import bandwidth_with_unit
    from fedsim.errors import UnitError

    try:
        return bandwidth_with_unit(value)
    except ValueError as e:
        raise UnitError(str(e)) from None


def _bytes(flag: str, value: str) -> int:
    from fedsim.errors import UnitError
    from fedsim.units import parse_size

    size = _field(flag, parse_size, value)
    if size != int(size):
        raise UnitError(f"{flag}: a message is a whole number of bytes, got {size:g} ({value!r})")
    return int(size)


def _gilbert_elliott(p: str | None, r: str | None, one_h: str, one_k: str) -> tuple[float, ...]:
    from fedsim.errors import UnitError
    from fedsim.units import parse_fraction

    got = []
    for k, v in (("p", p), ("r", r), ("1-h", one_h), ("1-k", one_k)):
        if v is None:
            raise UnitError(f"--ge-{k}: required with --loss-model gilbert-elliott")
        got.append(_field(f"--ge-{k}", parse_fraction, v))
    return tuple(got)


@net_group.command(
    "transfer",
    context_settings=COMMAND_SETTINGS,
    short_help="One message over one link: timing statistics as JSON.",
)
@click.option(
    "--bandwidth",
    metavar="RATE",
    required=True,
    help="link rate, e.g. 5kbps, 10Mbps, 1MBps (bytes/s)",
)
@click.option(
    "--latency", metavar="TIME", required=True, help="one-way propagation delay, e.g. 500ms"
)
@click.option(
    "--size", metavar="SIZE", required=True, help="message size, e.g. 100KB (the payload, in bytes)"
)
@click.option(
    "--loss",
    metavar="FRACTION",
    default="0",
    show_default=True,
    help="segment loss, e.g. 1% or 0.01",
)
@click.option(
    "--mtu", metavar="BYTES", default="1500", show_default=True, help="link MTU in bytes (>= 68)"
)
@click.option(
    "--fidelity",
    metavar="FIDELITY",
    default="packet",
    show_default=True,
    help="flow or packet model",
)
@click.option("--seeds", metavar="N", default="50", show_default=True, help="seeded runs (>= 1)")
@click.option(
    "--seed", metavar="N", default="0", show_default=True, help="first seed; run i uses [seed, i]"
)
@click.option(
    "--loss-model",
    default="bernoulli",
    metavar="MODEL",
    show_default=True,
    help="bernoulli or gilbert-elliott (then --ge-p and --ge-r)",
)
@click.option(
    "--ge-p", metavar="P", default=None, help="Gilbert-Elliott: P(good -> bad) per packet"
)
@click.option(
    "--ge-r", metavar="R", default=None, help="Gilbert-Elliott: P(bad -> good) per packet"
)
@click.option(
    "--ge-1-h", metavar="P", default=None, help="Gilbert-Elliott: loss in the bad state [1]"
)
@click.option(
    "--ge-1-k", metavar="P", default=None, help="Gilbert-Elliott: loss in the good state [0]"
)
@click.option(
    "--loss-both-directions",
    is_flag=True,
    help="lose ACKs and the SYN-ACK too (default: data direction only, as the ns-3 reference)",
)
@click.option("--samples", is_flag=True, help="add every run's time and retransmissions")
@click.option(
    "--ci", is_flag=True, help="add a bootstrapped 95 % interval of the mean completion time"
)
@click.option("--no-hystart", is_flag=True, help="Cubic without hybrid slow start")
def transfer_command(
    bandwidth: str,
    latency: str,
    size: str,
    loss: str,
    mtu: str,
    fidelity: str,
    seeds: str,
    seed: str,
    loss_model: str,
    ge_p: str | None,
    ge_r: str | None,
    ge_1_h: str | None,
    ge_1_k: str | None,
    loss_both_directions: bool,
    samples: bool,
    ci: bool,
    no_hystart: bool,
) -> int:
    """How long one message takes over one link, from the sender's SYN to the receiver's
    last byte, over seeded runs. Prints one JSON object: the inputs as read (bit/s,
    seconds, bytes), time statistics, wire bytes, retransmissions, and the runs whose
    connect timed out (data, not an error). --samples adds every run, --ci a bootstrapped
    95 % interval of the mean from a stream seeded by --seed."""
    import json

    from fedsim.errors import UnitError
    from fedsim.net.calculator import FIDELITIES, transfer_stats
    from fedsim.net.tcp import TcpParams
    from fedsim.units import parse_duration, parse_fraction

    ge = None
    if loss_model in ("gilbert-elliott", "ge"):
        ge = _gilbert_elliott(
            ge_p, ge_r, "1" if ge_1_h is None else ge_1_h, "0" if ge_1_k is None else ge_1_k
        )
    elif loss_model not in LOSS_MODELS:
        raise UnitError(f"--loss-model: unknown {loss_model!r} (bernoulli, gilbert-elliott)")
    if fidelity not in FIDELITIES:
        raise UnitError(f"--fidelity: unknown {fidelity!r} (flow, packet)")
    stats = transfer_stats(
        _field("--bandwidth", _rate, bandwidth),
        _field("--latency", parse_duration, latency),
        _bytes("--size", size),
        loss=_field("--loss", parse_fraction, loss),
        mtu=_int("--mtu", mtu, 68),
        fidelity=fidelity,
        seeds=_int("--seeds", seeds, 1),
        seed=_int("--seed", seed, 0),
        loss_model=loss_model,
        ge=ge,  # type: ignore[arg-type]
        loss_both_directions=loss_both_directions,
        samples=samples,
        ci=ci,
        params=TcpParams(hystart=not no_hystart),
    )
    click.echo(json.dumps(stats))
    return 0


@net_group.command(
    "validate",
    context_settings=COMMAND_SETTINGS,
    short_help="One link in ns-3 and both fidelities, side by side.",
)
@click.option("--bandwidth", required=True, metavar="RATE", help="link rate, e.g. 5kbps, 10Mbps")
@click.option("--latency", required=True, metavar="TIME", help="one-way propagation delay")
@click.option("--size", required=True, metavar="SIZE", help="message size, e.g. 100KB")
@click.option("--loss", default="0", show_default=True, metavar="FRACTION", help="segment loss")
@click.option("--seeds", default="20", show_default=True, metavar="N", help="runs per engine")
@click.option("--seed", default="0", show_default=True, metavar="N", help="first seed")
@click.option("--no-hystart", is_flag=True, help="Cubic without HyStart, both sides")
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of the table")
def validate_command(
    bandwidth: str,
    latency: str,
    size: str,
    loss: str,
    seeds: str,
    seed: str,
    no_hystart: bool,
    as_json: bool,
) -> int:
    """Run one message over one link in ns-3 and in the packet and flow fidelities over
    --seeds runs each, and print them side by side with the wall time each took and the
    acceptance verdict: loss-free within 10 % of ns-3; lossy within 25 %, or ns-3's mean
    inside the central 95 % of the model's bootstrapped distribution of an N-run mean.
    Needs the optional extra: pip install 'fedsim[ns3]'."""
    import json

    from fedsim.errors import FedsimError
    from fedsim.net.ns3_link import Ns3MissingError
    from fedsim.net.validate import render, validate
    from fedsim.units import parse_duration, parse_fraction

    try:
        res = validate(
            _field("--bandwidth", _rate, bandwidth),
            _field("--latency", parse_duration, latency),
            _bytes("--size", size),
            loss=_field("--loss", parse_fraction, loss),
            seeds=_int("--seeds", seeds, 1),
            seed=_int("--seed", seed, 0),
            hystart=not no_hystart,
        )
    except Ns3MissingError as e:
        raise FedsimError(str(e)) from None
    click.echo(json.dumps(res) if as_json else render(res))
    return 0

"""Figures and report tables that say what happened: labels follow the run's transport,
ledger percentages are parts of one whole, the participation figure marks each round by
what happened to its uploads, every dropout cause has one colour, a sweep's to-target
plot and tables say how many seeds reached the target, and a layout that cannot fit is
never left to matplotlib's warning."""

from __future__ import annotations

import dataclasses
import io
import re
import warnings
from pathlib import Path
from typing import Any

from fake_results import write_synthetic_run
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from fedsim.record.aggregate import PointStats, _errorbar_figures, _fmt
from fedsim.record.cause_colours import CAUSE_STYLES, cause_style
from fedsim.record.compare import compare_runs
from fedsim.record.plots import _group_battery_note, _pct, run_figures
from fedsim.record.report import _run_body_around
from fedsim.record.report_ledger import ledger_html, ledger_shares
from fedsim.record.runs import RunData, load_run
from fedsim.record.schema import DROPOUT_CAUSES, LedgerRow, RoundRow
from fedsim.record.single_draw import savefig_single_draw
from fedsim.record.sweep_stats import interval

_PARTS = ("model_bytes", "protocol_bytes", "header_bytes", "control_bytes", "retx_bytes")


def _run(tmp_path: Path, name: str = "r", **kw: Any) -> RunData:
    return load_run(write_synthetic_run(tmp_path, name=name, rounds=4, devices=4, **kw))


def _with_transport(run: RunData, transport: str) -> RunData:
    config = dict(run.config)
    config["fl"] = {**config.get("fl", {}), "transport": transport}
    return dataclasses.replace(run, config=config)


def _ledger_row(**parts: int) -> LedgerRow:
    model, protocol = parts.get("model_bytes", 0), parts.get("protocol_bytes", 0)
    header, control = parts.get("header_bytes", 0), parts.get("control_bytes", 0)
    retx = parts.get("retx_bytes", 0)
    data = parts.get("data_bytes", model + protocol)
    return LedgerRow(
        scope="link_class", key="wifi", direction="down", links=8,
        model_bytes=model, protocol_bytes=protocol, payload_bytes=model + protocol,
        data_bytes=data, header_bytes=header, control_bytes=control, retx_bytes=retx,
        wire_bytes=data + header + control + retx, lost_bytes=retx, energy_j=None,
    )  # fmt: skip


# -- 1. transport-aware labels ---------------------------------------------------------


def _legend_texts(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    return [t.get_text() for t in legend.get_texts()]


def test_coap_run_labels_say_coap_and_udp_never_http_or_tcp(tmp_path: Path) -> None:
    run = _with_transport(_run(tmp_path), "coap")
    run = dataclasses.replace(
        run, ledger=[_ledger_row(model_bytes=900, protocol_bytes=80, header_bytes=60)]
    )
    (fig,) = [f for stem, f in run_figures(run, {"metric_vs_bytes"})]
    texts = _legend_texts(fig)
    assert "payload (CoAP)" in texts
    assert "on the wire (UDP/IP, retransmissions)" in texts
    page = _run_body_around(run)("")  # the run's section of report.html, figures aside
    ledger = ledger_html(run)
    for html in (page, ledger):
        assert "HTTP" not in html
        assert "TCP" not in html
        assert "FIN" not in html
    assert "protocol (CoAP)" in ledger
    assert "UDP/IP headers" in ledger
    assert "CoAP over UDP/IP" in page


def test_default_and_mqtt_runs_say_tcp(tmp_path: Path) -> None:
    plain = _run(tmp_path, "plain")  # config.yaml names no transport: the default, HTTP
    assert "payload (HTTP)" in _legend_texts(run_figures(plain, {"metric_vs_bytes"})[0][1])
    mqtt = _with_transport(plain, "mqtt")
    assert "payload (MQTT)" in _legend_texts(run_figures(mqtt, {"metric_vs_bytes"})[0][1])
    assert "on the wire (TCP/IP, retransmissions)" in _legend_texts(
        run_figures(mqtt, {"metric_vs_bytes"})[0][1]
    )


def test_compare_rows_name_each_transport(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a"), _with_transport(_run(tmp_path, "b"), "coap")
    labels = [q.label.strip() for q in compare_runs([a, b]).quantities]
    assert "protocol (CoAP / HTTP)" in labels
    assert "transport (TCP/IP / UDP/IP)" in labels
    same = [q.label.strip() for q in compare_runs([b, b]).quantities]
    assert "protocol (CoAP)" in same
    assert "transport (UDP/IP)" in same


# -- 2. ledger percentages of one whole ------------------------------------------------


def _shown_percentages(html: str) -> list[list[int]]:
    """Each body row's percentages of the five parts, as the page shows them."""
    rows = re.findall(r"<tr>(<td>.*?)</tr>", html)
    out = []
    for row in rows:
        cells = re.findall(r"<td>(.*?)</td>", row)
        out.append([int(m) for c in cells[3:8] for m in re.findall(r"\((\d+)%\)", c)])
    return out


def test_undelivered_payload_keeps_every_row_at_100_percent(tmp_path: Path) -> None:
    # the audit's row: 98,608 B handed over, 87,004 B of it carried (a 10 ms deadline)
    cut = _ledger_row(
        model_bytes=80600, protocol_bytes=18008, data_bytes=87004,
        header_bytes=6966, control_bytes=6574, retx_bytes=284,
    )  # fmt: skip
    cut = dataclasses.replace(cut, direction="up")  # a first hop: payload - data not carried
    plain = _ledger_row(model_bytes=70200, protocol_bytes=29403, header_bytes=7344,
                        control_bytes=6736, retx_bytes=2079)  # fmt: skip
    run = dataclasses.replace(_run(tmp_path), ledger=[cut, plain])
    html = ledger_html(run)
    shown = _shown_percentages(html)
    assert len(shown) == 2
    for parts in shown:
        assert len(parts) == 5
        assert sum(parts) == 100
    assert "11.6 kB (10%)" in html  # the payload no packet carried, its own column


@given(st.lists(st.integers(0, 10**9), min_size=5, max_size=5), st.integers(0, 10**9))
def test_shares_add_up_to_100(parts: list[int], uncarried: int) -> None:
    model, protocol, header, control, retx = parts
    data = max(0, model + protocol - uncarried)
    row = _ledger_row(model_bytes=model, protocol_bytes=protocol, data_bytes=data,
                      header_bytes=header, control_bytes=control, retx_bytes=retx)  # fmt: skip
    shares = ledger_shares(row)
    if sum(parts):
        assert sum(shares.values()) == 100
        whole = sum(parts)
        for f, v in zip(_PARTS, parts, strict=True):
            assert abs(shares[f] - 100 * v / whole) < 1
    else:
        assert shares == {}


# -- 3. participation ------------------------------------------------------------------


def _participation_run(tmp_path: Path) -> RunData:
    run = _run(tmp_path)
    base = run.rounds[0]

    def row(n: int, **kw: Any) -> RoundRow:
        return dataclasses.replace(base, round=n, candidate_metric=None, **kw)

    rounds = [
        row(1, selected=12, reported=10, aggregated=10, failed=0, accepted=1, failed_causes={}),
        row(2, selected=12, reported=3, aggregated=0, failed=9, accepted=0,
            failed_causes={"gateway_down": 9}),  # quorum missed: 3 uploads discarded
        row(3, selected=4, reported=0, aggregated=0, failed=4, accepted=0,
            failed_causes={"deadline": 4}),  # no upload at all
        row(4, selected=5, reported=5, aggregated=5, failed=0, accepted=0,
            failed_causes={}),  # the gate refused the aggregate
    ]  # fmt: skip
    return dataclasses.replace(run, rounds=rounds)


def _bars(fig: Figure, rounds: int = 4) -> dict[str, list[float]]:
    """Each stacked layer's height per round, read back from its rectangles."""
    out = {}
    for layer in fig.axes[0].collections:
        heights = [0.0] * rounds
        for path in layer.get_paths():
            (x0, y0), (x1, y1) = path.vertices.min(0), path.vertices.max(0)
            heights[round((x0 + x1) / 2) - 1] = y1 - y0
        out[layer.get_label()] = heights
    return out


def _marks(fig: Figure) -> dict[str, list[float]]:
    return {
        line.get_label(): list(line.get_xdata())
        for line in fig.axes[0].get_lines()
        if line.get_linestyle() == "None"
    }


def test_participation_marks_rounds_by_what_happened(tmp_path: Path) -> None:
    (fig,) = [f for _, f in run_figures(_participation_run(tmp_path), {"participation"})]
    marks = _marks(fig)
    assert marks == {
        "no aggregate (quorum missed or aggregation error)": [2],
        "no update (nothing reported)": [3],
        "rejected by the gate": [4],
    }
    bars = _bars(fig)
    assert bars["aggregated"] == [10, 0, 0, 5]
    assert bars["reported, discarded"] == [0, 3, 0, 0]
    assert bars["selected, not needed (round filled)"] == [2, 0, 0, 0]
    # every client selected is in exactly one bar
    tops = [sum(h[i] for h in bars.values()) for i in range(4)]
    assert tops == [12, 12, 4, 5]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert set(bars) | set(marks) | {"selected"} == set(legend)


def test_a_cause_has_one_colour_whichever_causes_appear(tmp_path: Path) -> None:
    assert set(DROPOUT_CAUSES) <= set(CAUSE_STYLES)
    assert len(set(CAUSE_STYLES.values())) == len(CAUSE_STYLES)
    run = _participation_run(tmp_path)
    alone = dataclasses.replace(run, rounds=[run.rounds[1]])  # gateway_down only
    for r in (run, alone):
        (fig,) = [f for _, f in run_figures(r, {"participation"})]
        layer = next(c for c in fig.axes[0].collections if c.get_label() == "failed: gateway_down")
        assert to_hex(layer.get_facecolor()[0]) == cause_style("gateway_down").colour.lower()
    assert cause_style("a-new-cause") == CAUSE_STYLES["other"]


# -- 4. sweep reach counts -------------------------------------------------------------


def _point(tmp_path: Path, label: str, targets: list[float | None]) -> PointStats:
    runs = []
    for i, t in enumerate(targets):
        run = _run(tmp_path / label, f"s{i}")
        summary = dataclasses.replace(run.summary, time_to_target_s=t)
        runs.append(dataclasses.replace(run, summary=summary))
    values = [t for t in targets if t is not None]
    stats = {"time_to_target_s": interval(values, "log")}
    return PointStats(label, (), runs, list(range(len(runs))), stats)


def test_sweep_says_how_many_seeds_reached_the_target(tmp_path: Path) -> None:
    none = _point(tmp_path, "lr=0.001", [None, None])
    assert _fmt("time_to_target_s", none.stats["time_to_target_s"], 2) == "0/2 reached"
    some = _point(tmp_path, "lr=0.05", [100.0, None, 120.0])
    ax = _time_figure([some, none]).axes[0]
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["0/2 reached", "2/3 reached"]


def _time_figure(points: list[PointStats]) -> Figure:
    from fedsim.record import aggregate

    keys = dict.fromkeys(aggregate.QUANTITIES)
    for p in points:  # the figures read every quantity: the others are absent
        for k in keys:
            p.stats.setdefault(k, (0, None, None, None))
    return dict(_errorbar_figures(points))["sweep_time_to_target_s"]


# -- 5. energy legend, mains power, layouts --------------------------------------------


def test_zero_energy_is_zero_percent() -> None:
    assert _pct(0.0) == "0 %"
    assert _pct(1e-9) == "<0.001 %"
    assert _pct(0.9968) == "99.7 %"  # beside parts that are not 0, never "100 %"
    assert _pct(0.99999) == ">99.9 %"
    assert _pct(1.0) == "100 %"


def test_a_mains_powered_group_says_so() -> None:
    run_row = type("Row", (), {"device": "pi"})()
    assert _group_battery_note([run_row], [], "of battery", {"pi": None}) == "mains powered"
    assert _group_battery_note([run_row], [], "of battery", {}) == ""
    both = [run_row, type("Row", (), {"device": "mote"})()]
    note = _group_battery_note(both, [0.5], "of battery", {"pi": None, "mote": 10.0})
    assert note == "max 50 % of battery · 1 mains powered"


def test_labels_too_long_for_the_figure_grow_it_instead_of_a_warning() -> None:
    fig = Figure(figsize=(4.0, 2.0), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([0, 1], [1, 2])
    ax.set_yticks([0, 1], ["x" * 120, "short"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        savefig_single_draw(fig, io.BytesIO(), "png", dpi=50)
    assert [str(w.message) for w in caught] == []
    assert fig.get_figwidth() > 4.0

"""One self-contained report.html per run or per comparison: mail it, open it anywhere.

Everything is inline: figures are inline SVG, the topology is SVG drawn here, CSS is in a
`<style>` block, and there is no JavaScript and no external URL, so the file renders the
same offline, years later. Long tables sit in `<details>` so the page opens on the summary.
The run's audit (audit.json) heads its section: a line when it passed, a banner with its
violations when it failed, and one when it was never audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fedsim.record.audit_status import INCOMPLETE, VOID
from fedsim.record.compare import CompareTable, compare_runs, format_value
from fedsim.record.html import html_page, html_table, inline_svg
from fedsim.record.link_packets import packets_html
from fedsim.record.participation import participation_html
from fedsim.record.report_ledger import ledger_html
from fedsim.record.runs import RunData, load_run
from fedsim.record.schema import Record
from fedsim.record.tables import format_causes
from fedsim.record.topology_svg import topology_svg
from fedsim.record.transport_words import run_transport, words_for

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "audit_banner",
    "figures_html",
    "html_page",
    "html_table",
    "report_awaiting_figures",
    "write_comparison_report",
    "write_report",
]

WIDE_FIGURES = frozenset({"links", "energy"})
"""Figures drawn across the page: their labels are long or their rows many."""
_WIDE = ' class="wide"'


def figures_html(figures: Sequence[tuple[str, Any]]) -> str:
    """Inline-SVG figures in a responsive grid: each a matplotlib figure, or its SVG text
    already rendered (a run's plots/*.svg: drawing a figure twice is the slow part)."""
    blocks = [
        f'<figure id="fig-{escape(stem)}"{_WIDE if stem in WIDE_FIGURES else ""}>'
        f"{fig if isinstance(fig, str) else _figure_svg(fig)}</figure>"
        for stem, fig in figures
    ]
    return f'<div class="figs">{"".join(blocks)}</div>'


def _figure_svg(fig: Figure) -> str:
    from fedsim.record.plots import figure_svg  # matplotlib only to draw, not to inline

    return figure_svg(fig)


def _rows_table(rows: Sequence[Record], title: str, open_: bool = False) -> str:
    if not rows:
        return f"<p><em>No {escape(title)} recorded.</em></p>"
    headers = list(rows[0])
    cells = ([_shown(getattr(r, h)) for h in headers] for r in rows)  # headers: its columns
    table = html_table(headers, cells, "data")
    flag = " open" if open_ else ""
    return f"<details{flag}><summary>{escape(title)} ({len(rows)} rows)</summary>{table}</details>"


def _shown(value: Any) -> Any:
    return format_causes(value) if isinstance(value, dict) else value


AUDIT_VIOLATIONS_SHOWN = 20
"""Violations listed in a failed run's banner; the rest are in its audit.json."""


def audit_banner(run: RunData) -> str:
    """The run's audit, at the top of its report: a quiet line when it passed, a banner
    that cannot be missed when it failed (its violations) or was never audited."""
    audit = run.audit
    if audit.passed:
        return f'<p class="audit-ok">✓ {escape(audit.line())} (audit.json)</p>'
    if audit.state == VOID:
        return (
            f'<div class="audit-bad"><b>✗ {escape(audit.violations[0])}: the numbers in this '
            "report are not the ones audited.</b> Run it again to get audited numbers.</div>"
        )
    if audit.measured_nothing:
        return (
            '<div class="audit-bad"><b>✗ AUDIT FAILED: this run completed no round, so it '
            "measured nothing.</b> Its numbers are an empty run's (the initial model's metric, "
            f"the traffic of registering), not a result: {escape(audit.violations[0])}</div>"
        )
    if audit.failed:
        items = "".join(f"<li>{escape(v)}</li>" for v in audit.violations[:AUDIT_VIOLATIONS_SHOWN])
        more = len(audit.violations) - AUDIT_VIOLATIONS_SHOWN
        tail = f"<p>… and {more} more in audit.json</p>" if more > 0 else ""
        return (
            '<div class="audit-bad"><b>✗ AUDIT FAILED: the numbers in this report are wrong.</b>'
            f" {len(audit.violations)} violation(s) of the run's invariants (audit.json):"
            f"<ul>{items}</ul>{tail}</div>"
        )
    if audit.state == INCOMPLETE:
        return (
            '<div class="audit-bad"><b>⚠ INCOMPLETE AUDIT: the numbers in this report were '
            f"not all checked.</b> {escape(audit.note)} (audit.json).</div>"
        )
    return (
        '<div class="audit-bad"><b>⚠ NOT AUDITED: the numbers in this report were never '
        f"checked.</b> {escape(audit.note)}.</div>"
    )


def _cards(run: RunData) -> str:
    s = run.summary
    # No round's model accepted: the metric is the initial model's, not a result.
    final = f"final {run.metric_name}" if s.accepted_rounds else "initial model (none accepted)"
    items = [
        (final, format_value("m", s.final_metric)),
        (f"best {run.metric_name}", format_value("m", s.best_metric)),
        ("time to target", format_value("time_to_target_s", s.time_to_target_s)),
        ("bytes to target", format_value("bytes_to_target", s.bytes_to_target)),
        ("rounds", format_value("rounds", s.rounds)),
        ("simulated time", format_value("sim_time_s", s.sim_time_s)),
        ("devices", format_value("devices", s.devices)),
        ("dropouts", str(sum(s.dropouts.values()))),
        ("energy / device", format_value("energy_j_mean", s.energy_j_mean)),
    ]
    cards = "".join(
        f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for k, v in items
    )
    return f'<div class="cards">{cards}</div>'


def _summary_table(run: RunData) -> str:
    rows = []
    for key, value in run.summary.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else format_value(key, value)
        raw = "" if isinstance(value, dict | list | str) or value is None else str(value)
        rows.append((key, shown, raw))
    return html_table(["field", "value", "exact"], rows, "summary")


def _config_block(run: RunData) -> str:
    text = yaml.safe_dump(run.config, sort_keys=False) if run.config else "(no config.yaml)"
    summary = "<summary>Resolved config (config.yaml)</summary>"
    return f"<details open>{summary}<pre>{escape(text)}</pre></details>"


Section = tuple[str, Callable[[RunData], str]]
"""A report section: its heading and the function that renders its HTML for a run."""

RUN_SECTIONS: list[Section] = [
    ("Topology", lambda run: f'<div class="topo">{topology_svg(run)}</div>'),
    ("Where the bytes went", lambda run: ledger_html(run, heading=None)),
    ("Packets dropped and refused", packets_html),
    ("Participation by device group", participation_html),
    ("Summary", lambda run: _summary_table(run)),
    ("Tables", lambda run: _tables(run)),
    ("Configuration", lambda run: _config_block(run)),
]
"""The sections after the plots, in page order. A new section is one entry here."""


def _tables(run: RunData) -> str:
    return "".join(
        [
            _rows_table(run.rounds, "rounds", open_=len(run.rounds) <= 30),
            _rows_table(run.clients, "clients", open_=len(run.clients) <= 30),
            _rows_table(run.links, "links"),
        ]
    )


def _run_body(
    run: RunData, level: int = 1, figures: Sequence[tuple[str, str]] | None = None
) -> str:
    return _run_body_around(run, level)(figures_html(_drawn(run) if figures is None else figures))


def _run_body_around(run: RunData, level: int = 1) -> Callable[[str], str]:
    """Everything of a run's section but its figures, rendered now; the result puts the
    figures' HTML in place (so the page can be built while the figures are drawn)."""
    h, h2 = f"h{level}", f"h{level + 1}"
    s = run.summary
    sub = " · ".join(
        str(x)
        for x in (
            s.task,
            f"{s.engine} engine, {s.strategy}",
            words_for(run_transport(run.config)).stack,
            f"codec {s.codec}",
            f"seed {s.seed}",
        )
    )
    head = [
        f"<{h}>{escape(run.name)}</{h}>",
        f'<p class="sub">{escape(sub)} — {escape(str(run.path))}</p>',
        audit_banner(run),
        _cards(run),
        f"<{h2}>Plots</{h2}>",
    ]
    tail: list[str] = []
    for heading, render in RUN_SECTIONS:
        body = render(run)
        if not body:
            continue  # e.g. no ledger.csv in an older run's folder
        anchor = heading.lower().replace(" ", "-") if level == 1 else ""
        attr = f' id="{escape(anchor)}"' if anchor else ""
        tail += [f"<{h2}{attr}>{escape(heading)}</{h2}>", body]
    return lambda figures: "\n".join([*head, figures, *tail])


def _drawn(run: RunData) -> list[tuple[str, Figure]]:
    from fedsim.record.plots import run_figures

    return run_figures(run)


def write_report(run_dir: str | Path | RunData, svg_files: Sequence[Path] | None = None) -> Path:
    """Write `<run_dir>/report.html` and return its path.

    `svg_files`: the run's figures just written by `plot_run` (in figure order), inlined
    as they are instead of drawn again; without them the figures are drawn here."""
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    if svg_files is None:
        return _write_page(run, _run_body(run))
    return report_awaiting_figures(run)(svg_files)


def report_awaiting_figures(run: RunData) -> Callable[[Sequence[Path]], Path]:
    """report.html built now but for its figures; call the result with the SVG files (in
    figure order) once they are written: `fedsim run` builds the page while its plot
    helpers draw. The file is the one `write_report(run, svg_files)` writes."""
    body = _run_body_around(run)

    def finish(svg_files: Sequence[Path]) -> Path:
        figures = [(p.stem, inline_svg(p.read_text(encoding="utf-8"))) for p in svg_files]
        return _write_page(run, body(figures_html(figures)))

    return finish


def _write_page(run: RunData, body: str) -> Path:
    out = run.path / "report.html"
    title = f"fedsim report — {run.name}"
    if run.audit.failed:
        title = f"AUDIT {'VOID' if run.audit.state == VOID else 'FAILED'} — {title}"
    out.write_text(html_page(title, body), encoding="utf-8")
    return out


def compare_table_html(table: CompareTable) -> str:
    """The comparison as HTML: warnings, then quantities x runs with deltas."""
    shown = table.audit_warnings + table.warnings
    warn = "".join(f'<p class="warn">⚠ {escape(w)}</p>' for w in shown)
    headers = ["quantity"] + [table.header(i) for i in range(len(table.labels))]
    rows = [
        [q.label] + [table.cell_text(q, i) for i in range(len(table.labels))]
        for q in table.quantities
    ]
    note = f"<p>Baseline: <code>{escape(table.labels[0])}</code>; deltas are against it.</p>"
    below = "".join(f'<p class="sub">{escape(n)}</p>' for n in table.notes)
    return warn + note + html_table(headers, rows, "compare") + below


def _comparison_drawn(runs: Sequence[RunData]) -> list[tuple[str, Figure]]:
    from fedsim.record.plots import comparison_figures

    return comparison_figures(runs)


def write_comparison_report(run_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    """Write `<out_dir>/report.html` comparing the runs (first = baseline); returns its path."""
    table = compare_runs(run_dirs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        "<h1>Run comparison</h1>",
        f'<p class="sub">{len(table.runs)} runs: {escape(", ".join(table.labels))}</p>',
        compare_table_html(table),
        "<h2>Plots</h2>",
        figures_html(_comparison_drawn(table.runs)),
        "<h2>Runs</h2>",
    ]
    parts += [
        f"<details><summary>{escape(run.name)}</summary>{_run_body(run, 3)}</details>"
        for run in table.runs
    ]
    path = out / "report.html"
    path.write_text(html_page("fedsim comparison", "\n".join(parts)), encoding="utf-8")
    return path

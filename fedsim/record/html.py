"""The report's HTML building blocks: the page with its inline stylesheet, and tables.

Why a module of its own: every report section (run, comparison, sweep, participation,
byte ledger) builds on the same page and table helpers, and a section module must not
import the report that includes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

__all__ = ["html_page", "html_table", "inline_svg"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1180px;
padding:1rem 2rem;color:#222;line-height:1.4}
h1{margin-bottom:.2rem;overflow-wrap:anywhere}
h2{border-bottom:2px solid #0072B2;padding-bottom:.2rem;margin-top:2rem}
.sub{color:#666;margin-top:0;overflow-wrap:anywhere}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{background:#f2f6fa;position:sticky;top:0}
td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#fafafa}
.warn{background:#fff3e0;border-left:5px solid #D55E00;padding:.5rem 1rem;font-weight:600}
.alert{color:#D55E00;font-weight:600}
.audit-ok{color:#007a4d;font-weight:600;margin:.3rem 0}
.audit-bad{background:#fde8e8;border:3px solid #b00020;color:#5a0010;padding:.6rem 1rem;
margin:.6rem 0;font-size:1.05rem}
.audit-bad li{font-family:ui-monospace,monospace;font-size:.85rem}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(520px,100%),1fr));gap:1rem}
figure{margin:0;border:1px solid #e5e5e5;padding:.5rem;background:#fff;min-width:0}
figure.wide{grid-column:1/-1}
figure svg{width:100%;height:auto}
.scroll{overflow-x:auto;max-height:36rem;overflow-y:auto}
.topo{overflow:auto;max-height:48rem;border:1px solid #e5e5e5;padding:.5rem}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.4rem .8rem;min-width:9rem}
.card b{display:block;font-size:1.15rem}.card span{color:#666;font-size:.8rem}
.bar{display:inline-block;height:.7rem;background:#009E73;vertical-align:middle}
.pct{display:inline-block;min-width:3.2em}
.bar-bg{display:inline-block;width:6rem;background:#eee;margin-right:.4rem;text-align:left}
table.never td,table.never th{text-align:left}
table.groups td:nth-child(-n+5),table.groups th:nth-child(-n+5){text-align:left}
table.groups td,table.never td:nth-child(-n+4){white-space:nowrap}
pre{background:#f6f8fa;padding:1rem;overflow-x:auto;font-size:.8rem}
details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}
"""


def html_page(title: str, body: str) -> str:
    """A complete HTML document with the inline stylesheet."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


_PLAIN = (int, float)
"""Cell types written as they are: their text never holds a character HTML escapes
(report.html's tables of a 1,000-device run have ~70,000 cells, most of them numbers)."""


def html_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "", raw: bool = False
) -> str:
    """A plain table in a scroll box; None shows as an em dash. Cells are escaped unless
    `raw` (the caller built them as HTML)."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)

    def cell(c: Any) -> str:
        if c is None:
            return "—"
        if raw or type(c) in _PLAIN:  # a number's text has nothing to escape
            return str(c)
        return escape(str(c))

    body = "".join(
        "<tr><td>" + "</td><td>".join([cell(c) for c in row]) + "</td></tr>" if row else "<tr></tr>"
        for row in rows
    )
    attr = f' class="{cls}"' if cls else ""
    table = f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def inline_svg(document: str) -> str:
    """An SVG file's text without its XML prologue, ready to inline in HTML."""
    return document[document.index("<svg") :]

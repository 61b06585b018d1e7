"""Headless Chromium for report tests: render a page, or measure its layout.

Why measure in a real browser: whether a report fits the screen is a property of layout
(fonts, CSS grid, SVG scaling), which only a browser computes. The report itself has no
JavaScript; `layout_probe` renders a copy with a small script appended that writes the
measurements into the DOM, which `--dump-dom` then returns.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "chromium", "layout_probe", "screenshot"]

CHROMIUM = next(
    (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None
)

_PROBE = """<script>
(function () {
  const vw = document.documentElement.clientWidth;
  const topo = document.querySelector('.topo');
  const box = topo ? topo.getBoundingClientRect() : null;
  const out = {viewport: vw, scroll_width: document.documentElement.scrollWidth,
               wide: [], hidden_nodes: [], nodes: 0};
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 1 || r.left < -1) && !el.closest('.scroll, pre'))
      out.wide.push(el.tagName + '.' + (el.getAttribute('class') || '') + '#' + (el.id || ''));
  }
  for (const el of document.querySelectorAll('.node-server, .node-gateway')) {
    out.nodes += 1;
    const r = el.getBoundingClientRect();
    if (!box || r.left < box.left - 1 || r.right > box.right + 1)
      out.hidden_nodes.push(el.textContent);
  }
  const pre = document.createElement('pre');
  pre.id = 'layout-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a throw-away profile; the test fails without one."""
    assert CHROMIUM is not None, "these tests need chromium on PATH (apt-get install chromium)"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def layout_probe(page: Path, width: int, height: int = 900) -> dict[str, Any]:
    """Render `page` at `width` x `height` CSS px: viewport and document widths, the
    elements (outside scroll boxes) that stick out of the viewport, and the server and
    gateway nodes not inside the topology box."""
    probe = page.with_name(page.stem + "-probe.html")
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    res = chromium(f"--window-size={width},{height}", "--dump-dom", probe.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', res.stdout, re.S)
    assert found, "the layout probe did not run"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, out: Path, width: int, height: int) -> Path:
    res = chromium(f"--window-size={width},{height}", f"--screenshot={out}", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    return out

"""Check that a report renders in headless Chromium: the page loads, every image decodes, and
the console stays silent.

The report has no scripts, so the check loads a *copy* of it with a small script appended that,
on ``load``, counts images whose ``naturalWidth`` is 0 and writes the counts into the DOM;
``--dump-dom`` prints the DOM and ``--enable-logging=stderr`` prints console messages, which
are all errors for a script-free page (blocked resources, decoding failures). No DevTools client
or extra dependency is needed. Debian's ``chromium`` is installed by ``scripts/setup-browser.sh``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
)

_PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const out = document.createElement('pre');
  out.id = 'rlopt-render-check';
  out.textContent = JSON.stringify({
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    height: document.body.scrollHeight,
    text: document.body.innerText.length,
  });
  document.body.appendChild(out);
});
</script>"""


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def render_check(html_path: str | Path, chromium: str | None = None, timeout: float = 90.0) -> dict:
    """Load ``html_path`` in headless Chromium and report what rendered.

    Returns
    -------
    dict
        ``images`` (count), ``broken`` (alt texts of images that did not decode), ``height``
        (page height in px), ``text`` (visible characters), ``console`` (console messages) and
        ``dom`` (the dumped DOM).
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("chromium not found (install it with scripts/setup-browser.sh)")
    page = Path(html_path).read_text(encoding="utf-8")
    probed = page.replace("</body>", _PROBE + "</body>", 1) if "</body>" in page else page + _PROBE
    with tempfile.TemporaryDirectory(prefix="rlopt-chromium-") as tmp:
        probe_path = Path(tmp) / "page.html"
        probe_path.write_text(probed, encoding="utf-8")
        proc = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", probe_path.as_uri()],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    match = re.search(r'<pre id="rlopt-render-check">(.*?)</pre>', proc.stdout, re.S)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"chromium did not render the page (exit {proc.returncode}): {proc.stderr[-2000:]}")
    result = json.loads(html.unescape(match.group(1)))
    result["console"] = re.findall(r":CONSOLE[^\]]*\] (.*)", proc.stderr)
    result["dom"] = proc.stdout
    return result

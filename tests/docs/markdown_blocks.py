"""Read the repository's Markdown the way the docs tests need it: code blocks, links, headings."""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: A fence opening or closing line (``` or ~~~, any info string).
_FENCE = re.compile(r"^\s*(```|~~~)")
#: The marker that skips the next ```python block; the reason after the colon is required.
NO_TEST = re.compile(r"<!--\s*no-test:(.*?)-->")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"`+[^`]*`+")


@dataclass(frozen=True)
class Block:
    """One fenced ```python block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    code: str
    skip_reason: str | None  # the no-test marker's reason, None when the block runs


def markdown_files() -> list[Path]:
    """README.md and every Markdown file under docs/, sorted."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of ``path`` in order, each with the no-test reason that precedes it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if not _FENCE.match(lines[i]):
            i += 1
            continue
        start, lang = i, lines[i].strip().lstrip("`~").strip().lower()
        i += 1
        body = []
        while i < len(lines) and not _FENCE.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        if lang != "python":
            continue
        prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        marker = NO_TEST.search(prev)
        blocks.append(Block(path, start + 1, "\n".join(body) + "\n",
                            marker.group(1).strip() if marker else None))
    return blocks


def prose(path: Path) -> str:
    """The text of ``path`` without fenced code, indented code or inline code (links live in prose)."""
    out, in_fence = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or line.startswith("    ") and not line.lstrip().startswith(("-", "*", "|", "[")):
            continue
        out.append(_INLINE_CODE.sub("", line))
    return "\n".join(out)


def relative_links(path: Path) -> list[str]:
    """Every link target in ``path``'s prose that is not a URL (``http:``, ``mailto:``, ...)."""
    return [t for t in _LINK.findall(prose(path)) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def slug(heading: str) -> str:
    """The anchor Python-Markdown's ``toc`` extension gives a heading (its default slugify)."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file (inline code kept as its text, as the toc does)."""
    found = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
            found.add(slug(m.group(1).replace("`", "")))
    return found


def generated_pages() -> list[str]:
    """The pages ``scripts/docs_hooks.py`` adds at build time (paths under docs/), read from its source."""
    tree = ast.parse((ROOT / "scripts" / "docs_hooks.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "GENERATED_PAGES" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("scripts/docs_hooks.py has no GENERATED_PAGES")

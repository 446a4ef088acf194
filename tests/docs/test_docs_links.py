"""Every relative link in README.md and docs/ points at a file that exists (and a heading that does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.markdown_blocks import (
    DOCS,
    ROOT,
    anchors,
    generated_pages,
    markdown_files,
    relative_links,
    slug,
)

GENERATED = {(DOCS / p).resolve() for p in generated_pages()}
FILES = markdown_files()


def _problems(page: Path) -> list[str]:
    problems = []
    for target in relative_links(page):
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page.resolve()
        if dest in GENERATED:
            continue  # built by scripts/docs_hooks.py; mkdocs --strict checks links into it
        if not dest.exists():
            problems.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: no heading '#{anchor}' in {dest.name}")
    return problems


def test_the_link_checker_reads_links():
    assert sum(len(relative_links(p)) for p in FILES) >= 30
    readme = relative_links(ROOT / "README.md")
    assert "docs/guides/data.md" in readme and "CHANGELOG.md" in readme


def test_the_link_checker_catches_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n\nSee [there](missing.md), [here](#top) and [nope](#bottom).\n", encoding="utf-8")
    assert [p.split(":")[0] for p in _problems(page)] == ["missing.md", "#bottom"]


def test_slug_matches_the_toc_extension():
    assert slug("The loop: `rlopt run`".replace("`", "")) == "the-loop-rlopt-run"
    assert slug("Simulated marketplace (`bench_simulate`)".replace("`", "")) == "simulated-marketplace-bench_simulate"


@pytest.mark.parametrize("page", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    assert _problems(page) == []

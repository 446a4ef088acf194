"""The Python examples of README.md and docs/ run as written, from a folder that has ``examples/``.

Each page's blocks run in order in one namespace (a later block may use an earlier one's names),
with the working directory a fresh temporary folder holding links to the repository's
``examples/`` and ``experiments/``, so the examples' relative paths work and their outputs land
in the temporary folder. A block preceded by ``<!-- no-test: REASON -->`` is skipped; the reason
is required.
"""

from __future__ import annotations

import pytest

from tests.docs.markdown_blocks import ROOT, markdown_files, python_blocks

PAGES = {p: python_blocks(p) for p in markdown_files()}
RUNNABLE = {p: bs for p, bs in PAGES.items() if any(b.skip_reason is None for b in bs)}


def _id(path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_guides_have_examples_to_run():
    """Guards against an extractor that silently finds nothing (e.g. after a fence-style change)."""
    runnable = sum(b.skip_reason is None for bs in PAGES.values() for b in bs)
    assert runnable >= 8, f"only {runnable} runnable ```python blocks found in README.md and docs/"
    assert {"data.md", "market.md", "ope.md", "ab.md", "bandits.md"} <= {p.name for p in RUNNABLE}


def test_every_skipped_example_says_why():
    skipped = [b for bs in PAGES.values() for b in bs if b.skip_reason is not None]
    for b in skipped:
        assert len(b.skip_reason) >= 10, f"{_id(b.path)}:{b.line}: a no-test marker needs a reason"


@pytest.mark.parametrize("page", sorted(RUNNABLE), ids=_id)
def test_page_examples_run(page, tmp_path, monkeypatch):
    for name in ("examples", "experiments"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs_example__"}
    for block in RUNNABLE[page]:
        if block.skip_reason is not None:
            continue
        code = compile(block.code, f"{_id(page)}:{block.line}", "exec")
        try:
            exec(code, namespace)  # running the documented example is the test
        except Exception as err:  # name the page and line, then fail with the original error
            raise AssertionError(f"example at {_id(page)}, line {block.line} failed: {err!r}") from err

"""MkDocs hooks: pages generated from the repository at build time, so they cannot go stale.

- ``results.md``: every table from the measurement JSONs (:mod:`gen_results_page`).
- ``guides/config-reference.md``: every ``rlopt run`` config key with its default and help, from
  the dataclasses in :mod:`rlopt.pipeline.config`.
- ``records/tuning.md``: the tuning experiment scripts, ``experiments/tuning/README.md``, as written.

``mkdocs.yml`` names this file under ``hooks:``; MkDocs puts this folder on ``sys.path`` while it
loads the file, which is how ``gen_results_page`` is found.
"""

from __future__ import annotations

from gen_results_page import ROOT, results_markdown
from mkdocs.structure.files import File, Files

#: The pages this hook adds (paths under docs/); :func:`page_text` writes each.
GENERATED_PAGES = ("results.md", "guides/config-reference.md", "records/tuning.md")


def config_reference() -> str:
    """The config-key tables of ``rlopt run``, with a short header."""
    from rlopt.pipeline.config import describe_fields

    return (
        "# Config reference\n\n"
        "Every section and key of an `rlopt run` experiment file, generated from the dataclasses in "
        "`rlopt/pipeline/config.py` when the docs are built. A key that is not listed is an error that "
        "names it and the valid keys (exit code 2). How the sections fit together: "
        "[The loop](pipeline.md).\n\n" + describe_fields()
    )


def tuning_record() -> str:
    """The tuning experiments' README (what each script does, how to run it), or a note where it is missing."""
    path = ROOT / "experiments" / "tuning" / "README.md"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return ("# Tuning experiments\n\n`experiments/tuning/README.md` is not in this checkout; "
            "git history keeps it.\n")


def page_text(src_uri: str) -> str:
    """The Markdown of one generated page."""
    if src_uri == "results.md":
        return results_markdown(ROOT)
    if src_uri == "guides/config-reference.md":
        return config_reference()
    if src_uri == "records/tuning.md":
        return tuning_record()
    raise KeyError(src_uri)


def on_files(files: Files, config) -> Files:
    """Add the generated pages to the site (MkDocs hook)."""
    for src_uri in GENERATED_PAGES:
        if files.get_file_from_path(src_uri) is not None:
            raise RuntimeError(f"docs/{src_uri} is generated; delete the file in docs/")
        files.append(File.generated(config, src_uri, content=page_text(src_uri)))
    return files


__all__ = ["GENERATED_PAGES", "on_files", "page_text"]

"""<run>/log.txt: every stage line and every rlopt log record in full; console output unchanged."""

from __future__ import annotations

import logging
import warnings

from rlopt.pipeline.runlog import LOG_NAME, run_log


def test_lines_records_and_warnings_reach_the_file_only(tmp_path):
    shown: list[str] = []
    before = logging.getLogger("rlopt").level
    with run_log(tmp_path, shown.append) as log:
        log("[data] running")
        logging.getLogger("rlopt.tuning").info("step 3 {'loss': 0.69, 'grad_norm': 1.2}")
        warnings.warn("a library said something", UserWarning, stacklevel=1)
    text = (tmp_path / LOG_NAME).read_text(encoding="utf-8")
    assert shown == ["[data] running"]  # the console sees the stage line only
    assert "[data] running" in text and "'grad_norm': 1.2" in text and "a library said something" in text
    assert logging.getLogger("rlopt").level == before  # restored: a second run starts clean
    assert not any(isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is not None
                   and getattr(h.stream, "name", "") == str(tmp_path / LOG_NAME)
                   for h in logging.getLogger("rlopt").handlers)


def test_reruns_append(tmp_path):
    for word in ("first", "second"):
        with run_log(tmp_path, lambda line: None) as log:
            log(word)
    text = (tmp_path / LOG_NAME).read_text(encoding="utf-8")
    assert text.index("first") < text.index("second") and text.count("run started") == 2

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


def _quiet_console():
    import io

    from rich.console import Console

    return Console(file=io.StringIO(), force_terminal=False)


def test_detail_lines_go_to_the_file_and_the_live_status_only(tmp_path):
    from rlopt.live import active, live_progress

    shown: list[str] = []
    with live_progress(_quiet_console()), run_log(tmp_path, shown.append) as log:
        log.detail("[data] running")  # before the stage's live line: the file only
        with log.stage("data"):
            log.detail("[data] simulating 12,000 impressions")
            task = active().tasks[0]
            assert task.description == "[data]" and task.fields["status"] == "[data] simulating 12,000 impressions"
        assert active().tasks == []  # the stage's live line is gone when the stage ends
        log("[data] done in 0.2s")
    assert shown == ["[data] done in 0.2s"]
    text = (tmp_path / LOG_NAME).read_text(encoding="utf-8")
    assert "[data] running" in text and "simulating 12,000 impressions" in text and "done in 0.2s" in text


def test_without_a_live_display_detail_lines_are_printed(tmp_path):
    shown: list[str] = []
    with run_log(tmp_path, shown.append) as log, log.stage("data"):
        log.detail("[data] simulating")
    assert shown == ["[data] simulating"]


def test_tuning_bar_is_a_task_of_the_live_display(tmp_path):
    from types import SimpleNamespace

    from rlopt.live import active, live_progress
    from rlopt.tuning.progress import RichProgressCallback

    state = SimpleNamespace(max_steps=4, global_step=0, is_world_process_zero=True)
    callback = RichProgressCallback("tune dpo")
    with live_progress(_quiet_console()):
        callback.on_train_begin(None, state, None)
        state.global_step = 2
        callback.on_log(None, state, None, logs={"loss": 0.6931, "rewards/margins": 0.0123})
        (task,) = active().tasks
        assert task.description == "tune dpo" and task.completed == 2 and task.total == 4
        assert task.fields["status"] == "loss 0.6931 margin 0.0123"
        callback.on_train_end(None, state, None)
        assert active().tasks == []

"""The one switch for library chatter: quiet by default, everything with ``-v`` / ``RLOPT_VERBOSE=1``.

transformers, TRL, PEFT, datasets and huggingface_hub each print their own way: Python warnings
(``FutureWarning: ... is deprecated``), their loggers (``logger.warning_once``), and tqdm bars
("Loading weights", "Converting and de-quantizing GGUF tensors", "Tokenizing train dataset",
"Writing model shards"). rlopt shows its own progress (:mod:`rlopt.tuning.progress`, rich bars
in the commands), so by default :func:`configure_library_output` hides all of that:

- environment variables the libraries read at import time (``TRANSFORMERS_VERBOSITY``,
  ``HF_HUB_DISABLE_PROGRESS_BARS``, ``HF_DATASETS_DISABLE_PROGRESS_BARS``, ...), set only when the
  user has not set them, so nothing is imported just to silence it;
- the same switches called directly for a library that is already imported;
- ``warnings`` filters for the libraries' modules only: rlopt's own warnings
  (e.g. :class:`rlopt.tuning.common.CheckpointWarning`) still show.

Verbose mode leaves every library at its own default.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

VERBOSE_ENV = "RLOPT_VERBOSE"
_state = {"quiet": False}  # set by configure_library_output; library use without it changes nothing
# Modules whose warnings are library noise to an rlopt user (matched at the start of the module name).
QUIET_MODULES = ("transformers", "trl", "peft", "accelerate", "datasets", "huggingface_hub", "torch", "gguf",
                 "tokenizers", "safetensors")
_QUIET_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers' own bars follow this switch too
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "DATASETS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",  # else tokenizers warns after every fork
}


def verbose_requested() -> bool:
    """True when ``RLOPT_VERBOSE`` is set to anything but ``""`` / ``"0"``."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def output_is_verbose() -> bool:
    """Whether this process shows everything (``-v``): True unless :func:`configure_library_output` made it quiet."""
    return not _state["quiet"]


def configure_library_output(verbose: bool | None = None) -> bool:
    """Hide (or, verbose, leave) third-party warnings, log lines and progress bars; return ``verbose``.

    Parameters
    ----------
    verbose : bool, optional
        None reads :func:`verbose_requested`. True changes nothing (the libraries' defaults show).
    """
    if verbose is None:
        verbose = verbose_requested()
    _state["quiet"] = not verbose
    if verbose:
        return True
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    pattern = r"^(" + "|".join(QUIET_MODULES) + r")(\.|$)"
    for category in (FutureWarning, DeprecationWarning, UserWarning, RuntimeWarning):
        warnings.filterwarnings("ignore", category=category, module=pattern)
    for name in QUIET_MODULES:  # their loggers, whether or not they are imported yet
        logging.getLogger(name).setLevel(logging.ERROR)
    _quiet_imported()
    return False


def _quiet_imported() -> None:
    """Call the libraries' own switches where a library was imported before the environment was set."""
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()


@contextlib.contextmanager
def no_raw_tqdm(module_name: str) -> Iterator[None]:
    """Silence the plain ``tqdm`` bars of one library module while the block runs (quiet mode only).

    A few library loops call ``tqdm.auto.tqdm`` directly (transformers' "Converting and
    de-quantizing GGUF tensors"), which no library switch reaches; the module's ``tqdm`` name is
    swapped for a disabled one and restored after.
    """
    module = importlib.import_module(module_name) if _state["quiet"] else None
    original = getattr(module, "tqdm", None)
    if original is None:
        yield
        return
    module.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        module.tqdm = original

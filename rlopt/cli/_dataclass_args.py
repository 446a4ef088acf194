"""Command-line options generated from a config dataclass (``HfArgumentParser``, as TRL's scripts do).

``rlopt tune`` (the method's ``Rlopt*Config``) and ``rlopt reward train`` (``TrainConfig``) are built
here, so each field is an option (``--max-steps`` and ``--max_steps``) under the same name as its key
in the experiment TOML, and only the options given come back (the config class, or a preset, fills
the rest). The inputs of a command (files, ``--out``, ``--json``) go in a separate group.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
from collections.abc import Callable, Iterable
from typing import Any

from rlopt.errors import InputError


def field_defaults(cls: type) -> dict[str, Any]:
    """``{field: default}`` of a dataclass (factories called)."""
    return {f.name: (f.default_factory() if f.default is dataclasses.MISSING  # type: ignore[misc]
                     else f.default) for f in dataclasses.fields(cls)}


def _json_table(text: str) -> dict[str, Any]:
    """A dict-typed field on the command line: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not a JSON object: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("not a JSON object")
    return value


def dataclass_parser(cls: type, *, prog: str, usage: str, description: str, epilog: str, rule: str,
                     drop: Iterable[str] = (), help_default: Callable[[str, Any], str] | None = None):
    """An ``HfArgumentParser`` with one option per field of ``cls`` except ``drop``.

    Field options default to ``argparse.SUPPRESS`` (the namespace holds only what was given); their
    help ends with ``help_default(name, default)`` (default: `` (default: X)``); dict fields take a
    JSON object; a prefix of an option is not taken for it (``--max-epoch`` is an error); a parse error is an :class:`InputError` (one paragraph, exit 2) whose rule is
    ``rule``. Returns ``(parser, inputs)``: ``inputs`` is the group for the command's own options,
    listed first in ``--help``.
    """
    from transformers import HfArgumentParser

    class _Parser(HfArgumentParser):
        """Errors are InputErrors, not argparse's exit."""

        def error(self, message: str):
            raise InputError(f"{prog}: {message}", rule=rule)

    parser = _Parser(cls, prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter, usage=usage,
                     description=description, epilog=epilog, allow_abbrev=False)  # a prefix is a typo, not a field
    defaults = field_defaults(cls)
    drop = set(drop)
    for action in list(parser._actions):
        if action.dest in drop:  # argparse has no public remove; the conflict handler does this
            parser._remove_action(action)
            for group in parser._action_groups:
                if action in group._group_actions:
                    group._group_actions.remove(action)
            for flag in action.option_strings:
                parser._option_string_actions.pop(flag, None)
        elif action.dest in defaults and action.option_strings:
            if not action.option_strings[0].startswith("--no"):
                extra = (help_default(action.dest, defaults[action.dest]) if help_default
                         else f" (default: {defaults[action.dest]!r})".replace("%", "%%"))
                action.help = (action.help or "") + extra
            if isinstance(defaults[action.dest], dict):
                action.type = _json_table
            action.default = argparse.SUPPRESS
    inputs = parser.add_argument_group("inputs (not config fields)")
    parser._action_groups.insert(0, parser._action_groups.pop())  # the inputs first in --help
    return parser, inputs


def add_alias(parser: argparse.ArgumentParser, flag: str, alias: str) -> None:
    """Let ``alias`` spell the option ``flag`` too (an older name kept working)."""
    action = parser._option_string_actions[flag]
    action.option_strings.append(alias)
    parser._option_string_actions[alias] = action


def unknown_option(flag: str, options: Iterable[str], *, command: str, rule: str,
                   why: str | None = None) -> InputError:
    """An option that is not one of ``options`` (field and input names): close matches named."""
    name = flag.lstrip("-").split("=")[0].replace("-", "_")
    if why is None:
        close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.75)
        why = f"unknown option {flag}" + (f"; did you mean {' or '.join('--' + c.replace('_', '-') for c in close)}?"
                                         if close else "")
    return InputError(f"{why} (every option: {command} --help)", key=flag, rule=rule)

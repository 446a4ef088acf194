"""Public names of a package, imported from their modules on first use (PEP 562).

An area's ``__init__`` lists what it offers without importing it: ``import rlopt.generation.prompts``
then costs only that module (not torch and transformers), and no import circle can start in an
``__init__`` (it imports nothing at load time).

>>> getattr_, dir_ = lazy_exports("rlopt", {"InputError": "errors"})
>>> getattr_("InputError").__name__
'InputError'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: name -> ``package.<module>``'s attribute of that name."""
    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__

"""Modules imported on first use, so that start-up pays only for what a command uses.

``docker = Deferred(_import_docker)`` binds a stand-in that calls ``_import_docker`` (a
function made of plain ``import`` statements: no module name is ever computed) the first
time one of its attributes is read, then hands every attribute access, read or write, to
the module it returned. Type checkers see the real import (``if TYPE_CHECKING: import
docker``); at run time the stand-in costs one attribute look-up per use. The import goes
through Python's import system, which lets one thread at a time execute a module, so two
threads using a stand-in at once both get the same, fully imported module.

Why: the docker SDK (with requests), PyYAML and the like take 0.1-0.2 s to import, which
``repro inspect`` never needs and ``repro pack`` needs only once it talks to the engine
(docs/performance.md, "Start-up").
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any


class Deferred:
    """The module ``load()`` imports and returns, imported when first used."""

    __slots__ = ("_load", "_loaded")

    def __init__(self, load: Callable[[], ModuleType]) -> None:
        object.__setattr__(self, "_load", load)
        object.__setattr__(self, "_loaded", None)

    def _module(self) -> ModuleType:
        module: ModuleType | None = object.__getattribute__(self, "_loaded")
        if module is None:
            module = object.__getattribute__(self, "_load")()
            object.__setattr__(self, "_loaded", module)
        return module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._module(), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(self._module(), attr)

    def __repr__(self) -> str:
        loaded = object.__getattribute__(self, "_loaded")
        return f"<deferred {loaded!r}>" if loaded is not None else "<deferred module>"

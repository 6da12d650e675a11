"""Import names → distributions, from data shipped in the package (pure).

``repro/data/import_map.json`` maps import paths (``cv2``, ``google.protobuf``) to the
distribution that provides them; ``repro/data/stdlib.json`` lists the standard library of
Python 2 and 3. A module that neither knows is *unresolved*: reported, never guessed as a
same-named PyPI project (that guess is how dependency-confusion attacks land).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

Kind = Literal["stdlib", "dist", "unavailable", "unknown"]


@dataclass(frozen=True, kw_only=True)
class Mapped:
    kind: Kind
    module: str  # the import path that matched (may be shorter than the one asked for)
    dist: str = ""  # distribution name, for kind == "dist"
    reason: str = ""  # why it is unavailable / unknown


def load_json(name: str) -> Any:
    """A data file shipped in ``repro/data``."""
    return json.loads(resources.files("repro.data").joinpath(name).read_text("utf-8"))


@cache
def _import_map() -> tuple[dict[str, str], frozenset[str], dict[str, str]]:
    data = load_json("import_map.json")
    return dict(data["modules"]), frozenset(data["namespaces"]), dict(data["not_on_pypi"])


@cache
def stdlib_names(python_major: int) -> frozenset[str]:
    data = load_json("stdlib.json")
    return frozenset(data["python2" if python_major == 2 else "python3"])


def is_stdlib(module: str, python_major: int = 3) -> bool:
    return module.split(".")[0] in stdlib_names(python_major)


def lookup(module: str, python_major: int = 3) -> Mapped:
    """Classify one absolute import path."""
    top = module.split(".")[0]
    if top in stdlib_names(python_major):
        return Mapped(kind="stdlib", module=top)
    modules, namespaces, unavailable = _import_map()
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        prefix = ".".join(parts[:size])
        if prefix in unavailable:
            return Mapped(kind="unavailable", module=prefix, reason=unavailable[prefix])
        if prefix in modules:
            return Mapped(kind="dist", module=prefix, dist=modules[prefix])
        if prefix in namespaces:
            return Mapped(
                kind="unknown",
                module=module,
                reason=f"{prefix!r} is a namespace shared by many distributions "
                f"and no known one provides {module!r}",
            )
    return Mapped(kind="unknown", module=top, reason=f"no known distribution provides {top!r}")


def distributions_for(dist: str) -> list[str]:
    """Import names known to come from ``dist`` (for messages and repair)."""
    from packaging.utils import canonicalize_name

    want = canonicalize_name(dist)
    modules, _, _ = _import_map()
    return sorted(m for m, d in modules.items() if canonicalize_name(d) == want)

"""Which import paths a distribution's files provide (pure).

From the member list of a wheel (or an egg, or the files an installed distribution's
RECORD names), the importable names are its ``*.py`` modules, extension modules and
packages; a folder without ``__init__.py`` is a namespace package, so the names below it
are claimed by their full dotted path (``google/protobuf/…`` claims ``google.protobuf``).
An sdist's members are first laid out as they would install: the ``NAME-VERSION/`` root
dropped, a ``src/`` (or ``lib/``) layout's folder taken as the root, and the build
helpers an sdist keeps beside its code (``setup.py``, ``ez_setup.py``, ``conftest.py``, …)
left out.

Used by the verified import look-up (repro/lookup.py) and by scripts/gen_import_map.py.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

Kind = Literal["wheel", "egg", "sdist"]
_SDIST = re.compile(r"\.(tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|tar|zip)$", re.I)


@dataclass(frozen=True, kw_only=True)
class Listing:
    """What one release file holds."""

    filename: str
    kind: Kind
    files: tuple[str, ...]  # member paths as the archive names them
    top_level: tuple[str, ...] = ()  # the lines of its top_level.txt, when one was read
    requests: int = 0  # HTTP requests it took


def kind_of(filename: str) -> Kind | None:
    """``wheel``, ``egg`` or ``sdist`` by the file's name; None for anything else
    (Windows installers, ``.rpm``, ``.dmg``: not listable, not what pip installs)."""
    lower = filename.lower()
    if lower.endswith(".whl"):
        return "wheel"
    if lower.endswith(".egg"):
        return "egg"
    if _SDIST.search(lower):
        return "sdist"
    return None


# Top-level folders that sloppy wheels ship but nobody imports from them.
JUNK = frozenset(
    {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "benchmark",
     "scripts", "bin", "build", "dist", "tools", "share", "include", "lib", "licenses", "data"}
)  # fmt: skip
# Modules an sdist carries at its root to build or test itself; installed by none.
SDIST_HELPERS = frozenset(
    {"setup", "ez_setup", "distribute_setup", "conftest", "versioneer", "noxfile", "tasks",
     "fabfile", "runtests", "run_tests", "setup_helpers", "bootstrap", "pavement", "build_ext"}
)  # fmt: skip
EXTENSION = re.compile(r"^([A-Za-z_][\w]*)(?:\.[\w\-]+)?\.(?:so|pyd)$")
# Folders an sdist's package_dir points at (``package_dir={"": "lib"}``), read beside
# its root; a ``src/`` layout replaces the root instead.
_SDIST_ROOTS = ("lib", "python")


def importable_files(paths: Iterable[str]) -> list[str]:
    """Paths of a distribution's files as they sit in site-packages (``.data/purelib``
    folded in, metadata, scripts and caches dropped)."""
    out = []
    for path in paths:
        parts = PurePosixPath(path).parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".egg-info")):
            continue
        if parts[0] == "EGG-INFO":
            continue
        if parts[0].endswith(".data"):
            if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
                parts = parts[2:]
            else:
                continue
        if "__pycache__" in parts:
            continue
        out.append("/".join(parts))
    return out


def claims(files: list[str]) -> dict[str, set[str]]:
    """Import paths a distribution provides → the files below each one.

    A module file or a folder with ``__init__.py`` is claimed by its own name; a folder
    without one is a namespace, and what lies below it is claimed by its dotted path.
    """
    is_pkg = {str(PurePosixPath(f).parent) for f in files if PurePosixPath(f).name == "__init__.py"}
    has_code = set()
    for f in files:
        if f.endswith((".py", ".pyi")) or EXTENSION.match(PurePosixPath(f).name):
            for parent in PurePosixPath(f).parents:
                has_code.add(str(parent))
    result: dict[str, set[str]] = defaultdict(set)
    for f in files:
        parts = PurePosixPath(f).parts
        name = parts[-1]
        # find the shallowest regular package or module on the path
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if depth == len(parts):
                m = EXTENSION.match(name)
                mod = name[:-3] if name.endswith(".py") else (m.group(1) if m else None)
                if mod and mod != "__init__" and mod.isidentifier():
                    dotted = ".".join([*parts[: depth - 1], mod])
                    if all(p.isidentifier() for p in parts[: depth - 1]):
                        result[dotted].add(f)
                break
            if not parts[depth - 1].isidentifier():
                break
            if prefix in is_pkg:
                result[prefix.replace("/", ".")].add(f)
                break
            if prefix not in has_code:
                break
    return {k: v for k, v in result.items() if k.split(".")[0] not in JUNK}


def sdist_files(members: Iterable[str]) -> list[str]:
    """An sdist's members laid out as they would install (see the module docstring)."""
    paths = [m for m in members if m and not m.endswith("/")]
    roots = {p.split("/", 1)[0] for p in paths}
    if len(roots) == 1 and all("/" in p for p in paths):
        paths = [p.split("/", 1)[1] for p in paths]  # NAME-VERSION/…
    src = importable_files(p[4:] for p in paths if p.startswith("src/"))
    if claims(src):
        return src  # a src layout: nothing at the root installs
    out = []
    for path in importable_files(paths):
        if "/" not in path and PurePosixPath(path).stem in SDIST_HELPERS:
            continue
        out.append(path)
    for root in _SDIST_ROOTS:
        out += importable_files(p[len(root) + 1 :] for p in paths if p.startswith(root + "/"))
    return out


def provides(claimed: Iterable[str], module: str) -> str | None:
    """The claimed import path that ``module`` (dotted) is, or lies below; None if none."""
    have = set(claimed)
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        prefix = ".".join(parts[:size])
        if prefix in have:
            return prefix
    return None


def release_of(filename: str) -> tuple[int, Version | None]:
    """(rank, version) of a release file: rank 0 for a pure-Python wheel, 1 for another
    wheel, 2 for an sdist (the order to list them in); version None when the name says
    none (an egg, an installer, a name that does not parse)."""
    kind = kind_of(filename)
    try:
        if kind == "wheel":
            _, version, _, tags = parse_wheel_filename(filename)
            return (0 if any(t.platform == "any" for t in tags) else 1), version
        if kind == "sdist":
            return 2, parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        pass
    return 9, None


def holds_module(listing: Listing, module: str) -> bool:
    """Whether the release file ``listing`` ships the dotted ``module`` itself (its ``.py``,
    its package folder or an extension module), not only a package above it."""
    files = (
        sdist_files(listing.files) if listing.kind == "sdist" else importable_files(listing.files)
    )
    path = PurePosixPath(*module.split("."))
    for f in files:
        here = PurePosixPath(f)
        if here == path.with_suffix(".py") or path in here.parents:
            return True
        m = EXTENSION.match(here.name)
        if m and m.group(1) == path.name and here.parent == path.parent:
            return True
    return False

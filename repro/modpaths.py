"""Module paths by version: which releases of a library ship an import path (pure).

``repro/data/module_paths.zip`` (made by scripts/gen_module_paths.py from the file
lists of real release files on PyPI) records, for the libraries research code uses most,
the import paths whose presence changes from one minor release to the next. An import of
one bounds the library: ``import sklearn.cross_validation`` needs scikit-learn < 0.20
(0.19.2's wheel lists ``sklearn/cross_validation.py``; 0.20.4's does not); ``from
sklearn.model_selection import ...`` needs >= 0.18. Each bound cites the two release files
anyone can list again to check it.
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from dataclasses import dataclass
from functools import cache
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import datafiles

DATA = "module_paths.zip"
PREFIX = "module-path:"  # the rule id of a bound from this data: module-path:DIST:PATH


@dataclass(frozen=True, kw_only=True)
class PathBound:
    library: str  # the distribution, as PyPI names it
    path: str  # the import path the data knows (the module imported, or a package above)
    specifier: str  # PEP 440: the versions that ship it
    why: str  # which releases ship it, and which file lists say so
    source: str  # a PyPI page whose files show it

    @property
    def rule(self) -> str:
        return f"{PREFIX}{canonicalize_name(self.library)}:{self.path}"


@cache
def _blob() -> bytes | None:
    try:
        return datafiles.read_bytes(DATA)
    except FileNotFoundError:
        return None


def _archive() -> zipfile.ZipFile | None:
    blob = _blob()
    return None if blob is None else zipfile.ZipFile(io.BytesIO(blob))


@cache
def libraries() -> frozenset[str]:
    """Canonical names of the libraries the data covers (its index only is read)."""
    archive = _archive()
    if archive is None:
        return frozenset()
    with archive:
        index = json.loads(archive.read("index.json"))
    return frozenset(canonicalize_name(k) for k in index.get("libraries", {}))


@cache
def _library(name: str) -> dict[str, Any] | None:
    """One library's releases and paths, read when first asked about."""
    if name not in libraries():
        return None
    archive = _archive()
    if archive is None:
        return None
    with archive:
        entry: dict[str, Any] = json.loads(archive.read(f"libraries/{name}.json"))
    return entry


def _minor(version: str) -> str:
    try:
        release = Version(version).release
    except InvalidVersion:
        return version
    return ".".join(str(p) for p in release[:2]) if len(release) > 1 else str(release[0])


def lookup(library: str, module: str) -> PathBound | None:
    """The bound an import of ``module`` puts on ``library``: by the longest path the data
    knows that is ``module`` or a package above it; None when the data has none (every
    release examined ships it, or the data does not know the path)."""
    entry = _library(canonicalize_name(library))
    if entry is None:
        return None
    paths: dict[str, list[list[int | None]]] = entry["paths"]
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        path = ".".join(parts[:size])
        if path in paths:
            return _bound(entry, path, paths[path])
    return None


def _bound(entry: dict[str, Any], path: str, spans: list[list[int | None]]) -> PathBound | None:
    releases: list[list[str]] = entry["releases"]
    if not spans:
        return None
    first = spans[0][0]
    stop = spans[-1][1]
    parts: list[str] = []
    # a lower bound whose first release predates every Python repro builds excludes
    # nothing repro could install (matplotlib.pyplot: matplotlib 0.91, 2007)
    if first and releases[first][1] >= _oldest_python():
        parts.append(f">={_minor(releases[first][0])}")
    if stop is not None:
        parts.append(f"<{_minor(releases[stop][0])}")
    # releases between two ranges do not ship it either
    for (_, gap_start), (gap_stop, _) in itertools.pairwise(spans):
        for index in range(gap_start or 0, gap_stop or 0):
            parts.append(f"!={_minor(releases[index][0])}.*")
    if not parts:
        return None
    name = entry["name"]
    have = [releases[i] for s, e in spans for i in range(s or 0, len(releases) if e is None else e)]
    shipped = f"{have[0][0]}" if len(have) == 1 else f"{have[0][0]} to {have[-1][0]}"
    why = f"{name}'s releases ship {path} from {shipped}"
    evidence = [have[-1][2]]
    if stop is not None:
        missing = releases[stop]
        why += f", not {missing[0]} ({missing[1]})"
        evidence.append(missing[2])
        source = f"https://pypi.org/project/{name}/{missing[0]}/#files"
    elif first and parts:
        before = releases[first - 1]
        why += f", not {before[0]} before it"
        evidence.insert(0, before[2])
        source = f"https://pypi.org/project/{name}/{before[0]}/#files"
    else:
        source = f"https://pypi.org/project/{name}/#history"
    why += f" (the file lists of {' and '.join(evidence)}; repro/data/{DATA})"
    return PathBound(library=name, path=path, specifier=",".join(parts), why=why, source=source)


@cache
def _oldest_python() -> str:
    """The first release date (ISO) of the oldest Python repro builds."""
    return str(min(datafiles.load("python_releases.json")["releases"].values()))


def explain(rule: str) -> PathBound | None:
    """The bound behind a ``module-path:DIST:PATH`` rule id."""
    if not rule.startswith(PREFIX):
        return None
    library, _, path = rule[len(PREFIX) :].partition(":")
    return lookup(library, path)

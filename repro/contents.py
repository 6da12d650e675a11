"""Which distribution package ships a file: a header, a program, a pkg-config module, a
Python module, a GObject-introspection typelib (pure; reads ``data/contents*.json``).

The data is the package contents index of each Debian and Ubuntu release repro's base
images run on, pruned to what repro asks about (``scripts/gen_contents.py``). Every
query takes the release by codename (``/etc/os-release``'s ``VERSION_CODENAME``:
"bookworm", "jammy") and answers a :class:`Found`, or None when no package of that
release ships the file::

    header("libpq-fe.h", "bookworm").package            # "libpq-dev"
    header("Python.h", "bookworm", python="3.11")        # "libpython3.11-dev"
    program("pg_config", "bookworm").package             # "libpq-dev"
    program("cc", "trixie").package                      # "gcc" (update-alternatives)
    pkgconfig("libffi", "bullseye").package              # "libffi-dev"
    python_module("gi", "bookworm").package              # "python3-gi"
    python_module("dbus", "bionic", major=2).package     # "python-dbus"
    typelib("Gst", "1.0", "bookworm").package            # "gir1.2-gstreamer-1.0"
    typelib("Notify", "", "bookworm").path               # "Notify-0.7" (the newest)

A release the data does not hold is answered from the nearest one it does (Debian
buster from bullseye; an Ubuntu release whose index could not be read, from its nearest
Debian release): ``Found.derived`` is then True and ``Found.note`` says so. Modules under
``dist-packages`` run only on the release's own Python (:func:`system_python`).
"""

from __future__ import annotations

import json
import lzma
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from repro import datafiles

Kind = Literal["headers", "programs", "pkgconfig", "python", "typelibs", "stdlib"]
INDEX = "contents.json"


@dataclass(frozen=True, kw_only=True)
class DistroRelease:
    """A Debian or Ubuntu release the data knows: ``codename`` answers for itself unless
    ``derived_from``."""

    codename: str  # "bookworm"
    distribution: str  # "debian" | "ubuntu"
    version: str  # "12", "22.04"
    python: Mapping[str, str]  # Python major → the release's own Python ("3" → "3.11")
    derived_from: str = ""  # the release whose index answers for this one
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Found:
    """The package that ships a file, and how that was found."""

    package: str  # the one to install ("libpq-dev")
    path: str  # the file of the index that matched ("postgresql/libpq-fe.h", "usr/bin/gcc")
    release: str  # the release whose index answered
    asked: str  # the release asked about
    packages: tuple[str, ...] = ()  # every package that ships a matching file, ``package`` first
    note: str = ""  # why another release answered, or how the name was found

    @property
    def derived(self) -> bool:
        """Whether the answer comes from another release than the one asked about."""
        return self.release != self.asked

    @property
    def basis(self) -> str:
        """Where the answer comes from, for a manifest's ``basis``."""
        return f"data/contents.json ({self.release} package contents)"


# --------------------------------------------------------------------------- releases


@cache
def _index() -> dict[str, Any]:
    doc: dict[str, Any] = datafiles.load(INDEX)
    return doc


def releases() -> tuple[DistroRelease, ...]:
    """Every release the data holds (or derives), in the data's order."""
    return tuple(_release(c, e) for c, e in _index()["releases"].items())


def _release(codename: str, entry: Mapping[str, Any]) -> DistroRelease:
    return DistroRelease(
        codename=codename,
        distribution=str(entry["distribution"]),
        version=str(entry["version"]),
        python={str(k): str(v) for k, v in (entry.get("python") or {}).items()},
        derived_from=str(entry.get("derived_from", "")),
        note=str(entry.get("note", "")),
    )


def release(codename: str) -> DistroRelease | None:
    """The release named ``codename`` ("bookworm"), if the data holds it."""
    entry = _index()["releases"].get(codename)
    return _release(codename, entry) if entry is not None else None


def codename_of(os_id: str, version_id: str) -> str:
    """``/etc/os-release``'s ID and VERSION_ID ("ubuntu", "22.04"; "debian", "12") →
    codename ("jammy"), or "" when the data does not know that release."""
    for r in releases():
        if r.distribution == os_id and version_id in (r.version, f"{r.version}.0"):
            return r.codename
    return ""


def system_python(codename: str, major: int = 3) -> str:
    """The release's own Python of that major ("3.11"): the one whose ``dist-packages``
    modules the release ships; "" when it has none."""
    found = _answering(codename)
    if found is None:
        return ""
    r = release(found[0])
    return r.python.get(str(major), "") if r is not None else ""


def _answering(codename: str) -> tuple[str, str] | None:
    """(the release whose index answers for ``codename``, why another one) or None."""
    index = _index()
    entry = index["releases"].get(codename)
    if entry is not None:
        derived = str(entry.get("derived_from", ""))
        return (derived, str(entry.get("note", ""))) if derived else (codename, "")
    reason = index.get("unavailable", {}).get(codename)
    if reason is None:
        return None
    nearest = _nearest_debian(codename)
    return nearest, f"{codename}: {reason}; answered from {nearest}"


_OLD_DEBIAN = {"stretch": 9, "buster": 10}


def _nearest_debian(codename: str) -> str:
    """The oldest Debian release the data has that is newer than ``codename``."""
    debian = sorted(
        ((int(r.version), r.codename) for r in releases() if r.distribution == "debian"),
    )
    want = _OLD_DEBIAN.get(codename, 0)
    return next((c for v, c in debian if v >= want), debian[0][1])


# --------------------------------------------------------------------------- tables


@cache
def _table(kind: Kind) -> dict[str, Any]:
    name = _index()["tables"][kind]
    blob = datafiles.read_bytes(name)
    doc: dict[str, Any] = json.loads(lzma.decompress(blob))
    return doc


@cache
def _lookup(kind: Kind, codename: str, major: str = "") -> dict[str, tuple[str, ...]]:
    """key → packages for one release (and Python major), inverted from the grouped data."""
    groups = _table(kind)["releases"].get(codename, {})
    if major:
        groups = groups.get(major, {})
    out: dict[str, tuple[str, ...]] = {}
    for packages, keys in groups.items():
        names = tuple(packages.split(","))
        for key in keys.split():
            out[key] = names
    return out


def _found(
    path: str, packages: Iterable[str], answering: tuple[str, str], asked: str, note: str = ""
) -> Found:
    ordered = tuple(dict.fromkeys(packages))
    return Found(
        package=ordered[0],
        path=path,
        release=answering[0],
        asked=asked,
        packages=ordered,
        note="; ".join(filter(None, [answering[1], note])),
    )


def _rank(name: str, packages: Iterable[str], prefixes: tuple[str, ...] = ()) -> list[str]:
    """Packages in the order to prefer: the one named like the file, then a name with one
    of ``prefixes`` ("python3-"), then development packages, then the shortest name."""
    return sorted(
        packages,
        key=lambda p: (
            p not in {name, *(f"{x}{name}" for x in prefixes)},
            not p.startswith(prefixes) if prefixes else False,
            not p.endswith("-dev"),
            len(p),
            p,
        ),
    )


# --------------------------------------------------------------------------- queries


def program(name: str, codename: str) -> Found | None:
    """The package that puts ``name`` on PATH (``gcc``, ``pg_config``, ``cc``)."""
    answering = _answering(codename)
    if answering is None or "/" in name:
        return None
    packages = _lookup("programs", answering[0]).get(name)
    if packages:
        return _found(f"usr/bin/{name}", _rank(name, packages), answering, codename)
    alternative = _index().get("alternatives", {}).get(name)
    if alternative is not None:
        package = str(alternative["package"])
        verified = alternative.get("verified", [])
        how = f"{name} is made at install time (update-alternatives) by {package}"
        if answering[0] not in verified:
            how += f", checked in {', '.join(verified) or 'no release'}"
        return _found(f"usr/bin/{name}", [package], answering, codename, how)
    return None


def pkgconfig(module: str, codename: str) -> Found | None:
    """The package that ships ``module.pc`` (``libffi``, ``gdal``)."""
    answering = _answering(codename)
    if answering is None:
        return None
    module = module.removesuffix(".pc")
    packages = _lookup("pkgconfig", answering[0]).get(module)
    if not packages:
        return None
    return _found(f"{module}.pc", _rank(module, packages, ("lib",)), answering, codename)


def python_module(module: str, codename: str, *, major: int = 3) -> Found | None:
    """The package that ships the Python module ``module`` (dotted; the longest known
    prefix answers: ``google.protobuf`` → python3-protobuf) in the release's
    ``dist-packages`` for Python ``major``. Such modules need the release's own Python
    (:func:`system_python`)."""
    answering = _answering(codename)
    if answering is None:
        return None
    table = _lookup("python", answering[0], str(major))
    parts = module.split(".")
    prefix = "python3-" if major == 3 else "python-"
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        packages = table.get(name)
        if packages:
            top = parts[0].lower().replace("_", "-")
            return _found(name, _rank(top, packages, (prefix,)), answering, codename)
    return None


def stdlib_part(module: str, codename: str, *, major: int = 3) -> Found | None:
    """The package a release splits part of its own Python's standard library into
    (``_tkinter`` → python3-tk, ``ensurepip`` → python3.11-venv), for a top-level module of
    it; None for a module the core packages ship, or one the release does not split off.
    Only the release's own Python (:func:`system_python`) gains it."""
    answering = _answering(codename)
    if answering is None:
        return None
    top = module.split(".")[0]
    packages = _lookup("stdlib", answering[0], str(major)).get(top)
    if not packages:
        return None
    prefix = "python3-" if major == 3 else "python-"
    name = top.lstrip("_").lower()
    return _found(top, _rank(name, packages, (prefix,)), answering, codename)


def typelib(namespace: str, version: str, codename: str) -> Found | None:
    """The package that ships the GObject-introspection typelib ``namespace``-``version``
    (``Gst``, "1.0": ``Gst-1.0.typelib``, what ``gi.require_version("Gst", "1.0")`` then
    ``from gi.repository import Gst`` loads); with no ``version`` (the code did not call
    ``require_version``), the newest one the release ships, which is what ``gi`` loads."""
    answering = _answering(codename)
    if answering is None or not namespace:
        return None
    table = _lookup("typelibs", answering[0])
    if version:
        key = f"{namespace}-{version}"
    else:
        versions = [k for k in table if k.rsplit("-", 1)[0] == namespace]
        if not versions:
            return None
        key = max(versions, key=lambda k: _version_key(k.rsplit("-", 1)[1]))
    packages = table.get(key)
    if not packages:
        return None
    stem = f"gir1.2-{namespace.lower()}-{key.rsplit('-', 1)[1]}"
    return _found(key, _rank(stem, packages, ("gir1.2-",)), answering, codename)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def header(name: str, codename: str, *, python: str = "") -> Found | None:
    """The package that ships the header ``name`` as an ``#include`` names it
    (``Python.h``, ``openssl/ssl.h``, ``hdf5.h``), found under ``/usr/include`` or any of
    its directories (``postgresql/libpq-fe.h`` for ``libpq-fe.h``). With ``python``
    ("3.11"), a header under that Python's include directory is preferred over another
    Python's."""
    answering = _answering(codename)
    if answering is None:
        return None
    name = name.strip().strip("<>\"'").lstrip("/")
    if not name or name.endswith("/"):
        return None
    table = _lookup("headers", answering[0])
    stem = name.rsplit("/", 1)[-1].split(".")[0].lower()
    matches: list[tuple[tuple[int, ...], str, tuple[str, ...]]] = []
    for key, root in _header_matches(table, name):
        root_dirs = root.lower().split("/")[:-1]
        packages = table[key]
        rank = (
            _python_rank(root, python),
            bool(root_dirs),  # found without an -I option: the usual one
            not any(len(d) > 2 and stem.startswith(d.split("-")[0]) for d in root_dirs),
            len(root_dirs),
            key.endswith("/"),  # a folded directory: less certain than the file itself
            min(len(p) for p in packages),  # libhdf5-dev before libhdf5-mpich-dev
        )
        matches.append((rank, key, packages))
    if not matches:
        return None
    matches.sort(key=lambda m: (m[0], m[1]))
    _, key, packages = matches[0]
    others = [p for _, _, ps in matches[1:] for p in ps]
    return _found(key, [*_rank(stem, packages), *others], answering, codename)


# an interpreter's include directory anywhere on the path (python3.11/cpython/, pypy3.9/)
_PYTHON_DIR = re.compile(r"(?:^|/)(?P<impl>python|pypy)(?P<version>\d\.\d+)(?P<abi>[a-z]*)/")


def _python_rank(root: str, python: str) -> int:
    """Headers of the image's Python first, then headers of no Python, then a debug
    build's, then another Python's (or PyPy's)."""
    m = _PYTHON_DIR.search(root)
    if m is None:
        return 1
    if python and m.group("impl") == "python" and m.group("version") == python:
        return 2 if "d" in m.group("abi") else 0
    return 3


def _header_matches(table: Mapping[str, tuple[str, ...]], name: str) -> list[tuple[str, str]]:
    """(key, the directory that would be on the include path) of each key that can be
    ``name``: the file itself, at the top or below a directory; or a folded directory
    (``boost/python/``) whose last components begin ``name``'s directories."""
    found: list[tuple[str, str]] = []
    tail = "/" + name
    dirs = name.split("/")[:-1]
    for key in table:
        if key.endswith("/"):
            if not dirs:
                continue
            parts = key[:-1].split("/")
            for i in range(len(parts)):
                if dirs[: len(parts) - i] == parts[i:]:
                    found.append((key, "".join(f"{p}/" for p in parts[:i])))
                    break
        elif key == name:
            found.append((key, ""))
        elif key.endswith(tail):
            found.append((key, key[: -len(name)]))
    return found

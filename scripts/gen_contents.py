#!/usr/bin/env python3
"""Regenerate repro/data/contents*.json(.xz): which distribution package ships a file.

A failed build says ``fatal error: libpq-fe.h: No such file or directory``, ``command
'gcc' failed`` or ``No package 'libffi' found``; a script imports ``gi`` or ``apt``, which
only the distribution packages. Each names a file, and the distribution's package
contents index (``Contents-amd64.gz``: every file of every package of a release) says
which package ships it. This script reads those indexes for the releases repro's base
images run on and keeps only what repro asks about:

* headers: files under ``/usr/include`` (the multiarch directory folded in), keyed by the
  path below it (``postgresql/libpq-fe.h``); a directory whose many files all come from
  one package keeps its direct files and stands for everything deeper (``boost/python/``);
* programs: files in ``bin`` and ``sbin`` directories, keyed by name (``pg_config``);
* pkg-config files: ``*.pc`` in the pkg-config directories, keyed by module (``libffi``);
* Python modules: top-level names in ``/usr/lib/python3/dist-packages`` and
  ``/usr/lib/python2.7/dist-packages``, per Python major (and ``top.sub`` where several
  packages share a top-level namespace, e.g. ``google.protobuf``);
* standard-library parts a release splits off into packages of their own: top-level
  names under ``/usr/lib/python3.X`` (and ``lib-dynload``, ``lib-tk``) of the release's
  own Python that no core package (``libpython3.X-stdlib``, ``python3.X-minimal``...)
  ships: ``tkinter`` and ``_tkinter`` are python3-tk's, ``distutils`` python3-distutils'
  (until 3.12), ``ensurepip`` python3.X-venv's;
* GObject-introspection typelibs: ``NAME-VERSION.typelib`` in ``girepository-1.0``
  (``/usr/lib/<multiarch>/`` or ``/usr/lib/``), keyed by ``NAME-VERSION`` (``Gst-1.0``):
  what ``gi.require_version("Gst", "1.0"); from gi.repository import Gst`` loads.

Releases: Debian bullseye, bookworm, trixie (``main``, the component the images enable)
from deb.debian.org; Ubuntu 16.04-24.04 (every component: Ubuntu's images enable
universe and multiverse) from archive.ubuntu.com, for the nvidia/cuda images. A release
whose index cannot be read is written as derived from the nearest Debian release, and
says so. Older Debian releases (buster, stretch) have left deb.debian.org for
archive.debian.org; they are tried there and listed as unavailable when it does not answer.

A few program names are made at install time (``update-alternatives``: ``cc``, ``c++``)
and are in no index: the table ``ALTERNATIVES`` below names them, and ``--verify``
checks each pair in a container of each Debian release (``apt-get install``, then
``command -v``), as scripts/gen_shared_libs.py does for shared libraries.

Usage: scripts/gen_contents.py [--cache DIR] [--verify] [--docker docker]
Needs: network access to deb.debian.org (and archive.ubuntu.com for the Ubuntu releases);
about 250 MB of downloads, cached in --cache.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import gzip
import json
import lzma
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "repro/data"
SCHEMA_VERSION = 1
ARCH = "amd64"
TRIPLET = "x86_64-linux-gnu"


@dataclass(frozen=True)
class Release:
    codename: str
    distribution: str  # "debian" | "ubuntu"
    version: str  # "12", "22.04"
    urls: tuple[str, ...]  # the Contents indexes (Debian: architecture-specific, then "all")
    nearest_debian: str = ""  # Ubuntu: the Debian release to derive from when unreachable


DEBIAN = "https://deb.debian.org/debian/dists/{c}/main/Contents-{a}.gz"
DEBIAN_ARCHIVE = "http://archive.debian.org/debian/dists/{c}/main/Contents-" + ARCH + ".gz"
UBUNTU = "http://archive.ubuntu.com/ubuntu/dists/{c}/Contents-" + ARCH + ".gz"


def _debian(codename: str) -> tuple[str, ...]:
    # Debian lists architecture-independent packages (headers-only libraries, pure-Python
    # modules) in Contents-all; Ubuntu's Contents-amd64 holds both.
    return (DEBIAN.format(c=codename, a=ARCH), DEBIAN.format(c=codename, a="all"))


RELEASES = (
    Release("bullseye", "debian", "11", _debian("bullseye")),
    Release("bookworm", "debian", "12", _debian("bookworm")),
    Release("trixie", "debian", "13", _debian("trixie")),
    # Ubuntu ↔ Debian: the Debian release each Ubuntu release was imported from or
    # nearest after (Ubuntu's release notes name the Debian freeze each one starts from).
    Release("xenial", "ubuntu", "16.04", (UBUNTU.format(c="xenial"),), nearest_debian="bullseye"),
    Release("bionic", "ubuntu", "18.04", (UBUNTU.format(c="bionic"),), nearest_debian="bullseye"),
    Release("focal", "ubuntu", "20.04", (UBUNTU.format(c="focal"),), nearest_debian="bullseye"),
    Release("jammy", "ubuntu", "22.04", (UBUNTU.format(c="jammy"),), nearest_debian="bookworm"),
    Release("noble", "ubuntu", "24.04", (UBUNTU.format(c="noble"),), nearest_debian="trixie"),
)
# Older Debian releases some base images use (python:3.7-slim is buster): tried on the
# archive host; written as unavailable (with the reason) when it does not answer.
OLD_DEBIAN = (("buster", "10"), ("stretch", "9"))

# Programs made by update-alternatives or a maintainer script, hence in no Contents
# index: program → (package, the program whose package registers it). Checked by --verify.
ALTERNATIVES: dict[str, str] = {
    "cc": "gcc",  # gcc registers /usr/bin/cc
    "c++": "g++",  # g++ registers /usr/bin/c++
    "f77": "gfortran",  # gfortran registers f77 and f95
    "f95": "gfortran",
    "swig": "swig",  # bookworm's swig links /usr/bin/swig to swig4.0 at install
}

# A directory with more files than this, all from one package, keeps its direct files
# and stands for everything below them (boost/python/, qt5/QtCore/): an include names at
# most the file and a directory or two above it.
COLLAPSE_FILES = 60
MAX_HEADER_DEPTH = 2  # directories below /usr/include (after the multiarch one)

BIN_DIRS = ("bin/", "sbin/", "usr/bin/", "usr/sbin/")
# pkg-config's own directories, and the ones a -dev package adds below them
# (usr/lib/x86_64-linux-gnu/hdf5/serial/pkgconfig/hdf5.pc)
PC_DIRS = (f"usr/lib/{TRIPLET}/", "usr/lib/pkgconfig/", "usr/share/pkgconfig/")
PY_DIRS = {"3": "usr/lib/python3/dist-packages/", "2": "usr/lib/python2.7/dist-packages/"}
_EXT_SUFFIX = re.compile(r"(?:\.cpython-\d+[a-z]*-[\w-]+|\.abi3|\.x86_64-linux-gnu)?\.so$")
_CPYTHON_TAG = re.compile(r"\.cpython-3(\d+)[a-z]*-x86_64-linux-gnu\.so$")
TYPELIB_DIRS = (f"usr/lib/{TRIPLET}/girepository-1.0/", "usr/lib/girepository-1.0/")
_TYPELIB = re.compile(r"^(?P<key>[A-Za-z][\w]*-\d+(?:\.\d+)*)\.typelib$")
_STDLIB_FILE = re.compile(r"^usr/lib/python(?P<v>[23]\.\d+)/(?P<rest>.+)$")
# the packages of a Python's core standard library; a module one of them ships is no split
_CORE_PYTHON = re.compile(
    r"^(?:lib)?python[23](?:\.\d+)?(?:-(?:minimal|stdlib|dbg|dev|testsuite))?$"
)
_NOT_A_MODULE = re.compile(r"\.(?:egg-info|dist-info|pth|txt|md|rst|cfg)$|^README|^__pycache__$")


# --------------------------------------------------------------------------- reading


def fetch(url: str, cache: Path) -> Path | None:
    """The index at ``url``, downloaded once into ``cache``; None when it does not answer."""
    target = cache / re.sub(r"[^\w.-]+", "_", url.split("://", 1)[1])
    if target.exists() and target.stat().st_size > 0:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            partial = target.with_suffix(".part")
            with partial.open("wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
            partial.rename(target)
    except (urllib.error.URLError, OSError) as exc:
        print(f"cannot read {url}: {exc}", file=sys.stderr)
        return None
    return target


def entries(path: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(file path, packages) of a Contents index; Ubuntu's older ones open with prose."""
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        for raw in lines:
            parts = raw.rstrip("\n").rsplit(None, 1)
            if len(parts) != 2 or "/" not in parts[1] or " " in parts[0]:
                continue  # prose, the "FILE LOCATION" header, or a path with a space
            file, where = parts
            yield file, tuple(sorted({w.rsplit("/", 1)[-1] for w in where.split(",")}))


@dataclass
class Tables:
    headers: dict[str, tuple[str, ...]]
    programs: dict[str, tuple[str, ...]]
    pkgconfig: dict[str, tuple[str, ...]]
    python: dict[str, dict[str, tuple[str, ...]]]  # major → module → packages
    python_versions: dict[str, str]  # major → the release's own Python ("3.11")
    typelibs: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    stdlib: dict[str, dict[str, tuple[str, ...]]] = dataclasses.field(default_factory=dict)


def read_release(paths: list[Path]) -> Tables:
    headers: dict[str, tuple[str, ...]] = {}
    programs: dict[str, set[str]] = collections.defaultdict(set)
    pkgconfig: dict[str, set[str]] = collections.defaultdict(set)
    typelibs: dict[str, set[str]] = collections.defaultdict(set)
    python: dict[str, dict[str, set[str]]] = {m: collections.defaultdict(set) for m in PY_DIRS}
    tags: collections.Counter[str] = collections.Counter()
    py2 = False
    owners: dict[str, dict[str, set[str]]] = {m: collections.defaultdict(set) for m in PY_DIRS}
    # Python version → top-level standard-library name → packages shipping files of it
    stdlib: dict[str, dict[str, set[str]]] = collections.defaultdict(
        lambda: collections.defaultdict(set)
    )
    for file, packages in (e for path in paths for e in entries(path)):
        s = _STDLIB_FILE.match(file)
        if s and not s.group("rest").startswith(("dist-packages/", "site-packages/")):
            name = _stdlib_name(s.group("rest"))
            if name:
                stdlib[s.group("v")][name].update(packages)
        if file.startswith("usr/bin/python2.7"):
            py2 = True
        if file.startswith("usr/include/"):
            rel = file[len("usr/include/") :]
            rel = rel.removeprefix(f"{TRIPLET}/")
            headers[rel] = tuple(sorted(set(headers.get(rel, ())) | set(packages)))
            continue
        if file.startswith(BIN_DIRS):
            name = file.rsplit("/", 1)[1]
            if file.count("/") == (1 if file.startswith(("bin/", "sbin/")) else 2):
                programs[name].update(packages)
            continue
        if file.endswith(".pc") and file.startswith(PC_DIRS) and "/pkgconfig/" in file:
            pkgconfig[file.rsplit("/", 1)[1][:-3]].update(packages)
            continue
        if file.endswith(".typelib") and file.startswith(TYPELIB_DIRS):
            m = _TYPELIB.match(file.rsplit("/", 1)[1])
            if m and file.rsplit("/", 1)[0] + "/" in TYPELIB_DIRS:
                typelibs[m.group("key")].update(packages)
            continue
        for major, prefix in PY_DIRS.items():
            if file.startswith(prefix):
                rest = file[len(prefix) :].split("/")
                _add_module(python[major], owners[major], rest, packages)
                if major == "3":
                    m = _CPYTHON_TAG.search(file)
                    if m:
                        tags[f"3.{m.group(1)}"] += 1
                break
    versions = {"3": tags.most_common(1)[0][0]} if tags else {}
    if py2:
        versions["2"] = "2.7"
    return Tables(
        headers=collapse(headers),
        programs={k: tuple(sorted(v)) for k, v in programs.items()},
        pkgconfig={k: tuple(sorted(v)) for k, v in pkgconfig.items()},
        python={
            m: _modules(mods, owners[m])
            for m, mods in python.items()
            if mods and (m != "2" or py2)  # a stray file is no Python 2
        },
        python_versions=versions,
        typelibs={k: tuple(sorted(v)) for k, v in typelibs.items()},
        stdlib={
            major: _split_off(stdlib.get(version, {}))
            for major, version in versions.items()
            if stdlib.get(version)
        },
    )


def _stdlib_name(rest: str) -> str:
    """The top-level module a file below ``/usr/lib/pythonX.Y/`` belongs to ("" for none):
    ``tkinter/ttk.py`` → tkinter, ``lib-dynload/_tkinter.cpython-311-...so`` → _tkinter,
    Python 2's ``lib-tk/Tkinter.py`` → Tkinter."""
    parts = rest.split("/")
    if parts[0] in ("lib-dynload", "lib-tk", "plat-x86_64-linux-gnu") and len(parts) > 1:
        parts = parts[1:]
    if parts[0] in ("test", "config") or parts[0].startswith("config-"):
        return ""
    return _module_name(parts[0], is_dir=len(parts) > 1)


def _split_off(found: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """The names no core package ships: the parts split off into packages of their own."""
    return {
        name: tuple(sorted(packages))
        for name, packages in found.items()
        if not any(_CORE_PYTHON.match(p) for p in packages)
    }


def _module_name(part: str, *, is_dir: bool) -> str:
    if not part or _NOT_A_MODULE.search(part):
        return ""
    if is_dir:
        return part if part.isidentifier() else ""
    if part.endswith(".py"):
        name = part[:-3]
    elif part.endswith(".so"):
        name = _EXT_SUFFIX.sub("", part)
    else:
        return ""
    return name if name.isidentifier() else ""


def _add_module(
    found: dict[str, set[str]],
    owners: dict[str, set[str]],
    rest: list[str],
    packages: tuple[str, ...],
) -> None:
    """Record the module (and ``top.sub``) a dist-packages file belongs to; a package that
    ships the module itself (``top/__init__.py``, ``top.py``, ``top*.so``) owns it, one that
    only adds files into it (``gi/overrides/`` from a gir1.2 package) does not."""
    top = _module_name(rest[0], is_dir=len(rest) > 1)
    if not top:
        return
    found[top].update(packages)
    if len(rest) == 1 or (len(rest) == 2 and rest[1].startswith("__init__.")):
        owners[top].update(packages)
    if len(rest) >= 2 and rest[1] and not rest[1].startswith("__init__."):
        sub = _module_name(rest[1], is_dir=len(rest) > 2)
        if sub:
            found[f"{top}.{sub}"].update(packages)
            if len(rest) == 2 or (len(rest) == 3 and rest[2].startswith("__init__.")):
                owners[f"{top}.{sub}"].update(packages)


def _modules(found: dict[str, set[str]], owners: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """module → the packages that own it (else every package with files in it); ``top.sub``
    only under a top-level name several packages share (a namespace such as ``google``)."""
    out: dict[str, tuple[str, ...]] = {}
    for name, packages in found.items():
        top = name.split(".")[0]
        if "." in name and len(found.get(top, ())) < 2:
            continue
        out[name] = tuple(sorted(owners.get(name) or packages))
    return out


def collapse(headers: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Prune the header table (see COLLAPSE_FILES and MAX_HEADER_DEPTH): ``dir/`` keys
    stand for every file below them."""
    owners: dict[str, set[tuple[str, ...]]] = collections.defaultdict(set)
    counts: collections.Counter[str] = collections.Counter()
    for rel, packages in headers.items():
        parts = rel.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            owners[d].add(packages)
            counts[d] += 1
    out: dict[str, tuple[str, ...]] = {}
    for rel, packages in headers.items():
        parts = rel.split("/")
        key = rel
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if counts[d] > COLLAPSE_FILES and len(owners[d]) == 1:
                key = rel if len(parts) - i == 1 else "/".join(parts[: i + 1]) + "/"
                break
        if key == rel and len(parts) - 1 > MAX_HEADER_DEPTH:
            key = "/".join(parts[: MAX_HEADER_DEPTH + 1]) + "/"
        out[key] = tuple(sorted(set(out.get(key, ())) | set(packages)))
    return out


# --------------------------------------------------------------------------- verifying


VERIFY_IMAGES = {"bullseye": "python:3.9-slim", "bookworm": "python:3.11-slim",
                 "trixie": "python:3.13-slim"}  # fmt: skip


def verify_alternatives(docker: str) -> dict[str, list[str]]:
    """program → the Debian releases where installing its package gives it on PATH."""
    found: dict[str, list[str]] = collections.defaultdict(list)
    for codename, image in VERIFY_IMAGES.items():
        lines = ["apt-get update -qq >/dev/null 2>&1 || exit 3"]
        for program, package in ALTERNATIVES.items():
            lines.append(
                f"apt-get install -y -qq --no-install-recommends {package} >/dev/null 2>&1 "
                f"&& command -v {program} >/dev/null && echo 'FOUND {program}'"
            )
        proc = subprocess.run(
            [docker, "run", "--rm", "--user", "0", "--label", "io.github.repro.managed=script",
             image, "sh", "-c", "\n".join(lines)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode == 3:
            raise SystemExit(f"{image}: apt-get update failed (no network to the Debian mirror?)")
        for line in proc.stdout.splitlines():
            if line.startswith("FOUND "):
                found[line.split()[1]].append(codename)
    return found


# --------------------------------------------------------------------------- writing


def grouped(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """file → packages, as package list → its files (space-separated): one line per
    package group, which compresses well and loads fast."""
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for key, packages in table.items():
        groups[",".join(packages)].append(key)
    return {pkgs: " ".join(sorted(keys)) for pkgs, keys in sorted(groups.items())}


def header(kind: str, sources: dict[str, str], about: str) -> dict[str, object]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generated": dt.date.today().isoformat(),
        "generated_by": "scripts/gen_contents.py",
        "source": "package contents indexes (Contents-amd64.gz) of the Debian and Ubuntu "
        "archives: " + "; ".join(f"{c}: {u}" for c, u in sources.items()),
        "kind": kind,
        "about": about,
    }


def write_xz(path: Path, doc: dict[str, object]) -> None:
    blob = json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()
    path.write_bytes(lzma.compress(blob, preset=9 | lzma.PRESET_EXTREME))
    print(f"wrote {path}: {path.stat().st_size:,} bytes ({len(blob):,} as JSON)", file=sys.stderr)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/repro-contents")
    parser.add_argument("--out", type=Path, default=DATA)
    parser.add_argument("--verify", action="store_true", help="check ALTERNATIVES in containers")
    parser.add_argument("--docker", default="docker")
    args = parser.parse_args(argv)

    tables: dict[str, Tables] = {}
    releases: dict[str, dict[str, object]] = {}
    sources: dict[str, str] = {}
    for rel in RELEASES:
        paths = [fetch(url, args.cache) for url in rel.urls]
        entry: dict[str, object] = {"distribution": rel.distribution, "version": rel.version}
        if None in paths:
            if not rel.nearest_debian:
                raise SystemExit(f"{rel.codename}: {rel.urls[0]} does not answer")
            entry["derived_from"] = rel.nearest_debian
            entry["note"] = (
                f"{rel.urls[0]} did not answer when this was generated: answers are "
                f"{rel.nearest_debian}'s, whose package names Ubuntu mostly shares"
            )
        else:
            print(f"reading {rel.codename}", file=sys.stderr)
            tables[rel.codename] = read_release([p for p in paths if p is not None])
            sources[rel.codename] = " + ".join(rel.urls)
            entry["index"] = list(rel.urls)
            entry["python"] = tables[rel.codename].python_versions
        releases[rel.codename] = entry
    for entry in releases.values():
        if "derived_from" in entry:
            entry["python"] = tables[str(entry["derived_from"])].python_versions
    unavailable: dict[str, str] = {}
    for codename, version in OLD_DEBIAN:
        url = DEBIAN_ARCHIVE.format(c=codename)
        if fetch(url, args.cache) is None:
            unavailable[codename] = (
                f"Debian {version}: gone from deb.debian.org; {url} did not answer when this "
                "was generated (queries for it answer from the nearest release)"
            )
        else:
            print(f"note: {codename} is readable at {url}; add it to RELEASES", file=sys.stderr)

    if args.verify:
        verified = verify_alternatives(args.docker)
    else:  # keep what the last --verify found
        previous = args.out / "contents.json"
        old = json.loads(previous.read_text()).get("alternatives", {}) if previous.exists() else {}
        verified = {
            p: e["verified"]
            for p, e in old.items()
            if e.get("package") == ALTERNATIVES.get(p) and "verified" in e
        }
    alternatives = {
        prog: {"package": pkg, **({"verified": verified[prog]} if prog in verified else {})}
        for prog, pkg in ALTERNATIVES.items()
    }
    if args.verify:
        unverified = sorted(p for p in ALTERNATIVES if p not in verified)
        if unverified:
            print(f"not verified in any release: {', '.join(unverified)}", file=sys.stderr)

    index = {
        **header(
            "index",
            sources,
            "Releases whose package contents repro knows; see repro/contents.py. Each "
            "kind's table is in contents_<kind>.json.xz.",
        ),
        "architecture": ARCH,
        "releases": releases,
        "unavailable": unavailable,
        "alternatives": alternatives,
        "tables": {k: f"contents_{k}.json.xz" for k in ("headers", "programs", "pkgconfig",
                                                          "python", "typelibs", "stdlib")},
    }  # fmt: skip
    (args.out / "contents.json").write_text(json.dumps(index, indent=1) + "\n")
    about = {
        "headers": "release → {packages: space-separated paths below /usr/include}; a path "
        "ending in / stands for every file below it",
        "programs": "release → {packages: space-separated program names in bin/sbin}",
        "pkgconfig": "release → {packages: space-separated pkg-config module names}",
        "python": "release → Python major → {packages: space-separated module names in "
        "dist-packages (top-level, and top.sub under a shared namespace)}",
        "typelibs": "release → {packages: space-separated GObject-introspection typelibs "
        "(NAME-VERSION) in girepository-1.0}",
        "stdlib": "release → Python major → {packages: space-separated top-level modules of "
        "the release's own Python's standard library that no core package ships}",
    }
    write_xz(
        args.out / "contents_headers.json.xz",
        {**header("headers", sources, about["headers"]),
         "releases": {c: grouped(t.headers) for c, t in tables.items()}},
    )  # fmt: skip
    write_xz(
        args.out / "contents_programs.json.xz",
        {**header("programs", sources, about["programs"]),
         "releases": {c: grouped(t.programs) for c, t in tables.items()}},
    )  # fmt: skip
    write_xz(
        args.out / "contents_pkgconfig.json.xz",
        {**header("pkgconfig", sources, about["pkgconfig"]),
         "releases": {c: grouped(t.pkgconfig) for c, t in tables.items()}},
    )  # fmt: skip
    write_xz(
        args.out / "contents_python.json.xz",
        {**header("python", sources, about["python"]),
         "releases": {c: {m: grouped(mods) for m, mods in t.python.items()}
                      for c, t in tables.items()}},
    )  # fmt: skip
    write_xz(
        args.out / "contents_typelibs.json.xz",
        {**header("typelibs", sources, about["typelibs"]),
         "releases": {c: grouped(t.typelibs) for c, t in tables.items()}},
    )  # fmt: skip
    write_xz(
        args.out / "contents_stdlib.json.xz",
        {**header("stdlib", sources, about["stdlib"]),
         "releases": {c: {m: grouped(mods) for m, mods in t.stdlib.items()}
                      for c, t in tables.items()}},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

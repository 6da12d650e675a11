#!/usr/bin/env python3
"""Regenerate repro/data/module_paths.zip: which module paths each minor release of the
libraries research code uses most ships, and where each path appears and disappears.

For every library named in scripts/data/module_paths_libraries.txt:

1. PyPI's JSON API (``https://pypi.org/pypi/NAME/json``) lists its releases and files.
2. For each minor version (``0.19``, ``0.20``, ...) the newest final release is taken, and
   one of its files is listed (repro/distfiles.py): a wheel's or egg's zip central
   directory, read with HTTP range requests (a few KB; one or two requests), or, for a
   release without one, its sdist's member list (the sdist is fetched: up to 25 MB).
   A pure wheel is preferred, then a Linux x86_64 one, then any wheel, an egg, an sdist.
3. The files become import paths (repro/toplevel.py: modules, packages, extension
   modules; namespace folders by their dotted paths). Test folders and modules are left
   out.
4. Each path is *present*, *absent*, or *unknown* in each examined release: an sdist
   lists an extension module's sources, not the module, so an extension module missing
   from an sdist's list is unknown, not absent.

A release whose modules live in a ``NAME_core`` package that ``NAME`` forwards to (TensorFlow
1.15 to 2.1 shipped ``tensorflow_core``) counts them under ``NAME``, as they import.

Only the paths whose presence changes are kept (a path every examined release ships
bounds nothing), each as the ranges of releases that ship it: ``sklearn.cross_validation``
from 0.9 until 0.20 (the first minor without it). repro/modpaths.py turns an import of one
into a version bound, citing the file lists anyone can re-check on PyPI.

The output is a zip archive: ``index.json`` (schema, sources, the libraries) and one
``libraries/NAME.json`` per library, so that repro reads only the libraries a repository
imports.

Every listing is kept in a cache folder (``--cache``), so a re-run asks PyPI only for the
project JSON documents and for releases it has not listed yet.

Usage:
    python scripts/gen_module_paths.py                       # every library (~20 min)
    python scripts/gen_module_paths.py --only scikit-learn   # one library, the rest kept
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import re
import sys
import urllib.parse
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from packaging.version import InvalidVersion, Version  # noqa: E402

from repro import distfiles, toplevel  # noqa: E402
from repro.httpget import Unreachable  # noqa: E402
from repro.pypi import PACKAGE_URL, PyPIUnavailable, fetch_json  # noqa: E402

OUT = ROOT / "repro" / "data" / "module_paths.zip"
LIBRARIES = ROOT / "scripts" / "data" / "module_paths_libraries.txt"
DEPTH = 5  # module paths deeper than this are left out (internals nobody imports)
_TEST = re.compile(r"^(?:tests?|testing_utils|conftest|test_.*|.*_tests?)$")


def libraries(path: Path = LIBRARIES) -> list[str]:
    out = []
    for line in path.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            out.append(name)
    return out


# --------------------------------------------------------------------------- choosing files


def _score(file: dict[str, Any]) -> tuple[int, str] | None:
    """How much a release file is preferred for listing (lower first); None: unusable."""
    name = str(file.get("filename", ""))
    kind = toplevel.kind_of(name)
    if kind is None or file.get("yanked"):
        return None
    if kind == "wheel":
        if name.endswith("-none-any.whl"):
            return (0, name)
        if "manylinux" in name and "x86_64" in name:
            return (1, name)
        return (2, name)
    if kind == "egg":
        return (3, name)
    if int(file.get("size") or 0) > distfiles.SDIST_LIMIT:
        return None
    return (4 if name.endswith((".tar.gz", ".zip")) else 5, name)


def minors(doc: dict[str, Any]) -> list[tuple[str, dt.date, dict[str, Any]]]:
    """(version, first upload date, file to list) for the newest final release of each
    minor version that has a usable file, oldest first."""
    best: dict[tuple[int, int], tuple[Version, str, dt.date, dict[str, Any]]] = {}
    for text, files in (doc.get("releases") or {}).items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version.is_prerelease or version.is_devrelease or not files:
            continue
        usable = [(s, f) for f in files if (s := _score(f)) is not None]
        if not usable:
            continue
        times = sorted(
            str(f.get("upload_time_iso_8601") or f.get("upload_time") or "") for f in files
        )
        if not times or not times[0]:
            continue
        date = dt.date.fromisoformat(times[0][:10])
        key = (version.major, version.minor if len(version.release) > 1 else 0)
        chosen = min(usable, key=lambda sf: sf[0])[1]
        if key not in best or version > best[key][0]:
            best[key] = (version, text, date, chosen)
    return [(text, date, file) for _, (_, text, date, file) in sorted(best.items())]


# --------------------------------------------------------------------------- listing


def _kept(path: str) -> bool:
    parts = path.split(".")
    return len(parts) <= DEPTH and not any(_TEST.match(p) for p in parts)


def paths_of(listing: toplevel.Listing) -> dict[str, bool]:
    """Every import path of one listing (modules, packages, and the folders above them)
    → whether it is an extension module (compiled)."""
    files = (
        toplevel.sdist_files(listing.files)
        if listing.kind == "sdist"
        else toplevel.importable_files(listing.files)
    )
    junk = toplevel.JUNK
    out: dict[str, bool] = {}
    for file in files:
        parts = PurePosixPath(file).parts
        name = parts[-1]
        ext = toplevel.EXTENSION.match(name)
        if name.endswith(".py"):
            stem = name[:-3]
        elif ext:
            stem = ext.group(1)
        else:
            continue
        folders = list(parts[:-1])
        if not folders and stem in toplevel.SDIST_HELPERS and listing.kind == "sdist":
            continue
        dotted = folders if stem == "__init__" else [*folders, stem]
        if not dotted or dotted[0] in junk or not all(p.isidentifier() for p in dotted):
            continue
        path = ".".join(dotted)
        if not _kept(path):
            continue
        out[path] = out.get(path, False) or bool(ext)
        for size in range(1, len(dotted)):
            out.setdefault(".".join(dotted[:size]), False)
    return out


def list_release(
    name: str, version: str, file: dict[str, Any], cache: Path
) -> dict[str, Any] | None:
    """The listing of one release file, from the cache or the index."""
    filename = str(file["filename"])
    cached = cache / name / f"{filename}.json"
    if cached.is_file():
        data: dict[str, Any] = json.loads(cached.read_text())
        return data
    url = urllib.parse.urljoin(PACKAGE_URL.format(name=name), str(file["url"]))
    try:
        listing = distfiles.list_files(url, filename, size=file.get("size"), read_top_level=False)
    except (distfiles.ListingError, Unreachable) as exc:
        print(f"  {name} {version}: {exc}", file=sys.stderr)
        return None
    entry = {
        "version": version,
        "filename": filename,
        "kind": listing.kind,
        "paths": paths_of(listing),
        "requests": listing.requests,
    }
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(entry))
    return entry


# --------------------------------------------------------------------------- ranges


def ranges(states: list[str]) -> list[list[int | None]]:
    """Index ranges [first, stop) of the releases that ship a path, from each release's
    state (``present``, ``absent``, ``unknown``); unknown releases neither start nor end a
    range, and ``stop`` is None when the newest release still ships it."""
    out: list[list[int | None]] = []
    start: int | None = None
    for index, state in enumerate(states):
        if state == "present" and start is None:
            start = index
        elif state == "absent" and start is not None:
            out.append([start, index])
            start = None
    if start is not None:
        out.append([start, None])
    return out


def library(name: str, cache: Path) -> dict[str, Any] | None:
    """Everything recorded for one library; None when PyPI does not know it."""
    try:
        found = fetch_json(PACKAGE_URL.format(name=name), timeout=60)
    except PyPIUnavailable as exc:
        print(f"  {name}: PyPI did not answer ({exc})", file=sys.stderr)
        return None
    if found is None:
        print(f"  {name}: not on PyPI", file=sys.stderr)
        return None
    doc, _ = found
    releases = []
    listed = []
    for version, date, file in minors(doc):
        entry = list_release(name, version, file, cache)
        if entry is None:
            continue
        releases.append([version, date.isoformat(), entry["filename"]])
        listed.append(entry)
    if not listed:
        return None
    for entry in listed:
        entry["paths"] = _forwarded({k: v for k, v in entry["paths"].items() if _kept(k)})
    every: dict[str, bool] = {}
    for entry in listed:
        for path, compiled in entry["paths"].items():
            every[path] = every.get(path, False) or compiled
    paths: dict[str, list[list[int | None]]] = {}
    for path in sorted(every):
        states = []
        for entry in listed:
            if path in entry["paths"]:
                states.append("present")
            elif entry["kind"] == "sdist" and every[path]:
                states.append("unknown")  # an sdist lists an extension's sources only
            else:
                states.append("absent")
        known = [s for s in states if s != "unknown"]
        if "absent" in known and "present" in known:
            paths[path] = ranges(states)
    display = str((doc.get("info") or {}).get("name") or name)
    print(f"  {display}: {len(releases)} minor releases, {len(paths)} paths that change")
    return {"name": display, "releases": releases, "paths": paths}


def _forwarded(paths: dict[str, bool]) -> dict[str, bool]:
    """``tensorflow_core.contrib`` → ``tensorflow.contrib`` where ``tensorflow`` is a path
    too: the package forwards its imports to the ``_core`` one."""
    tops = {p.split(".")[0] for p in paths}
    out: dict[str, bool] = {}
    for path, compiled in paths.items():
        top, _, rest = path.partition(".")
        if top.endswith("_core") and top[: -len("_core")] in tops:
            path = top[: -len("_core")] + (f".{rest}" if rest else "")
        out[path] = out.get(path, False) or compiled
    return out


def generate(names: Iterable[str], cache: Path, jobs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(library, n, cache): n for n in names}
        for future in cf.as_completed(futures):
            result = future.result()
            if result is not None:
                out[futures[future]] = result
    return out


INDEX = "index.json"


def member(name: str) -> str:
    return f"libraries/{re.sub(r'[-_.]+', '-', name).lower()}.json"


def _write(zf: zipfile.ZipFile, name: str, data: object) -> None:
    """One member, with a fixed time: the same data makes the same archive."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, json.dumps(data, separators=(",", ":")), compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="*", help="refresh only these libraries")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "repro-gen" / "module_paths",
        help="where listings are kept between runs",
    )
    parser.add_argument("--jobs", type=int, default=6)
    args = parser.parse_args(argv)
    names = args.only or libraries()
    found = generate(names, args.cache, args.jobs)
    old: dict[str, Any] = {}
    if args.only and args.out.is_file():
        with zipfile.ZipFile(args.out) as zf:
            for name in json.loads(zf.read(INDEX))["libraries"]:
                old[name] = json.loads(zf.read(member(name)))
    merged = {**old, **found}
    index = {
        "schema_version": 1,
        "generated": dt.date.today().isoformat(),
        "generated_by": "scripts/gen_module_paths.py",
        "source": "the file lists of each library's PyPI release files "
        "(https://pypi.org/project/NAME/VERSION/#files): a wheel's or egg's zip "
        "central directory, or an sdist's members; each library's 'releases' names the "
        "file read",
        "notes": "libraries/NAME.json (NAME canonical): name, releases (version, first "
        "upload date, file listed), oldest first, the newest release of each minor "
        "version; paths: import path -> ranges [first, stop) of indexes into releases "
        "that ship it (stop null: the newest still does); only paths whose presence "
        "changes",
        "libraries": {
            k: {"releases": len(merged[k]["releases"]), "paths": len(merged[k]["paths"])}
            for k in sorted(merged)
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        _write(zf, INDEX, index)
        for name in sorted(merged):
            _write(zf, member(name), merged[name])
    paths = sum(len(v["paths"]) for v in merged.values())
    print(f"wrote {args.out}: {len(merged)} libraries, {paths} paths", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

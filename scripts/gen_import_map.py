#!/usr/bin/env python3
"""Regenerate repro/data/import_map.json: import names → distributions, from real metadata.

Where the facts come from, weakest first (a stronger source replaces a weaker one):

1. pipreqs' mapping (``import:dist`` lines in the data file of the installed pipreqs
   0.5.0 package, found with importlib without importing pipreqs). Names it maps to more
   than one project, and generic names (repro/data/import_overrides.json
   ``generic_names``), are dropped.
2. scripts/data/import_map_seed.json: the project's first hand-made map.
3. Metadata: the file list of real wheels, from
   - every wheel in the folders given with ``--wheels DIR`` (read whole: they are local),
   - every distribution installed in the interpreter running this script (its RECORD, or
     top_level.txt when a distribution has no RECORD),
   - with ``--remote NAMES_FILE``, the newest wheel of each project listed there, read
     from the package index with HTTP range requests: only the zip's central directory
     (a few KB) is fetched, never the wheel. The index is pip's default one unless
     ``--index-json`` names another JSON API.

From a wheel's file list, the top-level importable names are its ``*.py`` modules,
extension modules and packages; a folder without ``__init__.py`` is a namespace package,
so the names below it are recorded by their full dotted path (``google.protobuf``,
``azure.storage.blob``). Folders several distributions share without sharing any file
below them (pkgutil-style namespaces) are treated the same way.

When several distributions provide the same import name, the most downloaded one
(scripts/data/pypi_rank.tsv, a snapshot of PyPI's download ranking) is preferred and the
others are kept as ``alternatives``. Hand-made corrections never go here: they live in
repro/data/import_overrides.json, with their sources, and are applied at run time.

Usage:
    python scripts/gen_import_map.py [--wheels DIR ...] [--remote NAMES_FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import re
import ssl
import sys
import urllib.parse
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "repro" / "data"
HERE = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(ROOT))

from repro import distfiles  # noqa: E402
from repro.httpget import Unreachable, ca_file  # noqa: E402
from repro.toplevel import JUNK, claims, importable_files  # noqa: E402


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- sources of file lists


def wheel_name_version(filename: str) -> tuple[str, str]:
    parts = filename[:-4].split("-")
    return parts[0], parts[1] if len(parts) > 1 else ""


def from_wheel_dirs(dirs: list[Path]) -> Iterable[tuple[str, str, list[str]]]:
    """(display name, source, files) for every wheel in ``dirs`` (newest per project)."""
    newest: dict[str, Path] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.whl")):
            name, _ = wheel_name_version(path.name)
            newest[canonical(name)] = path
    for path in newest.values():
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                display = _metadata_name(zf, names) or wheel_name_version(path.name)[0]
        except (zipfile.BadZipFile, OSError) as exc:
            print(f"  skip {path.name}: {exc}", file=sys.stderr)
            continue
        yield display, f"wheel {wheel_name_version(path.name)[1]}", names


def _metadata_name(zf: zipfile.ZipFile, names: list[str]) -> str | None:
    meta = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
    if meta is None:
        return None
    head = zf.read(meta)[:4096].decode("utf-8", "replace")
    m = re.search(r"^Name:\s*(\S+)", head, re.M)
    return m.group(1) if m else None


def from_installed() -> Iterable[tuple[str, str, list[str]]]:
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        files = [str(f) for f in (dist.files or [])]
        if not files:
            top = dist.read_text("top_level.txt") or ""
            files = [f"{t.strip()}/__init__.py" for t in top.splitlines() if t.strip()]
        yield name, f"installed {dist.version}", files


def _default_json_api() -> str:
    """pip's default index, as pip itself names it (its JSON API lives under /pypi)."""
    from pip._internal.models.index import PyPI

    return PyPI.pypi_url.rstrip("/")


def _pick_wheel(files: list[dict[str, object]]) -> dict[str, object] | None:
    wheels = [f for f in files if str(f.get("filename", "")).endswith(".whl")]

    def score(f: dict[str, object]) -> tuple[int, str]:
        name = str(f["filename"])
        if "none-any" in name:
            return (0, name)
        if "manylinux" in name and "x86_64" in name:
            return (1, name)
        return (2, name)

    return min(wheels, key=score) if wheels else None


def from_index(names: list[str], api: str, cache: Path) -> Iterable[tuple[str, str, list[str]]]:
    """File lists of the newest wheels of ``names``; kept in ``cache`` so that a second
    run asks the index nothing."""
    context = ssl.create_default_context(cafile=ca_file())
    cache.mkdir(parents=True, exist_ok=True)
    for name in names:
        cached = cache / f"{canonical(name)}.json"
        if cached.is_file():
            entry = json.loads(cached.read_text())
            yield entry["name"], entry["source"], entry["files"]
            continue
        try:
            with urllib.request.urlopen(f"{api}/{name}/json", context=context, timeout=60) as r:
                info = json.load(r)
        except Exception as exc:  # report it and go on with the next project
            print(f"  skip {name}: {exc}", file=sys.stderr)
            continue
        wheel = _pick_wheel(list(info.get("urls", [])))
        if wheel is None:
            print(f"  skip {name}: no wheel in its newest release", file=sys.stderr)
            continue
        url = urllib.parse.urljoin(f"{api}/{name}/json", str(wheel["url"]))
        try:
            listing = distfiles.list_files(url, str(wheel["filename"]), read_top_level=False)
        except (distfiles.ListingError, Unreachable) as exc:
            print(f"  skip {name}: {exc}", file=sys.stderr)
            continue
        files = list(listing.files)
        version = info.get("info", {}).get("version", "")
        print(f"  {name} {version}: {len(files)} files, {listing.requests} range request(s)")
        display = str(info.get("info", {}).get("name") or name)
        entry = {"name": display, "source": f"index {version}", "files": files}
        cached.write_text(json.dumps(entry))
        yield display, f"index {version}", files


# --------------------------------------------------------------------------- seeds


def pipreqs_seed(path: Path | None, generic: set[str]) -> tuple[dict[str, str], list[str]]:
    if path is None:
        spec = importlib.util.find_spec("pipreqs")
        if spec is None or not spec.submodule_search_locations:
            print("  pipreqs is not installed: no pipreqs seed", file=sys.stderr)
            return {}, []
        path = Path(next(iter(spec.submodule_search_locations))) / "mapping"
    pairs: dict[str, set[str]] = defaultdict(set)
    for line in path.read_text().splitlines():
        module, _, dist = line.strip().partition(":")
        if module and dist:
            pairs[module].add(dist)
    seed, dropped = {}, []
    for module, dists in pairs.items():
        if len(dists) > 1 or module in generic or module.split(".")[0] in JUNK:
            dropped.append(module)
        else:
            seed[module] = next(iter(dists))
    return seed, sorted(dropped)


def load_ranks(path: Path) -> dict[str, int]:
    ranks = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            rank, _, name = line.partition("\t")
            if rank.isdigit():
                ranks[canonical(name)] = int(rank)
    return ranks


# --------------------------------------------------------------------------- main


def build(
    sources: list[tuple[str, str, list[str]]],
    seeds: list[tuple[str, dict[str, str]]],
    ranks: dict[str, int],
    generic: set[str],
    known_namespaces: set[str],
) -> dict[str, object]:
    per_dist: dict[str, tuple[str, str, dict[str, set[str]]]] = {}
    for display, where, files in sources:
        key = canonical(display)
        if key in per_dist:
            continue  # first source wins: wheel folders, then installed, then the index
        mods = claims(importable_files(files))
        # pkgutil-style namespaces (an __init__.py in a shared folder): split them anyway
        for _ in range(3):
            for mod in [m for m in mods if m in known_namespaces]:
                below = mods.pop(mod)
                cut = len(mod) + 1
                for sub, sub_files in claims([f[cut:] for f in below if "/" in f[cut:]]).items():
                    mods[f"{mod}.{sub}"] = {f"{mod.replace('.', '/')}/{x}" for x in sub_files}
        per_dist[key] = (display, where, mods)
    # modules claimed by several distributions that share no file below: namespaces
    providers: dict[str, set[str]] = defaultdict(set)
    for key, (_, _, mods) in per_dist.items():
        for mod in mods:
            providers[mod].add(key)
    namespaces: set[str] = set()
    for mod, keys in list(providers.items()):
        if len(keys) < 2:
            continue
        file_sets = [
            {f for f in per_dist[k][2][mod] if PurePosixPath(f).name != "__init__.py"} for k in keys
        ]
        if not set.intersection(*file_sets) and all(file_sets):
            namespaces.add(mod)
            for k in keys:
                below = per_dist[k][2].pop(mod)
                for sub, files in claims(
                    [f[len(mod) + 1 :] for f in below if "/" in f[len(mod) + 1 :]]
                ).items():
                    per_dist[k][2][f"{mod}.{sub}"] = {f"{mod.replace('.', '/')}/{x}" for x in files}
    providers = defaultdict(set)
    for key, (_, _, mods) in per_dist.items():
        for mod in mods:
            providers[mod].add(key)
            parts = mod.split(".")
            for i in range(1, len(parts)):
                namespaces.add(".".join(parts[:i]))
    namespaces -= set(providers)

    def order(key: str) -> tuple[int, str]:
        return (ranks.get(key, 10**9), key)

    modules: dict[str, str] = {}
    alternatives: dict[str, list[str]] = {}
    module_sources: dict[str, str] = {}
    for label, seed in seeds:
        for module, dist in seed.items():
            if module.split(".")[0] in generic:
                continue
            modules[module] = dist
            module_sources[module] = label
    for mod, keys in sorted(providers.items()):
        if mod.split(".")[0] in generic or mod.startswith("_"):
            continue
        ranked = sorted(keys, key=order)
        modules[mod] = per_dist[ranked[0]][0]
        module_sources[mod] = "metadata"
        if len(ranked) > 1:
            alternatives[mod] = [per_dist[k][0] for k in ranked[1:]]
    every_namespace = namespaces | known_namespaces
    for module in [m for m in modules if m in every_namespace]:
        del modules[module]
        module_sources.pop(module, None)
    dists = {per_dist[k][0]: per_dist[k][1] for k in sorted(per_dist)}
    return {
        "modules": dict(sorted(modules.items())),
        "alternatives": dict(sorted(alternatives.items())),
        "namespaces": sorted(
            n for n in namespaces if not any(p.startswith("_") for p in n.split("."))
        ),
        "module_sources": dict(sorted(module_sources.items())),
        "dists": dists,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--wheels", type=Path, action="append", default=[], help="a folder of wheels"
    )
    parser.add_argument("--no-installed", action="store_true", help="skip installed distributions")
    parser.add_argument("--remote", type=Path, help="file of project names to read from the index")
    parser.add_argument("--index-json", help="JSON API base of the index (default: pip's index)")
    parser.add_argument("--pipreqs-mapping", type=Path, help="pipreqs' mapping file")
    parser.add_argument("--out", type=Path, default=DATA / "import_map.json")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "repro" / "import-map-index",
        help="where file lists read from the index are kept between runs",
    )
    args = parser.parse_args(argv)

    overrides = json.loads((DATA / "import_overrides.json").read_text())
    generic = set(overrides.get("generic_names", {}))
    sources: list[tuple[str, str, list[str]]] = []
    for folder in args.wheels:
        sources += list(from_wheel_dirs([folder]))
        print(f"wheels in {folder}: {len(sources)} projects so far")
    if not args.no_installed:
        sources += list(from_installed())
        print(f"installed distributions: {len(sources)} projects so far")
    if args.remote:
        names = [n.strip() for n in args.remote.read_text().splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
        api = (args.index_json or _default_json_api()).rstrip("/")
        sources += list(from_index(names, api, args.cache))
    pipreqs, dropped = pipreqs_seed(args.pipreqs_mapping, generic)
    own_seed = json.loads((HERE / "import_map_seed.json").read_text())["modules"]
    ranks = load_ranks(HERE / "pypi_rank.tsv")
    namespaces = set(overrides.get("namespaces", []))
    result = build(sources, [("pipreqs", pipreqs), ("seed", own_seed)], ranks, generic, namespaces)
    data = {
        "schema_version": 2,
        "generated": dt.date.today().isoformat(),
        "generated_by": "scripts/gen_import_map.py",
        "source": (
            "top-level modules in the file lists (RECORD / wheel contents) of "
            f"{len(result['dists'])} distributions: local wheels, installed distributions and "
            "the newest wheels of scripts/data/import_map_remote.txt read from the package "
            "index; seeded by pipreqs 0.5.0's mapping and scripts/data/import_map_seed.json; "
            "preferred provider by PyPI download rank (scripts/data/pypi_rank.tsv)"
        ),
        "pipreqs_dropped": dropped,
        **result,
    }
    args.out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    counts: dict[str, int] = defaultdict(int)
    for label in result["module_sources"].values():  # type: ignore[union-attr]
        counts[label] += 1
    print(f"wrote {args.out}: {len(result['modules'])} modules {dict(counts)}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())

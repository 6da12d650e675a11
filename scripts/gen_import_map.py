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
import io
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

# Top-level folders that sloppy wheels ship but nobody imports from them.
JUNK = frozenset(
    {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "benchmark",
     "scripts", "bin", "build", "dist", "tools", "share", "include", "lib", "licenses", "data"}
)  # fmt: skip
EXTENSION = re.compile(r"^([A-Za-z_][\w]*)(?:\.[\w\-]+)?\.(?:so|pyd)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- file lists → modules


def importable_files(paths: Iterable[str]) -> list[str]:
    """Paths of a distribution's files as they sit in site-packages (``.data/purelib``
    folded in, metadata and scripts dropped)."""
    out = []
    for path in paths:
        parts = PurePosixPath(path).parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".egg-info")):
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
            last = depth == len(parts)
            if last:
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


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file, fetched in ranges as zipfile asks."""

    def __init__(self, url: str, size: int, context: ssl.SSLContext) -> None:
        self.url, self.size, self.pos, self.context = url, size, 0, context
        self.cache: dict[int, bytes] = {}
        self.requests = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, min(self.size, base + offset))
        return self.pos

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self.size - self.pos
        end = min(self.size, self.pos + n)
        if end <= self.pos:
            return b""
        block = 1 << 16
        chunks = []
        for start in range(self.pos - self.pos % block, end, block):
            if start not in self.cache:
                stop = min(self.size, start + block) - 1
                req = urllib.request.Request(self.url, headers={"Range": f"bytes={start}-{stop}"})
                with urllib.request.urlopen(req, context=self.context, timeout=60) as resp:
                    self.cache[start] = resp.read()
                self.requests += 1
            chunks.append(self.cache[start])
        data = b"".join(chunks)
        offset = self.pos - (self.pos - self.pos % block)
        out = data[offset : offset + (end - self.pos)]
        self.pos = end
        return out

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


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
    context = ssl.create_default_context()
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
        remote = RangeFile(url, int(str(wheel["size"])), context)
        try:
            with zipfile.ZipFile(io.BufferedReader(remote, buffer_size=1 << 16)) as zf:
                files = zf.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            print(f"  skip {name}: {exc}", file=sys.stderr)
            continue
        version = info.get("info", {}).get("version", "")
        print(f"  {name} {version}: {len(files)} files, {remote.requests} range request(s)")
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

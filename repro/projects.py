"""PyPI's projects and release files for the verified import look-up (edge: network, fs).

:class:`PyPIProjects` is the :class:`repro.lookup.ProjectIndex` repro uses: a project's
files (name, URL, size, upload time) from the simple API in its JSON form (PEP 691, one
request per project), and a release file's member list from repro/distfiles.py (range
requests). Each batch runs concurrently (8 threads).

Both are kept on disk under ``<cache>/imports/`` (``projects/NAME.json``,
``files/HASH.json``), written atomically, so a second run of the same repository asks
nothing: a project page fetched on or after the code's date holds every file uploaded by
then and is not fetched again; a release file never changes once uploaded, so its listing
is kept for good. Offline (``REPRO_OFFLINE=1``) or after the first failure to reach the
index, only the cache answers and :attr:`unavailable` says why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from packaging.utils import canonicalize_name
from packaging.version import Version

from repro import cache as repro_cache
from repro import distfiles, httpget, locks, lookup, pypi, resolve, signals, toplevel
from repro.lookup import Found, IndexFile, Project, Unlisted
from repro.models import Evidence

SIMPLE_URL = "https://pypi.org/simple/"
ACCEPT = "application/vnd.pypi.simple.v1+json"
PAGE_LIMIT = 8 << 20  # a project page larger than this is not read (numpy's: ~2 MB)
OFFLINE_ENV = "REPRO_OFFLINE"
WORKERS = 8
T = TypeVar("T")
R = TypeVar("R")


def look_up(
    evidence: Evidence, *, as_of: dt.date, index: lookup.ProjectIndex | None = None
) -> tuple[dict[str, Found], list[str]]:
    """The verified PyPI look-up of every import repro's data does not map (see
    repro/resolve.py for which are never asked about), and notes for the user."""
    names, left_out = resolve.to_look_up(evidence)
    notes: list[str] = []
    if left_out:
        notes.append(
            f"{left_out} more unmapped import(s) were not looked up on PyPI "
            f"(at most {resolve.LOOKUP_LIMIT} per repository)"
        )
    if not names:
        return {}, notes
    index = index if index is not None else PyPIProjects(as_of=as_of)
    found = lookup.resolve(
        names, as_of=as_of, index=index, paths=resolve.dotted_paths(evidence, names)
    )
    if index.unavailable:
        unchecked = sum(1 for f in found.values() if f.note)
        if unchecked:
            notes.append(
                f"PyPI could not be asked ({index.unavailable}): {unchecked} unmapped "
                "import(s) were resolved from repro's shipped data and earlier look-ups only"
            )
    return found, notes


def module_provider(
    as_of: dt.date, index: lookup.ProjectIndex | None = None
) -> Callable[[str], tuple[str, str] | None]:
    """The verified look-up of one module as a repair asks it (a package imported a module
    it does not declare): (project, evidence) when a release ships it, else None."""

    def provider(module: str) -> tuple[str, str] | None:
        asked = index if index is not None else PyPIProjects(as_of=as_of)
        found = lookup.resolve([module], as_of=as_of, index=asked)[module]
        return (found.dist, found.evidence) if found.resolved else None

    return provider


def release_ships(
    as_of: dt.date, index: lookup.ProjectIndex | None = None
) -> Callable[[str, str, str], bool | None]:
    """Whether a release of a distribution ships a module, as a repair asks it (a submodule
    gone from the installed release): read from the file list of that release's wheel, else
    its sdist (the same cached range requests as the look-up); None when it cannot be told."""
    asked: list[lookup.ProjectIndex] = []

    def ships(dist: str, version: str, module: str) -> bool | None:
        if not asked:
            asked.append(index if index is not None else PyPIProjects(as_of=as_of))
        key = canonicalize_name(dist)
        project = asked[0].projects([key]).get(key)
        if project is None:
            return None
        files = _release_files(project, version)
        if not files:
            return None
        listing = asked[0].listings(files[:1]).get(files[0].url)
        if not isinstance(listing, toplevel.Listing):
            return None
        return toplevel.holds_module(listing, module)

    return ships


def _release_files(project: Project, version: str) -> list[IndexFile]:
    """The files of one release, the one to list first: a pure-Python wheel, another
    wheel, then the sdist."""
    wanted = Version(version)
    found: list[tuple[int, IndexFile]] = []
    for f in project.files:
        if f.yanked:
            continue
        rank, got = toplevel.release_of(f.filename)
        if got is not None and got == wanted:
            found.append((rank, f))
    return [f for _, f in sorted(found, key=lambda rf: rf[0])]


def default_simple_url() -> str:
    """PyPI's simple API, or the mirror's that ``$REPRO_PYPI_URL`` names (its JSON API's
    ``…/pypi`` base, whose simple API is ``…/simple``, as on PyPI itself)."""
    base = os.environ.get(pypi.URL_ENV, "").strip().rstrip("/")
    if not base:
        return SIMPLE_URL
    return (base[: -len("/pypi")] if base.endswith("/pypi") else base) + "/simple/"


class PyPIProjects:
    """PyPI through a :class:`repro.httpget.Transport`, cached under ``<cache>/imports``."""

    def __init__(
        self,
        *,
        as_of: dt.date,
        transport: httpget.Transport | None = None,
        simple_url: str = "",
        offline: bool | None = None,
    ) -> None:
        self.as_of = as_of
        self.transport = transport if transport is not None else httpget.UrllibTransport()
        self.simple_url = (simple_url or default_simple_url()).rstrip("/") + "/"
        if offline is None:
            offline = os.environ.get(OFFLINE_ENV, "") == "1"
        self._unavailable = f"{OFFLINE_ENV}=1" if offline else ""
        self._lock = threading.Lock()
        self.requests = 0

    @property
    def unavailable(self) -> str:
        return self._unavailable

    def _went_offline(self, why: str) -> None:
        with self._lock:
            self._unavailable = self._unavailable or why

    # ----------------------------------------------------------------------- projects

    def projects(self, names: Iterable[str]) -> dict[str, Project | None]:
        keys = list(dict.fromkeys(canonicalize_name(n) for n in names))
        answers = _each(self._project, keys)
        return {k: v for k, v in zip(keys, answers, strict=True) if not isinstance(v, _Missing)}

    def _project(self, key: str) -> Project | _Missing | None:
        path = repro_cache.cache_dir() / "imports" / "projects" / f"{key}.json"
        cached = _read_json(path)
        if cached is not None:
            fetched = dt.date.fromisoformat(str(cached.get("fetched", "1970-01-01"))[:10])
            if fetched >= self.as_of or self.unavailable:
                return _project_from(cached)
        if self.unavailable:
            return _MISSING
        try:
            reply = self.transport.get(
                self.simple_url + key + "/", headers={"Accept": ACCEPT}, limit=PAGE_LIMIT
            )
        except httpget.Unreachable as exc:
            self._went_offline(str(exc))
            return _project_from(cached) if cached is not None else _MISSING
        except httpget.TooLarge:
            return _MISSING
        with self._lock:
            self.requests += 1
        if reply.status == 404:
            entry: dict[str, Any] = {"fetched": _today(), "missing": True}
        elif reply.status == 200:
            try:
                entry = _condense(json.loads(reply.body), key, self.simple_url + key + "/")
            except (ValueError, KeyError, TypeError):
                return _MISSING
        else:
            self._went_offline(f"HTTP {reply.status}")
            return _project_from(cached) if cached is not None else _MISSING
        locks.write_cache_entry(path, json.dumps(entry))
        return _project_from(entry)

    # ----------------------------------------------------------------------- listings

    def listings(self, files: Iterable[IndexFile]) -> dict[str, toplevel.Listing | Unlisted]:
        todo = list({f.url: f for f in files}.values())
        answers = _each(self._listing, todo)
        return {f.url: a for f, a in zip(todo, answers, strict=True)}

    def _listing(self, file: IndexFile) -> toplevel.Listing | Unlisted:
        digest = hashlib.sha256(file.url.encode()).hexdigest()[:32]
        path = repro_cache.cache_dir() / "imports" / "files" / f"{digest}.json"
        cached = _read_json(path)
        if cached is not None and cached.get("filename") == file.filename:
            if "error" in cached:
                return Unlisted(reason=str(cached["error"]))
            kind = toplevel.kind_of(file.filename)
            if kind is not None:
                return toplevel.Listing(
                    filename=file.filename,
                    kind=kind,
                    files=tuple(cached.get("files", ())),
                    top_level=tuple(cached.get("top_level", ())),
                )
        if self.unavailable:
            return Unlisted(reason=f"not asked: {self.unavailable}", asked=False)
        try:
            listing = distfiles.list_files(
                file.url, file.filename, transport=self.transport, size=file.size
            )
        except httpget.Unreachable as exc:
            self._went_offline(str(exc))
            return Unlisted(reason=str(exc), asked=False)
        except distfiles.ListingError as exc:
            # the same file gives the same answer next time (files never change on PyPI)
            locks.write_cache_entry(
                path, json.dumps({"filename": file.filename, "error": str(exc)})
            )
            return Unlisted(reason=str(exc))
        with self._lock:
            self.requests += listing.requests
        entry = {
            "filename": file.filename,
            "files": list(listing.files),
            "top_level": list(listing.top_level),
        }
        locks.write_cache_entry(path, json.dumps(entry))
        return listing


class _Missing:
    """A project that could not be asked about."""


_MISSING = _Missing()


def _each(work: Callable[[T], R], items: list[T]) -> list[R]:
    if len(items) < 2:
        return [work(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        with signals.quiet_threads():
            answers = pool.map(work, items)
        return list(answers)


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def _read_json(path: os.PathLike[str]) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _condense(doc: Mapping[str, Any], key: str, page: str) -> dict[str, Any]:
    """A PEP 691 project page → what the look-up needs of it (URLs made absolute)."""
    from urllib.parse import urljoin

    files = []
    for f in doc.get("files", []):
        filename = str(f.get("filename", ""))
        if toplevel.kind_of(filename) is None:
            continue
        files.append(
            {
                "filename": filename,
                "url": urljoin(page, str(f["url"])),
                "size": f.get("size"),
                "uploaded": f.get("upload-time"),
                "yanked": bool(f.get("yanked")),
            }
        )
    return {"fetched": _today(), "name": str(doc.get("name") or key), "files": files}


def _project_from(entry: Mapping[str, Any]) -> Project | None:
    if entry.get("missing"):
        return None
    files = []
    for f in entry.get("files", []):
        uploaded = None
        if f.get("uploaded"):
            try:
                uploaded = dt.datetime.fromisoformat(str(f["uploaded"]).replace("Z", "+00:00"))
            except ValueError:
                uploaded = None
        size = f.get("size")
        files.append(
            IndexFile(
                filename=str(f["filename"]),
                url=str(f["url"]),
                size=int(size) if isinstance(size, int) else None,
                uploaded=uploaded,
                yanked=bool(f.get("yanked")),
            )
        )
    return Project(name=str(entry.get("name", "")), files=tuple(files))

"""Which PyPI project provides an import no shipped data maps: found and verified (pure).

For an unmapped import ``M``, a few candidate projects are derived from its name (``M``
itself, ``pyM``, ``python-M``, ``M-python``, ``py-M``, ``M-py``, ``pythonM``; for a path
under a namespace, ``ns-a-b`` and ``ns-a``), and each is checked against the index:

1. it exists;
2. its first upload is on or before the code's date: a project registered later cannot be
   what the code imported, and a name registered after the fact to catch exactly this
   look-up (dependency confusion) is shut out;
3. one real release file ships ``M``: the newest release uploaded by the code's date is
   listed (its wheel, else its egg, else its sdist; repro/distfiles.py) and ``M`` must be
   among the top-level modules or packages of that list (repro/toplevel.py), or named by
   the file's ``top_level.txt``.

A candidate passing all three is accepted; where several are, the most used (PyPI's
download rank, ``data/pypi_rank.json``) is chosen and the others listed. Every candidate
tried is kept with why it was accepted or refused, for ``repro inspect`` and the manifest.

The index is a :class:`ProjectIndex`, asked in two batches (every candidate's project page,
then the release files to list), so that the edge (repro/projects.py) can run each batch
concurrently and cache it on disk; unit tests pass a stand-in. Names this module must
never look up (the repository's own modules, the standard library, generic names, host
applications) are filtered by the caller (repro/resolve.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal, Protocol

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from repro import datafiles, toplevel

# Affixes tried around a module name, most likely first (PyPI names are case-, hyphen-
# and underscore-insensitive, so those variants are one name).
AFFIXES = ("{}", "py{}", "python-{}", "{}-python", "py-{}", "{}-py", "python{}")
MAX_FILES_TRIED = 2  # release files listed per candidate when the first cannot be read


# --------------------------------------------------------------------------- index values


@dataclass(frozen=True, kw_only=True)
class IndexFile:
    """One file of a project on the index (PEP 691)."""

    filename: str
    url: str
    size: int | None = None
    uploaded: dt.datetime | None = None  # upload time, UTC
    yanked: bool = False


@dataclass(frozen=True, kw_only=True)
class Project:
    name: str  # as the index spells it
    files: tuple[IndexFile, ...]

    @property
    def first_upload(self) -> dt.date | None:
        dates = [f.uploaded.date() for f in self.files if f.uploaded is not None]
        return min(dates) if dates else None


@dataclass(frozen=True, kw_only=True)
class Unlisted:
    """Why a release file could not be listed; ``asked``: the index answered (the file is
    gone, too large or unreadable) rather than not being reachable."""

    reason: str
    asked: bool = True


class ProjectIndex(Protocol):
    """Where projects and release files are read (repro/projects.py; a stand-in in tests).

    Both calls take a batch and answer for what they could: a name absent from the answer
    of :meth:`projects`, or a file absent from :meth:`listings`, could not be asked
    (``unavailable`` says why); a project that does not exist maps to None.
    """

    def projects(self, names: Iterable[str]) -> Mapping[str, Project | None]: ...

    def listings(self, files: Iterable[IndexFile]) -> Mapping[str, toplevel.Listing | Unlisted]:
        """URL → the listing, or why it could not be listed."""
        ...

    @property
    def unavailable(self) -> str:
        """Why the index could not be asked ("" when it could)."""
        ...


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, kw_only=True)
class Tried:
    project: str  # the candidate name, or the project's name as the index spells it
    outcome: Literal["accepted", "refused", "unchecked"]
    why: str  # the evidence (accepted), why it was refused, or why it was not asked
    specifier: str = ""  # accepted only below a release that dropped the module ("<2")

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"

    def __str__(self) -> str:
        return f"{self.project}: {self.why}"

    def to_json(self) -> dict[str, str]:
        return {"project": self.project, "outcome": self.outcome, "why": self.why}


@dataclass(frozen=True, kw_only=True)
class Found:
    """What the look-up found for one import path."""

    module: str
    dist: str = ""  # the project chosen; "" when none was accepted
    evidence: str = ""  # "PyPI project X ships top-level module M in wheel (file)"
    alternatives: tuple[str, ...] = ()  # other accepted projects, most used first
    specifier: str = ""  # the releases that ship the module ("<2": 2.0 dropped it)
    tried: tuple[Tried, ...] = ()
    note: str = ""  # why the look-up was incomplete (offline), else ""

    @property
    def resolved(self) -> bool:
        return bool(self.dist)

    def refusals(self) -> tuple[str, ...]:
        return tuple(str(t) for t in self.tried if not t.accepted)


# --------------------------------------------------------------------------- candidates


def candidates(module: str, paths: Iterable[str] = ()) -> tuple[str, ...]:
    """Project names to ask about for the import path ``module`` (canonical, deduplicated).

    A top-level name gets the affixes, and the first two parts of each longer path the
    code imports below it (``paths``: ``RPi.GPIO`` → ``RPi.GPIO``); a path below a
    namespace (``google.foo.bar``) gets its dotted parts joined (``google-foo-bar``,
    ``google-foo``), never the bare namespace.
    """
    parts = module.split(".")
    if len(parts) > 1:
        names = ["-".join(parts[:size]) for size in range(len(parts), 1, -1)]
    else:
        top = canonicalize_name(parts[0])
        dotted = ["-".join(p.split(".")[:2]) for p in paths if p.startswith(parts[0] + ".")]
        # speech_recognition is SpeechRecognition: the words run together
        joined = [top.replace("-", "")] if "-" in top else []
        names = [top, *dotted, *joined, *(affix.format(top) for affix in AFFIXES[1:])]
    return tuple(dict.fromkeys(canonicalize_name(n) for n in names if n))


@cache
def _ranks() -> dict[str, int]:
    return {str(k): int(v) for k, v in datafiles.load("pypi_rank.json")["ranks"].items()}


def rank(name: str) -> int | None:
    """The project's download rank (1 = most used), None below the ranked 5,000."""
    return _ranks().get(canonicalize_name(name))


# --------------------------------------------------------------------------- release files


def _version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if filename.endswith(".egg"):
            m = re.match(r"^[^-]+-([^-]+)-", filename)
            return Version(m.group(1)) if m else None
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def _preference(filename: str) -> tuple[int, str]:
    """Which file of a release to list first: a pure wheel, a Linux wheel, any wheel, an
    egg, an sdist (the file pip would take; a pure or Linux one lists what Linux gets)."""
    name = filename.lower()
    kind = toplevel.kind_of(name)
    if kind == "wheel":
        if name.endswith("-none-any.whl"):
            return (0, name)
        return (1 if "linux" in name and "x86_64" in name else 2, name)
    return (3 if kind == "egg" else 4, name)


def files_to_list(
    project: Project, as_of: dt.date, *, below: str = ""
) -> tuple[str, list[IndexFile]]:
    """The version whose files are listed (the newest uploaded by ``as_of``; with
    ``below``, the newest of an earlier major series than that version) and those of its
    files worth listing, best first; ("", []) when it has none."""
    ceiling = Version(below).major if below else None
    by_version: dict[Version, list[IndexFile]] = {}
    for file in project.files:
        if file.yanked or toplevel.kind_of(file.filename) is None:
            continue
        if file.uploaded is not None and file.uploaded.date() > as_of:
            continue
        version = _version(file.filename)
        if version is not None and (ceiling is None or version.major < ceiling):
            by_version.setdefault(version, []).append(file)
    if not by_version:
        return "", []
    finals = [v for v in by_version if not v.is_prerelease]
    newest = max(finals or by_version)
    ordered = sorted(by_version[newest], key=lambda f: _preference(f.filename))
    return str(newest), ordered[:MAX_FILES_TRIED]


def _kind_word(listing: toplevel.Listing) -> str:
    return {"wheel": "wheel", "egg": "egg", "sdist": "sdist"}[listing.kind]


def provided(listing: toplevel.Listing, module: str) -> str | None:
    """The import path of ``module`` the listed file ships (``module`` or a prefix of it
    below any namespace), or None."""
    files = (
        toplevel.sdist_files(listing.files)
        if listing.kind == "sdist"
        else toplevel.importable_files(listing.files)
    )
    found = toplevel.provides(toplevel.claims(files), module)
    if found is not None:
        return found
    top = module.split(".")[0]
    if "." not in module and top in listing.top_level:
        return top
    return None


def _shipped_names(listing: toplevel.Listing, limit: int = 5) -> str:
    files = (
        toplevel.sdist_files(listing.files)
        if listing.kind == "sdist"
        else toplevel.importable_files(listing.files)
    )
    names = sorted({m.split(".")[0] for m in toplevel.claims(files)} | set(listing.top_level))
    if not names:
        return "no importable module"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


# --------------------------------------------------------------------------- resolution


def resolve(
    modules: Iterable[str],
    *,
    as_of: dt.date,
    index: ProjectIndex,
    index_name: str = "PyPI",
    paths: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, Found]:
    """Look every import path of ``modules`` up; the answer has one :class:`Found` each.
    ``paths``: longer import paths the code uses below a top-level name (candidates)."""
    wanted = list(dict.fromkeys(modules))
    names = {m: candidates(m, (paths or {}).get(m, ())) for m in wanted}
    every = list(dict.fromkeys(n for ns in names.values() for n in ns))
    projects = index.projects(every) if every else {}
    # the release files to list, for the candidates that exist and are old enough
    plan: dict[tuple[str, str], tuple[str, list[IndexFile]]] = {}
    early: dict[tuple[str, str], Tried] = {}
    for module in wanted:
        for name in names[module]:
            screened = _screen(name, projects, as_of, index.unavailable, index_name)
            if isinstance(screened, Tried):
                early[(module, name)] = screened
            else:
                plan[(module, name)] = screened
    to_list = {f.url: f for _, files in plan.values() for f in files}
    listings = index.listings(to_list.values()) if to_list else {}
    checked: dict[tuple[str, str], Tried] = {}
    for key, (version, files) in plan.items():
        project = projects[key[1]]
        assert project is not None
        checked[key] = _check(project.name, version, files, listings, key[0], index_name)
    # A project whose newest release lacks the module may have dropped it in a new major
    # series (slackclient 2 ships slack): its last release before that is listed too, and
    # accepted only below the series that dropped it.
    older: dict[tuple[str, str], tuple[str, list[IndexFile]]] = {}
    for key, result in checked.items():
        version, files = plan[key]
        if result.outcome == "refused" and _listed(files, listings):
            project = projects[key[1]]
            assert project is not None
            before, earlier = files_to_list(project, as_of, below=version)
            if earlier:
                older[key] = (before, earlier)
    if older:
        more = {f.url: f for _, files in older.values() for f in files}
        listings = {**listings, **index.listings(more.values())}
        for key, (before, earlier) in older.items():
            project = projects[key[1]]
            assert project is not None
            again = _check(project.name, before, earlier, listings, key[0], index_name)
            if again.accepted:
                dropped = plan[key][0]
                bound = f"<{Version(dropped).major}"
                checked[key] = Tried(
                    project=again.project,
                    outcome="accepted",
                    why=f"{again.why}; {project.name} {dropped} no longer ships it, so "
                    f"{project.name}{bound}",
                    specifier=bound,
                )
    out: dict[str, Found] = {}
    for module in wanted:
        tried: list[Tried] = []
        accepted: list[tuple[Tried, str, int]] = []  # (tried, project, candidate order)
        for order, name in enumerate(names[module]):
            key = (module, name)
            result = early.get(key) or checked[key]
            tried.append(result)
            if result.accepted:
                accepted.append((result, result.project, order))
        out[module] = _choose(module, tried, accepted, index.unavailable, index_name)
    return out


def _screen(
    name: str,
    projects: Mapping[str, Project | None],
    as_of: dt.date,
    unavailable: str,
    index_name: str,
) -> Tried | tuple[str, list[IndexFile]]:
    """A candidate project before its files are listed: refused (or unchecked) with why,
    or the release and the files of it to list."""
    if name not in projects:
        return Tried(
            project=name,
            outcome="unchecked",
            why=f"not checked: {index_name} could not be asked ({unavailable or 'no answer'})",
        )
    project = projects[name]
    if project is None:
        return Tried(project=name, outcome="refused", why=f"no such project on {index_name}")
    first = project.first_upload
    if first is None:
        return Tried(
            project=project.name,
            outcome="refused",
            why=f"{index_name} gives no upload dates for it: its age cannot be checked",
        )
    if first > as_of:
        return Tried(
            project=project.name,
            outcome="refused",
            why=f"first uploaded {first.isoformat()}, after the code's date "
            f"{as_of.isoformat()}: it cannot be what the code imported",
        )
    version, files = files_to_list(project, as_of)
    if not files:
        return Tried(
            project=project.name,
            outcome="refused",
            why=f"no wheel, egg or sdist uploaded by {as_of.isoformat()}",
        )
    return version, files


def _listed(files: list[IndexFile], listings: Mapping[str, toplevel.Listing | Unlisted]) -> bool:
    """Whether one of ``files`` was listed (so the module's absence is known)."""
    return any(isinstance(listings.get(f.url), toplevel.Listing) for f in files)


def _check(
    project: str,
    version: str,
    files: list[IndexFile],
    listings: Mapping[str, toplevel.Listing | Unlisted],
    module: str,
    index_name: str,
) -> Tried:
    reasons: list[str] = []
    asked = False
    for file in files:
        listing = listings.get(file.url, Unlisted(reason="not listed", asked=False))
        if isinstance(listing, Unlisted):
            asked = asked or listing.asked
            reasons.append(f"{file.filename} could not be listed ({listing.reason})")
            continue
        asked = True
        found = provided(listing, module)
        what = _kind_word(listing)
        if found is not None:
            level = "top-level module" if "." not in found else "module"
            via = " (its top_level.txt)" if found not in _claimed(listing) else ""
            project = display_name(project, file.filename)
            return Tried(
                project=project,
                outcome="accepted",
                why=f"{index_name} project {project} ships {level} {found} in "
                f"{project}-{version} {what} ({file.filename}){via}",
            )
        reasons.append(
            f"{project}-{version} {what} ({file.filename}) ships {_shipped_names(listing)}, "
            f"not {module}"
        )
        break  # a file that lists and lacks the module settles it
    if not asked:
        return Tried(project=project, outcome="unchecked", why="not checked: " + "; ".join(reasons))
    return Tried(project=project, outcome="refused", why="; ".join(reasons))


def display_name(project: str, filename: str) -> str:
    """The project's name as its author spells it, from a release file's name
    (``RPi.GPIO-0.6.3.tar.gz`` → ``RPi.GPIO``; the index answers ``rpi-gpio``), when that
    spelling is the same name; else ``project``."""
    m = re.match(r"^(.+?)-\d", filename)
    if m and canonicalize_name(m.group(1)) == canonicalize_name(project):
        return m.group(1) if "_" not in m.group(1) else project
    return project


def _claimed(listing: toplevel.Listing) -> set[str]:
    files = (
        toplevel.sdist_files(listing.files)
        if listing.kind == "sdist"
        else toplevel.importable_files(listing.files)
    )
    return set(toplevel.claims(files))


def _choose(
    module: str,
    tried: list[Tried],
    accepted: list[tuple[Tried, str, int]],
    unavailable: str,
    index_name: str,
) -> Found:
    note = (
        f"{index_name} could not be asked ({unavailable}): only repro's shipped data and "
        "earlier look-ups (cache) were used"
        if any(t.outcome == "unchecked" for t in tried)
        else ""
    )
    if not accepted:
        return Found(module=module, tried=tuple(tried), note=note)

    def order(item: tuple[Tried, str, int]) -> tuple[int, int]:
        found_rank = rank(item[1])
        return (found_rank if found_rank is not None else 10**9, item[2])

    ranked = sorted(accepted, key=order)
    best = ranked[0]
    return Found(
        module=module,
        dist=best[1],
        evidence=best[0].why,
        specifier=best[0].specifier,
        alternatives=tuple(item[1] for item in ranked[1:]),
        tried=tuple(tried),
        note=note,
    )

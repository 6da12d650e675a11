"""Release histories as values (pure): each package's releases with their upload dates,
Requires-Python and wheels (``PackageReleases``), the ``ReleaseIndex`` the version stages
read them from, and the histories shipped in ``repro/data/releases.json`` (made by
``scripts/gen_releases.py``), so ``repro inspect`` decides the core ML packages offline
(``ShippedIndex``). ``pypi.PyPIIndex`` adds PyPI's JSON API and the on-disk cache.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from repro import datafiles


@dataclass(frozen=True, kw_only=True)
class Release:
    version: str
    date: dt.date  # first upload of any of its files, UTC
    requires_python: str = ""
    wheels: frozenset[str] = frozenset()  # interpreter tags of Linux x86_64 / pure wheels
    sdist: bool = False
    yanked: bool = False

    @property
    def parsed(self) -> Version:
        return Version(self.version)

    def supports(self, python: str) -> bool:
        """Whether this release installs on CPython ``python`` ("3.7") without compiling.

        A matching wheel is required when the release ships wheels at all; a release with
        only a source distribution counts as pure Python (old pure packages shipped that way).
        """
        if self.requires_python and not _python_allowed(python, self.requires_python):
            return False
        if not self.wheels:
            return self.sdist
        major, minor = (int(p) for p in python.split("."))
        for tag in self.wheels:
            if tag in (f"py{major}", f"py{major}{minor}", f"cp{major}{minor}"):
                return True
            if tag.endswith("-abi3") and tag.startswith(f"cp{major}"):
                floor = int(tag[3:].split("-")[0] or 0)
                if floor <= minor:
                    return True
        return False

    def pythons(self, candidates: Iterable[str]) -> list[str]:
        return [p for p in candidates if self.supports(p)]


@dataclass(frozen=True, kw_only=True)
class PackageReleases:
    name: str  # canonical
    fetched: dt.datetime  # when the history was read from PyPI
    releases: tuple[Release, ...]  # oldest first
    source: str = "shipped"  # "shipped", "cache" or "pypi"

    def get(self, version: str) -> Release | None:
        try:
            want = Version(version)
        except InvalidVersion:
            return None
        want_public = Version(want.public)
        for release in self.releases:
            if release.parsed == want or release.parsed == want_public:
                return release
        return None

    def latest(self) -> Release | None:
        usable = [r for r in self.releases if not r.yanked]
        return usable[-1] if usable else None


class ReleaseIndex(Protocol):
    """Where the version stages read release histories from."""

    def get(self, name: str) -> PackageReleases | None: ...

    @property
    def warnings(self) -> tuple[str, ...]: ...


@cache  # releases repeat the same Requires-Python; parsing it is the costly part
def _python_allowed(python: str, requires: str) -> bool:
    try:
        spec = SpecifierSet(requires)
    except InvalidSpecifier:
        return True
    return any(spec.contains(f"{python}.{patch}", prereleases=True) for patch in (0, 99))


def condense(doc: Mapping[str, Any], *, serial: int | None, fetched: str) -> dict[str, Any]:
    """PyPI's JSON answer for one project → the compact form stored in data and cache."""
    releases: dict[str, Any] = {}
    for version, files in (doc.get("releases") or {}).items():
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        if parsed.is_prerelease or not files:
            continue
        times = sorted(f.get("upload_time_iso_8601") or f.get("upload_time") or "" for f in files)
        times = [t for t in times if t]
        if not times:
            continue
        wheels: set[str] = set()
        sdist = False
        requires = ""
        for f in files:
            requires = requires or (f.get("requires_python") or "")
            if f.get("packagetype") == "sdist":
                sdist = True
            elif str(f.get("filename", "")).endswith(".whl"):
                wheels |= _linux_tags(str(f["filename"]))
        entry: dict[str, Any] = {"date": times[0][:10]}
        if requires:
            entry["requires_python"] = requires
        if wheels:
            entry["wheels"] = " ".join(sorted(wheels))
        if sdist:
            entry["sdist"] = True
        if all(f.get("yanked") for f in files):
            entry["yanked"] = True
        releases[version] = entry
    ordered = dict(sorted(releases.items(), key=lambda kv: Version(kv[0])))
    return {"fetched": fetched, "serial": serial, "releases": ordered}


def _linux_tags(filename: str) -> set[str]:
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return set()
    out: set[str] = set()
    for tag in tags:
        plat = tag.platform
        if plat != "any" and not ("linux" in plat and "x86_64" in plat):
            continue
        out.add(f"{tag.interpreter}-abi3" if tag.abi == "abi3" else tag.interpreter)
    return out


def parse_package(name: str, entry: Mapping[str, Any], source: str) -> PackageReleases:
    releases = []
    for version, info in entry["releases"].items():
        releases.append(
            Release(
                version=version,
                date=dt.date.fromisoformat(info["date"]),
                requires_python=info.get("requires_python", ""),
                wheels=frozenset(str(info.get("wheels", "")).split()),
                sdist=bool(info.get("sdist")),
                yanked=bool(info.get("yanked")),
            )
        )
    fetched = dt.datetime.fromisoformat(str(entry["fetched"]).replace("Z", "+00:00"))
    return PackageReleases(
        name=canonicalize_name(name), fetched=fetched, releases=tuple(releases), source=source
    )


@cache
def _shipped_entries() -> dict[str, tuple[str, Mapping[str, Any]]]:
    """The histories shipped in ``releases.json``, by canonical name, not yet parsed."""
    data = datafiles.load("releases.json")
    return {canonicalize_name(name): (name, entry) for name, entry in data["packages"].items()}


@cache
def shipped(key: str) -> PackageReleases | None:
    """One shipped history (``key``: a canonical name), parsed when first asked for (a
    pack asks for a few of the ~100: parsing them all took ~50 ms of every start)."""
    found = _shipped_entries().get(key)
    return parse_package(found[0], found[1], "shipped") if found else None


@dataclass
class ShippedIndex:
    """Only the histories shipped in ``repro/data/releases.json`` (pure, offline)."""

    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> PackageReleases | None:
        return shipped(canonicalize_name(name))

    def names(self) -> Iterable[str]:
        """The packages whose history ships with repro."""
        return sorted(_shipped_entries())

"""Evidence → Environment: which Python, which requirements, and why (pure).

Declared requirements win; imports fill the gaps; imports nothing maps are reported as
unresolved. The Python version is the newest one that satisfies every statement the
repository makes about it and that had been out for a year at the commit date (so the
packages of that time had wheels for it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import mapping
from repro.errors import UsageError
from repro.models import (
    STRONG_KINDS,
    DeclaredRequirement,
    Environment,
    Evidence,
    Options,
    Origin,
    PythonChoice,
    PythonHint,
    Requirement,
    Unresolved,
)

# Installed alone in their own image layer: large, slow to install, rarely changed.
FRAMEWORKS = frozenset(
    {
        "torch",
        "torchvision",
        "torchaudio",
        "tensorflow",
        "tensorflow-gpu",
        "tensorflow-cpu",
        "jax",
        "jaxlib",
        "mxnet",
        "paddlepaddle",
        "paddlepaddle-gpu",
    }
)

# How long a Python release needs before the packages of the day ship wheels for it.
WHEEL_LAG = dt.timedelta(days=365)


@cache
def python_releases() -> dict[str, dt.date]:
    data = mapping.load_json("python_releases.json")
    return {v: dt.date.fromisoformat(d) for v, d in data["releases"].items()}


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def satisfies(python: str, specifier: str) -> bool:
    """Whether some release of ``python`` (X.Y) is allowed by ``specifier``."""
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return True
    return any(spec.contains(f"{python}.{patch}", prereleases=True) for patch in (0, 99))


# --------------------------------------------------------------------------- python


def choose_python(
    hints: Iterable[PythonHint],
    *,
    as_of: dt.date,
    override: str | None = None,
    prefer: Mapping[str, str] | None = None,
) -> tuple[PythonChoice, list[str]]:
    """The Python version, its reasons, and the hints that had to be overruled."""
    releases = python_releases()
    if override:
        if override not in releases:
            known = ", ".join(sorted(releases, key=_vkey))
            raise UsageError(f"--python {override}: not a Python repro can build ({known})")
        return PythonChoice(version=override, reasons=(f"--python {override}",)), []
    candidates = sorted(releases, key=_vkey)
    reasons: list[str] = []
    conflicts: list[str] = []
    order = {"declared": 0, "syntax": 1, "hint": 2}
    for hint in sorted(hints, key=lambda h: order[h.strength]):
        kept = [v for v in candidates if satisfies(v, hint.specifier)]
        if not kept:
            conflicts.append(
                f"ignored Python {hint.specifier} from {hint.origin}: it contradicts {reasons}"
            )
            continue
        if kept != candidates:
            reasons.append(f"Python {hint.specifier} ({hint.origin})")
        candidates = kept
    preferred = [v for v in candidates if v in (prefer or {})]
    mature = [v for v in candidates if releases[v] + WHEEL_LAG <= as_of]
    if preferred:
        version = preferred[-1]
        reasons.append((prefer or {})[version])
    elif mature:
        version = mature[-1]
        if version != candidates[-1]:
            reasons.append(
                f"newest Python out for a year by {as_of.isoformat()} (the code's date), "
                "so that the packages of the time have wheels for it"
            )
        elif not reasons:
            reasons.append("newest Python repro builds; nothing in the repository restricts it")
    else:
        version = candidates[0]
        reasons.append(f"oldest allowed Python; none was a year old by {as_of.isoformat()}")
    return PythonChoice(version=version, reasons=tuple(reasons)), conflicts


# --------------------------------------------------------------------------- requirements


@dataclass
class _Draft:
    name: str
    specs: list[str] = field(default_factory=list)
    extras: set[str] = field(default_factory=set)
    markers: list[str] = field(default_factory=list)
    url: str = ""
    origins: list[Origin] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    optional: bool = True
    version: str | None = None


def _parse(decl: DeclaredRequirement) -> tuple[str, str, set[str], str, str]:
    """(display name, specifier, extras, marker, url) of a declared line."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PReq

    if decl.requirement.startswith(("git+", "hg+", "svn+", "bzr+", "http://", "https://", "file:")):
        return decl.name, "", set(), "", decl.requirement
    try:
        req = PReq(decl.requirement)
    except InvalidRequirement:
        return decl.name, "", set(), "", ""
    return req.name, str(req.specifier), set(req.extras), str(req.marker or ""), req.url or ""


def infer(
    evidence: Evidence,
    options: Options,
    *,
    commit_date: dt.datetime,
    wheelhouse: Sequence[Wheel] | None = None,
) -> Environment:
    as_of = options.as_of or commit_date.date()
    wheels = tuple(wheelhouse or ())
    python, py_conflicts = choose_python(
        evidence.python_hints,
        as_of=as_of,
        override=options.python,
        prefer=_wheelhouse_pythons(evidence, wheels),
    )
    drafts: dict[str, _Draft] = {}
    constraints: list[DeclaredRequirement] = []
    for decl in evidence.declared:
        if decl.group == "constraint":
            constraints.append(decl)
            continue
        if decl.origin.kind not in STRONG_KINDS | {"notebook"}:
            continue
        _add_declared(drafts, decl)
    unresolved = _add_imports(drafts, evidence, python.major)
    for decl in constraints:
        key = canonicalize_name(decl.name)
        if key in drafts:
            _, spec, _, _, _ = _parse(decl)
            if spec:
                drafts[key].specs.append(spec)
                drafts[key].origins.append(decl.origin)
    _apply_pins(drafts, options.pins)
    conflicts = list(py_conflicts)
    usable = _wheels_for(wheels, python.version)
    requirements = [
        _finish(d, usable, conflicts) for d in sorted(drafts.values(), key=lambda d: d.name.lower())
    ]
    index_urls = tuple(
        dict.fromkeys(h.value for h in evidence.hints if h.topic in ("index-url", "find-links"))
    )
    return Environment(
        python=python,
        requirements=tuple(requirements),
        unresolved=tuple(unresolved),
        conflicts=tuple(conflicts),
        as_of=as_of,
        index_urls=index_urls,
    )


@dataclass(frozen=True)
class Wheel:
    """A wheel file in a ``--find-links`` folder."""

    name: str  # canonical
    version: str
    pythons: frozenset[str]  # interpreter tags: cp311, py3, py2.py3 → {"py3"}, ...

    def supports(self, python: str) -> bool:
        major, minor = python.split(".")
        return bool({f"cp{major}{minor}", f"py{major}{minor}", f"py{major}"} & self.pythons)


def _wheels_for(wheels: Sequence[Wheel], python: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for wheel in wheels:
        if wheel.supports(python):
            out.setdefault(wheel.name, []).append(wheel.version)
    return {k: tuple(v) for k, v in out.items()}


def _wheelhouse_pythons(evidence: Evidence, wheels: Sequence[Wheel]) -> dict[str, str]:
    """Pythons for which the wheelhouse holds a framework the code imports or declares."""
    needed = {d.name for d in evidence.declared if not d.optional}
    for site in evidence.imports:
        found = mapping.lookup(site.module)
        if found.kind == "dist" and not site.optional:
            needed.add(canonicalize_name(found.dist))
    prefer: dict[str, str] = {}
    for wheel in wheels:
        if wheel.name not in FRAMEWORKS or wheel.name not in needed:
            continue
        for version in python_releases():
            if wheel.supports(version):
                prefer.setdefault(
                    version,
                    f"the wheelhouse has {wheel.name} {wheel.version} for Python {version}",
                )
    return prefer


def _add_declared(drafts: dict[str, _Draft], decl: DeclaredRequirement) -> None:
    name, spec, extras, marker, url = _parse(decl)
    key = canonicalize_name(name) if name else decl.requirement
    draft = drafts.setdefault(key, _Draft(name=name or decl.requirement))
    if spec:
        draft.specs.append(spec)
    draft.extras |= extras
    if marker:
        draft.markers.append(marker)
    if url:
        draft.url = url
    draft.origins.append(decl.origin)
    if not decl.optional:
        draft.optional = False
        draft.reasons.append(f"declared in {decl.origin}")


def _add_imports(
    drafts: dict[str, _Draft], evidence: Evidence, python_major: int
) -> list[Unresolved]:
    unresolved: dict[str, tuple[list[Origin], str]] = {}
    for site in evidence.imports:
        top = site.module.split(".")[0]
        if top in evidence.local_modules:
            continue
        found = mapping.lookup(site.module, python_major)
        if found.kind == "stdlib":
            continue
        if found.kind == "dist":
            key = canonicalize_name(found.dist)
            draft = drafts.setdefault(key, _Draft(name=found.dist))
            draft.origins.append(site.origin)
            if not site.optional and draft.optional:
                draft.optional = False
                draft.reasons.append(f"imported as {found.module} ({site.origin})")
            continue
        if site.optional:
            continue
        entry = unresolved.setdefault(found.module, ([], found.reason))
        entry[0].append(site.origin)
    # ``from google.cloud import storage`` records both google.cloud and
    # google.cloud.storage: once the longer path resolved, the shorter one is no news.
    return [
        Unresolved(module=module, origins=tuple(origins[:5]), reason=reason)
        for module, (origins, reason) in sorted(unresolved.items())
        if not _covered(module, drafts, evidence)
    ]


def _covered(module: str, drafts: dict[str, _Draft], evidence: Evidence) -> bool:
    """A namespace prefix is covered when a longer import path under it was mapped."""
    for site in evidence.imports:
        if site.module.startswith(module + "."):
            found = mapping.lookup(site.module)
            if found.kind == "dist" and canonicalize_name(found.dist) in drafts:
                return True
    return False


def _apply_pins(drafts: dict[str, _Draft], pins: Iterable[str]) -> None:
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PReq

    for pin in pins:
        try:
            req = PReq(pin)
        except InvalidRequirement:
            raise UsageError(f"--pin {pin!r} is not a requirement such as torch==1.4.0") from None
        key = canonicalize_name(req.name)
        draft = drafts.setdefault(key, _Draft(name=req.name))
        draft.specs = [str(req.specifier)] if req.specifier else []
        draft.optional = False
        origin = Origin(kind="user", detail=f"--pin {pin}")
        draft.origins.append(origin)
        draft.reasons.append(f"--pin {pin}")


def _finish(
    draft: _Draft, wheelhouse: Mapping[str, tuple[str, ...]], conflicts: list[str]
) -> Requirement:
    spec = ",".join(dict.fromkeys(s for s in draft.specs if s))
    key = canonicalize_name(draft.name)
    version = None
    reasons = list(draft.reasons)
    try:
        spec_set = SpecifierSet(spec)
    except InvalidSpecifier:
        spec_set = SpecifierSet()
        conflicts.append(
            f"{draft.name}: cannot read the specifier {spec!r}; installing any version"
        )
        spec = ""
    if not draft.url and key in wheelhouse:
        fitting = [v for v in wheelhouse[key] if _contains(spec_set, v)]
        if fitting:
            version = max(fitting, key=Version)
            reasons.append(f"{draft.name} {version} is in the wheelhouse (--find-links)")
    return Requirement(
        name=draft.name,
        specifier=spec,
        extras=tuple(sorted(draft.extras)),
        marker=" and ".join(f"({m})" for m in dict.fromkeys(draft.markers))
        if len(draft.markers) > 1
        else (draft.markers[0] if draft.markers else ""),
        url=draft.url,
        version=version,
        origins=tuple(draft.origins),
        reasons=tuple(reasons),
        optional=draft.optional,
        layer="framework" if key in FRAMEWORKS else "main",
    )


def _contains(spec: SpecifierSet, version: str) -> bool:
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False

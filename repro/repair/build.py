"""Turn a failed build into changes to the plan, or a message a user can act on (pure).

For a :class:`buildlog.BuildFailure`, the ``fix_*`` functions propose changes (or a
diagnosis) and :func:`explain` says why repro stops; which applies to which kind is the
table ``repair.kinds.BUILD_KINDS``, and ``repair.propose_build`` dispatches through it:

=====================  ==============================================================
kind                   what repro changes
=====================  ==============================================================
missing-compiler,      installs the distribution package that puts the program on
missing-program        PATH (``data/contents.json``: gcc, g++, gfortran, cargo,
                       pg_config → libpq-dev, ...), in the system layer
missing-header         installs the package that ships the header (Python.h →
                       libpython3.11-dev, ffi.h → libffi-dev, ...)
missing-pkgconfig      installs the package that ships the ``.pc`` file
compile-error,         the first later release with a wheel for this Python, or
sdist-unbuildable,     another Python (that the code allows and this engine has a
build-dependency,      base image for) with a wheel of the same release: whichever
no-distribution        breaks fewer declared constraints (:func:`wheel_or_python`);
                       for build-dependency, when neither exists, the import's
                       distribution is installed first and the package built without
                       isolation (:func:`fix_build_dependency`)
resolver-conflict      relaxes the requirement with the weakest evidence (an inferred
                       version before a declared one; a README line before a
                       requirements file), to what the other side needs
network                builds again after a pause (twice), then names the host class
=====================  ==============================================================

A version repro chose itself (by date, or the resolver's choice for a dependency) is
moved to a release with a wheel before any compiler is installed: the code's author
installed a wheel too, and compiling is slow and fragile. A version the repository
pins keeps its pin and gets the tools it needs to build.

Everything else (a certificate refused, an apt package that does not exist, a build
error repro has no rule for) ends in a :class:`repair.Diagnosis`, and
:func:`error_text` says which package, which command, the lines that matter and where
the full log is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import contents, mapping
from repro.buildlog import BuildFailure, Conflict
from repro.models import Environment, Requirement
from repro.releases import PackageReleases
from repro.releases import Release as PyPIRelease
from repro.repair.values import Change, Diagnosis, Proposal
from repro.versions import python_allows

History = Callable[[str], "PackageReleases | None"]
RETRIES = 2  # network: builds again this many times before giving up
BACKOFF_SECONDS = (10.0, 30.0)  # the pause before each retry

# Evidence for a version, weakest first: the requirement whose version rests on the
# weakest evidence is the one a conflict relaxes. (A --pin is never relaxed.)
_EVIDENCE_RANK = {
    "readme": 1,
    "ci": 2,
    "dockerfile": 2,
    "script": 2,
    "notebook": 3,
    "conda": 4,
    "requirements": 4,
    "setup.py": 4,
    "setup.cfg": 4,
    "pyproject": 4,
    "pipfile": 4,
    "lock": 5,
    "user": 9,
}


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """What a proposal may look at."""

    python: str  # the image's Python ("3.11")
    codename: str = ""  # the base image's release ("bookworm"), "" when unknown
    requirements: tuple[Requirement, ...] = ()
    previous: tuple[Change, ...] = ()  # changes of earlier rounds (smoke and build)
    history: History | None = None  # release histories with their wheels (PyPI)
    # Other Pythons the code allows and this engine has a base image for, in the order
    # the planner prefers them (planner.python_alternatives).
    pythons: tuple[str, ...] = ()
    python_pins: tuple[tuple[str, str], ...] = ()  # declared Pythons: (specifier, where)
    python_hard: bool = False  # --python: never moved
    lock_cutoff: dt.date | None = None


def explain(failure: BuildFailure, context: BuildContext) -> Diagnosis:
    """One line and a hint for a failure repro does not change the plan for."""
    what = _what(failure)
    if failure.kind == "certificate":
        return Diagnosis(
            message=f"a certificate was refused while {failure.step or 'building'}"
            f" ({_host_words(failure)}): {failure.line}",
            hint="behind a TLS-intercepting proxy, give its CA bundle: --ca-bundle FILE, or "
            "PIP_CERT / REQUESTS_CA_BUNDLE / SSL_CERT_FILE (repro passes it to the build as a "
            "secret, never into a layer)",
        )
    if failure.kind == "network":
        return Diagnosis(
            message=f"{_host_words(failure)} did not answer while {failure.step or 'building'}"
            f" (after {RETRIES} retries): {failure.line}",
            hint=_network_hint(failure),
        )
    if failure.kind == "apt-package":
        on = f" on {context.codename}" if context.codename else ""
        return Diagnosis(
            message=f"the distribution has no package {failure.subject}{on}: {failure.line}",
            hint="the base image's release may be too old or too new for it; try another "
            "--python (another Debian release) or --base-image",
        )
    if failure.kind == "not-found":
        return Diagnosis(
            message=f"the package index has no package {failure.subject!r}: {failure.line}",
            hint="the name may be misspelt, private (give its index: --extra-index-url), or a "
            "module name rather than a distribution's; fix the requirement, or --pin the right one",
        )
    if failure.kind == "missing-library":
        return Diagnosis(
            message=f"the build of {what} cannot link against lib{failure.subject}: {failure.line}",
            hint=f"install the development package of lib{failure.subject} in a derived image, "
            "or pin a release of the package that has a wheel",
        )
    return Diagnosis(
        message=f"the build of {what} failed: {failure.line}",
        hint=_wheel_hint(failure, context),
    )


def _wheel_hint(failure: BuildFailure, context: BuildContext) -> str:
    """What the user can do about a release that does not build here: the Pythons its
    wheels are for, when the release history says."""
    generic = (
        "the package does not build here; pin a release with a wheel for this Python "
        "(--pin NAME==VERSION) or choose another Python (--python X.Y)"
    )
    name, version = failure.package, failure.version
    history = context.history(name) if context.history is not None and name else None
    release = history.get(version) if history is not None and version else None
    if release is None or not release.wheels:
        return generic
    pythons = sorted(
        {f"{t[2]}.{t[3:]}" for t in release.wheels if re.fullmatch(r"cp\d{2,3}", t)},
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
    if not pythons:
        return generic
    here = [p for p in pythons if p in context.pythons]
    where = (
        f"this engine has a base image for {', '.join(here)}"
        if here
        else "this engine has a base image for none of them"
    )
    return (
        f"{name} {version} has wheels for Python {', '.join(pythons)} only ({where}): "
        f"pack with --python {here[0] if here else pythons[-1]}, or pin a release with a wheel "
        f"for Python {context.python} (--pin {name}==VERSION)"
    )


# --------------------------------------------------------------------------- tools


def fix_program(failure: BuildFailure, context: BuildContext) -> Proposal:
    wheel = _wheel_first(failure, context)
    if wheel is not None:
        return wheel
    # x86_64-linux-gnu-gcc: the plain compiler's package (gcc), whose dependencies bring
    # the whole tool chain; trixie's contents name the arch-qualified package, which lacks
    # the assembler when installed without recommends
    asked = _TRIPLET.sub("", failure.subject) if _C_FAMILY.match(failure.subject) else ""
    found = contents.program(asked or failure.subject, context.codename)
    what = "compiler" if failure.kind == "missing-compiler" else "program"
    proposal = _install(failure, context, found, f"the {what} {failure.subject}")
    if proposal.changes and _C_FAMILY.match(failure.subject):
        proposal = _with_c_headers(proposal, context)
    return proposal


# Compilers whose programs include the C library's headers (stdio.h): the packages the
# contents data names for them (gcc, g++, gfortran) only recommend those headers, and
# repro installs without recommends: one more round would find stdio.h missing.
_C_FAMILY = re.compile(r"^(?:[\w-]+-linux-gnu-)?(?:gcc|g\+\+|cc|c\+\+|gfortran)(?:-\d+)?$")
_TRIPLET = re.compile(r"^[\w-]+-linux-gnu-")


def _with_c_headers(proposal: Proposal, context: BuildContext) -> Proposal:
    libc = contents.header("stdio.h", context.codename)
    if libc is None or _tried(context, libc.package):
        return proposal
    change = Change(
        action="add-build-package",
        target=libc.package,
        reason=f"what the compiler builds includes the C library's headers (stdio.h), which "
        f"{libc.package} ships on {libc.release}",
        basis=libc.basis,
    )
    return Proposal(changes=(*proposal.changes, change))


def fix_header(failure: BuildFailure, context: BuildContext) -> Proposal:
    wheel = _wheel_first(failure, context)
    if wheel is not None:
        return wheel
    found = contents.header(failure.subject, context.codename, python=context.python)
    if found is not None and _tried(context, found.package):
        # The header is there, just not where this build looks: an API the package's code
        # expects of another Python (longintrepr.h), or a layout it does not know.
        moved = wheel_or_python(failure, context)
        if moved is not None:
            return moved
    return _install(failure, context, found, f"the header {failure.subject}")


def fix_pkgconfig(failure: BuildFailure, context: BuildContext) -> Proposal:
    wheel = _wheel_first(failure, context)
    if wheel is not None:
        return wheel
    found = contents.pkgconfig(failure.subject, context.codename)
    return _install(failure, context, found, f"the pkg-config module {failure.subject}")


def _install(
    failure: BuildFailure, context: BuildContext, found: contents.Found | None, needed: str
) -> Proposal:
    what = _what(failure)
    release = context.codename or "this release"
    if found is None:
        return Proposal.stop(
            (
                f"the build of {what} needs {needed}, and no package of {release} "
                f"ships it (data/contents.json): {failure.line}"
            ),
            hint=(
                "install it in a derived image (FROM the base image), or pin a release "
                "of the package that has a wheel (--pin NAME==VERSION)"
            ),
        )
    if _tried(context, found.package):
        return Proposal.stop(
            (
                f"the build of {what} still lacks {needed} with {found.package} "
                f"installed: {failure.line}"
            ),
            hint=(
                "the build looks for it elsewhere; see the full log, and pin a release of "
                "the package that has a wheel (--pin NAME==VERSION)"
            ),
        )
    note = f"; {found.note}" if found.note else ""
    return Proposal(
        changes=(
            Change(
                action="add-build-package",
                target=found.package,
                reason=f"the build of {what} needs {needed}, which {found.package} ships on "
                f"{found.release}{note}",
                basis=found.basis,
            ),
        )
    )


def _tried(context: BuildContext, package: str) -> bool:
    return any(c.action == "add-build-package" and c.target == package for c in context.previous)


# --------------------------------------------------------------------------- wheels


def fix_no_build(failure: BuildFailure, context: BuildContext) -> Proposal:
    moved = wheel_or_python(failure, context)
    if moved is not None:
        return moved
    return Proposal(diagnosis=explain(failure, context))


def fix_build_dependency(failure: BuildFailure, context: BuildContext) -> Proposal:
    """A build script that imports what it does not declare (``setup.py``'s ``import
    numpy``, from before builds were isolated): a release or a Python with a wheel first;
    else the import's distribution is installed before the requirements and the package
    is built without isolation, in the environment that has it, as pip built it then."""
    moved = wheel_or_python(failure, context)
    if moved is not None:
        return moved
    found = mapping.lookup(failure.subject, python=context.python)
    dist = found.dist if found.kind == "dist" else ""
    if not dist and mapping.known_distribution(failure.subject):
        dist = failure.subject  # pip's "install requires: 'numpy'" names the distribution
    package = failure.package
    if not dist or not package or _built_with(context, package, dist):
        return Proposal(diagnosis=explain(failure, context))
    req = _requirement(context, dist)
    spec = req.specifier if req is not None and req.specifier else ""
    change = Change(
        action="build-with",
        target=package,
        specifier=f"{dist}{spec}",
        reason=f"the build script of {_what(failure)} imports {failure.subject} and does "
        f"not declare it ({failure.line}); {dist} is installed first and "
        f"{package} built without build isolation, as pip built it before PEP 517",
        basis="build log",
    )
    tools = _setuptools_of_its_day(failure, context)
    return Proposal(changes=(change,) if tools is None else (change, tools))


def _setuptools_of_its_day(failure: BuildFailure, context: BuildContext) -> Change | None:
    """Built without isolation, a package's build script runs with the environment's
    setuptools; a build script older than that setuptools may use what it no longer
    accepts (setuptools 67 refuses specifiers such as ``>=3.6.*``). The setuptools of the
    release's upload day, unless the repository says which."""
    req = _requirement(context, "setuptools")
    if context.history is None or (req is not None and req.specifier):
        return None
    history = context.history(failure.package)
    release = history.get(failure.version) if history and failure.version else None
    tools = context.history("setuptools") if release is not None else None
    if release is None or tools is None:
        return None
    fits = [
        r
        for r in tools.releases
        if r.date <= release.date
        and not r.yanked
        and r.supports(context.python)
        and not _prerelease(r)
    ]
    if not fits:
        return None
    return Change(
        action="build-with",
        target=failure.package,
        specifier=f"setuptools=={fits[-1].version}",
        reason=f"{failure.package} {failure.version} was uploaded on {release.date.isoformat()}: "
        f"its build script runs with the setuptools of that day ({fits[-1].version}), "
        "as it was written for",
        basis="release-history",
    )


def _prerelease(release: PyPIRelease) -> bool:
    try:
        return release.parsed.is_prerelease
    except InvalidVersion:
        return True


def _built_with(context: BuildContext, package: str, dist: str) -> bool:
    key = canonicalize_name(package)
    return any(
        c.action == "build-with"
        and canonicalize_name(c.target) == key
        and c.specifier.lower().startswith(dist.lower())
        for c in context.previous
    )


def _wheel_first(failure: BuildFailure, context: BuildContext) -> Proposal | None:
    """A release with a wheel instead of building, when the version was repro's choice."""
    name = failure.package
    if not name or _declared_pin(_requirement(context, name)):
        return None
    return wheel_or_python(failure, context, python_too=False)


def wheel_or_python(
    failure: BuildFailure, context: BuildContext, *, python_too: bool = True
) -> Proposal | None:
    """The planner's choice for a release that does not build here: the first later
    release with a wheel for this Python, or another Python with a wheel of this release,
    whichever breaks fewer declared constraints (the release, on a tie: it moves one
    package, a Python moves all of them). None when neither exists.

    Kept in one place so that the planner (repro/planner.py, issue 14) can own it."""
    name = failure.package or failure.subject
    if not name or context.history is None:
        return None
    history = context.history(name)
    if history is None:
        return None
    req = _requirement(context, name)
    current = _version_of(failure, req, history)
    options: list[tuple[int, int, Proposal]] = []
    newer = _later_with_wheel(history, current, context.python, req)
    if newer is not None:
        pinned = _declared_pin(req)
        changes = [
            Change(
                action="bound-requirement",
                target=req.name if req is not None else name,
                specifier=f"=={newer.version}",
                reason=f"{name} {current or '(as resolved)'} has no wheel for Python "
                f"{context.python} and does not build here; {newer.version} is the first later "
                f"release with one" + _given_up(req, pinned),
                basis="release-history (wheels)",
            )
        ]
        if context.lock_cutoff is not None and newer.date >= context.lock_cutoff:
            changes.append(
                Change(
                    action="exempt-cutoff",
                    target=req.name if req is not None else name,
                    specifier=(newer.date + dt.timedelta(days=1)).isoformat(),
                    reason=f"{name} {newer.version} was uploaded on {newer.date.isoformat()}, "
                    f"after the lock's cutoff {context.lock_cutoff.isoformat()}",
                    basis="release-history (wheels)",
                )
            )
        options.append((int(pinned), 0, Proposal(changes=tuple(changes))))
    if python_too and not context.python_hard and current is not None:
        release = history.get(current)
        for python in context.pythons:
            if python == context.python or release is None or not _has_wheel(release, python):
                continue
            if _tried_python(context, python):
                continue
            broken = [
                f"Python {spec} ({where})"
                for spec, where in context.python_pins
                if python_allows(context.python, spec) and not python_allows(python, spec)
            ]
            given_up = (
                "the declared " + ", ".join(broken)
                if broken
                else f"Python {context.python}, chosen for the code's date,"
            )
            change = Change(
                action="set-python",
                target=python,
                reason=f"{name} {current} has no wheel for Python {context.python} and does "
                f"not build here; it has one for Python {python} ({given_up} is given up)",
                basis="release-history (wheels)",
            )
            options.append((len(broken), 1, Proposal(changes=(change,))))
            break
    if not options:
        return None
    return min(options, key=lambda o: (o[0], o[1]))[2]


def _given_up(req: Requirement | None, pinned: bool) -> str:
    if not pinned or req is None or not req.origins:
        return ""
    return f" (the pin {req.specifier} from {req.origins[0]} is given up)"


def _version_of(
    failure: BuildFailure, req: Requirement | None, history: PackageReleases
) -> str | None:
    if failure.version:
        return failure.version
    if req is not None and req.version:
        return req.version
    if req is not None:
        try:
            spec = SpecifierSet(req.specifier)
        except InvalidSpecifier:
            return None
        fits = [r for r in history.releases if spec.contains(r.version, prereleases=False)]
        return fits[-1].version if fits else None
    return None


def _later_with_wheel(
    history: PackageReleases, current: str | None, python: str, req: Requirement | None
) -> PyPIRelease | None:
    """The first release after ``current`` (the oldest with a wheel, when unknown) that
    has a wheel for ``python``: the nearest to what the code was written against."""
    try:
        floor = Version(current) if current else None
    except InvalidVersion:
        floor = None
    bounds = _non_pin_bounds(req)
    for release in history.releases:  # oldest first
        if release.yanked:
            continue
        try:
            version = release.parsed
        except InvalidVersion:
            continue
        if version.is_prerelease or (floor is not None and version <= floor):
            continue
        if bounds is not None and not bounds.contains(version, prereleases=False):
            continue
        if _has_wheel(release, python):
            return release
    return None


def _non_pin_bounds(req: Requirement | None) -> SpecifierSet | None:
    """The requirement's range (``>=1.2``), without an exact pin (which the move breaks)."""
    if req is None or not req.specifier:
        return None
    try:
        spec = SpecifierSet(req.specifier)
    except InvalidSpecifier:
        return None
    kept = [str(s) for s in spec if s.operator not in ("==", "===")]
    return SpecifierSet(",".join(kept)) if kept else None


def _has_wheel(release: PyPIRelease, python: str) -> bool:
    return bool(release.wheels) and release.supports(python)


def _tried_python(context: BuildContext, python: str) -> bool:
    return any(c.action == "set-python" and c.target == python for c in context.previous)


def _requirement(context: BuildContext, name: str) -> Requirement | None:
    key = canonicalize_name(name)
    return next(
        (r for r in context.requirements if r.name and canonicalize_name(r.name) == key), None
    )


def _declared_pin(req: Requirement | None) -> bool:
    """Whether the repository (or the user) fixed this requirement's version."""
    if req is None or not req.specifier:
        return False
    return _strength(req) > 0


def _strength(req: Requirement) -> int:
    """How strong the evidence for the requirement's version is (0: repro inferred it)."""
    if not req.specifier and not any(o.kind == "user" for o in req.origins):
        return 0
    return max((_EVIDENCE_RANK.get(o.kind, 0) for o in req.origins), default=0)


# --------------------------------------------------------------------------- conflicts


def fix_conflict(failure: BuildFailure, context: BuildContext) -> Proposal:
    """Relax the weakest of the requirements the resolver named, to what the other side
    needs (a dependency's range, from the resolver's own words) or to any version."""
    named = [c for c in failure.conflicts if not c.by]
    reqs = [(c, r) for c in named if (r := _requirement(context, c.name)) is not None]
    if not reqs:
        return Proposal(diagnosis=explain(failure, context))
    candidates = [(c, r) for c, r in reqs if not any(o.kind == "user" for o in r.origins)]
    if not candidates:
        return Proposal.stop(
            (
                f"the requirements cannot be satisfied together, and the pins are "
                f"yours (--pin): {failure.line}"
            ),
            hint="change one of the --pin options",
        )
    needed = {canonicalize_name(c.name): c for c in failure.conflicts if c.by}

    def order(item: tuple[Conflict, Requirement]) -> tuple[int, int, str]:
        req = item[1]
        # on equal evidence, the one another requirement depends on gives way to it
        return (_strength(req), canonicalize_name(req.name) not in needed, req.name)

    conflict, req = min(candidates, key=order)
    if any(c.action == "bound-requirement" and c.target == req.name for c in context.previous):
        return Proposal(diagnosis=explain(failure, context))
    other = needed.get(canonicalize_name(req.name))
    specifier = other.specifier if other is not None else ""
    where = str(req.origins[0]) if req.origins else "the evidence"
    stronger = [
        f"{r.name}{r.specifier} ({r.origins[0] if r.origins else 'inferred'})"
        for c, r in reqs
        if r is not req
    ]
    why = (
        f"{req.name}{conflict.specifier} ({where}) conflicts with "
        f"{', '.join(stronger) or 'another requirement'}"
    )
    if other is not None:
        why += f", which needs {req.name}{other.specifier}"
    rank = _strength(req)
    weakest = (
        "an inferred version"
        if rank == 0
        else f"the weakest evidence ({_kind_words(req)})"
        if any(_strength(r) > rank for _, r in reqs if r is not req)
        else f"on equal evidence, the requirement {other.by if other else 'the other'} depends on"
    )
    return Proposal(
        changes=(
            Change(
                action="bound-requirement",
                target=req.name,
                specifier=specifier,
                reason=f"{why}: relaxed, as {weakest}",
                basis="resolver",
            ),
        )
    )


def _kind_words(req: Requirement) -> str:
    kinds = sorted({o.kind for o in req.origins if o.kind in _EVIDENCE_RANK})
    return ", ".join("a README line" if k == "readme" else f"{k}" for k in kinds) or "inferred"


# --------------------------------------------------------------------------- network


def fix_network(failure: BuildFailure, context: BuildContext) -> Proposal:
    done = sum(1 for c in context.previous if c.action == "retry")
    if done >= RETRIES:
        return Proposal(diagnosis=explain(failure, context))
    wait = BACKOFF_SECONDS[min(done, len(BACKOFF_SECONDS) - 1)]
    return Proposal(
        changes=(
            Change(
                action="retry",
                target=failure.host_class or "other",
                specifier=f"{wait:g}",
                reason=f"{_host_words(failure)} did not answer ({failure.line}): building "
                f"again after {wait:g} s",
                basis="network",
            ),
        )
    )


def retry_wait(changes: Sequence[Change]) -> float:
    """Seconds to wait before the build a ``retry`` change asks for (0: no retry)."""
    last = changes[-1] if changes else None
    if last is None or last.action != "retry":
        return 0.0
    try:
        return float(last.specifier)
    except ValueError:
        return BACKOFF_SECONDS[0]


_HOST_WORDS = {
    "index": "the package index",
    "vcs": "a version-control host",
    "apt": "the distribution's package archive",
    "crates": "Rust's crate registry",
}


def _host_words(failure: BuildFailure) -> str:
    words = _HOST_WORDS.get(failure.host_class, "a host")
    return f"{words} ({failure.subject})" if failure.subject else words


def _network_hint(failure: BuildFailure) -> str:
    proxy = (
        "the build reaches the network through the engine: set HTTP_PROXY/HTTPS_PROXY/NO_PROXY "
        "for the Docker daemon (or ~/.docker/config.json's proxies)"
    )
    if failure.host_class == "vcs":
        return (
            f"a git+https requirement needs its host from inside the build; {proxy}, and for a "
            "TLS-intercepting proxy its CA (--ca-bundle); or replace the git URL by a release "
            "from the index (--pin NAME==VERSION)"
        )
    if failure.host_class == "index":
        return (
            f"check --index-url/--extra-index-url and --pip-conf; {proxy}; behind a "
            "TLS-intercepting proxy give its CA (--ca-bundle)"
        )
    if failure.host_class == "apt":
        return f"the base image's apt sources must be reachable; {proxy}"
    if failure.host_class == "crates":
        return (
            f"the package builds Rust code and cargo downloads its crates (crates.io; older "
            f"cargo reads the registry's index from github.com); {proxy}; or pin a release "
            "with a wheel for this Python (--pin NAME==VERSION)"
        )
    return proxy


# --------------------------------------------------------------------------- plan


def build_packages(changes: Sequence[Change], python: str) -> tuple[str, ...]:
    """The distribution packages the build needs, for the system layer; a package named
    for another Python (``libpython3.11-dev`` after a switch to 3.9) is left out."""
    out: list[str] = []
    for change in changes:
        if change.action != "add-build-package":
            continue
        m = re.search(r"python(\d\.\d+)", change.target)
        if m and m.group(1) != python:
            continue
        out.append(change.target)
    return tuple(dict.fromkeys(out))


def built_with(changes: Sequence[Change]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(requirements installed before the rest, packages built without isolation): what
    the ``build-with`` changes ask of the image."""
    made = [c for c in changes if c.action == "build-with"]
    first = tuple(dict.fromkeys(c.specifier for c in made))
    packages = tuple(dict.fromkeys(canonicalize_name(c.target) for c in made))
    return first, packages


def cutoff_exemptions(changes: Sequence[Change]) -> tuple[str, ...]:
    """``NAME=DATE`` for each package whose files may be newer than the lock's cutoff."""
    found = {c.target: c.specifier for c in changes if c.action == "exempt-cutoff"}
    return tuple(f"{canonicalize_name(n)}={d}" for n, d in sorted(found.items()))


def without_cutoff(environment: Environment, changes: Sequence[Change]) -> Environment:
    """The date constraints (pip installers) without the packages exempted from the cutoff:
    their repaired version is newer than the cutoff."""
    exempt = {canonicalize_name(c.target) for c in changes if c.action == "exempt-cutoff"}
    if not exempt:
        return environment
    kept = tuple(c for c in environment.date_constraints if canonicalize_name(
        c.split("==")[0]) not in exempt)  # fmt: skip
    return dataclasses.replace(environment, date_constraints=kept)


# --------------------------------------------------------------------------- messages


def _what(failure: BuildFailure) -> str:
    if failure.package and failure.version:
        return f"{failure.package}=={failure.version}"
    return failure.package or "the image"


def error_text(
    failure: BuildFailure, diagnosis: Diagnosis | None, log_path: str
) -> tuple[str, str, str]:
    """(message, detail, hint) of a build that could not be repaired: the package, the
    command, the lines that matter and the full log's path; never the raw RUN line."""
    if diagnosis is not None:
        message = diagnosis.message
        hint = diagnosis.hint
    else:
        message = f"the build of {_what(failure)} failed: {failure.line}"
        hint = ""
    lines = []
    if failure.step or failure.command:
        lines.append(f"while {failure.step or 'building'}: {failure.command}".rstrip(": "))
    lines += [f"  {line}" for line in failure.excerpt]
    if log_path:
        lines.append(f"full log: {log_path}")
    return message, "\n".join(lines), hint

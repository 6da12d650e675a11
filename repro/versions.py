"""Versions as of the commit: bounds from the evidence, Python, and the date rule (pure).

Strongest evidence first: a user's ``--pin``, then what the repository declares, then the
APIs the code uses (``data/api_rules.json``), then the commit date. Each package with a
release history (``repro/pypi.py``) resolves to the newest release uploaded before the
cutoff that satisfies every bound and has wheels for the chosen Python. Python itself is
the newest version the repository's statements allow for which every such package has
wheels at that date (preferring a Python that had been out for a year, since the
transitive dependencies whose wheels repro cannot see lag behind too).

Every decision keeps its evidence chain; every bound that had to give way is reported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import apirules, modpaths
from repro.models import ApiUse, Environment, PythonChoice, PythonHint, VersionChoice
from repro.releases import PackageReleases, Release, ReleaseIndex

# How long a Python release needs before the packages of the day ship wheels for it.
WHEEL_LAG = dt.timedelta(days=365)

# Never constrained by date for pip installers: they are the installer itself.
TOOLING = frozenset({"pip", "setuptools", "wheel"})

# uv resolves with an upload-date cutoff (--exclude-newer) for these Pythons; older ones
# (2.7, 3.5-3.7) install with pip and a constraints file of versions as of the cutoff.
UV_MIN_PYTHON = (3, 8)


def installer_for(python: str) -> Literal["uv", "pip"]:
    return "uv" if _vkey(python) >= UV_MIN_PYTHON else "pip"


@dataclass(frozen=True, kw_only=True)
class Bound:
    """One statement about which versions of a package may be used."""

    specifier: str
    why: str  # "requirements.txt:3 declares <2", "code uses tf.contrib (model.py:12) → <2"
    # "paired": torch and its companions (torchvision, torchaudio) go together as the
    # compatibility data pairs them, whichever of them is pinned
    kind: Literal["user", "declared", "paired", "api"]
    strength: Literal["hard", "soft"] = "hard"


@dataclass(frozen=True, kw_only=True)
class Wanted:
    """A package to decide: everything that bounds it, and whether the user forced it."""

    name: str  # as shown
    bounds: tuple[Bound, ...] = ()
    forced: str | None = None  # a version the user supplied (wheelhouse)
    framework: bool = False

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)

    @property
    def exact_pin(self) -> bool:
        return any(b.kind == "user" and "==" in b.specifier for b in self.bounds)


@dataclass(frozen=True, kw_only=True)
class Bounded:
    """The bounds of one package that survive together, and the ones that gave way."""

    wanted: Wanted
    specifier: str
    kept: tuple[Bound, ...]
    conflicts: tuple[str, ...]
    history: PackageReleases | None

    @property
    def dated(self) -> bool:
        """Whether the date rule applies (not to versions the user forced, nor to a
        companion's version that follows torch's)."""
        paired = any(b.kind == "paired" and "==" in b.specifier for b in self.kept)
        return self.wanted.forced is None and not self.wanted.exact_pin and not paired


# --------------------------------------------------------------------------- bounds


def api_bounds(uses: Iterable[ApiUse]) -> dict[str, list[Bound]]:
    """API uses → bounds per package (one per rule, citing its first use and the count)."""
    by_rule: dict[str, list[ApiUse]] = {}
    for use in uses:
        if use.package == "python":  # the interpreter's: Python hints (repro/scan/pyera.py)
            continue
        if not use.bound:  # a "needs" rule: a requirement (repro/merge.py), not a bound
            continue
        by_rule.setdefault(use.rule, []).append(use)
    out: dict[str, list[Bound]] = {}
    rules = apirules.by_id()
    for rule_id, found in by_rule.items():
        first = found[0]
        rule = rules.get(rule_id)
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        matched = [
            p
            for p in (rule.paths if rule else ())
            if first.symbol == p or first.symbol.startswith(p + ".")
        ]
        shown = _short(matched[0] if matched else first.symbol)
        why = f"code uses {shown} ({first.origin.path}:{first.origin.line}{more}) → {first.bound}"
        path = modpaths.explain(rule_id) if rule is None else None
        if rule is not None:
            why += f": {rule.why} [{rule.source}]"
        elif path is not None:
            why = f"code imports {shown} ({first.origin.path}:{first.origin.line}{more}) → "
            why += f"{first.bound}: {path.why} [{path.source}]"
        bound = Bound(specifier=first.bound, why=why, kind="api", strength=first.strength)
        out.setdefault(canonicalize_name(first.package), []).append(bound)
    return out


def _short(symbol: str) -> str:
    """``tensorflow.contrib.layers`` → ``tf.contrib.layers`` style, as people write it."""
    for full, alias in (("tensorflow.", "tf."), ("numpy.", "np."), ("pandas.", "pd.")):
        if symbol.startswith(full):
            return alias + symbol[len(full) :]
    return symbol


def _spec(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def _and(a: str, b: str) -> str:
    return ",".join(p for p in dict.fromkeys([*a.split(","), *b.split(",")]) if p)


def _contains(spec: SpecifierSet, version: str) -> bool:
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def installable(release: Release, specifier: str) -> bool:
    """Whether an installer takes ``release`` for ``specifier``: a yanked release only when
    the specifier pins it exactly (PEP 592; pip and uv both install it then, with a
    warning). PyPI yanked every torchvision before 0.3: ``torchvision==0.2.0`` installs,
    ``torchvision<0.2.1`` finds nothing."""
    if not release.yanked:
        return True
    spec = _spec(specifier)
    if spec is None:
        return False
    for one in spec:
        if one.operator == "===" and one.version == release.version:
            return True
        if one.operator == "==" and not one.version.endswith(".*"):
            try:
                if Version(one.version) == Version(release.version):
                    return True
            except InvalidVersion:
                continue
    return False


def _met(
    releases: Iterable[Release], text: str, spec: SpecifierSet, before: dt.date | None = None
) -> bool:
    """Whether a release an installer would take for ``text`` (parsed: ``spec``) exists,
    uploaded before ``before`` when given."""
    return any(
        (before is None or r.date < before) and _contains(spec, r.version) and installable(r, text)
        for r in releases
    )


def intersect(wanted: Wanted, history: PackageReleases | None) -> Bounded:
    """Intersect the bounds strongest first; a bound no release satisfies gives way."""
    order = {"user": 0, "declared": 1, "paired": 2, "api": 3}
    bounds = sorted(wanted.bounds, key=lambda b: (order[b.kind], b.strength != "hard"))
    spec = ""
    kept: list[Bound] = []
    conflicts: list[str] = []
    for bound in bounds:
        trial = _and(spec, bound.specifier)
        parsed = _spec(trial)
        if parsed is None:
            conflicts.append(f"{wanted.name}: cannot read {bound.specifier!r} ({bound.why})")
            continue
        if history is not None and not _met(history.releases, trial, parsed):
            before = "; ".join(b.why for b in kept) or "nothing"
            conflicts.append(
                f"{wanted.name}: ignored {bound.specifier} from {bound.why}: no release of "
                f"{wanted.name} satisfies it together with {before}"
            )
            continue
        spec = trial
        kept.append(bound)
    return Bounded(
        wanted=wanted,
        specifier=spec,
        kept=tuple(kept),
        conflicts=tuple(conflicts),
        history=history,
    )


def within_date(item: Bounded, as_of: dt.date) -> Bounded:
    """``item`` without the bounds from the code's API uses that no release out by
    ``as_of`` satisfies, the others intersected again. Code of that date cannot have
    needed a release made after it: such a bound comes from a name a later release reused
    (``torch.utils.serialization``: in torch 0.x, gone in 1.0, back in 2.7) or from data
    that does not reach back that far, and is reported instead of moving the version years
    past the code."""
    if item.history is None or not item.dated:
        return item
    releases = item.history.releases

    def out_by_then(text: str) -> bool:
        parsed = _spec(text)
        return parsed is not None and _met(releases, text, parsed, as_of)

    late = [b for b in item.wanted.bounds if b.kind == "api" and not out_by_then(b.specifier)]
    if not late:
        return item
    kept = tuple(b for b in item.wanted.bounds if b not in late)
    again = intersect(dataclasses.replace(item.wanted, bounds=kept), item.history)
    notes = tuple(
        f"{item.wanted.name}: ignored {b.specifier} from {b.why}: no release repro knows "
        f"satisfying it was out by {as_of.isoformat()}, the code's date"
        for b in late
    )
    return dataclasses.replace(again, conflicts=(*notes, *again.conflicts))


# --------------------------------------------------------------------------- resolution


def newest(
    history: PackageReleases,
    specifier: str,
    *,
    before: dt.date | None,
    python: str | None,
) -> Release | None:
    """The newest usable release satisfying ``specifier``, uploaded before ``before``, with
    wheels (or a pure source) for ``python``."""
    spec = _spec(specifier) or SpecifierSet()
    for release in reversed(history.releases):
        if not installable(release, specifier):
            continue
        if before is not None and release.date >= before:
            continue
        if not _contains(spec, release.version):
            continue
        if python is not None and not release.supports(python):
            continue
        return release
    return None


def _oldest_after(history: PackageReleases, specifier: str, python: str | None) -> Release | None:
    spec = _spec(specifier) or SpecifierSet()
    for release in history.releases:
        if not installable(release, specifier) or not _contains(spec, release.version):
            continue
        if python is None or release.supports(python):
            return release
    return None


def feasible(merged: Mapping[str, Bounded], python: str, as_of: dt.date) -> list[str]:
    """Names of the packages with no usable release for ``python`` (empty: feasible)."""
    blocked = []
    for item in merged.values():
        if item.history is None:
            continue
        if item.wanted.forced is not None:
            continue
        before = as_of if item.dated else None
        if newest(item.history, item.specifier, before=before, python=python) is not None:
            continue
        # a package with no release at all before the date does not block a Python
        if not item.dated or newest(item.history, item.specifier, before=as_of, python=None):
            blocked.append(item.wanted.name)
    return blocked


# --------------------------------------------------------------------------- python


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def python_allows(python: str, specifier: str) -> bool:
    """Whether some release of ``python`` (X.Y) is allowed by ``specifier``.

    The releases tried are X.Y.0, X.Y.99 and each patch the specifier names (with its
    neighbours), so that a patch-level pin (conda's ``python=3.8.5``, ``==3.7.4``) allows
    its X.Y rather than contradicting every Python repro builds."""
    spec = _spec(specifier)
    if spec is None:
        return True
    patches = {0, 99}
    for item in spec:
        try:
            named = Version(item.version.rstrip(".*"))
        except InvalidVersion:
            continue
        if ".".join(str(p) for p in named.release[:2]) == python and len(named.release) > 2:
            patches |= {named.micro, named.micro + 1, max(named.micro - 1, 0)}
    return any(spec.contains(f"{python}.{patch}", prereleases=True) for patch in sorted(patches))


def filter_by_hints(
    hints: Iterable[PythonHint],
    releases: Mapping[str, dt.date],
    *,
    blocked: Callable[[str], list[str]] | None = None,
    why_blocked: str = "",
) -> tuple[list[str], list[str], list[str]]:
    """Candidates every hint allows (strongest first), reasons, and overruled hints.

    With ``blocked`` (Python → the packages without wheels for it), a weak hint (classifiers,
    CI matrices, tox, READMEs) that would leave only blocked Pythons is overruled too."""
    candidates = sorted(releases, key=_vkey)
    reasons: list[str] = []
    conflicts: list[str] = []
    order = {"declared": 0, "syntax": 1, "hint": 2}
    for hint in sorted(hints, key=lambda h: order[h.strength]):
        kept = [v for v in candidates if python_allows(v, hint.specifier)]
        if not kept:
            conflicts.append(
                f"ignored Python {hint.specifier} from {hint.origin}: it contradicts "
                + ("; ".join(reasons) or "the Pythons repro builds")
            )
            continue
        if blocked is not None and hint.strength == "hint":
            stuck = [blocked(v) for v in kept]
            if all(stuck):
                names = ", ".join(sorted({n for s in stuck for n in s}))
                conflicts.append(
                    f"ignored Python {hint.specifier} from {hint.origin}: no release of "
                    f"{names} within its bounds has wheels for it{why_blocked}"
                )
                continue
        stand_in = _python3_stand_in(hint, kept, candidates)
        if stand_in:
            kept = [*kept, stand_in]
            reasons.append(
                f"Python {hint.specifier} ({hint.origin}) names a Python 3 older than any "
                f"repro builds: {stand_in}, the oldest it builds, stands in for it"
            )
        elif hint.strength == "hint" and len({_vkey(v)[0] for v in kept}) > 1:
            reasons.append(
                f"Python {hint.specifier} ({hint.origin}) names Python 2 and 3 as "
                "alternatives: the newest the code and its date allow, not the first named"
            )
        elif kept != candidates:
            reasons.append(f"Python {hint.specifier} ({hint.origin})")
        candidates = kept
    return candidates, reasons, conflicts


def _python3_stand_in(hint: PythonHint, kept: list[str], candidates: list[str]) -> str | None:
    """The oldest Python 3 of ``candidates`` when a weak hint lists a Python 3 older than
    any of them beside Python 2 (a CI matrix of 2.7 and 3.4): the code runs on both majors,
    and Python 2 must not win only because 3.4 cannot be built."""
    if hint.strength != "hint" or not kept or any(_vkey(v)[0] != 2 for v in kept):
        return None
    threes = [v for v in candidates if _vkey(v)[0] == 3]
    if not threes:
        return None
    oldest = _vkey(threes[0])[1]
    if any(python_allows(f"3.{minor}", hint.specifier) for minor in range(oldest)):
        return threes[0]
    return None


def python_among(
    hints: Iterable[PythonHint],
    *,
    releases: Mapping[str, dt.date],
    as_of: dt.date,
    override: str | None = None,
    prefer: Mapping[str, str] | None = None,
    merged: Mapping[str, Bounded] | None = None,
    major: int | None = None,
    avoid: Mapping[str, str] | None = None,
) -> tuple[PythonChoice, list[str]]:
    """The Python version, its reasons, and the evidence that had to be overruled.

    ``avoid`` maps Pythons a later stage cannot serve (no base image has them) to why: they
    are passed over while another Python the evidence allows remains.
    """
    hints = list(hints)
    candidates, reasons, conflicts = filter_by_hints(hints, releases)
    if override:
        return _overridden(override, candidates, reasons, conflicts, merged or {}, as_of)
    if major is not None and any(_vkey(v)[0] == major for v in candidates):
        candidates = [v for v in candidates if _vkey(v)[0] == major]
    merged = merged or {}
    found: dict[str, list[str]] = {}

    def blocked_by(v: str) -> list[str]:
        """The packages with no release for Python ``v`` (each Python worked out once)."""
        if v not in found:
            found[v] = feasible(merged, v, as_of)
        return found[v]

    usable = [v for v in candidates if not blocked_by(v)]
    if merged and not usable and any(h.strength == "hint" for h in hints):
        # Weak hints (a stale classifier, a CI matrix) give way to the requirements: keep
        # those that leave a Python every required package has wheels for.
        def stuck(v: str) -> list[str]:
            if major is not None and _vkey(v)[0] != major:
                return ["(another major Python)"]
            return blocked_by(v)

        again, why, overruled = filter_by_hints(
            hints, releases, blocked=stuck, why_blocked=f" as of {as_of.isoformat()}"
        )
        if major is not None and any(_vkey(v)[0] == major for v in again):
            again = [v for v in again if _vkey(v)[0] == major]
        if any(not blocked_by(v) for v in again):
            candidates, reasons, conflicts = again, why, overruled
            usable = [v for v in candidates if not blocked_by(v)]
    if merged and not usable:
        worst = sorted({n for v in candidates for n in blocked_by(v)})
        conflicts.append(
            f"no Python repro builds has wheels of {', '.join(worst)} as of {as_of.isoformat()} "
            "within the bounds found; chose Python as if they were unconstrained"
        )
        usable = candidates
    avoided = [v for v in usable if v in (avoid or {})]
    if avoided and len(avoided) < len(usable):
        usable = [v for v in usable if v not in avoided]
        reasons += [f"not {v}: {(avoid or {})[v]}" for v in reversed(avoided)]
    preferred = [v for v in usable if v in (prefer or {})]
    released = [v for v in usable if releases[v] <= as_of]
    mature = [v for v in usable if releases[v] + WHEEL_LAG <= as_of]
    if preferred:
        version = preferred[-1]
        reasons.append((prefer or {})[version])
    elif mature:
        version = mature[-1]
        if version != usable[-1]:
            reasons.append(
                f"newest Python out for a year by {as_of.isoformat()} (the code's date), "
                "so that the packages of the time have wheels for it"
            )
        elif not reasons and version == candidates[-1]:
            reasons.append("newest Python repro builds; nothing in the repository restricts it")
    elif released:
        version = released[-1]
        reasons.append(f"newest Python released by {as_of.isoformat()}; none was a year old")
    else:
        version = usable[0]
        reasons.append(f"oldest allowed Python; none was released by {as_of.isoformat()}")
    newer = [v for v in candidates if _vkey(v) > _vkey(version) and releases[v] <= as_of]
    blocked = blocked_by(newer[0]) if newer else []
    if blocked:
        reasons.append(
            f"not {newer[0]}: no release of {', '.join(blocked)} within its bounds before "
            f"{as_of.isoformat()} has wheels for Python {newer[0]}"
        )
    reasons += _framework_wheels(merged, version, releases, as_of)
    return PythonChoice(version=version, reasons=tuple(reasons)), conflicts


def _overridden(
    override: str,
    candidates: list[str],
    reasons: list[str],
    conflicts: list[str],
    merged: Mapping[str, Bounded],
    as_of: dt.date,
) -> tuple[PythonChoice, list[str]]:
    """``--python``: taken as given, with the evidence it overrides and the packages with
    no wheels for it as conflicts."""
    why = [f"--python {override}"]
    if override not in candidates:
        conflicts.append(
            f"--python {override} overrides the repository's evidence: {'; '.join(reasons)}"
        )
    blocked = feasible(merged, override, as_of)
    if blocked:
        conflicts.append(
            f"--python {override}: no release of {', '.join(blocked)} before "
            f"{as_of.isoformat()} has wheels for it; the build may compile from source or fail"
        )
    return PythonChoice(version=override, reasons=tuple(why)), conflicts


def _framework_wheels(
    merged: Mapping[str, Bounded], version: str, releases: Mapping[str, dt.date], as_of: dt.date
) -> list[str]:
    """For each framework not forced: the Pythons its release for ``version`` has wheels
    for (a reason of the Python's choice)."""
    reasons = []
    for item in merged.values():
        if item.wanted.framework and item.history is not None and item.wanted.forced is None:
            before = as_of if item.dated else None
            chosen = newest(item.history, item.specifier, before=before, python=version)
            if chosen is not None:
                supported = chosen.pythons(sorted(releases, key=_vkey))
                if supported:
                    reasons.append(
                        f"{item.wanted.name} {chosen.version} has wheels for Python "
                        f"{_span(supported)}"
                    )
    return reasons


def _span(versions: Sequence[str]) -> str:
    if len(versions) == 1:
        return versions[0]
    return f"{versions[0]}–{versions[-1]}"


# --------------------------------------------------------------------------- versions


def decide(
    merged: Mapping[str, Bounded],
    *,
    python: str,
    as_of: dt.date,
    as_of_reason: str,
) -> tuple[dict[str, VersionChoice], dict[str, str], list[str]]:
    """Chosen versions with evidence chains; exact versions for frameworks; conflicts."""
    choices: dict[str, VersionChoice] = {}
    pinned: dict[str, str] = {}
    conflicts: list[str] = []
    for key, item in merged.items():
        wanted = item.wanted
        conflicts += item.conflicts
        if not (wanted.framework or any(b.kind == "api" for b in wanted.bounds)):
            continue
        chain = [b.why for b in item.kept] + list(item.conflicts)
        latest = item.history.latest() if item.history else None
        version: str | None = None
        if wanted.forced is not None:
            version = wanted.forced
            chain.append(f"{wanted.name} {version} is in the wheelhouse (--find-links)")
        elif item.history is None:
            chain.append(
                f"no release history for {wanted.name}: the build resolves it as of "
                f"{as_of.isoformat()}"
            )
        else:
            before = as_of if item.dated else None
            chosen = newest(item.history, item.specifier, before=before, python=python)
            spec_text = item.specifier or "any version"
            if chosen is not None and item.dated:
                chain.append(
                    f"{as_of_reason} → newest {wanted.name} {spec_text} uploaded before it "
                    f"with wheels for Python {python}: {chosen.version} ({chosen.date.isoformat()})"
                )
            elif chosen is not None:
                if not any(b.kind == "paired" for b in item.kept):  # its why says it all
                    chain.append(f"{wanted.name} {chosen.version} as pinned")
            else:
                chosen = _oldest_after(item.history, item.specifier, python) or _oldest_after(
                    item.history, item.specifier, None
                )
                if chosen is not None:
                    note = (
                        f"{wanted.name}: no release {spec_text} before {as_of.isoformat()} has "
                        f"wheels for Python {python}; took the closest, {chosen.version} "
                        f"({chosen.date.isoformat()})"
                    )
                    chain.append(note)
                    conflicts.append(note)
                else:
                    note = f"{wanted.name}: no release satisfies {spec_text}"
                    chain.append(note)
                    conflicts.append(note)
            version = chosen.version if chosen is not None else None
        if wanted.framework and version is not None:
            pinned[key] = version
        elif version is not None:
            chain.append(f"expected {version}; the build resolves it with the same cutoff")
        choices[key] = VersionChoice(
            name=wanted.name,
            version=version,
            specifier=item.specifier,
            chain=tuple(chain),
            latest=latest.version if latest else None,
        )
    return choices, pinned, conflicts


def lock_cutoff(
    merged: Mapping[str, Bounded], pinned: Mapping[str, str], as_of: dt.date
) -> tuple[dt.date, list[str]]:
    """The build's upload-date cutoff: ``as_of``, moved later only as far as a version the
    user forced (or the closest one repro had to take) needs for its own dependencies."""
    cutoff = as_of
    reasons = [f"packages uploaded before {as_of.isoformat()}"]
    for key, item in merged.items():
        version = item.wanted.forced or pinned.get(key)
        if version is None or item.history is None:
            continue
        release = item.history.get(version)
        if release is None or release.date < cutoff:
            continue
        moved = release.date + dt.timedelta(days=1)
        reasons.append(
            f"moved to {moved.isoformat()}: {item.wanted.name} {version} was uploaded "
            f"{release.date.isoformat()} and its dependencies must exist"
        )
        cutoff = moved
    return cutoff, reasons


def date_constraints(
    index: ReleaseIndex,
    names: Iterable[str],
    *,
    python: str,
    cutoff: dt.date,
    specifiers: Mapping[str, str],
    pinned: Mapping[str, str],
) -> tuple[str, ...]:
    """``name==version`` for every package with a history at hand, as of ``cutoff`` for
    ``python``: the date rule for installers without an upload-date option (pip 20 on 2.7).

    ``names`` is the shipped packages plus the repository's own requirements, never what
    happens to be in the user's cache: the constraints depend on the commit alone."""
    lines = []
    for name in sorted(set(names)):
        key = canonicalize_name(name)
        if key in TOOLING:
            continue
        if key in pinned:
            lines.append(f"{key}=={pinned[key]}")
            continue
        history = index.get(key)
        if history is None:
            continue
        chosen = newest(history, specifiers.get(key, ""), before=cutoff, python=python)
        if chosen is not None:
            lines.append(f"{key}=={chosen.version}")
    return tuple(sorted(lines))


def resolved(env: Environment, name: str, index: ReleaseIndex) -> str | None:
    """The version of ``name`` an environment installs: the one repro chose (frameworks,
    API-bounded packages), else the one its lock resolves, the newest release within the
    requirement's bounds uploaded before the lock's cutoff with wheels for its Python."""
    key = canonicalize_name(name)
    chosen = next((c.version for c in env.choices if canonicalize_name(c.name) == key), None)
    if chosen is not None:
        return chosen
    req = next((r for r in env.requirements if canonicalize_name(r.name) == key), None)
    if req is None:
        return None
    if req.version:
        return req.version
    history = index.get(key)
    if history is None:
        return None
    found = newest(history, req.specifier, before=env.lock_cutoff, python=env.python.version)
    return found.version if found else None

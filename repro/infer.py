"""Evidence → Environment: which Python, which requirements, and why (pure).

Declared requirements win; imports fill the gaps; imports nothing maps are reported as
unresolved. Versions and Python are decided in ``repro/versions.py``: bounds from pins,
declarations and the APIs the code uses, then the newest releases before the commit date
(or ``--as-of``) and the newest Python for which they all have wheels.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import compat as cdata
from repro import datafiles, era, mapping, merge, optional_gpu, system_modules, versions
from repro.errors import UsageError
from repro.lookup import Found
from repro.models import (
    DeclaredRequirement,
    Environment,
    Evidence,
    InferSettings,
    Origin,
    PythonChoice,
    PythonHint,
    Requirement,
    VersionChoice,
    Wheel,
)
from repro.releases import PackageReleases, Release, ReleaseIndex, ShippedIndex

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


@cache
def python_releases() -> dict[str, dt.date]:
    data = datafiles.load("python_releases.json")
    return {v: dt.date.fromisoformat(d) for v, d in data["releases"].items()}


def known_pythons() -> tuple[str, ...]:
    """Every Python repro knows, oldest first."""
    return tuple(sorted(python_releases(), key=_vkey))


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def satisfies(python: str, specifier: str) -> bool:
    """Whether some release of ``python`` (X.Y) is allowed by ``specifier``."""
    return versions.python_allows(python, specifier)


# --------------------------------------------------------------------------- python


def choose_python(
    hints: Iterable[PythonHint],
    *,
    as_of: dt.date,
    override: str | None = None,
    prefer: Mapping[str, str] | None = None,
    merged: Mapping[str, versions.Bounded] | None = None,
    major: int | None = None,
    avoid: Mapping[str, str] | None = None,
) -> tuple[PythonChoice, list[str]]:
    """The Python version, its reasons, and the hints that had to be overruled."""
    releases = python_releases()
    if override and override not in releases:
        known = ", ".join(sorted(releases, key=_vkey))
        raise UsageError(f"--python {override}: not a Python repro can build ({known})")
    return versions.python_among(
        hints,
        releases=releases,
        as_of=as_of,
        override=override,
        prefer=prefer,
        merged=merged,
        major=major,
        avoid=avoid,
    )


# --------------------------------------------------------------------------- requirements


@dataclass
class _Draft(merge.RequirementDraft):
    """A merged requirement, and the version repro/versions.py chose for it (frameworks)."""

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
    settings: InferSettings,
    *,
    commit_date: dt.datetime,
    wheelhouse: Sequence[Wheel] | None = None,
    releases: ReleaseIndex | None = None,
    avoid_python: Mapping[str, str] | None = None,
    code_date: dt.datetime | None = None,
    source_url: str = "",
    lookups: Mapping[str, Found] | None = None,
    history: era.History = "full",
) -> Environment:
    """What the image must contain. ``avoid_python``: Pythons no base image serves for this
    repository (Python → why), passed over while the evidence allows another.
    ``code_date``: when code or a dependency file last changed (``Checkout.code_date``);
    unpinned versions are as of it, not of a later commit that touched only the README.
    ``lookups``: what the verified PyPI look-up (repro/lookup.py) found for the imports
    repro's data does not map. ``history``: ``none`` for a folder outside git, ``thin``
    when every commit that touched code lies within a month (an upload): the code's own
    era (repro/era.py) then replaces the commit date where it is older."""
    as_of, as_of_reason = as_of_date(settings, commit_date, code_date, history)
    basis = _basis(settings, commit_date, code_date, history)
    index = releases if releases is not None else ShippedIndex()
    wheels = tuple(wheelhouse or ())
    prefer = _preferred_pythons(evidence, lookups, wheels, as_of)
    # A first choice from the repository's statements alone: it fixes Python 2 or 3, which
    # decides what the standard library is (and so which imports are requirements).
    python, _ = choose_python(
        evidence.python_hints, as_of=as_of, override=settings.python, prefer=prefer
    )
    found = merge.merge_evidence(evidence, python.version, lookups)
    kept, lazy_notes = optional_gpu.demote(
        found.requirements, evidence, python.version, settings.with_frameworks
    )
    found = dataclasses.replace(found, requirements=kept)
    drafts: dict[str, _Draft] = {
        canonicalize_name(m.name) if m.name else m.url: _Draft(**vars(m))
        for m in found.requirements
    }
    unresolved = list(found.unresolved)
    own_notes = _drop_own_repository(drafts, source_url)
    _apply_pins(drafts, settings.pins)
    merged = _pair_pinned(_merge(drafts, evidence, settings, index, wheels))
    chain_reason = as_of_reason
    if settings.as_of is None and history != "full":
        as_of, basis, as_of_reason, chain_reason = _dated_by_code(
            evidence, merged, history, as_of, basis, as_of_reason
        )
    merged = {k: versions.within_date(m, as_of) for k, m in merged.items()}
    # Companions whose version follows torch's once torch's is decided: they do not steer
    # the Python (torch does), and they are decided after it.
    followers = _followers(merged)
    python, py_conflicts = choose_python(
        evidence.python_hints,
        as_of=as_of,
        override=settings.python,
        prefer=prefer,
        merged={k: m for k, m in merged.items() if k not in followers},
        major=python.major,
        avoid=avoid_python,
    )
    usable = _wheels_for(wheels, python.version)
    merged = {k: _with_wheelhouse(m, usable) for k, m in merged.items()}
    merged, choices, pinned, version_conflicts = _decide_versions(
        merged, followers, python=python.version, as_of=as_of, as_of_reason=chain_reason
    )
    _record_versions(drafts, merged, choices, pinned)
    cutoff, lock_reasons = versions.lock_cutoff(merged, pinned, as_of)
    conflicts = [*py_conflicts, *found.conflicts, *version_conflicts]
    requirements = [
        _finish(d, usable, conflicts) for d in sorted(drafts.values(), key=lambda d: d.name.lower())
    ]
    constraints_for_pip: tuple[str, ...] = ()
    if versions.installer_for(python.version) == "pip":
        constraints_for_pip = _date_constraints(
            index,
            merged,
            {k: m.specifier for k, m in merged.items()},
            requirements,
            python=python.version,
            cutoff=cutoff,
        )
    index_urls = _index_urls(evidence)
    return Environment(
        python=python,
        requirements=tuple(requirements),
        unresolved=tuple(unresolved),
        imports=found.imports,
        conflicts=tuple(conflicts),
        as_of=as_of,
        as_of_reason=as_of_reason,
        as_of_basis=basis,
        index_urls=index_urls,
        warnings=(*own_notes, *lazy_notes, *index.warnings),
        choices=tuple(choices[k] for k in sorted(choices)),
        lock_cutoff=cutoff,
        lock_reasons=tuple(lock_reasons),
        date_constraints=constraints_for_pip,
    )


def _preferred_pythons(
    evidence: Evidence,
    lookups: Mapping[str, Found] | None,
    wheels: Sequence[Wheel],
    as_of: dt.date,
) -> dict[str, str]:
    """Pythons the evidence leans to (Python → why): a system module (gi, dbus) works only
    on its distribution release's own Python; a wheelhouse's wheels fit some Pythons."""
    return {
        **system_modules.python_preferences(
            evidence, lookups, released=python_releases(), as_of=as_of
        ),
        **_wheelhouse_pythons(evidence, wheels),
    }


def _record_versions(
    drafts: Mapping[str, _Draft],
    merged: Mapping[str, versions.Bounded],
    choices: Mapping[str, VersionChoice],
    pinned: Mapping[str, str],
) -> None:
    """Each draft takes its API bounds, its exact version and its version's chain; a
    declared bound the intersection ignored (no release satisfies it with the stronger
    ones: a README's "TensorFlow 0.7", which PyPI never had) leaves its specifier too, so
    that what is installed, and every Python the planner tries, goes by the bounds kept."""
    for name, item in merged.items():
        draft = drafts[name]
        ignored = {b.specifier for b in item.wanted.bounds if b.kind == "declared"}
        ignored -= {b.specifier for b in item.kept}
        draft.specs = [s for s in draft.specs if s not in ignored]
        draft.specs += [b.specifier for b in item.kept if b.kind == "api"]
        if name in pinned:
            draft.version = pinned[name]
        if name in choices:
            draft.reasons += [c for c in choices[name].chain if c not in draft.reasons]


def _index_urls(evidence: Evidence) -> tuple[str, ...]:
    """The package indexes and wheel folders the repository names, in order, once each."""
    return tuple(
        dict.fromkeys(h.value for h in evidence.hints if h.topic in ("index-url", "find-links"))
    )


def _dated_by_code(
    evidence: Evidence,
    merged: Mapping[str, versions.Bounded],
    history: era.History,
    as_of: dt.date,
    basis: str,
    as_of_reason: str,
) -> tuple[dt.date, str, str, str]:
    """For code without a usable history: the code's own era (repro/era.py) where it is
    older than ``as_of``. Returns the date, its basis, its reason, and the reason the
    version chains give."""
    dated = code_era(evidence, merged)
    if era.use_estimate(history, as_of, dated):
        assert dated is not None
        before = (
            "no history (a folder outside git)"
            if history == "none"
            else (f"the history is one upload ({as_of_reason})")
        )
        chain_reason = f"the code's era {dated.date.isoformat()}"
        return dated.date, "code", f"{before}: {dated.reason}", chain_reason
    if history == "none":
        return as_of, basis, f"{as_of_reason}; nothing in the code dates it earlier", as_of_reason
    return as_of, basis, as_of_reason, as_of_reason


def _decide_versions(
    merged: dict[str, versions.Bounded],
    followers: frozenset[str],
    *,
    python: str,
    as_of: dt.date,
    as_of_reason: str,
) -> tuple[dict[str, versions.Bounded], dict[str, VersionChoice], dict[str, str], list[str]]:
    """Versions for ``python``: torch's companions (``followers``) are decided after the
    rest, paired with torch's version, each pairing said in its chain. Returns the merged
    requirements (followers paired), the choices, the exact versions and the conflicts."""
    choices, pinned, conflicts = versions.decide(
        {k: m for k, m in merged.items() if k not in followers},
        python=python,
        as_of=as_of,
        as_of_reason=as_of_reason,
    )
    if followers:
        merged, notes = _pair_followers(merged, followers, pinned.get("torch"))
        more_choices, more_pinned, more_conflicts = versions.decide(
            {k: merged[k] for k in followers},
            python=python,
            as_of=as_of,
            as_of_reason=as_of_reason,
        )
        for key, note in notes.items():
            choice = more_choices[key]
            more_choices[key] = dataclasses.replace(choice, chain=(*choice.chain, note))
        choices.update(more_choices)
        pinned.update(more_pinned)
        conflicts += more_conflicts
    return merged, choices, pinned, conflicts


def _date_constraints(
    index: ReleaseIndex,
    names: Iterable[str],
    specifiers: Mapping[str, str],
    requirements: Sequence[Requirement],
    *,
    python: str,
    cutoff: dt.date,
) -> tuple[str, ...]:
    """pip's date constraints (``versions.date_constraints``) for the shipped packages and
    ``names``, with the exact version of every requirement that is not optional."""
    return versions.date_constraints(
        index,
        {*ShippedIndex().names(), *names},
        python=python,
        cutoff=cutoff,
        specifiers=specifiers,
        pinned={
            canonicalize_name(r.name): r.version
            for r in requirements
            if r.version and not r.optional
        },
    )


def for_python(
    environment: Environment, python: PythonChoice, index: ReleaseIndex | None = None
) -> Environment:
    """The environment inference made, for another Python the planner chose: framework
    versions chosen by date for the first Python are chosen again for this one (the newest
    release by the code's date with wheels for it; a pin stays), and for pip installers
    the date constraints are worked out for it. Nothing else is inferred again."""
    index = index if index is not None else ShippedIndex()
    as_of = environment.as_of
    requirements = []
    chains: dict[str, str] = {}
    for req in environment.requirements:
        key = canonicalize_name(req.name)
        redo = (
            req.layer == "framework"
            and not req.optional
            and not req.url
            and not cdata.exact_version(req.specifier)
            and not (req.version and "+" in req.version)
        )
        history = with_off_pypi(key, index.get(key)) if redo else None
        if history is not None:
            chosen = versions.newest(history, req.specifier, before=as_of, python=python.version)
            chosen = chosen or versions.newest(
                history, req.specifier, before=None, python=python.version
            )
            version = chosen.version if chosen else None
            if version != req.version:
                note = f"{req.name} {version or '(none)'} for Python {python.version}" + (
                    f" (was {req.version} for Python {environment.python.version})"
                    if req.version
                    else ""
                )
                chains[key] = note
                req = dataclasses.replace(req, version=version, reasons=(*req.reasons, note))
        requirements.append(req)
    old = environment.python.version
    versions_now = {canonicalize_name(r.name): r.version for r in requirements if r.name}
    choices = []
    for choice in environment.choices:
        key = canonicalize_name(choice.name)
        if key in chains:
            choice = dataclasses.replace(
                choice, version=versions_now.get(key), chain=(*choice.chain, chains[key])
            )
        elif any(f"Python {old}" in step for step in choice.chain):
            kept = f"{choice.name} {choice.version} kept for Python {python.version}"
            choice = dataclasses.replace(choice, chain=(*choice.chain, kept))
        choices.append(choice)
    constraints: tuple[str, ...] = ()
    if versions.installer_for(python.version) == "pip" and environment.lock_cutoff:
        constraints = _date_constraints(
            index,
            [canonicalize_name(r.name) for r in requirements if r.name],
            {canonicalize_name(r.name): r.specifier for r in requirements if r.name},
            requirements,
            python=python.version,
            cutoff=environment.lock_cutoff,
        )
    return dataclasses.replace(
        environment,
        python=python,
        requirements=tuple(requirements),
        choices=tuple(choices),
        date_constraints=constraints,
    )


def _repository_key(url: str) -> str:
    """``git+https://github.com/Owner/Repo.git@main#egg=x`` → ``github.com/owner/repo``."""
    text = url.strip().split("#")[0]
    text = re.sub(r"^(git|hg|svn|bzr)\+", "", text)
    text = re.sub(r"^[a-z]+://(?:[^@/]+@)?", "", text)
    text = re.sub(r"^git@([^:]+):", r"\1/", text)
    host, _, path = text.partition("/")
    parts = [p for p in path.split("@")[0].split("/") if p][:2]
    if len(parts) < 2:
        return ""
    repo = re.sub(r"\.git$", "", parts[1])
    return f"{host.removeprefix('www.').lower()}/{parts[0].lower()}/{repo.lower()}"


def _drop_own_repository(drafts: dict[str, _Draft], source_url: str) -> list[str]:
    """URL requirements that install the packed repository itself (a Colab notebook's
    ``!pip install git+https://github.com/OWNER/REPO``): its code is at /app at the packed
    commit already; installing the branch head instead would change what is packed."""
    own = _repository_key(source_url) if source_url else ""
    notes: list[str] = []
    if not own:
        return notes
    for key, draft in list(drafts.items()):
        if draft.url and _repository_key(draft.url) == own:
            where = ", ".join(str(o) for o in draft.origins[:2])
            notes.append(
                f"{draft.url} ({where}) installs this repository itself: its code is in the "
                "image at the packed commit, so it is not installed again"
            )
            del drafts[key]
    return notes


def as_of_date(
    settings: InferSettings,
    commit_date: dt.datetime,
    code_date: dt.datetime | None = None,
    history: era.History = "full",
) -> tuple[dt.date, str]:
    """The date unpinned versions are resolved as of, and why (before the code's own era,
    which :func:`infer` works out for code without a usable history)."""
    if settings.as_of:
        return (
            settings.as_of,
            f"as of {settings.as_of.isoformat()} (--as-of or as-of in [tool.repro])",
        )
    if history == "none":
        return commit_date.date(), f"newest file time {commit_date:%Y-%m-%d} (no history)"
    if code_date is not None and code_date.date() < commit_date.date():
        return code_date.date(), (
            f"last change to code or requirements {code_date:%Y-%m-%d} (the commits since, "
            f"up to {commit_date:%Y-%m-%d}, change other files only)"
        )
    return commit_date.date(), f"last commit {commit_date:%Y-%m-%d}"


def _basis(
    settings: InferSettings, commit_date: dt.datetime, code_date: dt.datetime | None, history: str
) -> str:
    if settings.as_of:
        return "option"
    if history == "none":
        return "files"
    if code_date is not None and code_date.date() < commit_date.date():
        return "code-commit"
    return "commit"


@cache
def python_end_of_life() -> dt.date:
    data = datafiles.load("python_releases.json")
    return dt.date.fromisoformat(data["end_of_life"]["2.7"])


def code_era(evidence: Evidence, merged: Mapping[str, versions.Bounded]) -> era.Estimate | None:
    """The newest date every API bound and the code's own Python bounds agree with."""
    signals: list[era.Signal] = []
    for item in merged.values():
        api = [b for b in item.kept if b.kind == "api" and b.strength == "hard"]
        if not api:
            continue
        spec = ",".join(b.specifier for b in api)
        bounded = era.Bounded(
            name=item.wanted.name, specifier=spec, why=api[0].why, history=item.history
        )
        signals += era.package_signals(bounded)
    releases = python_releases()
    kept = era.kept_hints(evidence.python_hints, sorted(releases, key=_vkey))
    signals += era.python_signals(kept, releases, python_end_of_life())
    return era.estimate(signals)


def _merge(
    drafts: Mapping[str, _Draft],
    evidence: Evidence,
    settings: InferSettings,
    index: ReleaseIndex,
    wheels: Sequence[Wheel],
) -> dict[str, versions.Bounded]:
    """Every needed package's bounds (pins, declarations, API uses), merged strongest first."""
    api = _same_module_bounds(versions.api_bounds(evidence.api_uses))
    pinned: dict[str, str] = {canonicalize_name(_pin_name(p)): p for p in settings.pins}
    declared: dict[str, list[versions.Bound]] = {}
    for decl in evidence.declared:
        if (decl.optional and decl.group not in ("lock", "constraint")) or not decl.name:
            continue
        _, spec, _, _, _ = _parse(decl)
        draft = drafts.get(canonicalize_name(decl.name))
        # only what the merge kept: a declaration that lost a conflict, or a hint nothing
        # corroborated, bounds nothing (repro/merge.py)
        if spec and draft is not None and spec in draft.specs:
            declared.setdefault(canonicalize_name(decl.name), []).append(
                versions.Bound(
                    specifier=spec, why=f"{decl.origin} declares {decl.name}{spec}", kind="declared"
                )
            )
    out: dict[str, versions.Bounded] = {}
    for key, draft in drafts.items():
        if draft.optional or draft.url:
            continue
        if key in pinned:
            pin = pinned[key]
            spec = pin[len(_pin_name(pin)) :].strip()
            bounds = [versions.Bound(specifier=spec, why=f"--pin {pin}", kind="user")]
        else:
            bounds = declared.get(key, [])
        wanted = versions.Wanted(
            name=draft.name,
            bounds=(*bounds, *api.get(key, [])),
            framework=key in FRAMEWORKS,
        )
        merged = versions.intersect(wanted, with_off_pypi(key, index.get(key), wanted.bounds))
        if any(
            w.name == key and _contains(SpecifierSet(merged.specifier), w.version) for w in wheels
        ):
            merged = dataclasses.replace(
                merged, wanted=dataclasses.replace(wanted, forced="wheelhouse")
            )
        out[key] = merged
    return out


def _same_module_bounds(api: Mapping[str, list[versions.Bound]]) -> dict[str, list[versions.Bound]]:
    """API bounds by package, extended to every distribution that provides the same module
    (repro/data/import_map.json): ``tf.contrib`` bounds ``tensorflow-gpu`` as it bounds
    ``tensorflow``, which install one module under two names."""
    out: dict[str, list[versions.Bound]] = {k: list(v) for k, v in api.items()}
    for package, bounds in api.items():
        for module in mapping.distributions_for(package):
            for other in mapping.providers(module):
                key = canonicalize_name(other)
                if key != package:
                    out.setdefault(key, []).extend(b for b in bounds if b not in out[key])
    return out


def with_off_pypi(
    name: str, history: PackageReleases | None, bounds: Sequence[versions.Bound] = ()
) -> PackageReleases | None:
    """A release history with the releases PyPI no longer has but whose wheels still exist
    elsewhere (torch 0.x, jaxlib 0.1: repro/data/compat.json), when a declaration or
    ``--pin`` names one exactly, so that the pin holds. Unpinned code is not dated to them:
    the API rules that bound old code were written against PyPI's history."""
    extra = cdata.load().off_pypi(name)
    pins = {cdata.exact_version(b.specifier) for b in bounds if b.kind in ("user", "declared")}
    pins = {p.split("+")[0] for p in pins if p}
    extra = tuple(e for e in extra if e[0] in pins)
    if history is None or not extra:
        return history
    have = {r.version for r in history.releases}
    added = [
        Release(
            version=version,
            date=dt.date.fromisoformat(date),
            wheels=frozenset("cp" + p.replace(".", "") for p in pythons),
        )
        for version, date, pythons in extra
        if version not in have
    ]
    releases = sorted((*history.releases, *added), key=lambda r: Version(r.version))
    return dataclasses.replace(history, releases=tuple(releases))


# --------------------------------------------------------------------------- torch companions

# torchvision and torchaudio are built against one torch release each: their versions come
# from torch's row in repro/data/compat.json (pytorch/vision's and pytorch/audio's tables),
# on CPU and GPU images alike, never from the commit date on their own.
TORCH_COMPANIONS = ("torchvision", "torchaudio")
_PAIR_SOURCE = "repro/data/compat.json"


def _exact(item: versions.Bounded) -> str | None:
    """The one version a package's kept bounds allow, when they name one (``==1.8.1``)."""
    return cdata.exact_version(item.specifier)


def _with_bound(item: versions.Bounded, bound: versions.Bound) -> versions.Bounded:
    wanted = dataclasses.replace(item.wanted, bounds=(*item.wanted.bounds, bound))
    return versions.intersect(wanted, item.history)


def _pair_pinned(merged: dict[str, versions.Bounded]) -> dict[str, versions.Bounded]:
    """Bounds that tie torch and its companions when one of them names an exact version:
    the companions follow a pinned torch; an unpinned torch follows a pinned companion."""
    torch = merged.get("torch")
    if torch is None:
        return merged
    data = cdata.load()
    out = dict(merged)
    version = _exact(torch)
    if version is not None:
        release = data.torch_release(version)
        for name in TORCH_COMPANIONS:
            item = out.get(name)
            paired = getattr(release, name) if release is not None else None
            if item is not None and paired is None and release is not None:
                last = _last_with(data, name)
                if last is not None and Version(last.torch) < Version(release.torch):
                    clash = (
                        f"{name}: no release goes with torch {version} (the newest, "
                        f"{getattr(last, name)}, goes with torch {last.torch}; {_PAIR_SOURCE})"
                    )
                    out[name] = dataclasses.replace(item, conflicts=(*item.conflicts, clash))
            if item is None or paired is None:
                continue
            own = _exact(item)
            if own is None:
                why = f"{name} {paired} goes with torch {version} ({_PAIR_SOURCE})"
                out[name] = _with_bound(
                    item, versions.Bound(specifier=f"=={paired}", why=why, kind="paired")
                )
            elif own.split("+")[0] != paired:
                clash = (
                    f"{name} {own} does not go with torch {version} ({name} {paired} does, "
                    f"{_PAIR_SOURCE}): both are pinned, both are installed as pinned"
                )
                out[name] = dataclasses.replace(item, conflicts=(*item.conflicts, clash))
        return out
    for name in TORCH_COMPANIONS:
        item = out.get(name)
        own = _exact(item) if item is not None else None
        found = data.torch_by_companion(name, own) if own is not None else None
        if found is None:
            continue
        why = f"torch {found.torch} goes with {name} {own} ({_PAIR_SOURCE})"
        out["torch"] = _with_bound(
            torch, versions.Bound(specifier=f"=={found.torch}", why=why, kind="paired")
        )
        return out
    # A companion the code needs that stopped being released (torchaudio after torch 2.11)
    # caps torch: a newer torch would have no companion to install beside it.
    for name in TORCH_COMPANIONS:
        last = _last_with(data, name) if name in out else None
        if last is None or Version(last.torch) >= Version(data.torch[-1].torch):
            continue
        why = (
            f"{name} is needed and its newest release, {getattr(last, name)}, goes with torch "
            f"{last.torch}; no {name} goes with a newer torch ({_PAIR_SOURCE})"
        )
        out["torch"] = _with_bound(
            out["torch"], versions.Bound(specifier=f"<={last.torch}", why=why, kind="paired")
        )
    return out


def _last_with(data: cdata.Compat, name: str) -> cdata.TorchRelease | None:
    """The newest torch release the data pairs a ``name`` release with."""
    paired = [r for r in data.torch if getattr(r, name)]
    return max(paired, key=lambda r: Version(r.torch)) if paired else None


def _followers(merged: Mapping[str, versions.Bounded]) -> frozenset[str]:
    """Companions of a torch whose version is not known yet (chosen by date)."""
    if "torch" not in merged:
        return frozenset()
    return frozenset(
        name
        for name in TORCH_COMPANIONS
        if name in merged
        and _exact(merged[name]) is None
        and merged[name].wanted.forced is None
        and not merged[name].wanted.exact_pin
    )


def _pair_followers(
    merged: dict[str, versions.Bounded], followers: frozenset[str], torch: str | None
) -> tuple[dict[str, versions.Bounded], dict[str, str]]:
    """The followers bound to the torch version decided; notes where no pairing is known."""
    out = dict(merged)
    notes: dict[str, str] = {}
    release = cdata.load().torch_release(torch) if torch else None
    for name in sorted(followers):
        paired = getattr(release, name) if release is not None else None
        later = _next_paired(name, torch) if torch and paired is None else None
        before = _release_before(out[name].history, getattr(later, name)) if later else None
        if later is not None and before is not None:
            # a torch older than any the data pairs (0.3.1): its companion is the release
            # before the one paired with the next torch, which needs that newer torch;
            # pinned exactly, since PyPI yanked them (an installer takes a yanked release
            # only when pinned so)
            why = (
                f"{name} {before}, the release before {getattr(later, name)}: repro's "
                f"compatibility data pairs no {name} with torch {torch}, and {name} "
                f"{getattr(later, name)} goes with torch {later.torch}, the next it pairs "
                f"({_PAIR_SOURCE})"
            )
            out[name] = _with_bound(
                out[name], versions.Bound(specifier=f"=={before}", why=why, kind="paired")
            )
            continue
        if paired is None:
            if torch:
                notes[name] = (
                    f"repro's compatibility data pairs no {name} with torch {torch}: chosen by date"
                )
            continue
        why = f"{name} {paired} goes with torch {torch} ({_PAIR_SOURCE})"
        out[name] = _with_bound(
            out[name], versions.Bound(specifier=f"=={paired}", why=why, kind="paired")
        )
    return out, notes


def _next_paired(name: str, torch: str) -> cdata.TorchRelease | None:
    """The oldest torch release newer than ``torch`` that the data pairs a ``name`` with."""
    try:
        after = [
            r for r in cdata.load().torch if getattr(r, name) and Version(r.torch) > Version(torch)
        ]
    except InvalidVersion:
        return None
    return min(after, key=lambda r: Version(r.torch)) if after else None


def _release_before(history: PackageReleases | None, version: str) -> str | None:
    """The newest release in ``history`` older than ``version`` (yanked ones too)."""
    if history is None:
        return None
    older = []
    for release in history.releases:
        with contextlib.suppress(InvalidVersion):
            if Version(release.version) < Version(version):
                older.append(release.version)
    return max(older, key=Version) if older else None


def _pin_name(pin: str) -> str:
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PReq

    try:
        return PReq(pin).name
    except InvalidRequirement:
        raise UsageError(f"--pin {pin!r} is not a requirement such as torch==1.4.0") from None


def _with_wheelhouse(
    merged: versions.Bounded, usable: Mapping[str, tuple[str, ...]]
) -> versions.Bounded:
    """Fix the wheelhouse version for the chosen Python (or drop the wheelhouse claim)."""
    key = merged.wanted.key
    spec = SpecifierSet(merged.specifier)
    fitting = [v for v in usable.get(key, ()) if _contains(spec, v)]
    forced = max(fitting, key=Version) if fitting and not merged.wanted.exact_pin else None
    return dataclasses.replace(merged, wanted=dataclasses.replace(merged.wanted, forced=forced))


def _wheels_for(wheels: Sequence[Wheel], python: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for wheel in wheels:
        if wheel.supports(python):
            out.setdefault(wheel.name, []).append(wheel.version)
    return {k: tuple(v) for k, v in out.items()}


def _wheelhouse_pythons(evidence: Evidence, wheels: Sequence[Wheel]) -> dict[str, str]:
    """Pythons for which the wheelhouse holds a framework the code imports or declares."""
    if not any(wheel.name in FRAMEWORKS for wheel in wheels):
        return {}  # (no need to map every import)
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
    version = draft.version  # a framework's version chosen by repro/versions.py
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
            reasons = [r for r in reasons if "newest" not in r]
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
        layer=_layer(key, draft),
    )


def _layer(key: str, draft: _Draft) -> Literal["framework", "main", "optional"]:
    """Frameworks alone (a framework imported only lazily stays out of the image: it is
    listed, not installed); light optional imports in the best-effort layer."""
    if key in FRAMEWORKS:
        return "framework"
    return "optional" if draft.optional and draft.best_effort and not draft.url else "main"


def _contains(spec: SpecifierSet, version: str) -> bool:
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def likely_packages(evidence: Evidence) -> list[str]:
    """The distributions inference will most likely look up: declared and imported ones.

    Used to start release-date look-ups in parallel before :func:`infer` asks for them one
    by one; a name missing here is simply looked up later.
    """
    names = [d.name for d in evidence.declared if d.name and not d.optional]
    for site in evidence.imports:
        if site.optional or site.module.split(".")[0] in evidence.local_modules:
            continue
        found = mapping.lookup(site.module)
        if found.kind == "dist":
            names.append(found.dist)
    return list(dict.fromkeys(names))

"""Evidence → the repository's requirement set, each requirement with its provenance (pure).

How evidence is weighed (docs/inference.md says the same for users):

1. Declared files win. requirements files, setup.py/setup.cfg, pyproject, Pipfile, conda
   files, notebook ``!pip install`` lines and ``--pin`` are *declarations*. When two of
   them disagree on a version, the stronger kind is kept (lock > requirements > Pipfile >
   conda > pyproject > setup.cfg > setup.py > notebook; then the shallower file) and the
   disagreement is reported as a conflict.
2. Imports fill the gaps. An import maps to a distribution through repro/mapping.py; when
   a declared requirement already provides the module (``opencv-python-headless`` for
   ``cv2``), the import corroborates it instead of adding another.
3. Hints need corroboration. Dockerfiles, install scripts, CI configs and READMEs say what
   the authors once installed. A requirement named only there is *required* when code
   imports a module it provides (or a declared file names it too), and then its name and
   version are used; otherwise it is listed as optional, never installed on its own.
4. Lock files and constraints only pin what the steps above found.
5. Imports no data maps are looked up and verified on PyPI (repro/lookup.py, done before
   the merge and passed in as ``lookups``); what is still unknown is *unresolved*:
   reported with a reason and the candidates refused, never guessed. Every import path
   is classified on the way (repro/resolve.py): own module, standard library, host
   application, distribution or unresolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PReq
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import apirules, mapping, resolve
from repro.lookup import Found
from repro.models import (
    STRONG_KINDS,
    DeclaredRequirement,
    Evidence,
    ImportResolution,
    ImportSite,
    Origin,
    Unresolved,
)

# Which declaration wins a disagreement: the lower the stronger.
DECLARED_RANK = {
    "user": 0,
    "lock": 1,
    "requirements": 2,
    "pipfile": 3,
    "conda": 4,
    "pyproject": 5,
    "setup.cfg": 6,
    "setup.py": 7,
    "notebook": 8,
}
# Which hint names a corroborated requirement when several do.
HINT_RANK = {"dockerfile": 0, "script": 1, "ci": 2, "readme": 3, "shadowed": 4}
# Import sites kept as origins of one requirement: a repository of 5,000 files imports
# numpy from thousands of them, and the first few say as much as all of them.
MAX_IMPORT_ORIGINS = 5
_URL = ("git+", "hg+", "svn+", "bzr+", "http://", "https://", "file:")


@dataclass
class RequirementDraft:
    """One requirement as the evidence makes it, before any version is chosen."""

    name: str
    specs: list[str] = field(default_factory=list)
    extras: set[str] = field(default_factory=set)
    markers: list[str] = field(default_factory=list)
    url: str = ""
    origins: list[Origin] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    optional: bool = True
    # imported by code (not tests) only where it may fail: try/except ImportError, a flag
    best_effort: bool = False


@dataclass(frozen=True)
class MergeResult:
    requirements: tuple[RequirementDraft, ...]
    unresolved: tuple[Unresolved, ...]
    conflicts: tuple[str, ...]
    imports: tuple[ImportResolution, ...] = ()


@dataclass(frozen=True)
class _Parsed:
    name: str
    spec: str
    extras: frozenset[str]
    marker: str
    url: str
    decl: DeclaredRequirement


def _parse(decl: DeclaredRequirement) -> _Parsed:
    if decl.requirement.startswith(_URL):
        return _Parsed(decl.name, "", frozenset(), "", decl.requirement, decl)
    try:
        req = PReq(decl.requirement)
    except InvalidRequirement:
        return _Parsed(decl.name, "", frozenset(), "", "", decl)
    return _Parsed(
        req.name,
        str(req.specifier),
        frozenset(req.extras),
        str(req.marker or ""),
        req.url or "",
        decl,
    )


def _key(decl: DeclaredRequirement) -> str:
    return canonicalize_name(decl.name) if decl.name else decl.requirement


def url_name(url: str) -> str:
    """The project a VCS/archive URL points at, for matching imports only: ``#egg=name``,
    else the repository's last path part (``.../openai/CLIP.git@main`` → ``clip``)."""
    egg = re.search(r"[#&]egg=([A-Za-z0-9_.\-]+)", url)
    if egg:
        return canonicalize_name(egg.group(1))
    path = re.sub(r"^[a-z+]+://", "", url.split("#")[0]).rstrip("/")
    last = path.rsplit("/", 1)[-1].split("@")[0]
    last = re.sub(r"\.(git|zip|tar\.gz|tgz)$", "", last)
    return canonicalize_name(last) if re.match(r"^[A-Za-z0-9][\w.\-]*$", last) else ""


_TEST_FRAMEWORKS = frozenset({"pytest", "unittest", "nose", "nose2", "hypothesis"})


def test_files(evidence: Evidence) -> frozenset[str]:
    """Files of test code: under ``tests/``, ``conftest.py``, and ``test_*.py`` /
    ``*_test.py`` files that import a test framework (research repositories also name
    evaluation scripts ``test_net.py``; those stay code)."""
    framework_users = {
        s.origin.path for s in evidence.imports if s.module.split(".")[0] in _TEST_FRAMEWORKS
    }
    out = set()
    for path in {site.origin.path for site in evidence.imports}:  # each file once
        parts = path.split("/")
        name = parts[-1]
        if (
            name == "conftest.py"
            or any(p in ("tests", "testing") for p in parts[:-1])
            or ((name.startswith("test_") or name.endswith("_test.py")) and path in framework_users)
        ):
            out.add(path)
    return frozenset(out)


def _import_name_declared(entry: _Parsed, conflicts: list[str]) -> _Parsed:
    """``skimage==0.0`` in a requirements file (what pipreqs writes): an import name where a
    distribution name belongs. When no distribution has that name but a known one provides
    the module, that one is meant; the placeholder version 0.0 means no version."""
    name = entry.name
    placeholder = bool(re.fullmatch(r"==0(\.0)*", entry.spec))
    if not name or entry.url or not (placeholder or mapping.declared_name_is_import(name)):
        return entry
    found = mapping.lookup(name)
    if found.kind != "dist" or canonicalize_name(found.dist) == canonicalize_name(name):
        return entry
    spec = "" if placeholder else entry.spec
    conflicts.append(
        f"{name}: {entry.decl.origin} names the import {name!r}, not a distribution; "
        f"using {found.dist}, which provides it"
    )
    return _Parsed(found.dist, spec, entry.extras, entry.marker, entry.url, entry.decl)


def _other_system_only(entry: _Parsed, conflicts: list[str]) -> bool:
    """Whether a declared distribution installs on another operating system only (pywin32)
    and has no environment marker saying so: it is left out of the Linux image, and said so.
    (With a marker, ``; sys_platform == "win32"``, pip leaves it out by itself.)"""
    if not entry.name or entry.marker or entry.decl.origin.kind == "user":
        return False
    only = mapping.platform_distribution(entry.name)
    if only is None:
        return False
    system, why = only
    image = "the image" if mapping.is_board(system) else "the Linux image"
    conflicts.append(
        f"{entry.name}: declared in {entry.decl.origin}, but it installs on {system} only "
        f"({why}): left out of {image}; code that needs it runs on {system} only"
    )
    return True


def merge_evidence(
    evidence: Evidence, python: str, lookups: Mapping[str, Found] | None = None
) -> MergeResult:
    """The requirement set of ``evidence`` for target Python ``python`` (``X.Y``);
    ``lookups``: what the verified PyPI look-up found for unmapped imports."""
    conflicts: list[str] = []
    declared: dict[str, list[_Parsed]] = {}
    hints: dict[str, list[_Parsed]] = {}
    pins: list[_Parsed] = []
    for decl in evidence.declared:
        parsed = _parse(decl)
        if decl.group in ("constraint", "lock"):
            pins.append(parsed)
        elif decl.origin.kind in STRONG_KINDS or decl.origin.kind == "notebook":
            parsed = _import_name_declared(parsed, conflicts)
            if _other_system_only(parsed, conflicts):
                continue
            key = canonicalize_name(parsed.name) if parsed.name else decl.requirement
            declared.setdefault(key, []).append(parsed)
        else:
            hints.setdefault(_key(decl), []).append(parsed)
    drafts: dict[str, RequirementDraft] = {}
    aliases: dict[str, str] = {}  # project named by a URL → the draft's key
    for key, entries in declared.items():
        drafts[key] = _combine(entries, DECLARED_RANK, conflicts, declared=True)
        for entry in entries:
            if entry.url and url_name(entry.url):
                aliases.setdefault(url_name(entry.url), key)
    own = _own_names(evidence)
    for key in drafts:
        if key in own and not drafts[key].optional:
            conflicts.append(
                f"{drafts[key].name}: declared in {drafts[key].origins[0]}, but it is also the "
                "name of the repository's own code; installed as declared"
            )
    promoted: set[str] = set()
    unresolved, imports = _imports(
        drafts, aliases, hints, promoted, evidence, python, conflicts, lookups or {}
    )
    for key, entries in hints.items():
        if key in promoted:
            continue
        if key in drafts:
            _corroborate(drafts[key], entries, conflicts)
        elif key in own:
            continue  # ``pip install -e .`` spelled with the project's own name
        else:
            hinted = _combine(entries, HINT_RANK, conflicts, declared=False)
            hinted.optional = True
            where = ", ".join(str(p.decl.origin) for p in entries[:2])
            hinted.reasons.append(
                f"named only in {where}: no import or declared file corroborates it"
            )
            drafts[key] = hinted
    _needed_by_api(drafts, aliases, evidence)
    _pin(drafts, pins, conflicts)
    return MergeResult(
        requirements=tuple(drafts.values()),
        unresolved=tuple(unresolved),
        conflicts=tuple(conflicts),
        imports=imports,
    )


def _needed_by_api(
    drafts: dict[str, RequirementDraft], aliases: dict[str, str], evidence: Evidence
) -> None:
    """Distributions an API the code calls needs though no file imports them (pandas'
    ``read_excel`` reads .xlsx through openpyxl; ``sr.Microphone`` needs PyAudio): added
    as requirements, each with the use and the rule's source, unless the code or a file
    already names one that does (``alternatives``). data/api_rules.json ("needs")."""
    rules = apirules.by_id()
    tests = test_files(evidence)
    named = {*drafts, *aliases.values()}  # what the code and its files name themselves
    for use in evidence.api_uses:
        rule = rules.get(use.rule)
        if not use.needs or rule is None:
            continue
        key = canonicalize_name(rule.package)
        if key not in named and any(canonicalize_name(a) in named for a in rule.alternatives):
            continue  # one that does as well is named by the code or a file (XlsxWriter)
        where = f"{use.origin.path}:{use.origin.line}"
        reason = (
            f"code uses {use.symbol} ({where}), which needs {rule.package}: "
            f"{rule.why} [{rule.source}]"
        )
        if key not in drafts:
            drafts[key] = RequirementDraft(name=rule.package)
        draft = drafts[key]
        if use.origin not in draft.origins:
            draft.origins.append(use.origin)
        if not any(r.startswith(f"code uses {use.symbol} ") for r in draft.reasons):
            draft.reasons.append(reason)
        if use.origin.path not in tests:
            draft.optional = False


def _own_names(evidence: Evidence) -> set[str]:
    names: set[str] = {canonicalize_name(n) for n in evidence.local_modules}
    names |= {canonicalize_name(h.value) for h in evidence.hints if h.topic == "project-name"}
    return names


# --------------------------------------------------------------------------- combining


def _rank(entry: _Parsed, ranks: dict[str, int]) -> tuple[int, int, str, int]:
    origin = entry.decl.origin
    return (ranks.get(origin.kind, 99), origin.path.count("/"), origin.path, origin.line or 0)


def _combine(
    entries: Sequence[_Parsed], ranks: dict[str, int], conflicts: list[str], *, declared: bool
) -> RequirementDraft:
    """One requirement from the lines that name it, strongest first."""
    ordered = sorted(entries, key=lambda e: _rank(e, ranks))
    required = [e for e in ordered if not e.decl.optional]
    base = (required or ordered)[0]
    draft = RequirementDraft(name=base.name if base.url else base.name or base.decl.requirement)
    kept: list[_Parsed] = []
    for entry in ordered:
        draft.origins.append(entry.decl.origin)
        if entry.decl.optional and required:
            continue
        if entry.url:
            draft.url = draft.url or entry.url
        if entry.spec:
            if compatible([*draft.specs, entry.spec]):
                draft.specs.append(entry.spec)
                kept.append(entry)
            else:
                winner = kept[0] if kept else base
                conflicts.append(
                    f"{draft.name}: {entry.decl.origin} asks for {entry.spec!r}, which "
                    f"contradicts {','.join(draft.specs)!r} from {winner.decl.origin}; "
                    f"kept {winner.decl.origin} ({_why(winner, entry, ranks)})"
                )
        draft.extras |= entry.extras
    if required and all(e.marker for e in required):
        draft.markers.append(base.marker)
    draft.optional = not required
    if declared and required:
        draft.reasons.append(f"declared in {base.decl.origin}")
    return draft


def _why(winner: _Parsed, loser: _Parsed, ranks: dict[str, int]) -> str:
    wk, lk = winner.decl.origin.kind, loser.decl.origin.kind
    if ranks.get(wk, 99) < ranks.get(lk, 99):
        return f"{wk} files outrank {lk} files"
    return "the first of equally strong files wins"


def _corroborate(draft: RequirementDraft, entries: Iterable[_Parsed], conflicts: list[str]) -> None:
    """A hint about a declared requirement: it adds its origin, and its version when the
    declaration gives none; a contradiction is reported and the declaration kept."""
    for entry in entries:
        draft.origins.append(entry.decl.origin)
        if not entry.spec or draft.url:
            continue
        if not draft.specs:
            draft.specs.append(entry.spec)
            draft.reasons.append(f"version {entry.spec} from {entry.decl.origin}")
        elif not compatible([*draft.specs, entry.spec]):
            conflicts.append(
                f"{draft.name}: {entry.decl.origin} installs {entry.spec!r}, but the declared "
                f"{','.join(draft.specs)!r} wins"
            )


def _pin(
    drafts: dict[str, RequirementDraft], pins: Iterable[_Parsed], conflicts: list[str]
) -> None:
    """Lock files and constraints pin requirements found elsewhere; they add none."""
    for entry in pins:
        draft = drafts.get(canonicalize_name(entry.name)) if entry.name else None
        if draft is None or not entry.spec or draft.url:
            continue
        if compatible([*draft.specs, entry.spec]):
            draft.specs.append(entry.spec)
            draft.origins.append(entry.decl.origin)
        else:
            conflicts.append(
                f"{draft.name}: {entry.decl.origin} pins {entry.spec!r}, outside the declared "
                f"{','.join(draft.specs)!r}; the pin is ignored"
            )


# --------------------------------------------------------------------------- imports


def _imports(
    drafts: dict[str, RequirementDraft],
    aliases: dict[str, str],
    hints: dict[str, list[_Parsed]],
    promoted: set[str],
    evidence: Evidence,
    python: str,
    conflicts: list[str],
    lookups: Mapping[str, Found],
) -> tuple[list[Unresolved], tuple[ImportResolution, ...]]:
    unknown: dict[str, tuple[list[Origin], str, bool]] = {}
    classified: dict[str, resolve.Seen] = {}  # import path → what provides it (inspect)
    own: dict[str, Origin] = {}
    py2_needed: set[str] = set()
    resolved_paths: set[str] = set()
    tests = test_files(evidence)
    import_counts: dict[str, set[str]] = {}
    resolved: dict[str, tuple[mapping.Mapped, str | None]] = {}
    # Requirements that hold MAX_IMPORT_ORIGINS import origins already, and those whose
    # reasons say "imported" already: both only grow, so a repository's thousands of
    # imports of one package skip re-counting them (held here by id, and kept alive).
    full: dict[int, RequirementDraft] = {}
    said: dict[int, RequirementDraft] = {}
    light: set[str] = set()  # requirements the code imports optionally (not in tests)
    apps = resolve.applications(evidence)
    beside = resolve.siblings(evidence)
    for site in evidence.imports:
        top = site.module.split(".")[0]
        if top in evidence.local_modules or resolve.is_sibling(site, beside):
            own.setdefault(top, site.origin)
            continue
        path = site.origin.path
        if path == "setup.py" or path.endswith("/setup.py"):
            continue  # build machinery: its install_requires are read, not its imports
        loads = mapping.redirected(site.module)
        if loads != site.module:  # flask.ext.wtf: the module it loads is flask_wtf
            site = ImportSite(module=loads, origin=site.origin, optional=site.optional)
        in_tests = site.origin.path in tests
        if not site.optional and in_tests:
            # needed to run the tests, not the code: the smoke test adds its own runner
            site = ImportSite(module=site.module, origin=site.origin, optional=True)
        if site.module in resolved:
            found, key = resolved[site.module]
        else:
            found, key = _map_import(
                site.module, python, apps, lookups, drafts, aliases, hints, promoted, conflicts
            )
            resolved[site.module] = (found, key)
            _classify(classified, found, key, drafts, lookups, python)
        classified[found.module].add(site.origin, site.optional)
        if found.kind in ("stdlib", "host", "platform"):
            continue
        if _python2_stdlib(found, python):
            if not site.optional:
                py2_needed.add(found.module)
            continue
        if key is None:
            origins, reason, optional = unknown.setdefault(found.module, ([], found.reason, True))
            origins.append(site.origin)
            unknown[found.module] = (origins, reason, optional and site.optional)
            continue
        resolved_paths.add(site.module)
        draft = drafts[key]
        if site.optional and not in_tests:
            light.add(key)
        seen = import_counts.get(key, set())
        import_counts[key] = seen
        seen.add(site.origin.path)
        _add_import(draft, site, full, said)
    for key in light:
        drafts[key].best_effort = True
    for key, paths in import_counts.items():
        if len(paths) > MAX_IMPORT_ORIGINS:
            drafts[key].reasons.append(
                f"imported in {len(paths)} files (the first {MAX_IMPORT_ORIGINS} are listed)"
            )
    out = _unresolved(unknown, resolved_paths, lookups, classified)
    for module in sorted(py2_needed):
        first = classified[module].origins[0]
        conflicts.append(
            f"{module} ({first}) is Python 2's standard library, but Python {python} was "
            "chosen: the code importing it needs Python 2"
        )
    return out, resolve.records(classified, own.items())


def _map_import(
    module: str,
    python: str,
    apps: frozenset[str],
    lookups: Mapping[str, Found],
    drafts: dict[str, RequirementDraft],
    aliases: dict[str, str],
    hints: dict[str, list[_Parsed]],
    promoted: set[str],
    conflicts: list[str],
) -> tuple[mapping.Mapped, str | None]:
    """What provides an import path (the data, a host application, the verified look-up)
    and the key of the requirement that installs it (made or found among ``drafts``;
    None for the standard library, a host application, another operating system's module
    or an unknown module)."""
    found = mapping.lookup(module, python=python)
    if apps and found.kind not in ("stdlib", "host", "platform"):
        found = mapping.shared_host(module, apps) or found
    looked_up = lookups.get(found.module) if found.kind == "unknown" else None
    if looked_up is not None and looked_up.resolved:
        found = mapping.Mapped(kind="dist", module=found.module, dist=looked_up.dist)
    key = None
    if found.kind not in ("stdlib", "host", "platform") and not _python2_stdlib(found, python):
        providers = (looked_up.dist, *looked_up.alternatives) if looked_up else None
        key = _resolve(found, module, drafts, aliases, hints, promoted, conflicts, providers)
    if key is not None and looked_up is not None and looked_up.resolved:
        _with_lookup(drafts[key], key, looked_up)
    return found, key


def _add_import(
    draft: RequirementDraft,
    site: ImportSite,
    full: dict[int, RequirementDraft],
    said: dict[int, RequirementDraft],
) -> None:
    """One import of a requirement among its origins (up to ``MAX_IMPORT_ORIGINS``) and
    its reasons (once); a required import makes an optional requirement required."""
    # ``from x import a, b``: one line, one origin
    if id(draft) not in full and site.origin not in draft.origins[-2:]:
        if sum(1 for o in draft.origins if o.kind in ("import", "notebook")) < (MAX_IMPORT_ORIGINS):
            draft.origins.append(site.origin)
        else:
            full[id(draft)] = draft
    if not site.optional and draft.optional:
        draft.optional = False
        draft.reasons.append(f"imported as {site.module} ({site.origin})")
        said[id(draft)] = draft
    elif not site.optional and id(draft) not in said:
        if not any(r.startswith("imported") for r in draft.reasons):
            draft.reasons.append(f"imported as {site.module} ({site.origin})")
        said[id(draft)] = draft


def _unresolved(
    unknown: Mapping[str, tuple[list[Origin], str, bool]],
    resolved_paths: set[str],
    lookups: Mapping[str, Found],
    classified: dict[str, resolve.Seen],
) -> list[Unresolved]:
    """The imports nothing provides, each with why (and what the look-up refused); a
    namespace prefix of a path that was mapped is not one."""
    out = []
    for module, (origins, reason, optional) in sorted(unknown.items()):
        if any(path.startswith(module + ".") for path in resolved_paths):
            classified.pop(module, None)
            continue  # a namespace prefix whose longer path was mapped
        looked_up = lookups.get(module)
        tried = looked_up.refusals() if looked_up is not None else ()
        if looked_up is not None:
            reason = _unfound_reason(module, reason, looked_up)
        if optional:
            reason += " (optional import: the code runs without it)"
        classified[module].how, classified[module].tried = reason, tried
        out.append(
            Unresolved(module=module, origins=tuple(origins[:5]), reason=reason, tried=tried)
        )
    return out


def _with_lookup(draft: RequirementDraft, key: str, looked_up: Found) -> None:
    """The look-up's evidence among the requirement's reasons, and its bound when only
    older releases ship the module (slackclient<2)."""
    if looked_up.evidence in draft.reasons:
        return
    draft.reasons.append(looked_up.evidence)
    if looked_up.specifier and canonicalize_name(looked_up.dist) == key:
        draft.specs.append(looked_up.specifier)


def _python2_stdlib(found: mapping.Mapped, python: str) -> bool:
    """``urllib2`` under Python 3: Python 2's standard library, evidence about the Python."""
    return found.kind == "unknown" and python.startswith("3") and resolve.python2_only(found.module)


def _classify(
    seen: dict[str, resolve.Seen],
    found: mapping.Mapped,
    key: str | None,
    drafts: Mapping[str, RequirementDraft],
    lookups: Mapping[str, Found],
    python: str,
) -> None:
    """Record what provides ``found.module`` (once per import path)."""
    if found.module in seen:
        return
    if found.kind == "stdlib":
        entry = resolve.Seen(
            kind="stdlib", provider=f"Python {python.split('.')[0]}", how="the standard library"
        )
    elif _python2_stdlib(found, python):
        entry = resolve.Seen(
            kind="stdlib",
            provider="Python 2",
            how=f"Python 2's standard library only (Python 3 renamed or removed it); "
            f"the chosen Python is {python}",
        )
    elif found.kind == "host":
        how = found.reason.split(": ", 1)[-1]  # "runs inside APP: " is what kind says
        entry = resolve.Seen(kind="host", provider=found.app, how=how)
    elif found.kind == "platform":
        entry = resolve.Seen(kind="platform", provider=found.app, how=found.reason)
    elif key is not None:
        provider = drafts[key].name or key
        how, others = resolve.distribution_how(
            found,
            provider,
            lookups.get(found.module),
            named_in=str(drafts[key].origins[0]) if drafts[key].origins else "",
        )
        entry = resolve.Seen(kind="distribution", provider=provider, how=how, alternatives=others)
    else:
        entry = resolve.Seen(kind="unresolved", how=found.reason)
    seen[found.module] = entry


def _unfound_reason(module: str, reason: str, looked_up: Found) -> str:
    """The reason an import stays unresolved after the PyPI look-up."""
    if looked_up.note:
        return f"{reason}; {looked_up.note}"
    asked = len(looked_up.tried)
    return (
        f"no known distribution provides {module!r}, and none of the {asked} PyPI "
        "projects named like it ships it by the code's date (see the candidates tried)"
    )


def _resolve(
    found: mapping.Mapped,
    module: str,
    drafts: dict[str, RequirementDraft],
    aliases: dict[str, str],
    hints: dict[str, list[_Parsed]],
    promoted: set[str],
    conflicts: list[str],
    providers: Sequence[str] | None = None,
) -> str | None:
    """The requirement an import path belongs to (creating or promoting it), or None.
    ``providers``: the distributions a PyPI look-up found, when the data knows none."""
    top = module.split(".")[0]
    if providers is not None:
        candidates: Sequence[str] = providers
    else:
        candidates = mapping.providers(module) if found.kind == "dist" else ()
    key = _declared_for(drafts, aliases, candidates, top)
    if key is None:
        key = _hint_for(hints, candidates, top)
        if key is not None and key not in promoted:
            promoted.add(key)
            hinted = _combine(hints[key], HINT_RANK, conflicts, declared=False)
            hinted.optional = True  # required only once a needed import uses it
            where = ", ".join(str(p.decl.origin) for p in hints[key][:2])
            hinted.reasons.append(f"named in {where}")
            drafts[key] = hinted
    if key is None and found.kind == "dist":
        key = canonicalize_name(found.dist)
        drafts.setdefault(key, RequirementDraft(name=found.dist))
    return key


_AFFIXES = ("python-{}", "py{}", "{}-python", "py-{}", "{}-py", "python{}")


def same_project(dist_key: str, module_top: str) -> bool:
    """A declared distribution that, by its name, provides an unmapped import: ``foo`` or
    ``python-foo`` for ``import foo``. Used only to corroborate, never to add."""
    top = canonicalize_name(module_top)
    return dist_key == top or any(dist_key == a.format(top) for a in _AFFIXES)


def _declared_for(
    drafts: dict[str, RequirementDraft],
    aliases: dict[str, str],
    candidates: Sequence[str],
    top: str,
) -> str | None:
    for cand in candidates:
        if canonicalize_name(cand) in drafts:
            return str(canonicalize_name(cand))
    for key in drafts:
        if same_project(key, top):
            return key
    for alias, key in aliases.items():
        if same_project(alias, top):
            return key
    return None


def _hint_for(hints: dict[str, list[_Parsed]], candidates: Sequence[str], top: str) -> str | None:
    keys: list[str] = [canonicalize_name(c) for c in candidates]
    found = [
        k
        for k, entries in hints.items()
        if k in keys
        or same_project(k, top)
        or any(e.url and same_project(url_name(e.url), top) for e in entries)
    ]
    if not found:
        return None
    # the strongest hint kind names it; then the order of the providers
    return min(
        found,
        key=lambda k: (
            min(HINT_RANK.get(p.decl.origin.kind, 99) for p in hints[k]),
            keys.index(k) if k in keys else len(keys),
        ),
    )


# --------------------------------------------------------------------------- versions


def compatible(specs: Sequence[str]) -> bool:
    """Whether some version satisfies all of ``specs`` (checked on the versions they name
    and their neighbours: enough to catch ``==1.4`` against ``>=1.6``)."""
    try:
        combined = SpecifierSet(",".join(s for s in specs if s))
    except InvalidSpecifier:
        return True
    candidates: set[Version] = {Version("0")}
    for spec in combined:
        text = spec.version.rstrip("*").rstrip(".")
        try:
            version = Version(text)
        except InvalidVersion:
            return True
        candidates.add(version)
        release = list(version.release)
        shapes = [release, [*release, 1]]
        for i in range(len(release)):
            shapes.append([*release[:i], release[i] + 1])
            if release[i] > 0:
                lower = [*release[:i], release[i] - 1, *release[i + 1 :]]
                shapes += [lower, [*lower, 1], [*release[:i], release[i] - 1, 999]]
        candidates.update(Version(".".join(map(str, shape))) for shape in shapes)
    if not candidates:
        return True
    return any(combined.contains(v, prereleases=True) for v in candidates)

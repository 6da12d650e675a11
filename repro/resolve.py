"""Every import of the code → what provides it, and how repro knows (pure).

An import path is one of (docs/inference.md, "What provides each import"):

- the repository's own module (a file or package of the checkout, or its project name);
- the standard library of the chosen Python, or Python 2's only (``urllib2``,
  ``cPickle``): evidence about the Python, never an unresolved import;
- a module that exists only inside an application (``bpy`` → Blender): the script runs
  there, repro names the application and installs nothing;
- a distribution: from repro's data (import map, curated overrides), from a declared
  requirement that provides it, or found and verified on PyPI (repro/lookup.py);
- unresolved: with the reason and the candidates the look-up refused.

:func:`to_look_up` says which imports the verified look-up may ask PyPI about: never the
repository's own names, the standard library (of either Python), generic names
(``utils``), modules known not to be on PyPI, host applications, nor a module a declared
requirement already provides by its name. repro/merge.py classifies each import as it
merges; :func:`records` turns that into :class:`repro.models.ImportResolution` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from repro import mapping
from repro.lookup import Found
from repro.models import STRONG_KINDS, Evidence, ImportResolution, ImportSite, Origin

LOOKUP_LIMIT = 40  # import paths looked up per repository at most (each: ~7-9 requests)
MAX_ORIGINS = 5


def own_names(evidence: Evidence) -> set[str]:
    """Canonical names of the repository's own modules and of its project."""
    names: set[str] = {canonicalize_name(n) for n in evidence.local_modules}
    names |= {canonicalize_name(h.value) for h in evidence.hints if h.topic == "project-name"}
    return names


def siblings(evidence: Evidence) -> frozenset[tuple[str, str]]:
    """(folder, name) of every module and package of the checkout: a file run as a script
    imports the modules beside it by their bare names, inside a package folder too
    (``sherlock/sherlock.py`` importing ``notify`` from ``sherlock/notify.py``)."""
    out: set[tuple[str, str]] = set()
    for path in evidence.python_paths:
        folder, _, name = path.rpartition("/")
        if name == "__init__.py":
            parent, _, package = folder.rpartition("/")
            out.add((parent, package))
        elif name.endswith(".py"):
            out.add((folder, name[:-3]))
    return frozenset(out)


def is_sibling(site: ImportSite, found: frozenset[tuple[str, str]]) -> bool:
    """Whether ``site`` imports a module that sits beside the importing file."""
    folder = site.origin.path.rpartition("/")[0]
    return (folder, site.module.split(".")[0]) in found


def python2_only(module: str) -> bool:
    """Whether ``module`` is in Python 2's standard library and not in Python 3's."""
    top = module.split(".")[0]
    return top in mapping.stdlib_names(2) and top not in mapping.stdlib_names(3)


def applications(evidence: Evidence) -> frozenset[str]:
    """The applications whose own modules the code imports (``bpy`` → Blender)."""
    apps = set()
    for site in evidence.imports:
        if site.module.split(".")[0] in evidence.local_modules:
            continue
        hosted = mapping.host_application(site.module)
        if hosted is not None:
            apps.add(hosted[1])
    return frozenset(apps)


def dotted_paths(evidence: Evidence, names: Iterable[str]) -> dict[str, list[str]]:
    """For each top-level name to look up, the longer import paths the code uses below
    it (``RPi.GPIO`` for ``RPi``), first few only: projects are often named after them."""
    wanted: dict[str, list[str]] = {n: [] for n in names if "." not in n}
    for site in evidence.imports:
        paths = wanted.get(site.module.split(".")[0])
        if paths is not None and "." in site.module and site.module not in paths[:2]:
            paths.append(site.module)
    wanted = {k: v[:2] for k, v in wanted.items()}
    return {k: v for k, v in wanted.items() if v}


def to_look_up(evidence: Evidence, *, limit: int = LOOKUP_LIMIT) -> tuple[list[str], int]:
    """The import paths to look up on PyPI (first ``limit``, in order of first import), and
    how many more were left out."""
    from repro.merge import same_project  # (merge imports this module)

    own = own_names(evidence)
    stdlib = mapping.stdlib_names(2) | mapping.stdlib_names(3)
    declared = [
        canonicalize_name(d.name)
        for d in evidence.declared
        if d.name and d.origin.kind in (*STRONG_KINDS, "notebook")
    ]
    apps = applications(evidence)
    beside = siblings(evidence)
    out: dict[str, None] = {}
    for site in evidence.imports:
        top = site.module.split(".")[0]
        if top in evidence.local_modules or top in stdlib or canonicalize_name(top) in own:
            continue
        if is_sibling(site, beside):
            continue
        if apps and mapping.shared_host(site.module, apps) is not None:
            continue
        found = mapping.lookup(site.module)
        if found.kind != "unknown" or mapping.is_generic(top) or mapping.system_first(top):
            continue
        if any(same_project(key, top) for key in declared):
            continue
        out.setdefault(found.module)
    names = list(out)
    return names[:limit], max(0, len(names) - limit)


# --------------------------------------------------------------------------- records


@dataclass
class Seen:
    """One classified import path, as repro/merge.py met it."""

    kind: str  # an ImportKind
    provider: str = ""
    how: str = ""
    origins: list[Origin] = field(default_factory=list)
    optional: bool = True
    alternatives: tuple[str, ...] = ()
    tried: tuple[str, ...] = ()

    def add(self, origin: Origin, optional: bool) -> None:
        if len(self.origins) < MAX_ORIGINS and origin not in self.origins:
            self.origins.append(origin)
        self.optional = self.optional and optional


def distribution_how(
    found: mapping.Mapped, provider: str, looked_up: Found | None, named_in: str
) -> tuple[str, tuple[str, ...]]:
    """(how the distribution ``provider`` was found for the import ``found.module``, the
    other providers known); ``named_in``: where the requirement was first named."""
    if looked_up is not None and looked_up.resolved:
        how = looked_up.evidence
        if canonicalize_name(provider) != canonicalize_name(looked_up.dist):
            how = f"{provider} is declared and provides it; {how}"
        return how, looked_up.alternatives
    if found.kind == "dist":
        how = mapping.source_of(found.module)
        others = tuple(
            d
            for d in mapping.providers(found.module)
            if canonicalize_name(d) != canonicalize_name(provider)
        )
        if canonicalize_name(provider) != canonicalize_name(found.dist):
            how = f"the declared {provider} provides it ({how} lists it among the providers)"
        return how, others
    where = f" in {named_in}" if named_in else ""
    return f"{provider} is named{where}, and its name matches the import", ()


def records(
    seen: Mapping[str, Seen], own: Iterable[tuple[str, Origin]]
) -> tuple[ImportResolution, ...]:
    """Every import path classified, own modules included, ordered by kind then name."""
    out: dict[str, Seen] = dict(seen)
    for top, origin in own:
        entry = out.setdefault(top, Seen(kind="own", how="a module of the repository"))
        if entry.kind == "own":
            entry.add(origin, False)
    order = {
        "distribution": 0,
        "system": 1,
        "host": 2,
        "platform": 3,
        "unresolved": 4,
        "stdlib": 5,
        "own": 6,
    }
    return tuple(
        ImportResolution(
            module=module,
            kind=entry.kind,  # type: ignore[arg-type]
            provider=entry.provider,
            how=entry.how,
            origins=tuple(entry.origins),
            optional=entry.optional,
            alternatives=entry.alternatives,
            tried=entry.tried,
        )
        for module, entry in sorted(
            out.items(), key=lambda kv: (order.get(kv[1].kind, 9), kv[0].lower())
        )
    )

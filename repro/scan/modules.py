"""Imports of module paths only some releases ship (pure): ``repro/modpaths.py`` bounds.

``from sklearn.cross_validation import train_test_split`` is an import of a module that
scikit-learn's releases ship up to 0.19 only; it becomes an ``ApiUse`` of the rule
``module-path:scikit-learn:sklearn.cross_validation`` with the bound ``<0.20``, as an API
rule's use would, unless an API rule (data/api_rules.json) already read that line for the
same package. Optional imports (``try``/``except ImportError``, feature flags) and the
repository's own modules bound nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.utils import canonicalize_name

from repro import mapping, modpaths
from repro.models import ApiUse, ImportSite, Origin


def _bound(module: str, known: frozenset[str]) -> tuple[str, modpaths.PathBound] | None:
    """The library an import path belongs to (canonical) and the bound it puts on it."""
    found = mapping.lookup(module)
    if found.kind != "dist" or canonicalize_name(found.dist) not in known:
        return None
    bound = modpaths.lookup(found.dist, module)
    return None if bound is None else (canonicalize_name(found.dist), bound)


def uses(
    sites: Iterable[ImportSite], local: frozenset[str] | set[str], api_uses: Iterable[ApiUse]
) -> list[ApiUse]:
    known = modpaths.libraries()
    if not known:
        return []
    read = {(u.origin.path, u.origin.line, canonicalize_name(u.package)) for u in api_uses}
    out: list[ApiUse] = []
    seen: set[tuple[str, str]] = set()
    bounds: dict[str, tuple[str, modpaths.PathBound] | None] = {}  # module → (dist, bound)
    for site in sites:
        if site.optional or "." not in site.module or site.module.split(".")[0] in local:
            continue
        if site.module not in bounds:
            bounds[site.module] = _bound(site.module, known)
        found = bounds[site.module]
        if found is None:
            continue
        key, bound = found
        if (site.origin.path, site.origin.line, key) in read:
            continue
        if (site.origin.path, bound.rule) in seen:
            continue
        seen.add((site.origin.path, bound.rule))
        cell = site.origin.kind == "notebook"
        origin = Origin(
            kind="api",
            path=site.origin.path,
            line=site.origin.line,
            detail=f"cell {site.origin.line}: {bound.path}" if cell else bound.path,
        )
        out.append(
            ApiUse(
                rule=bound.rule,
                package=bound.library,
                bound=bound.specifier,
                symbol=bound.path,
                origin=origin,
            )
        )
    return out

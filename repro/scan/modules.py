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


def uses(
    sites: Iterable[ImportSite], local: frozenset[str] | set[str], api_uses: Iterable[ApiUse]
) -> list[ApiUse]:
    known = modpaths.libraries()
    if not known:
        return []
    read = {(u.origin.path, u.origin.line, canonicalize_name(u.package)) for u in api_uses}
    out: list[ApiUse] = []
    seen: set[tuple[str, str]] = set()
    for site in sites:
        top = site.module.split(".")[0]
        if site.optional or top in local or "." not in site.module:
            continue
        found = mapping.lookup(site.module)
        if found.kind != "dist" or canonicalize_name(found.dist) not in known:
            continue
        key = canonicalize_name(found.dist)
        if (site.origin.path, site.origin.line, key) in read:
            continue
        bound = modpaths.lookup(found.dist, site.module)
        if bound is None or (site.origin.path, bound.rule) in seen:
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

"""A GPU framework imported only lazily is optional, not a framework of the plan (pure).

A second framework imported inside a function (a logger's optional TensorBoard writer
importing ``tensorflow`` in a torch repository) would otherwise add gigabytes to the
image and move the CUDA base to suit it. When every import of a GPU framework sits in a
function body (or is optional anyway), nothing declares it, and another GPU framework is
imported at module level, it is listed as optional with the places that need it;
``--with NAME`` keeps it. Light optional imports are the import layer's business; GPU
frameworks are the exception because of what they cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from packaging.utils import canonicalize_name

from repro import compat as cdata
from repro import mapping
from repro.errors import UsageError
from repro.merge import RequirementDraft
from repro.models import STRONG_KINDS, Evidence, ImportSite

MAX_SHOWN = 3  # places named in a reason


def demote(
    merged: Sequence[RequirementDraft], evidence: Evidence, python: str, keep: Iterable[str] = ()
) -> tuple[tuple[RequirementDraft, ...], tuple[str, ...]]:
    """The merged requirements with lazily imported GPU frameworks made optional, and a
    note for each. ``keep``: the names given with ``--with`` (a framework or one of its
    distributions), which stay required."""
    data = cdata.load()
    kept = {data.family_of(n) for n in keep}
    sites = _sites_by_family(evidence, python, data)
    declared = {
        data.family_of(m.name)
        for m in merged
        if m.name
        and data.is_gpu_package(m.name)
        and not m.optional
        and any(o.kind in STRONG_KINDS for o in m.origins)
    }
    at_top = {f for f, found in sites.items() if any(_main(s) for s in found)}
    at_top |= declared
    unknown = kept - {data.family_of(m.name) for m in merged if m.name}
    if unknown:
        names = ", ".join(sorted(unknown))
        raise UsageError(
            f"--with {names}: nothing in the repository imports it (--pin NAME adds a "
            "requirement of your own)"
        )
    out: list[RequirementDraft] = []
    notes: list[str] = []
    for item in merged:
        family = data.family_of(item.name) if item.name else ""
        lazy = [s for s in sites.get(family, ()) if not _main(s)]
        if (
            item.optional
            or not item.name
            or not data.is_gpu_package(item.name)
            or family in declared
            or family in at_top
            or family in kept
            or not lazy
            or not (at_top - {family})
        ):
            out.append(item)
            continue
        where = ", ".join(_place(s) for s in lazy[:MAX_SHOWN])
        more = f" and {len(lazy) - MAX_SHOWN} more" if len(lazy) > MAX_SHOWN else ""
        others = ", ".join(sorted(at_top - {family}))
        note = (
            f"{item.name} is imported only inside functions ({where}{more}) while {others} "
            f"is imported at module level: a GPU framework costs gigabytes and moves the CUDA "
            f"base, so it is optional here, needed only on those paths; --with {family} "
            "installs it"
        )
        out.append(dataclasses.replace(item, optional=True, reasons=[*item.reasons, note]))
        notes.append(note)
    return tuple(out), tuple(dict.fromkeys(notes))


def _main(site: ImportSite) -> bool:
    """Imported when its module loads, on a path that always runs."""
    return not site.optional and not site.scope


def _place(site: ImportSite) -> str:
    where = f"{site.origin.path}:{site.origin.line}" if site.origin.line else site.origin.path
    return f"{where} in {site.scope}" if site.scope else where


def _sites_by_family(
    evidence: Evidence, python: str, data: cdata.Compat
) -> dict[str, list[ImportSite]]:
    """The import sites of each GPU framework (family), by the distribution each maps to."""
    dist_of: dict[str, str | None] = {}
    out: dict[str, list[ImportSite]] = {}
    for site in evidence.imports:
        top = site.module.split(".")[0]
        if top in evidence.local_modules:
            continue
        if top not in dist_of:
            found = mapping.lookup(top, python=python)
            dist_of[top] = str(canonicalize_name(found.dist)) if found.kind == "dist" else None
        dist = dist_of[top]
        if dist is not None and data.is_gpu_package(dist):
            out.setdefault(data.family_of(dist), []).append(site)
    return out

"""The manifest (``repro.json``) and ``repro inspect --json``: one schema (pure).

The schema is documented in docs/manifest.md. ``SCHEMA_VERSION`` changes when a field
changes meaning or disappears; new fields may be added without a change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from packaging.utils import canonicalize_name

from repro import __version__
from repro.models import (
    JSON,
    BaseImage,
    BuiltImage,
    Checkout,
    CudaChoice,
    Environment,
    Evidence,
    Plan,
    SmokeResult,
)

SCHEMA_VERSION = 1


def best_effort(env: Environment, lock: Sequence[str] | None) -> list[JSON]:
    """The light optional imports' requirements, each with whether the image has it
    (``installed``: None before a build)."""
    have: set[str] | None = None
    if lock is not None:
        have = {canonicalize_name(line.split("==")[0].strip()) for line in lock if "==" in line}
    return [
        {
            "name": r.name,
            "requirement": r.pip_line(),
            "installed": None if have is None else canonicalize_name(r.name) in have,
            "origins": [o.to_json() for o in r.origins[:3]],
        }
        for r in env.requirements
        if r.layer == "optional"
    ]


def dropped(env: Environment, lock: Sequence[str]) -> list[str]:
    """Warnings for the light optional imports that did not install."""
    return [
        f"optional {item['name']} did not install and was dropped (imported where the code "
        f"runs without it: {', '.join(_where(o) for o in item['origins'])})"
        for item in best_effort(env, lock)
        if item["installed"] is False
    ]


def _where(origin: JSON) -> str:
    return f"{origin['path']}:{origin['line']}" if origin.get("line") else str(origin["path"])


def build_manifest(
    plan: Plan,
    *,
    image: BuiltImage | None = None,
    image_info: Mapping[str, Any] | None = None,
    base_info: Mapping[str, Any] | None = None,
    smoke: SmokeResult | None = None,
    lock: Sequence[str] | None = None,
    system: Mapping[str, Any] | None = None,
    licenses: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, Mapping[str, Any]] | None = None,
    created: dt.datetime | None = None,
    smoke_extra: Mapping[str, Any] | None = None,
    repairs: Sequence[Mapping[str, Any]] | None = None,
    sbom: Mapping[str, Any] | None = None,
) -> JSON:
    """Everything decided (``plan``) and, after a pack, everything measured."""
    checkout = plan.checkout
    env = plan.environment
    base = plan.base
    ev = plan.evidence
    created = created or dt.datetime.now(dt.timezone.utc)
    return {
        "schema_version": SCHEMA_VERSION,
        "repro_version": __version__,
        "created": _iso(created),
        "source": _source_json(checkout),
        "python": {"version": env.python.version, "reasons": list(env.python.reasons)},
        "as_of": env.as_of.isoformat() if env.as_of else None,
        "as_of_reason": env.as_of_reason,
        "as_of_basis": env.as_of_basis,
        "versions": [c.to_json() for c in env.choices],
        "lock_cutoff": env.lock_cutoff.isoformat() if env.lock_cutoff else None,
        "lock_reasons": list(env.lock_reasons),
        "requirements": [r.to_json() for r in env.requirements],
        "unresolved": [u.to_json() for u in env.unresolved],
        "imports": [i.to_json() for i in env.imports],
        "best_effort": best_effort(env, lock),
        "conflicts": list(env.conflicts),
        "vcs": [p.to_json() for p in env.vcs_pins],
        "plan": plan.decision,
        "evidence": _evidence_json(ev),
        "base_image": _base_json(base, base_info or {}),
        "cuda": None if base.cuda is None else _cuda_json(base.cuda),
        "tags": list(plan.tags),
        "labels": dict(plan.labels),
        "smoke": _smoke_json(plan, smoke, smoke_extra or {}),
        "image": None if image is None else {"id": image.id, **dict(image_info or {})},
        "build": None
        if image is None
        else {
            "seconds": round(image.build_seconds, 2),
            "builder": image.builder,
            "code_layer": image.code_layer,
        },
        "lock": None if lock is None else list(lock),
        "system": None if system is None else dict(system),
        "licenses": None if licenses is None else dict(licenses),
        "context": None if plan.context is None else plan.context.to_json(),
        "binder": None if ev.binder is None else ev.binder.to_json(),
        "artifacts": dict(artifacts) if artifacts else None,
        "repairs": [dict(r) for r in repairs or ()],
        "sbom": dict(sbom) if sbom else None,  # the SBOM file (repro/sbom.py, docs/manifest.md)
        "published": [],  # registry pushes, added by repro push (repro/publish.py)
        "warnings": list(plan.warnings),
    }


def _source_json(checkout: Checkout) -> JSON:
    return {
        "spec": checkout.source.spec,
        "url": checkout.source.url,
        "owner": checkout.source.owner,
        "name": checkout.source.name,
        "subdir": checkout.source.subdir,
        "ref": checkout.ref,
        "commit": checkout.commit,
        "commit_date": _iso(checkout.commit_date),
        "code_date": _iso(checkout.code_date) if checkout.code_date else None,
        "history": checkout.history,
    }


def _evidence_json(ev: Evidence) -> JSON:
    """What was read, counted; the API uses and Python hints with where they stand."""
    return {
        "python_files": ev.python_files,
        "notebooks": ev.notebooks,
        "declared": len(ev.declared),
        "imports": len(ev.imports),
        "local_modules": sorted(ev.local_modules),
        "api_uses": [
            {
                "rule": u.rule,
                "package": u.package,
                "bound": u.bound,
                "symbol": u.symbol,
                "origin": u.origin.to_json(),
            }
            for u in ev.api_uses
        ],
        "python_hints": [
            {"specifier": h.specifier, "strength": h.strength, "origin": h.origin.to_json()}
            for h in ev.python_hints
        ],
    }


def _base_json(base: BaseImage, base_info: Mapping[str, Any]) -> JSON:
    return {
        "name": base.name,
        "id": base_info.get("id"),
        "digest": base_info.get("digest"),
        "python": base.python,
        "python_source": base.python_source,
        "gpu": base.gpu,
        "variant": base.variant,
        "reasons": list(base.reasons),
    }


def _cuda_json(cuda: CudaChoice) -> JSON:
    return {
        "cuda": cuda.cuda,
        "cudnn": cuda.cudnn,
        "flavour": cuda.flavour,
        "min_driver": cuda.min_driver,
        "torch_index_url": cuda.torch_index_url,
        "ubuntu": cuda.ubuntu,
        "fallback": cuda.fallback,
        "requirements": dict(cuda.requirements),
        "index_urls": list(cuda.index_urls),
        "find_links": list(cuda.find_links),
        "host_driver": cuda.host_driver,
        "driver_ok": cuda.driver_ok,
        "arch_ok": cuda.arch_ok,
        "reasons": list(cuda.reasons),
    }


def _smoke_json(plan: Plan, smoke: SmokeResult | None, smoke_extra: Mapping[str, Any]) -> JSON:
    """The smoke test's result after a pack; before one, its command and candidates."""
    smoke_json: JSON = {
        "command": list(plan.smoke.argv),
        "kind": plan.smoke.kind,
        "reason": plan.smoke.reason,
    }
    if smoke is not None:
        smoke_json = smoke.to_json()
    elif plan.smoke_plan is not None:
        smoke_json["candidates"] = [
            {"kind": c.kind, "command": list(c.argv), "reason": c.reason}
            for c in plan.smoke_plan.candidates
        ]
    smoke_json.update(smoke_extra)
    return smoke_json


def _iso(when: dt.datetime) -> str:
    return (
        when.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )

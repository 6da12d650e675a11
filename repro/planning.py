"""Planning: from a scanned checkout (and the repairs so far) to a plan, without git,
Docker or network (the release histories come in as an index).

:func:`decide` chooses the environment (``infer``, with the repairs applied), the base image
(``base_image``) and the smoke strategies (``smoke.discover``); when no base image fits the
Python inference chose, it tries the next Python the evidence allows. :func:`assemble`
then makes the rest of the :class:`~repro.models.Plan`: the recipe the Dockerfile is
rendered from (:func:`recipe`), the image's tags (:func:`tags`) and labels (:func:`labels`),
and the warnings shown before the build (:func:`warnings`). ``pipeline.plan_for`` calls
the two in turn.

To change how images are tagged or labelled, edit :func:`tags` or :func:`labels`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement as PReq
from packaging.utils import canonicalize_name

from repro import (
    __version__,
    base_image,
    build_stages,
    infer,
    planner,
    repair,
    system_modules,
    vcs,
    versions,
)
from repro import dockerfile as df
from repro.models import (
    JSON,
    LABEL_MANAGED,
    BaseImage,
    BuildContext,
    Checkout,
    Environment,
    ExportSettings,
    Plan,
    Prepared,
    PythonChoice,
    Requirement,
    Scanned,
    SmokeCommand,
    SmokePlan,
    Wheel,
)
from repro.repair import Change
from repro.repair import build as repair_build
from repro.report import human_bytes
from repro.smoke.discover import discover as discover_smoke

if TYPE_CHECKING:
    from repro.lookup import Found
    from repro.releases import ReleaseIndex


def decide(
    scanned: Scanned,
    releases: ReleaseIndex,
    changes: tuple[Change, ...],
    *,
    lookups: Mapping[str, Found] | None = None,
    vcs_resolve: vcs.Resolve | None = None,
) -> tuple[Environment, BaseImage, SmokePlan, planner.Planned]:
    """The environment, base image and smoke plan, with the repairs applied; and the
    planner's answer (its ladder, what it gave up). Inference runs once; the planner
    chooses the Python and base image together (repro/planner.py). ``releases``: the
    release histories versions are chosen from (``pipeline.plan_for`` makes the index,
    prefetched); ``lookups``: what the PyPI look-up of unmapped imports found
    (``projects.look_up``); ``vcs_resolve``: how a VCS requirement's branch is read
    (``fetch.branch_as_of``; None: VCS requirements are left as written)."""
    checkout, evidence = scanned.checkout, scanned.evidence
    found = scanned.wheels
    python_change = repair.python_change(changes)
    settings, base_settings = scanned.settings.infer, scanned.settings.base
    if python_change is not None:
        settings = dataclasses.replace(settings, python=python_change.target)
        base_settings = dataclasses.replace(base_settings, python=python_change.target)
    environment = infer.infer(
        evidence,
        settings,
        commit_date=checkout.commit_date,
        wheelhouse=[w for w, _ in found],
        releases=releases,
        code_date=checkout.code_date,
        history=checkout.history,
        source_url=checkout.source.url,
        lookups=lookups,
    )
    if python_change is not None:
        environment = repair.with_python(environment, python_change)
    environment = repair.apply_changes(
        environment,
        changes,
        wheelhouse_versions(found, environment.python.version),
        _dated(releases, environment),
    )
    environment = repair_build.without_cutoff(environment, changes)
    if vcs_resolve is not None and environment.as_of is not None:
        environment = vcs.pin(environment, environment.as_of, vcs_resolve)
    wheel_names = frozenset(
        canonicalize_name(w.name) for w, _ in found if w.supports(environment.python.version)
    )

    def retarget(env: Environment, python: str, why: str) -> Environment:
        return infer.for_python(env, PythonChoice(version=python, reasons=(why,)), releases)

    planned = planner.plan(
        environment,
        base_settings,
        evidence=evidence,
        host=scanned.host_gpu,
        wheelhouse_names=wheel_names,
        retarget=retarget,
        image=scanned.given if base_settings.base_image else None,
    )
    environment = planned.environment
    if planned.warnings:
        environment = dataclasses.replace(
            environment, warnings=(*environment.warnings, *planned.warnings)
        )
    # modules the base image's distribution ships (gi, dbus): known once the base is
    environment = system_modules.apply(environment, planned.base, evidence)
    missing = frozenset(u.module for u in environment.unresolved)
    hosted = {i.module: i.provider for i in environment.imports if i.kind == "host"}
    platforms = {i.module: i.provider for i in environment.imports if i.kind == "platform"}
    smoke_plan = discover_smoke(
        evidence,
        scanned.settings.smoke,
        environment.python.version,
        checkout.path,
        missing=missing,
        hosted=hosted,
        platforms=platforms,
    )
    environment = with_smoke_requirements(environment, smoke_plan)
    return environment, planned.base, smoke_plan, planned


def decision(planned: planner.Planned, scanned: Scanned) -> JSON:
    """The manifest's ``plan``: the planner's ladder, and what a --base-image holds."""
    doc = planned.to_json()
    if scanned.given is not None and scanned.settings.base.base_image:
        doc["image"] = scanned.given.to_json()
    return doc


def _dated(index: ReleaseIndex, environment: Environment) -> repair.Dated:
    """The newest release of a package fitting a specifier, before the lock cutoff."""

    def pick(name: str, specifier: str) -> str | None:
        history = index.get(name)
        if history is None:
            return None
        found = versions.newest(
            history, specifier, before=environment.lock_cutoff, python=environment.python.version
        )
        return found.version if found else None

    return pick


def assemble(
    scanned: Scanned,
    environment: Environment,
    base: BaseImage,
    smoke_plan: SmokePlan,
    smoke: SmokeCommand,
    *,
    buildkit: bool,
    system_packages: tuple[str, ...] = (),
    build_packages: tuple[str, ...] = (),
    cutoff_exemptions: tuple[str, ...] = (),
    built_with: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
    notes: tuple[str, ...] = (),
    created: dt.datetime,
    cache_namespace: str = "",
    decision: JSON | None = None,
) -> Prepared:
    """The plan of the decided ``environment``, ``base`` and ``smoke_plan`` (``smoke``: the
    strategy tried first), with the files and wheels its build context needs; ``notes``:
    warnings of the stages before (the PyPI look-up of unmapped imports). A build repair's
    ``build_packages`` join the system layer; ``cutoff_exemptions`` (``NAME=DATE``) let a
    package it moved past the lock's cutoff through; ``built_with`` (requirements to
    install first, packages to build without isolation) answers a build script that
    imports what it does not declare."""
    checkout, evidence = scanned.checkout, scanned.evidence
    python = environment.python.version
    wheels = usable_wheels(scanned.wheels, python)
    made = recipe(
        checkout.source.url,
        checkout.commit,
        environment,
        base,
        frozenset(canonicalize_name(w.name) for w, _ in wheels),
        bool(wheels),
        buildkit,
        any(p.startswith("src/") for p in evidence.python_paths),
        system_packages,
    )
    plan_stages = build_stages.plan_stages(base, evidence)
    made = dataclasses.replace(
        made,
        runtime_base=plan_stages.runtime_base,
        runtime_reason=plan_stages.reason,
        build_extensions=plan_stages.build_extensions,
        cache_namespace=cache_namespace,
        build_packages=build_packages,
        exclude_newer_packages=cutoff_exemptions,
        build_first=built_with[0],
        no_build_isolation=built_with[1],
    )
    if evidence.binder is not None:
        made = df.with_binder(made, evidence.binder)
    rendered = df.render(made)
    plan = Plan(
        checkout=checkout,
        evidence=evidence,
        environment=environment,
        base=base,
        smoke=smoke,
        dockerfile=rendered.dockerfile,
        tags=tags(checkout, base, scanned.settings.export),
        labels=labels(checkout, environment, base, smoke, created=created),
        warnings=warnings(scanned, environment, base, notes),
        smoke_plan=smoke_plan,
        context=scanned.context,
        decision=decision,
        code_layer=rendered.code_layer,
    )
    return Prepared(plan=plan, files=rendered.files, wheels=tuple(p for _, p in wheels))


def tags(checkout: Checkout, base: BaseImage, settings: ExportSettings) -> tuple[str, ...]:
    """``repro/<slug>:<short sha>``, the same with the base's variant, then ``--tag``s."""
    repo = f"repro/{checkout.source.slug}"
    return (
        f"{repo}:{checkout.short_sha}",
        f"{repo}:{checkout.short_sha}-{base.variant}",
        *settings.tags,
    )


def labels(
    checkout: Checkout,
    environment: Environment,
    base: BaseImage,
    smoke: SmokeCommand,
    *,
    created: dt.datetime,
) -> dict[str, str]:
    """The image's OCI labels and repro's own (``repro verify`` and ``run`` read them)."""
    when = created.astimezone(dt.timezone.utc).replace(microsecond=0)
    return {
        "org.opencontainers.image.source": checkout.source.url,
        "org.opencontainers.image.revision": checkout.commit,
        "org.opencontainers.image.created": when.isoformat().replace("+00:00", "Z"),
        "org.opencontainers.image.title": checkout.source.name,
        "io.github.repro.version": __version__,
        "io.github.repro.python": environment.python.version,
        "io.github.repro.variant": base.variant,
        "io.github.repro.smoke": json.dumps(list(smoke.argv)),
        "io.github.repro.lock-cutoff": environment.lock_cutoff.isoformat()
        if environment.lock_cutoff
        else "",
        LABEL_MANAGED: "image",
    }


def warnings(
    scanned: Scanned, environment: Environment, base: BaseImage, notes: Sequence[str] = ()
) -> tuple[str, ...]:
    """Every stage's warnings, in pipeline order (shown before the build)."""
    large = context_warning(scanned.context) if scanned.context else ""
    return (
        *scanned.checkout.warnings,
        *scanned.evidence.warnings,
        *environment.warnings,
        *notes,
        *environment.conflicts,
        *base.warnings,
        *((large,) if large else ()),
    )


def context_warning(context: BuildContext, *, shown: int = 5) -> str:
    """One line naming the large files and their sizes ("" when there are none)."""
    if not context.large:
        return ""
    items = sorted(context.large, key=lambda f: -f.bytes)
    names = ", ".join(f"{f.path} ({human_bytes(f.bytes)})" for f in items[:shown])
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    total = human_bytes(sum(f.bytes for f in items))
    if context.large_kept:
        return f"large data/checkpoint files kept in the image ({total}): {names}{more}"
    return (
        f"large data/checkpoint files left out of the image ({total}; --keep-large-files "
        f"keeps them): {names}{more}"
    )


def usable_wheels(
    found: Sequence[tuple[Wheel, Path]], python: str
) -> tuple[tuple[Wheel, Path], ...]:
    """The ``--find-links`` wheels that install on ``python``."""
    return tuple((w, p) for w, p in found if w.supports(python))


def wheelhouse_versions(found: Sequence[tuple[Wheel, Path]], python: str) -> dict[str, list[str]]:
    """Canonical name → the versions the wheelhouse has of it for ``python``."""
    out: dict[str, list[str]] = {}
    for wheel, _ in usable_wheels(found, python):
        out.setdefault(canonicalize_name(wheel.name), []).append(wheel.version)
    return out


def with_smoke_requirements(environment: Environment, plan: SmokePlan) -> Environment:
    """The environment with what the smoke strategies need to run (pytest, nbclient)."""
    have = environment.names()
    extra = []
    commands = [*plan.candidates, *([plan.notebooks] if plan.notebooks else [])]
    for command in commands:
        for text in command.extra_requirements:
            req = PReq(text)
            if canonicalize_name(req.name) in have:
                continue
            have.add(canonicalize_name(req.name))
            extra.append(
                Requirement(
                    name=req.name,
                    specifier=str(req.specifier),
                    layer="smoke",
                    reasons=(f"runs the smoke test ({command.kind})",),
                )
            )
    if not extra:
        return environment
    return dataclasses.replace(environment, requirements=(*environment.requirements, *extra))


def recipe(
    url: str,
    commit: str,
    environment: Environment,
    base: BaseImage,
    wheel_names: frozenset[str],
    wheelhouse: bool,
    buildkit: bool,
    src_layout: bool,
    system_packages: tuple[str, ...] = (),
) -> df.Recipe:
    """What the Dockerfile installs, and from where (``dockerfile.render`` writes it)."""
    needed = [r for r in environment.requirements if not r.optional]
    # On a GPU base the frameworks install as the base image chose them (CUDA build, index).
    chosen = base_image.framework_lines(base) if base.gpu else base_image.cpu_lines(environment)
    line = {id(r): chosen.get(canonicalize_name(r.name), r.pip_line()) for r in needed}
    # an empty line: the base image's choice installs it under another name
    framework = tuple(line[id(r)] for r in needed if r.layer == "framework" and line[id(r)])
    rest = tuple(line[id(r)] for r in needed if r.layer != "framework" and line[id(r)])
    optional = tuple(r.pip_line() for r in environment.requirements if r.layer == "optional")
    find_links: tuple[str, ...] = ()
    if base.gpu and base.cuda is not None:
        framework_indexes: tuple[str, ...] = base.cuda.index_urls
        find_links = base.cuda.find_links
    elif not base.gpu:
        framework_indexes = base_image.cpu_index_urls(environment, wheel_names)
    else:
        framework_indexes = ()
    python_path = (df.APP_DIR, f"{df.APP_DIR}/src") if src_layout else (df.APP_DIR,)
    libraries, libraries_why = system_modules.library_packages(environment, base)
    return df.Recipe(
        base=base,
        source_url=url,
        commit=commit,
        framework_requirements=framework,
        requirements=rest,
        optional_requirements=optional,
        framework_index_urls=framework_indexes,
        framework_find_links=find_links,
        index_urls=environment.index_urls,
        wheelhouse=wheelhouse,
        python_path=python_path,
        buildkit=buildkit,
        installer=versions.installer_for(environment.python.version),
        system_packages=(*system_modules.packages(environment), *libraries),
        libraries_from=libraries_why,
        system_site=system_modules.site_dir(base.python)
        if system_modules.packages(environment)
        else "",
        exclude_newer=f"{environment.lock_cutoff.isoformat()}T00:00:00Z"
        if environment.lock_cutoff
        else "",
        date_constraints=environment.date_constraints,
        runtime_packages=system_packages,
    )

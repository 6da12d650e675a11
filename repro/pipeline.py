"""Orchestration only: run the stages in order and hand each one the values it needs.

fetch → scan → infer → base image → smoke discovery → plan           (``prepare``)
→ build → image facts → smoke run ⟲ repair → export                 (``pack``)

Every decision lives in a stage module (docs/architecture.md): ``planning`` makes the
recipe, tags, labels and warnings; ``probe`` asks the engine and the image; ``repair``
reads failures and says what to change (``repair.explain``: what repro says when it
stops); ``export`` writes the artifact.

``pack`` makes its engine (finds a BuildKit client) in a background thread while the
engine-independent stages run (clone, scan, release-date look-ups, inference); the
default engine connects its docker SDK only while BuildKit builds, and the release-date
look-ups run in parallel (docs/performance.md, "Work that overlaps", "Start-up").
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from repro import (
    build,
    cache,
    config,
    export,
    fetch,
    fetching,
    given_image,
    hostgpu,
    infer,
    planning,
    probe,
    projects,
    pypi,
    repair,
    repairing,
    smoke,
    vcs,
)
from repro.engine import DockerEngine, Engine
from repro.engine import connect as engine_connect
from repro.models import (
    Checkout,
    ExportSettings,
    GivenImage,
    HostGpu,
    Options,
    PackResult,
    Prepared,
    Scanned,
    Settings,
    Source,
)
from repro.pack_loop import PackLoop, Passed
from repro.repair import Change, ReleasesFor, Round
from repro.repair import build as repair_build
from repro.repair.build import History
from repro.report import Reporter
from repro.scan import scan
from repro.scan.binder import summary as binder_summary


def prepare(
    source: Source,
    options: Options,
    workdir: Path,
    reporter: Reporter,
    *,
    buildkit: bool | Callable[[], bool] = True,
    probe_gpu: Callable[[], HostGpu | None] = hostgpu.probe,
    memory: Path | None = None,
) -> Prepared:
    """Everything up to the Dockerfile: no engine needed. ``memory``: a folder on a memory
    file system (``scratch.memory_scratch``) that a small checkout is extracted into rather
    than ``workdir``: for commands that only read it, never for a build context."""
    checkout = fetching.fetch_checkout(source, workdir, reporter, memory=memory)
    return plan_for(
        scan_checkout(checkout, options, reporter, probe_gpu=probe_gpu), reporter, buildkit=buildkit
    )


def scan_checkout(
    checkout: Checkout,
    options: Options,
    reporter: Reporter,
    *,
    probe_gpu: Callable[[], HostGpu | None] = hostgpu.probe,
    probe_image: Callable[[str], GivenImage] | None = None,
) -> Scanned:
    """Read the checkout (with its ``[tool.repro]`` settings merged into ``options``);
    ``probe_gpu`` reads the host's NVIDIA driver (when there is one) for the GPU base
    image's driver check; ``probe_image`` reads what a ``--base-image`` holds (default: on
    the local engine; without an engine the plan is for the Python inferred, with a
    warning)."""
    table, table_source = config.read_repo_config(checkout.path)
    options = config.with_repo_settings(options, table, table_source)

    reporter.stage("scan", f"{checkout.path.name}")
    evidence = scan(checkout.path)
    reporter.info(
        f"{evidence.python_files} Python file(s), {evidence.notebooks} notebook(s), "
        f"{len(evidence.declared)} declared requirement(s), {len(evidence.imports)} import(s)"
    )
    if evidence.binder is not None:
        reporter.info(binder_summary(evidence.binder))

    host_gpu = None if options.cpu or options.base_image else probe_gpu()
    given = None
    if options.base_image:
        reporter.stage("probe", options.base_image)
        given = probe.base_image_given(options.base_image, probe_image, reporter)
    context = build.survey_context(checkout.path, keep_large=options.keep_large_files)
    return Scanned(
        checkout=checkout,
        evidence=evidence,
        options=options,
        settings=Settings.of(options),
        host_gpu=host_gpu,
        context=context,
        wheels=tuple(build.find_wheels(options.find_links)),
        given=given,
    )


def plan_for(
    scanned: Scanned,
    reporter: Reporter,
    *,
    buildkit: bool | Callable[[], bool] = True,
    changes: tuple[Change, ...] = (),
    vcs_resolve: vcs.Resolve | None = fetch.branch_as_of,
) -> Prepared:
    """Decide everything for a scanned checkout, with the smoke test's repairs applied.

    ``buildkit`` may be a callable (``pack`` passes one that waits for the engine being
    connected in the background): it is asked only when the Dockerfile is rendered.
    ``vcs_resolve`` reads the branch a VCS requirement names (``pack`` passes one that
    reads each branch once for all its rounds).
    """
    if not changes:
        reporter.stage("infer")
    checkout, evidence = scanned.checkout, scanned.evidence
    as_of, _ = infer.as_of_date(scanned.settings.infer, checkout.commit_date, checkout.code_date)
    releases = pypi.PyPIIndex(as_of=as_of)
    releases.prefetch(infer.likely_packages(evidence))
    lookups, lookup_notes = projects.look_up(evidence, as_of=as_of)
    environment, base, smoke_plan, planned = planning.decide(
        scanned, releases, changes, lookups=lookups, vcs_resolve=vcs_resolve
    )
    if not changes:
        if len(planned.ladder) > 1 or planned.gave_up:  # each rung climbed is said
            for rung in planned.ladder:
                reporter.info(f"plan: {rung.line()}")
        reporter.info(f"Python {environment.python.version}, base image {base.name}")
    return planning.assemble(
        scanned,
        environment,
        base,
        smoke_plan,
        smoke.first_command(smoke_plan),
        buildkit=buildkit() if callable(buildkit) else buildkit,
        system_packages=repair.system_packages(changes),
        build_packages=repair_build.build_packages(changes, environment.python.version),
        cutoff_exemptions=repair_build.cutoff_exemptions(changes),
        built_with=repair_build.built_with(changes),
        notes=tuple(lookup_notes),
        created=dt.datetime.now(dt.timezone.utc),
        cache_namespace=cache.build_namespace(),
        decision=planning.decision(planned, scanned),
    )


# --------------------------------------------------------------------------- pack


def pack(
    source: Source,
    options: Options,
    reporter: Reporter,
    *,
    engine_factory: Callable[[], Engine] = DockerEngine.deferred,
    releases: ReleasesFor | None = None,
    probe_gpu: Callable[[], HostGpu | None] = hostgpu.probe,
    build_history: History | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> PackResult:
    """Fetch, build, smoke-test (repairing the plan up to ``options.max_repairs`` times),
    export: :func:`pack_fetched` of the commit ``source`` names."""
    engine = engine_connect(engine_factory)  # overlaps with clone, scan and inference
    with fetching.fetched(source, reporter) as got:
        return pack_fetched(
            got,
            options,
            reporter,
            engine=engine,
            releases=releases,
            probe_gpu=probe_gpu,
            build_history=build_history,
            pause=pause,
        )


def pack_fetched(
    got: fetching.Fetched,
    options: Options,
    reporter: Reporter,
    *,
    engine: Callable[[], Engine],
    releases: ReleasesFor | None = None,
    probe_gpu: Callable[[], HostGpu | None] = hostgpu.probe,
    build_history: History | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> PackResult:
    """Build, smoke-test (repairing the plan up to ``options.max_repairs`` times), export;
    ``engine`` waits for the engine ``engine.connect`` is making.

    A failed build goes through the same loop as a failed smoke test (docs/build-repair.md):
    its log is diagnosed, and a failure repro can fix changes the plan. ``build_history``:
    release histories with their wheels (PyPI's unless given); ``pause`` waits before a
    build is retried after a network error."""
    scanned = scan_checkout(
        got.checkout,
        options,
        reporter,
        probe_gpu=probe_gpu,
        probe_image=lambda name: given_image.probe(engine(), name),
    )
    vcs_resolve = functools.cache(fetch.branch_as_of)  # each branch read once, for all rounds

    def plan(changes: tuple[Change, ...]) -> Prepared:  # a round's plan, its repairs applied
        return plan_for(
            scanned,
            reporter,
            buildkit=lambda: engine().buildkit,
            changes=changes,
            vcs_resolve=vcs_resolve,
        )

    loop = PackLoop(
        scanned=scanned,
        plan=plan,
        engine=engine,
        workdir=got.workdir,
        reporter=reporter,
        repairs=repairing.Repairs(limit=scanned.options.max_repairs),
        history=build_history,
        releases=releases,
        pause=pause,
    )
    passed = loop.run()
    try:
        got.remove_workspace()
        return export_passed(passed, scanned.settings.export, loop.repairs.rounds, reporter)
    except BaseException:
        if passed.prefetch is not None:  # what it wrote ahead goes (the export's own did)
            passed.prefetch.stop()
        raise


def export_passed(
    passed: Passed, settings: ExportSettings, repairs: Sequence[Round], reporter: Reporter
) -> PackResult:
    """Write the artifact of the image that passed (the prefetch finished first)."""
    plan, docker, image, tested = passed.plan, passed.engine, passed.image, passed.tested
    dest = export.artifact_path(settings.out, plan.checkout)
    reporter.stage("export", str(dest))
    pending, made = None, None
    if passed.prefetch is not None:
        passed.prefetch.finish()
        pending = passed.prefetch.pending  # its files written already, unless that failed
        made = passed.prefetch.made()
    if pending is None:
        pending = export.PendingImage(dest, docker, image.id, plan.tags, oci=settings.oci)
    result = export.write(
        dest,
        docker,
        plan,
        image,
        base_info=passed.base_info,
        facts=passed.facts,
        smoke=tested.result if tested else None,
        smoke_extra=tested.to_json() if tested else {},
        repairs=repairs,
        pending=pending,
        made=made,
    )
    said = pending.layers_said(
        passed.prefetch.gathered if passed.prefetch else None,
        laid=str((image.code_layer or {}).get("diff_id") or ""),
    )
    if said:
        reporter.info(said)
    return result

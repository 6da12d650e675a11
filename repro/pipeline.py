"""Orchestration only: run the stages in order and hand each one the values it needs.

fetch → scan → infer → base image → smoke discovery → Dockerfile     (``plan``)
→ build → lock → smoke run → artifact                                   (``pack``)

``pack`` makes its engine (finds a BuildKit client) in a background thread while the
engine-independent stages run (clone, scan, release-date look-ups, inference); the
default engine connects its docker SDK only while BuildKit builds, and the release-date
look-ups run in parallel (docs/performance.md, "Work that overlaps", "Start-up").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

from packaging.utils import canonicalize_name

from repro import (
    __version__,
    artifact,
    base_image,
    build,
    cache,
    config,
    faults,
    fetch,
    hostgpu,
    infer,
    projects,
    pypi,
    repair,
    signals,
    smoke,
    stages,
    stale,
    sweep,
    versions,
)
from repro import dockerfile as df
from repro.engine import LABEL_MANAGED, DockerEngine, Engine, ImageInfo, RunLimits
from repro.errors import BuildError, EngineError, InferenceError, SmokeFailure
from repro.manifest import build_manifest
from repro.models import (
    JSON,
    BaseImage,
    BuildContext,
    BuiltImage,
    Checkout,
    Environment,
    Evidence,
    HostGpu,
    Options,
    Plan,
    Requirement,
    SmokePlan,
    SmokeResult,
)
from repro.repair import Change, ReleasesFor
from repro.scan import scan
from repro.scan.binder import summary as binder_summary


class Reporter(Protocol):
    def stage(self, name: str, detail: str = "") -> None: ...
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def log(self, line: str) -> None: ...


class QuietReporter:
    """A reporter that drops everything (library use, tests)."""

    def stage(self, name: str, detail: str = "") -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def log(self, line: str) -> None:
        pass


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A plan plus what the build needs beyond it (files for the context, wheels)."""

    plan: Plan
    files: dict[str, str]
    wheels: tuple[Path, ...]


@dataclass(frozen=True, kw_only=True)
class PackResult:
    plan: Plan
    image: BuiltImage
    smoke: SmokeResult | None
    artifact_dir: Path
    manifest: JSON
    repairs: tuple[JSON, ...] = ()  # one per repair round (manifest "repairs")


@dataclass(frozen=True, kw_only=True)
class Scanned:
    """A checkout, read: what every planning round starts from."""

    checkout: Checkout
    evidence: Evidence
    options: Options  # with the repository's [tool.repro] settings merged in
    host_gpu: HostGpu | None = None  # the host's NVIDIA driver, when it has one
    context: BuildContext | None = None  # what of the checkout goes to the builder


def workspace() -> AbstractContextManager[Path]:
    """The run's scratch folder in ``$TMPDIR``, removed at the end (even on a signal);
    first, what killed runs left there and in the memory file system is removed."""
    stale.remove_abandoned(Path(tempfile.gettempdir()), stale.TEMP_PREFIXES)
    if (memory := _memory_fs()) is not None:
        stale.remove_abandoned(Path(memory), stale.TEMP_PREFIXES)
    return stale.private_dir("repro")


@contextmanager
def memory_scratch() -> Iterator[Path | None]:
    """A private folder on a memory file system (``/dev/shm``, tmpfs), removed at the end;
    None where there is none. ``repro inspect`` extracts a small checkout there: its files
    are only read, and on disk writing and removing thousands of them cost more than the
    reading (docs/performance.md, "Inspect")."""
    base = _memory_fs()
    # named first and made inside the ``try``: no signal falls between making and guarding
    path = None if base is None else Path(base) / stale.owned_name("repro")
    try:
        if path is not None:
            try:
                path.mkdir(mode=0o700)
            except OSError:
                path = None
        yield path
    finally:
        if path is not None:
            with signals.deferred():
                shutil.rmtree(path, ignore_errors=True)


def _memory_fs(mounts: Path = Path("/proc/self/mounts")) -> str | None:
    """``/dev/shm`` when it is a tmpfs this process may write to, else None."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "/dev/shm" and fields[2] == "tmpfs":
            return "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None
    return None


def prepare(
    spec: str,
    options: Options,
    workdir: Path,
    reporter: Reporter,
    *,
    buildkit: bool | Callable[[], bool] = True,
    probe_gpu: Callable[[], HostGpu | None] = hostgpu.probe,
    memory: Path | None = None,
) -> Prepared:
    """Everything up to the Dockerfile: no engine needed. ``memory``: see
    :func:`fetch_and_scan`."""
    scanned = fetch_and_scan(spec, options, workdir, reporter, probe_gpu=probe_gpu, memory=memory)
    return plan_for(scanned, reporter, buildkit=buildkit)


def fetch_and_scan(
    spec: str,
    options: Options,
    workdir: Path,
    reporter: Reporter,
    *,
    probe_gpu: Callable[[], HostGpu | None] = hostgpu.probe,
    memory: Path | None = None,
) -> Scanned:
    """Fetch and read the checkout; ``probe_gpu`` reads the host's NVIDIA driver (when
    there is one) for the GPU base image's driver check. With ``memory``
    (:func:`memory_scratch`), a small checkout is extracted there rather than into
    ``workdir``: for commands that only read it, never for a build context."""
    source = fetch.parse_source(spec, options.ref)
    reporter.stage("fetch", source.url)
    checkout = fetch.fetch(source, workdir, memory=memory)
    reporter.info(f"commit {checkout.commit[:12]} ({checkout.commit_date:%Y-%m-%d})")
    for warning in checkout.warnings:
        reporter.warn(warning)
    table, table_source = config.read_repo_config(checkout.path)
    options = config.merge(options, table, table_source)

    reporter.stage("scan", f"{checkout.path.name}")
    evidence = scan(checkout.path)
    reporter.info(
        f"{evidence.python_files} Python file(s), {evidence.notebooks} notebook(s), "
        f"{len(evidence.declared)} declared requirement(s), {len(evidence.imports)} import(s)"
    )
    if evidence.binder is not None:
        reporter.info(binder_summary(evidence.binder))

    host_gpu = None if options.cpu or options.base_image else probe_gpu()
    context = build.survey_context(checkout.path, keep_large=options.keep_large_files)
    return Scanned(
        checkout=checkout, evidence=evidence, options=options, host_gpu=host_gpu, context=context
    )


def plan_for(
    scanned: Scanned,
    reporter: Reporter,
    *,
    buildkit: bool | Callable[[], bool] = True,
    changes: tuple[Change, ...] = (),
) -> Prepared:
    """Decide everything for a scanned checkout, with the smoke test's repairs applied.

    ``buildkit`` may be a callable (``pack`` passes one that waits for the engine being
    connected in the background): it is asked only when the Dockerfile is rendered.
    """
    checkout, evidence, options = scanned.checkout, scanned.evidence, scanned.options
    if not changes:
        reporter.stage("infer")
    found = build.find_wheels(options.find_links)
    as_of, _ = infer.as_of_date(options, checkout.commit_date, checkout.code_date)
    releases = pypi.PyPIIndex(as_of=as_of)
    releases.prefetch(infer.likely_packages(evidence))
    lookups, lookup_notes = projects.look_up(evidence, as_of=as_of)
    python_change = repair.python_change(changes)
    if python_change is not None:
        options = dataclasses.replace(options, python=python_change.target)
    # Python is chosen before the base image. When no base image fits that Python alone
    # (e.g. CUDA 10.1's stand-in images have Python 3.6/3.7 only) and nobody fixed the
    # Python, the next Python the evidence allows is tried, in infer's own order.
    may_move = options.python is None and not options.base_image
    avoid: dict[str, str] = {}
    first_error: InferenceError | None = None
    while True:
        environment = infer.infer(
            evidence,
            options,
            commit_date=checkout.commit_date,
            wheelhouse=[w for w, _ in found],
            releases=releases,
            avoid_python=avoid,
            code_date=checkout.code_date,
            source_url=checkout.source.url,
            lookups=lookups,
        )
        if python_change is not None:
            environment = repair.with_python(environment, python_change)
        environment = repair.apply_changes(
            environment,
            changes,
            _wheelhouse_versions(found, environment.python.version),
            _dated(releases, environment),
        )
        missing = frozenset(u.module for u in environment.unresolved)
        hosted = {i.module: i.provider for i in environment.imports if i.kind == "host"}
        smoke_plan = smoke.discover(
            evidence,
            options,
            environment.python.version,
            checkout.path,
            missing=missing,
            hosted=hosted,
        )
        smoke_cmd = smoke.first_command(smoke_plan)
        environment = _with_smoke_requirements(environment, smoke_plan)
        wheel_names = frozenset(
            canonicalize_name(w.name) for w, _ in found if w.supports(environment.python.version)
        )
        python = environment.python.version
        if first_error is not None and python in avoid:  # no other Python left to try
            raise first_error
        try:
            base = base_image.select(
                environment,
                options,
                wheelhouse_names=wheel_names,
                evidence=evidence,
                host=scanned.host_gpu,
            )
        except InferenceError as exc:
            if not may_move:
                raise
            first_error = first_error or exc
            avoid[python] = f"no GPU base image fits it ({_dead_end_why(exc)})"
            continue
        break
    if avoid and not changes:
        moved = ", ".join(avoid)
        reporter.info(f"no GPU base image fits Python {moved}: Python {python} instead")
    if not changes:
        reporter.info(f"Python {environment.python.version}, base image {base.name}")

    wheels = tuple(p for w, p in found if w.supports(environment.python.version))
    src_layout = any(p.startswith("src/") for p in evidence.python_paths)
    recipe = _recipe(
        checkout.source.url,
        checkout.commit,
        environment,
        base,
        options,
        wheel_names,
        bool(wheels),
        buildkit() if callable(buildkit) else buildkit,
        src_layout,
        repair.system_packages(changes),
    )
    plan_stages = stages.plan_stages(base, evidence)
    recipe = dataclasses.replace(
        recipe,
        runtime_base=plan_stages.runtime_base,
        runtime_reason=plan_stages.reason,
        build_extensions=plan_stages.build_extensions,
        cache_namespace=cache.build_namespace(),
    )
    if evidence.binder is not None:
        recipe = df.with_binder(recipe, evidence.binder)
    rendered = df.render(recipe)
    repo = f"repro/{checkout.source.slug}"
    tags = (
        f"{repo}:{checkout.short_sha}",
        f"{repo}:{checkout.short_sha}-{base.variant}",
        *options.tags,
    )
    labels = {
        "org.opencontainers.image.source": checkout.source.url,
        "org.opencontainers.image.revision": checkout.commit,
        "org.opencontainers.image.created": _now_iso(),
        "org.opencontainers.image.title": checkout.source.name,
        "io.github.repro.version": __version__,
        "io.github.repro.python": environment.python.version,
        "io.github.repro.variant": base.variant,
        "io.github.repro.smoke": json.dumps(list(smoke_cmd.argv)),
        "io.github.repro.lock-cutoff": environment.lock_cutoff.isoformat()
        if environment.lock_cutoff
        else "",
        LABEL_MANAGED: "image",
    }
    large = build.context_warning(scanned.context) if scanned.context else ""
    warnings = (
        *checkout.warnings,
        *evidence.warnings,
        *environment.warnings,
        *lookup_notes,
        *environment.conflicts,
        *base.warnings,
        *((large,) if large else ()),
    )
    plan = Plan(
        checkout=checkout,
        evidence=evidence,
        environment=environment,
        base=base,
        smoke=smoke_cmd,
        dockerfile=rendered.dockerfile,
        tags=tags,
        labels=labels,
        warnings=tuple(warnings),
        smoke_plan=smoke_plan,
        context=scanned.context,
    )
    return Prepared(plan=plan, files=rendered.files, wheels=wheels)


def _dead_end_why(exc: InferenceError) -> str:
    """The reasons of a base-image dead end, on one line."""
    lines = [ln.removeprefix("- ").strip() for ln in exc.detail.splitlines() if ln.strip()]
    if lines:
        return "; ".join(lines[:2])
    return exc.message.partition(": ")[2] or exc.message


def _dated(index: pypi.ReleaseIndex, environment: Environment) -> repair.Dated:
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


def _wheelhouse_versions(
    found: list[tuple[infer.Wheel, Path]], python: str
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for wheel, _ in found:
        if wheel.supports(python):
            out.setdefault(canonicalize_name(wheel.name), []).append(wheel.version)
    return out


def _with_smoke_requirements(environment: Environment, plan: SmokePlan) -> Environment:
    from packaging.requirements import Requirement as PReq

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


def _recipe(
    url: str,
    commit: str,
    environment: Environment,
    base: BaseImage,
    options: Options,
    wheel_names: frozenset[str],
    wheelhouse: bool,
    buildkit: bool,
    src_layout: bool,
    system_packages: tuple[str, ...] = (),
) -> df.Recipe:
    needed = [r for r in environment.requirements if not r.optional]
    # On a GPU base the frameworks install as the base image chose them (CUDA build, index).
    chosen = base_image.framework_lines(base) if base.gpu else base_image.cpu_lines(environment)
    line = {id(r): chosen.get(canonicalize_name(r.name), r.pip_line()) for r in needed}
    # an empty line: the base image's choice installs it under another name
    framework = tuple(line[id(r)] for r in needed if r.layer == "framework" and line[id(r)])
    rest = tuple(line[id(r)] for r in needed if r.layer != "framework" and line[id(r)])
    find_links: tuple[str, ...] = ()
    if base.gpu and base.cuda is not None:
        framework_indexes: tuple[str, ...] = base.cuda.index_urls
        find_links = base.cuda.find_links
    elif not base.gpu:
        framework_indexes = base_image.cpu_index_urls(environment, wheel_names)
    else:
        framework_indexes = ()
    python_path = (df.APP_DIR, f"{df.APP_DIR}/src") if src_layout else (df.APP_DIR,)
    return df.Recipe(
        base=base,
        source_url=url,
        commit=commit,
        framework_requirements=framework,
        requirements=rest,
        framework_index_urls=framework_indexes,
        framework_find_links=find_links,
        index_urls=environment.index_urls,
        wheelhouse=wheelhouse,
        python_path=python_path,
        buildkit=buildkit,
        installer=versions.installer_for(environment.python.version),
        exclude_newer=f"{environment.lock_cutoff.isoformat()}T00:00:00Z"
        if environment.lock_cutoff
        else "",
        date_constraints=environment.date_constraints,
        runtime_packages=system_packages,
    )


def _now_iso() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


# --------------------------------------------------------------------------- pack


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    """What the smoke test's repair reads from a built image."""

    lock: tuple[str, ...]
    modules: dict[str, str]  # top-level module → distribution
    os_codename: str
    os_release: tuple[tuple[str, str], ...] = ()  # (id, version_id, version_codename) pairs
    system: tuple[tuple[str, str, str], ...] = ()  # dpkg: (name, version, architecture)
    # declared licences: canonical distribution name / dpkg package name → licence names
    python_licenses: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    system_licenses: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    @property
    def installed(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in self.lock:
            name, sep, version = line.partition("==")
            if sep:
                out[canonicalize_name(name)] = version.strip()
        return out


def artifact_path(out: Path, checkout: Checkout) -> Path:
    """Where ``pack`` writes the artifact of a checkout: ``OUT/<owner>-<name>-<short sha>``."""
    return out / f"{checkout.source.slug}-{checkout.short_sha}"


def pack(
    spec: str,
    options: Options,
    reporter: Reporter,
    *,
    engine_factory: Callable[[], Engine] = DockerEngine.deferred,
    releases: ReleasesFor | None = None,
    probe_gpu: Callable[[], HostGpu | None] = hostgpu.probe,
) -> PackResult:
    """Build, smoke-test (repairing the plan up to ``options.max_repairs`` times), export."""
    # Making the engine (finding a BuildKit client) overlaps with clone, scan and inference.
    connecting = _in_background(engine_factory)
    with workspace() as workdir:
        scanned = fetch_and_scan(spec, options, workdir, reporter, probe_gpu=probe_gpu)
        options = scanned.options
        changes: tuple[Change, ...] = ()
        rounds: list[JSON] = []
        superseded: list[str] = []
        while True:
            prepared = plan_for(
                scanned, reporter, buildkit=lambda: connecting.result().buildkit, changes=changes
            )
            engine = connecting.result()
            plan = prepared.plan
            if not rounds:
                for warning in plan.warnings:
                    reporter.warn(warning)
            base_info = _ensure_base_images(engine, plan, reporter)
            reporter.stage("build", plan.tags[0])
            context = build.prepare_context(
                workdir, plan.dockerfile, prepared.files, prepared.wheels, plan.context
            )
            try:
                image, notes = build.build(
                    engine,
                    context,
                    tags=plan.tags,
                    labels=plan.labels,
                    options=options,
                    on_line=reporter.log,
                )
            except BuildError as exc:
                if not rounds:
                    raise
                raise _repair_broke_build(exc, plan, rounds) from exc
            if not rounds:
                for note in notes:
                    reporter.info(note)
            reporter.info(f"built {image.id[:19]} in {image.build_seconds:.1f} s ({image.builder})")
            _remove_superseded(engine, superseded, keep=image.id)
            sweep.dead_runs(engine)  # containers of killed runs: their images are free then
            sweep.untagged_images(engine, plan.checkout.source.url, keep=image.id)  # re-packs
            facts = _image_facts(engine, image.id)
            smoke_plan = plan.smoke_plan or SmokePlan(candidates=())
            if not smoke_plan.candidates:
                result: SmokeResult | None = None
                smoke_extra: JSON = {}
                break
            # GPUs only when the engine has them, the host driver can start the image and
            # the torch build has kernels for the host's GPUs
            driver_ok = plan.base.cuda is None or plan.base.cuda.driver_ok is not False
            arch_ok = plan.base.cuda is None or plan.base.cuda.arch_ok is not False
            gpu = plan.base.gpu and driver_ok and arch_ok and engine.gpu_available()
            runner = smoke.Runner(
                engine=engine, image=image.id, gpu=gpu, timeout=options.smoke_timeout
            )
            reporter.stage("smoke", smoke.first_command(smoke_plan).kind)
            if plan.base.gpu and not gpu:
                if not driver_ok:
                    why = "the host driver is too old"
                elif not arch_ok:
                    why = "the torch build has no kernels for the host's GPU (see the reasons)"
                else:
                    why = "no GPU on this engine"
                reporter.info(f"{why}: the smoke test runs on the CPU")
            outcome = dataclasses.replace(
                smoke.execute(runner, smoke_plan, info=reporter.info),
                gpu_fallback=plan.base.gpu and not gpu,
            )
            main = outcome.main
            result = main.result if main is not None else None
            if outcome.passed and result is not None:
                smoke_extra = smoke.outcome_json(outcome, runner)
                verdict = f"smoke test passed ({main.command.kind if main else ''})"
                reporter.info(f"{verdict} in {result.seconds:.1f} s")
                break
            failure = outcome.failure
            assert failure is not None
            failing = outcome.failing
            if failing is not None and failing.result is not None:
                for line in failing.result.log_tail.splitlines():
                    reporter.log(line)
            pythons = _pythons(engine) if failure.kind == "wrong-python" else ()
            history = releases or _release_history(
                pypi.PyPIIndex(as_of=plan.environment.lock_cutoff or dt.date.today()),
                plan.environment.python.version,
            )
            context_ = _repair_context(plan, scanned, facts, changes, history, pythons, outcome)
            proposal = (
                repair.propose(failure, context_)
                if failure.fixable
                else repair.Proposal(diagnosis=repair.diagnose(failure, context_))
            )
            if proposal.changes and len(rounds) < options.max_repairs:
                number = len(rounds) + 1
                reporter.stage(f"repair {number}/{options.max_repairs}", failure.summary())
                for change in proposal.changes:
                    reporter.info(change.describe())
                rounds.append(_round_json(number, failure, proposal.changes, image, outcome))
                changes = (*changes, *proposal.changes)
                superseded.append(image.id)
                continue
            raise _smoke_failure(plan, outcome, failure, proposal, rounds, options.max_repairs)

    info = engine.image_info(plan.tags[0])
    image_json = (
        {"tags": list(plan.tags), "size": info.size, "labels": dict(info.labels)} if info else {}
    )
    base_json = (
        {
            "id": base_info.id,
            "digest": base_info.repo_digests[0] if base_info.repo_digests else None,
        }
        if base_info
        else None
    )
    dest = artifact_path(options.out, plan.checkout)
    reporter.stage("export", str(dest))
    faults.checkpoint("export.start")

    created = dt.datetime.now(dt.timezone.utc)

    # Imported here, not at the top: the SBOM library alone takes ~0.1 s to import, which
    # `repro inspect` and the time until the image is built need not pay.
    from repro import publish, sbom

    system, licenses = _system_json(facts), _licenses_json(facts)
    sbom_summary = sbom.summary(facts.lock, system, licenses)

    def manifest_for(artifacts: object) -> JSON:
        return build_manifest(
            plan,
            image=image,
            image_info=image_json,
            base_info=base_json,
            smoke=result,
            lock=facts.lock,
            system=system,
            licenses=licenses,
            artifacts=artifacts,  # type: ignore[arg-type]
            smoke_extra=smoke_extra,
            repairs=rounds,
            created=created,
            sbom=sbom_summary,
        )

    artifact.write(
        dest,
        engine=engine,
        refs=list(plan.tags),
        dockerfile=plan.dockerfile,
        manifest_for=manifest_for,
        extra_files=publish.artifact_files(manifest_for(None)),  # SBOM, PAPER.md
    )
    manifest = json.loads((dest / artifact.MANIFEST).read_text())
    return PackResult(
        plan=plan,
        image=image,
        smoke=result,
        artifact_dir=dest,
        manifest=manifest,
        repairs=tuple(rounds),
    )


def _ensure_base_images(engine: Engine, plan: Plan, reporter: Reporter) -> ImageInfo | None:
    """Every image the Dockerfile starts from is on the engine, pulled if need be, before
    the build: a missing one is one line naming it and why, not a failed build step.
    Returns what the engine knows of the base image."""
    found: dict[str, ImageInfo] = {}
    for ref in df.external_images(plan.dockerfile):
        info = engine.image_info(ref)
        if info is not None:
            found[ref] = info
            continue
        reporter.info(f"base image {ref} is not on this engine: pulling it")
        try:
            engine.pull(ref)
        except EngineError as exc:
            reason = exc.message.removeprefix(f"cannot pull {ref}: ")
            raise BuildError(
                f"base image {ref} is not on this engine and cannot be pulled: {reason}",
                step=f"FROM {ref}",
                hint=_missing_base_hint(engine, plan, ref),
            ) from exc
    return found.get(plan.base.name) or engine.image_info(plan.base.name)


def _missing_base_hint(engine: Engine, plan: Plan, ref: str) -> str:
    python = plan.environment.python.version
    major, minor = (int(p) for p in python.split("."))
    here = [v for v in _local_pythons(engine) if v.split(".")[0] == str(major) and v != python]
    choices = []
    if ref == _python_image(python) and here:
        # the nearest Python with a base here, the older one on a tie
        near = min(here, key=lambda v: (abs(int(v.split(".")[1]) - minor), int(v.split(".")[1])))
        local = ", ".join(_python_image(v) for v in here)
        choices.append(f"--python {near} uses a base image this engine has ({local})")
    choices += [
        f"docker pull {ref} where a registry is reachable, or make a local stand-in "
        "(scripts/standin-images.sh, docs/standins.md)",
        "--base-image IMAGE names another base",
    ]
    return "; ".join(choices)


def _python_image(python: str) -> str:
    """The CPU base image of a Python (``python:3.11-slim``), as base_image names it."""
    return base_image.compat().python_image.format(python=python)


def _known_pythons() -> tuple[str, ...]:
    """Every Python repro knows, oldest first."""
    return tuple(sorted(infer.python_releases(), key=lambda v: tuple(int(p) for p in v.split("."))))


def _local_pythons(engine: Engine) -> tuple[str, ...]:
    """The Pythons whose CPU base image this engine has."""
    return tuple(v for v in _known_pythons() if engine.image_info(_python_image(v)) is not None)


def _release_history(index: pypi.ReleaseIndex, python: str) -> ReleasesFor:
    """Releases of a package that install on ``python``, from issue-4's release index."""

    def releases(dist: str) -> list[repair.Release]:
        history = index.get(dist)
        if history is None:
            return []
        return [
            repair.Release(
                version=r.version,
                requires_python=r.requires_python,
                yanked=r.yanked,
                uploaded=r.date.isoformat(),
            )
            for r in history.releases
            if r.supports(python)
        ]

    return releases


def _in_background(factory: Callable[[], Engine]) -> Future[Engine]:
    """Start ``factory`` in a thread of its own; its errors surface at ``result()``."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="repro-engine")
    try:
        return pool.submit(factory)
    finally:
        pool.shutdown(wait=False)  # the task runs on; the thread ends with it


def _image_facts(engine: Engine, image: str) -> ImageFacts:
    """The lock, installed modules and OS release of a built image (one short run)."""
    script = resources.files("repro.data").joinpath("image_facts.py").read_text("utf-8")
    result = engine.run(image, ["python", "-c", script], RunLimits(timeout=120))
    try:
        doc = json.loads(result.output.strip().splitlines()[-1]) if result.exit_code == 0 else {}
    except (ValueError, IndexError):
        doc = {}
    if not doc:  # no Python on PATH as expected: the lock file alone
        plain = engine.run(image, ["cat", "/opt/repro/lock.txt"], RunLimits(timeout=60))
        lines = plain.output.splitlines() if plain.exit_code == 0 else []
        doc = {"lock": [ln.strip() for ln in lines if ln.strip()]}
    return ImageFacts(
        lock=tuple(str(x) for x in doc.get("lock", [])),
        modules={str(k): str(v) for k, v in (doc.get("modules") or {}).items()},
        os_codename=str((doc.get("os") or {}).get("version_codename", "")),
        os_release=tuple(sorted((str(k), str(v)) for k, v in (doc.get("os") or {}).items())),
        system=tuple(
            (str(p[0]), str(p[1]), str(p[2]))
            for p in doc.get("system") or []
            if isinstance(p, list) and len(p) == 3
        ),
        python_licenses=_licenses(doc, "python", canonicalize_name),
        system_licenses=_licenses(doc, "system", str),
    )


def _licenses(doc: JSON, kind: str, key: Callable[[str], str]) -> dict[str, tuple[str, ...]]:
    """``licenses.<kind>`` of the image's answer: package → licence names, as strings, at
    most 20 names of 200 characters each (the answer comes from packages' own metadata)."""
    section = doc.get("licenses")
    found = section.get(kind) if isinstance(section, dict) else None
    if not isinstance(found, dict):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, names in found.items():
        if isinstance(names, list) and names:
            out[key(str(name))] = tuple(str(n)[:200] for n in names[:20])
    return dict(sorted(out.items()))


def _licenses_json(facts: ImageFacts) -> JSON:
    """The manifest's ``licenses``: what each installed package declares."""
    return {
        "python": {k: list(v) for k, v in facts.python_licenses.items()},
        "system": {k: list(v) for k, v in facts.system_licenses.items()},
    }


def _system_json(facts: ImageFacts) -> JSON:
    """The manifest's ``system``: the image's OS release and its installed system packages."""
    return {
        "os": dict(facts.os_release),
        "packages": [{"name": n, "version": v, "arch": a} for n, v, a in facts.system],
    }


def _remove_superseded(engine: Engine, images: list[str], *, keep: str) -> None:
    """Images of earlier repair rounds: untagged now, removed so they do not pile up."""
    while images:
        old = images.pop()
        if old == keep:
            continue
        with suppress(EngineError):
            engine.remove_image(old)


def _pythons(engine: Engine) -> tuple[str, ...]:
    """Pythons a repair may switch to: those with a base image here, else all repro knows."""
    return _local_pythons(engine) or _known_pythons()


def _repair_context(
    plan: Plan,
    scanned: Scanned,
    facts: ImageFacts,
    changes: tuple[Change, ...],
    history: ReleasesFor,
    pythons: tuple[str, ...],
    outcome: smoke.Outcome,
) -> repair.Context:
    wheel_versions = _wheelhouse_versions(
        build.find_wheels(scanned.options.find_links), plan.environment.python.version
    )

    def releases(dist: str) -> list[repair.Release]:
        known = list(history(dist))
        have = {r.version for r in known}
        for version in wheel_versions.get(canonicalize_name(dist), []):
            if version not in have:
                known.append(repair.Release(version=version))
        return known

    return repair.Context(
        python=plan.environment.python.version,
        requirements=plan.environment.requirements,
        installed=facts.installed,
        module_dists=facts.modules,
        local_modules=scanned.evidence.local_modules,
        os_codename=facts.os_codename,
        releases=releases,
        pythons=pythons,
        previous=changes,
        checkout=scanned.checkout.path,
        gpu_fallback=outcome.gpu_fallback,
    )


def _round_json(
    number: int,
    failure: repair.Failure,
    changes: tuple[Change, ...],
    image: BuiltImage,
    outcome: smoke.Outcome,
) -> JSON:
    attempt = outcome.failing
    return {
        "round": number,
        "image": image.id,
        "smoke": {
            "kind": attempt.command.kind if attempt else "",
            "command": list(attempt.command.argv) if attempt else [],
            "exit_code": attempt.result.exit_code if attempt and attempt.result else None,
            "note": attempt.note if attempt else "",
        },
        "failure": failure.to_json(),
        "changes": [c.to_json() for c in changes],
    }


def _rounds_text(rounds: list[JSON]) -> str:
    lines = []
    for r in rounds:
        changed = "; ".join(f"{c['action']} {c['target']}{c['specifier']}" for c in r["changes"])
        lines.append(f"repair {r['round']}: {r['failure']['line']} → {changed}")
    return "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _repair_broke_build(exc: BuildError, plan: Plan, rounds: list[JSON]) -> BuildError:
    last = rounds[-1]
    changed = "; ".join(f"{c['action']} {c['target']}{c['specifier']}" for c in last["changes"])
    return BuildError(
        f"the image build failed after repair {last['round']} ({changed}): {exc.message}",
        step=exc.step,
        log_tail="\n".join(filter(None, [_rounds_text(rounds), exc.log_tail])),
        hint=f"the image of the round before is kept for a look: repro shell {plan.tags[0]}",
    )


def _smoke_failure(
    plan: Plan,
    outcome: smoke.Outcome,
    failure: repair.Failure,
    proposal: repair.Proposal,
    rounds: list[JSON],
    max_repairs: int,
) -> SmokeFailure:
    attempt = outcome.failing
    result = attempt.result if attempt else None
    why = (
        "timed out"
        if result is not None and result.timed_out
        else f"exit {result.exit_code if result else '?'}"
    )
    if proposal.changes:  # repro knew what to do next, but the rounds ran out
        message = (
            f"{failure.summary()} — still failing after {len(rounds)} repair round(s) "
            f"(--max-repairs {max_repairs}); next would be: {proposal.changes[0].describe()}"
        )
        hint = "raise --max-repairs, or make that change yourself (--pin, --python)"
    else:
        diagnosis = proposal.diagnosis or repair.diagnose(failure, repair.Context(python=""))
        message, hint = diagnosis.message, diagnosis.hint
    lines = []
    if attempt is not None:
        lines.append(f"ran ({attempt.command.kind}): {_shorten(attempt.command.display(), 160)}")
        targets = result.targets if result else ()
        for t in [t for t in targets if t.status == "failed"][:8]:
            lines.append(f"  failed    {t.target}: {_shorten(t.reason, 160)}")
        for t in attempt.excluded[:5]:
            lines.append(f"  left out  {t.target}: {_shorten(t.reason, 160)}")
    rounds_text = _rounds_text(rounds)
    detail = "\n".join(filter(None, [*lines, rounds_text]))
    keep = f"the image is kept for a look: repro shell {plan.tags[0]}"
    return SmokeFailure(
        f"smoke test failed ({why}): {message}",
        detail=detail,
        hint=f"{hint}; {keep}" if hint else keep,
    )

"""Orchestration only: run the stages in order and hand each one the values it needs.

fetch → scan → infer → base image → smoke discovery → Dockerfile     (``plan``)
→ build → lock → smoke run → artifact                                   (``pack``)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.utils import canonicalize_name

from repro import (
    __version__,
    artifact,
    base_image,
    build,
    config,
    fetch,
    infer,
    pypi,
    smoke,
    versions,
)
from repro import dockerfile as df
from repro.engine import LABEL_MANAGED, DockerEngine, Engine
from repro.errors import SmokeFailure
from repro.manifest import build_manifest
from repro.models import (
    JSON,
    BaseImage,
    BuiltImage,
    Environment,
    Options,
    Plan,
    Requirement,
    SmokeCommand,
    SmokeResult,
)
from repro.scan import scan


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


@contextmanager
def workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="repro-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def prepare(
    spec: str, options: Options, workdir: Path, reporter: Reporter, *, buildkit: bool = True
) -> Prepared:
    """Everything up to the Dockerfile: no engine needed."""
    source = fetch.parse_source(spec, options.ref)
    reporter.stage("fetch", source.url)
    checkout = fetch.fetch(source, workdir)
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

    reporter.stage("infer")
    found = build.find_wheels(options.find_links)
    releases = pypi.PyPIIndex(as_of=options.as_of or checkout.commit_date.date())
    environment = infer.infer(
        evidence,
        options,
        commit_date=checkout.commit_date,
        wheelhouse=[w for w, _ in found],
        releases=releases,
    )
    smoke_cmd = smoke.discover(evidence, options, environment.python.version)
    environment = _with_smoke_requirements(environment, smoke_cmd)
    wheel_names = frozenset(
        canonicalize_name(w.name) for w, _ in found if w.supports(environment.python.version)
    )
    base = base_image.select(environment, options, wheelhouse_names=wheel_names)
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
        buildkit,
        src_layout,
    )
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
    warnings = (
        *checkout.warnings,
        *evidence.warnings,
        *environment.warnings,
        *environment.conflicts,
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
    )
    return Prepared(plan=plan, files=rendered.files, wheels=wheels)


def _with_smoke_requirements(environment: Environment, command: SmokeCommand) -> Environment:
    have = environment.names()
    extra = []
    for text in command.extra_requirements:
        from packaging.requirements import Requirement as PReq

        req = PReq(text)
        if canonicalize_name(req.name) in have:
            continue
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
) -> df.Recipe:
    needed = [r for r in environment.requirements if not r.optional]
    framework = tuple(r.pip_line() for r in needed if r.layer == "framework")
    rest = tuple(r.pip_line() for r in needed if r.layer != "framework")
    if base.gpu and base.cuda is not None and base.cuda.torch_index_url:
        framework_indexes: tuple[str, ...] = (base.cuda.torch_index_url,)
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
        index_urls=environment.index_urls,
        wheelhouse=wheelhouse,
        python_path=python_path,
        buildkit=buildkit,
        installer=versions.installer_for(environment.python.version),
        exclude_newer=f"{environment.lock_cutoff.isoformat()}T00:00:00Z"
        if environment.lock_cutoff
        else "",
        date_constraints=environment.date_constraints,
    )


def _now_iso() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


# --------------------------------------------------------------------------- pack


def pack(
    spec: str,
    options: Options,
    reporter: Reporter,
    *,
    engine_factory: Callable[[], Engine] = DockerEngine,
) -> PackResult:
    engine = engine_factory()  # fail fast, before cloning, when no engine answers
    with workspace() as workdir:
        prepared = prepare(spec, options, workdir, reporter, buildkit=engine.buildkit)
        plan = prepared.plan
        for warning in plan.warnings:
            reporter.warn(warning)
        base_info = engine.image_info(plan.base.name)
        if base_info is None:
            reporter.warn(
                f"base image {plan.base.name} is not on this engine: the build will pull it"
            )

        reporter.stage("build", plan.tags[0])
        context = build.prepare_context(workdir, plan.dockerfile, prepared.files, prepared.wheels)
        image, notes = build.build(
            engine,
            context,
            tags=plan.tags,
            labels=plan.labels,
            options=options,
            on_line=reporter.log,
        )
        for note in notes:
            reporter.info(note)
        reporter.info(f"built {image.id[:19]} in {image.build_seconds:.1f} s ({image.builder})")

    lock = _read_lock(engine, plan.tags[0])
    result: SmokeResult | None = None
    if plan.smoke.kind != "none":
        gpu = plan.base.gpu and engine.gpu_available()
        reporter.stage("smoke", plan.smoke.display())
        if plan.base.gpu and not gpu:
            reporter.info("no GPU on this engine: the smoke test runs on the CPU")
        result = smoke.run(engine, plan.tags[0], plan.smoke, gpu=gpu, timeout=options.smoke_timeout)
        verdict = "passed" if result.passed else "FAILED"
        reporter.info(f"smoke test {verdict} in {result.seconds:.1f} s (exit {result.exit_code})")
        if not result.passed:
            raise _smoke_failure(plan, result)

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
    dest = options.out / f"{plan.checkout.source.slug}-{plan.checkout.short_sha}"
    reporter.stage("export", str(dest))

    def manifest_for(artifacts: object) -> JSON:
        return build_manifest(
            plan,
            image=image,
            image_info=image_json,
            base_info=base_json,
            smoke=result,
            lock=lock,
            artifacts=artifacts,  # type: ignore[arg-type]
        )

    artifact.write(
        dest,
        engine=engine,
        refs=list(plan.tags),
        dockerfile=plan.dockerfile,
        manifest_for=manifest_for,
    )
    manifest = json.loads((dest / artifact.MANIFEST).read_text())
    return PackResult(plan=plan, image=image, smoke=result, artifact_dir=dest, manifest=manifest)


def _read_lock(engine: Engine, image: str) -> tuple[str, ...]:
    from repro.engine import RunLimits

    result = engine.run(image, ["cat", "/opt/repro/lock.txt"], RunLimits(timeout=60))
    if result.exit_code != 0:
        return ()
    return tuple(line.strip() for line in result.output.splitlines() if line.strip())


def _smoke_failure(plan: Plan, result: SmokeResult) -> SmokeFailure:
    lines = [ln for ln in result.log_tail.splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else "no output"
    why = "timed out" if result.timed_out else f"exit {result.exit_code}"
    return SmokeFailure(
        f"smoke test failed ({why}): {last[:200]}",
        detail=result.log_tail,
        hint=f"the image is kept for a look: docker run -it --rm {plan.tags[0]} bash",
    )

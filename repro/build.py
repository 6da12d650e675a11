"""Plan → image: lay out the build context, hand secrets to BuildKit, build.

The context holds only what the image needs: the Dockerfile, repro's small files under
``.repro/``, the wheelhouse (when given) and the repository's committed files under
``src/`` (``git archive``: no ``.git``, nothing ignored, nothing uncommitted). Large data
and checkpoint files are left out by default (:func:`survey_context`), through a
``.dockerignore`` so that neither builder sends them. Credentials (a CA bundle, a pip
configuration with index tokens) are passed as BuildKit secrets: mounted for the install
steps only, never written into a layer.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import io
import os
import shutil
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from repro import codelayer, stale
from repro.blobstore import BlobStore
from repro.dockerfile import CONTEXT_DIR, SECRET_CA, SECRET_PIPCONF, SOURCE_DIR
from repro.engine import Engine, LogSink
from repro.errors import EngineError, ReproError, UsageError
from repro.models import (
    BuildContext,
    BuildSettings,
    BuiltImage,
    ContextFile,
    Plan,
    Prepared,
    Wheel,
)
from repro.report import Reporter

CA_ENV_VARS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")

# What counts as a large data or checkpoint file (docs/performance.md, "Build context"):
# a file with one of these suffixes, or any file inside a folder with one of these names,
# larger than DATA_FILE_BYTES; and any file at all larger than LARGE_FILE_BYTES. Small
# fixtures (a 20 kB .npy a test loads) stay: they are not what makes images heavy.
DATA_SUFFIXES = (
    ".pt", ".pth", ".ckpt", ".h5", ".hdf5", ".npy", ".npz", ".tar", ".tar.gz", ".tgz",
    ".zip", ".7z", ".safetensors", ".onnx", ".pb", ".pkl", ".pickle", ".joblib", ".bin",
    ".parquet", ".feather", ".arrow", ".tfrecord", ".tfrecords", ".mat", ".lmdb", ".mdb",
    ".msgpack", ".caffemodel", ".params", ".weights",
)  # fmt: skip
DATA_DIRS = frozenset(
    {"data", "dataset", "datasets", "checkpoint", "checkpoints", "ckpt", "ckpts", "weights",
     "pretrained", "pretrained_models", "runs", "outputs", "logs", "wandb", "mlruns"}
)  # fmt: skip
CODE_SUFFIXES = (".py", ".pyx", ".pxd", ".c", ".cc", ".cpp", ".h", ".hpp", ".cu", ".cuh", ".sh")
DATA_FILE_BYTES = 1_000_000  # SI units, as sizes are shown
LARGE_FILE_BYTES = 50_000_000
DOCKERIGNORE = ".dockerignore"


def survey_context(src: Path, *, keep_large: bool = False) -> BuildContext:
    """Walk the checkout once: what goes into the build context, and the large files.

    Large data and checkpoint files are listed (path, size, why); unless ``keep_large``,
    :func:`prepare_context` leaves them out of the context.
    """
    files = 0
    total = 0
    large: list[ContextFile] = []
    top = str(src)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        prefix = "" if dirpath == top else dirpath[len(top) + 1 :] + "/"
        for name in sorted(filenames):
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            size = 0 if stat.S_ISLNK(st.st_mode) else st.st_size
            rel = prefix + name
            reason = _large_reason(rel, size)
            if reason:
                large.append(ContextFile(path=rel, bytes=size, reason=reason))
                if not keep_large:
                    continue
            files += 1
            total += size
    return BuildContext(files=files, bytes=total, large=tuple(large), large_kept=keep_large)


def _large_reason(rel: str, size: int) -> str:
    if size > LARGE_FILE_BYTES:
        return f"over {LARGE_FILE_BYTES // 1_000_000} MB"
    if size <= DATA_FILE_BYTES:
        return ""
    lower = rel.lower()
    suffix = next((s for s in DATA_SUFFIXES if lower.endswith(s)), "")
    if suffix:
        return f"checkpoint or data file ({suffix})"
    folder = next((d for d in rel.split("/")[:-1] if d.lower() in DATA_DIRS), "")
    if folder and not lower.endswith(CODE_SUFFIXES):
        return f"in a data or output folder ({folder}/)"
    return ""


def find_wheels(dirs: Iterable[Path]) -> list[tuple[Wheel, Path]]:
    """Wheel files in ``--find-links`` folders, with the names and versions they carry."""
    found: list[tuple[Wheel, Path]] = []
    for directory in dirs:
        if not directory.is_dir():
            raise UsageError(f"--find-links {directory}: not a directory")
        for path in sorted(directory.glob("*.whl")):
            try:
                name, version, _, tags = parse_wheel_filename(path.name)
            except InvalidWheelFilename:
                continue
            pythons = frozenset(t.interpreter for t in tags)
            found.append((Wheel(name=str(name), version=str(version), pythons=pythons), path))
    return found


def ca_bundle(settings: BuildSettings) -> tuple[Path | None, str]:
    """The CA bundle pip should trust inside the build, and where it was found."""
    if settings.ca_bundle is not None:
        if not settings.ca_bundle.is_file():
            raise UsageError(f"--ca-bundle {settings.ca_bundle}: no such file")
        return settings.ca_bundle, "--ca-bundle"
    for var in CA_ENV_VARS:
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value), f"${var}"
    return None, ""


@dataclass(frozen=True)
class Secrets:
    """Files handed to BuildKit as secrets; removed when the build is over."""

    files: Mapping[str, Path]
    notes: tuple[str, ...]


def make_secrets(settings: BuildSettings, tmpdir: Path) -> Secrets:
    files: dict[str, Path] = {}
    notes: list[str] = []
    ca, where = ca_bundle(settings)
    if ca is not None:
        files[SECRET_CA] = ca
        notes.append(f"CA bundle {ca} (from {where}) passed as a build secret")
    conf = _pip_conf(settings)
    if conf:
        path = tmpdir / "pip.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(conf)
        files[SECRET_PIPCONF] = path
        notes.append("pip configuration (index URLs) passed as a build secret")
    return Secrets(files=files, notes=tuple(notes))


def _pip_conf(settings: BuildSettings) -> str:
    """The pip configuration of the build: ``--pip-conf`` merged with the index settings.

    ``--index-url`` replaces the file's index; ``--extra-index-url`` adds to its extra
    indexes. One parser writes the result, so no key is ever written twice (pip and
    repro's bridge to uv both refuse a file with a duplicate key).
    """
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    if settings.pip_conf is not None:
        if not settings.pip_conf.is_file():
            raise UsageError(f"--pip-conf {settings.pip_conf}: no such file")
        try:
            parser.read_string(settings.pip_conf.read_text(), source=str(settings.pip_conf))
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise UsageError(f"--pip-conf {settings.pip_conf}: not a pip configuration") from exc
    if settings.index_url or settings.extra_index_urls:
        if not parser.has_section("global"):
            parser.add_section("global")
        if settings.index_url:
            parser.set("global", "index-url", settings.index_url)
        if settings.extra_index_urls:
            have = parser.get("global", "extra-index-url", fallback="").split()
            urls = list(dict.fromkeys([*have, *settings.extra_index_urls]))
            parser.set("global", "extra-index-url", "\n".join(urls))
    if not parser.sections():
        return ""
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def prepare_context(
    workdir: Path,
    dockerfile: str,
    files: Mapping[str, str],
    wheels: Sequence[Path],
    context: BuildContext | None = None,
) -> Path:
    """Write the Dockerfile and repro's files next to ``workdir/src``; return the context.

    The large files ``context`` leaves out are named in a ``.dockerignore``: the builders
    never read them (BuildKit transfers only what is not ignored).
    """
    (workdir / "Dockerfile").write_text(dockerfile)
    ignored = [] if context is None or context.large_kept else [f.path for f in context.large]
    (workdir / DOCKERIGNORE).write_text(
        "# Written by repro: large data and checkpoint files are not sent to the builder.\n"
        + "".join(f"src/{_ignore_pattern(rel)}\n" for rel in ignored)
    )
    for rel, text in files.items():
        target = workdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    wheel_dir = workdir / CONTEXT_DIR / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        target = wheel_dir / wheel.name
        target.unlink(missing_ok=True)  # a context is laid out again for each repair round
        try:
            os.link(wheel, target)
        except OSError:
            shutil.copy2(wheel, target)
    return workdir


def _ignore_pattern(rel: str) -> str:
    """A path as a literal .dockerignore pattern (wildcards escaped)."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in rel)


def build(
    engine: Engine,
    context: Path,
    *,
    tags: Sequence[str],
    labels: Mapping[str, str],
    settings: BuildSettings,
    on_line: LogSink,
    log_path: Path | None = None,
    dockerfile: str = "Dockerfile",
) -> tuple[BuiltImage, tuple[str, ...]]:
    """Build the context (its ``dockerfile``); return the image and notes about the
    secrets used. With ``log_path``, the builder's whole output is written there too (a
    failed build's diagnosis reads it; the error names it)."""
    with contextlib.ExitStack() as stack:
        sink = on_line
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(log_path.open("w", encoding="utf-8", errors="replace"))

            def sink(line: str) -> None:
                log.write(line + "\n")
                on_line(line)

        tmp = stack.enter_context(stale.private_dir("repro-secrets"))
        secrets = make_secrets(settings, tmp)
        image_id, seconds, tail = engine.build(
            context,
            tags=tags,
            labels=labels,
            secrets=secrets.files,
            on_line=sink,
            dockerfile=dockerfile,
        )
    # the engine names its builder (Podman: buildah) and what differs from Docker; a
    # stand-in engine in tests need not
    builder = getattr(engine, "builder", None) or ("buildkit" if engine.buildkit else "classic")
    notes = getattr(engine, "notes", lambda: ())()
    built = BuiltImage(id=image_id, build_seconds=seconds, log_tail=tail, builder=builder)
    return built, (*notes, *secrets.notes)


def build_prepared(
    engine: Engine,
    workdir: Path,
    prepared: Prepared,
    settings: BuildSettings,
    reporter: Reporter,
    *,
    first_round: bool,
    log: Path,
) -> BuiltImage:
    """Build the plan's image in ``workdir``, its whole log kept at ``log``, said to
    ``reporter`` (the secrets' notes on the first round only); a failed build raises
    :class:`BuildError` (the pack loop reads the log)."""
    plan = prepared.plan
    reporter.stage("build", plan.tags[0])
    context = prepare_context(
        workdir, plan.dockerfile, prepared.files, prepared.wheels, plan.context
    )

    def build_of(dockerfile: str, tags: Sequence[str]) -> tuple[BuiltImage, tuple[str, ...]]:
        return build(
            engine,
            context,
            tags=tags,
            labels=plan.labels,
            settings=settings,
            on_line=reporter.log,
            log_path=log,
            dockerfile=dockerfile,
        )

    laid = None
    if plan.code_layer is not None and engine.buildkit and getattr(engine, "lays_code", False):
        # the environment by the builder, untagged; the code by repro (repro/codelayer.py)
        (context / codelayer.ENV_DOCKERFILE).write_text(plan.code_layer.env_dockerfile)
        env, notes = build_of(codelayer.ENV_DOCKERFILE, ())
        laid = _lay(engine, env, plan, context, reporter)
    image, notes = (laid, notes) if laid is not None else build_of("Dockerfile", plan.tags)
    if first_round:
        for note in notes:
            reporter.info(note)
    reporter.info(f"built {image.id[:19]} in {image.build_seconds:.1f} s ({image.builder})")
    return image


def _lay(
    engine: Engine, env: BuiltImage, plan: Plan, context: Path, reporter: Reporter
) -> BuiltImage | None:
    """The code layer laid on the environment's image ``env`` (repro/codelayer.py); None
    when the engine did not take it (the builder then builds the whole Dockerfile)."""
    assert plan.code_layer is not None
    large = plan.context.large if plan.context and not plan.context.large_kept else ()
    store = BlobStore()
    try:
        with store.using():
            laid = codelayer.lay(
                cast(codelayer.Lays, engine),
                env.id,
                plan.code_layer,
                context / SOURCE_DIR,
                tags=plan.tags,
                store=store,
                mtime=int(plan.checkout.commit_date.timestamp()),
                skip=frozenset(f.path for f in large),
            )
    except EngineError as exc:
        reporter.info(f"the code layer was not laid ({exc}): the builder builds it")
        return None
    finally:
        # the environment's image, untagged, is not needed: its layers are the image's
        remover = getattr(engine, "remove_unused_image", None)
        if remover is not None:
            with contextlib.suppress(ReproError):
                remover(env.id)
    reporter.info(
        f"code layer laid by repro: {laid.files} files, {laid.layer.diff_size:,} bytes"
        f" ({laid.layer.diff_id[:19]})"
    )
    return dataclasses.replace(
        env,
        id=laid.image_id,
        build_seconds=env.build_seconds + laid.seconds,
        code_layer=laid.to_json(),
        facts_key="" if laid.metadata else laid.environment,
    )

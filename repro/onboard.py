"""``repro run`` and ``repro shell``: be inside someone else's code in one command.

A target is resolved to an image, in this order:

1. an artifact directory (or its ``image.tar.gz``): its image, loaded from the tarball
   after the checksum check when the engine lacks it;
2. another existing directory: a local SOURCE;
3. an image name or id the engine has;
4. anything else: a SOURCE (GitHub URL, ``OWNER/NAME[@REF]``, git URL).

A SOURCE is fetched to learn its commit; the artifact ``repro pack`` would write for it
(``OUT/<owner>-<name>-<sha>``) is reused when it exists (``--repack`` builds again),
otherwise the SOURCE is packed first, with the same options as ``repro pack``.

The container is a ``docker run --rm`` through the docker CLI (interactive terminals need
it; it honours ``DOCKER_HOST`` like the SDK), with the repository at ``/app``. ``--mount``
bind-mounts the user's checkout over ``/app`` for live edits, running as the host user so
files keep their owner. GPUs are passed through when the image was built for one and the
engine has them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from repro import artifact, export, fetch, fetching, pipeline
from repro.engine import DockerEngine, Engine, connect, shell_argv
from repro.errors import EngineError, SourceError, UsageError, VerifyError
from repro.models import Options
from repro.report import Reporter

APP_DIR = "/app"


@dataclass(frozen=True, kw_only=True)
class Target:
    """An image to enter, and what is known about where it came from."""

    image: str  # engine image id or name
    gpu: bool  # built for a GPU
    kind: str  # "artifact", "image", "source"
    local_dir: Path | None = None  # the SOURCE's directory, when it is local
    artifact_dir: Path | None = None


def is_artifact(path: Path) -> bool:
    directory = path if path.is_dir() else path.parent
    return all(
        (directory / name).is_file()
        for name in (artifact.MANIFEST, artifact.CHECKSUMS, artifact.IMAGE_TARBALL)
    )


def resolve(
    target: str,
    options: Options,
    reporter: Reporter,
    *,
    engine: Engine,
    repack: bool = False,
    engine_factory: Callable[[], Engine] = DockerEngine.deferred,
) -> Target:
    """The image for TARGET (see the module docstring for the order), packing if needed."""
    path = Path(target).expanduser()
    if path.exists():
        if is_artifact(path):
            return from_artifact(path, engine, reporter)
        if path.is_dir():
            return _from_source(target, options, reporter, engine, repack, engine_factory)
        raise UsageError(
            f"{target}: a file, not a repository, an artifact directory or an image",
        )
    try:
        found = engine.image_info(target)
    except EngineError:  # not even a valid image reference: try it as a SOURCE
        found = None
    if found is not None:
        variant = found.labels.get("io.github.repro.variant", "")
        return Target(image=found.id, gpu="-cu" in variant, kind="image")
    return _from_source(target, options, reporter, engine, repack, engine_factory)


def from_artifact(path: Path, engine: Engine, reporter: Reporter) -> Target:
    """An artifact's image, loaded (after the checksum check) if the engine lacks it."""
    from repro.verify import check_files, locate

    directory = locate(path)
    try:
        manifest = json.loads((directory / artifact.MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot read {directory / artifact.MANIFEST}: {exc}") from exc
    image = str((manifest.get("image") or {}).get("id") or "")
    tags = [str(t) for t in manifest.get("tags") or []]
    if not image and not tags:
        raise VerifyError(f"{directory / artifact.MANIFEST} records no image")
    image = image or tags[0]
    if engine.image_info(image) is None:
        check_files(directory)
        reporter.info(f"loading {directory / artifact.IMAGE_TARBALL}")
        engine.load(directory / artifact.IMAGE_TARBALL)
        if engine.image_info(image) is None:
            raise VerifyError(f"{directory / artifact.IMAGE_TARBALL} does not hold {image}")
    gpu = bool((manifest.get("base_image") or {}).get("gpu"))
    return Target(image=image, gpu=gpu, kind="artifact", artifact_dir=directory)


def _from_source(
    spec: str,
    options: Options,
    reporter: Reporter,
    engine: Engine,
    repack: bool,
    engine_factory: Callable[[], Engine],
) -> Target:
    try:
        source = fetch.parse_source(spec, options.ref)
    except SourceError as exc:
        raise SourceError(
            f"not an artifact directory, an image on this engine, a git URL, OWNER/NAME or a "
            f"directory: {spec!r}"
        ) from exc
    local = source.local_path.resolve() if source.local_path is not None else None
    # One fetch, under the repository's run lock: the commit checked for an artifact is
    # the one packed when there is none.
    with fetching.fetched(source, reporter) as got:
        dest = export.artifact_path(options.out, got.checkout)
        if not repack and is_artifact(dest):
            reporter.info(
                f"commit {got.checkout.commit[:12]} was packed before: {dest} (--repack rebuilds)"
            )
            found = from_artifact(dest, engine, reporter)
            return Target(
                image=found.image, gpu=found.gpu, kind="source", local_dir=local, artifact_dir=dest
            )
        engine_ready = connect(engine_factory)
        result = pipeline.pack_fetched(got, options, reporter, engine=engine_ready)
    return Target(
        image=result.image.id,
        gpu=result.plan.base.gpu,
        kind="source",
        local_dir=local,
        artifact_dir=result.artifact_dir,
    )


def mount_dir(target: Target, cwd: Path) -> Path:
    """The checkout ``--mount`` puts at /app: a local SOURCE itself, else the current dir."""
    return target.local_dir or cwd.resolve()


def container_argv(
    target: Target,
    command: Sequence[str],
    *,
    network: str,
    root: bool,
    mount: Path | None,
    gpus: bool,
    tty: bool,
    cli: Sequence[str] | None = None,
) -> list[str]:
    """The ``docker run`` line: repo at /app, the checkout over it with ``--mount``;
    ``cli``: the engine's own command line, when it is not docker's (Podman)."""
    user, env, mounts = identity(root=root, mount=mount)
    return shell_argv(
        target.image,
        command,
        network=network,
        user=user,
        tty=tty,
        mounts=mounts,
        gpus=gpus,
        env=env,
        cli=cli,
    )


def identity(
    *, root: bool, mount: Path | None
) -> tuple[str | None, dict[str, str], list[tuple[Path, str]]]:
    """(user, environment, bind mounts) of a container with ``mount`` (the checkout) at
    /app: the image's user, or the host's with a mount so that edits keep their owner."""
    user: str | None = "0" if root else None
    env: dict[str, str] = {}
    mounts: list[tuple[Path, str]] = []
    if mount is not None:
        mounts.append((mount, APP_DIR))
        if not root:
            # Edits made inside keep the host user's ownership; that uid has no home in
            # the image, so HOME points somewhere writable.
            user = f"{os.getuid()}:{os.getgid()}"
            if os.getuid() != 1000:
                env["HOME"] = "/tmp"
    return user, env, mounts


def remote_engine() -> str:
    """``DOCKER_HOST`` when it names another machine (a bind mount is then on that machine)."""
    host = os.environ.get("DOCKER_HOST", "")
    return "" if not host or host.startswith(("unix://", "npipe://")) else host

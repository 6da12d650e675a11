"""The Docker engine, behind one narrow interface (the only module that imports ``docker``).

Builds go through the docker CLI with BuildKit when a BuildKit-capable client is found
(cache mounts, build secrets); the docker SDK's classic builder is the fallback. Every
other operation (run, inspect, tag, save, load, remove) uses the SDK, so ``DOCKER_HOST``
(including ``ssh://``) works as it does for the docker CLI; the one exception is an image
inspected before the SDK has connected (:meth:`DockerEngine.deferred`), which that same
CLI answers.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from repro import buildlog, cache, diskspace, faults, locks, podman, signals, stale
from repro.errors import BuildError, DiskFullError, EngineError
from repro.lazy import Deferred
from repro.models import LABEL_MANAGED

if TYPE_CHECKING:
    import docker
    import docker.errors
    import docker.types
    import requests.exceptions
else:  # imported when the engine is first used: inspect and plan never pay for them

    def _import_docker() -> ModuleType:
        import docker
        import docker.errors
        import docker.types

        return docker

    def _import_requests() -> ModuleType:
        import requests.exceptions

        return requests

    docker = Deferred(_import_docker)
    requests = Deferred(_import_requests)


LABEL_RUN = "io.github.repro.run"  # on containers: the run that made it (stale.run_id)
LogSink = Callable[[str], None]


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True, kw_only=True)
class ImageInfo:
    id: str
    repo_digests: tuple[str, ...]
    size: int
    labels: Mapping[str, str]
    created: str
    env: Mapping[str, str] = field(default_factory=dict)  # the config's ENV, as a mapping


@dataclass(frozen=True, kw_only=True)
class RunResult:
    exit_code: int | None
    output: str
    seconds: float
    timed_out: bool = False
    oom_killed: bool = False


@dataclass(frozen=True, kw_only=True)
class RunLimits:
    network: str = "none"
    user: str | None = None
    mem_bytes: int = 4 * 1024**3
    pids: int = 1024
    timeout: float = 900.0
    gpus: bool = False
    workdir: str | None = None
    env: Mapping[str, str] | None = None
    entrypoint: Sequence[str] | None = None  # replaces the image's (a probe of a given image)


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """A long-running container: ``repro lab``'s Jupyter server."""

    image: str
    argv: Sequence[str]  # the command (the image's entrypoint stays)
    ports: Sequence[tuple[int, int]] = ()  # (container port, host port; 0: the engine picks)
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    mounts: Sequence[tuple[Path, str]] = ()  # (host path, container path) bind mounts
    workdir: str | None = None
    network: str = "bridge"
    gpus: bool = False
    kind: str = "lab"  # the io.github.repro.managed label


@dataclass(frozen=True, kw_only=True)
class ContainerStatus:
    running: bool
    exit_code: int | None  # once it stopped
    ports: Mapping[int, int]  # container port → host port


class Engine(Protocol):
    """What the pipeline needs from a container engine."""

    def ping(self) -> None: ...
    def image_info(self, ref: str) -> ImageInfo | None: ...
    def pull(self, ref: str) -> None: ...
    def build(
        self,
        context: Path,
        *,
        tags: Sequence[str],
        labels: Mapping[str, str],
        secrets: Mapping[str, Path],
        on_line: LogSink,
        dockerfile: str = "Dockerfile",
    ) -> tuple[str, float, str]: ...
    def run(self, image: str, argv: Sequence[str], limits: RunLimits) -> RunResult: ...
    def tag(self, image: str, ref: str) -> None: ...
    def save(self, refs: Sequence[str], out: ByteSink) -> None: ...
    def load(self, path: Path) -> list[str]: ...
    def remove_image(self, ref: str) -> None: ...
    def gpu_available(self) -> bool: ...
    @property
    def buildkit(self) -> bool: ...


# --------------------------------------------------------------------------- docker


def _client(host: str | None = None) -> docker.DockerClient:
    """A connected client: for ``host`` when given, else for the engine the CLI would use."""
    try:
        client = (
            docker.DockerClient(base_url=host, timeout=600) if host else _client_from_environment()
        )
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        where = host or os.environ.get("DOCKER_HOST", "the local socket")
        raise EngineError(
            f"cannot reach a Docker engine at {where}: {_short(exc)}",
            hint="start dockerd (or Docker Desktop), or set DOCKER_HOST",
        ) from exc
    return client


def _client_from_environment() -> docker.DockerClient:
    """A client for the engine the docker CLI would use, so SDK and CLI builds agree.

    ``DOCKER_HOST`` (with ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``) wins, as for the CLI;
    ``ssh://`` hosts go through the system ``ssh`` client (its config, keys and agent), like
    the CLI, rather than the SDK's optional paramiko. Without ``DOCKER_HOST`` the current
    docker context (``DOCKER_CONTEXT`` or ``docker context use``) is honoured, which the
    SDK's ``from_env`` alone ignores while the CLI does not.
    """
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        from docker.context import ContextAPI

        name = os.environ.get("DOCKER_CONTEXT") or ""
        with suppress(docker.errors.DockerException, OSError, ValueError):
            context = ContextAPI.get_context(name or None)
            if context is not None and context.name != "default" and context.Host:
                return docker.DockerClient(
                    base_url=context.Host,
                    tls=context.TLSConfig or False,
                    timeout=600,
                    use_ssh_client=str(context.Host).startswith("ssh://"),
                )
    return docker.from_env(timeout=600, use_ssh_client=host.startswith("ssh://"))


@contextmanager
def _engine_call(what: str) -> Iterator[None]:
    """A lost connection to the engine is an :class:`EngineError`, not a traceback."""
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        message = f"lost the Docker engine while {what}: {_lost_reason(exc)}"
        raise EngineError(message, hint=_HINT) from exc


def _lost_reason(exc: BaseException) -> str:
    """Why a connection to the engine failed, in words (not urllib3's nested tuples)."""
    text = str(exc)
    for needle, reason in (
        ("FileNotFoundError", "its socket is gone"),
        ("No such file", "its socket is gone"),
        ("ConnectionRefused", "it refused the connection"),
        ("Connection refused", "it refused the connection"),
        ("RemoteDisconnected", "it closed the connection"),
        ("Connection aborted", "it closed the connection"),
        ("Connection broken", "it closed the connection"),
        ("ConnectionReset", "it reset the connection"),
    ):
        if needle in text:
            return reason
    return _short(exc)


_HINT = "check that dockerd is running (docker info), then run repro again"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text[:300]


BuildkitCli = tuple[list[str], dict[str, str]]


def find_buildkit_cli() -> BuildkitCli | None:
    """A docker client that builds with BuildKit: (argv prefix, extra env), or None.

    ``REPRO_DOCKER_CLI`` names one explicitly. A client with the buildx plugin builds with
    ``docker buildx build --load``; a client older than 23 builds with BuildKit when
    ``DOCKER_BUILDKIT=1``; a newer client without buildx cannot.

    Asking a client means starting it (``docker buildx version``, ``docker --version``):
    0.05-0.1 s each, up to four times. The answer is kept in the cache
    (``<cache>/engine/buildkit-cli.json``) under a key made of everything it depends on:
    the candidate clients (path, and the identity, size and time of the file each is) and
    the buildx plugins they could load (and the CLI configuration, which may name more
    plugin folders). Replacing, adding or removing any of them asks the clients again.
    """
    explicit = os.environ.get("REPRO_DOCKER_CLI")
    candidates = [explicit] if explicit else []
    candidates += [c for c in (shutil.which("docker"), "/usr/bin/docker") if c]
    candidates = [c for c in dict.fromkeys(candidates) if c and Path(c).exists()]
    key = _probe_key(candidates)
    known = _remembered_cli(key)
    if known is not None:
        return known[0]
    found = _probe_clis(candidates)
    _remember_cli(key, found)
    return found


def _probe_clis(candidates: Sequence[str]) -> BuildkitCli | None:
    for cli in candidates:
        if _run_quiet([cli, "buildx", "version"]):
            return [cli, "buildx", "build", "--load"], {}
        version = _client_version(cli)
        if version and 18 <= version[0] < 23:
            return [cli, "build"], {"DOCKER_BUILDKIT": "1"}
    return None


# Where docker clients look for CLI plugins (docker/cli's cli-plugins/manager), besides
# $DOCKER_CONFIG/cli-plugins.
_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def _probe_key(candidates: Sequence[str]) -> str:
    """What the BuildKit probe's answer depends on, as one string."""
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    files = [
        *candidates,
        str(config / "config.json"),
        str(config / "cli-plugins" / "docker-buildx"),
        *(f"{d}/docker-buildx" for d in _PLUGIN_DIRS),
    ]
    parts = [f"explicit={os.environ.get('REPRO_DOCKER_CLI', '')}"]
    for name in files:
        try:
            st = os.stat(name)
        except OSError:
            parts.append(f"{name}:-")
            continue
        parts.append(f"{name}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


def _probe_file() -> Path:
    return cache.cache_dir() / "engine" / "buildkit-cli.json"


def _remembered_cli(key: str) -> tuple[BuildkitCli | None] | None:
    """The remembered answer for ``key`` (in a 1-tuple: it may be None), else None."""
    try:
        doc = json.loads(_probe_file().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key:
        return None
    argv, env = doc.get("argv"), doc.get("env")
    if argv is None:
        return (None,)
    if (
        isinstance(argv, list)
        and argv
        and all(isinstance(a, str) for a in argv)
        and isinstance(env, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        return ((list(argv), dict(env)),)
    return None


def _remember_cli(key: str, found: BuildkitCli | None) -> None:
    doc = {"key": key, "argv": found[0] if found else None, "env": found[1] if found else {}}
    with suppress(OSError):  # a cache that cannot be written only costs the next probe
        locks.atomic_write_text(_probe_file(), json.dumps(doc, indent=1))


def _run_quiet(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _client_version(cli: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(  # "Docker version 20.10.24, build ...": asks no daemon
            [cli, "--version"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _image_info(attrs: Mapping[str, Any]) -> ImageInfo:
    """An image's facts from the engine's inspect document (SDK and CLI read the same)."""
    return ImageInfo(
        id=str(attrs.get("Id", "")),
        repo_digests=tuple(attrs.get("RepoDigests") or ()),
        size=int(attrs.get("Size") or 0),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
        created=str(attrs.get("Created", "")),
        env=dict(
            str(item).partition("=")[::2] for item in (attrs.get("Config") or {}).get("Env") or ()
        ),
    )


def _inspect_with_cli(cli: str, ref: str) -> tuple[bool | None, dict[str, Any]]:
    """Ask the docker CLI about ``ref``: (True, its inspect document), (False, {}) when the
    engine has no such image, (None, {}) when the CLI could not say (no engine, an
    unexpected answer): the caller then asks through the SDK, which explains failures."""
    try:
        proc = subprocess.run(
            [cli, "image", "inspect", "--format", "{{json .}}", ref],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, {}
    if proc.returncode != 0:
        return (False, {}) if "no such image" in proc.stderr.lower() else (None, {})
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        return None, {}
    return (True, doc) if isinstance(doc, dict) and doc.get("Id") else (None, {})


class DockerEngine:
    """The real engine: docker SDK, plus the docker CLI for BuildKit builds."""

    def __init__(
        self, *, use_buildkit: bool | None = None, connect: bool = True, host: str | None = None
    ) -> None:
        """``connect=False`` leaves the SDK's connection for later (see :meth:`deferred`);
        otherwise an engine that does not answer is an :class:`EngineError` here. ``host``
        names an engine (``unix:///…``) instead of the one the docker CLI would use; the
        BuildKit CLI would not follow it, so it goes with ``use_buildkit=False``."""
        if host and use_buildkit:
            raise ValueError("an engine named by host builds without the BuildKit CLI")
        self._host = host
        self._sdk: docker.DockerClient | None = _client(host) if connect else None
        self._connecting: Future[docker.DockerClient] | None = None
        # A Podman service answering the Docker API (repro/podman.py): its own CLI builds
        # with Buildah, which reads BuildKit's RUN --mount lines; the docker CLI cannot.
        self.podman = podman.detect(host)
        if self.podman is not None and use_buildkit is not False and not host:
            prefix = self.podman.build_prefix()
            self._cli: BuildkitCli | None = (prefix, {}) if prefix else None
        else:
            self._cli = find_buildkit_cli() if use_buildkit is not False and not host else None
        if use_buildkit and self._cli is None:
            raise EngineError(
                "BuildKit was asked for but no docker client here can build with it",
                hint="install the buildx plugin, or set REPRO_DOCKER_CLI to a client older than 23",
            )

    @classmethod
    def deferred(cls) -> DockerEngine:
        """An engine whose docker SDK connects on first use, or while a BuildKit build runs.

        Importing the SDK (with requests) costs about 0.1 s of Python, which, on a thread
        of its own, would still take turns with clone, scan and inference. Before the
        build ``pack`` needs only :meth:`image_info`, which the docker CLI answers when
        there is one; the SDK then connects while the CLI builds, off the way to a built
        image (docs/performance.md, "Start-up"). A missing engine is still one clear
        :class:`EngineError`, raised by the first call that needs it.
        """
        return cls(connect=False)

    @property
    def _client(self) -> docker.DockerClient:
        """The SDK's client, connected now if no connection is on its way already."""
        if self._sdk is None:
            self._sdk = self._connecting.result() if self._connecting else _client(self._host)
        return self._sdk

    def _connect_soon(self) -> None:
        """Start connecting the SDK on a thread of its own, unless it is (being) done."""
        if self._sdk is None and self._connecting is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="repro-sdk")
            with signals.quiet_threads():
                self._connecting = pool.submit(_client, self._host)
            pool.shutdown(wait=False)  # the thread ends with its one task

    @property
    def buildkit(self) -> bool:
        """Whether builds honour BuildKit's Dockerfile features (``RUN --mount``): BuildKit
        itself, or Podman's Buildah."""
        return self._cli is not None

    @property
    def builder(self) -> str:
        """The builder's name, as the manifest records it."""
        if self._cli is None:
            return "classic"
        return "buildah" if self.podman is not None else "buildkit"

    def notes(self) -> tuple[str, ...]:
        """What differs from Docker on this engine, for the output (none for Docker)."""
        return self.podman.notes() if self.podman is not None else ()

    def interactive_cli(self) -> list[str] | None:
        """The command line ``repro run``/``shell`` start containers with, when it is not
        the docker CLI (Podman: its own, which reports the container's exit status)."""
        return self.podman.run_prefix() if self.podman is not None else None

    def ping(self) -> None:
        self._client.ping()

    def alive(self) -> bool:
        """Whether the engine answers a ping within a few seconds, on a new connection
        (a pooled one may outlive the engine's socket)."""
        api: Any = self._client.api
        try:
            api.close()  # drops the pooled connections; the client reconnects on demand
            return bool(api._get(api._url("/_ping"), timeout=5).ok)
        except (requests.exceptions.RequestException, docker.errors.DockerException):
            return False

    def image_info(self, ref: str) -> ImageInfo | None:
        # (the docker CLI's answer; Podman's build CLI is not one to ask)
        if (
            self._sdk is None
            and self._connecting is None
            and self._cli is not None
            and self.podman is None
        ):
            found, attrs = _inspect_with_cli(self._cli[0][0], ref)
            if found is not None:  # the CLI answered (it reads the same API document)
                return _image_info(attrs) if found else None
        try:
            with _engine_call(f"inspecting {ref}"):
                image = self._client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot inspect image {ref}: {_short(exc)}") from exc
        return _image_info(image.attrs)

    def pull(self, ref: str) -> None:
        """Pull ``ref`` from its registry; :class:`EngineError` names why it could not."""
        try:
            with _engine_call(f"pulling {ref}"):
                self._client.images.pull(ref)
        except docker.errors.APIError as exc:
            reason = str(exc.explanation or "") if exc.explanation else _short(exc)
            raise EngineError(f"cannot pull {ref}: {pull_reason(reason)}") from exc

    # ----------------------------------------------------------------- build

    def build(
        self,
        context: Path,
        *,
        tags: Sequence[str],
        labels: Mapping[str, str],
        secrets: Mapping[str, Path],
        on_line: LogSink,
        dockerfile: str = "Dockerfile",
    ) -> tuple[str, float, str]:
        """Build ``context`` with its ``dockerfile``; return (image id, seconds, log tail)."""
        start = time.monotonic()
        if self._cli is not None:
            self._connect_soon()  # the SDK is wanted right after; the CLI leaves the GIL free
            image_id, tail = self._build_cli(context, tags, labels, secrets, on_line, dockerfile)
        else:
            image_id, tail = self._build_sdk(context, tags, labels, on_line, dockerfile)
        return image_id, time.monotonic() - start, tail

    def _build_cli(
        self,
        context: Path,
        tags: Sequence[str],
        labels: Mapping[str, str],
        secrets: Mapping[str, Path],
        on_line: LogSink,
        dockerfile: str = "Dockerfile",
    ) -> tuple[str, str]:
        assert self._cli is not None
        prefix, extra_env = self._cli
        with stale.private_dir("repro-build") as tmp:
            iidfile = tmp / "iid"
            # bound to repro's life: a SIGKILLed run does not leave its build going on
            plain = [] if self.podman is not None else ["--progress=plain"]
            argv = [*stale.dies_with_parent(prefix), *plain, "--iidfile", str(iidfile)]
            for tag in tags:
                argv += ["--tag", tag]
            for key, value in labels.items():
                argv += ["--label", f"{key}={value}"]
            for sid, path in secrets.items():
                argv += ["--secret", f"id={sid},src={path}"]
            if dockerfile != "Dockerfile":
                argv += ["--file", str(context / dockerfile)]
            argv.append(str(context))
            env = {**os.environ, **extra_env}
            tail: deque[str] = deque(maxlen=400)
            proc: subprocess.Popen[str] | None = None
            try:
                # the build runs in a session of its own (Ctrl-C reaches repro, not it):
                # a signal while it starts is held until ``proc`` is known, so the
                # ``except`` below can stop it
                with signals.deferred():
                    proc = _start_build(argv, env)
                faults.checkpoint("build.started")
                assert proc.stdout is not None
                for line in proc.stdout:
                    line = line.rstrip("\n")
                    tail.append(line)
                    on_line(line)
                code = proc.wait()
            except BaseException:
                if proc is not None:
                    with signals.deferred():
                        _terminate(proc)
                raise
            lines = list(tail)
            if code != 0:
                faults.checkpoint("build.ended")
                # the client says it lost the engine (which may be back already, after a
                # restart), or the engine does not answer now
                lost = _lost_engine(lines)
                if lost or not self.alive():
                    how = "restarted" if lost and self.alive() else "went away"
                    raise EngineError(
                        f"the Docker engine {how} during the build",
                        detail="\n".join(lines[-10:]),
                        hint=_HINT,
                    )
                if any(diskspace.says_full(line) for line in lines):
                    raise self._storage_full(lines)
                raise _build_failure(lines)
            image_id = iidfile.read_text().strip() if iidfile.exists() else ""
            if not image_id:
                raise EngineError("the build finished but reported no image id")
            return image_id, "\n".join(lines[-40:])

    def _storage_full(self, lines: list[str]) -> DiskFullError:
        """The build stopped because the engine's storage filled up: no repair can help."""
        root = ""
        with suppress(docker.errors.APIError, requests.exceptions.RequestException):
            root = str(self._client.info().get("DockerRootDir") or "")
        where = f" ({root})" if root else ""
        if root and _is_local() and Path(root).exists():
            where = f" ({root}; {diskspace.where(Path(root))})"
        said = next(line for line in lines if diskspace.says_full(line))
        said = re.sub(r"^#\d+ (?:ERROR: |\d+\.\d+ )?", "", said).strip()[:200]
        return DiskFullError(
            f"the Docker engine's disk is full{where}: {said}",
            detail="\n".join(lines[-10:]),
            hint="docker builder prune and docker image prune free space on the engine; "
            "the build needs room for everything its steps install",
        )

    def _build_sdk(
        self,
        context: Path,
        tags: Sequence[str],
        labels: Mapping[str, str],
        on_line: LogSink,
        dockerfile: str = "Dockerfile",
    ) -> tuple[str, str]:
        tail: deque[str] = deque(maxlen=400)
        image_id = ""
        try:
            stream: Iterator[dict[str, Any]] = self._client.api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tags[0] if tags else None,
                labels=dict(labels),
                rm=True,
                forcerm=True,
                decode=True,
                pull=False,
            )
            for chunk in stream:
                if "stream" in chunk:
                    for line in str(chunk["stream"]).splitlines():
                        tail.append(line)
                        on_line(line)
                if "aux" in chunk and isinstance(chunk["aux"], dict):
                    image_id = str(chunk["aux"].get("ID", image_id))
                if "error" in chunk:
                    tail.append(str(chunk["error"]))
                    raise _build_failure(list(tail))
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise EngineError(f"the Docker engine failed during the build: {_short(exc)}") from exc
        if not image_id:
            raise EngineError("the build finished but reported no image id")
        for tag in tags[1:]:
            self.tag(image_id, tag)
        return image_id, "\n".join(list(tail)[-40:])

    # ----------------------------------------------------------------- run

    def run(self, image: str, argv: Sequence[str], limits: RunLimits) -> RunResult:
        """Run ``argv`` in a new container of ``image``; the container is always removed.

        Creating and removing the container hold signals back (``signals.deferred``), so
        a Ctrl-C in between cannot lose a container the engine made.
        """
        device_requests = gpu_device_requests() if limits.gpus else None
        start = time.monotonic()
        container: Any = None
        try:
            # a signal held here is raised when the block ends, inside the ``try``: by then
            # the container is known, and ``finally`` removes it
            with signals.deferred():
                container = self._create(image, argv, limits, device_requests)
            with _engine_call("the container ran"):
                return self._start_and_wait(container, limits, start)
        except docker.errors.APIError as exc:
            raise EngineError(f"the container failed: {_short(exc)}") from exc
        finally:
            if container is not None:
                with (
                    signals.deferred(),
                    suppress(docker.errors.APIError, requests.exceptions.RequestException),
                ):
                    container.remove(force=True)

    def _create(
        self, image: str, argv: Sequence[str], limits: RunLimits, device_requests: Any
    ) -> Any:
        try:
            with _engine_call(f"starting a container from {image}"):
                return self._client.containers.create(
                    image,
                    command=list(argv),
                    network_mode=limits.network,
                    user=limits.user,
                    mem_limit=limits.mem_bytes,
                    memswap_limit=limits.mem_bytes,
                    pids_limit=limits.pids,
                    working_dir=limits.workdir,
                    environment=dict(limits.env or {}),
                    entrypoint=list(limits.entrypoint) if limits.entrypoint is not None else None,
                    labels={LABEL_MANAGED: "smoke", LABEL_RUN: stale.run_id()},
                    device_requests=device_requests,
                    detach=True,
                    tty=False,
                    security_opt=["no-new-privileges"],
                    cap_drop=["ALL"],
                )
        except docker.errors.ImageNotFound as exc:
            raise EngineError(f"image {image} not found") from exc
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot create a container from {image}: {_short(exc)}") from exc

    def _start_and_wait(self, container: Any, limits: RunLimits, start: float) -> RunResult:
        container.start()
        faults.checkpoint("container.running")
        timed_out = False
        try:
            status = container.wait(timeout=limits.timeout)
            code: int | None = int(status.get("StatusCode", -1))
            # an engine shutting down stops its containers (they end as if killed) and no
            # longer takes new connections: a failed run is the engine's when it is gone
            if code != 0 and not self.alive():
                raise EngineError(
                    "lost the Docker engine while the container ran: it stopped the "
                    "container as it shut down",
                    hint=_HINT,
                )
        except requests.exceptions.RequestException as exc:
            # The SDK reports its read timeout as a ReadTimeout or as a ConnectionError:
            # a wait that broke before its time, or a ping that gets no answer, tells an
            # engine that went away (or restarted: it answers again, the container is
            # gone) from a container that outlived its time.
            early = time.monotonic() - start < limits.timeout
            if early or not self.alive():
                raise EngineError(
                    f"lost the Docker engine while the container ran: {_lost_reason(exc)}",
                    hint=_HINT,
                ) from exc
            timed_out = True
            code = None
            with suppress(docker.errors.APIError):
                container.kill()
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        return RunResult(
            exit_code=code,
            output=output,
            seconds=time.monotonic() - start,
            timed_out=timed_out,
            oom_killed=oom,
        )

    # ----------------------------------------------------------------- services

    def start_service(self, spec: ServiceSpec) -> str:
        """Create and start a long-running container (``repro lab``'s server); its id.

        The container keeps the image's entrypoint (a Binder ``start`` wraps the command),
        publishes each port on 127.0.0.1 only, and is labelled with this run, so that a
        run killed before removing it has it removed by the next one (repro/sweep.py).
        Creating it holds signals back: a Ctrl-C cannot lose a container the engine made.
        """
        # (address, None): the engine picks a free port on that address
        ports: dict[str, Any] = {
            f"{inner}/tcp": ("127.0.0.1", outer or None) for inner, outer in spec.ports
        }
        mounts = [
            docker.types.Mount(target=inside, source=str(host), type="bind")
            for host, inside in spec.mounts
        ]
        container: Any = None
        try:
            with signals.deferred(), _engine_call(f"starting a container from {spec.image}"):
                container = self._client.containers.create(
                    spec.image,
                    command=list(spec.argv),
                    network_mode=spec.network,
                    user=spec.user,
                    working_dir=spec.workdir,
                    environment=dict(spec.env),
                    labels={LABEL_MANAGED: spec.kind, LABEL_RUN: stale.run_id()},
                    ports=ports,
                    mounts=mounts,
                    device_requests=gpu_device_requests() if spec.gpus else None,
                    detach=True,
                    tty=False,
                    security_opt=["no-new-privileges"],
                )
            with _engine_call(f"starting a container from {spec.image}"):
                container.start()
        except docker.errors.ImageNotFound as exc:
            raise EngineError(f"image {spec.image} not found") from exc
        except docker.errors.APIError as exc:
            if container is not None:
                self.remove_container(str(container.id))
            raise EngineError(f"cannot start a container from {spec.image}: {_short(exc)}") from exc
        return str(container.id)

    def container_status(self, container_id: str) -> ContainerStatus:
        """Whether a container runs, its exit code once it stopped, and its published ports
        (container port → host port)."""
        try:
            with _engine_call("inspecting a container"):
                attrs = self._client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return ContainerStatus(running=False, exit_code=None, ports={})
        except docker.errors.APIError as exc:
            raise EngineError(
                f"cannot inspect container {container_id[:12]}: {_short(exc)}"
            ) from exc
        state = attrs.get("State") or {}
        ports: dict[int, int] = {}
        for key, bound in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
            for entry in bound or []:
                with suppress(ValueError, TypeError, KeyError):
                    ports.setdefault(int(str(key).split("/")[0]), int(entry["HostPort"]))
        running = bool(state.get("Running"))
        code = state.get("ExitCode")
        return ContainerStatus(
            running=running,
            exit_code=None if running or code is None else int(code),
            ports=ports,
        )

    def container_logs(self, container_id: str, *, tail: int = 40) -> str:
        """The last ``tail`` lines a container wrote (stdout and stderr)."""
        try:
            with _engine_call("reading a container's output"):
                out = self._client.api.logs(container_id, stdout=True, stderr=True, tail=tail)
        except docker.errors.APIError:
            return ""
        return bytes(out).decode("utf-8", "replace")

    # ----------------------------------------------------------------- images

    def tag(self, image: str, ref: str) -> None:
        repo, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "latest")
        try:
            with _engine_call(f"tagging {ref}"):
                self._client.images.get(image).tag(repo, tag)
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot tag {image} as {ref}: {_short(exc)}") from exc

    @property
    def lays_code(self) -> bool:
        """Whether the engine loads a docker archive that leaves out the layers it has
        (repro/codelayer.py): Docker does; Podman reads every layer from the archive."""
        return self.podman is None

    def image_document(self, ref: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The engine's inspect document of an image and its history (newest first)."""
        try:
            api: Any = self._client.api
            with _engine_call(f"reading {ref}"):
                doc = api.inspect_image(ref)
                history = api.history(ref)
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot read image {ref}: {_short(exc)}") from exc
        return dict(doc), [dict(h) for h in history or ()]

    def save(self, refs: Sequence[str], out: ByteSink) -> None:
        api: Any = self._client.api  # private helpers: see the comment below
        try:
            # GET /images/get?names=a&names=b keeps every tag in one tarball; the SDK's
            # get_image() takes a single name.
            with _engine_call("saving the image"):  # a broken stream: the engine went away
                response = api._get(
                    api._url("/images/get"), params={"names": list(refs)}, stream=True
                )
                api._raise_for_status(response)
                for chunk in response.iter_content(chunk_size=1024 * 1024):
                    out.write(chunk)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise EngineError(f"cannot save {', '.join(refs)}: {_short(exc)}") from exc

    def load(self, path: Path) -> list[str]:
        try:
            with open(path, "rb") as raw:
                fh: Any = raw
                if self.podman is not None and raw.read(2) == b"\x1f\x8b":
                    # Podman's API loads plain tarballs only: gunzip on the way
                    raw.seek(0)
                    fh = gzip.GzipFile(fileobj=raw, mode="rb")
                else:
                    raw.seek(0)
                names = []
                api: Any = self._client.api
                for chunk in api.load_image(fh):
                    if isinstance(chunk, dict) and chunk.get("error"):
                        raise EngineError(
                            f"cannot load {path}: {_short(Exception(chunk['error']))}"
                        )
                    said = str(chunk.get("stream", "")) if isinstance(chunk, dict) else ""
                    # "Loaded image: NAME" per name (Podman: "NAME,NAME" on one line), or
                    # "Loaded image ID: sha256:…" for an image without a name
                    for line in said.splitlines():
                        m = re.match(r"Loaded image(?: ID)?: (.+)", line.strip())
                        if m:
                            names += [n.strip() for n in m.group(1).split(",") if n.strip()]
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise EngineError(f"cannot load {path}: {_short(exc)}") from exc
        return names

    def remove_image(self, ref: str) -> None:
        with _engine_call(f"removing {ref}"):
            try:
                self._client.images.remove(ref, force=True)
            except docker.errors.ImageNotFound:
                return  # already gone (ImageNotFound is an APIError: test it first)
            except docker.errors.APIError as exc:
                raise EngineError(f"cannot remove {ref}: {_short(exc)}") from exc

    # ----------------------------------------------------------------- housekeeping

    def labelled(
        self, kind: str, label: str, *, dangling: bool = False
    ) -> list[tuple[str, dict[str, str]]]:
        """(id, labels) of the containers (``kind="containers"``; stopped ones too) or
        images (``"images"``; with ``dangling``, only those no tag names) that carry
        ``label`` (``KEY`` or ``KEY=VALUE``)."""
        filters: dict[str, Any] = {"label": label}
        try:
            with _engine_call(f"listing {kind}"):
                if kind == "containers":
                    found = self._client.containers.list(all=True, filters=filters)
                    return [(str(c.id), dict(c.labels or {})) for c in found]
                if dangling:
                    filters["dangling"] = True
                images = self._client.images.list(filters=filters)
                return [(str(i.id), dict(i.labels or {})) for i in images]
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot list {kind}: {_short(exc)}") from exc

    def remove_container(self, container_id: str) -> None:
        """Stop and remove a container (gone already: nothing to do)."""
        with _engine_call("removing a container"), signals.deferred():
            try:
                self._client.api.remove_container(container_id, force=True)
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as exc:
                raise EngineError(
                    f"cannot remove container {container_id[:12]}: {_short(exc)}"
                ) from exc

    def remove_unused_image(self, image_id: str) -> bool:
        """Remove an image no container uses (unlike :meth:`remove_image`, never forced);
        whether it is gone."""
        with _engine_call("removing an image"):
            try:
                self._client.api.remove_image(image_id, force=False)
            except docker.errors.ImageNotFound:
                return True
            except docker.errors.APIError:
                return False  # a container uses it, or a tag came back: keep it
        return True

    def push(self, ref: str, *, auth: Mapping[str, str] | None, on_line: LogSink) -> str:
        """Push ``ref`` (``REPOSITORY:TAG``) to its registry; return the manifest digest.

        ``auth`` (``username``/``password``) is sent for this push only; without it the SDK
        uses the credentials ``docker login`` stored (``~/.docker/config.json``, helpers).
        """
        repository, _, tag = ref.rpartition(":")
        digest = ""
        try:
            stream: Iterator[dict[str, Any]] = self._client.api.push(
                repository,
                tag=tag,
                stream=True,
                decode=True,
                auth_config=dict(auth) if auth else None,
            )
            for chunk in stream:
                if "error" in chunk:
                    raise EngineError(f"cannot push {ref}: {_short(Exception(chunk['error']))}")
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = str(aux["Digest"])
                status = chunk.get("status")
                if status:
                    on_line(" ".join(str(x) for x in (chunk.get("id"), status) if x))
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise EngineError(f"cannot push {ref}: {_short(exc)}") from exc
        if not digest:
            raise EngineError(f"the registry accepted {ref} but reported no digest")
        return digest

    def gpu_available(self) -> bool:
        """Whether containers of this engine can be given the host's NVIDIA GPUs."""
        try:
            info = self._client.info()
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return False
        return engine_has_gpus(info, local=_is_local(), device=Path("/dev/nvidiactl").exists())


def gpu_device_requests() -> list[docker.types.DeviceRequest]:
    """``docker run --gpus all`` as the SDK says it: every GPU, with the gpu capability."""
    return [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]


def engine_has_gpus(info: Mapping[str, Any], *, local: bool, device: bool) -> bool:
    """GPUs can be requested when the engine knows the NVIDIA runtime or CDI devices, or
    (a local engine) the host has an NVIDIA device and the runtime hook dockerd uses for
    ``--gpus``."""
    runtimes = info.get("Runtimes") or {}
    if "nvidia" in runtimes and (device or not local):
        return True
    cdi = info.get("DiscoveredDevices") or []
    if any(str(d.get("ID", "")).startswith("nvidia.com/gpu") for d in cdi if isinstance(d, dict)):
        return True
    return local and device and shutil.which("nvidia-container-runtime-hook") is not None


def _is_local() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    return host == "" or host.startswith("unix://")


def shell_argv(
    image: str,
    command: Sequence[str],
    *,
    network: str = "none",
    user: str | None = None,
    tty: bool = True,
    mounts: Sequence[tuple[Path, str]] = (),
    gpus: bool = False,
    env: Mapping[str, str] | None = None,
    cli: Sequence[str] | None = None,
) -> list[str]:
    """The docker CLI line of an interactive container (``repro shell``): removed on exit.

    Interactive terminals need the CLI (the SDK has no TTY attach); the container gets the
    smoke test's isolation by default (no network, no mounts) and repro's label. ``cli``:
    another command line that takes docker's ``run`` options (Podman's, repro/podman.py).
    """
    if not cli:
        cli = [os.environ.get("REPRO_DOCKER_CLI") or shutil.which("docker") or "/usr/bin/docker"]
    argv = [*cli, "run", "--rm", "-i", "--network", network]
    argv += ["--label", f"{LABEL_MANAGED}=shell"]
    if tty:
        argv.append("-t")
    if user:
        argv += ["--user", user]
    for host_path, container_path in mounts:
        argv += ["--mount", f"type=bind,source={host_path},target={container_path}"]
    if gpus:
        argv += ["--gpus", "all"]
    for key, value in (env or {}).items():
        argv += ["--env", f"{key}={value}"]
    return [*argv, image, *command]


def run_attached(argv: Sequence[str]) -> int:
    """Run a container CLI line (:func:`shell_argv`) in the foreground, attached to this
    terminal, and return its exit status (``repro run``, ``repro shell``).

    Ctrl-C belongs to the container: the docker CLI forwards it and exits with the
    container's status. repro waits instead of killing the CLI, which would leave the
    container running. (A handler, not SIG_IGN: handlers do not survive exec.)
    """
    previous = signal.signal(signal.SIGINT, lambda _n, _f: None)
    try:
        return subprocess.call(list(argv))
    finally:
        signal.signal(signal.SIGINT, previous)


def _start_build(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    try:
        return subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise EngineError(f"cannot run {argv[0]}: {_short(exc)}") from exc


def _terminate(proc: subprocess.Popen[str]) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, 9)


# What the docker client prints when its connection to the engine breaks mid-build (its
# own lines: a build step's output starts with "#<n> ", and may say such things itself)
_LOST = re.compile(
    r"server did not provide an image ID|error reading from server|code = Unavailable"
    r"|transport is closing|Cannot connect to the Docker daemon"
)


def _lost_engine(lines: Sequence[str]) -> bool:
    return any(_LOST.search(line) for line in lines if not line.startswith("#"))


_STEP = re.compile(r"^#(\d+) \[(?:[\w-]+ )?\s*(\d+/\d+)\] (.*)$")
_STEP_CLASSIC = re.compile(r"^Step (\d+/\d+) : (.*)$")
_STEP_BUILDAH = re.compile(r"^STEP (\d+/\d+): (.*)$")
_ERROR_BUILDAH = re.compile(r'^Error: building at STEP "(.*)": (.*)$')


def pull_reason(text: str) -> str:
    """The engine's answer to a failed pull, as one short clause."""
    first = " ".join(text.split())[:200]
    lower = first.lower()
    if "no such host" in lower or "dial tcp" in lower or "timeout" in lower:
        return f"no registry is reachable from the engine ({first})"
    if "unauthorized" in lower or "denied" in lower or "authentication" in lower:
        return f"the registry refused ({first}); docker login may help"
    if "not found" in lower or "manifest unknown" in lower:
        return f"the registry has no such image ({first})"
    return first


def _build_failure(lines: list[str]) -> BuildError:
    """Name the failing step and keep that step's output tail."""
    step, step_id = "", ""
    for line in lines:
        m = _STEP.match(line)
        if m:
            if "ERROR" in line or not step:
                step, step_id = m.group(3), m.group(1)
            continue
        m2 = _STEP_CLASSIC.match(line)
        if m2:
            step, step_id = m2.group(2), ""
    error_ids = [m.group(1) for line in lines if (m := re.match(r"^#(\d+) ERROR", line))]
    if error_ids:
        step_id = error_ids[-1]
        for line in lines:
            m = _STEP.match(line)
            if m and m.group(1) == step_id:
                step = m.group(3)
                break
    own = [ln for ln in lines if step_id and ln.startswith(f"#{step_id} ")] or lines
    buildah = [m for line in lines if (m := _ERROR_BUILDAH.match(line))]
    if buildah:  # Podman: 'Error: building at STEP "RUN …": …', after that step's output
        step = buildah[-1].group(1)
        starts = [i for i, line in enumerate(lines) if _STEP_BUILDAH.match(line)]
        own = lines[starts[-1] :] if starts else lines
    tail = "\n".join(own[-25:])
    if step:
        what, command = buildlog.describe_step(step.splitlines()[0])
        first = f"{what}: {command}" if command else what
    else:
        first = "unknown step"
    return BuildError(f"the image build failed ({first})", step=step, log_tail=tail)


def connect(factory: Callable[[], Engine]) -> Callable[[], Engine]:
    """Start ``factory`` in a thread of its own; the callable returned waits for the
    engine (and raises what making it raised): a pack makes its engine while the
    engine-independent stages run."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="repro-engine")
    try:
        with signals.quiet_threads():
            return pool.submit(factory).result
    finally:
        pool.shutdown(wait=False)  # the task runs on; the thread ends with it

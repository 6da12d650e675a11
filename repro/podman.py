"""Podman as the engine: its Docker-compatible API, and what differs from Docker.

``podman system service`` serves the Docker API on a socket; pointed at it with
``DOCKER_HOST``, the docker SDK runs, inspects, saves and loads as with dockerd. Three
things differ, and repro says so when it builds (docs/podman.md):

* **Builds.** The docker CLI's BuildKit speaks a session protocol Podman does not serve.
  Podman's own CLI, pointed at the same service (``podman --url … build``), builds with
  Buildah, which honours the Dockerfile's ``RUN --mount`` secrets (the CA bundle, pip's
  configuration), cache mounts and bind mounts from other stages as BuildKit does; the
  stages are built one after another (BuildKit runs independent ones at once). Without
  the podman command, builds go through the compatible API: no build secrets, no caches.
* **Interactive containers.** The docker CLI's ``run --rm`` against Podman 4 reports exit
  status 0 whatever the command returned; ``repro run``/``shell`` use ``podman --url …
  run`` instead, which reports it.
* **Image names.** Loaded or built images are named ``localhost/NAME:TAG``; a short
  ``FROM python:3.11-slim`` finds ``localhost/python:3.11-slim`` first.

Detection is one ``GET /_ping`` on the engine's Unix socket (a millisecond): Podman's
answer carries a ``Libpod-Api-Version`` header, dockerd's does not.
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


@dataclass(frozen=True, kw_only=True)
class Podman:
    """A Podman service answering the Docker API."""

    url: str  # unix:///…/podman.sock
    version: str  # "4.3.1"
    cli: str | None  # the podman command, when this machine has one

    def build_prefix(self) -> list[str] | None:
        """``podman --url URL build``: Buildah through the same service, or None."""
        return [self.cli, "--url", self.url, "build"] if self.cli else None

    def run_prefix(self) -> list[str] | None:
        """``podman --url URL``: the CLI for interactive containers, or None."""
        return [self.cli, "--url", self.url] if self.cli else None

    def notes(self) -> tuple[str, ...]:
        """What differs from Docker, for the output of a build."""
        head = f"engine: Podman {self.version} through its Docker-compatible API ({self.url})"
        if self.cli:
            return (
                head,
                "builds with podman build (Buildah) on that service: BuildKit's RUN --mount "
                "secrets, caches and stage binds work as with docker; independent stages "
                "are built one after another, not at once",
            )
        return (
            head,
            "no podman command on this machine: builds go through the compatible API, "
            "without build secrets or cache mounts (a CA bundle cannot reach pip); install "
            "podman for BuildKit's features",
        )


def detect(host: str | None = None) -> Podman | None:
    """The Podman service behind ``host`` (default: ``DOCKER_HOST``, else Docker's socket),
    or None for dockerd, a remote host, or nothing answering."""
    url = host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    if not url.startswith("unix://"):
        return None
    headers = _ping_headers(url.removeprefix("unix://"))
    version = headers.get("libpod-api-version")
    return Podman(url=url, version=version, cli=_cli()) if version else None


def _cli() -> str | None:
    explicit = os.environ.get("REPRO_PODMAN_CLI")
    return explicit if explicit and os.path.exists(explicit) else shutil.which("podman")


def _ping_headers(path: str, timeout: float = 5.0) -> dict[str, str]:
    """The headers of ``GET /_ping`` on the Unix socket ``path`` (lower-case names); {} when
    nothing answers. Podman names itself there (``Libpod-Api-Version``); its ``/version``
    asks its runtimes and can take seconds."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: engine\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return {}
    lines = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    if not lines or " 200 " not in f"{lines[0]} ":
        return {}
    out: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out

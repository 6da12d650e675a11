"""A "remote" engine: every call, the BuildKit CLI build included, goes to DOCKER_HOST.

The engine is reached through a small socket proxy (TCP on loopback, or another unix
socket) that records each HTTP request line. A pack through it must show the build (made
by the docker CLI), the smoke test's container and the image export (made by the SDK):
nothing may bypass DOCKER_HOST for the default socket. A docker context is honoured the
same way when DOCKER_HOST is unset.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from repro.engine import DockerEngine
from tests.conftest import FakeGitHub, require_images
from tests.integration.security_support import engine_socket

pytestmark = [pytest.mark.docker]

_REQUEST = re.compile(rb"(GET|POST|HEAD|PUT|DELETE) (/\S*) HTTP/1\.[01]\r\n")


class Proxy:
    """Forward connections to the engine's socket; remember the requests seen."""

    def __init__(self, listener: socket.socket, upstream: str) -> None:
        self.listener, self.upstream = listener, upstream
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    with self.lock:
                        self.requests += [
                            f"{m.group(1).decode()} {m.group(2).decode()}"
                            for m in _REQUEST.finditer(data)
                        ]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def saw(self, pattern: str) -> bool:
        with self.lock:
            return any(re.search(pattern, r) for r in self.requests)

    def close(self) -> None:
        self.stopped = True
        self.listener.close()


@contextmanager
def proxy_on(kind: str, tmp_path: Path) -> Iterator[tuple[str, Proxy]]:
    """A proxy to the engine on a loopback TCP port or a unix socket: (DOCKER_HOST, proxy)."""
    upstream = engine_socket()
    if kind == "tcp":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        host = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    else:
        path = tmp_path / "engine.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        host = f"unix://{path}"
    listener.listen(64)
    proxy = Proxy(listener, upstream)
    try:
        yield host, proxy
    finally:
        proxy.close()


def _pack(url: str, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "repro", "pack", url, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )


def _assert_everything_went_through(proxy: Proxy) -> None:
    assert proxy.saw(r"^GET /v[\d.]+/images/python:3\.11-slim/json"), proxy.requests  # base
    assert proxy.saw(r"^POST /v[\d.]+/build\?"), proxy.requests  # the docker CLI's build
    assert proxy.saw(r"^POST /v[\d.]+/containers/create"), proxy.requests  # SDK: smoke
    assert proxy.saw(r"^GET /v[\d.]+/images/get\?"), proxy.requests  # SDK: export


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_docker_host_reaches_the_sdk_and_the_buildkit_cli(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str], kind: str
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("cli-tool")
    cleanup_images += [
        f"repro/acme-cli-tool:{sha[:7]}",
        f"repro/acme-cli-tool:{sha[:7]}-py3.11-cpu",
    ]
    with proxy_on(kind, tmp_path) as (host, proxy):
        done = _pack(url, tmp_path / "out", {**os.environ, "DOCKER_HOST": host})
    assert done.returncode == 0, done.stderr
    manifest = json.loads(next((tmp_path / "out").glob("*/repro.json")).read_text())
    assert manifest["build"]["builder"] == "buildkit"
    _assert_everything_went_through(proxy)


def test_a_docker_context_is_honoured_like_the_cli_does(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    with proxy_on("tcp", tmp_path) as (host, proxy):
        _pack_in_context(github, tmp_path, cleanup_images, host)
    _assert_everything_went_through(proxy)


def _pack_in_context(
    github: FakeGitHub, tmp_path: Path, cleanup_images: list[str], host: str
) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text("{}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env["DOCKER_CONFIG"] = str(config)
    made = subprocess.run(
        ["/usr/bin/docker", "context", "create", "lab-gpu", "--docker", f"host={host}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"this docker client has no contexts: {made.stderr.strip()}")
    url, sha = github.publish("cli-tool")
    cleanup_images += [
        f"repro/acme-cli-tool:{sha[:7]}",
        f"repro/acme-cli-tool:{sha[:7]}-py3.11-cpu",
    ]
    done = _pack(url, tmp_path / "out", {**env, "DOCKER_CONTEXT": "lab-gpu"})
    assert done.returncode == 0, done.stderr


def test_before_the_sdk_connects_the_cli_answers_as_the_sdk_would(engine: DockerEngine) -> None:
    """``pack`` asks about its base image before the SDK has connected (the SDK connects
    while the build runs): the docker CLI's answer is the SDK's, field for field."""
    require_images(engine, "python:3.11-slim")
    deferred = DockerEngine.deferred()
    assert deferred.buildkit
    assert deferred.image_info("python:3.11-slim") == engine.image_info("python:3.11-slim")
    assert deferred.image_info("repro-test/never-made:nothing") is None
    assert deferred._sdk is None and deferred._connecting is None  # the CLI answered both

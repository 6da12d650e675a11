"""Podman as the engine, without one (repro/podman.py): telling it from dockerd by its ping,
its build and run command lines, its build errors read like BuildKit's."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from repro import podman
from repro.engine import _build_failure, shell_argv

PODMAN_PING = (
    b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\n"
    b"Server: Libpod/4.3.1 (linux)\r\nContent-Length: 2\r\n\r\nOK"
)
DOCKER_PING = (
    b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\n"
    b"Server: Docker/20.10.24 (linux)\r\nContent-Length: 2\r\n\r\nOK"
)


@contextmanager
def answering(path: Path, reply: bytes) -> Iterator[list[bytes]]:
    """A Unix socket at ``path`` answering each connection with ``reply``."""
    requests: list[bytes] = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                requests.append(conn.recv(4096))
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield requests
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


def test_podman_is_told_from_dockerd_by_its_ping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPRO_PODMAN_CLI", "/bin/true")
    sock = tmp_path / "podman.sock"
    with answering(sock, PODMAN_PING) as seen:
        found = podman.detect(f"unix://{sock}")
    assert found == podman.Podman(url=f"unix://{sock}", version="4.3.1", cli="/bin/true")
    assert seen[0].startswith(b"GET /_ping ")
    docker_sock = tmp_path / "docker.sock"
    with answering(docker_sock, DOCKER_PING):
        assert podman.detect(f"unix://{docker_sock}") is None
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'nothing.sock'}")
    assert podman.detect() is None  # nothing listening
    assert podman.detect("ssh://user@host") is None  # only local sockets are asked
    assert podman.detect("tcp://10.0.0.1:2375") is None


def test_builds_and_interactive_runs_go_through_podmans_own_cli() -> None:
    found = podman.Podman(url="unix:///run/p.sock", version="4.3.1", cli="/usr/bin/podman")
    assert found.build_prefix() == ["/usr/bin/podman", "--url", "unix:///run/p.sock", "build"]
    argv = shell_argv("img", ["python", "x.py"], cli=found.run_prefix(), tty=False)
    assert argv[:5] == ["/usr/bin/podman", "--url", "unix:///run/p.sock", "run", "--rm"]
    assert argv[-3:] == ["img", "python", "x.py"]
    notes = " ".join(found.notes())
    assert "Podman 4.3.1" in notes and "Buildah" in notes and "one after another" in notes
    without = podman.Podman(url="unix:///run/p.sock", version="4.3.1", cli=None)
    assert without.build_prefix() is None and without.run_prefix() is None
    assert "without build secrets" in " ".join(without.notes())


def test_a_buildah_failure_names_its_step_and_keeps_that_steps_output() -> None:
    lines = [
        "STEP 1/4: FROM python:3.11-slim",
        "STEP 2/4: RUN echo one",
        "one",
        "--> 64e366e6e04",
        "STEP 3/4: RUN pip install repro-no-such-package",
        "ERROR: No matching distribution found for repro-no-such-package",
        'Error: building at STEP "RUN pip install repro-no-such-package": while running '
        "runtime: exit status 1",
    ]
    error = _build_failure(lines)
    assert error.step == "RUN pip install repro-no-such-package"
    assert "pip install repro-no-such-package" in error.message
    assert error.detail.splitlines()[0] == "STEP 3/4: RUN pip install repro-no-such-package"
    assert "one" not in error.detail.splitlines()

"""A real OCI registry on loopback for tests: Debian's ``docker-registry`` (distribution).

Each registry is its own process on a free port with its storage in the test's tmp dir,
stopped (by its own pid) when the test ends. The engine allows plain HTTP to loopback
registries (127.0.0.0/8 is an insecure registry by default), so no TLS is needed.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    user: str | None = None
    password: str | None = None

    def request(self, path: str, *, accept: str = "", method: str = "GET") -> tuple[int, dict]:
        req = urllib.request.Request(f"http://{self.host}{path}", method=method)
        if accept:
            req.add_header("Accept", accept)
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers)

    def digest(self, name: str, tag: str) -> str:
        """The manifest digest the registry serves for NAME:TAG."""
        status, headers = self.request(f"/v2/{name}/manifests/{tag}", accept=MANIFEST_TYPES)
        assert status == 200, f"{name}:{tag} not in the registry ({status})"
        return str(headers["Docker-Content-Digest"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary() -> str:
    found = shutil.which("docker-registry") or shutil.which("registry")
    if found:
        return found
    msg = "no docker-registry binary (apt-get install docker-registry; scripts/setup-engine.sh)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@contextmanager
def serve(
    root: Path, *, user: str | None = None, password: str | None = None
) -> Iterator[Registry]:
    """Run a registry until the block ends; with ``user``, it requires that login."""
    binary = _binary()
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    auth = ""
    if user:
        htpasswd = shutil.which("htpasswd")
        if not htpasswd:
            msg = "no htpasswd (apt-get install apache2-utils; scripts/setup-engine.sh)"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(msg)
            pytest.skip(msg)
        line = subprocess.run(
            [htpasswd, "-Bbn", user, password or ""], capture_output=True, text=True, check=True
        ).stdout
        (root / "htpasswd").write_text(line)
        auth = f"auth:\n  htpasswd:\n    realm: repro-test\n    path: {root / 'htpasswd'}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: repro-test-secret\n" + auth
    )
    log = open(root / "registry.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [binary, "serve", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    registry = Registry(host=f"127.0.0.1:{port}", user=user, password=password)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"registry exited: {(root / 'registry.log').read_text()}")
            try:
                status, _ = registry.request("/v2/")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("registry did not answer within 20 s")
        yield registry
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()

"""A Podman service of the test's own: storage, runtime state and socket under a temporary
folder, the stand-in base images loaded into it, everything removed after.

``podman system service`` serves the Docker-compatible API. This machine refuses
containers podman's default ulimits (nofile, nproc above what it allows:
docs/podman.md), so the service's containers.conf sets lower ones; cgroupfs and a file
event log, since there is no systemd here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def require_podman() -> str:
    found = shutil.which("podman")
    if found is None:
        msg = "podman is not installed (scripts/setup-engine.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return found


@contextmanager
def podman_service(root: Path, images: list[str]) -> Iterator[str]:
    """Start a Podman service under ``root`` with ``images`` copied from the Docker
    engine; yield its ``unix://`` URL; stop it and remove its storage after."""
    podman = require_podman()
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    storage = ["--root", str(root / "storage"), "--runroot", str(root / "run")]
    env = {**os.environ, "CONTAINERS_CONF": str(conf), "TMPDIR": str(root)}
    env.pop("DOCKER_HOST", None)
    url = f"unix://{root}/podman.sock"
    log = open(root / "service.log", "wb")  # noqa: SIM115 - closed in finally
    service = subprocess.Popen(
        [podman, *storage, "system", "service", "--time", "0", url],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(root / "podman.sock", service, root / "service.log")
        _copy_images(images, url)
        yield url
    finally:
        with suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()
        log.close()
        # containers and images of this storage only, then its files
        subprocess.run(
            [podman, *storage, "system", "reset", "--force"],
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _wait_for(sock: Path, service: subprocess.Popen[bytes], log: Path) -> None:
    from repro import podman

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if service.poll() is not None:
            pytest.fail(f"podman system service exited: {log.read_text(errors='replace')[-2000:]}")
        if sock.exists() and podman.detect(f"unix://{sock}") is not None:
            return
        time.sleep(0.2)
    pytest.fail("podman system service did not answer within 60 s")


def _copy_images(images: list[str], url: str) -> None:
    """``docker save`` from the test's Docker engine, loaded through Podman's API."""
    from repro.engine import DockerEngine

    docker = DockerEngine(use_buildkit=False)
    target = DockerEngine(host=url, use_buildkit=False)
    for image in images:
        tar = Path(os.environ.get("TMPDIR", "/tmp")) / f"repro-podman-{os.getpid()}.tar"
        try:
            with open(tar, "wb") as fh:
                docker.save([image], fh)
            target.load(tar)
        finally:
            tar.unlink(missing_ok=True)

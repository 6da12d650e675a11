"""Podman as the engine (docs/podman.md): pack, verify, run, shell and lab against a real
`podman system service` the test starts under a temporary folder."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from repro.engine import DockerEngine
from repro.models import LABEL_MANAGED
from tests.conftest import FakeGitHub, require_images
from tests.integration.podman_service import podman_service, require_podman

pytestmark = [pytest.mark.docker, pytest.mark.network]


@pytest.fixture(scope="module")
def podman_url(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_podman()
    require_images(engine, "python:3.11-slim")
    with podman_service(tmp_path_factory.mktemp("podman"), ["python:3.11-slim"]) as url:
        yield url


def repro(url: str, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "repro", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "DOCKER_HOST": url},
    )


@pytest.fixture(scope="module")
def packed(podman_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """cli-tool packed on Podman once for the module: (artifact folder, pack's stderr)."""
    root = tmp_path_factory.mktemp("github")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REPRO_CACHE_DIR", str(root / "cache"))
        url, sha = FakeGitHub(root, patch).publish("cli-tool")
        out = root / "out"
        done = repro(podman_url, "pack", url, "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out / f"acme-cli-tool-{sha[:7]}", done.stderr


def test_pack_verify_run_shell_on_podman(podman_url: str, packed: tuple[Path, str]) -> None:
    artifact, stderr = packed
    # what differs from Docker is said
    assert "engine: Podman" in stderr
    assert "builds with podman build (Buildah)" in stderr
    manifest = json.loads((artifact / "repro.json").read_text())
    assert manifest["build"]["builder"] == "buildah"
    assert manifest["smoke"]["passed"] is True
    tag = manifest["tags"][0]

    # verify loads the tarball into Podman (gunzipped on the way) and reruns the smoke test
    podman = DockerEngine(host=podman_url, use_buildkit=False)
    for name in manifest["tags"]:
        podman.remove_image(name)
    verified = repro(podman_url, "verify", str(artifact), "--keep")
    assert verified.returncode == 0, verified.stderr
    assert "verified" in verified.stdout

    # the container's exit status comes back (the docker CLI's `run --rm` says 0 on Podman 4)
    ran = repro(podman_url, "run", tag, "--", "sh", "-c", "python -m greeter podman; exit 3")
    assert ran.returncode == 3, ran.stderr
    assert ran.stdout.strip() == "hello, podman"
    shell = repro(podman_url, "shell", tag, "--", "sh", "-c", "id -un; pwd")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split() == ["repro", "/app"]


def test_lab_on_podman(podman_url: str, packed: tuple[Path, str]) -> None:
    artifact, _ = packed
    podman = DockerEngine(host=podman_url, use_buildkit=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "repro", "lab", str(artifact)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "DOCKER_HOST": podman_url},
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 900)
        line = proc.stdout.readline().strip() if ready else ""
        assert "/lab?token=" in line, proc.stderr.read() if proc.poll() is not None else line
        base, token = line.split("/lab?token=")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            f"{base}/api/contents", headers={"Authorization": f"token {token}"}
        )
        with opener.open(request, timeout=10) as reply:
            assert reply.status == 200
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert podman.labelled("containers", f"{LABEL_MANAGED}=lab") == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

"""An engine whose docker SDK has not connected yet (``DockerEngine.deferred``, what
``repro pack`` uses): the docker CLI answers the image questions asked before the build,
and anything it cannot answer goes to the SDK, whose errors name the engine.

No daemon: a stand-in docker CLI (a shell script) answers, and DOCKER_HOST points at a
socket that does not exist, so any SDK call would fail loudly.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from repro.engine import DockerEngine
from repro.errors import EngineError

IMAGE = {
    "Id": "sha256:" + "ab" * 32,
    "RepoDigests": ["python@sha256:" + "cd" * 32],
    "Size": 190_800_000,
    "Created": "2026-11-20T10:00:00Z",
    "Config": {"Labels": {"org.opencontainers.image.source": "https://example.org/base"}},
}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A docker 20.10 client that knows one image, python:3.11-slim."""
    log = tmp_path / "calls.log"
    script = tmp_path / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'case "$1" in\n'
        '  --version) echo "Docker version 20.10.24, build 297e128" ;;\n'
        "  buildx) exit 1 ;;\n"
        "  image)\n"
        '    case "$5" in\n'
        f"      python:3.11-slim) echo '{json.dumps(IMAGE)}' ;;\n"
        '      broken:*) echo "Cannot connect to the Docker daemon." >&2; exit 1 ;;\n'
        '      *) echo "Error: No such image: $5" >&2; exit 1 ;;\n'
        "    esac ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("REPRO_DOCKER_CLI", str(script))
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    return log


def test_the_cli_answers_image_questions_before_the_sdk_connects(cli: Path) -> None:
    engine = DockerEngine.deferred()  # no engine answers: an eager one would raise here
    assert engine.buildkit
    info = engine.image_info("python:3.11-slim")
    assert info is not None
    assert info.id == IMAGE["Id"]
    assert info.repo_digests == tuple(IMAGE["RepoDigests"])  # type: ignore[arg-type]
    assert info.size == IMAGE["Size"]
    assert info.labels == {"org.opencontainers.image.source": "https://example.org/base"}
    assert engine.image_info("python:3.99-slim") is None
    asked = cli.read_text().splitlines()
    assert "image inspect --format {{json .}} python:3.99-slim" in asked


def test_what_the_cli_cannot_answer_goes_to_the_sdk_and_names_the_engine(cli: Path) -> None:
    engine = DockerEngine.deferred()
    with pytest.raises(EngineError, match="cannot reach a Docker engine at unix://"):
        engine.image_info("broken:1")


def test_an_engine_connected_up_front_still_fails_at_once(cli: Path) -> None:
    with pytest.raises(EngineError, match="cannot reach a Docker engine"):
        DockerEngine()
    assert not cli.exists() or "image inspect" not in cli.read_text()
